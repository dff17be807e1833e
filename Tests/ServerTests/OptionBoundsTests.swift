import Foundation
import Testing
import TestSupport
import ServerTestSupport

/// Seconds options become Int64-nanosecond durations and deadlines: `--tcp-idle-timeout 1e300`,
/// `--stats-interval 1e300` (serve) and `--timeout 1e300` (query) trapped with "Double value
/// cannot be converted" instead of a usage error. They are refused with a message, exit 64.
struct OptionBoundsTests {
    @Test(arguments: ["--tcp-idle-timeout", "--check-interval", "--settle-delay", "--stats-interval", "--stats"])
    func absurdServeSecondsAreUsageErrors(_ option: String) throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = dir + "/v4.txt"
        try "192.0.2.1\n".write(toFile: data, atomically: true, encoding: .utf8)
        for value in ["1e300", "inf"] {
            let r = try run(try #require(prefixblBinary()), ["serve", "--listen", "127.0.0.1:0", option, value, "bl.example:ip4set:" + data],
                            timeout: 10)
            #expect(r.status == 64, "\(option) \(value): \(r.output)")
            #expect(r.output.contains("\(option) must be at most"), "\(r.output)")
        }
    }

    /// RFC 2181 §8: TTLs are 0…2^31−1; a resolver takes a larger one as 0, so such an option
    /// would make every answer uncached. Refused as a usage error, from `serve` and from an
    /// rbldnsd `-t` line alike.
    @Test(arguments: [("--default-ttl", "-t 2147483648"), ("--min-ttl", "-t :2147483648"), ("--max-ttl", "-t ::2147483648")])
    func ttlOptionsOfTwoToThe31AreUsageErrors(_ option: String, _ rbldnsdT: String) throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = dir + "/v4.txt"
        try "192.0.2.1\n".write(toFile: data, atomically: true, encoding: .utf8)
        let serve = try run(try #require(prefixblBinary()), ["serve", "--listen", "127.0.0.1:0", option, "2147483648", "bl.example:ip4set:" + data],
                            timeout: 10)
        #expect(serve.status == 64, "\(serve.output)")
        #expect(serve.output.contains("\(option) 2147483648 is above 2147483647 (2^31−1), the largest TTL (RFC 2181 §8)"), "\(serve.output)")
        let rbldnsd = try run(try #require(prefixblBinary()), ["rbldnsd", "-n", "-b", "127.0.0.1/0"] + rbldnsdT.split(separator: " ").map(String.init)
                              + ["bl.example:ip4set:" + data], timeout: 10)
        #expect(rbldnsd.status == 64, "\(rbldnsd.output)")
        #expect(rbldnsd.output.contains("time value '2147483648' is above 2147483647 seconds (2^31−1)"), "\(rbldnsd.output)")
    }

    @Test
    func absurdQueryTimeoutIsAUsageError() throws {
        let r = try run(try #require(prefixblBinary()), ["query", "192.0.2.1", "--zone", "bl.example", "--timeout", "1e300"], timeout: 10)
        #expect(r.status == 64, "\(r.output)")
        #expect(r.output.contains("--timeout must be at most"))
    }

    /// `help serve` said AXFR/IXFR default to REFUSED; without `--allow-transfer` they are NOTIMP
    /// (HostileCorpus "AXFR" checks the answer, RunningSecondaries.md says so).
    @Test
    func allowTransferHelpSaysNOTIMPByDefault() throws {
        let r = try run(try #require(prefixblBinary()), ["help", "serve"], timeout: 10)
        let help = r.output.replacingOccurrences(of: "\n", with: " ")
            .replacingOccurrences(of: #" +"#, with: " ", options: .regularExpression)
        #expect(help.contains("without the option AXFR/IXFR are answered NOTIMP"), "\(r.output)")
        #expect(!help.contains("Default: none (REFUSED)"))
    }
}
