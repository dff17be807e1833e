import Testing
@testable import PrefixStore
import TestSupport

/// rbldnsd's `ip4set`, the slow way: every entry widened to its /32, /24, /16 or /8 buckets
/// (keys), each address looked up in the /32 buckets, then /24, /16, /8; the first level with
/// any key decides: an exclusion there means "not listed", else every listing there answers.
/// Value indices, sorted and distinct.
func bucketReference(_ entries: [PrefixEntry], _ address: UInt32) -> [Int32] {
    for (width, minLength) in [(32, 25), (24, 17), (16, 9), (8, 0)] {
        let shift = UInt32(32 - width)
        let key = width == 32 ? address : address >> shift
        var hits: [PrefixEntry] = []
        for e in entries {
            let len = Int(e.prefixLength)
            guard len >= minLength && len <= width else { continue }
            // The entry's buckets at this width: every key its addresses take.
            let first = UInt32(truncatingIfNeeded: e.address)
            let last = len == 0 ? UInt32.max : first | (UInt32.max >> UInt32(len))
            let lo = width == 32 ? first : first >> shift, hi = width == 32 ? last : last >> shift
            if lo <= key && key <= hi { hits.append(e) }
        }
        if hits.isEmpty { continue }
        if hits.contains(where: \.isExclusion) { return [] }
        return Array(Set(hits.map(\.value))).sorted()
    }
    return []
}

@Suite("ip4set answers as rbldnsd's octet buckets")
struct BucketTests {
    func store(_ entries: [PrefixEntry], values: [ListingValue], type: String = "ip4set") throws -> StoreDataset {
        let ds = DatasetInput(name: "t", type: type, family: .ipv4, ttl: 60, values: values, entries: entries)
        return try Store(zones: [zone("bl.example", [ds])]).zones[0].datasets[0]
    }

    func answer(_ d: StoreDataset, _ address: UInt32) -> [String] {
        let v = d.table.value(at: UInt128(address))
        guard v >= 0 else { return [] }
        return StoreValue.run(d.values, at: Int(v)).map { v in
            "\(v.a)" + (v.txt.map { " " + String(decoding: $0, as: UTF8.self) } ?? "")
        }.sorted()
    }

    func text(_ v: ListingValue) -> String { "\(v.a)" + (v.txt.map { " " + String(decoding: $0, as: UTF8.self) } ?? "") }

    static func cidr(_ a: UInt32, _ len: UInt8, _ value: Int32, _ origin: UInt32 = 0) -> PrefixEntry {
        PrefixEntry(address: UInt128(a), prefixLength: len, value: value, origin: origin)
    }

    /// Case C25: a /21 and a /23 of one file cover 186.0.143.255: both TXTs, one A (the two
    /// values share it; the answer writer writes identical A records once).
    @Test func caseC25() throws {
        let values = [ListingValue(a: 0x7F00_0002, txt: Array("Net 186.0.136.0/21 is listed (AS52251)".utf8)),
                      ListingValue(a: 0x7F00_0002, txt: Array("Net 186.0.142.0/23 is listed (AS52251)".utf8))]
        let entries = [Self.cidr(0xBA00_8800, 21, 0), Self.cidr(0xBA00_8E00, 23, 1)]
        let d = try store(entries, values: values)
        #expect(answer(d, 0xBA00_8FFF) == values.map(text).sorted())
        #expect(answer(d, 0xBA00_8E01) == values.map(text).sorted())
        #expect(answer(d, 0xBA00_8801) == [text(values[0])])
        // ip4trie: longest prefix, the /23 only.
        let t = try store(entries, values: values, type: "ip4trie")
        #expect(answer(t, 0xBA00_8FFF) == [text(values[1])])
    }

    /// The rules measured on rbldnsd 1.0pre (migration guide): exclusions are buckets too.
    @Test func exclusionsAreBuckets() throws {
        let values = (0..<4).map { ListingValue(a: 0x7F00_0002 + UInt32($0), txt: nil) }
        let entries = [
            Self.cidr(0x0A00_0000, 24, 0),                      // 10.0.0.0/24
            Self.cidr(0x0A00_0000, 25, PrefixEntry.exclusion),  // !10.0.0.0/25: 128 /32 exclusions
            Self.cidr(0x0A00_0000, 26, 1),                      // 10.0.0.0/26: /32s, excluded at equal level
            Self.cidr(0x1400_0000, 16, 2),                      // 20.0.0.0/16
            Self.cidr(0x1400_0000, 17, PrefixEntry.exclusion),  // !20.0.0.0/17: /24 exclusions
            Self.cidr(0x1400_0000, 20, 3),                      // 20.0.0.0/20: /24s, excluded
            Self.cidr(0x2000_0000, 24, PrefixEntry.exclusion),  // !32.0.0.0/24
            Self.cidr(0x2000_0007, 32, 1),                      // 32.0.0.7: a /32 beats the /24 exclusion
        ]
        let d = try store(entries, values: values)
        #expect(answer(d, 0x0A00_000A).isEmpty)
        #expect(answer(d, 0x0A00_0064).isEmpty)
        #expect(answer(d, 0x0A00_00C8) == [text(values[0])])
        #expect(answer(d, 0x1400_0001).isEmpty)
        #expect(answer(d, 0x1400_C801) == [text(values[2])])
        #expect(answer(d, 0x1400_8001) == [text(values[2])])
        #expect(answer(d, 0x2000_0007) == [text(values[1])])
        #expect(answer(d, 0x2000_0008).isEmpty)
    }

    /// Random overlapping data with exclusions and duplicates in random order, against the
    /// bucket-expanding reference, at every boundary ±1 and at random addresses.
    @Test func propertyAgreesWithBucketReference() throws {
        let seed = testSeed()
        var rng = SplitMix64(seed: seed)
        var checks = 0
        for round in 0..<150 {
            let valueCount = [1, 3, 7, 300][round % 4]
            let values = (0..<valueCount).map { i in
                ListingValue(a: 0x7F00_0002 + UInt32(i % 5), txt: i % 4 == 3 ? nil : Array("v\(i) $".utf8))
            }
            // Entries inside a /12 (often a /20) so that lengths 6…32 overlap at every level.
            let base: UInt32 = 0x0A00_0000 | (UInt32.random(in: 0...15, using: &rng) << 20)
            let spread: UInt32 = round % 2 == 0 ? 0xF_FFFF : 0xFFF
            var entries: [PrefixEntry] = []
            for i in 0..<Int.random(in: 1...60, using: &rng) {
                let len = UInt8([6, 8, 9, 12, 15, 16, 17, 20, 21, 23, 24, 25, 26, 28, 30, 31, 32].randomElement(using: &rng)!)
                let a = (base | UInt32.random(in: 0...spread, using: &rng)) & (len == 0 ? 0 : UInt32.max << UInt32(32 - Int(len)))
                let v: Int32 = Int.random(in: 0..<5, using: &rng) == 0 ? PrefixEntry.exclusion
                    : Int32.random(in: 0..<Int32(valueCount), using: &rng)
                entries.append(Self.cidr(a, len, v, UInt32(i)))
                if Int.random(in: 0..<8, using: &rng) == 0 { entries.append(entries.last!) }  // duplicate line
            }
            entries.shuffle(using: &rng)
            let d = try store(entries, values: values)
            var probes: [UInt32] = []
            for e in entries {
                let first = UInt32(truncatingIfNeeded: e.address)
                let last = first | (e.prefixLength == 0 ? UInt32.max : UInt32.max >> UInt32(e.prefixLength))
                probes += [first, last, first &- 1, last &+ 1, UInt32.random(in: first...last, using: &rng)]
            }
            for _ in 0..<50 { probes.append(base | UInt32.random(in: 0...0xF_FFFF, using: &rng)) }
            for p in probes {
                let want = bucketReference(entries, p)
                #expect(StoreBuilder.ip4setValues(entries, at: p) == want, "seed \(seed) round \(round) address \(p)")
                let got = answer(d, p)
                let expected = Array(Set(want.map { text(values[Int($0)]) })).sorted()
                // Equal values may share text; compare as sets of records.
                #expect(Array(Set(got)).sorted() == expected, "seed \(seed) round \(round) address \(p): got \(got), want \(expected)")
                checks += 1
            }
        }
        #expect(checks > 10_000)
    }
}
