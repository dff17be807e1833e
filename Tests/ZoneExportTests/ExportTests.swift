import LDNSKit
import PrefixStore
import Testing
import ZoneExport
import ZoneSource
import TestSupport

let soa = "$SOA 3600 ns1.example.net hostmaster.example.net 2026113001 600 300 86400 300\n$NS 3600 ns1.example.net\n"

/// Hand-made data covering the hard cases: nesting with different values, a non-nibble /47,
/// exclusions inside listed blocks, a /128 listing, two datasets in one zone.
let ipv6Data = soa + """
    :127.0.0.2:Listed
    2001:db8::/32
    2001:db8:1::/48 :127.0.0.3:More specific
    2001:db8:2::/47 :127.0.0.4:
    2001:db8:10::/48
    !2001:db8:10:5::/64
    2001:db8:20::/47 :127.0.0.5:Listed $ (a $$5 fee)
    2001:db8:ffff:ffff::1 :127.0.0.6:
    2001:db8:30::/48
    !2001:db8:30::1
    2001:db8:8000::/33 :127.0.0.7:Odd half
    """
let ipv6Second = """
    $TTL 600
    2001:db8:1::/56 :127.0.0.9:Second list
    2001:db8:ff00::/40 :127.0.0.9:Second list
    """
let ipv4Data = soa + """
    :127.0.0.2:Listed $
    198.51.100.0/22
    !198.51.101.7
    203.0.113.0/25 :127.0.0.3:Low half
    203.0.113.64/26 :127.0.0.4:Nested
    192.0.2.200/29 :127.0.0.5:
    """

/// Every sampled address: the exported zone, read back by libldns and resolved by the RFC 4592
/// reference, gives the A set (and TXT set, where the store's text has no `$`) the store gives;
/// a name the store does not list is NXDOMAIN or, only at exclusion markers, NODATA.
func checkZone(_ zone: StoreZone, family: AddressFamily, dir: TempDir, random: Int = 300, maxRanges: Int = .max) throws {
    let (rrs, stats, _) = try roundTrip(zone, dir: dir)
    #expect(stats.records == rrs.count)
    let ref = ReferenceZone(rrs, apex: zone.name)
    var listed = 0, nodata = 0
    for key in sampleAddresses(zone, family: family, random: random, seed: 7, maxRanges: maxRanges) {
        let q = queryName(family, key, zone: zone.name)
        let want = storeAnswer(zone, family, key)
        let shown = family == .ipv6 ? ipv6Text(key) : ipv4Text(UInt32(key))
        switch ref.resolve(q, type: 1) {
        case .answer(let rs):
            listed += 1
            #expect(Set(rs.map { UInt32(bigEndian: $0.rdata.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }) }) == want.a,
                    "A at \(shown)")
            if !want.dollar {
                let txt: Set<[UInt8]>
                if case .answer(let ts) = ref.resolve(q, type: 16) { txt = Set(ts.map { txtJoined($0.rdata) }) } else { txt = [] }
                #expect(txt == want.txt, "TXT at \(shown)")
            }
        case .nodata:
            nodata += 1
            #expect(want.a.isEmpty, "NODATA at listed \(shown)")
            #expect(ref.byOwner[q]?.contains { $0.type == ExportType.marker } == true, "NODATA without marker at \(shown)")
        case .nxdomain:
            #expect(want.a.isEmpty, "NXDOMAIN at listed \(shown)")
        }
    }
    #expect(listed > 10)
}

@Test func nestedIPv6WithExclusionsAndTwoDatasets() throws {
    let dir = TempDir()
    let store = try compileStore([("bl.example", "ip6trie", ipv6Data), ("bl.example", "ip6trie", ipv6Second)], dir: dir)
    try checkZone(store.zones[0], family: .ipv6, dir: dir)
}

@Test func ipv4WithHole() throws {
    let dir = TempDir()
    let store = try compileStore([("bl.example", "ip4trie", ipv4Data)], dir: dir)
    try checkZone(store.zones[0], family: .ipv4, dir: dir, random: 2000)
}

/// The shapes the export is meant to produce, record by record.
@Test func recordShapes() throws {
    let dir = TempDir()
    let store = try compileStore([("bl.example", "ip4trie", ipv4Data)], dir: dir)
    let (rrs, stats, text) = try roundTrip(store.zones[0], dir: dir)
    let owners = Set(rrs.map { DomainName.text(wire: $0.owner).replacingOccurrences(of: "\\042", with: "*") })
    // The /22 as four /24 wildcards, the hole's /24 as a wildcard plus a marker at the /32.
    for o in ["*.100.51.198.bl.example.", "*.101.51.198.bl.example.", "*.102.51.198.bl.example.",
              "*.103.51.198.bl.example.", "7.101.51.198.bl.example."] {
        #expect(owners.contains(o), "\(o)")
    }
    #expect(rrs.contains { DomainName.text(wire: $0.owner) == "7.101.51.198.bl.example." && $0.type == 13 })
    #expect(!rrs.contains { DomainName.text(wire: $0.owner) == "7.101.51.198.bl.example." && ($0.type == 1 || $0.type == 16) })
    #expect(rrs.first?.type == 6)
    #expect(stats.markers == 1)
    // `$` rendered as the block.
    #expect(text.contains("\"Listed 198.51.100.0/24\""))
    #expect(!owners.contains("*.bl.example."))
}

@Test func fixedDollarText() throws {
    let dir = TempDir()
    let store = try compileStore([("bl.example", "ip6trie", ipv6Data)], dir: dir)
    let (_, stats, text) = try roundTrip(store.zones[0], options: ExportOptions(dollar: .fixed(Array("see list".utf8))), dir: dir)
    #expect(text.contains("\"Listed see list (a $5 fee)\""))
    #expect(stats.dollarTexts == 0)
}

@Test
func realDataExportMatchesStore() throws {
    let dir = try #require(realdataDirectory())
    let tmp = TempDir()
    var specs: [ZoneSpec] = []
    for (zone, type, file) in [("v6.bl.example", "ip6trie", "spamhaus-dropv6.txt"),
                               ("bogons.bl.example", "ip6trie", "fullbogons-ipv6.txt"),
                               ("uce.bl.example", "ip4set", "dnsbl-2.uceprotect.net.rbldnsd")] {
        specs.append(ZoneSpec(zone: zone, type: type, files: [dir + "/" + file]))
    }
    var options = CompileOptions()
    options.force = true
    let r = Compiler.compile(specs, options: options)
    #expect(!r.hasErrors)
    let store = try Store(zones: r.zones)
    for z in store.zones {
        try checkZone(z, family: z.datasets[0].family, dir: tmp, random: 300, maxRanges: 800)
    }
}
