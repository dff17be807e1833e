import PrefixStore
import Testing
import ZoneExport
import ZoneSource
import TestSupport

/// Random IPv6 listings inside 2001:db8::/32 as source text, `count` lines.
func randomListings(_ g: inout SplitMix64, count: Int) -> [String] {
    (0..<count).map { _ in
        let len = [40, 44, 47, 48, 52, 56, 64, 128][Int(g.next() % 8)]
        let key = (UInt128(0x2001_0db8) << 96) | (g.next128() >> 32)
        let masked = len == 128 ? key : (key >> UInt128(128 - len)) << UInt128(128 - len)
        let code = 2 + g.next() % 4
        return g.next() % 5 == 0 ? "!\(ipv6Text(masked))/\(len)" : "\(ipv6Text(masked))/\(len) :127.0.0.\(code):"
    }
}

func version(_ text: String, dir: TempDir) throws -> (ZoneVersion, Set<[UInt8]>) {
    let store = try compileStore([("bl.example", "ip6trie", text)], dir: dir)
    let rs = Exporter.records(store.zones[0]).records
    return (try #require(ZoneVersion(rs)), Set(rs.filter { $0.type != ExportType.soa }.map(\.wire)))
}

/// Old version + the difference = new version, for random data and random edits (ranges
/// added, removed, values changed, a TTL changed); the difference holds only changed RRs.
@Test(arguments: [1, 2, 3])
func differenceAppliedToOldGivesNew(seed: UInt64) throws {
    var g = SplitMix64(seed: seed)
    let base = randomListings(&g, count: 400)
    var edited = base
    for _ in 0..<20 { edited.remove(at: Int(g.next() % UInt64(edited.count))) }
    edited += randomListings(&g, count: 20)
    let ttl = seed == 3 ? "$TTL 900\n" : ""
    let head = "$SOA 3600 ns1.example.net hostmaster.example.net %d 600 300 86400 300\n$NS 3600 ns1.example.net\n"
    let dir = TempDir()
    let (v1, s1) = try version(head.replacingOccurrences(of: "%d", with: "1") + base.joined(separator: "\n"), dir: dir)
    let (v2, s2) = try version(head.replacingOccurrences(of: "%d", with: "2") + ttl + edited.joined(separator: "\n"), dir: TempDir())
    #expect(v1.serial == 1 && v2.serial == 2)
    let (deleted, added) = ZoneVersion.difference(from: v1, to: v2)
    let d = Set(deleted.map(Array.init)), a = Set(added.map(Array.init))
    #expect(d == s1.subtracting(s2))
    #expect(a == s2.subtracting(s1))
    #expect(s1.subtracting(d).union(a) == s2)
    #expect(deleted.count == d.count && added.count == a.count, "no RR twice")
    if seed != 3 { #expect(d.count + a.count < s2.count, "a small edit gives a small difference") }
    let (same, none) = ZoneVersion.difference(from: v2, to: v2)
    #expect(same.isEmpty && none.isEmpty)
}

@Test func serialArithmeticRFC1982() {
    #expect(SerialNumber.isGreater(2, than: 1))
    #expect(!SerialNumber.isGreater(1, than: 2))
    #expect(!SerialNumber.isGreater(5, than: 5))
    #expect(SerialNumber.isGreater(0, than: UInt32.max))          // wraps
    #expect(SerialNumber.isGreater(100, than: 4_294_967_000))
    #expect(!SerialNumber.isGreater(4_294_967_000, than: 100))
    #expect(!SerialNumber.isGreater(0x8000_0000, than: 0))        // 2^31 apart: undefined, not greater
    #expect(!SerialNumber.isGreater(0, than: 0x8000_0000))
}
