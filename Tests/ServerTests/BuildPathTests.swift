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

    /// The TTLs of the A answers for 192.0.2.1 under each of `zones`, from one server started
    /// with `args`.
    static func answerTTLs(_ args: [String], zones: [String], directory: String) throws -> [UInt32?] {
        let serve = try ServeProcess(args, directory: directory, ipv6: false)
        defer { serve.child.signal(SIGTERM); _ = serve.child.waitExit() }
        return try zones.enumerated().map { i, zone in
            guard let r = try udpQuery(serve.v4, makeQuery(id: UInt16(7 + i), name: "1.2.0.192." + zone)) else { return nil }
            return try Packet(wire: r).answer.first { $0.type == 1 }?.ttl
        }
    }

    @Test(.enabled(if: enabled, "prefixbl binary not built"))
    func ttlBoundsApplyToStoresAsToSources() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = dir + "/v4.txt"
        try "$TTL 600\n192.0.2.1\n".write(toFile: data, atomically: true, encoding: .utf8)
        // One server per bound answers bl.example from a store and sources.example from specs.
        let store = dir + "/bl.pfxbl"
        #expect(try run(prefixblBinary()!, ["compile", "bl.example:ip4set:" + data, "-o", store]).status == 0)
        let inputs = ["--store", store, "sources.example:ip4set:" + data]
        let zones = ["bl.example", "sources.example"]
        #expect(try Self.answerTTLs(["--min-ttl", "3000"] + inputs, zones: zones, directory: dir) == [3000, 3000])
        #expect(try Self.answerTTLs(["--max-ttl", "60"] + inputs, zones: zones, directory: dir) == [60, 60])
    }
}
