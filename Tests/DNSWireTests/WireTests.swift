import Testing
import DNSWire
import TestSupport

// DNSWire on its own: the query reader and the message writer.

@Suite("DNSWire reader and writer")
struct WireTests {
    func parse(_ q: [UInt8]) -> Result<ParsedQuery, WireError> {
        q.withUnsafeBytes { p in Result { () throws(WireError) in try DNSWire.parseQuery(p) } }
    }

    @Test func rfc1035_4_1_headerAndQuestion() throws {
        let q = query("A.b.Example", DNSType.txt, id: 0x1234, flags: DNSFlags.rd | DNSFlags.cd)
        let p = try parse(q).get()
        #expect(p.header.id == 0x1234 && p.header.qdCount == 1 && !p.header.isResponse && p.header.opcode == 0)
        #expect(p.header.flags == DNSFlags.rd | DNSFlags.cd)
        #expect(p.qnameOffset == 12 && p.qnameLength == 13 && p.labelCount == 3)
        #expect(p.qtype == DNSType.txt && p.qclass == DNSClass.in && p.questionEnd == q.count)
        #expect(p.edns == nil)
        let root = try parse(query(".", DNSType.ns)).get()
        #expect(root.qnameLength == 1 && root.labelCount == 0)
    }

    @Test func rfc6891_6_1_optFields() throws {
        let q = query("bl.example", DNSType.a, edns: EDNS(size: 4096, version: 0, dnssecOK: true,
                                                          options: [(10, [1, 2, 3, 4, 5, 6, 7, 8]), (3, [])]))
        let e = try #require(try parse(q).get().edns)
        #expect(e == EDNSInfo(udpPayloadSize: 4096, extendedRCode: 0, version: 0, dnssecOK: true, nsidRequested: true))
        let v1 = try #require(try parse(query("bl.example", DNSType.a, edns: EDNS(version: 1))).get().edns)
        #expect(v1.version == 1 && !v1.nsidRequested && !v1.dnssecOK)
    }

    @Test func rfc1035_4_1_4_readerRejectsMalformedInput() {
        var ptr = Array(query("bl.example", DNSType.a)[0..<12]); ptr += [2, 0x62, 0x6C, 0xC0, 12, 0, 1, 0, 1]
        if case .failure(let e) = parse(ptr) { #expect(e.code == .compressedQName && e.offset == 15) } else { Issue.record("accepted a pointer") }
        var qd2 = query("bl.example", DNSType.a); qd2[5] = 2
        #expect(parse(qd2).failure?.code == .questionCount)
        for cut in 12..<(query("bl.example", DNSType.a).count) {
            #expect(parse(Array(query("bl.example", DNSType.a)[0..<cut])).failure?.code == .truncated, "cut at \(cut)")
        }
        var trailing = query("bl.example", DNSType.a); trailing[11] = 1  // ARCOUNT 1, no record
        #expect(parse(trailing).failure?.code == .truncated)
    }

    @Test func rfc1035_4_1_4_skipNameStopsAtPointer() throws {
        let bytes: [UInt8] = [1, 0x61, 0xC0, 0x00, 0xFF]
        let end = try bytes.withUnsafeBytes { p throws(WireError) in try DNSWire.skipName(p, at: 0) }
        #expect(end == 4)
    }

    @Test func rfc2181_9_writerLimitAndRollback() {
        var storage = [UInt8](repeating: 0xEE, count: 64)
        storage.withUnsafeMutableBytes { buf in
            var w = MessageWriter(buffer: buf, limit: 20)
            let ok55 = w.header(id: 1, flags: 0x8000, qd: 1)
            #expect(ok55)
            #expect(w.count == 12)
            let m = w.mark
            let ok58 = w.u32(0xAABBCCDD)
            #expect(ok58)
            #expect(w.count == 16)
            let ok60 = w.u32(0x01020304)
            #expect(ok60)
            #expect(w.count == 20)
            let ok62 = w.u8(0)
            #expect(!ok62)  // full: nothing written
            #expect(w.count == 20)
            w.rollback(to: m)
            #expect(w.count == 12 && w.remaining == 8)
            #expect(w.get16(at: 0) == 1 && w.get16(at: 2) == 0x8000)
        }
    }

    @Test func rfc1035_4_1_4_namesWithPointersAndOPT() {
        var storage = [UInt8](repeating: 0, count: 128)
        storage.withUnsafeMutableBytes { buf in
            var w = MessageWriter(buffer: buf, limit: 128)
            let prefix: [UInt8] = [3, 0x6E, 0x73, 0x31]
            let ok75 = prefix.withUnsafeBytes { w.name(prefix: $0, pointerTarget: 12) }
            #expect(ok75)
            #expect(Array(buf[0..<6]) == [3, 0x6E, 0x73, 0x31, 0xC0, 12])
            let ok77 = prefix.withUnsafeBytes { w.name(prefix: $0, pointerTarget: nil) }
            #expect(ok77)
            #expect(Array(buf[6..<11]) == [3, 0x6E, 0x73, 0x31, 0])
            let id: [UInt8] = [0x61, 0x62]
            let ok80 = id.withUnsafeBytes { w.opt(udpPayloadSize: 1232, extendedRCode: 1, dnssecOK: true, nsid: $0) }
            #expect(ok80)
            #expect(Array(buf[11..<(11 + 17)]) == [0, 0, 41, 0x04, 0xD0, 1, 0, 0x80, 0, 0, 6, 0, 3, 0, 2, 0x61, 0x62])
            #expect(DNSWire.optSize(nsidLength: 2) == 17)
        }
    }
}

extension Result {
    var failure: Failure? { if case .failure(let e) = self { return e }; return nil }
}
