import Testing
@testable import PrefixStore
import TestSupport

/// Flattening + encoding + validation + lookups against the linear-scan model, on random
/// prefix mixes of every length with exclusions, duplicates and equal-length conflicts.
/// Seed: PREFIXBL_SEED replays a run; every failure message names the seed.
@Test func propertyLookupsAgreeWithLinearReference() throws {
    let seed = testSeed()
    var rng = SplitMix64(seed: seed)
    var lookups = 0, intersections = 0, linearChecks = 0
    var round = 0
    while lookups < 100_000 || intersections < 10_000 {
        round += 1
        let family: AddressFamily = round % 2 == 0 ? .ipv4 : .ipv6
        // Alternate IPv6 between short-only (64-bit keys) and any length (128-bit keys); vary the
        // value count so 1-, 2- and 4-byte value indexes all occur.
        let maxLength: Int? = family == .ipv6 && round % 4 == 1 ? 64 : nil
        let valueCount = [1, 3, 40, 300, 70_000][round % 5]
        let n = Int.random(in: 1...160, using: &rng)
        let entries = randomEntries(family: family, count: n, valueCount: valueCount, maxLength: maxLength, using: &rng)
        let ds = DatasetInput(name: "ds\(round)", type: family == .ipv4 ? "ip4trie" : "ip6trie", family: family,
                              ttl: 60, values: values(valueCount), entries: entries)
        // Every layout: interleaved or separate arrays, radix from one bucket to one per entry.
        let options = StoreLayoutOptions(interleaved: round % 3 != 0, radixSlack: [0, 2, 5, 64][round % 4])
        let image = try StoreBuilder.encode([zone("bl.example", [ds])], options: options)
        let store = try Store(bytes: image.bytes)
        let table = store.zones[0].datasets[0].table
        let reference = StoreBuilder.referenceFlatten(entries, family: family)
        let model = LinearReference(entries: entries, bits: family.bits)
        let segs = model.segments()
        let index = SegmentIndex(segs: segs, maxKey: family == .ipv4 ? UInt128(UInt32.max) : .max)
        let maxKey = index.maxKey

        // Conflicts: the same multiset as the reference's.
        let got = image.conflicts[0][0].map { "\($0.winnerOrigin)>\($0.loserOrigin)" }.sorted()
        let want = reference.conflicts.map { "\($0.winnerOrigin)>\($0.loserOrigin)" }.sorted()
        #expect(got == want, "conflicts differ, seed \(seed) round \(round)")

        // Ranges: the model's listed segments, merged.
        var modelRanges: [(UInt128, UInt128, Int32)] = []
        for (i, s) in segs.enumerated() where s.value >= 0 {
            let end = i + 1 < segs.count ? segs[i + 1].start - 1 : maxKey
            if let l = modelRanges.last, l.2 == s.value, l.1 &+ 1 == s.start { modelRanges[modelRanges.count - 1].1 = end } else { modelRanges.append((s.start, end, s.value)) }
        }
        let tableRanges = table.ranges()
        #expect(tableRanges.count == modelRanges.count && table.rangeCount == modelRanges.count,
                "range count \(tableRanges.count)/\(table.rangeCount) vs \(modelRanges.count), seed \(seed) round \(round)")
        for (a, b) in zip(tableRanges, modelRanges) where a.first != b.0 || a.last != b.1 || a.value != b.2 {
            Issue.record("range \(a) vs \(b), seed \(seed) round \(round)")
            break
        }
        #expect(reference.table.ranges().map { "\($0.first)-\($0.last):\($0.value)" }
                == tableRanges.map { "\($0.first)-\($0.last):\($0.value)" }, "reference flatten differs, seed \(seed) round \(round)")

        // Lookup points: every boundary, its neighbours, random points inside ranges, random.
        var points: [UInt128] = []
        for e in entries {
            let l = model.last(e)
            points += [e.address, l, e.address &- 1, l &+ 1]
        }
        for _ in 0..<2_000 {
            let p: UInt128
            if Int.random(in: 0..<3, using: &rng) == 0 {
                p = rng.next128()
            } else {
                let e = entries[Int.random(in: 0..<entries.count, using: &rng)]
                let span = model.last(e) - e.address
                p = e.address + (span == .max ? rng.next128() : rng.next128() % (span + 1))
            }
            points.append(p)
        }
        for (k, p0) in points.enumerated() {
            let p = family == .ipv4 ? p0 & UInt128(UInt32.max) : p0
            let want = index.value(at: p)
            let got = table.value(at: p)
            if got != want {
                Issue.record("value(at: \(String(p, radix: 16))) = \(got), want \(want); seed \(seed) round \(round)")
                break
            }
            if k % 16 == 0 {
                linearChecks += 1
                #expect(model.value(at: p) == want, "segment index disagrees with the linear model; seed \(seed)")
            }
            lookups += 1
        }

        // Prefix intersection queries: prefixes of every length around the data.
        for _ in 0..<300 {
            let len = Int.random(in: 0...family.bits, using: &rng)
            let base = Int.random(in: 0..<2, using: &rng) == 0 ? entries[Int.random(in: 0..<entries.count, using: &rng)].address
                                                                 : rng.next128() & maxKey
            let host = family.bits - len
            let hostMask: UInt128 = host == 0 ? 0 : host >= 128 ? .max : (UInt128(1) << UInt128(host)) - 1
            let first = base & ~hostMask & maxKey
            let last = first | hostMask
            let want = index.intersects(first, last)
            let got = table.intersects(first: first, last: last)
            if got != want {
                Issue.record("intersects(\(String(first, radix: 16))/\(len)) = \(got), want \(want); seed \(seed) round \(round)")
                break
            }
            intersections += 1
        }
    }
    #expect(lookups >= 100_000 && intersections >= 10_000 && linearChecks > 1_000)
}

@Test func flattenReportsConflictsAndExclusionWins() throws {
    let p: UInt128 = 0xC633_6400  // 198.51.100.0
    let entries = [
        PrefixEntry(address: p, prefixLength: 24, value: 0, origin: 10),
        PrefixEntry(address: p, prefixLength: 24, value: 1, origin: 11),   // conflict: first wins
        PrefixEntry(address: p, prefixLength: 24, value: 0, origin: 12),   // same value: no conflict
        PrefixEntry(address: p | 0x80, prefixLength: 25, value: 1, origin: 13),
        PrefixEntry(address: p | 0x80, prefixLength: 25, value: PrefixEntry.exclusion, origin: 14), // exclusion wins
    ]
    let img = try StoreBuilder.encode([zone("bl.example", [DatasetInput(name: "d", type: "ip4trie", family: .ipv4, ttl: 1, values: values(2), entries: entries)])])
    #expect(img.conflicts == [[[FlattenConflict(winnerOrigin: 10, loserOrigin: 11)]]])
    let t = try Store(bytes: img.bytes).zones[0].datasets[0].table
    #expect(t.value(at: p | 1) == 0)
    #expect(t.value(at: p | 0x81) == -1)
    #expect(t.ranges().map { [$0.first, $0.last] } == [[p, p | 0x7F]])
    #expect(img.summary.ranges == 1 && img.summary.entries == 5)
}

@Test func unsortedInputFlattensLikeSorted() throws {
    var rng = SplitMix64(seed: testSeed())
    let entries = randomEntries(family: .ipv6, count: 500, valueCount: 5, using: &rng)
    let sorted = entries.sorted { ($0.address, $0.prefixLength, $0.origin) < ($1.address, $1.prefixLength, $1.origin) }
    func ranges(_ e: [PrefixEntry]) throws -> [String] {
        let img = try StoreBuilder.encode([zone("bl.example", [DatasetInput(name: "d", type: "ip6trie", family: .ipv6, ttl: 1, values: values(5), entries: e)])])
        return try Store(bytes: img.bytes).zones[0].datasets[0].table.ranges().map { "\($0.first)-\($0.last):\($0.value)" }
    }
    // Sorting moves duplicates of one prefix only relative to others, keeping their order, so the
    // decisions are the same.
    #expect(try ranges(entries) == ranges(sorted))
}

@Test func invalidEntriesAreRefused() {
    func encode(_ e: PrefixEntry, _ f: AddressFamily) -> StoreError.Code? {
        do {
            _ = try StoreBuilder.encode([zone("bl.example", [DatasetInput(name: "d", type: "t", family: f, ttl: 1, values: values(1), entries: [e])])])
            return nil
        } catch { return error.code }
    }
    #expect(encode(PrefixEntry(address: 0xC000_0201, prefixLength: 24, value: 0, origin: 0), .ipv4) == .invalidInput)
    #expect(encode(PrefixEntry(address: 0, prefixLength: 33, value: 0, origin: 0), .ipv4) == .invalidInput)
    #expect(encode(PrefixEntry(address: 1 << 40, prefixLength: 8, value: 0, origin: 0), .ipv4) == .invalidInput)
    #expect(encode(PrefixEntry(address: 0, prefixLength: 129, value: 0, origin: 0), .ipv6) == .invalidInput)
    #expect(encode(PrefixEntry(address: 0, prefixLength: 8, value: 1, origin: 0), .ipv6) == .invalidInput)
    #expect(encode(PrefixEntry(address: 0, prefixLength: 0, value: 0, origin: 0), .ipv6) == nil)
}
