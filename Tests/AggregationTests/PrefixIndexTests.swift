import Testing
@testable import Aggregation
import TestSupport

/// The longest-match index against brute force over random nested prefixes.
struct PrefixIndexTests {
    @Test(arguments: 1...20)
    func matchesBruteForce(seed: UInt64) {
        var rng = SplitMix64(seed: seed &* 7919)
        // Prefixes in a small corner of the space so they nest often; duplicates included.
        var prefixes: [PrefixKey] = []
        for _ in 0..<Int.random(in: 1...60, using: &rng) {
            let len = Int.random(in: 100...128, using: &rng)
            prefixes.append(PrefixKey(UInt128(UInt32.random(in: 0...0xFFFF, using: &rng)) << 12, len))
        }
        if Bool.random(using: &rng) { prefixes.append(PrefixKey(0, 0)) }
        let index = PrefixIndex(prefixes)

        // Brute force with plain loops over indices (the first of equal prefixes wins).
        // Optional<PrefixKey> in a local function crashed the debug build here (a misaligned
        // 16-byte stack load of its UInt128), so the reference keeps to indices.
        for _ in 0..<300 {
            let a = UInt128(UInt32.random(in: 0...0xFFFF, using: &rng)) << 12 | UInt128(UInt16.random(in: 0...0xFFF, using: &rng))
            let len = Int.random(in: 96...128, using: &rng)
            let p = PrefixKey(a, len)
            var want1: Int32 = -1, want2: Int32 = -1, best1 = -1, best2 = -1
            var want3 = false
            for i in prefixes.indices {
                let k = prefixes[i]
                if k.contains(address: a) && k.len > best1 { best1 = k.len; want1 = Int32(i) }
                if k.contains(p) && k.len > best2 { best2 = k.len; want2 = Int32(i) }
                if k.len > p.len && p.contains(k) { want3 = true }
            }
            let got1 = index.lookup(a) ?? -1
            let got2 = index.longestContaining(p) ?? -1
            let got3 = index.hasPrefix(strictlyInside: p)
            #expect(got1 == want1, "lookup, seed \(seed)")
            #expect(got2 == want2, "longestContaining, seed \(seed)")
            #expect(got3 == want3, "hasPrefix(strictlyInside:), seed \(seed)")
        }
    }
}
