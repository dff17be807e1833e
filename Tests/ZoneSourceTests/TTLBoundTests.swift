import Testing
import PrefixStore
@testable import ZoneSource

/// RFC 2181 §8: a TTL is 0…2^31−1 and a resolver takes a value with the top bit set as 0. rbldnsd
/// serves `$TTL 4294967295` as given, so the list is effectively uncached; the compiler warns
/// with file:line and clamps every such TTL to 2147483647.
struct TTLBoundTests {
    static let soa = "$SOA 3600 ns1.bl.example hostmaster.example.org 1 3600 600 604800 300"

    func ttlWarnings(_ r: CompileResult) -> [Diagnostic] { r.diagnostics.filter { $0.code == .ttlTooLarge } }

    @Test(arguments: [(UInt32(4_294_967_295), true), (2_147_483_648, true), (2_147_483_647, false), (2100, false)])
    func datasetTTLAtAndAboveTheLimit(_ ttl: UInt32, _ clamped: Bool) throws {
        let r = compileTexts([("bl.example", "ip4set", [Self.soa + "\n$TTL \(ttl)\n192.0.2.1\n"])])
        let d = try #require(r.zones.first?.datasets.first)
        #expect(d.ttl == (clamped ? 2_147_483_647 : ttl))
        let w = ttlWarnings(r)
        #expect(w.count == (clamped ? 1 : 0), "\(r.diagnostics)")
        if clamped, let w = w.first {
            #expect(w.severity == .warning && w.line == 2 && w.file?.hasSuffix("f1.txt") == true)
            #expect(w.description.hasSuffix(":2: warning: $TTL \(ttl) is 2^31 or more; clamped to 2147483647 (RFC 2181 §8: resolvers take a TTL with the top bit set as 0, so the answers would not be cached)"))
        }
        #expect(!r.hasErrors)
    }

    @Test func soaAndNSTTLsAreClampedWhereTheyAreRead() throws {
        let text = "$SOA 4294967295 ns1.example.net hostmaster.example.org 1 3600 600 604800 300\n" +
            "$NS 3000000000 ns1.example.net\n192.0.2.1\n"
        let r = compileTexts([("bl.example", "ip4set", [text])])
        let z = try #require(r.zones.first)
        #expect(z.soa.ttl == 2_147_483_647)
        #expect(z.nsTTL == 2_147_483_647)
        #expect(z.datasets.first?.ttl == 2100)
        #expect(ttlWarnings(r).map(\.line) == [1, 2], "\(r.diagnostics)")
        #expect(ttlWarnings(r).map { $0.message.prefix(24) } == ["$SOA TTL 4294967295 is 2", "$NS TTL 3000000000 is 2^"])
    }

    @Test func genericRecordTTLIsClamped() throws {
        let r = compileTexts([("bl.example", "generic", [Self.soa + "\n@ 4294967295 A 127.0.0.2\nwww 60 TXT fine\n"])])
        let z = try #require(r.zones.first)
        #expect(z.records.map(\.ttl).sorted() == [60, 2_147_483_647])
        #expect(ttlWarnings(r).map(\.line) == [2], "\(r.diagnostics)")
        #expect(ttlWarnings(r).first?.message.hasPrefix("record TTL 4294967295 is 2^31 or more") == true)
    }

    @Test func defaultTTLOptionIsClampedWithAWarningWithoutFile() throws {
        var o = CompileOptions()
        o.defaultTTL = .max
        let r = compileTexts([("bl.example", "ip4set", [Self.soa + "\n192.0.2.1\n"])], options: o)
        #expect(r.zones.first?.datasets.first?.ttl == 2_147_483_647)
        let w = ttlWarnings(r)
        #expect(w.count == 1 && w.first?.file == nil && w.first?.line == nil, "\(r.diagnostics)")
        #expect(w.first?.description == "warning: default TTL 4294967295 is 2^31 or more; clamped to 2147483647 (RFC 2181 §8: resolvers take a TTL with the top bit set as 0)")
    }

    @Test func strictMakesTheClampAnError() {
        let r = compileTexts([("bl.example", "ip4set", [Self.soa + "\n$TTL 4294967295\n192.0.2.1\n"])],
                             options: CompileOptions(strict: true))
        #expect(ttlWarnings(r).map(\.severity) == [.error])
        #expect(r.hasErrors)
    }

    /// `--default-ttl` (rbldnsd `-t DEFTTL`) reaches the sections of `combined` data without
    /// `$TTL`, as it does plain datasets (it used to stay 2100 there).
    @Test func defaultTTLReachesCombinedSections() throws {
        var o = CompileOptions()
        o.defaultTTL = 30
        let text = Self.soa + "\n$DATASET ip4set:v4 @\n192.0.2.1\n$DATASET generic:g @\nwww A 127.0.0.2\n"
        let r = compileTexts([("bl.example", "combined", [text])], options: o)
        let z = try #require(r.zones.first, "\(r.diagnostics)")
        #expect(z.datasets.map(\.ttl) == [30])
        #expect(z.records.map(\.ttl) == [30])
    }
}
