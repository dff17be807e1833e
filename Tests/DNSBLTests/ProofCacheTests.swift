@testable import DNSBL
import DNSWire
import PrefixStore
import Testing
import TestSupport

// The per-thread proof cache (ProofCache) against the reference view: every proof it returns,
// first computed then repeated from the cache, equals the reference's, for random names of
// random zones (names in the same NSEC gap, at every depth, empty non-terminals, wildcards,
// exclusions), and a zone of a new generation (a reload) never gets an older view's proof
// for the same QNAME. The cache is keyed by the gap, not the QNAME: NEW names answered from
// an entry another name of their gap made equal the reference too, and the facts the key rests
// on (the proof of a name that does not exist is the proof of its cut `g` one label below the
// closest encloser; that encloser is the deeper common ancestor with the covering NSEC's owner
// and next name) are checked against the reference directly.

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
            // Many names (entries of a full set are replaced); the same names again in another
            // order hit whatever is left.
            var qs = f.qnames(ref, count: 1500)
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

    /// Random stores of each shape (IPv6, IPv4, both in one zone), several datasets, exclusions.
    func stores(_ f: inout ViewFuzz, count: Int) throws -> [(StoreZoneView, ReferenceView)] {
        let shapes: [[AddressFamily]] = [[.ipv6], [.ipv4], [.ipv6, .ipv4]]
        var out: [(StoreZoneView, ReferenceView)] = []
        for s in 0..<count {
            var sets: [DatasetInput] = []
            for fam in shapes[s % shapes.count] {
                sets.append(f.dataset(fam, count: 1 + f.int(60), name: "a\(fam)"))
                if f.chance(0.3) { sets.append(f.dataset(fam, count: 1 + f.int(20), name: "b\(fam)")) }
            }
            let z = try Store(zones: [zone(sets)]).zones[0]
            out.append((try #require(StoreZoneView.make(zone: z)), ReferenceView(zone: z)))
        }
        return out
    }

    /// Names below `base`: random nibbles to a full IPv6 name, octets, or a few labels of
    /// any kind.
    func below(_ base: [UInt8], apex: [UInt8], _ f: inout ViewFuzz) -> [UInt8] {
        var n = base
        var depth = 0
        var s = base
        while s.count > apex.count { depth += 1; s = Array(s.dropFirst(1 + Int(s[0]))) }
        switch f.int(3) {
        case 0:
            for _ in depth..<max(depth + 1, 32) { n = [1, Array(String(f.int(16), radix: 16).utf8)[0]] + n }
        case 1:
            for _ in 0..<(1 + f.int(3)) { let l = Array(String(f.int(256)).utf8); n = [UInt8(l.count)] + l + n }
        default:
            for _ in 0..<(1 + f.int(3)) { let l = f.label(); n = [UInt8(l.count)] + l + n }
        }
        return n.count <= 255 ? n : base
    }

    @Test("new names, each asked once, in gaps other names opened: answers equal the reference")
    func newNamesInSeenGaps() throws {
        let seed = testSeed()
        var f = ViewFuzz(rng: SplitMix64(seed: seed))
        var asked = 0, computed = 0
        for (view, ref) in try stores(&f, count: 18) {
            // Around the view's names, several new names below each: most share a gap (and a
            // cut `g`) with a name asked before them.
            var seen = Set<[UInt8]>()
            var qs: [[UInt8]] = []
            for b in f.qnames(ref, count: 120) {
                for _ in 0..<6 {
                    let q = below(b, apex: ref.apex, &f)
                    if seen.insert(q).inserted { qs.append(q) }
                }
            }
            for i in qs.indices.reversed() { qs.swapAt(i, f.int(i + 1)) }
            let before = ProofCache.threadCounts.computed
            if check(view, ref, qs, generation: ProofCache.nextGeneration(), rounds: 1, seed: seed) > 0 { return }
            computed += ProofCache.threadCounts.computed - before
            asked += qs.count
        }
        // The new names were mostly answered from entries other names made (else this test
        // would not exercise the gap keys).
        #expect(computed * 2 < asked, "seed \(seed): \(computed) proofs computed for \(asked) new names")
    }

    /// Labels of `name` (uncompressed wire form), bottom-up.
    func labels(_ name: [UInt8]) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var p = 0
        while p < name.count && name[p] != 0 { out.append(Array(name[p...(p + Int(name[p]))])); p += 1 + Int(name[p]) }
        return out
    }

    /// The longest common ancestor of two names (the root at worst), in wire form.
    func commonAncestor(_ a: [UInt8], _ b: [UInt8]) -> [UInt8] {
        let x = labels(a), y = labels(b)
        var k = 0
        while k < min(x.count, y.count) && x[x.count - 1 - k] == y[y.count - 1 - k] { k += 1 }
        return Array(x.suffix(k).joined()) + [0]
    }

    /// The label of `name` just above `encloser` (a proper suffix of it), or nil when `name` is
    /// not below `encloser`.
    func branch(_ name: [UInt8], below encloser: [UInt8]) -> [UInt8]? {
        let x = labels(name), e = labels(encloser)
        guard x.count > e.count, Array(x.suffix(e.count)) == e else { return nil }
        return Array(x[x.count - e.count - 1].dropFirst())
    }

    /// Canonical order of two labels (RFC 4034 §6.1; lower case already).
    func less(_ a: [UInt8], _ b: [UInt8]) -> Bool { a.lexicographicallyPrecedes(b) }

    @Test("what the gap key rests on: every name below the closest encloser inside the gap's bounds has the gap's proof; the closest encloser comes from the covering NSEC")
    func gapKeyFacts() throws {
        let seed = testSeed()
        var f = ViewFuzz(rng: SplitMix64(seed: seed))
        var missing = 0, others = 0
        for (_, ref) in try stores(&f, count: 18) {
            var bad = 0
            for b in f.qnames(ref, count: 150) {
                let q = below(b, apex: ref.apex, &f)
                let p = ref.prove(q)
                guard !p.exists else { continue }
                missing += 1
                // The deeper of the common ancestors with the NSEC's owner and next name.
                let a = commonAncestor(q, p.nsec.owner), n = commonAncestor(q, p.nsec.next)
                let deeper = labels(a).count >= labels(n).count ? a : n
                if deeper != p.closestEncloser {
                    bad += 1
                    Issue.record("seed \(seed) qname \(text(q)): deeper common ancestor \(text(deeper)), \(describe(p))")
                }
                // Other names below the closest encloser: those whose label there sorts strictly
                // inside the bounds (the children holding P and N) get the same proof.
                let low = branch(p.nsec.owner, below: p.closestEncloser), high = branch(p.nsec.next, below: p.closestEncloser)
                for _ in 0..<4 {
                    let l = f.label()
                    guard low.map({ less($0, l) }) ?? true, high.map({ less(l, $0) }) ?? true else { continue }
                    var other = [UInt8(l.count)] + l + p.closestEncloser
                    if f.chance(0.5) { other = below(other, apex: ref.apex, &f) }
                    let po = ref.prove(other)
                    others += 1
                    if po.exists || po.nsec != p.nsec || po.closestEncloser != p.closestEncloser
                        || po.wildcard != p.wildcard || po.wildcardExists != p.wildcardExists {
                        bad += 1
                        Issue.record("seed \(seed) qname \(text(q)) and \(text(other)) in one gap:\n \(describe(p))\n \(describe(po))")
                    }
                    if bad > 5 { return }
                }
            }
            if bad > 0 { return }
        }
        #expect(missing > 500 && others > 200, "seed \(seed): only \(missing) missing names, \(others) gap mates checked")
    }

    @Test("random names under one gap: one proof computed, the rest from its entry")
    func floodInOneGap() throws {
        // 2001:db8::/32 listed, 2001:db8:0:1::/64 excluded, 2001:db8:ab::/48 other value;
        // 10.0.0.0/8 listed with 10.1.2.0/24 excluded.
        let sets = [
            DatasetInput(name: "v6", type: "ip6trie", family: .ipv6, ttl: 2100, values: Array(ViewFuzz.values[0..<2]),
                         entries: [PrefixEntry(address: 0x2001_0db8 << 96, prefixLength: 32, value: 0, origin: 0),
                                   PrefixEntry(address: 0x2001_0db8_0000_0001 << 64, prefixLength: 64, value: PrefixEntry.exclusion, origin: 1),
                                   PrefixEntry(address: 0x2001_0db8_00ab << 80, prefixLength: 48, value: 1, origin: 2)]),
            DatasetInput(name: "v4", type: "ip4trie", family: .ipv4, ttl: 2100, values: Array(ViewFuzz.values[0..<1]),
                         entries: [PrefixEntry(address: 0x0A00_0000, prefixLength: 8, value: 0, origin: 0),
                                   PrefixEntry(address: 0x0A01_0200, prefixLength: 24, value: PrefixEntry.exclusion, origin: 1)]),
        ]
        let z = try Store(zones: [zone(sets)]).zones[0]
        let view = try #require(StoreZoneView.make(zone: z))
        let ref = ReferenceView(zone: z)
        var rng = SplitMix64(seed: testSeed())
        func nibbles(_ a: UInt128) -> [UInt8] {
            var w: [UInt8] = []
            for i in 0..<32 { w += [1, Array(String(Int((a >> UInt128(4 * i)) & 0xF), radix: 16).utf8)[0]] }
            return w + ref.apex
        }
        func octets(_ a: UInt32) -> [UInt8] {
            var w: [UInt8] = []
            for i in 0..<4 { let l = Array(String((a >> UInt32(8 * i)) & 0xFF).utf8); w += [UInt8(l.count)] + l }
            return w + ref.apex
        }
        // Each gap: its random names (one prefix, random low bits) and what they must be.
        let gaps: [(what: String, name: () -> [UInt8], exists: Bool, wildcard: Bool)] = [
            ("unlisted IPv6 /32 next to a listed one", { nibbles((0x2001_0db9 << 96) | (rng.next128() >> 32)) }, false, false),
            ("listed IPv6 under a wildcard", { nibbles((0x2001_0db8_0005 << 80) | (rng.next128() >> 48)) }, false, true),
            ("excluded IPv6 /64", { nibbles((0x2001_0db8_0000_0001 << 64) | (rng.next128() >> 68)) }, false, false),
            ("unlisted IPv4 /8", { octets(0x0B00_0000 | UInt32(truncatingIfNeeded: rng.next()) & 0xFF_FFFF) }, false, false),
        ]
        for gap in gaps {
            let g = ProofCache.nextGeneration()
            let before = ProofCache.threadCounts
            var bad = 0
            for _ in 0..<500 {
                let q = gap.name()
                let got = view.viewProof(ProofCache.proof(NameBuffer(q), view: view, generation: g), qname: q)
                let want = ref.prove(q)
                if got != want || want.exists != gap.exists || want.wildcardExists != gap.wildcard { bad += 1 }
            }
            let after = ProofCache.threadCounts
            #expect(bad == 0, "\(gap.what): \(bad) of 500 proofs wrong or not of the gap's kind")
            // One proof per cut below the closest encloser: the random names of one gap share
            // it (the random bits lie below the cut: for the excluded /64, whose marker is the
            // closest encloser, below the IID's first nibble; the unlisted /8's cut is `11`).
            #expect(after.computed - before.computed == 1, "\(gap.what): \(after.computed - before.computed) proofs computed")
            #expect(after.hits - before.hits == 499, "\(gap.what)")
        }
    }
}
