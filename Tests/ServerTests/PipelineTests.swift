#if canImport(Glibc)
import Glibc
#endif
import DNSBL
@testable import DNSBLServer
import DNSWire
import Foundation
import PrefixStore
import ServerTestSupport
import Testing
import TestSupport
import ZoneSource

/// The rules the four size and shape computations of the old query path (UDP loop, guard,
/// responder, TSIG) disagreed on, as the one pipeline now answers them.
@Suite("Query pipeline: one read, one size limit, one writer")
struct PipelineTests {
    /// The answer of a pipeline with guard `g` and `keys` to `q` from `client` over `transport`.
    static func answer(_ g: QueryGuard, _ responder: Responder, _ q: [UInt8], client: ClientAddress = client198,
                       transport: Transport = .udp, tsig keys: TSIGKeyring? = nil,
                       now: UInt32 = 1_000_000) -> ([UInt8], AnswerOutcome, QueryGuard.Action) {
        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 65535, alignment: 8)
        defer { out.deallocate() }
        let pipeline = QueryPipeline(queryGuard: g, tsig: keys)
        let snapshot = Snapshot(responder: responder, entryCount: 1)
        let (o, action) = q.withUnsafeBytes {
            pipeline.answer($0, transport: transport, client: client, snapshot: snapshot, now: now, into: out)
        }
        return (Array(out[0..<o.length]), o, action)
    }

    static func read(_ m: [UInt8]) -> ParsedQuery? {
        m.withUnsafeBytes { b in
            var none = IgnoreLabels()
            guard case .success(let p) = DNSWire.readMessage(b, labels: &none) else { return nil }
            return p
        }
    }

    /// `q` with the DO bit set in its OPT.
    static func withDO(_ q: [UInt8]) throws -> [UInt8] {
        var m = q
        let p = try #require(read(q))
        m[p.optOffset + 7] |= 0x80
        return m
    }

    @Test("--max-age-action refuse: REFUSED keeps the question and the OPT (with the server cookie), as every REFUSED")
    func staleRefusedKeepsQuestionAndOPT() throws {
        let g = QueryGuard({ var o = OperationsConfiguration(); o.cookieSecret = rfcSecret; return o }(), udpPayloadSize: 1232)
        g.setStaleZones([wireNameOps("bl.example")])
        let h = try opsResponder()
        let withCookie = cookieQuery(id: 1, cookie: hexBytes("2464c4abcf10c957"))
        let (r, o, action) = Self.answer(g, h, withCookie)
        #expect(action == .staleRefused)
        #expect(r[3] & 0x0F == 5 && o.rcode == 5)
        #expect(r[5] == 1, "the question is kept")
        #expect(r[11] == 1, "the OPT is kept")
        #expect(responseCookie(r)?.count == 24, "the OPT carries a server cookie")
        let question = Array(withCookie[12..<(12 + wireNameOps("1.2.0.192.bl.example").count + 4)])
        #expect(Array(r[12..<(12 + question.count)]) == question)

        let plain = makeQuery(id: 2, name: "1.2.0.192.BL.example")
        let (p, _, a2) = Self.answer(g, h, plain)
        #expect(a2 == .staleRefused && p[3] & 0x0F == 5 && p[5] == 1 && p[11] == 0 && p.count == plain.count)

        // Only names at or below the zone, at a label boundary.
        let (_, _, other) = Self.answer(g, h, makeQuery(id: 3, name: "1.2.0.192.xbl.example"))
        #expect(other == .answered)
        g.setStaleZones([])
        let (fresh, _, a3) = Self.answer(g, h, plain)
        #expect(a3 == .answered && fresh[3] & 0x0F == 0 && fresh[7] == 1)
    }

    @Test("TSIG over UDP: an answer that fits only without the TSIG record is TC=1 with the question and the OPT, signed")
    func tsigTruncationKeepsOPT() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let list = dir + "/list.txt"
        // One TXT of 430 bytes: the answer is about 480 bytes, over 512 with an 82-byte TSIG.
        try ("$SOA 3600 ns1.example.net hostmaster.example.org 1 7200 900 604800 300\n192.0.2.1 :2:"
             + String(repeating: "x", count: 430) + "\n").write(toFile: list, atomically: true, encoding: .utf8)
        let compiled = Compiler.compile([ZoneSpec(zone: "bl.example", type: "ip4set", files: [list])])
        #expect(!compiled.hasErrors)
        let h = Responder(stores: [try Store(zones: compiled.zones)])
        let key = testKey()
        let keys = try TSIGKeyring([key])
        let g = QueryGuard(OperationsConfiguration(), udpPayloadSize: 1232)
        func signed(edns: UInt16?) throws -> ([UInt8], TSIGVerdict) {
            var q = makeQuery(id: 0x2222, name: "1.2.0.192.bl.example", type: 16, edns: edns)
            var client = key.signRequest(&q, now: 7000)
            let (r, _, _) = Self.answer(g, h, q, tsig: keys, now: 7001)
            return (r, client.verify(r, now: 7002))
        }
        let (small, v1) = try signed(edns: 512)
        #expect(v1 == .valid)
        #expect(small[2] & 0x02 != 0 && small[7] == 0, "TC=1, no answer records")
        #expect(small[2] & 0x04 != 0, "AA as the full answer has it")
        #expect(small.count <= 512)
        #expect(small[10] == 0 && small[11] == 2, "the OPT and the TSIG record")
        let opt = try #require(Self.read(small)).optOffset
        #expect(opt > 0 && small[opt + 1] == 0 && small[opt + 2] == 41)

        let (plain, v2) = try signed(edns: nil)
        #expect(v2 == .valid && plain[2] & 0x02 != 0 && plain[11] == 1 && plain.count <= 512)
        let (large, v3) = try signed(edns: 1232)
        #expect(v3 == .valid && large[2] & 0x02 == 0 && large[7] == 1 && large.count > 512)
    }

    @Test("RFC 3225 §3: the BADCOOKIE slip and the RFC 7873 §5.4 reply echo the DO bit, as every OPT we write")
    func cookieRepliesEchoDO() throws {
        let g = rrlGuard(rate: 1, slip: 1)
        let h = try opsResponder()
        let q = try Self.withDO(cookieQuery(id: 1, cookie: hexBytes("2464c4abcf10c957")))
        var actions: [QueryGuard.Action] = []
        var last: [UInt8] = []
        for _ in 0..<3 {
            let (r, _, a) = Self.answer(g, h, q, now: 100)
            actions.append(a)
            last = r
        }
        #expect(actions.contains(.badCookie), "\(actions)")
        #expect(fullRCode(last) == 23)
        let opt = try #require(Self.read(last)).optOffset
        #expect(last[opt + 7] & 0x80 != 0, "DO echoed in the BADCOOKIE reply")

        let cookieOnly = try Self.withDO(cookieQuery(id: 2, cookie: hexBytes("2464c4abcf10c957"), question: false))
        let (c, _, _) = Self.answer(QueryGuard(OperationsConfiguration(), udpPayloadSize: 1232), h, cookieOnly)
        #expect(c[3] & 0x0F == 0 && c[5] == 0 && c[11] == 1)
        let copt = try #require(Self.read(c)).optOffset
        #expect(c[copt + 7] & 0x80 != 0, "DO echoed in the §5.4 reply")
        #expect(responseCookie(c)?.count == 24)
    }

    @Test("a client the global ACL ignores gets nothing, even for a malformed cookie or a stale zone")
    func ignoreBeatsGuardAnswers() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let list = dir + "/list.txt", acl = dir + "/acl.txt"
        try "$SOA 3600 ns1.example.net hostmaster.example.org 1 7200 900 604800 300\n192.0.2.1 :2:listed $\n"
            .write(toFile: list, atomically: true, encoding: .utf8)
        try "198.51.100.100 :ignore\n".write(toFile: acl, atomically: true, encoding: .utf8)
        let compiled = Compiler.compile([ZoneSpec(zone: "bl.example", type: "ip4set", files: [list]),
                                         ZoneSpec(zone: "", type: "acl", files: [acl])])
        #expect(!compiled.hasErrors)
        let h = Responder(stores: [try Store(zones: compiled.zones)])
        let g = QueryGuard(OperationsConfiguration(), udpPayloadSize: 1232)
        let malformed = cookieQuery(id: 1, cookie: [UInt8](repeating: 7, count: 12))
        #expect(Self.answer(g, h, malformed).0.isEmpty)
        let other = ClientAddress(family: .ipv4, address: UInt128(0xC633_6465))
        #expect(fullRCode(Self.answer(g, h, malformed, client: other).0) == 1, "FORMERR for a client not ignored")
        g.setStaleZones([wireNameOps("bl.example")])
        #expect(Self.answer(g, h, makeQuery(id: 2, name: "1.2.0.192.bl.example")).0.isEmpty)
        #expect(Self.answer(g, h, makeQuery(id: 2, name: "1.2.0.192.bl.example"), client: other).2 == .staleRefused)
    }

    @Test("one size limit: UDP without EDNS 512, with EDNS the client's size capped by ours or the cookie ceiling, TCP 65535")
    func oneSizeLimit() {
        let e = EDNSInfo(udpPayloadSize: 4096, extendedRCode: 0, version: 0, dnssecOK: false, nsidRequested: false)
        let tiny = EDNSInfo(udpPayloadSize: 100, extendedRCode: 0, version: 0, dnssecOK: false, nsidRequested: false)
        #expect(Responder.sizeLimit(transport: .udp, edns: nil, ceiling: 4096, buffer: 65535) == 512)
        #expect(Responder.sizeLimit(transport: .udp, edns: e, ceiling: 1232, buffer: 65535) == 1232)
        #expect(Responder.sizeLimit(transport: .udp, edns: e, ceiling: 8192, buffer: 65535) == 4096)
        #expect(Responder.sizeLimit(transport: .udp, edns: tiny, ceiling: 1232, buffer: 65535) == 512)
        #expect(Responder.sizeLimit(transport: .udp, edns: e, ceiling: 100, buffer: 65535) == 512)
        #expect(Responder.sizeLimit(transport: .udp, edns: e, ceiling: 4096, buffer: 2000) == 2000)
        #expect(Responder.sizeLimit(transport: .tcp, edns: nil, ceiling: 1232, buffer: 65535) == 65535)
    }
}
