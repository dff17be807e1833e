@testable import DNSBL
import DNSWire
import PrefixStore
import Testing
import TestSupport

// The per-thread proof cache (ProofCache) against the reference view: every proof it returns,
// first computed then repeated from the cache, equals the reference's, for random names of
// random zones (names in the same NSEC gap, at every depth, empty non-terminals, wildcards,
// exclusions), and a zone of a new generation (a reload) never gets an older view's proof
// for the same QNAME.

@Suite("Proof cache: answers from the cache equal proofs computed afresh")
struct ProofCacheTests {
    /// Checks `names` through the cache in `view` of `generation` against `ref`, each name
    /// asked `rounds` times (the first a miss unless cached before); returns the mismatches.
    func check(_ view: StoreZoneView, _ ref: ReferenceView, _ names: [[UInt8]], generation: UInt64,
               rounds: Int, seed: UInt64) -> Int {
        var bad = 0
        for round in 0..<rounds {
            for q in names {
                let wire = ProofCache.proof(NameBuffer(q), view: view, generation: generation)
                let got = view.viewProof(wire, qname: q), want = ref.prove(q)
                if got != want {
                    bad += 1
                    if bad <= 5 {
                        Issue.record("seed \(seed) round \(round) qname \(text(q))\n got \(describe(got))\nwant \(describe(want))")
                    }
                }
            }
        }
        return bad
    }

    @Test("random zones, random names asked four times: cached proofs equal the reference")
    func cachedEqualsFresh() throws {
        let seed = testSeed()
        var f = ViewFuzz(rng: SplitMix64(seed: seed))
        let shapes: [[AddressFamily]] = [[.ipv6], [.ipv4], [.ipv6, .ipv4]]
        for s in 0..<24 {
            var sets: [DatasetInput] = []
            for fam in shapes[s % shapes.count] {
                sets.append(f.dataset(fam, count: 1 + f.int(60), name: "a\(fam)"))
                if f.chance(0.3) { sets.append(f.dataset(fam, count: 1 + f.int(20), name: "b\(fam)")) }
            }
            let z = try Store(zones: [zone(sets)]).zones[0]
            let view = try #require(StoreZoneView.make(zone: z), "seed \(seed) store \(s)")
            let ref = ReferenceView(zone: z)
            // More names than the table has slots, so entries are replaced too; the same names
            // again in another order hit whatever is left.
            var qs = f.qnames(ref, count: ProofCache.capacity + 300)
            qs += qs.reversed()
            if check(view, ref, qs, generation: ProofCache.nextGeneration(), rounds: 2, seed: seed) > 0 { return }
        }
    }

    @Test("a new generation (reload) never answers from an older view's entries")
    func reloadInvalidates() throws {
        let seed = testSeed()
        var f = ViewFuzz(rng: SplitMix64(seed: seed))
        // Two different zones asked the same names: the second, of a new generation, right
        // after the first has filled the cache with its proofs.
        let z1 = try Store(zones: [zone([f.dataset(.ipv6, count: 40, name: "a"), f.dataset(.ipv4, count: 40, name: "b")])]).zones[0]
        let z2 = try Store(zones: [zone([f.dataset(.ipv6, count: 40, name: "a"), f.dataset(.ipv4, count: 40, name: "b")])]).zones[0]
        let v1 = try #require(StoreZoneView.make(zone: z1)), v2 = try #require(StoreZoneView.make(zone: z2))
        let r1 = ReferenceView(zone: z1), r2 = ReferenceView(zone: z2)
        let qs = f.qnames(r1, count: 300) + f.qnames(r2, count: 300)
        // The two zones must disagree somewhere, or this test could not fail.
        #expect(qs.contains { r1.prove($0) != r2.prove($0) })
        #expect(check(v1, r1, qs, generation: ProofCache.nextGeneration(), rounds: 2, seed: seed) == 0)
        #expect(check(v2, r2, qs, generation: ProofCache.nextGeneration(), rounds: 2, seed: seed) == 0)
        // The cache is consulted: under one generation a repeated QNAME gets the stored proof
        // (here deliberately of the other view), under a new one the proof afresh.
        let q = try #require(qs.first { r1.prove($0) != r2.prove($0) })
        let g = ProofCache.nextGeneration()
        let first = v1.viewProof(ProofCache.proof(NameBuffer(q), view: v1, generation: g), qname: q)
        #expect(first == r1.prove(q))
        #expect(v2.viewProof(ProofCache.proof(NameBuffer(q), view: v2, generation: g), qname: q) == first)
        #expect(v2.viewProof(ProofCache.proof(NameBuffer(q), view: v2, generation: ProofCache.nextGeneration()), qname: q)
                == r2.prove(q))
    }
}
