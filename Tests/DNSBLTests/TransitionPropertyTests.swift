import Testing
import DNSWire
import PrefixStore
import LDNSKit
@testable import DNSBL
import TestSupport

/// A transition mapping as the slow reference sees it, bit by bit and sharing no code with
/// Transition.swift: which IPv6 bit (0 = most significant) carries each IPv4 bit (0 = most
/// significant); `nil` for 6rd's common bits, which come from the operator's IPv4 prefix.
struct ReferenceMapping {
    let first: UInt128
    let last: UInt128
    let positions: [Int?]
    let common: UInt32
    let inverted: Bool
    /// NAT64 below /96: bits 64–71 must be zero (RFC 6052 §2.2).
    let uOctet: Bool

    init(_ m: TransitionMapping) {
        first = m.prefix
        last = m.prefix | (UInt128.max >> UInt128(m.prefixLength))
        common = m.ipv4Prefix
        inverted = m.kind == .teredo
        uOctet = m.kind == .nat64 && m.prefixLength < 96
        switch m.kind {
        case .teredo:
            positions = (0..<32).map { 96 + $0 }
        case .nat64:
            positions = Array((m.prefixLength..<128).filter { !(64..<72).contains($0) }.prefix(32))
        case .sixRD:
            positions = (0..<32).map { $0 < m.ipv4MaskLength ? nil : m.prefixLength + $0 - m.ipv4MaskLength }
        }
    }

    static func bit(_ a: UInt128, _ p: Int) -> UInt32 { UInt32((a >> UInt128(127 - p)) & 1) }

    func embedded(_ a: UInt128) -> UInt32? {
        guard first <= a && a <= last else { return nil }
        if uOctet && (64..<72).contains(where: { Self.bit(a, $0) == 1 }) { return nil }
        var v: UInt32 = 0
        for j in 0..<32 {
            let b = positions[j].map { Self.bit(a, $0) ^ (inverted ? 1 : 0) } ?? (common >> UInt32(31 - j)) & 1
            v = v << 1 | b
        }
        return v
    }

    /// The IPv4 addresses of the full names below the aligned block `lo...hi` (inside the
    /// mapping): the bits the block fixes are fixed, the rest free; `nil` when every name
    /// below has a non-zero u octet.
    func image(_ lo: UInt128, _ hi: UInt128) -> ClosedRange<UInt32>? {
        let fixedBits = lo == hi ? 128 : (lo ^ hi).leadingZeroBitCount
        if uOctet && (64..<72).contains(where: { $0 < fixedBits && Self.bit(lo, $0) == 1 }) { return nil }
        var low: UInt32 = 0, high: UInt32 = 0
        var sawFree = false
        for j in 0..<32 {
            if let p = positions[j], p >= fixedBits {
                low = low << 1; high = high << 1 | 1
                sawFree = true
            } else {
                let b = positions[j].map { Self.bit(lo, $0) ^ (inverted ? 1 : 0) } ?? (common >> UInt32(31 - j)) & 1
                precondition(!sawFree, "a fixed IPv4 bit after a free one: the image is not a range")
                low = low << 1 | b; high = high << 1 | b
            }
        }
        return low...high
    }

    /// `a` with `v4` written into the IPv4 bits.
    func encode(_ v4: UInt32, into a: UInt128) -> UInt128 {
        var out = a
        for j in 0..<32 {
            guard let p = positions[j] else { continue }
            let b = UInt128((v4 >> UInt32(31 - j)) & 1) ^ (inverted ? 1 : 0)
            out = out & ~(UInt128(1) << UInt128(127 - p)) | b << UInt128(127 - p)
        }
        return out
    }
}

@Suite("Property: transition mappings vs slow reference")
struct TransitionPropertyTests {
    /// Disjoint mapping sets; each seed takes one. Prefixes sit where the data generator puts
    /// IPv6 entries too, so unions and exclusions are exercised.
    static func mappingSets() throws -> [[TransitionMapping]] {
        [
            [.teredo, .nat64WellKnown, try nat64("2001:db8:100::/40"),
             try sixRD("2001:db8:ab00::/40", "192.0.0.0/8"), try sixRD("2001:db8:f000::/36", "196.0.0.0/6")],
            [try nat64("2001:db8::/32"), .teredo],
            [try nat64("2001:db8:122::/48"), try nat64("2001:db8:123:400::/56"), try nat64("2001:db8:124:344::/64"),
             try nat64("2001:db8:125::/96"), try sixRD("2001:db8:200::/40", "198.51.100.0/24")],
        ]
    }

    static func randomV6(_ g: inout SplitMix64, _ maps: [ReferenceMapping], _ anchors: [(UInt128, Int)]) -> UInt128 {
        let pick = Int(g.next() % UInt64(anchors.count + maps.count))
        if pick < anchors.count {
            let (anchor, len) = anchors[pick]
            var a = anchor
            var bit = 128 - len - 4
            while bit >= 0 {
                a |= PropertyTests.v6Nibbles[Int(g.next() % UInt64(PropertyTests.v6Nibbles.count))] << UInt128(bit)
                bit -= 4
            }
            return a
        }
        let m = maps[pick - anchors.count]
        var a = m.first
        var bit = 124
        while bit >= 0 {
            if (UInt128(0xf) << UInt128(bit)) & ~(m.first ^ m.last) == 0 {
                a |= PropertyTests.v6Nibbles[Int(g.next() % UInt64(PropertyTests.v6Nibbles.count))] << UInt128(bit)
            }
            bit -= 4
        }
        if g.next() % 4 != 0 { a = m.encode(PropertyTests.randomV4(&g), into: a) }
        if m.uOctet && g.next() % 4 != 0 { a &= ~(UInt128(0xff) << 56) }
        return a
    }

    static func v6Dataset(_ g: inout SplitMix64, _ maps: [ReferenceMapping], index: Int) -> DatasetInput {
        let values = (0..<3).map { i in ListingValue(a: 0x7F00_0000 | UInt32(index * 10 + i + 2), txt: Array("v\(index).\(i) $".utf8)) }
        let anchors: [(UInt128, Int)] = [(0x2001_0db8 << 96, 32), (0x2002 << 112, 16), (0, 0)]
        var entries: [PrefixEntry] = []
        for k in 0..<Int(3 + g.next() % 10) {
            let len = Int(g.next() % 129)
            let raw = randomV6(&g, maps, anchors)
            let mask: UInt128 = len == 0 ? UInt128.max : (len == 128 ? 0 : UInt128.max >> UInt128(len))
            entries.append(PrefixEntry(address: raw & ~mask, prefixLength: UInt8(len),
                                       value: g.next() % 4 == 0 ? PrefixEntry.exclusion : Int32(g.next() % 3), origin: UInt32(k)))
        }
        return DatasetInput(name: "r\(index)", type: "ip6trie", family: .ipv6, ttl: 600 + UInt32(index),
                            values: values, entries: entries)
    }

    static func labels(_ g: inout SplitMix64, _ maps: [ReferenceMapping]) -> [String] {
        let anchors: [(UInt128, Int)] = [(0x2001_0db8 << 96, 32), (0x2001 << 112, 16), (0xffff << 32, 96)]
        if g.next() % 6 == 0 {
            let v4 = PropertyTests.randomV4(&g)
            return (0..<4).map { String((v4 >> UInt32(8 * $0)) & 0xFF) }
        }
        let a = randomV6(&g, maps, anchors)
        let depth = g.next() % 2 == 0 ? Int(1 + g.next() % 31) : 32
        return (0..<depth).map { String(Int((a >> UInt128(124 - 4 * $0)) & 0xF), radix: 16) }.reversed()
    }

    static func scenario(_ seed: Int) throws -> (ReferenceZone, Responder) {
        var g = SplitMix64(seed: UInt64(seed) &* 0x9E37_79B9 &+ 7)
        let mappings = try mappingSets()[seed % 3]
        let maps = mappings.map(ReferenceMapping.init)
        let v4sets = (0..<Int(1 + g.next() % 2)).map { PropertyTests.randomDataset(&g, family: .ipv4, index: $0) }
        let v6sets = (0..<Int(g.next() % 3)).map { v6Dataset(&g, maps, index: 3 + $0) }
        let ref = ReferenceZone(v4: v4sets, v6: v6sets, mappings: maps)
        let r = try responder([zone(v4sets + v6sets, ns: ["ns.example.net"])], options: options(mappings))
        return (ref, r)
    }

    @Test(arguments: 0..<9)
    func rfc8020_mappedNamesMatchReference(_ seed: Int) throws {
        var (ref, r) = try Self.scenario(seed)
        var g = SplitMix64(seed: UInt64(seed) &+ 1000)
        for _ in 0..<150 {
            let labels = Self.labels(&g, ref.mappings)
            let name = (labels + ["bl.example"]).joined(separator: ".")
            let p = try ask(r, name)
            let got = PropertyTests.verdict(of: p)
            let want = ref.verdict(labels)
            #expect(got == want, "\(name): got \(got.map(\.description) ?? "rcode \(p.rcode)"), reference \(want)")
            switch want {
            case .listed:
                for k in 1..<labels.count {
                    let anc = (Array(labels[k...]) + ["bl.example"]).joined(separator: ".")
                    #expect(quickRCode(r, anc) == 0, "ancestor \(anc) of listed \(name)")
                }
            case .nxdomain:
                for extra in ["0", "f", "3", "c"] {
                    #expect(quickRCode(r, extra + "." + name) == 3, "\(extra).\(name) below NXDOMAIN \(name)")
                }
            case .nodata:
                break
            }
        }
        // Without the mappings the responder must still match the plain reference.
        ref.mappings = []
        r = try responder([zone(ref.v4 + ref.v6, ns: ["ns.example.net"])])
        for _ in 0..<50 {
            let labels = Self.labels(&g, try Self.mappingSets()[seed % 3].map(ReferenceMapping.init))
            let p = try ask(r, (labels + ["bl.example"]).joined(separator: "."))
            #expect(PropertyTests.verdict(of: p) == ref.verdict(labels), "\(labels) without mappings")
        }
    }

    @Test func generatorReachesNamesListedThroughMappings() throws {
        // Guards the property test: names inside mapping prefixes listed by IPv4 data alone.
        var throughV4 = 0, partialNodata = 0
        for seed in 0..<9 {
            let (ref, _) = try Self.scenario(seed)
            var g = SplitMix64(seed: UInt64(seed) &+ 1000)
            let v4only = ReferenceZone(v4: ref.v4, v6: [], mappings: ref.mappings)
            for _ in 0..<150 {
                let labels = Self.labels(&g, ref.mappings)
                if labels.count == 32, case .listed = v4only.verdict(labels),
                   ReferenceZone(v4: ref.v4, v6: []).verdict(labels) == .nxdomain { throughV4 += 1 }
                if labels.count < 32, v4only.verdict(labels) == .nodata,
                   ReferenceZone(v4: ref.v4, v6: []).verdict(labels) == .nxdomain { partialNodata += 1 }
            }
        }
        #expect(throughV4 >= 15, "only \(throughV4) names listed through a mapping")
        #expect(partialNodata >= 30, "only \(partialNodata) partial names that exist only through a mapping")
    }
}
