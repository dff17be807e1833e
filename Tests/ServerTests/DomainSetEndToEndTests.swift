import Foundation
import Testing
import TestSupport
import ServerTestSupport

// dnset end to end: `prefixbl serve` on a domain list answered to dig; the differential against
// rbldnsd on the real domain lists (tools/differential-dnset).

@Suite("dnset end to end", .serialized)
struct DomainSetEndToEndTests {
    @Test("dig: listed, wildcard, excluded, empty non-terminal, NXDOMAIN, TXT with the entry's name",
          .enabled(if: which("dig") != nil, "dig (dnsutils) is not installed"))
    func digAnswers() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/domains.txt"
        try """
            $SOA 3600 ns.dbl.example. hostmaster.dbl.example. 7 3600 600 604800 60
            :2:Domain $ is listed
            example.com
            .sub.example.org :3:Sub $
            *.wild.example.net
            !bad.sub.example.org
            xn--bcher-kva.example
            0123456789abcdef0123456789abcdef01234567
            """.write(toFile: file, atomically: true, encoding: .utf8)
        let server = try ServeProcess(["dbl.example:dnset:" + file], directory: dir, ipv6: false)
        defer { server.child.signal(SIGTERM); _ = server.child.waitExit() }
        let dig = which("dig")!
        func ask(_ name: String, _ type: String) throws -> (status: String, answers: [String]) {
            let r = try run(dig, ["@\(server.v4.host)", "-p", "\(server.v4.port)", "+tries=2", "+time=2",
                                  name + ".dbl.example", type])
            #expect(r.status == 0, "dig \(name): \(r.output)")
            let status = r.output.split(separator: "\n").first { $0.contains("status:") }
                .flatMap { $0.components(separatedBy: "status: ").last?.split(separator: ",").first }.map(String.init) ?? "?"
            // dig pads with tabs or spaces depending on the owner's length.
            var answers: [String] = []
            for line in r.output.split(separator: "\n") where !line.hasPrefix(";") {
                let f: [Substring] = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                if f.count >= 5 && f[2] == "IN" && String(f[3]) == type { answers.append(f[4...].joined(separator: " ")) }
            }
            return (status, answers)
        }
        #expect(try ask("example.com", "A") == ("NOERROR", ["127.0.0.2"]))
        #expect(try ask("EXAMPLE.com", "TXT") == ("NOERROR", ["\"Domain example.com is listed\""]))
        #expect(try ask("www.example.com", "A") == ("NXDOMAIN", []))
        #expect(try ask("deep.a.sub.example.org", "TXT") == ("NOERROR", ["\"Sub sub.example.org\""]))
        #expect(try ask("bad.sub.example.org", "A") == ("NOERROR", []))   // excluded; names below listed
        #expect(try ask("wild.example.net", "A") == ("NOERROR", []))      // *.name: not the name itself
        #expect(try ask("x.wild.example.net", "A") == ("NOERROR", ["127.0.0.2"]))
        #expect(try ask("com", "A") == ("NOERROR", []))                   // empty non-terminal (RFC 8020)
        #expect(try ask("example", "A") == ("NOERROR", []))
        #expect(try ask("xn--bcher-kva.example", "A") == ("NOERROR", ["127.0.0.2"]))
        #expect(try ask("0123456789ABCDEF0123456789abcdef01234567", "A") == ("NOERROR", ["127.0.0.2"]))
        #expect(try ask("unlisted.test", "A") == ("NXDOMAIN", []))
    }

    @Test("tools/differential-dnset: rbldnsd and prefixbl agree on the real domain lists, except documented classes",
          .enabled(if: which("rbldnsd") != nil, "rbldnsd is not installed (tools/install-test-deps.sh installs it)"),
          .timeLimit(.minutes(4)))
    func differential() throws {
        let bin = try #require(prefixblBinary(), "prefixbl binary not found; run swift build")
        let work = try makeTempDirectory()
        chmod(work, 0o755)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let (status, output) = try run("/usr/bin/env", ["python3", repositoryRoot() + "/tools/differential-dnset",
                                                        "--prefixbl", bin, "--work", work, "--sample", "600"], timeout: 230)
        #expect(status == 0, "differential-dnset failed:\n\(output)")
        let summary = output.split(separator: "\n").last { $0.hasPrefix("DIFFERENTIAL-DNSET ") } ?? ""
        #expect(summary.contains("undocumented=0"), "\(output)")
        func field(_ name: String) -> Int {
            summary.split(separator: " ").first { $0.hasPrefix(name + "=") }.flatMap { Int($0.dropFirst(name.count + 1)) } ?? 0
        }
        #expect(field("queries") >= 15_000, "\(summary)")
        #expect(field("agreeing-listed") >= 3_000, "the comparison must include listed answers: \(summary)")
    }
}
