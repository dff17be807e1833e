import Testing
import TestSupport
import DNSWire
import PrefixStore
import LDNSKit
@testable import DNSBL

// EDNS0, size limits, truncation (Sources/DNSBL.docc/AnswerRules.md, "EDNS, size and truncation").

@Suite("EDNS, size and TCP")
struct EDNSTests {
    /// 192.0.2.66 in six datasets with 120-byte TXTs: the TXT answer needs ~840 bytes.
    static func six(options: AnswerOptions = AnswerOptions()) throws -> Responder {
        var sets: [DatasetInput] = []
        for i in 1...6 {
            sets.append(try dataset(.ipv4, "192.0.2.66 :127.0.0.\(i):\(String(repeating: "t", count: 119))\(i)"))
        }
        sets.append(try dataset(.ipv4, "192.0.2.1"))
        return try responder([zone(sets)], options: options)
    }

    @Test func rfc6891_7_optInResponseIffQueryHadOne() throws {
        let r = try Self.six()
        let with = try ask(r, name4("192.0.2.1"), edns: EDNS(size: 4096))
        #expect(with.hasOPT && with.arcount == 1)
        #expect(with.ednsUDPSize == 1232 && with.ednsVersion == 0)
        expectA(with, [code(2)])
        let without = try ask(r, name4("192.0.2.1"))
        #expect(!without.hasOPT && without.arcount == 0)
        for n in [name4("192.0.2.2"), "2.0.192.bl.example", "bl.example", "example.org"] {
            #expect(try ask(r, n, edns: EDNS()).hasOPT, "\(n)")
        }
    }

    @Test func rfc6891_6_2_5_payloadSizeNegotiation() throws {
        var o = AnswerOptions()
        o.udpPayloadSize = 1232
        let r = try Self.six(options: o)
        let n = name4("192.0.2.66")
        // Client 700 < answer: TC. Client 4096 is capped at our 1232: fits (~850 bytes).
        let small = try ask(r, n, DNSType.txt, edns: EDNS(size: 700))
        #expect(small.tc && small.ancount == 0 && small.hasOPT && small.qdcount == 1)
        let big = try ask(r, n, DNSType.txt, edns: EDNS(size: 4096))
        #expect(!big.tc && big.ancount == 6)
        // Below 512 counts as 512: the A answer (six A, ~150 bytes) fits even with size 100.
        let tiny = try ask(r, n, DNSType.a, edns: EDNS(size: 100))
        #expect(!tiny.tc && tiny.ancount == 6)
        // Our own smaller size caps what a client may ask for.
        var o2 = AnswerOptions()
        o2.udpPayloadSize = 600
        let capped = try ask(try Self.six(options: o2), n, DNSType.txt, edns: EDNS(size: 4096))
        #expect(capped.tc && capped.ednsUDPSize == 600)
    }

    @Test func rfc6891_6_2_5_responseNeverExceedsTheLimit() throws {
        let r = try Self.six()
        for size: UInt16 in [0, 100, 512, 700, 900, 1232, 4096, 65535] {
            let (o, _) = try ask(r, query(name4("192.0.2.66"), DNSType.any, edns: EDNS(size: size)))
            #expect(o.length <= max(512, min(Int(size), 1232)), "size \(size)")
        }
        let (o, _) = try ask(r, query(name4("192.0.2.66"), DNSType.any))
        #expect(o.length <= 512 && o.truncated)
    }

    @Test func rfc6891_6_1_3_badVersIsExtendedRCode16() throws {
        let r = try Self.six()
        let (o, p0) = try ask(r, query(name4("192.0.2.1"), DNSType.a, edns: EDNS(version: 1)))
        let p = try #require(p0)
        #expect(o.rcode == 16)
        #expect(p.rcode == 0 && p.extendedRCode == 16)
        #expect(p.hasOPT && p.ednsVersion == 0 && p.ancount == 0 && p.qdcount == 1)
    }

    @Test func rfc5001_2_3_nsidAnsweredWithIdentity() throws {
        var o = AnswerOptions()
        o.identity = Array("ns1.example.net".utf8)
        let r = try Self.six(options: o)
        let asked = try ask(r, name4("192.0.2.1"), edns: EDNS(options: [(3, [])]))
        #expect(asked.ednsOptions.count == 1)
        #expect(asked.ednsOptions.first?.code == 3)
        #expect(asked.ednsOptions.first?.data == Array("ns1.example.net".utf8))
        expectA(asked, [code(2)])
        #expect(try ask(r, name4("192.0.2.1"), edns: EDNS()).ednsOptions.isEmpty)
        let anon = try ask(try Self.six(), name4("192.0.2.1"), edns: EDNS(options: [(3, [])]))
        #expect(anon.ednsOptions.isEmpty)
        // NSID rides on truncated answers too.
        let tc = try ask(r, name4("192.0.2.66"), DNSType.txt, edns: EDNS(size: 512, options: [(3, [])]))
        #expect(tc.tc && tc.ednsOptions.first?.code == 3)
    }

    @Test func rfc6891_6_1_2_unknownOptionsIgnoredAndDOCopied() throws {
        let r = try Self.six()
        let p = try ask(r, name4("192.0.2.1"), edns: EDNS(dnssecOK: true, options: [(65001, [1, 2, 3]), (10, Array(repeating: 7, count: 8))]))
        expectA(p, [code(2)])
        #expect(p.ednsOptions.isEmpty)
        #expect(p.ednsDO)  // RFC 3225 §3: DO copied; the zone is unsigned, so no RRSIG follows.
        #expect(!(try ask(r, name4("192.0.2.1"), edns: EDNS()).ednsDO))
    }

    @Test func rfc6891_6_1_1_malformedOPTIsFormErr() throws {
        let r = try Self.six()
        let base = query(name4("192.0.2.1"), DNSType.a, edns: EDNS())
        let opt = Array(base[(base.count - 11)...])
        var two = base + opt; two[11] = 2
        var inAnswer = base; inAnswer[7] = 1; inAnswer[11] = 0
        var owner = Array(base[0..<(base.count - 11)]) + [1, 0x61, 0] + Array(opt[1...])
        owner[11] = 1
        var overrun = base; overrun[overrun.count - 1] = 4; overrun += [0, 3, 0, 9]
        for (label, q) in [("two OPT", two), ("OPT in answer", inAnswer), ("owner not root", owner),
                           ("option overruns", overrun)] {
            let (o, p) = try ask(r, q)
            #expect(o.rcode == 1, "\(label)")
            #expect(p?.rcode == 1, "\(label)")
        }
        // Records before the OPT are skipped safely, compressed owners included.
        var skip = Array(base[0..<(base.count - 11)])
        skip += [0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 192, 0, 2, 1]  // an A record
        skip += opt
        skip[11] = 2
        expectA(try #require(try ask(r, skip).packet), [code(2)])
    }

    @Test func rfc2181_9_truncationKeepsQuestionAndOPTDropsTheWholeAnswer() throws {
        let r = try Self.six()
        let (o, p0) = try ask(r, query(name4("192.0.2.66"), DNSType.txt, edns: EDNS(size: 512)))
        let p = try #require(p0)
        #expect(o.truncated && p.tc && o.answerCount == 0)
        #expect(p.ancount == 0 && p.nscount == 0 && p.arcount == 1 && p.qdcount == 1)
        #expect(p.rcode == 0 && p.aa)
    }

    @Test func rfc7766_8_tcpCarriesAnswersUpTo65535Bytes() throws {
        var sets: [DatasetInput] = []
        for i in 0..<60 {
            sets.append(try dataset(.ipv4, "192.0.2.1 :127.0.\(i / 250).\(i % 250 + 1):\(String(repeating: "z", count: 300)) \(i)"))
        }
        let r = try responder([zone(sets)])
        let (o, p0) = try ask(r, query(name4("192.0.2.1"), DNSType.txt), transport: .tcp)
        let p = try #require(p0)
        #expect(!p.tc && p.ancount == 60 && o.length > 18_000)
        #expect(p.answer.allSatisfy { $0.txtStrings.map(\.count) == [255, 300 + 3 - 255] || $0.txtStrings.map(\.count) == [255, 300 + 2 - 255] })
        #expect(try ask(r, query(name4("192.0.2.1"), DNSType.txt)).packet?.tc == true)
    }

    @Test func rfc2181_9_answerTooBigEvenForTCPIsTruncated() throws {
        var sets: [DatasetInput] = []
        for i in 0..<100 {
            sets.append(try dataset(.ipv4, "192.0.2.1 :127.0.0.\(i + 1):\(String(repeating: "w", count: 700)) \(i)"))
        }
        let r = try responder([zone(sets)])
        let (o, p0) = try ask(r, query(name4("192.0.2.1"), DNSType.txt), transport: .tcp)
        let p = try #require(p0)
        #expect(p.tc && p.ancount == 0 && o.length < 512)
    }
}
