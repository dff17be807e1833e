import Testing
import Glibc
import DNSWire
import PrefixStore
import LDNSKit
@testable import DNSBL
import TestSupport

// The cases of ../shared/cases/README.md that are about answers, one test each.

@Suite("Cases from real bug reports")
struct CaseTests {
    /// C25 — ip4set: a /21 and a /23 of one file cover 186.0.143.255 (real UCEPROTECT level 2
    /// data): as rbldnsd, one A 127.0.0.2 (identical records once) and both TXT strings; as
    /// ip4trie, the /23's only.
    @Test(arguments: ["ip4set", "ip4trie"])
    func c25_ip4setAnswersEveryEntryOfTheDecidingBucket(_ type: String) throws {
        var set = try dataset(.ipv4, """
            :127.0.0.2:Net $ listed
            186.0.136.0/21 :127.0.0.2:Net 186.0.136.0/21 is listed (AS52251)
            186.0.142.0/23 :127.0.0.2:Net 186.0.142.0/23 is listed (AS52251)
            """)
        set.type = type
        let r = try responder([zone([set])])
        expectA(try ask(r, name4("186.0.143.255")), [code(2)])
        let both = ["Net 186.0.136.0/21 is listed (AS52251)", "Net 186.0.142.0/23 is listed (AS52251)"]
        expectTXT(try ask(r, name4("186.0.143.255"), DNSType.txt), type == "ip4set" ? both : [both[1]])
        expectTXT(try ask(r, name4("186.0.142.0"), DNSType.txt), type == "ip4set" ? both : [both[1]])
        expectTXT(try ask(r, name4("186.0.141.7"), DNSType.txt), [both[0]])
        let any = try ask(r, name4("186.0.143.255"), DNSType.any)
        #expect(any.answer.filter { $0.type == DNSType.a }.count == 1)
        #expect(any.answer.filter { $0.type == DNSType.txt }.count == (type == "ip4set" ? 2 : 1))
    }

    @Test func c1_partialIPv4NamesAreEmptyNonTerminals() throws {
        let r = try responder([zone([try dataset(.ipv4, """
            :127.0.0.2:Listed, see https://bl.example/q?$
            192.0.2.10
            """)])])
        expectA(try ask(r, "10.2.0.192.bl.example"), [code(2)], ttl: 2100)
        expectTXT(try ask(r, "10.2.0.192.bl.example", DNSType.txt), ["Listed, see https://bl.example/q?192.0.2.10"])
        for n in ["2.0.192", "0.192", "192"] { expectNODATA(try ask(r, n + ".bl.example")) }
        expectNX(try ask(r, "11.2.0.192.bl.example"))
        expectNX(try ask(r, "3.0.192.bl.example"))
    }

    @Test func c2_nonNibbleAlignedPrefixThroughMinimisation() throws {
        let r = try responder([zone([try dataset(.ipv6, """
            :127.0.0.2:Listed
            2001:db8:abcc::/47
            """)])])
        let a = v6("2001:db8:abcd::5")
        expectA(try ask(r, nibbleName(a, 32)), [code(2)])
        for depth in 1...31 { expectNODATA(try ask(r, nibbleName(a, depth))) }
        expectNODATA(try ask(r, "c.c.b.a.8.b.d.0.1.0.0.2.bl.example"))
        expectNODATA(try ask(r, "d.c.b.a.8.b.d.0.1.0.0.2.bl.example"))
        expectNX(try ask(r, "e.c.b.a.8.b.d.0.1.0.0.2.bl.example"))
        expectNX(try ask(r, "3.bl.example"))
    }

    @Test func c3_neverNoErrorBelowNXDOMAIN() throws {
        let r = try responder([zone([try dataset(.ipv6, "2001:db8:0:a000::/52")])])
        expectNODATA(try ask(r, "0.0.0.0.8.b.d.0.1.0.0.2.bl.example"))
        expectNODATA(try ask(r, "a.0.0.0.0.8.b.d.0.1.0.0.2.bl.example"))
        expectNX(try ask(r, "b.0.0.0.0.8.b.d.0.1.0.0.2.bl.example"))
        expectA(try ask(r, name6("2001:db8:0:a000::1")), [code(2)])
        expectNX(try ask(r, name6("2001:db8:0:b000::1")))
    }

    @Test func c3_bulkOnFullbogons() throws {
        let path = try #require(realdataFile("fullbogons-ipv6.txt"),
                                "shared/realdata/fullbogons-ipv6.txt not found (set PREFIXBL_REALDATA)")
        let all = try readPlainCIDRs(path)
        #expect(all.count > 100_000)
        var rng = SplitMix64(seed: 0xC3)
        // The whole file is served; 1,000 random prefixes of it are queried.
        let served = all
        let entries = served.enumerated().map { i, p in
            PrefixEntry(address: p.0, prefixLength: UInt8(p.1), value: 0, origin: UInt32(i))
        }
        let r = try responder([zone([DatasetInput(name: "fullbogons", type: "ip6trie", family: .ipv6, ttl: 2100,
                                                  values: [ListingValue(a: code(2), txt: nil)], entries: entries)])])
        for _ in 0..<1000 {
            let (p, len) = served[Int(rng.next() % UInt64(served.count))]
            let host = 128 - len
            let rand = UInt128(rng.next()) << 64 | UInt128(rng.next())
            let addr = p | (host == 0 ? 0 : rand & (UInt128.max >> UInt128(len)))
            expectA(try ask(r, nibbleName(addr, 32)), [code(2)])
            for depth in 1...31 {
                let rc = quickRCode(r, nibbleName(addr, depth))
                #expect(rc == 0, "depth \(depth) of \(formatV6(addr))")
            }
        }
    }

    @Test func c4_existingNameLackingTypeIsNODATA() throws {
        let r = try responder([zone([try dataset(.ipv4, """
            :127.0.0.2:
            192.0.2.20
            """)])])
        let n = "20.2.0.192.bl.example"
        for t in [DNSType.txt, DNSType.aaaa, DNSType.mx, DNSType.ptr] { expectNODATA(try ask(r, n, t)) }
        expectA(try ask(r, n), [code(2)])
    }

    @Test func c6_broadExclusionDoesNotBeatSpecificListing() throws {
        // Two files of one dataset read in order = their lines concatenated.
        let v4 = try dataset(.ipv4, """
            !198.51.100.0/24
            :127.0.0.2:Listed $
            198.51.100.7
            192.0.2.0/24
            !192.0.2.128/25
            192.0.2.200
            """)
        let v6d = try dataset(.ipv6, """
            !2001:db8:1::/48
            :127.0.0.2:Listed $
            2001:db8::/32
            2001:db8:1:2::/64
            """)
        let r = try responder([zone([v4, v6d])])
        expectA(try ask(r, name4("198.51.100.7")), [code(2)])
        expectTXT(try ask(r, name4("198.51.100.7"), DNSType.txt), ["Listed 198.51.100.7"])
        expectNX(try ask(r, name4("198.51.100.8")))
        expectA(try ask(r, name4("192.0.2.5")), [code(2)])
        expectNX(try ask(r, name4("192.0.2.130")))
        expectA(try ask(r, name4("192.0.2.200")), [code(2)])
        expectA(try ask(r, name6("2001:db8:1:2::1")), [code(2)])
        expectNX(try ask(r, name6("2001:db8:1:3::1")))
        expectA(try ask(r, name6("2001:db8:2::1")), [code(2)])
    }

    @Test func c7_longTXTAndAnswersBiggerThanADatagram() throws {
        let t400 = String(repeating: "x", count: 400), t200 = String(repeating: "y", count: 200)
        let r = try responder([zone([
            try dataset(.ipv6, "2001:db8::/32 :127.0.0.2:\(t400) $"),
            try dataset(.ipv6, "2001:db8:5::/48 :127.0.0.3:\(t200) $"),
        ])])
        let n = name6("2001:db8:5::1")
        let (o, p0) = try ask(r, query(n, DNSType.txt))
        let p = try #require(p0)
        #expect(p.tc && o.truncated)
        #expect(p.ancount == 0 && p.answer.isEmpty)
        #expect(p.qdcount == 1)
        #expect(o.length <= 512)
        let full = [t400 + " 2001:db8:5::1", t200 + " 2001:db8:5::1"]
        for pk in [try ask(r, n, DNSType.txt, transport: .tcp), try ask(r, n, DNSType.txt, edns: EDNS())] {
            expectTXT(pk, full)
            let long = try #require(pk.answer.first { $0.txtJoined.hasPrefix("x") })
            #expect(long.txtStrings.count == 2)
            #expect(long.txtStrings.map(\.count) == [255, 400 + 14 - 255])
        }
    }

    @Test func c8_neverAPartialRRsetWithoutTC() throws {
        var sets: [DatasetInput] = []
        for i in 1...6 {
            let txt = String(repeating: Character(String(i)), count: 120)
            sets.append(try dataset(.ipv4, "192.0.2.66 :127.0.0.\(i):\(txt)", name: "d\(i)"))
        }
        let r = try responder([zone(sets)])
        let n = name4("192.0.2.66")
        let p = try ask(r, n, DNSType.txt)
        #expect(p.tc)
        #expect(p.ancount == 0)
        expectA(try ask(r, n), (1...6).map { code(UInt32($0)) })
        let big = try ask(r, n, DNSType.txt, edns: EDNS())
        #expect(!big.tc)
        #expect(big.ancount == 6)
        #expect(big.answer.allSatisfy { $0.txtJoined.count == 120 })
    }

    @Test func c10_oneAddressInTwoDatasetsGivesTwoARecords() throws {
        let r = try responder([zone([
            try dataset(.ipv4, "192.0.2.44 :127.0.0.3:yellow"),
            try dataset(.ipv4, "192.0.2.0/24 :127.0.1.1:experimental"),
            try dataset(.ipv6, "2001:db8::44/128 :127.0.0.3:yellow"),
            try dataset(.ipv6, "2001:db8::/64 :127.0.1.1:experimental"),
        ])])
        expectA(try ask(r, name4("192.0.2.44")), [code(3), 0x7F00_0101])
        expectTXT(try ask(r, name4("192.0.2.44"), DNSType.txt), ["yellow", "experimental"])
        expectA(try ask(r, name4("192.0.2.45")), [0x7F00_0101])
        expectA(try ask(r, name6("2001:db8::44")), [code(3), 0x7F00_0101])
        expectTXT(try ask(r, name6("2001:db8::44"), DNSType.txt), ["yellow", "experimental"])
        expectA(try ask(r, name6("2001:db8::45")), [0x7F00_0101])
    }

    @Test func c12_theTestEntryWithAValueEndingInZero() throws {
        for spelling in ["::2", "::2/128", "0:0:0:0:0:0:0:2"] {
            let r = try responder([zone([try dataset(.ipv6, "\(spelling) :127.0.10.0:test entry")])])
            expectA(try ask(r, name6("::2")), [0x7F00_0A00])
            expectTXT(try ask(r, name6("::2"), DNSType.txt), ["test entry"])
            expectNX(try ask(r, name6("::3")))
        }
    }

    @Test func c13_unexpandedIPv6NameIsNotAListing() throws {
        let r = try responder([zone([try dataset(.ipv6, "2001:db8::f03c:91ff:fe50:d2")])])
        let full = name6("2001:db8::f03c:91ff:fe50:d2")
        expectA(try ask(r, full), [code(2)])
        expectNX(try ask(r, "2.d.0.5.e.f.f.f.1.9.c.3.0.f.8.b.d.1.0.0.2.bl.example"))
        expectNX(try ask(r, "0." + full))
        expectNODATA(try ask(r, String(full.drop { $0 != "." }.dropFirst())))
    }

    @Test func c16_shortIPv6NotationsAsEquivalentEntries() throws {
        // rbldnsd's `2001:db8:0:1` = /64 and `2001:db8:c000/36` (the parser's job) as full CIDR.
        let r = try responder([zone([try dataset(.ipv6, """
            :127.0.0.2:Listed $
            2001:db8:0:1::/64
            2001:db8:c000::/36
            !2001:db8:0:1::25
            """)])])
        for a in ["2001:db8:0:1::1", "2001:db8:0:1:ffff:ffff:ffff:ffff", "2001:db8:c000::1", "2001:db8:cfff:ffff::1"] {
            expectA(try ask(r, name6(a)), [code(2)])
        }
        for a in ["2001:db8:0:1::25", "2001:db8:0:2::1", "2001:db8:d000::1"] { expectNX(try ask(r, name6(a))) }
    }

    @Test func c18_nestedPrefixesWithDifferentValues() throws {
        let r = try responder([zone([try dataset(.ipv6, """
            2001:db8::/32 :127.0.0.4:broad $
            2001:db8::a/128 :127.0.0.5:specific $
            """)])])
        expectA(try ask(r, name6("2001:db8::a")), [code(5)])
        expectTXT(try ask(r, name6("2001:db8::a"), DNSType.txt), ["specific 2001:db8::a"])
        expectA(try ask(r, name6("2001:db8::b")), [code(4)])
        expectTXT(try ask(r, name6("2001:db8::b"), DNSType.txt), ["broad 2001:db8::b"])
        expectA(try ask(r, name6("2001:db8:ffff::1")), [code(4)])
        let any = try ask(r, name6("2001:db8::a"), DNSType.any)
        #expect(any.answer.compactMap(\.aValue) == [code(5)])
        #expect(any.answer.filter { $0.type == DNSType.txt }.map(\.txtJoined) == ["specific 2001:db8::a"])
    }

    @Test func c21_mixedCaseQueryNames() throws {
        let r = try responder([zone([try dataset(.ipv6, """
            :127.0.0.2:Listed $
            2001:db8::a
            """)])])
        let n = "A.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2.Bl.ExAmPlE"
        let q = query(n, DNSType.a)
        let (_, p0) = try ask(r, q)
        let p = try #require(p0)
        expectA(p, [code(2)])
        #expect(p.question.first?.ownerWire == wireName(n))
        #expect(Array(p.wire[12..<(12 + wireName(n).count)]) == wireName(n))
        expectTXT(try ask(r, n, DNSType.txt), ["Listed 2001:db8::a"])
        let soa = try ask(r, "BL.EXAMPLE", DNSType.soa)
        #expect(soa.rcode == 0 && soa.ancount == 1 && soa.answer.first?.type == DNSType.soa)
    }

    @Test func c23_dollarRendersRFC5952() throws {
        let r = try responder([zone([try dataset(.ipv6, """
            :127.0.0.2:Listed, see https://bl.example/q?ip=$
            2001:db8:0:1::/64
            """)])])
        expectTXT(try ask(r, name6("2001:db8:0:1:0:0:0:abc"), DNSType.txt),
                  ["Listed, see https://bl.example/q?ip=2001:db8:0:1::abc"])
        let pad = String(repeating: "p", count: 250)
        let r2 = try responder([zone([try dataset(.ipv6, "2001:db8:0:1::/64 :127.0.0.2:\(pad)$")])])
        let p = try ask(r2, name6("2001:db8:0:1:0:0:0:abc"), DNSType.txt)
        expectTXT(p, [pad + "2001:db8:0:1::abc"])
        #expect(p.answer.first?.txtStrings.map(\.count) == [255, 250 + 17 - 255])
    }
}

// MARK: - real data helpers

/// Reads a plain list: one IPv6 CIDR per line, `#` comments.
func readPlainCIDRs(_ path: String) throws -> [(UInt128, Int)] {
    guard let f = fopen(path, "r") else { throw TestError.bad("cannot open \(path)") }
    defer { fclose(f) }
    var out: [(UInt128, Int)] = []
    var line: UnsafeMutablePointer<CChar>? = nil
    var cap = 0
    defer { free(line) }
    while getline(&line, &cap, f) > 0 {
        let s = String(cString: line!).split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }).first
        guard let s, !s.hasPrefix("#"), let slash = s.firstIndex(of: "/"),
              let a = parseV6(s[..<slash]), let l = Int(s[s.index(after: slash)...]) else { continue }
        out.append((a, l))
    }
    return out
}

func formatV6(_ a: UInt128) -> String {
    (0..<8).map { String(UInt16(truncatingIfNeeded: a >> UInt128(112 - 16 * $0)), radix: 16) }.joined(separator: ":")
}
