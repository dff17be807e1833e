import Testing
import TestSupport
import DNSWire
import PrefixStore
import LDNSKit
@testable import DNSBL

// The answer rules (Sources/DNSBL.docc/AnswerRules.md), one test per rule, named after the RFC section (or
// the article's section) it checks.

@Suite("Answer rules")
struct AnswerRuleTests {
    static func mixed() throws -> Responder {
        try responder([zone([
            try dataset(.ipv4, """
                :127.0.0.2:Listed $
                127.0.0.2
                192.0.2.0/25
                """),
            try dataset(.ipv6, """
                :127.0.0.3:Six $
                ::2
                2001:db8::/48
                """),
        ])])
    }

    @Test func rfc5782_5_ipv4TestPoints() throws {
        let r = try Self.mixed()
        expectA(try ask(r, "2.0.0.127.bl.example"), [code(2)], ttl: 2100)
        expectTXT(try ask(r, "2.0.0.127.bl.example", DNSType.txt), ["Listed 127.0.0.2"], ttl: 2100)
        expectNX(try ask(r, "1.0.0.127.bl.example"))
    }

    @Test func rfc5782_5_ipv6TestPointsAndMappedBlock() throws {
        let r = try Self.mixed()
        // ::ffff:7f00:2 is answered from the IPv4 data (AnswerRules, "Lookups per family"), `$` dotted.
        expectA(try ask(r, name6("::ffff:7f00:2")), [code(2)])
        expectTXT(try ask(r, name6("::ffff:7f00:2"), DNSType.txt), ["Listed 127.0.0.2"])
        expectNX(try ask(r, name6("::ffff:7f00:1")))
        expectA(try ask(r, name6("::2")), [code(3)])
        expectNX(try ask(r, name6("::1")))
    }

    @Test func spec3_3_mappedBlockUsesIPv4DataOnlyWhenTheZoneHasSome() throws {
        let v6only = try responder([zone([try dataset(.ipv6, "::ffff:0:0/96 :127.0.0.9:mapped $")])])
        let p = try ask(v6only, name6("::ffff:c000:201"), DNSType.txt)
        expectTXT(p, ["mapped ::ffff:192.0.2.1"])
        // With IPv4 data, IPv6 entries inside ::ffff:0:0/96 are unreachable.
        let both = try responder([zone([
            try dataset(.ipv6, "::ffff:0:0/96 :127.0.0.9:mapped"),
            try dataset(.ipv4, "198.51.100.1"),
        ])])
        expectNX(try ask(both, name6("::ffff:c000:201")))
        expectA(try ask(both, name6("::ffff:c633:6401")), [code(2)])
        // …and the names above them are judged by the IPv4 data alone.
        expectNX(try ask(both, nibbleName(v6("::ffff:c000:0"), 28)))
        expectNODATA(try ask(both, nibbleName(v6("::ffff:c633:6400"), 28)))
    }

    @Test func spec3_3_sixToFourUnitesIPv4AndIPv6Data() throws {
        let r = try responder([zone([
            try dataset(.ipv4, "192.0.2.1 :127.0.0.2:four $"),
            try dataset(.ipv6, "2002::/16 :127.0.0.6:six $"),
        ])])
        let n = name6("2002:c000:201::1")
        expectA(try ask(r, n), [code(2), code(6)])
        expectTXT(try ask(r, n, DNSType.txt), ["four 192.0.2.1", "six 2002:c000:201::1"])
        expectA(try ask(r, name6("2002:c000:202::1")), [code(6)])
        let v4only = try responder([zone([try dataset(.ipv4, "192.0.2.1")])])
        expectA(try ask(v4only, name6("2002:c000:201:ffff::1")), [code(2)])
        expectNX(try ask(v4only, name6("2002:c000:202::1")))
        // Ancestors through the 6to4 image are empty non-terminals (RFC 8020 for minimisers).
        for depth in 1...31 { expectNODATA(try ask(v4only, nibbleName(v6("2002:c000:201::1"), depth))) }
        expectNX(try ask(v4only, nibbleName(v6("2002:c000:202::"), 12)))
        expectNODATA(try ask(v4only, nibbleName(v6("2002:c000:202::"), 11)))
    }

    @Test func spec4_namesOfSingleDigitsReadBothWays() throws {
        let v6data = try responder([zone([try dataset(.ipv6, "2001:db8::/32")])])
        // `1.0.0.2` = IPv4 2.0.0.1 and the IPv6 prefix 2001::/16.
        expectNODATA(try ask(v6data, "1.0.0.2.bl.example"))
        expectNODATA(try ask(v6data, "0.0.2.bl.example"))
        expectNX(try ask(v6data, "2.0.0.2.bl.example"))
        let v4data = try responder([zone([try dataset(.ipv4, "2.0.0.1")])])
        expectA(try ask(v4data, "1.0.0.2.bl.example"), [code(2)])
        expectNODATA(try ask(v4data, "0.0.2.bl.example"))
        expectNX(try ask(v4data, "3.0.0.2.bl.example"))
        // `2.0.0.2` is also 2002::/16, where 2.0.0.1's 6to4 image lies.
        expectNODATA(try ask(v4data, "2.0.0.2.bl.example"))
    }

    @Test func spec4_leadingZerosInIPv4Labels() throws {
        let r = try Self.mixed()
        expectA(try ask(r, "010.002.000.192.bl.example"), [code(2)])
        expectTXT(try ask(r, "010.002.000.192.bl.example", DNSType.txt), ["Listed 192.0.2.10"])
    }

    @Test(arguments: [
        "256.2.0.192",                   // decimal > 255
        "x.2.0.192",                     // non-digit
        "0001.2.0.192",                  // four digits
        "1.10.2.0.192",                  // five labels, not all single hex digits
        "ab.8.b.d.0.1.0.0.2",            // multi-character hex label
        "::1",                           // a label that is an address
        "g.8.b.d.0.1.0.0.2",             // not hex
        "www",
    ])
    func spec4_malformedNamesAreNXDOMAIN(_ left: String) throws {
        let r = try Self.mixed()
        let p = try ask(r, left + ".bl.example")
        expectNX(p)
        #expect(try ask(r, left + ".bl.example", DNSType.txt).rcode == 3)
    }

    @Test func spec4_thirtyThreeNibblesAreNXDOMAIN() throws {
        let r = try Self.mixed()
        expectNX(try ask(r, "0." + name6("2001:db8::1")))
        expectNX(try ask(r, "0.0." + name6("2001:db8::1")))
    }

    @Test func rfc1035_3_3_apexSOAAndNS() throws {
        let r = try Self.mixed()
        let soa = try ask(r, "bl.example", DNSType.soa)
        #expect(soa.rcode == 0 && soa.aa && soa.ancount == 1 && soa.nscount == 0)
        let rr = try #require(soa.answer.first)
        #expect(rr.type == DNSType.soa && rr.ttl == 3600 && rr.owner == "bl.example.")
        #expect(rr.rdataText == ["ns1.bl.example.", "hostmaster.example.org.", "2026113001", "7200", "1800", "1209600", "300"])
        let ns = try ask(r, "bl.example", DNSType.ns)
        #expect(ns.rcode == 0 && ns.aa && ns.ancount == 2)
        #expect(Set(ns.answer.flatMap(\.rdataText)) == ["ns1.bl.example.", "ns.example.net."])
        #expect(ns.answer.allSatisfy { $0.ttl == 86400 })
        let any = try ask(r, "bl.example", DNSType.any)
        #expect(any.rcode == 0 && any.ancount == 3)
    }

    @Test(arguments: [DNSType.a, DNSType.txt, DNSType.aaaa, DNSType.mx])
    func rfc2308_2_2_otherApexTypesAreNODATA(_ t: UInt16) throws {
        expectNODATA(try ask(try Self.mixed(), "bl.example", t))
    }

    @Test func spec5_inZoneNSNamesAndTheirAncestorsAreNODATA() throws {
        let r = try responder([zone([try dataset(.ipv4, "192.0.2.1")],
                                    ns: ["ns1.bl.example", "a.ns.sub.bl.example", "ns.example.net"])])
        for n in ["ns1.bl.example", "NS1.bl.example", "a.ns.sub.bl.example", "ns.sub.bl.example", "sub.bl.example"] {
            for t in [DNSType.a, DNSType.aaaa] { expectNODATA(try ask(r, n, t)) }
        }
        expectNX(try ask(r, "x.ns1.bl.example"))
        expectNX(try ask(r, "ns2.bl.example"))
    }

    @Test func rfc2181_5_identicalRRsOnceAndTTLIsTheSmallest() throws {
        let r = try responder([zone([
            try dataset(.ipv4, "192.0.2.1 :127.0.0.2:same $", ttl: 600),
            try dataset(.ipv4, "192.0.2.0/24 :127.0.0.2:same $", ttl: 3600),
            try dataset(.ipv4, "192.0.2.0/24 :127.0.0.4:", ttl: 900),
        ])])
        expectA(try ask(r, name4("192.0.2.1")), [code(2), code(4)], ttl: 600)
        // TXT RRset: only the datasets with TXT contribute (TTL 600, 3600 → 600).
        expectTXT(try ask(r, name4("192.0.2.1"), DNSType.txt), ["same 192.0.2.1"], ttl: 600)
        expectA(try ask(r, name4("192.0.2.2")), [code(2), code(4)], ttl: 900)
        expectTXT(try ask(r, name4("192.0.2.2"), DNSType.txt), ["same 192.0.2.2"], ttl: 3600)
    }

    @Test func rfc2308_5_negativeTTLIsMinOfSOATTLAndMinimum() throws {
        let low = try responder([zone([try dataset(.ipv4, "192.0.2.1")], soaTTL: 60, minimum: 300)])
        expectNegative(try ask(low, name4("192.0.2.2")), nx: true, negativeTTL: 60)
        expectNegative(try ask(low, "2.0.192.bl.example"), nx: false, negativeTTL: 60)
        let high = try responder([zone([try dataset(.ipv4, "192.0.2.1")], soaTTL: 3600, minimum: 120)])
        expectNegative(try ask(high, name4("192.0.2.2")), nx: true, negativeTTL: 120)
    }

    @Test func spec5_listedNameWithOtherTypesIsNODATA() throws {
        let r = try Self.mixed()
        for t in [DNSType.aaaa, DNSType.mx, DNSType.ns, DNSType.soa, DNSType.ptr, UInt16(99)] {
            expectNODATA(try ask(r, name4("192.0.2.1"), t))
            expectNODATA(try ask(r, name6("2001:db8::1"), t))
        }
    }

    @Test func rfc8482_listedANYGivesAAndTXT() throws {
        let r = try Self.mixed()
        let p = try ask(r, name4("192.0.2.1"), DNSType.any)
        #expect(p.rcode == 0 && p.aa && p.ancount == 2)
        #expect(p.answer.compactMap(\.aValue) == [code(2)])
        #expect(p.answer.filter { $0.type == DNSType.txt }.map(\.txtJoined) == ["Listed 192.0.2.1"])
    }

    @Test func rfc1035_4_1_1_refusedOutsideOurZones() throws {
        let r = try Self.mixed()
        for n in ["example", "example.org", name4("192.0.2.1", "other.example"), "."] {
            let p = try ask(r, n)
            #expect(p.rcode == 5, "\(n)")
            #expect(!p.aa && p.ancount == 0 && p.nscount == 0 && p.qdcount == 1)
        }
    }

    @Test func rfc1035_4_1_1_notImpForOtherOpcodesWithOpcodeEchoed() throws {
        let r = try Self.mixed()
        for opcode: UInt16 in [1, 2, 4, 5, 15] {
            let q = query("bl.example", DNSType.soa, flags: opcode << 11 | DNSFlags.rd)
            let (o, p0) = try ask(r, q)
            let p = try #require(p0)
            #expect(p.rcode == 4 && o.rcode == 4)
            #expect(p.opcode == UInt8(opcode))
            #expect(p.qr && p.rd && !p.aa)
            #expect(p.id == 0x5A5A)
        }
    }

    @Test func rfc1035_4_1_1_noReplyToResponsesOrUnreadableHeaders() throws {
        let r = try Self.mixed()
        let resp = query(name4("192.0.2.1"), DNSType.a, flags: DNSFlags.qr)
        #expect(try ask(r, resp).outcome.length == 0)
        for n in 0..<12 { #expect(try ask(r, Array(repeating: 0, count: n)).outcome.length == 0) }
    }

    @Test func rfc1035_4_1_2_formErrForBadQuestions() throws {
        let r = try Self.mixed()
        var qd0 = query("bl.example", DNSType.soa); qd0[5] = 0
        var qd2 = query("bl.example", DNSType.soa); qd2[5] = 2
        let cut = Array(query("bl.example", DNSType.soa).dropLast(3))
        // A compression pointer as QNAME (points at itself) and a reserved label type.
        var ptr = Array(query("bl.example", DNSType.soa)[0..<12]); ptr += [0xC0, 12, 0, 6, 0, 1]
        var ext = Array(query("bl.example", DNSType.soa)[0..<12]); ext += [0x41, 0, 0, 6, 0, 1]
        var long = Array(query("bl.example", DNSType.soa)[0..<12])
        for _ in 0..<5 { long += [63] + Array(repeating: 0x61, count: 63) }
        long += [0, 0, 1, 0, 1]
        for (label, q) in [("qdcount 0", qd0), ("qdcount 2", qd2), ("truncated", cut), ("pointer", ptr),
                           ("label type", ext), ("name > 255", long)] {
            let (o, p0) = try ask(r, q)
            let p = try #require(p0, "\(label)")
            #expect(p.rcode == 1 && o.rcode == 1, "\(label)")
            #expect(p.id == 0x5A5A && p.qr && p.rd, "\(label)")
        }
        _ = (ptr, ext)
    }

    @Test(arguments: [DNSType.axfr, DNSType.ixfr])
    func rfc5936_zoneTransfersAreNotImp(_ t: UInt16) throws {
        let p = try ask(try Self.mixed(), "bl.example", t)
        #expect(p.rcode == 4 && p.ancount == 0 && p.qdcount == 1)
    }

    @Test func rfc4892_chaosVersionAndIdentity() throws {
        var o = AnswerOptions()
        o.identity = Array("ns1.example.net".utf8)
        let r = try responder([zone([])], options: o)
        for (n, text) in [("version.bind", "prefixbl"), ("VERSION.server", "prefixbl"),
                          ("id.server", "ns1.example.net"), ("hostname.bind", "ns1.example.net")] {
            let p = try ask(r, n, DNSType.txt, qclass: DNSClass.ch)
            #expect(p.rcode == 0 && p.ancount == 1, "\(n)")
            #expect(p.answer.first?.rrClass == DNSClass.ch)
            #expect(p.answer.first?.txtJoined == text)
        }
        #expect(try ask(r, "other.bind", DNSType.txt, qclass: DNSClass.ch).rcode == 5)
        var off = AnswerOptions()
        off.version = nil
        let r2 = try responder([zone([])], options: off)
        #expect(try ask(r2, "version.bind", DNSType.txt, qclass: DNSClass.ch).rcode == 5)
        #expect(try ask(r2, "id.server", DNSType.txt, qclass: DNSClass.ch).rcode == 5)
    }

    @Test func rfc1035_3_2_4_classANYAnsweredWithoutAAOtherClassesRefused() throws {
        let r = try Self.mixed()
        let p = try ask(r, name4("192.0.2.1"), qclass: DNSClass.any)
        #expect(p.rcode == 0 && !p.aa && p.ancount == 1)
        #expect(p.answer.first?.rrClass == DNSClass.in)
        let nx = try ask(r, name4("192.0.2.200"), qclass: DNSClass.any)
        #expect(nx.rcode == 3 && !nx.aa)
        for c: UInt16 in [2, 4, 254] { #expect(try ask(r, name4("192.0.2.1"), qclass: c).rcode == 5) }
    }

    @Test func rfc1035_4_1_1_flagsIDAndQuestionEchoed() throws {
        let r = try Self.mixed()
        for rd in [true, false] {
            let q = query("2.0.0.127.Bl.Example", DNSType.a, id: 0xBEEF, flags: rd ? DNSFlags.rd : 0)
            let (_, p0) = try ask(r, q)
            let p = try #require(p0)
            #expect(p.id == 0xBEEF && p.qr && p.aa && p.rd == rd && !p.ra && !p.tc)
            #expect(p.question.count == 1)
            #expect(p.question.first?.ownerWire == wireName("2.0.0.127.Bl.Example"))
        }
    }

    @Test func spec5_nsInAuthorityOption() throws {
        var o = AnswerOptions()
        o.nsInAuthority = true
        let r = try responder([zone([try dataset(.ipv4, "192.0.2.1")])], options: o)
        let p = try ask(r, name4("192.0.2.1"))
        #expect(p.ancount == 1 && p.nscount == 2)
        #expect(p.authority.allSatisfy { $0.type == DNSType.ns })
        expectNX(try ask(r, name4("192.0.2.2")))
    }

    @Test func spec2_timestampExpiredDatasetsAreNotServed() throws {
        let zs = [zone([try dataset(.ipv4, "192.0.2.1", expires: 1_000),
                        try dataset(.ipv4, "192.0.2.2", expires: 5_000)])]
        let before = try responder(zs, now: 999)
        expectA(try ask(before, name4("192.0.2.1")), [code(2)])
        let after = try responder(zs, now: 2_000)
        expectNX(try ask(after, name4("192.0.2.1")))
        expectA(try ask(after, name4("192.0.2.2")), [code(2)])
    }

    @Test func spec3_2_zoneInSeveralStoresUnitesDatasets_mostSpecificZoneAnswers() throws {
        let s1 = try Store(zones: [zone([try dataset(.ipv4, "192.0.2.1 :127.0.0.2")])])
        let s2 = try Store(zones: [zone([try dataset(.ipv4, "192.0.2.1 :127.0.0.3")]),
                                   zone([try dataset(.ipv4, "192.0.2.1 :127.0.0.9")], apex: "sub.bl.example")])
        let r = Responder(stores: [s1, s2])
        expectA(try ask(r, name4("192.0.2.1")), [code(2), code(3)])
        expectA(try ask(r, name4("192.0.2.1", "sub.bl.example")), [code(9)])
        let soa = try ask(r, "SUB.bl.example", DNSType.soa)
        #expect(soa.answer.first?.owner.lowercased() == "sub.bl.example.")
    }

    @Test func spec2_dollarDollarAndNoTXT() throws {
        let r = try responder([zone([try dataset(.ipv4, """
            192.0.2.1 :127.0.0.2:cost $$5 for $
            192.0.2.2 :127.0.0.2:
            """)])])
        expectTXT(try ask(r, name4("192.0.2.1"), DNSType.txt), ["cost $5 for 192.0.2.1"])
        expectNODATA(try ask(r, name4("192.0.2.2"), DNSType.txt))
    }

    @Test(arguments: [
        ("2001:db8::1", "2001:db8::1"), ("2001:0db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"), ("::", "::"), ("::1", "::1"),
        ("1::", "1::"), ("2001:db8:aaaa:bbbb:cccc:dddd:eeee:1", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1"),
        ("2001:db8:0:0:1:0:0:0", "2001:db8:0:0:1::"), ("0:1:0:0:0:1:0:0", "0:1::1:0:0"),
        ("ABCD:EF01::", "abcd:ef01::"),
    ])
    func rfc5952_4_textForm(_ input: String, _ expected: String) throws {
        let r = try responder([zone([try dataset(.ipv6, "::/1 :127.0.0.2:$\n8000::/1 :127.0.0.2:$")])])
        expectTXT(try ask(r, name6(input), DNSType.txt), [expected])
    }
}
