import Testing
import PrefixStore
@testable import ZoneSource

/// Cases from real bug reports (../shared/cases/README.md), answered offline from the store.
struct CaseTests {
    /// C6 — a broad exclusion does not beat a more specific listing inside it (longest prefix:
    /// `ip4trie`, `ip6trie`). In `ip4set`, rbldnsd's bucket rule makes `!192.0.2.128/25` and
    /// `192.0.2.200` both /32 buckets, where the exclusion wins: rbldnsd 1.0pre answers
    /// NXDOMAIN for 192.0.2.200, and so does prefixbl (case C25, the migration guide).
    @Test(arguments: ["ip4trie", "ip4set"])
    func c6BroadExclusionDoesNotBeatSpecificListing(_ v4type: String) throws {
        let store = try storeFor([
            ("bl.example", v4type, [
                "# v4 file 1\n!198.51.100.0/24\n",
                "# v4 file 2\n:127.0.0.2:Listed $\n198.51.100.7\n192.0.2.0/24\n!192.0.2.128/25\n192.0.2.200\n",
            ]),
            ("bl.example", "ip6trie", [
                "# v6 file 1\n!2001:db8:1::/48\n",
                "# v6 file 2\n:127.0.0.2:Listed $\n2001:db8::/32\n2001:db8:1:2::/64\n",
            ]),
        ])
        #expect(look(store, "198.51.100.7") == ["127.0.0.2 Listed 198.51.100.7"])
        #expect(look(store, "198.51.100.8") == [])
        #expect(look(store, "192.0.2.5") == ["127.0.0.2 Listed 192.0.2.5"])
        #expect(look(store, "192.0.2.130") == [])
        #expect(look(store, "192.0.2.200") == (v4type == "ip4trie" ? ["127.0.0.2 Listed 192.0.2.200"] : []))
        #expect(look(store, "2001:db8:1:2::1") == ["127.0.0.2 Listed 2001:db8:1:2::1"])
        #expect(look(store, "2001:db8:1:3::1") == [])
        #expect(look(store, "2001:db8:2::1") == ["127.0.0.2 Listed 2001:db8:2::1"])
    }

    /// C12 — the `::2` test entry with a value ending in .0; three spellings of one entry.
    @Test(arguments: ["::2", "::2/128", "0:0:0:0:0:0:0:2"])
    func c12TestEntryWithValueEndingInZero(_ spelling: String) throws {
        let store = try storeFor([("bl.example", "ip6trie", ["\(spelling) :127.0.10.0:test entry\n"])])
        #expect(look(store, "::2") == ["127.0.10.0 test entry"])
        #expect(look(store, "::3") == [])
    }

    /// C16 — rbldnsd's short IPv6 notations.
    @Test func c16ShortIPv6Notations() throws {
        let store = try storeFor([("bl.example", "ip6trie", [
            ":127.0.0.2:Listed $\n2001:db8:0:1\n2001:db8:c000/36\n!2001:db8:0:1::25\n",
        ])])
        #expect(look(store, "2001:db8:0:1::1") == ["127.0.0.2 Listed 2001:db8:0:1::1"])
        #expect(look(store, "2001:db8:0:1:ffff:ffff:ffff:ffff") == ["127.0.0.2 Listed 2001:db8:0:1:ffff:ffff:ffff:ffff"])
        #expect(look(store, "2001:db8:0:1::25") == [])
        #expect(look(store, "2001:db8:0:2::1") == [])
        #expect(look(store, "2001:db8:c000::1") == ["127.0.0.2 Listed 2001:db8:c000::1"])
        #expect(look(store, "2001:db8:cfff:ffff::1") == ["127.0.0.2 Listed 2001:db8:cfff:ffff::1"])
        #expect(look(store, "2001:db8:d000::1") == [])
    }

    /// C18 — nested prefixes with different values; A and TXT always agree.
    @Test func c18NestedPrefixesWithDifferentValues() throws {
        let store = try storeFor([("bl.example", "ip6trie", [
            "2001:db8::/32      :127.0.0.4:broad $\n2001:db8::a/128    :127.0.0.5:specific $\n",
        ])])
        #expect(look(store, "2001:db8::a") == ["127.0.0.5 specific 2001:db8::a"])
        #expect(look(store, "2001:db8::b") == ["127.0.0.4 broad 2001:db8::b"])
        #expect(look(store, "2001:db8:ffff::1") == ["127.0.0.4 broad 2001:db8:ffff::1"])
    }

    /// C23 — `$` renders the queried IPv6 address in RFC 5952 form; long text before `$` is kept.
    @Test func c23DollarRendersRFC5952() throws {
        let store = try storeFor([("bl.example", "ip6trie", [
            ":127.0.0.2:Listed, see https://bl.example/q?ip=$\n2001:db8:0:1::/64\n",
        ])])
        #expect(look(store, "2001:db8:0:1:0:0:0:abc") == ["127.0.0.2 Listed, see https://bl.example/q?ip=2001:db8:0:1::abc"])
        let long = String(repeating: "x", count: 250)
        let store2 = try storeFor([("bl.example", "ip6trie", [":127.0.0.2:\(long)$\n2001:db8:0:1::/64\n"])])
        #expect(look(store2, "2001:db8:0:1::abc") == ["127.0.0.2 \(long)2001:db8:0:1::abc"])
    }

    /// RFC 5782 §5 test points through IPv4 data, and the IPv6 mapped test point (AnswerRules, "Lookups per family").
    @Test func rfc5782TestPointsThroughIPv4Data() throws {
        let store = try storeFor([
            ("bl.example", "ip4set", [":127.0.0.2:Test $\n127.0.0.2\n!127.0.0.1\n"]),
            ("bl.example", "ip6trie", ["2001:db8::/32\n"]),
        ])
        #expect(look(store, "127.0.0.2") == ["127.0.0.2 Test 127.0.0.2"])
        #expect(look(store, "127.0.0.1") == [])
        #expect(look(store, "::ffff:7f00:2") == ["127.0.0.2 Test 127.0.0.2"])
    }
}

/// The guards (ZoneSource.docc/SourceSyntax.md, "Guards").
struct GuardTests {
    @Test func worldListingIsSkippedUnlessForced() {
        for (type, text) in [("ip4set", "0.0.0.0/0"), ("ip6trie", "::/0"), ("ip4set", "0.0.0.0-255.255.255.255")] {
            // Skipped with a warning (rbldnsd's ip4set skips it too; its tries list it).
            let r = compileTexts([("bl.example", type, [text + (type == "ip4set" ? "\n198.51.100.1\n" : "\n2001:db8::/32\n")])])
            #expect(!r.hasErrors && r.skippedLines == 1)
            #expect(r.diagnostics.contains { $0.code == .worldListing && $0.line == 1 && $0.severity == .warning })
            #expect(r.zones.first?.datasets.first?.entries.count == 1)
            var o = CompileOptions(); o.force = true
            let suffix = type == "ip4set" ? "\n!127.0.0.1\n" : "\n"
            let forced = compileTexts([("bl.example", type, [text + suffix])], options: o)
            #expect(!forced.hasErrors, "\(forced.diagnostics)")
        }
        // An exclusion of the world is fine.
        #expect(!compileTexts([("bl.example", "ip6trie", ["!::/0"])]).hasErrors)
    }

    @Test func listing127001IsRefusedUnlessForced() {
        let r = compileTexts([("bl.example", "ip4set", ["# x\n127.0.0.0/8\n"])])
        #expect(r.diagnostics.contains { $0.code == .testPointListed && $0.severity == .error && $0.line == 2 })
        let excluded = compileTexts([("bl.example", "ip4set", ["127.0.0.0/8\n!127.0.0.1\n"])])
        #expect(!excluded.hasErrors)
        var o = CompileOptions(); o.force = true
        let forced = compileTexts([("bl.example", "ip4set", ["127.0.0.0/8\n"])], options: o)
        #expect(!forced.hasErrors)
        #expect(forced.diagnostics.contains { $0.code == .testPointListed && $0.severity == .warning })
    }

    @Test func mappedTestPointWarnsOnlyWithoutIPv4Data() {
        let r = compileTexts([("bl.example", "ip6trie", ["::/8\n"])])
        #expect(!r.hasErrors)
        #expect(r.diagnostics.contains { $0.code == .mappedTestPoint && $0.line == 1 })
        let withV4 = compileTexts([("bl.example", "ip6trie", ["::/8\n"]), ("bl.example", "ip4set", ["192.0.2.1\n"])])
        #expect(!withV4.diagnostics.contains { $0.code == .mappedTestPoint })
    }

    @Test func mappedEntriesAreUnreachableWithIPv4Data() {
        let r = compileTexts([("bl.example", "ip6trie", ["2001:db8::/32\n::ffff:192.0.2.0/120\n"]),
                              ("bl.example", "ip4set", ["198.51.100.1\n"])])
        #expect(r.diagnostics.filter { $0.code == .mappedUnreachable }.map(\.line) == [2])
    }

    @Test func valuesOutside127AndPolicyCodesAreSkipped() {
        let r = compileTexts([("bl.example", "ip4set", [":10.0.0.2:x\n192.0.2.1 :127.255.255.1:p\n192.0.2.2\n"])])
        #expect(r.diagnostics.filter { $0.severity == .warning && $0.code != .noSOA }.map(\.code) == [.valueOutOfRange, .reservedValue])
        #expect(!r.hasErrors && r.skippedLines == 2)
        // The default line was skipped: 192.0.2.2 gets the built-in default.
        #expect(r.zones.first?.datasets.first?.entries.count == 1)
        var o = CompileOptions(); o.strict = true
        #expect(compileTexts([("bl.example", "ip4set", [":10.0.0.2:x\n192.0.2.2\n"])], options: o).hasErrors)
    }

    @Test func hostBitsWarnAndSkip() {
        let (entries, diags) = parseOne("ip6trie", "2001:db8::1/32\n2001:db8::/32\n")
        #expect(entries == ["2001:db8::/32 127.0.0.2"])
        #expect(diags.map(\.code) == [.hostBits])
        var o = CompileOptions(); o.strict = true
        let strict = compileTexts([("bl.example", "ip6trie", ["$SOA 60 a.example b.example 1 1 1 1 1\n2001:db8::1/32\n"])], options: o)
        #expect(strict.hasErrors && strict.zones.isEmpty)
    }

    @Test func inZoneNSWithoutAddressWarns() {
        let r = compileTexts([("bl.example", "ip4set", ["$SOA 60 ns1.bl.example b.example 1 1 1 1 1\n$NS 60 ns1.bl.example ns.example.net\n192.0.2.1\n"])])
        let w = r.diagnostics.filter { $0.code == .nsWithoutAddress }
        #expect(w.count == 1 && w.first?.line == 2)
    }

    @Test func maxRange4SkipsLargeEntries() {
        let (entries, diags) = parseOne("ip4set", "$MAXRANGE4 /24\n192.0.2.0/24\n198.51.100.0/23\n$MAXRANGE4 1024\n")
        #expect(entries == ["192.0.2.0/24 127.0.0.2"])
        #expect(diags.map(\.code) == [.maxRange, .special])
    }

    @Test func timestampInTheFutureIsRefused() {
        var o = CompileOptions(); o.now = 1_700_000_000
        let r = compileTexts([("bl.example", "ip4set", ["$TIMESTAMP 2030:01:01\n192.0.2.1\n"])], options: o)
        #expect(r.diagnostics.contains { $0.code == .timestamp && $0.severity == .error })
        let ok = compileTexts([("bl.example", "ip4set", ["$TIMESTAMP 2023-01-01 +1w\n192.0.2.1\n"])], options: o)
        #expect(ok.zones.first?.datasets.first?.created == 1_672_531_200)
        #expect(ok.zones.first?.datasets.first?.expires == 1_672_531_200 + 604_800)
        #expect(ok.diagnostics.contains { $0.code == .timestamp && $0.severity == .warning })
    }
}
