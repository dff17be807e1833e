import DNSBL
import LDNSKit
import PrefixStore
import Testing
import ZoneExport
import ZoneSource
import TestSupport

/// What `serve` (the Responder) answers for `name`/`type` over TCP: its answer records of
/// that type, or NXDOMAIN / NODATA.
func serveAnswer(_ r: Responder, _ name: [UInt8], type: UInt16) throws -> Resolved {
    var q: [UInt8] = [0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0] + name
    q += [UInt8(type >> 8), UInt8(type & 0xFF), 0, 1]
    var buf = [UInt8](repeating: 0, count: 65535)
    let out = q.withUnsafeBytes { qp in buf.withUnsafeMutableBytes { r.respond(to: qp, transport: .tcp, into: $0) } }
    let p = try Packet(wire: Array(buf[0..<out.length]))
    if p.rcode == 3 { return .nxdomain }
    let rs = p.answer.filter { $0.type == type }
    if rs.isEmpty { return .nodata }
    return .answer(Set(rs.map { $0.rdataFields.flatMap { $0 } }))
}

/// An outcome with the answer as a set of RDATA.
enum Resolved: Equatable {
    case answer(Set<[UInt8]>), nodata, nxdomain

    init(_ o: ReferenceZone.Outcome) {
        switch o {
        case .answer(let rs): self = .answer(Set(rs.map(\.rdata)))
        case .nodata: self = .nodata
        case .nxdomain: self = .nxdomain
        }
    }
}

/// The exported zone (through libldns), resolved by the RFC 4592 reference, against the
/// Responder over the same stores, name by name: the same A set and TXT set (texts without
/// `$`); "no A" may be NXDOMAIN on one side and NODATA on the other (exclusion markers,
/// existing names), never an answer on one side only. Returns the outcomes seen.
@discardableResult
func checkAgainstServe(_ parts: [StoreZone], stores: [Store], names: [[UInt8]], dir: TempDir,
                       options: ExportOptions = ExportOptions(), types: [UInt16] = [1, 16],
                       tolerated: (([UInt8], ExportStats) -> Bool)? = nil, mismatches: UnsafeMutablePointer<Int>? = nil,
                       sourceLocation: SourceLocation = #_sourceLocation) throws -> (listed: Int, stats: ExportStats, rrs: [WireRR]) {
    var text = ""
    let stats = try MasterFile.write(parts, options: options) { text += $0 }
    let rrs = try ZoneFile.load(path: dir.write("zone.txt", text))
    let ref = ReferenceZone(rrs, apex: parts[0].name)
    let responder = Responder(stores: stores)
    var listed = 0
    for q in names {
        for type in types {
            let want = try serveAnswer(responder, q, type: type)
            let got = Resolved(ref.resolve(q, type: type))
            let shown = DomainName.text(wire: q)
            if want != got, let tolerated, tolerated(q, stats) {
                if case .answer = want { mismatches?.pointee += 1 } else if case .answer = got { mismatches?.pointee += 1 }
                continue
            }
            switch (want, got) {
            case (.answer(let a), .answer(let b)):
                if type == 1 { listed += 1 }
                #expect(a == b, "type \(type) at \(shown)", sourceLocation: sourceLocation)
            case (.answer, _), (_, .answer):
                Issue.record("type \(type) at \(shown): serve \(want), export \(got)", sourceLocation: sourceLocation)
            default:
                break
            }
        }
    }
    return (listed, stats, rrs)
}

let v4Mixed = soa + """
    :127.0.0.2:Four
    198.51.100.0/22
    !198.51.101.7
    203.0.113.0/25 :127.0.0.3:Low half
    192.0.2.1 :127.0.0.5:One
    """
/// IPv6 data overlapping the images: inside 2002::/16 where 198.51.100.0/22 lands
/// (2002:c633:6400::/38) and inside ::ffff:0:0/96 (unreachable: the IPv4 data answers there).
let v6Mixed = soa + """
    :127.0.0.8:Six
    2001:db8::/32
    2002:c633:6500::/40 :127.0.0.9:Six in 6to4
    2002:c633:6600::/48 :127.0.0.9:Six in 6to4
    2002:cb00:7100::/40 :127.0.0.10:Six beside
    ::ffff:c633:6400/120 :127.0.0.11:Unreachable
    """

/// Names under ::ffff:0:0/96 and 2002::/16 for IPv4 addresses: mapped, 6to4 with a few
/// interface parts.
func imageNames(_ addresses: [UInt32], zone: [UInt8], seed: UInt64) -> [[UInt8]] {
    var g = SplitMix64(seed: seed)
    var out: [[UInt8]] = []
    for a in addresses {
        out.append(queryName(.ipv6, (0xffff << 32) | UInt128(a), zone: zone))
        let six = (UInt128(0x2002) << 112) | (UInt128(a) << 80)
        out.append(queryName(.ipv6, six, zone: zone))
        out.append(queryName(.ipv6, six | (g.next128() & ((1 << 80) - 1)), zone: zone))
    }
    return out
}

func v4Samples(_ zone: StoreZone, random: Int, maxRanges: Int = .max) -> [UInt32] {
    sampleAddresses(zone, family: .ipv4, random: random, seed: 11, maxRanges: maxRanges).map { UInt32(truncatingIfNeeded: $0) }
}

@Test func ipv4ImagesUnderMappedAnd6to4() throws {
    let dir = TempDir()
    let store = try compileStore([("bl.example", "ip4trie", v4Mixed), ("bl.example", "ip6trie", v6Mixed)], dir: dir)
    let z = store.zones[0]
    var names = imageNames(v4Samples(z, random: 300), zone: z.name, seed: 3)
    names += sampleAddresses(z, family: .ipv6, random: 200, seed: 5).map { queryName(.ipv6, $0, zone: z.name) }
    names += v4Samples(z, random: 200).map { queryName(.ipv4, UInt128($0), zone: z.name) }
    let (listed, stats, rrs) = try checkAgainstServe([z], stores: [store], names: names, dir: dir)
    #expect(listed > 100)
    #expect(stats.imageRanges > 0)
    // The mapped image of 192.0.2.1 is an exact name; 198.51.100.0/24 a wildcard under 6to4.
    let owners = Set(rrs.map { DomainName.text(wire: $0.owner).replacingOccurrences(of: "\\042", with: "*") })
    #expect(owners.contains("1.0.2.0.0.0.0.c.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.bl.example."))
    #expect(owners.contains("*.4.6.3.3.6.c.2.0.0.2.bl.example."))
}

@Test func ipv4OnlyZoneGetsImagesOnlyWhenAsked() throws {
    let dir = TempDir()
    let store = try compileStore([("bl.example", "ip4trie", v4Mixed)], dir: dir)
    let z = store.zones[0]
    let plain = Exporter.records(z).stats
    #expect(plain.imageRanges == 0)
    let names = imageNames(v4Samples(z, random: 100), zone: z.name, seed: 4)
    let (listed, stats, _) = try checkAgainstServe([z], stores: [store], names: names, dir: dir,
                                                   options: ExportOptions(imagesWithoutIPv6Data: true))
    #expect(listed > 30)
    #expect(stats.records > plain.records)
}

let genericData = """
    $SOA 3600 ns1.bl.example hostmaster.example.net 2026113001 600 300 86400 300
    $NS 3600 ns1.bl.example
    @ A 192.0.2.80
    @ MX 10 mx.example.net
    www AAAA 2001:db8::80
    ns1 A 192.0.2.53
    2.0.0.127 TXT test entry
    info.101.51.198 TXT inside a listed block
    8.b.d.0.1.0.0.2 TXT nibble path
    """

/// Generic owners inside the address trees (a full IPv4 name, a name below a listed /24, a
/// /32 nibble path) must not unlist their neighbours: the covering value is repeated below
/// every name they make existing, and a full-name owner answers its own records only.
@Test func genericRecordsExportedAndWildcardsRepeated() throws {
    let dir = TempDir()
    let v4 = soa + ":127.0.0.2:Listed\n127.0.0.0/8\n198.51.100.0/22\n"
    let v6 = soa + ":127.0.0.4:Six\n2001:db8::/29\n"
    let store = try compileStore([("bl.example", "generic", genericData), ("bl.example", "ip4trie", v4),
                                  ("bl.example", "ip6trie", v6)], dir: dir)
    let z = store.zones[0]
    var names = sampleAddresses(z, family: .ipv4, random: 100, seed: 9).map { queryName(.ipv4, $0, zone: z.name) }
    names += sampleAddresses(z, family: .ipv6, random: 100, seed: 9).map { queryName(.ipv6, $0, zone: z.name) }
    for a in ["127.0.0.2", "127.0.0.3", "127.0.1.2", "127.1.0.0", "198.51.101.1", "198.51.101.255"] {
        let (_, key) = parseAddress(a)!
        names.append(queryName(.ipv4, key, zone: z.name))
    }
    for a in ["2001:db8::1", "2001:db8:1::", "2001:db9::1", "2001:dbf:ffff::"] {
        let (_, key) = parseAddress(a)!
        names.append(queryName(.ipv6, key, zone: z.name))
    }
    for n in ["bl.example", "www.bl.example", "ns1.bl.example", "info.101.51.198.bl.example",
              "8.b.d.0.1.0.0.2.bl.example"] {
        names.append(try DomainName(n).wire)
    }
    let (listed, stats, rrs) = try checkAgainstServe([z], stores: [store], names: names, dir: dir,
                                                     types: [1, 16, 28, 15])
    #expect(listed > 20)
    #expect(stats.generic == 7)
    #expect(rrs.contains { $0.type == 15 })
    #expect(rrs.contains { $0.type == 28 })
}

/// `serve --store a --store b` with one zone in both: the transfer is the union.
@Test func zoneSplitOverStoresExportsTheUnion() throws {
    let dir = TempDir()
    let a = try compileStore([("bl.example", "ip6trie", ipv6Data)], dir: dir)
    let b = try compileStore([("bl.example", "ip6trie", ipv6Second), ("bl.example", "ip4trie", ipv4Data),
                              ("bl.example", "generic", "www A 192.0.2.80\n")], dir: TempDir())
    let parts = [a.zones[0], b.zones[0]]
    var names = sampleAddresses(a.zones[0], family: .ipv6, random: 100, seed: 1).map { queryName(.ipv6, $0, zone: parts[0].name) }
    names += sampleAddresses(b.zones[0], family: .ipv6, random: 50, seed: 2).map { queryName(.ipv6, $0, zone: parts[0].name) }
    names += v4Samples(b.zones[0], random: 50).map { queryName(.ipv4, UInt128($0), zone: parts[0].name) }
    names += imageNames(v4Samples(b.zones[0], random: 50), zone: parts[0].name, seed: 8)
    names.append(try DomainName("www.bl.example").wire)
    // TXT left out: ipv6Data has `$` texts, which no static zone reproduces.
    let (listed, _, rrs) = try checkAgainstServe(parts, stores: [a, b], names: names, dir: dir, types: [1])
    #expect(listed > 100)
    let first = Exporter.records(a.zones[0]).records.count
    #expect(rrs.count > first)
    #expect(rrs.filter { $0.type == 6 }.count == 1)
}

/// A real mixed zone (fullbogons-ipv6 and Spamhaus DROP for IPv4): every sampled IPv6 name and
/// every IPv4 image under ::ffff:0:0/96 and 2002::/16 answers like `serve`. IPv4 names may differ
/// only under a top label the export reports as shared (the documented family collision:
/// fullbogons' `*.7` lists 7.0.0.0/8 at a secondary), and rarely.
@Test
func realMixedZoneWithImages() throws {
    let dir = try #require(realdataDirectory())
    var options = CompileOptions()
    options.force = true
    let r = Compiler.compile([ZoneSpec(zone: "bl.example", type: "ip6trie", files: [dir + "/fullbogons-ipv6.txt"]),
                              ZoneSpec(zone: "bl.example", type: "ip4set", files: [dir + "/spamhaus-drop.txt"])], options: options)
    #expect(!r.hasErrors)
    let store = try Store(zones: r.zones)
    let z = store.zones[0]
    var names = sampleAddresses(z, family: .ipv6, random: 200, seed: 5, maxRanges: 300).map { queryName(.ipv6, $0, zone: z.name) }
    names += v4Samples(z, random: 300, maxRanges: 300).map { queryName(.ipv4, UInt128($0), zone: z.name) }
    names += imageNames(v4Samples(z, random: 100, maxRanges: 300), zone: z.name, seed: 3)
    var differing = 0
    let (listed, stats, _) = try checkAgainstServe([z], stores: [store], names: names, dir: TempDir(), types: [1],
        tolerated: { q, stats in
            // A 4-label name: labels before the apex; the top one is the last.
            var labels: [String] = []
            var p = 0
            while p < q.count - z.name.count { let n = Int(q[p]); labels.append(String(decoding: q[(p + 1)..<(p + 1 + n)], as: UTF8.self)); p += 1 + n }
            return labels.count == 4 && stats.familyCollisions.contains(labels[3])
        }, mismatches: &differing)
    #expect(listed > 3000)
    #expect(stats.imageRanges == 2 * 877)
    #expect(differing * 100 < names.count, "\(differing) of \(names.count) IPv4 names differ under shared top labels")
    print("mixed real zone: \(names.count) names, \(listed) listed, \(differing) IPv4 names differ under top labels \(stats.familyCollisions)")
}
