import Testing
import Foundation
import PrefixStore
@testable import ZoneSource
import TestSupport

/// `compile(dump(store))` answers exactly like `store`: the same zones, SOA, NS, TTLs and, per
/// dataset, the same listed ranges with the same A and TXT.
struct RoundTripTests {
    /// A dataset's answers: listed ranges with resolved values (every value of an ip4set value
    /// run, as a set), adjacent equal ones merged.
    static func answers(_ d: StoreDataset) -> [(UInt128, UInt128, [String])] {
        var out: [(UInt128, UInt128, [String])] = []
        for r in d.table.ranges() {
            let vals = Set(StoreValue.run(d.values, at: Int(r.value)).map { v in
                "\(v.a) " + (v.txt.map { String(decoding: Array($0), as: UTF8.self) } ?? "-")
            }).sorted()
            if let l = out.last, l.1 &+ 1 == r.first, l.2 == vals {
                out[out.count - 1].1 = r.last
            } else {
                out.append((r.first, r.last, vals))
            }
        }
        return out
    }

    /// Dumps `store`, compiles the sections again, and compares; returns the first difference.
    static func roundTrip(_ store: Store) throws -> String? {
        let dir = TempDir()
        let sections = SourceDump.sections(store)
        var specs: [ZoneSpec] = []
        for (i, s) in sections.enumerated() {
            specs.append(ZoneSpec(zone: s.zone, type: s.type, files: [dir.write("\(i).\(s.type)", s.text)]))
        }
        var o = CompileOptions(); o.force = true
        let r = Compiler.compile(specs, options: o)
        if r.hasErrors { return "recompile failed: \(r.diagnostics.prefix(3))" }
        let again = try Store(zones: r.zones)
        guard again.zones.count == store.zones.count else { return "zone count" }
        for (z1, z2) in zip(store.zones, again.zones) {
            if z1.name != z2.name || z1.soa != z2.soa || z1.ns != z2.ns || z1.nsTTL != z2.nsTTL {
                return "zone header of \(z1.name)"
            }
            guard z1.datasets.count == z2.datasets.count else { return "dataset count" }
            for (d1, d2) in zip(z1.datasets, z2.datasets) {
                if d1.ttl != d2.ttl || d1.family != d2.family || d1.created != d2.created || d1.expires != d2.expires {
                    return "dataset header of \(d1.name)"
                }
                let a1 = answers(d1), a2 = answers(d2)
                if a1.count != a2.count { return "\(d1.name): \(a1.count) ranges vs \(a2.count)" }
                for (x, y) in zip(a1, a2) where x.0 != y.0 || x.1 != y.1 || x.2 != y.2 {
                    return "\(d1.name): range \(x.0)-\(x.1) differs"
                }
            }
        }
        return nil
    }

    @Test func bundledZoneRoundTrips() throws {
        let r = BundledZoneTests.compileBundled()
        #expect(try Self.roundTrip(try Store(zones: r.zones)) == nil)
    }

    @Test func valuesTemplatesAndTimestampsRoundTrip() throws {
        var o = CompileOptions(); o.now = 1_800_000_000
        let r = compileTexts([
            ("bl.example", "ip4set", ["$SOA 60 ns1.example.net hostmaster.example.org 5 1 2 3 4\n$NS 90 ns1.example.net ns2.example.net\n$TTL 77\n$TIMESTAMP 2020:02:29:12:30 2030:01:01\n:127.0.0.3:Dollar $$ and $\n192.0.2.0/24\n!192.0.2.128/26\n192.0.2.130 :4:\n198.51.100.1 =text with = $\n"]),
            ("bl.example", "ip6tset", [":127.0.0.9:six $\n2001:db8:0:1\n2001:db8:0:2\n!2001:db8:0:1::5\n"]),
            ("other.example", "ip6trie", ["2001:db8::/33 :127.0.0.2:a\n2001:db8:8000::/33 :127.0.0.2:b\n"]),
        ], options: o)
        #expect(!r.hasErrors, "\(r.diagnostics)")
        #expect(try Self.roundTrip(try Store(zones: r.zones)) == nil)
    }

    @Test(arguments: RealDataTests.lists)
    func realFilesRoundTrip(_ list: RealDataTests.List) throws {
        let dir = try #require(realdataDirectory())
        var o = CompileOptions(); o.countAsValue = list.countAsValue
        let r = Compiler.compile([ZoneSpec(zone: "bl.example", type: list.type, files: [dir + "/" + list.file])], options: o)
        #expect(!r.hasErrors)
        let image = try StoreBuilder.encode(r.zones)
        #expect(try Self.roundTrip(try Store(bytes: image.bytes)) == nil)
    }
}

/// Equal-prefix conflicts reported by the store builder come back as warnings naming both lines.
struct ConflictTests {
    @Test func equalPrefixConflictNamesBothLines() throws {
        let dir = TempDir()
        let r = compileTexts([("bl.example", "ip6trie", ["# x\n2001:db8::/32 :127.0.0.3:first\n2001:db8::/48\n2001:db8::/32 :127.0.0.4:second\n"])], dir: dir)
        let image = try StoreBuilder.encode(r.zones)
        let d = Compiler.conflictDiagnostics(image.conflicts, origins: r.origins, strict: false)
        let f = dir.path + "/f1.txt"
        #expect(d.map(\.description) == ["\(f):4: warning: same prefix as \(f):2 with a different decision; \(f):2 wins"])
        let strict = Compiler.conflictDiagnostics(image.conflicts, origins: r.origins, strict: true)
        #expect(strict.allSatisfy { $0.severity == .error })
    }

    @Test func originsMapAcrossFiles() throws {
        let dir = TempDir()
        let r = compileTexts([("bl.example", "ip4trie", ["192.0.2.1\n", "\n\n192.0.2.1 :3\n"])], dir: dir)
        let image = try StoreBuilder.encode(r.zones)
        let d = Compiler.conflictDiagnostics(image.conflicts, origins: r.origins, strict: false)
        #expect(d.map(\.description) == ["\(dir.path)/f2.txt:3: warning: same prefix as \(dir.path)/f1.txt:1 with a different decision; \(dir.path)/f1.txt:1 wins"])
    }
}
