import Testing
import Foundation
import PrefixStore
@testable import ZoneSource
import TestSupport

/// Every list in ../shared/realdata compiles with the expected counts, and sampled lookups
/// through the store agree with a linear-scan reference over the parsed entries.
struct RealDataTests {
    struct List: CustomTestStringConvertible, Sendable {
        var file: String
        var type: String
        var countAsValue = false
        var listings: Int
        var exclusions: Int
        /// Values expected in the value table (nil: not checked).
        var values: Int?
        var testDescription: String { "\(file) as \(type)\(countAsValue ? " --count-as-value" : "")" }
    }

    static let lists: [List] = [
        List(file: "dnsbl-1.uceprotect.net.rbldnsd", type: "ip4set", listings: 50_294, exclusions: 4, values: 2),
        List(file: "dnsbl-2.uceprotect.net.rbldnsd", type: "ip4set", listings: 7_850, exclusions: 10_733),
        List(file: "fullbogons-ipv6.txt", type: "ip6trie", listings: 143_544, exclusions: 0, values: 1),
        List(file: "spamhaus-drop.txt", type: "ip4set", listings: 989, exclusions: 0, values: 1),
        List(file: "spamhaus-dropv6.txt", type: "ip6trie", listings: 91, exclusions: 0, values: 1),
        List(file: "ipv6-bogons.txt", type: "ip6trie", listings: 20, exclusions: 0, values: 1),
        List(file: "ipsum.txt", type: "ip4set", listings: 120_430, exclusions: 0, values: 10),
        List(file: "ipsum.txt", type: "ip4set", countAsValue: true, listings: 120_430, exclusions: 0, values: 10),
    ]

    @Test(arguments: lists)
    func compilesWithExpectedCounts(_ list: List) throws {
        let dir = try #require(realdataDirectory())
        var o = CompileOptions(); o.countAsValue = list.countAsValue
        let r = Compiler.compile([ZoneSpec(zone: "bl.example", type: list.type, files: [dir + "/" + list.file])], options: o)
        #expect(!r.hasErrors, "\(r.diagnostics.prefix(5))")
        let d = try #require(r.zones.first?.datasets.first)
        #expect(d.entries.filter { !$0.isExclusion }.count == list.listings)
        #expect(d.entries.filter { $0.isExclusion }.count == list.exclusions)
        if let n = list.values { #expect(d.values.count == n) }
        // Host bits, bad lines: none in these published files.
        #expect(!r.diagnostics.contains { $0.code == .hostBits || $0.code == .syntax })
        if list.countAsValue {
            #expect(Set(d.values.map(\.a)) == Set((1...10).map { 0x7F00_0000 | UInt32($0) }))
            #expect(d.values.allSatisfy { $0.txt == nil })
        } else if list.file == "ipsum.txt" {
            #expect(d.values.allSatisfy { $0.a == 0x7F00_0002 && $0.txt != nil })
        }
    }

    @Test
    func uceprotectValuesAndTestPoints() throws {
        let dir = try #require(realdataDirectory())
        let r = Compiler.compile([ZoneSpec(zone: "dnsbl-2.example", type: "ip4set",
                                           files: [dir + "/dnsbl-2.uceprotect.net.rbldnsd"])])
        let z = try #require(r.zones.first)
        #expect(z.soa.serial == 2026070518 && z.soa.minimum == 120)
        #expect(z.soa.mname == Array("\u{d}dnsbl-mirrors\u{a}uceprotect\u{3}net\u{0}".utf8))
        let d = try #require(z.datasets.first)
        // The test record keeps its own TXT; its trailing space is trimmed.
        let test = try #require(d.entries.first { $0.address == 0x7F00_0002 && $0.prefixLength == 32 })
        #expect(d.values[Int(test.value)].txt == Array("Test Record. UCEPROTECT.NET LEVEL 2 List is active".utf8))
        // Every TXT is trimmed.
        #expect(d.values.allSatisfy { v in v.txt.map { $0.last != 0x20 && $0.first != 0x20 } ?? true })
    }

    /// Sampled addresses (each sampled entry's first and last address, one past each end, one
    /// inside) answered by the store match the linear-scan reference.
    @Test(arguments: lists)
    func sampledLookupsAgreeWithLinearScan(_ list: List) throws {
        let dir = try #require(realdataDirectory())
        var o = CompileOptions(); o.countAsValue = list.countAsValue
        let r = Compiler.compile([ZoneSpec(zone: "bl.example", type: list.type, files: [dir + "/" + list.file])], options: o)
        let d = try #require(r.zones.first?.datasets.first)
        let store = try Store(zones: r.zones)
        let sd = try #require(store.zones.first?.datasets.first)
        var rng = SplitMix64(seed: 0x5EED_0000 ^ UInt64(list.listings))
        let bits = d.family.bits
        let keys = sampleKeys(d, entries: 400, using: &rng)
        // The reference: one linear scan over every parsed entry, keeping for each sampled key
        // the deciding entry (longest prefix; at equal length the exclusion, then the first).
        var best = [Int](repeating: -1, count: keys.count)
        // ip4set: per key and bucket level (/32, /24, /16, /8: rbldnsd's octet buckets) the
        // entries covering it; the finest level with any decides.
        var levels = [[[Int]]](repeating: [[], [], [], []], count: d.type == "ip4set" ? keys.count : 0)
        for (i, e) in d.entries.enumerated() {
            let host = bits - Int(e.prefixLength)
            let last = e.address | (host >= 128 ? .max : (UInt128(1) << UInt128(host)) - 1)
            var lo = 0, hi = keys.count
            while lo < hi { let m = (lo + hi) / 2; if keys[m] < e.address { lo = m + 1 } else { hi = m } }
            var k = lo
            while k < keys.count && keys[k] <= last {
                if !levels.isEmpty {
                    levels[k][e.prefixLength > 24 ? 0 : e.prefixLength > 16 ? 1 : e.prefixLength > 8 ? 2 : 3].append(i)
                }
                if best[k] < 0 { best[k] = i } else {
                    let b = d.entries[best[k]]
                    if e.prefixLength > b.prefixLength || (e.prefixLength == b.prefixLength && e.isExclusion && !b.isExclusion) {
                        best[k] = i
                    }
                }
                k += 1
            }
        }
        var mismatches: [String] = []
        for (k, key) in keys.enumerated() {
            let idx = sd.table.value(at: key)
            let got: Set<ListingValue> = idx < 0 ? [] : Set(StoreValue.run(sd.values, at: Int(idx)).map {
                ListingValue(a: $0.a, txt: $0.txt.map { Array($0) })
            })
            let want: Set<ListingValue>
            if d.type == "ip4set" {
                let hits = levels[k].first { !$0.isEmpty } ?? []
                want = hits.contains { d.entries[$0].isExclusion } ? [] : Set(hits.map { d.values[Int(d.entries[$0].value)] })
            } else {
                want = best[k] < 0 || d.entries[best[k]].isExclusion ? [] : [d.values[Int(d.entries[best[k]].value)]]
            }
            if want != got { mismatches.append("\(key): want \(want) got \(got)") }
        }
        #expect(keys.count >= min(1000, d.entries.count * 2))
        #expect(mismatches.isEmpty, "seed-based sample: \(mismatches.prefix(5))")
    }
}
