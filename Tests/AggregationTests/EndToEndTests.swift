import Foundation
import Testing
import PrefixStore
import ZoneSource
@testable import Aggregation
import TestSupport

/// A bot that sends every message from a fresh address of its /64: aggregate → compile →
/// store lookups. Addresses it never used answer as listed once min-hits events are in.
struct EndToEndTests {
    let allocations = [alloc("2001:db8::/32")]

    func botEvidence(_ events: Int) -> String {
        (1...events).map { i in "2001:db8:ba:d00:\(String(i, radix: 16)):\(String(i * 7919 % 65536, radix: 16)):1:\(String(i, radix: 16))\t1\t\(T - 3600 + Int64(i))" }
            .joined(separator: "\n")
    }

    @Test func rotatingBotThroughTheStore() throws {
        let dir = TempDir()
        // Two events: not yet listed, whichever address is asked.
        let early = aggregate(botEvidence(2), allocations: allocations)
        let (s0, _) = try compileStore(ip6: early.sourceText(.ipv6, header: []), ip4: early.sourceText(.ipv4, header: []), dir: dir)
        #expect(look(s0, "2001:db8:ba:d00::1") == [])

        // Fifty events from fifty addresses: one listing, covering addresses never seen.
        let r = aggregate(botEvidence(50), allocations: allocations)
        #expect(r.entries.map { "\($0.prefix)" } == ["2001:db8:ba:d00::/64"])
        let (store, diags) = try compileStore(ip6: r.sourceText(.ipv6, header: ["bot"]), ip4: r.sourceText(.ipv4, header: []), dir: dir)
        #expect(diags.allSatisfy { $0.code == .noSOA })
        let txt = "2001:db8:ba:d00::/64 listed: 50 bad events from 50 addresses in 7d; assignment size /64 (default); allocation 2001:db8::/32 (RIPE NCC allocated)"
        #expect(look(store, "2001:db8:ba:d00:ffff:ffff:ffff:fffe") == ["127.0.0.2 \(txt)"])
        #expect(look(store, "2001:db8:ba:d00::1") == ["127.0.0.2 \(txt)"])
        #expect(look(store, "2001:db8:ba:d01::1") == [])
        #expect(look(store, "2001:db8:ba:cff:ffff:ffff:ffff:ffff") == [])
    }

    @Test
    func commandLineAggregateWithStore() throws {
        let dir = TempDir()
        let ev = dir.write("evidence.tsv", botEvidence(5) + "\n192.0.2.1\t3\t\(T)\n2001:db8:ba:d00::25\t9\t\(T)\n")
        let al = dir.write("delegated.txt", "2|ripencc|1|2|19830705|20140630|+0200\nripencc|*|ipv6|*|1|summary\nripencc|NL|ipv6|2001:db8::|32|20100712|allocated\nripencc|NL|ipv4|192.0.2.0|256|20100712|allocated\n")
        let wl = dir.write("wl.txt", "2001:db8:ba:d00::25 # our relay\n")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try #require(prefixblBinary()))
        p.arguments = ["aggregate", ev, "--allocations", al, "--whitelist", wl, "--data", dir.path + "/out",
                       "--report", dir.path + "/report.txt", "-o", dir.path + "/out.store", "--zone", "bl.example",
                       "--soa", "3600 ns1.example.net hostmaster.example.net 1 600 300 86400 300", "--ns", "3600 ns1.example.net"]
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let store = try Store(path: dir.path + "/out.store")
        #expect(look(store, "2001:db8:ba:d00::77").first?.hasPrefix("127.0.0.2 2001:db8:ba:d00::/64 listed: 5 bad events from 5 addresses") == true)
        #expect(look(store, "2001:db8:ba:d00::25") == [])
        #expect(look(store, "192.0.2.1").first?.hasPrefix("127.0.0.2 192.0.2.1/32 listed: 3 bad events from 1 address") == true)
        let report = try String(contentsOfFile: dir.path + "/report.txt", encoding: .utf8)
        #expect(report.contains("now: \(T) (newest event)"))
        #expect(report.contains("min-hits 3 (default)"))
        #expect(report.contains("ipv6: 1 rows (summary line says 1), 1 used"))
        #expect(report.contains("whitelisted: 1 addresses, 9 events dropped"))
        #expect(report.contains("holes written: 1"))
        #expect(!report.contains("compile:"), "\(report)")  // $SOA given: no synthesised-SOA warning
        #expect(store.zones.first?.soa.serial == 1)
    }
}
