import Foundation
import Testing
import PrefixStore
import ZoneSource
@testable import Aggregation
import TestSupport

/// The RIR allocation parser on the real RIPE NCC delegated file (../shared/realdata).
@Suite
struct RealDataTests {
    let path = (realdataDirectory() ?? "/nonexistent") + "/delegated-ripencc-latest.txt"

    /// `(line number, prefix)` of every IPv6 record row, read independently of the parser.
    func ipv6Rows() throws -> [(Int, CIDRPrefix)] {
        let text = try String(contentsOfFile: path, encoding: .isoLatin1)
        var rows: [(Int, CIDRPrefix)] = []
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let f = line.split(separator: "|", omittingEmptySubsequences: false)
            guard f.count >= 7, f[2] == "ipv6" else { continue }
            rows.append((i + 1, cidr("\(f[3])/\(f[4])")))
        }
        return rows
    }

    @Test func everyIPv6RowAccountedFor() throws {
        var data = AllocationData()
        let stats = try data.loadDelegated(file: path)
        #expect(stats.rows["ipv6"] == 9333)
        #expect(stats.declared["ipv6"] == 9333)
        let skipped6 = stats.skipped.filter { $0.key.hasPrefix("ipv6:") }.values.reduce(0, +)
        #expect((stats.used["ipv6"] ?? 0) + skipped6 == 9333)
        #expect(data.allocations.filter { $0.prefix.family == .ipv6 }.count == stats.used["ipv6"])
        // IPv4 rows too: every row used or skipped with a reason, and the summary agrees.
        let skipped4 = stats.skipped.filter { $0.key.hasPrefix("ipv4:") }.values.reduce(0, +)
        #expect((stats.used["ipv4"] ?? 0) + skipped4 == stats.rows["ipv4"])
        #expect(stats.declared["ipv4"] == stats.rows["ipv4"])
        #expect(try ipv6Rows().count == 9333)
    }

    @Test func sampledLookupsGiveTheirLengths() throws {
        var data = AllocationData()
        try data.loadDelegated(file: path)
        let rows = try ipv6Rows()
        var checked = 0
        for (line, prefix) in rows.enumerated().filter({ $0.offset % 97 == 0 }).map(\.element) {
            let last = prefix.address | ~prefixMask(prefix.length)
            for address in [prefix.address, prefix.address + 1, last] {
                let a = data.allocation(containing: .ipv6, address)
                #expect(a?.prefix == prefix, "\(ipv6Text(address)) of \(prefix) (line \(line))")
                #expect(a?.line == line)
            }
            checked += 1
        }
        #expect(checked == 97)
        // Outside RIPE NCC's space there is no allocation.
        #expect(data.allocation(containing: .ipv6, parseAddress("2600::1")!.1) == nil)
    }

    @Test func allocationZoneOfTheRealFile() throws {
        var data = AllocationData()
        try data.loadDelegated(file: path)
        let r = Aggregator.allocationZone(data, policy: AggregationPolicy())
        let dir = TempDir()
        let (store, diags) = try compileStore(ip6: r.sourceText(.ipv6, header: []), ip4: r.sourceText(.ipv4, header: []), dir: dir)
        #expect(diags.allSatisfy { $0.code == .noSOA })
        for (line, prefix) in try ipv6Rows().enumerated().filter({ $0.offset % 499 == 0 }).map(\.element) {
            let answer = look(store, ipv6Text(prefix.address + 0x1234))
            #expect(answer == ["127.0.0.64 \(prefix) assignment-size 64 (default); allocation \(prefix) (RIPE NCC \(answer.first?.contains("assigned") == true ? "assigned" : "allocated"), delegated-ripencc-latest.txt:\(line))"])
        }
        #expect(look(store, "2600::1") == [])
    }
}
