#if canImport(Glibc)
import Glibc
#endif
import Testing
import LDNSKit
import TestSupport

/// A response built byte by byte: the question of `query(name, type)` with QR and AA set, one
/// A record and one TXT record whose owners point at the question, and an OPT with `options`.
func handBuiltResponse(_ name: String, id: UInt16 = 0x1234, options: [(UInt16, [UInt8])] = []) -> [UInt8] {
    var m = query(name, 255, id: id, flags: 0x8500, edns: EDNS(size: 1232, dnssecOK: true, options: options))
    let optStart = 12 + wireName(name).count + 4
    let opt = Array(m[optStart...])
    m.removeSubrange(optStart...)
    m[7] = 2  // ANCOUNT
    m += [0xC0, 12, 0, 1, 0, 1, 0, 0, 0x08, 0x34, 0, 4, 127, 0, 0, 2]             // A 127.0.0.2, TTL 2100
    let text = Array("Listed, see https://bl.example/".utf8)
    m += [0xC0, 12, 0, 16, 0, 1, 0, 0, 0x08, 0x34, 0, UInt8(1 + text.count + 2), UInt8(text.count)] + text + [1, 0x21]
    return m + opt
}

struct PacketTests {
    @Test("RFC 1035 §4.1: header bits, counts, sections and records as libldns reads them")
    func parsesAHandBuiltResponse() throws {
        let p = try Packet(wire: handBuiltResponse("2.0.0.127.BL.example"))
        #expect(p.id == 0x1234 && p.qr && p.aa && p.rd && !p.tc && !p.ra && p.opcode == 0 && p.rcode == 0)
        #expect(p.qdcount == 1 && p.ancount == 2 && p.nscount == 0 && p.arcount == 1)
        #expect(p.question.count == 1 && p.question[0].type == 255)
        #expect(p.question[0].ownerWire == wireName("2.0.0.127.BL.example"), "the question's case is kept")
        #expect(p.answer.count == 2 && p.authority.isEmpty && p.additional.isEmpty)
        let a = p.answer[0], txt = p.answer[1]
        #expect(a.type == 1 && a.rrClass == 1 && a.ttl == 2100 && a.aValue == 0x7F00_0002)
        #expect(a.ownerWire == wireName("2.0.0.127.BL.example"), "the compression pointer is followed")
        #expect(a.rdataText == ["127.0.0.2"])
        #expect(txt.type == 16 && txt.aValue == nil)
        #expect(txt.txtStrings == [Array("Listed, see https://bl.example/".utf8), [0x21]])
        #expect(txt.txtJoined == "Listed, see https://bl.example/!")
        #expect(p.text.contains("127.0.0.2") && p.text.contains("NOERROR"))
    }

    @Test("RFC 6891 §6.1: the OPT is not a record of the additional section; its fields and options are read")
    func ednsFields() throws {
        let p = try Packet(wire: handBuiltResponse("bl.example", options: [(3, Array("ns1".utf8)), (10, [UInt8](1...8))]))
        #expect(p.hasOPT && p.additional.isEmpty)
        #expect(p.ednsUDPSize == 1232 && p.ednsVersion == 0 && p.ednsDO && p.extendedRCode == 0)
        let options = p.ednsOptions
        #expect(options.map(\.code) == [3, 10])
        #expect(options.first?.data == Array("ns1".utf8) && options.last?.data == [UInt8](1...8))
        #expect(!(try Packet(wire: query("bl.example", 1))).hasOPT)
    }

    @Test("RFC 6891 §6.1.3: the full RCODE joins the OPT's upper bits to the header's (BADVERS = 16)")
    func extendedRCode() throws {
        var m = query("bl.example", 1, flags: 0x8000, edns: EDNS())
        m[m.count - 6] = 1  // OPT TTL's first byte: extended RCODE 1 → 16 | header RCODE 0
        let p = try Packet(wire: m)
        #expect(p.rcode == 0 && p.extendedRCode == 16)
    }

    @Test("libldns refuses what is not a message", arguments: [
        [UInt8](), [0, 1, 2], Array(query("bl.example", 1).dropLast(3)),
    ])
    func rejectsGarbage(_ wire: [UInt8]) {
        #expect(throws: LDNSError.self) { try Packet(wire: wire) }
    }
}

struct ZoneFileTests {
    @Test("RFC 1035 §5: one RR from text to wire parts and back to text")
    func parseAndPresent() throws {
        let rr = try ZoneFile.parse("2.0.0.127.BL.example. 2100 IN TXT \"Listed\" \"again\"")
        #expect(rr.owner == wireName("2.0.0.127.bl.example"), "owners are lower-cased")
        #expect(rr.type == 16 && rr.rrClass == 1 && rr.ttl == 2100)
        #expect(rr.rdata == [6] + Array("Listed".utf8) + [5] + Array("again".utf8))
        let wire = rr.owner + [0, 16, 0, 1, 0, 0, 0x08, 0x34, 0, UInt8(rr.rdata.count)] + rr.rdata
        let text = try ZoneFile.presentation(wire: wire)
        #expect(text == "2.0.0.127.bl.example.\t2100\tIN\tTXT\t\"Listed\" \"again\"")
        let again = try ZoneFile.parse(text)
        #expect(again == rr)
    }

    @Test("presentation refuses RDATA that does not fill its RDLENGTH, and trailing bytes")
    func presentationRefusesBadWire() throws {
        let good = wireName("bl.example") + [0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 2]
        #expect(try ZoneFile.presentation(wire: good) == "bl.example.\t60\tIN\tA\t127.0.0.2")
        #expect(throws: LDNSError.self) { try ZoneFile.presentation(wire: Array(good.dropLast())) }
        #expect(throws: LDNSError.self) { try ZoneFile.presentation(wire: good + [0]) }
    }

    @Test("RDATA from text: names absolute and lower-cased, the type code returned")
    func rdata() throws {
        let mx = try RData.parse(type: "MX", text: "10 Mail.Example")
        #expect(mx.type == 15 && mx.rdata == [0, 10] + wireName("mail.example"))
        let aaaa = try RData.parse(type: "AAAA", text: "2001:db8::1")
        #expect(aaaa.type == 28 && aaaa.rdata == [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1])
        #expect(throws: LDNSError.self) { try RData.parse(type: "A", text: "192.0.2.256") }
    }

    @Test("a master file: the SOA first, then every other RR, $ORIGIN and $TTL applied")
    func loadZone() throws {
        let dir = TempDir()
        let path = dir.write("bl.example.zone", Array("""
            $ORIGIN bl.example.
            $TTL 2100
            @ 3600 IN SOA ns1 hostmaster 7 600 300 86400 300
            @ IN NS ns1
            2.0.0.127 IN A 127.0.0.2
            2.0.0.127 IN TXT "listed"

            """.utf8))
        let rrs = try ZoneFile.load(path: path)
        #expect(rrs.map(\.type) == [6, 2, 1, 16])
        #expect(rrs[0].ttl == 3600 && rrs[0].owner == wireName("bl.example"))
        #expect(rrs[2].ttl == 2100 && rrs[2].owner == wireName("2.0.0.127.bl.example") && rrs[2].rdata == [127, 0, 0, 2])
        let bad = dir.write("bad.zone", Array("$ORIGIN bl.example.\n@ 3600 IN SOA ns1 hostmaster 7 600 300 86400 300\nx IN A 300.0.0.1\n".utf8))
        #expect(throws: LDNSError.self) { try ZoneFile.load(path: bad) }
        #expect(throws: LDNSError.self) { try ZoneFile.load(path: dir.path + "/missing.zone") }
    }
}

struct TSIGTests {
    @Test("RFC 8945 §4.2: a request signed by libldns carries one TSIG record, last, owned by the key name")
    func signedRequestCarriesTSIG() throws {
        let signer = LDNSTSIG(keyName: "xfr.bl.example.", secret: "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=",
                              requestMAC: nil)
        let signed = try #require(signer.signRequest(query("bl.example", 252, flags: 0)))
        #expect(signed.mac.count == 32, "HMAC-SHA256")
        let p = try Packet(wire: signed.wire)
        #expect(p.arcount == 1 && p.additional.isEmpty, "libldns keeps the TSIG apart from the additional section")
        // Owner the key name (libldns compresses it against the question: `xfr` and a pointer),
        // TYPE TSIG, CLASS ANY, TTL 0 (RFC 8945 §4.2) …
        let w = signed.wire
        func contains(_ part: [UInt8]) -> Bool {
            w.indices.contains { i in i + part.count <= w.count && Array(w[i..<i + part.count]) == part }
        }
        #expect(contains([3] + Array("xfr".utf8) + [0xC0, 12, 0, 250, 0, 255, 0, 0, 0, 0]))
        // … and RDATA ending in MAC size, MAC, original ID, error 0, other length 0.
        #expect(Array(w.suffix(2 + 32 + 6)) == [0, 32] + signed.mac + [0x5A, 0x5A, 0, 0, 0, 0])
        // Another request gets another MAC (the ID and time are covered).
        let other = try #require(signer.signRequest(query("bl.example", 252, id: 1, flags: 0)))
        #expect(other.mac != signed.mac)
    }
}

struct ResolverTests {
    @Test("a server that is not an address literal is refused before anything is sent")
    func badServer() {
        #expect { _ = try Resolver(server: "ns1.bl.example", port: 53) } throws: { ($0 as? ResolverError)?.code == .badServer }
    }

    @Test("nothing listening: a network error, not a hang (UDP and TCP)", arguments: [false, true])
    func nothingListening(_ tcp: Bool) throws {
        let port = try freeLoopbackPort()
        let r = try Resolver(server: "127.0.0.1", port: port, timeout: 0.3, retries: 1, tcp: tcp)
        #expect { _ = try r.query(name: "2.0.0.127.bl.example", type: 1) } throws: { ($0 as? ResolverError)?.code == .network }
        #expect { _ = try r.query(name: "a..example", type: 1) } throws: { ($0 as? ResolverError)?.code == .badName }
    }
}

/// A loopback TCP port that was free a moment ago (bound to port 0, read back, closed).
private func freeLoopbackPort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var a = sockaddr_in()
    a.sin_family = sa_family_t(AF_INET)
    a.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let rc = withUnsafeMutablePointer(to: &a) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
    }
    try #require(rc, "bind/getsockname on 127.0.0.1:0 failed, errno \(errno)")
    return UInt16(bigEndian: a.sin_port)
}
