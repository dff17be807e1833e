import Testing
import TestSupport
import DNSBL
import PrefixStore
import ZoneExport
import ZoneSource
import LDNSKit

// The store-derived signed view (StoreZoneView) against an obviously-correct reference: the
// zone's `Exporter.records`, every owner with its types (plus DNSKEY at the apex, RRSIG and
// NSEC everywhere), sorted in canonical order by libldns (`ldns_dname_compare`).

/// The signed view by enumeration: the exported owners in libldns's canonical order.
struct ReferenceView {
    let apex: [UInt8]
    let owners: [[UInt8]]
    let types: [[UInt8]: [UInt16]]
    /// Owners and every name between an owner and the apex (empty non-terminals).
    let nodes: Set<[UInt8]>
    /// With `emptyNonTerminalRecords`: the names that would be empty non-terminals, each
    /// given an HINFO RRset here (not by the exporter's option).
    let entOwners: Set<[UInt8]>

    init(zone: StoreZone, options: ExportOptions = ExportOptions(), emptyNonTerminalRecords: Bool = false) {
        apex = zone.name
        var t: [[UInt8]: Set<UInt16>] = [:]
        var plain = options
        plain.emptyNonTerminalRecords = false
        for r in Exporter.records(zone, options: plain).records { t[r.owner, default: []].insert(r.type) }
        var ents = Set<[UInt8]>()
        if emptyNonTerminalRecords {
            // Every proper ancestor of an owner below the apex that owns nothing gets HINFO.
            for o in Array(t.keys) {
                var s = o
                while s.count > apex.count {
                    s = Array(s.dropFirst(1 + Int(s[0])))
                    if s.count > apex.count && t[s] == nil { ents.insert(s) }
                }
            }
            for e in ents { t[e] = [13] }
        }
        entOwners = ents
        t[apex, default: []].insert(48)
        for k in t.keys { t[k]!.formUnion([46, 47]) }
        types = t.mapValues { $0.sorted() }
        owners = t.keys.sorted { DNSSECVerify.compareNames($0, $1) < 0 }
        var n = Set<[UInt8]>()
        for o in owners {
            var s = o
            while s.count >= apex.count {
                if !n.insert(s).inserted { break }
                if s.count == apex.count { break }
                s = Array(s.dropFirst(1 + Int(s[0])))
            }
        }
        nodes = n
    }

    /// Index of the greatest owner at or before `q` in canonical order.
    func floorIndex(_ q: [UInt8]) -> Int {
        var lo = 0, hi = owners.count  // owners[0] is the apex, which precedes every name below it
        while lo < hi {
            let m = (lo + hi) >> 1
            if DNSSECVerify.compareNames(owners[m], q) <= 0 { lo = m + 1 } else { hi = m }
        }
        return lo - 1
    }

    func nsec(_ i: Int) -> ViewNSEC {
        ViewNSEC(owner: owners[i], next: owners[(i + 1) % owners.count], types: types[owners[i]]!)
    }

    func prove(_ q: [UInt8]) -> ViewProof {
        let i = floorIndex(q)
        let nsec = self.nsec(i)
        if nodes.contains(q) {
            return ViewProof(exists: true, nsec: nsec, closestEncloser: q, wildcard: nil, wildcardExists: false)
        }
        var ce = q
        while !nodes.contains(ce) { ce = Array(ce.dropFirst(1 + Int(ce[0]))) }
        let w = [1, 42] + ce
        let wExists = types[w] != nil
        return ViewProof(exists: false, nsec: nsec, closestEncloser: ce, wildcard: self.nsec(floorIndex(w)),
                         wildcardExists: wExists)
    }
}

/// Random stores and names for the property test.
struct ViewFuzz {
    var rng: SplitMix64

    mutating func int(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
    mutating func chance(_ p: Double) -> Bool { Double(rng.next() % 1_000_000) / 1_000_000 < p }

    /// A few values: with and without TXT, one with `$`, one equal in content to another
    /// in a second dataset.
    static let values: [ListingValue] = [
        ListingValue(a: 0x7F00_0002, txt: nil),
        ListingValue(a: 0x7F00_0003, txt: Array("listed".utf8)),
        ListingValue(a: 0x7F00_0002, txt: Array("see $".utf8)),
        ListingValue(a: 0x7F00_0004, txt: nil),
    ]

    /// Entries clustered under a few random prefixes so the trees branch at many depths.
    mutating func entries(_ family: AddressFamily, count: Int, values: Int) -> [PrefixEntry] {
        let bits = family.bits
        let mask: UInt128 = bits == 128 ? .max : (1 << 32) - 1
        var clusters: [(UInt128, Int)] = []
        for _ in 0..<(1 + int(3)) {
            let len = family == .ipv6 ? 8 + int(40) : 4 + int(14)
            clusters.append((rng.next128() & mask, len))
        }
        if family == .ipv6 && chance(0.3) { clusters.append(((0xffff << 32) | (rng.next128() & 0xffff_ffff), 100)) }
        if family == .ipv6 && chance(0.3) { clusters.append(((0x2002 << 112) | (rng.next128() >> 16), 24)) }
        var out: [PrefixEntry] = []
        for k in 0..<count {
            let (base, blen) = clusters[int(clusters.count)]
            let len = min(bits, blen + int(bits - blen + 1))
            let r = rng.next128() & mask
            let keep: UInt128 = blen == 0 ? 0 : (mask << UInt128(bits - blen)) & mask
            var a = (base & keep) | (r & ~keep & mask)
            let host: UInt128 = len == bits ? 0 : (UInt128(1) << UInt128(bits - len)) - 1
            a &= ~host
            let v: Int32 = chance(0.25) ? PrefixEntry.exclusion : Int32(int(values))
            out.append(PrefixEntry(address: a, prefixLength: UInt8(len), value: v, origin: UInt32(k)))
        }
        return out
    }

    mutating func dataset(_ family: AddressFamily, count: Int, name: String) -> DatasetInput {
        let n = 1 + int(ViewFuzz.values.count)
        return DatasetInput(name: name, type: family == .ipv4 ? "ip4trie" : "ip6trie", family: family,
                            ttl: chance(0.2) ? 600 : 2100, values: Array(ViewFuzz.values[0..<n]),
                            entries: entries(family, count: count, values: n))
    }

    /// A random label of the kinds that matter: nibbles, octets, `*`, and labels of neither.
    mutating func label() -> [UInt8] {
        switch int(6) {
        case 0: return Array(String(int(16), radix: 16).utf8)
        case 1, 2: return Array(String(int(256)).utf8)
        case 3: return [42]
        case 4: return Array(["x", "00", "256", "ab", "0a", "-", "zz", "ns1"][int(8)].utf8)
        default: return Array(String(int(10)).utf8)
        }
    }

    /// Names around the view's names: the names themselves, children, siblings and deeper
    /// names, full-length names of random addresses, shortened names, the apex.
    mutating func qnames(_ ref: ReferenceView, count: Int) -> [[UInt8]] {
        let nodes = Array(ref.nodes).sorted { $0.lexicographicallyPrecedes($1) }
        var out: [[UInt8]] = [ref.apex]
        while out.count < count {
            var n = nodes[int(nodes.count)]
            switch int(7) {
            case 0:
                break
            case 1, 2:
                // A child or grandchild.
                for _ in 0..<(1 + int(2)) { let l = label(); n = [UInt8(l.count)] + l + n }
            case 3:
                // A sibling.
                if n.count > ref.apex.count { n = Array(n.dropFirst(1 + Int(n[0]))) }
                let l = label(); n = [UInt8(l.count)] + l + n
            case 4:
                // A full IPv6 name below a random node: random nibbles to depth 32.
                var depth = 0
                var s = n
                while s.count > ref.apex.count { depth += 1; s = Array(s.dropFirst(1 + Int(s[0]))) }
                for _ in depth..<max(depth, 32 - int(3)) { n = [1, Array(String(int(16), radix: 16).utf8)[0]] + n }
            case 5:
                // An IPv4-like name below the node: octets to depth 4 (or one more).
                for _ in 0..<(1 + int(4)) { let l = Array(String(int(256)).utf8); n = [UInt8(l.count)] + l + n }
            default:
                // A shortened name.
                let drop = int(4)
                for _ in 0..<drop where n.count > ref.apex.count { n = Array(n.dropFirst(1 + Int(n[0]))) }
            }
            out.append(n)
        }
        return out
    }
}

func text(_ name: [UInt8]) -> String {
    var out = ""
    var p = 0
    while p < name.count && name[p] != 0 {
        out += String(decoding: name[(p + 1)...(p + Int(name[p]))], as: UTF8.self) + "."
        p += 1 + Int(name[p])
    }
    return out.isEmpty ? "." : out
}

func describe(_ p: ViewProof) -> String {
    func n(_ x: ViewNSEC?) -> String {
        guard let x else { return "nil" }
        return "\(text(x.owner)) NSEC \(text(x.next)) \(x.types)"
    }
    return "exists \(p.exists) nsec [\(n(p.nsec))] ce \(text(p.closestEncloser)) wildcard [\(n(p.wildcard))] \(p.wildcardExists)"
}

/// Checks `view` against `ref` on `names`; returns the number of mismatches (each recorded).
@discardableResult
func checkView(_ view: StoreZoneView, _ ref: ReferenceView, _ names: [[UInt8]], seed: UInt64, limit: Int = 5) -> Int {
    var bad = 0
    for q in names {
        let got = view.prove(q), want = ref.prove(q)
        if got != want {
            bad += 1
            if bad <= limit {
                Issue.record("seed \(seed) qname \(text(q))\n got \(describe(got))\nwant \(describe(want))")
            }
        }
        let ent = view.ownsEmptyNonTerminalRecord(q)
        if ent != ref.entOwners.contains(q) {
            bad += 1
            if bad <= limit { Issue.record("seed \(seed) qname \(text(q)): empty non-terminal HINFO \(ent), want \(!ent)") }
        }
    }
    return bad
}

@Suite("Signed view from the store (NSEC neighbours, RFC 4034 §6.1) against the canonically sorted export")
struct SignedViewTests {
    func run(_ families: [AddressFamily], stores: Int, names: Int, images: Bool = false, ents: Bool = false) throws {
        let seed = testSeed()
        var f = ViewFuzz(rng: SplitMix64(seed: seed))
        for s in 0..<stores {
            var sets: [DatasetInput] = []
            for fam in families {
                sets.append(f.dataset(fam, count: 1 + f.int(60), name: "a\(fam)"))
                if f.chance(0.3) { sets.append(f.dataset(fam, count: 1 + f.int(20), name: "b\(fam)")) }
            }
            let store = try Store(zones: [zone(sets)])
            let z = store.zones[0]
            let view = try #require(StoreZoneView.make(zone: z, imagesWithoutIPv6Data: images, emptyNonTerminalRecords: ents),
                                    "seed \(seed) store \(s)")
            let ref = ReferenceView(zone: z, options: ExportOptions(imagesWithoutIPv6Data: images), emptyNonTerminalRecords: ents)
            let qs = f.qnames(ref, count: names)
            if checkView(view, ref, qs, seed: seed) > 0 { return }
            if ents {
                // The exporter's option writes exactly the reference's HINFO at empty non-terminals.
                let out = Exporter.records(z, options: ExportOptions(imagesWithoutIPv6Data: images, emptyNonTerminalRecords: true))
                let written = out.records.filter { $0.type == 13 && $0.rdata == ExportType.emptyNonTerminalHINFO }
                #expect(Set(written.map(\.owner)) == ref.entOwners && written.count == ref.entOwners.count, "seed \(seed) store \(s)")
                #expect(out.stats.emptyNonTerminals == ref.entOwners.count)
                #expect(written.allSatisfy { $0.ttl == min(z.soa.ttl, z.soa.minimum) })
            }
        }
    }

    @Test("IPv6 zones: random stores, random names")
    func ipv6() throws { try run([.ipv6], stores: 30, names: 200) }

    @Test("IPv4 zones: octets in string order")
    func ipv4() throws { try run([.ipv4], stores: 15, names: 200) }

    @Test("IPv4 zones with the images under ::ffff:0:0/96 and 2002::/16")
    func ipv4Images() throws { try run([.ipv4], stores: 8, names: 200, images: true) }

    @Test("both families in one zone: shared first labels, the IPv4 images")
    func bothFamilies() throws { try run([.ipv6, .ipv4], stores: 15, names: 200) }

    @Test("--dnssec-ent-rrset: an HINFO at every empty non-terminal, IPv6, IPv4 and both families",
          arguments: [[AddressFamily.ipv6], [.ipv4], [.ipv6, .ipv4]])
    func emptyNonTerminalRecords(_ families: [AddressFamily]) throws {
        try run(families, stores: families.count == 1 ? 15 : 12, names: 200, ents: true)
        try run(families, stores: 4, names: 200, images: true, ents: true)
    }

    @Test("the HINFO of an empty non-terminal: the same RDATA in the export and the answers")
    func emptyNonTerminalRData() {
        #expect(ExportType.emptyNonTerminalHINFO == SignedViewRecords.emptyNonTerminalHINFO)
        #expect(SignedViewRecords.typeHINFO == ExportType.marker)
    }

    @Test("an empty zone and a zone listing everything")
    func edges() throws {
        let seed: UInt64 = 0
        let empty = try Store(zones: [zone([])]).zones[0]
        let all6 = try Store(zones: [zone([try dataset(.ipv6, "::/0\n!2001:db8::/32")])]).zones[0]
        let all4 = try Store(zones: [zone([try dataset(.ipv4, "0.0.0.0/0\n!10.0.0.0/8")])]).zones[0]
        for z in [empty, all6, all4] {
            let view = try #require(StoreZoneView.make(zone: z))
            let ref = ReferenceView(zone: z)
            var f = ViewFuzz(rng: SplitMix64(seed: 7))
            checkView(view, ref, f.qnames(ref, count: 200), seed: seed)
        }
    }

    @Test("IPv6 ranges around and across the IPv4 image blocks: clipped in two, overlapping the 6to4 images, every address")
    func imageBlockEdges() throws {
        let v4 = try dataset(.ipv4, "1.2.3.0/24\n1.2.4.4\n0.0.0.0/8\n255.255.255.255")
        let sixes = [
            // Around ::ffff:0:0/96: one range across the whole block (clipped in two), one
            // ending inside it, one starting inside it.
            "::/64\n2001:db8::/32",
            "::fffe:0:0/95\n::1:0:0:0/80",
            // Overlapping 2002::/16, where the IPv4 images go: the same data, other data,
            // an exclusion inside an image.
            "2002::/16\n!2002:102:304::/48\n2002:102:3ff::/48 :127.0.0.4",
            "::/0\n!2002:102:300::/40",
        ]
        for (i, text) in sixes.enumerated() {
            let z = try Store(zones: [zone([try dataset(.ipv6, text), v4])]).zones[0]
            let view = try #require(StoreZoneView.make(zone: z), "case \(i)")
            let ref = ReferenceView(zone: z)
            var f = ViewFuzz(rng: SplitMix64(seed: UInt64(i)))
            checkView(view, ref, f.qnames(ref, count: 300), seed: UInt64(i))
        }
    }

    @Test("shapes not covered make no view: generic records, subzones, address-label NS names")
    func notCovered() throws {
        let d = try dataset(.ipv6, "2001:db8::/32")
        var withRecord = zone([d])
        withRecord.records = [GenericRecord(owner: wireName("www.bl.example"), type: 1, ttl: 60, rdata: [1, 2, 3, 4])]
        var sub = try dataset(.ipv6, "2001:db8::/32")
        sub.subzone = [7] + Array("proxies".utf8)
        let nsInTree = zone([d], ns: ["a.bl.example"])
        let nsOutside = zone([d], ns: ["ns1.bl.example", "x.a.example"])
        #expect(StoreZoneView.make(zone: try Store(zones: [withRecord]).zones[0]) == nil)
        #expect(StoreZoneView.make(zone: try Store(zones: [zone([d, sub])]).zones[0]) == nil)
        #expect(StoreZoneView.make(zone: try Store(zones: [nsInTree]).zones[0]) == nil)
        #expect(StoreZoneView.make(zone: try Store(zones: [nsOutside]).zones[0]) != nil)
    }
}

@Suite("Signed view on real lists")
struct SignedViewRealDataTests {
    /// fullbogons-ipv6 + Spamhaus DROPv6 + Spamhaus DROP in one zone (both families, the IPv4
    /// images in the IPv6 tree): a few thousand sampled names against the sorted export.
    @Test("fullbogons-ipv6, DROPv6 and DROP in one zone")
    func realData() throws {
        let dir = try #require(realdataDirectory(), "the real lists (../shared/realdata)")
        var options = CompileOptions()
        options.force = true
        let r = Compiler.compile([ZoneSpec(zone: "bl.example", type: "ip6trie", files: [dir + "/fullbogons-ipv6.txt"]),
                                  ZoneSpec(zone: "bl.example", type: "ip6trie", files: [dir + "/spamhaus-dropv6.txt"]),
                                  ZoneSpec(zone: "bl.example", type: "ip4set", files: [dir + "/spamhaus-drop.txt"])],
                                 options: options)
        #expect(!r.hasErrors)
        let store = try Store(zones: r.zones)
        let z = store.zones[0]
        let seed = testSeed()
        for ents in [false, true] {
            let view = try #require(StoreZoneView.make(zone: z, emptyNonTerminalRecords: ents))
            let ref = ReferenceView(zone: z, emptyNonTerminalRecords: ents)
            var f = ViewFuzz(rng: SplitMix64(seed: seed))
            let names = f.qnames(ref, count: 2000)
            #expect(ref.owners.count > 50_000)
            #expect(checkView(view, ref, names, seed: seed) == 0, "--dnssec-ent-rrset \(ents)")
        }
    }
}
