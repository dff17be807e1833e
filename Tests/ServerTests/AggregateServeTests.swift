#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TestSupport
import ServerTestSupport

/// Issue 6 end to end: `prefixbl aggregate` → store → `prefixbl serve` → `dig`, with a bot that
/// sends every event from a fresh address of its /64, and the allocation-size zone beside it.
@Suite("aggregate → serve → dig (built binary)", .serialized)
struct AggregateServeTests {
    static let now = 1_700_000_000

    /// Writes the scenario's inputs and runs both aggregate modes; returns the store paths.
    func prepare(_ dir: String) throws -> [String] {
        let bot = (1...50).map { i in "2001:db8:ba:d00:\(String(i, radix: 16)):\(String(i * 7919 % 65536, radix: 16))::\(String(i, radix: 16))\t1\t\(Self.now - 60 + i)" }
        try (bot.joined(separator: "\n") + "\n").write(toFile: dir + "/evidence.tsv", atomically: true, encoding: .utf8)
        try """
            2|ripencc|1|2|19830705|20140630|+0200
            ripencc|NL|ipv6|2001:db8::|32|20100712|allocated
            ripencc|NL|ipv4|192.0.2.0|256|20100712|allocated

            """.write(toFile: dir + "/delegated.txt", atomically: true, encoding: .utf8)
        try "2001:db8:1::/48 assignment-size 56\n".write(toFile: dir + "/ops.txt", atomically: true, encoding: .utf8)
        let bin = try #require(prefixblBinary())
        let listings = try run(bin, ["aggregate", dir + "/evidence.tsv", "--allocations", dir + "/delegated.txt",
                                     "--data", dir + "/bot", "-o", dir + "/bot.store", "--zone", "bl.example"])
        #expect(listings.status == 0, "\(listings.output)")
        let sizes = try run(bin, ["aggregate", "--allocation-zone", "--allocations", dir + "/delegated.txt",
                                  "--assignments", dir + "/ops.txt", "--data", dir + "/sizes",
                                  "-o", dir + "/sizes.store", "--zone", "sizes.bl.example"])
        #expect(sizes.status == 0, "\(sizes.output)")
        return [dir + "/bot.store", dir + "/sizes.store"]
    }

    @Test("the aggregated stores load in prefixbl serve")
    func storesServe() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let stores = try prepare(dir)
        let server = try ServeProcess(stores.flatMap { ["--store", $0] }, directory: dir, ipv6: false)
        server.child.signal(SIGTERM)
        #expect(server.child.waitExit() == 0, "\(server.child.text)")
    }

    @Test("dig: the bot's /64 is listed for addresses it never used; the allocation-size zone answers /N",
          .enabled(if: which("dig") != nil, "dig (dnsutils) is not installed"))
    func digRotatingBot() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try ServeProcess(try prepare(dir).flatMap { ["--store", $0] }, directory: dir, ipv6: false)
        defer { server.child.signal(SIGTERM); _ = server.child.waitExit() }
        func ask(_ name: String, _ type: String, _ extra: [String] = ["+short"]) throws -> String {
            let r = try run(which("dig")!, ["@\(server.v4.host)", "-p", "\(server.v4.port)", "+tries=2", "+time=2", name, type] + extra)
            #expect(r.status == 0, "dig \(name) \(type): \(r.output)")
            return r.output.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        #expect(try ask(nibbleName("2001:db8:ba:d00:dead:beef:0:1"), "A") == "127.0.0.2")
        #expect(try ask(nibbleName("2001:db8:ba:d00::1"), "TXT").contains("2001:db8:ba:d00::/64 listed: 50 bad events from 50 addresses"))
        #expect(try ask(nibbleName("2001:db8:ba:d01::1"), "A", []).contains("status: NXDOMAIN"))
        #expect(try ask(nibbleName("2001:db8:ba:d00::1", zone: "sizes.bl.example"), "A") == "127.0.0.64")
        #expect(try ask(nibbleName("2001:db8:1:2a0::1", zone: "sizes.bl.example"), "A") == "127.0.0.56")
        #expect(try ask(reversedName("192.0.2.9", zone: "sizes.bl.example"), "A") == "127.0.0.32")
        #expect(try ask(nibbleName("2001:db9::1", zone: "sizes.bl.example"), "A", []).contains("status: NXDOMAIN"))
    }
}
