import Testing
@testable import PrefixStore
import TestSupport

// dnset name tables in the store (format version 3): round trip, lookups, version-2 stores
// still read, and every corrupted byte of a dnset store refused or served without fault.

private func le32(_ b: inout [UInt8], _ off: Int, _ v: UInt32) {
    for k in 0..<4 { b[off + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(k))) }
}

private func fixed(_ b: [UInt8]) -> [UInt8] {
    var b = b
    let content = b.withUnsafeBytes { Format.crc($0.baseAddress! + 64, $0.count - 64) }
    le32(&b, 32, content)
    let header = b.withUnsafeBytes { Format.crc($0.baseAddress!, 60) }
    le32(&b, 60, header)
    return b
}

private func labels(_ text: String) -> [UInt8] {
    var out: [UInt8] = []
    for l in text.split(separator: ".") { out.append(UInt8(l.utf8.count)); out += Array(l.utf8) }
    return out
}

func domainZone() -> ZoneInput {
    var d = DatasetInput(name: "dnset:t", type: "dnset", family: .ipv4, ttl: 300,
                         values: [ListingValue(a: 0x7F00_0002, txt: Array("x $".utf8)), ListingValue(a: 0x7F00_0003, txt: nil)],
                         entries: [])
    d.domains = [
        DomainEntry(name: labels("example.com"), wildcard: false, value: 0, origin: 1),
        DomainEntry(name: labels("example.com"), wildcard: false, value: 1, origin: 2),
        DomainEntry(name: labels("sub.example.org"), wildcard: true, value: 1, origin: 3),
        DomainEntry(name: labels("sub.example.org"), wildcard: false, value: 1, origin: 3),
        DomainEntry(name: labels("bad.sub.example.org"), wildcard: false, value: PrefixEntry.exclusion, origin: 4),
    ]
    return ZoneInput(name: labels("bl.example") + [0],
                     soa: SOAData(ttl: 60, mname: labels("ns.bl.example") + [0], rname: labels("h.bl.example") + [0],
                                  serial: 1, refresh: 2, retry: 3, expire: 4, minimum: 5),
                     nsTTL: 60, ns: [labels("ns.bl.example") + [0]], datasets: [d])
}

private func match(_ t: DomainTable, _ name: String) -> Int32? {
    let k = DomainKey.key(labels: labels(name))!
    return k.withUnsafeBytes { t.match($0.baseAddress!, $0.count)?.value }
}

private func below(_ t: DomainTable, _ name: String) -> Bool {
    let k = DomainKey.key(labels: labels(name))!
    return k.withUnsafeBytes { t.hasListedBelow($0.baseAddress!, $0.count) }
}

@Suite("dnset name tables")
struct DomainTableTests {
    @Test func roundTripAndLookups() throws {
        let s = try Store(zones: [domainZone()])
        let d = try #require(s.zones.first?.datasets.first)
        let t = try #require(d.domains)
        #expect(d.type == "dnset" && d.ttl == 300 && t.nameCount == 3 && d.entryCount == 5)
        // example.com has two values: a run of two value records after the two plain ones.
        let v = try #require(match(t, "example.com"))
        #expect(v == 2 && StoreValue.run(d.values, at: Int(v)).map(\.a) == [0x7F00_0002, 0x7F00_0003])
        #expect(match(t, "sub.example.org") == 1 && match(t, "a.b.sub.example.org") == 1)
        #expect(match(t, "bad.sub.example.org") == nil && match(t, "x.bad.sub.example.org") == 1)
        #expect(match(t, "www.example.com") == nil && match(t, "com") == nil)
        #expect(below(t, "com") && below(t, "example.org") && below(t, "bad.sub.example.org"))
        #expect(!below(t, "example.com") && !below(t, "net"))
        let key = t.entry(0).key
        #expect(DomainKey.text(key: key) == "example.com")
    }

    /// The one-search lookup (shared-prefix skipping, eight bytes per step, the derived parent
    /// chain) against a slow reference that scans every entry, on large random tables whose
    /// keys share long prefixes (labels that are prefixes of each other, chains 7 deep): every
    /// stored name, a child of each, their ancestors and random names.
    @Test func oneSearchLookupsMatchALinearScan() throws {
        var rng = SplitMix64(seed: 0x0DE5_E7FA)
        let alphabet = ["a", "aa", "aaaaaaa", "aaaaaaaa", "aaaaaaaab", "aaaaaaaaaaaaaaaaaaaaaaaa", "b", "com",
                        "example", "examplf", "0123456789abcdef0123456789abcdef01234567", "xn--bcher-kva", "_x"]
        for round in 0..<8 {
            var doms: [DomainEntry] = []
            for i in 0..<Int(rng.next() % 1500 + 1) {
                let depth = Int(rng.next() % 7) + 1
                let name = (0..<depth).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }.joined(separator: ".")
                let value: Int32 = rng.next() % 5 == 0 ? PrefixEntry.exclusion : Int32(rng.next() % 3)
                guard labels(name).count <= 200 else { continue }  // whole names stay within 255 bytes
                doms.append(DomainEntry(name: labels(name), wildcard: rng.next() % 2 == 0, value: value, origin: UInt32(i)))
            }
            var d = DatasetInput(name: "dnset:t", type: "dnset", family: .ipv4, ttl: 300,
                                 values: (0..<3).map { ListingValue(a: 0x7F00_0002 + UInt32($0), txt: nil) }, entries: [])
            d.domains = doms
            var z = domainZone()
            z.datasets = [d]
            let s = try Store(zones: [z])
            let t = try #require(s.zones.first?.datasets.first?.domains)
            // The reference: per key, the decision of each array (an exclusion wins).
            var table: [[UInt8]: (exact: DomainDecision, wild: DomainDecision)] = [:]
            for e in doms {
                let k = DomainKey.key(labels: e.name)!
                var r = table[k] ?? (.none, .none)
                let new: DomainDecision = e.isExclusion ? .excluded : .value(e.value)
                if e.wildcard { if r.wild != .excluded { r.wild = new } } else { if r.exact != .excluded { r.exact = new } }
                table[k] = r
            }
            // Each name has at most one value per array here unless repeated: compare listed or not
            // and the deciding entry's key (value runs are the builder's business).
            func ancestors(_ k: [UInt8]) -> [[UInt8]] {  // strict, longest first
                var out: [[UInt8]] = []
                var p = k.count - 1
                while p > 0 { if k[p - 1] == 0 { out.append(Array(k[0..<p])) }; p -= 1 }
                return out
            }
            func wildAtOrAbove(_ k: [UInt8]) -> [UInt8]? {
                for a in [k] + ancestors(k) {
                    switch table[a]?.wild ?? .none {
                    case .excluded: return nil
                    case .value: return a
                    case .none: continue
                    }
                }
                return nil
            }
            func refMatch(_ k: [UInt8]) -> [UInt8]? {
                switch table[k]?.exact ?? .none {
                case .excluded: return nil
                case .value: return k
                case .none: return ancestors(k).isEmpty ? nil : wildAtOrAbove(ancestors(k)[0])
                }
            }
            func refBelow(_ k: [UInt8]) -> Bool {
                let listedBelow = table.contains { key, r in
                    key.count > k.count && key.starts(with: k)
                        && ({ if case .value = r.exact { return true }; if case .value = r.wild { return true }; return false })()
                }
                return listedBelow || wildAtOrAbove(k) != nil
            }
            var queries: Set<[UInt8]> = []
            for k in table.keys {
                queries.insert(k)
                queries.insert(k + Array("zz".utf8) + [0])
                for a in ancestors(k) { queries.insert(a) }
            }
            for _ in 0..<300 {
                let depth = Int(rng.next() % 8) + 1
                let name = (0..<depth).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }.joined(separator: ".")
                queries.insert(DomainKey.key(labels: labels(name))!)
            }
            for q in queries {
                q.withUnsafeBytes { b in
                    let k = b.baseAddress!, n = b.count
                    let m = t.match(k, n).map { Array(t.key($0.entry)) }
                    #expect(m == refMatch(q), "round \(round) \(DomainKey.text(key: b)): match")
                    #expect(t.hasListedBelow(k, n) == refBelow(q), "round \(round) \(DomainKey.text(key: b)): listed below")
                    #expect(t.childMatch(k, n).map { Array(t.key($0.entry)) } == wildAtOrAbove(q),
                            "round \(round) \(DomainKey.text(key: b)): child match")
                    let at = t.locate(k, n)
                    #expect(at.exact == (table[q] != nil), "round \(round) \(DomainKey.text(key: b)): exact")
                }
            }
        }
    }

    @Test func keysSortCanonically() {
        let names = ["a.example", "example", "b.a.example", "z.example", "xn--bcher-kva.example", "A-.example"]
        let keys = names.map { DomainKey.key(labels: labels($0.lowercased()))! }
        // Every ancestor's key is a prefix of its descendants' keys.
        #expect(keys[2].starts(with: keys[0]) && keys[0].starts(with: keys[1]))
        #expect(DomainKey.key(labels: [1, 0]) == nil && DomainKey.key(labels: [3, 0x61]) == nil)
        for k in keys {
            #expect(k.withUnsafeBytes { DomainKey.labels(key: $0) } == Array(labels(names[keys.firstIndex(of: k)!].lowercased())))
        }
    }

    @Test func versionTwoStoresAreRead() throws {
        var b = try StoreBuilder.encode(sampleZones()).bytes
        #expect(b[8] == 3)
        b[8] = 2
        let s = try Store(bytes: fixed(b))
        #expect(s.zones.count == sampleZones().count)
        // A name table in a version-2 store is refused.
        var d = try StoreBuilder.encode([domainZone()]).bytes
        d[8] = 2
        #expect(throws: StoreError.self) { try Store(bytes: fixed(d)) }
    }

    @Test func everyCorruptedByteIsRefusedOrHarmless() throws {
        let good = try StoreBuilder.encode([domainZone()]).bytes
        _ = try Store(bytes: good)
        var accepted = 0
        for off in 64..<good.count {
            for flip: UInt8 in [0x01, 0x80, 0xFF] {
                var b = good
                b[off] ^= flip
                guard let s = try? Store(bytes: fixed(b)) else { continue }
                accepted += 1
                for z in s.zones {
                    for d in z.datasets {
                        guard let t = d.domains else { continue }
                        for name in ["example.com", "a.sub.example.org", "bad.sub.example.org", "com", "x.y"] {
                            if let v = match(t, name) { _ = StoreValue.run(d.values, at: Int(v)) }
                            _ = below(t, name)
                        }
                        for i in 0..<t.nameCount { _ = DomainKey.text(key: t.entry(i).key) }
                    }
                }
            }
        }
        // TTLs, TXT bytes and the like are free data: some flips are served.
        #expect(accepted > 0)
    }
}
