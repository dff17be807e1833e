import Foundation
import Testing
@testable import DNSBL
import DNSWire
import PrefixStore
import LDNSKit
import ZoneSource
import TestSupport

// aclkey: keys in the query name (the rspamd fork's `aclkey`), compiled by ZoneSource and
// answered by the Responder (DNSBL.docc/ZoneDataAnswers.md, "Keys in the query name").

@Suite struct AclKeyAnswerTests {
    static let list = soaLines + ":127.0.0.2:Listed $\n192.0.2.0/24\n2001:db8::/32\n"
    static let keys = """
        barekey
        :ignore
        goodkey :pass
        quietkey :ignore
        nokey =refuse
        emptykey:empty
        forcedkey :127.0.0.9:Forced for $
        textkey Text only
        MixedCase :pass

        """
    let s: Served
    init() throws { s = try Served([("bl.example", "ip4set", Self.list), ("bl.example", "ip6trie", Self.list),
                                    ("bl.example", "aclkey", Self.keys)]) }

    func outcome(_ name: String, _ type: UInt16 = DNSType.a) -> AnswerOutcome {
        let q = query(name, type)
        var buf = [UInt8](repeating: 0, count: 65535)
        return q.withUnsafeBytes { qp in buf.withUnsafeMutableBytes { s.responder.respond(to: qp, transport: .udp, into: $0) } }
    }

    @Test func eachAction() throws {
        expectA(try s.must(name4("192.0.2.1", "goodkey.bl.example")), [code(2)])
        expectTXT(try s.must(name4("192.0.2.1", "goodkey.bl.example"), DNSType.txt), ["Listed 192.0.2.1"])
        expectA(try s.must(name6("2001:db8::1", "goodkey.bl.example")), [code(2)])
        expectNX(try s.must(name4("198.51.100.1", "goodkey.bl.example")))
        // A partial address under the key is an empty non-terminal (RFC 8020).
        expectNODATA(try s.must("2.0.192.goodkey.bl.example"))
        // Keys match case-insensitively, whatever the case in the file or the query.
        expectA(try s.must(name4("192.0.2.1", "GoodKey.bl.example")), [code(2)])
        expectA(try s.must(name4("192.0.2.1", "mixedcase.bl.example")), [code(2)])
        // A bare key before the first default line passes.
        expectA(try s.must(name4("192.0.2.1", "barekey.bl.example")), [code(2)])
        #expect(try s.ask(name4("192.0.2.1", "quietkey.bl.example")) == nil)
        #expect(try s.must(name4("192.0.2.1", "nokey.bl.example")).rcode == 5)
        expectNX(try s.must(name4("192.0.2.1", "emptykey.bl.example")))
    }

    @Test func forcedAnswer() throws {
        // Every full address name is listed with the key's value, `$` = the client's address.
        expectA(try s.must(name4("198.51.100.1", "forcedkey.bl.example")), [code(9)])
        let p = try #require(try s.ask(name4("192.0.2.1", "forcedkey.bl.example"), DNSType.txt,
                                       from: ClientAddress(ipv4: v4("203.0.113.5"))))
        expectTXT(p, ["Forced for 203.0.113.5"])
        // Bare text: A 127.0.0.2 (the default is an action) with that TXT.
        expectA(try s.must(name4("198.51.100.1", "textkey.bl.example")), [code(2)])
    }

    @Test func unknownKeysAndNamesWithoutAKey() throws {
        // The default (:ignore) for a label that is no key, and for a name without one (its
        // right-most label below the apex takes the key's place).
        #expect(try s.ask(name4("192.0.2.1", "wrongkey.bl.example")) == nil)
        #expect(try s.ask(name4("192.0.2.1")) == nil)
        #expect(try s.ask("wrongkey.bl.example") == nil)
        let o = outcome(name4("192.0.2.1", "wrongkey.bl.example"))
        #expect(o.length == 0 && o.keyState == .unknown)
        let k = outcome(name4("192.0.2.1", "goodkey.bl.example"))
        #expect(k.keyState == .known && k.keyOrdinal > 0 && k.keyOrdinal < Int32(s.responder.keyCount))
        // The key's offset in the query: after the 4 address labels (header 12 + 10 bytes).
        #expect(k.keyOffset == 12 + 10)
    }

    @Test func apexNSAndSOAAreExempt() throws {
        #expect(try s.must("bl.example", DNSType.soa).ancount == 1)
        #expect(try s.must("bl.example", DNSType.ns).ancount == 2)
        expectNODATA(try s.must("bl.example", DNSType.a))
        // NS and SOA below the apex get no key action, even with the default :ignore.
        expectNX(try s.must(name4("192.0.2.1", "wrongkey.bl.example"), DNSType.soa))
        // A known key alone is an empty non-terminal: NODATA, SOA of the real apex.
        expectNODATA(try s.must("goodkey.bl.example"))
        expectNODATA(try s.must("goodkey.bl.example", DNSType.soa))
        expectNODATA(try s.must("2.0.192.goodkey.bl.example", DNSType.ns))
        #expect(outcome("bl.example", DNSType.soa).keyState == .none)
    }

    @Test func aPolicyAnswerForUnknownKeys() throws {
        let s = try Served([("bl.example", "ip4set", Self.list),
                            ("bl.example", "aclkey", ":127.255.255.254:Unknown key, see https://www.example/dqs\ngoodkey :pass\n")])
        expectA(try s.must(name4("192.0.2.1", "goodkey.bl.example")), [code(2)])
        expectA(try s.must(name4("198.51.100.1", "wrongkey.bl.example")), [v4("127.255.255.254")])
        expectTXT(try s.must(name4("192.0.2.1", "wrongkey.bl.example"), DNSType.txt), ["Unknown key, see https://www.example/dqs"])
        expectA(try s.must(name4("192.0.2.1")), [v4("127.255.255.254")])
        // The forced answer of a key answers every name below the apex (as the rspamd fork).
        expectA(try s.must("2.0.192.wrongkey.bl.example"), [v4("127.255.255.254")])
        // NS and SOA get no action: the name is answered as it is.
        expectNX(try s.must("wrongkey.bl.example", DNSType.soa))
    }

    @Test func aKeyOnAZoneWithoutAclkeyIsAnOrdinaryLabel() throws {
        let s = try Served([("bl.example", "ip4set", Self.list), ("other.example", "ip4set", Self.list),
                            ("bl.example", "aclkey", ":ignore\ngoodkey :pass\n")])
        expectNegative(try s.must(name4("192.0.2.1", "goodkey.other.example"), DNSType.a), nx: true, apex: "other.example")
        #expect(try s.must(name4("192.0.2.1", "other.example")).rcode == 0)
    }

    @Test func combinedSubzonesSitBelowTheKey() throws {
        let s = try Served([("bl.example", "combined", CombinedTests.combined + "\n$DATASET aclkey @\n:refuse\ngoodkey :pass\n")])
        expectA(try s.must(name4("192.0.2.10", "proxies.goodkey.bl.example")), [code(2)])
        expectA(try s.must(name4("192.0.2.10", "goodkey.bl.example")), [code(2), code(3)])
        expectA(try s.must("www.relays.goodkey.bl.example"), [v4("192.0.2.81")])
        expectNODATA(try s.must("proxies.goodkey.bl.example", DNSType.soa))
        // The key sits below the base apex: a name under a subzone without one is unknown.
        #expect(try s.must(name4("192.0.2.10", "goodkey.proxies.bl.example")).rcode == 5)
        #expect(try s.must(name4("192.0.2.10", "proxies.bl.example")).rcode == 5)
        #expect(try compileErrors([("bl.example", "combined", "$DATASET aclkey sub\ngoodkey\n")]).count == 1)
    }

    @Test func clientACLAndKeysCombineTheMoreSevereWins() throws {
        let s = try Served([("bl.example", "ip4set", Self.list),
                            ("bl.example", "acl", "192.0.2.0/24 :empty\n198.51.100.0/24 :pass\n"),
                            ("bl.example", "aclkey", ":ignore\ngoodkey :pass\nnokey :refuse\n")])
        let listedClient = ClientAddress(ipv4: v4("192.0.2.5")), other = ClientAddress(ipv4: v4("198.51.100.5"))
        expectA(try s.must(name4("192.0.2.1", "goodkey.bl.example"), from: other), [code(2)])
        expectNX(try s.must(name4("192.0.2.1", "goodkey.bl.example"), from: listedClient))
        #expect(try s.must(name4("192.0.2.1", "nokey.bl.example"), from: listedClient).rcode == 5)
        #expect(try s.ask(name4("192.0.2.1", "wrongkey.bl.example"), from: other) == nil)
    }
}

@Suite struct AclKeyParserTests {
    func dataset(_ text: String) throws -> (DatasetInput, [Diagnostic]) {
        let r = compileSpecs([("bl.example", "ip4set", soaLines + "192.0.2.1\n"), ("bl.example", "aclkey", text)])
        #expect(!r.hasErrors, "\(r.diagnostics)")
        let d = try #require(r.zones.first?.datasets.first { $0.type == "aclkey" })
        return (d, r.diagnostics)
    }

    func value(_ d: DatasetInput, _ key: String) -> ListingValue? {
        guard let e = d.entries.first(where: { $0.address == AclKey.hash(key) }) else { return nil }
        #expect(e.prefixLength == 128)
        return d.values[Int(e.value)]
    }

    @Test func syntax() throws {
        let (d, _) = try dataset("""
            # comment
            bare
            =refuse
            a :pass
            b=accept
            c:blackhole
            d :empty
            e :5
            f :127.0.0.7:Seven $
            g free text
            h
            $TTL 600

            """)
        #expect(d.family == .ipv6 && d.type == "aclkey" && d.ttl == 600)
        #expect(d.values[0] == ListingValue(a: ACLAction.refuse.rawValue, txt: nil))  // the default
        #expect(value(d, "bare") == ListingValue(a: ACLAction.pass.rawValue, txt: nil))
        #expect(value(d, "a") == ListingValue(a: ACLAction.pass.rawValue, txt: nil))
        #expect(value(d, "B") == ListingValue(a: ACLAction.pass.rawValue, txt: nil))
        #expect(value(d, "c") == ListingValue(a: ACLAction.ignore.rawValue, txt: nil))
        #expect(value(d, "d") == ListingValue(a: ACLAction.empty.rawValue, txt: nil))
        #expect(value(d, "e") == ListingValue(a: 0x7F00_0005, txt: nil))
        #expect(value(d, "f") == ListingValue(a: 0x7F00_0007, txt: Array("Seven $".utf8)))
        #expect(value(d, "g") == ListingValue(a: 0x7F00_0002, txt: Array("free text".utf8)))
        #expect(value(d, "h") == ListingValue(a: ACLAction.refuse.rawValue, txt: nil))  // bare after a default
        #expect(value(d, "nosuch") == nil)
        #expect(d.entries.count == 9)
        // Each key has a value of its own (its ordinal for the per-key counters).
        #expect(Set(d.entries.map(\.value)).count == 9 && !d.entries.contains { $0.value == 0 })
    }

    @Test func aRepeatedKeyTakesItsLastValue() throws {
        let (d, _) = try dataset("k :pass\nk :refuse\n")
        #expect(d.entries.count == 1)
        #expect(value(d, "k") == ListingValue(a: ACLAction.refuse.rawValue, txt: nil))
    }

    @Test func aFileWithoutDefaultIgnoresUnknownKeys() throws {
        let (d, _) = try dataset("k\n")
        #expect(d.values[0] == ListingValue(a: ACLAction.ignore.rawValue, txt: nil))
        #expect(value(d, "k") == ListingValue(a: ACLAction.pass.rawValue, txt: nil))
    }

    /// What the rspamd fork does with these lines: a keyword ends at `:`, a blank or a
    /// comment and the rest of the line is ignored (accepted, no warning); `:0` is its
    /// "invalid A RR" (skipped), not an address outside 127.0.0.0/8.
    @Test func trailingTextAfterAKeywordAndAZeroAnswerAsTheFork() throws {
        let (d, diags) = try dataset("k4 :refuse:txt\nk5=ignore extra\nk7 :pass # why\nk6 :0\nk8 :0.0.0.0\n")
        #expect(value(d, "k4") == ListingValue(a: ACLAction.refuse.rawValue, txt: nil))
        #expect(value(d, "k5") == ListingValue(a: ACLAction.ignore.rawValue, txt: nil))
        #expect(value(d, "k7") == ListingValue(a: ACLAction.pass.rawValue, txt: nil))
        #expect(value(d, "k6") == nil && value(d, "k8") == nil)
        let skips = diags.filter { $0.severity == .warning && $0.message.hasSuffix("; line skipped") }
        #expect(skips.map { $0.line! } == [4, 5], "\(diags)")
        #expect(skips.allSatisfy { $0.message.contains("invalid aclkey A value") && !$0.message.contains("outside") }, "\(diags)")
        #expect(skips.first?.message.contains("'0': 127.0.0.0 is not an answer address") == true, "\(diags)")
        #expect(d.skippedLines == 2)
    }

    @Test func badLinesAreSkippedWithFileAndLine() throws {
        let text = """
            good :pass
            =nosuch
            k1 :999
            k2 :10.0.0.1:not loopback
            \(String(repeating: "x", count: 64)) :pass
            dotted.key :pass
            $SOA 3600 ns1.bl.example hostmaster.example.org 1 7200 900 604800 300
            k3 :pass

            """
        let (d, diags) = try dataset(text)
        let skips = diags.filter { $0.severity == .warning && $0.message.hasSuffix("; line skipped") }
        #expect(skips.count == 6, "\(diags)")
        #expect(skips.allSatisfy { $0.file?.hasSuffix("f1.txt") == true && $0.line != nil })
        #expect(skips.map { $0.line! } == [2, 3, 4, 5, 6, 7])
        #expect(d.skippedLines == 6)
        #expect(d.entries.count == 2)
        // --strict refuses the same file.
        let dir = TempDir()
        let specs = [ZoneSpec(zone: "bl.example", type: "ip4set", files: [dir.write("l", soaLines + "192.0.2.1\n")]),
                     ZoneSpec(zone: "bl.example", type: "aclkey", files: [dir.write("k", text)])]
        var o = CompileOptions(strict: true)
        o.strictLinesOnly = true
        let strict = withExtendedLifetime(dir) { Compiler.compile(specs, options: o) }
        #expect(strict.hasErrors)
    }

    @Test func theStoreHoldsHashesOnly() throws {
        let r = compileSpecs([("bl.example", "ip4set", soaLines + "192.0.2.1\n"), ("bl.example", "aclkey", "secretkey123 :pass\n")])
        let bytes = try StoreBuilder.encode(r.zones).bytes
        #expect(!String(decoding: bytes, as: UTF8.self).contains("secretkey123"))
        let store = try Store(zones: r.zones)
        let d = try #require(store.zones.first?.datasets.first { $0.rule == .keyInQName })
        #expect(d.table.value(at: AclKey.hash("SecretKey123")) == 1)
        #expect(d.type == "aclkey" && d.family == .ipv6 && d.rule.isAccessControl && !d.rule.matchesClient)
    }

    @Test func hashIsCaseInsensitiveAndSeparatesKeys() {
        #expect(AclKey.hash("abc") == AclKey.hash("ABC"))
        #expect(AclKey.hash("abc") != AclKey.hash("abd"))
        #expect(AclKey.hash("") != AclKey.hash("a"))
        #expect(AclKey.hash(String(repeating: "k", count: 8)) != AclKey.hash(String(repeating: "k", count: 9)))
    }
}

@Suite struct AclKeyAllocationTests {
    /// The malloc gate: keyed queries (each action, the forced answer, an unknown key, a name
    /// without a key, a key in front of a `combined` subzone) allocate nothing.
    @Test func keyedQueriesAllocateNothing() throws {
        let count = try #require(threadMallocCount, mallocCounterMissing)
        let s = try Served([("bl.example", "combined", CombinedTests.combined + """

            $DATASET aclkey @
            :127.255.255.254:Unknown key
            goodkey :pass
            nokey :refuse
            emptykey :empty
            forcedkey :127.0.0.9:Forced for $

            """)])
        let queries: [([UInt8], Transport)] = [
            (query(name4("192.0.2.10", "goodkey.bl.example"), DNSType.a), .udp),
            (query(name4("192.0.2.10", "goodkey.bl.example"), DNSType.txt), .tcp),
            (query(name4("192.0.2.10", "proxies.goodkey.bl.example"), DNSType.txt), .udp),
            (query(name4("192.0.2.10", "GoodKey.bl.example"), DNSType.any), .udp),
            (query(name4("192.0.2.10", "nokey.bl.example"), DNSType.a), .udp),
            (query(name4("192.0.2.10", "emptykey.bl.example"), DNSType.a), .udp),
            (query(name4("198.51.100.1", "forcedkey.bl.example"), DNSType.txt), .udp),
            (query(name4("192.0.2.10", "wrongkey.bl.example"), DNSType.txt), .udp),
            (query(name4("192.0.2.10"), DNSType.a), .udp),
            (query("goodkey.bl.example", DNSType.soa), .udp),
            (query("bl.example", DNSType.soa), .udp),
        ]
        try AllocationTests().expectNoAllocations(s.responder, queries, count)
    }
}
