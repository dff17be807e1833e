#if canImport(Glibc)
import Glibc
#endif
import DNSBLServer
import Foundation
import LDNSKit
import PrefixStore
import Testing
import TestSupport
import ServerTestSupport

/// `compile`, `check` and `serve` take one path from specs to served data (NSD's checker is its
/// loader): the same diagnostics everywhere, and the TTL bounds of `serve` apply to stores too.
struct BuildPathTests {
    static let enabled = prefixblBinary() != nil

    /// The `file:line: warning: …` lines of an output, in order.
    static func warnings(_ text: String) -> [String] {
        text.split(separator: "\n").compactMap { line -> String? in
            guard let r = line.range(of: #"[^ "]+:[0-9]+: warning: [^"]*"#, options: .regularExpression) else { return nil }
            return String(line[r])
        }
    }

    @Test(.enabled(if: enabled, "prefixbl binary not built"))
    func compileCheckAndServeReportTheSameEqualPrefixConflicts() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = dir + "/v4.txt"
        // Two listings of one prefix with different values: the first wins, the second is
        // reported naming both lines.
        try "192.0.2.0/24 :2:first\n198.51.100.7\n192.0.2.0/24 :3:second\n".write(toFile: data, atomically: true, encoding: .utf8)
        let spec = "bl.example:ip4trie:" + data
        let check = try run(prefixblBinary()!, ["check", spec])
        #expect(check.status == 0, "\(check.output)")
        let compile = try run(prefixblBinary()!, ["compile", spec, "-o", dir + "/bl.pfxbl"])
        #expect(compile.status == 0, "\(compile.output)")
        let expected = Self.warnings(check.output)
        #expect(expected.count == 1 && expected.first?.contains("v4.txt:3") == true, "\(check.output)")
        #expect(Self.warnings(compile.output) == expected)

        let serve = try ServeProcess([spec], directory: dir, ipv6: false)
        defer { serve.child.signal(SIGTERM); _ = serve.child.waitExit() }
        #expect(Self.warnings(serve.child.text) == expected, "\(serve.child.text)")
    }

    /// The TTL of the A answer for 192.0.2.1 from a server started with `args`.
    static func answerTTL(_ args: [String], directory: String) throws -> UInt32? {
        let serve = try ServeProcess(args, directory: directory, ipv6: false)
        defer { serve.child.signal(SIGTERM); _ = serve.child.waitExit() }
        guard let r = try udpQuery(serve.v4, makeQuery(id: 7, name: "1.2.0.192.bl.example")) else { return nil }
        return try Packet(wire: r).answer.first { $0.type == 1 }?.ttl
    }

    @Test(.enabled(if: enabled, "prefixbl binary not built"))
    func ttlBoundsApplyToStoresAsToSources() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = dir + "/v4.txt"
        try "$TTL 600\n192.0.2.1\n".write(toFile: data, atomically: true, encoding: .utf8)
        let spec = "bl.example:ip4set:" + data
        let store = dir + "/bl.pfxbl"
        #expect(try run(prefixblBinary()!, ["compile", spec, "-o", store]).status == 0)
        for (bound, ttl) in [(["--min-ttl", "3000"], UInt32(3000)), (["--max-ttl", "60"], 60), ([], 600)] {
            #expect(try Self.answerTTL(bound + [spec], directory: dir) == ttl, "sources \(bound)")
            #expect(try Self.answerTTL(bound + ["--store", store], directory: dir) == ttl, "--store \(bound)")
        }
    }
}
