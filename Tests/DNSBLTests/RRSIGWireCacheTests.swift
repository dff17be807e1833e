@testable import DNSBL
import Testing
import TestSupport

// The responders' RRSIG copy cache (RRSIGWireCache, sharded open addressing) against a plain
// dictionary: what a lookup returns is always the entry last stored under that hash, the cache
// never holds more than its capacity, a store is found right after it, and under capacity
// (nearly) everything stored stays found.

@Suite("RRSIG wire cache: bounded, entries as stored")
struct RRSIGWireCacheTests {
    static func entry(_ tag: UInt64) -> RRSIGWireCache.Entry {
        let key = withUnsafeBytes(of: tag.bigEndian) { Array($0) }
        return RRSIGWireCache.Entry(key: key, rrsigs: [key, key.reversed()], until: UInt32(truncatingIfNeeded: tag),
                                    generation: Int(tag & 0xff), use: ZoneSigner.UseMark())
    }

    /// Random stores (hashes drawn from a small pool, so keys repeat and are replaced) at
    /// several capacities, 0 and colliding slot bits among the hashes.
    @Test(arguments: [1, 2, 3, 17, 100, 1000, 5000])
    func matchesADictionary(capacity: Int) {
        var rng = SplitMix64(seed: UInt64(capacity) &* 0x9E37_79B9)
        let cache = RRSIGWireCache(capacity: capacity)
        var reference: [UInt64: UInt64] = [:]
        let pool = (0..<(capacity * 3 + 10)).map { i -> UInt64 in
            // Some hashes share their low bits (same shard) or their high bits (same home slot).
            switch i % 4 {
            case 0: return UInt64(i)
            case 1: return UInt64(i) << 32
            case 2: return rng.next()
            default: return rng.next() & 0xffff_0000_0000_000f
            }
        }
        for step in 0..<(capacity * 8 + 50) {
            let h = pool[Int(rng.next() % UInt64(pool.count))]
            let tag = UInt64(step) << 20 | (h & 0xfffff)
            cache.store(h, Self.entry(tag))
            reference[h] = tag
            let got = cache.lookup(h)
            #expect(got?.until == UInt32(truncatingIfNeeded: tag), "the entry just stored is found")
            #expect(cache.count <= capacity)
        }
        var found = 0
        for (h, tag) in reference {
            guard let e = cache.lookup(h) else { continue }
            found += 1
            #expect(e.key == Self.entry(tag).key && e.until == UInt32(truncatingIfNeeded: tag)
                    && e.generation == Int(tag & 0xff) && e.rrsigs.count == 2)
        }
        #expect(found == cache.count)
        #expect(found <= capacity)
    }

    /// Under capacity nothing is dropped but for a rare full probe window.
    @Test func keepsEverythingUnderCapacity() {
        var rng = SplitMix64(seed: 7)
        let cache = RRSIGWireCache(capacity: 50_000)
        let hashes = (0..<20_000).map { _ in rng.next() }
        for (i, h) in hashes.enumerated() { cache.store(h, Self.entry(UInt64(i))) }
        var found = 0
        for (i, h) in hashes.enumerated() where cache.lookup(h)?.until == UInt32(i) { found += 1 }
        #expect(found >= 19_990, "found \(found) of 20,000")
        #expect(cache.count == found)
    }

    /// Threads storing and looking up at once: no lost bound, no torn entry.
    @Test func concurrentUse() async {
        let cache = RRSIGWireCache(capacity: 4096)
        await withTaskGroup(of: Void.self) { g in
            for t in 0..<4 {
                g.addTask {
                    var rng = SplitMix64(seed: UInt64(t + 1))
                    for _ in 0..<20_000 {
                        let h = rng.next() % 10_000
                        if rng.next() & 1 == 0 {
                            cache.store(h, Self.entry(h))
                        } else if let e = cache.lookup(h) {
                            #expect(e.until == UInt32(h))
                        }
                    }
                }
            }
        }
        #expect(cache.count <= 4096)
    }
}
