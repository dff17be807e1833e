@testable import DNSBL
import PrefixStore
import ZoneExport
import Testing
import TestSupport

// The proof computed by searches (ViewTree: wildcard values from the heavy table or a scan of
// a light node's intervals, name children by binary search or, IPv4, by rank bits) against
// the sorted export (ReferenceView) on small random stores, and against the proof as it was
// computed before (SlowZoneView, classifying every child on the way) on stores too large for
// the export. The heavy threshold is varied so the heavy table answers for every walked node
// (0), for some (1, 2, 4, 32, the defaults IPv6 256 and IPv4 32) or, IPv6, for none of these
// stores' nodes (1024).

extension ViewFuzz {
    /// Prefixes of every length (/1–/128, IPv4 /1–/32) anywhere in the family's space, a third
    /// of them nested under an earlier one (so exclusions and other values fall inside
    /// listings at every depth); a quarter exclusions.
    mutating func wideEntries(_ family: AddressFamily, count: Int, values: Int) -> [PrefixEntry] {
        let bits = family.bits
        let mask: UInt128 = bits == 128 ? .max : (1 << 32) - 1
        var out: [PrefixEntry] = []
        var seen = Set<[UInt128]>()
        while out.count < count {
            var len = 1 + int(bits)
            var a = rng.next128() & mask
            if let outer = out.isEmpty || !chance(0.33) ? nil : out[int(out.count)], Int(outer.prefixLength) < bits {
                // Inside an earlier entry: its bits, then random ones, a longer prefix.
                let ol = Int(outer.prefixLength)
                len = ol + 1 + int(bits - ol)
                let keep: UInt128 = ol == 0 ? 0 : (mask << UInt128(bits - ol)) & mask
                a = (outer.address & keep) | (a & ~keep & mask)
            }
            let host: UInt128 = len == bits ? 0 : (UInt128(1) << UInt128(bits - len)) - 1
            a &= ~host
            guard seen.insert([a, UInt128(len)]).inserted else { continue }
            let v: Int32 = chance(0.25) ? PrefixEntry.exclusion : Int32(int(values))
            out.append(PrefixEntry(address: a, prefixLength: UInt8(len), value: v, origin: UInt32(out.count)))
        }
        return out
    }

    mutating func wideDataset(_ family: AddressFamily, count: Int, name: String) -> DatasetInput {
        let n = 1 + int(ViewFuzz.values.count)
        return DatasetInput(name: name, type: family == .ipv4 ? "ip4trie" : "ip6trie", family: family,
                            ttl: chance(0.2) ? 600 : 2100, values: Array(ViewFuzz.values[0..<n]),
                            entries: wideEntries(family, count: count, values: n))
    }

    /// Full-length names of random addresses near the zone's intervals (within a few
    /// addresses, or anywhere in the /n around an interval bound) and anywhere, IPv6 and IPv4.
    mutating func addressNames(_ tree: ViewTree, apex: [UInt8], count: Int) -> [[UInt8]] {
        var out: [[UInt8]] = []
        let bits = tree.width
        let mask: UInt128 = bits == 128 ? .max : (1 << 32) - 1
        for _ in 0..<count {
            var a = rng.next128() & mask
            if !tree.firsts.isEmpty && !chance(0.2) {
                let i = int(tree.firsts.count)
                let b = chance(0.5) ? tree.firsts[i] : tree.lasts[i]
                let span = int(bits + 1)
                let low: UInt128 = span == 128 ? .max : (UInt128(1) << UInt128(span)) - 1
                a = chance(0.5) ? (b & ~low) | (a & low) : b &+ UInt128(int(5)) &- 2
                a &= mask
            }
            var name: [UInt8] = []
            if tree.family == .ipv6 {
                for k in 0..<32 {
                    let nib = Int((a >> UInt128(4 * k)) & 0xF)
                    name += [1, Array(String(nib, radix: 16).utf8)[0]]
                }
            } else {
                for k in 0..<4 {
                    let l = Array(String(Int((a >> UInt128(8 * k)) & 0xFF)).utf8)
                    name += [UInt8(l.count)] + l
                }
            }
            out.append(name + apex)
        }
        return out
    }
}

@Suite("Proofs by search: equal to the sorted export and to the proof by classification")
struct ProofSearchTests {
    /// nil: each family's default (IPv6 256, IPv4 32); 1024 makes every IPv6 node of these
    /// stores light (IPv4 is held to 32).
    static let thresholds: [Int?] = [0, 1, 2, 4, 32, nil, 1024]

    func stores(_ f: inout ViewFuzz, _ families: [AddressFamily], wide: Bool, count: Int) throws -> StoreZone {
        var sets: [DatasetInput] = []
        for fam in families {
            sets.append(wide ? f.wideDataset(fam, count: 1 + f.int(count), name: "a\(fam)")
                             : f.dataset(fam, count: 1 + f.int(count), name: "a\(fam)"))
            if f.chance(0.3) {
                sets.append(wide ? f.wideDataset(fam, count: 1 + f.int(count / 3), name: "b\(fam)")
                                 : f.dataset(fam, count: 1 + f.int(count / 3), name: "b\(fam)"))
            }
        }
        return try Store(zones: [zone(sets)]).zones[0]
    }

    @Test("random stores (nested prefixes /1–/128 and /1–/32 with exclusions, one family or both), every heavy threshold: the sorted export",
          arguments: [[AddressFamily.ipv6], [.ipv4], [.ipv6, .ipv4]])
    func againstExport(_ families: [AddressFamily]) throws {
        let seed = testSeed()
        var f = ViewFuzz(rng: SplitMix64(seed: seed))
        for s in 0..<10 {
            let wide = s % 2 == 0
            let z = try stores(&f, families, wide: wide, count: 80)
            let ents = s % 3 == 2
            let images = families == [.ipv4] && s % 4 == 1
            let ref = ReferenceView(zone: z, options: ExportOptions(imagesWithoutIPv6Data: images), emptyNonTerminalRecords: ents)
            var names = f.qnames(ref, count: 300)
            for t in try #require(StoreZoneView.make(zone: z, imagesWithoutIPv6Data: images)).trees {
                names += f.addressNames(t, apex: ref.apex, count: 100)
            }
            for threshold in Self.thresholds {
                let view = try #require(StoreZoneView.make(parts: [z], imagesWithoutIPv6Data: images, emptyNonTerminalRecords: ents,
                                                           heavyThreshold: threshold))
                if threshold == 0 {
                    // Every walked node is heavy: no proof scans.
                    #expect(view.trees.allSatisfy { $0.heavyCount > 0 }, "seed \(seed) store \(s)")
                }
                if checkView(view, ref, names, seed: seed) > 0 {
                    Issue.record("seed \(seed) store \(s) threshold \(String(describing: threshold)) wide \(wide) ents \(ents) images \(images)")
                    return
                }
            }
        }
    }

    @Test("larger random stores, random names: the same proofs as the classification of every child",
          arguments: [[AddressFamily.ipv6], [.ipv4], [.ipv6, .ipv4]])
    func againstClassification(_ families: [AddressFamily]) throws {
        let seed = testSeed()
        var f = ViewFuzz(rng: SplitMix64(seed: seed))
        for s in 0..<4 {
            let z = try stores(&f, families, wide: s % 2 == 0, count: 4000)
            let base = try #require(StoreZoneView.make(zone: z))
            let slow = SlowZoneView(base)
            var names: [[UInt8]] = [base.apex]
            for t in base.trees { names += f.addressNames(t, apex: base.apex, count: 1500) }
            // Names one to three labels long, and cut from full names.
            for q in names.prefix(400) {
                var n = q
                for _ in 0..<f.int(30) where n.count > base.apex.count { n = Array(n.dropFirst(1 + Int(n[0]))) }
                names.append(n)
            }
            for threshold: Int? in [1, 32, nil] {
                let view = try #require(StoreZoneView.make(parts: [z], imagesWithoutIPv6Data: false, emptyNonTerminalRecords: false,
                                                           heavyThreshold: threshold))
                var bad = 0
                for q in names {
                    let got = view.prove(q), want = slow.prove(q)
                    if got != want {
                        bad += 1
                        if bad <= 5 {
                            Issue.record("seed \(seed) store \(s) threshold \(String(describing: threshold)) qname \(text(q))\n got \(describe(got))\nwant \(describe(want))")
                        }
                    }
                }
                if bad > 0 { return }
            }
        }
    }

    @Test("a proof computed afresh (a proof-cache miss) allocates nothing, light and heavy nodes, both families")
    func missAllocatesNothing() throws {
        let count = try #require(threadMallocCount, mallocCounterMissing)
        let seed = testSeed()
        var f = ViewFuzz(rng: SplitMix64(seed: seed))
        let z = try stores(&f, [.ipv6, .ipv4], wide: true, count: 2000)
        for threshold: Int? in [0, nil, 1024] {
            let view = try #require(StoreZoneView.make(parts: [z], imagesWithoutIPv6Data: false, emptyNonTerminalRecords: false,
                                                       heavyThreshold: threshold))
            var names: [NameBuffer] = []
            for t in view.trees { names += f.addressNames(t, apex: view.apex, count: 300).map { NameBuffer($0) } }
            var sink = 0, made = 0
            for i in names.indices {
                let q = names[i]
                _ = view.wireProof(q)  // warm-up: the thread's first use of anything lazy
                let before = count()
                sink &+= view.wireProof(q).closestEncloserLabels
                made += count() - before
            }
            #expect(made == 0, "seed \(seed) threshold \(String(describing: threshold)): \(made) allocations for \(names.count) proofs (\(sink))")
        }
    }
}
