#if canImport(Glibc)
import Glibc
#endif
import DNSBL
@testable import DNSBLServer
import DNSWire
import PrefixStore
import Testing
import ServerTestSupport
import TestSupport

func wireNameOps(_ s: String) -> [UInt8] {
    var o: [UInt8] = []
    for l in s.split(separator: ".") { o.append(UInt8(l.utf8.count)); o += Array(l.utf8) }
    o.append(0)
    return o
}

/// A query with an OPT (payload `size`) holding `cookie` (raw COOKIE option data), or no
/// COOKIE option when `cookie` is nil; `question: false` makes QDCOUNT 0 (RFC 7873 §5.4).
func cookieQuery(id: UInt16, name: String = "1.2.0.192.bl.example", type: UInt16 = 1,
                 cookie: [UInt8]?, size: UInt16 = 1232, question: Bool = true, version: UInt8 = 0) -> [UInt8] {
    var m: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0x01, 0, 0, question ? 1 : 0, 0, 0, 0, 0, 0, 1]
    if question { m += wireNameOps(name) + [UInt8(type >> 8), UInt8(type & 0xFF), 0, 1] }
    let opts: [UInt8] = cookie.map { [0, 10, UInt8($0.count >> 8), UInt8($0.count & 0xFF)] + $0 } ?? []
    m += [0, 0, 41, UInt8(size >> 8), UInt8(size & 0xFF), 0, version, 0, 0, UInt8(opts.count >> 8), UInt8(opts.count & 0xFF)] + opts
    return m
}

/// The COOKIE option data of a response, or nil.
func responseCookie(_ r: [UInt8]) -> [UInt8]? {
    r.withUnsafeBytes { b -> [UInt8]? in
        var none = IgnoreLabels()
        guard case .success(let p) = DNSWire.readMessage(b, labels: &none), p.hasCookie else { return nil }
        return Array(b[p.cookieOffset..<p.cookieOffset + p.cookieLength])
    }
}

/// Full RCODE of a response (header bits plus the OPT's extended bits).
func fullRCode(_ r: [UInt8]) -> Int {
    var rc = Int(r[3] & 0x0F)
    r.withUnsafeBytes { b in
        // The OPT's TTL starts 5 bytes after its root owner; its top byte is the extended RCODE.
        var none = IgnoreLabels()
        if case .success(let p) = DNSWire.readMessage(b, labels: &none), p.optOffset >= 0 {
            rc |= Int(b[p.optOffset + 5]) << 4
        }
    }
    return rc
}

/// A real responder serving bl.example with 192.0.2.1 listed (A 127.0.0.2, TXT).
/// `created`: the dataset's `$TIMESTAMP` creation time (Unix seconds), if any.
func opsResponder(created: UInt64? = nil) throws -> Responder {
    let ds = DatasetInput(name: "t", type: "ip4trie", family: .ipv4, ttl: 2100,
                          values: [ListingValue(a: 0x7F00_0002, txt: Array("listed $".utf8))],
                          entries: [PrefixEntry(address: UInt128(0xC000_0201), prefixLength: 32, value: 0, origin: 1)],
                          created: created, expires: nil)
    let z = ZoneInput(name: wireNameOps("bl.example"),
                      soa: SOAData(ttl: 3600, mname: wireNameOps("ns1.bl.example"), rname: wireNameOps("hostmaster.example.org"),
                                   serial: 2026113001, refresh: 7200, retry: 1800, expire: 1209600, minimum: 300),
                      nsTTL: 86400, ns: [wireNameOps("ns1.bl.example")], datasets: [ds])
    return Responder(stores: [try Store(zones: [z])])
}

/// The answer of the query pipeline (guard `g`, `h` answering, no TSIG) to `q`.
func guardAnswer(_ g: QueryGuard, _ h: Responder, _ q: [UInt8], client: ClientAddress,
                 transport: Transport = .udp, now: UInt32) -> ([UInt8], QueryGuard.Action) {
    let (r, _, action) = PipelineTests.answer(g, h, q, client: client, transport: transport, now: now)
    return (r, action)
}

let rfcSecret = hexBytes("e5e973e5a6b2a43f48e7dc849e37bfcf")
let client198 = ClientAddress(family: .ipv4, address: UInt128(0xC633_6464))  // 198.51.100.100

@Suite("DNS Cookies through the query guard (RFC 7873, RFC 9018)")
struct CookieTests {
    @Test("rfc7873_5_2_3: client cookie only → normal answer with our fresh server cookie")
    func clientCookieOnly() throws {
        let g = QueryGuard({ var o = OperationsConfiguration(); o.cookieSecret = rfcSecret; return o }(), udpPayloadSize: 1232)
        let (r, action) = guardAnswer(g, try opsResponder(), cookieQuery(id: 1, cookie: hexBytes("2464c4abcf10c957")),
                                      client: client198, now: 1559731985)
        #expect(action == .answered)
        #expect(r[3] & 0x0F == 0)
        #expect(r[7] == 1, "one A record")
        #expect(hexString(try #require(responseCookie(r))) == "2464c4abcf10c957010000005cf79f111f8130c3eee29480")
    }

    @Test("rfc7873_5_2_4: a valid server cookie is accepted and renewed; a wrong or stale one gets a fresh cookie")
    func serverCookieValidity() throws {
        let g = QueryGuard({ var o = OperationsConfiguration(); o.cookieSecret = rfcSecret; return o }(), udpPayloadSize: 1232)
        let h = try opsResponder()
        let full = hexBytes("2464c4abcf10c957010000005cf79f111f8130c3eee29480")
        // A.2: forty minutes later the cookie is still valid and renewed.
        let (r, _) = guardAnswer(g, h, cookieQuery(id: 2, cookie: full), client: client198, now: 1559734385)
        #expect(r[7] == 1)
        #expect(hexString(try #require(responseCookie(r))) == "2464c4abcf10c957010000005cf7a871d4a564a1442aca77")
        let valid = full.withUnsafeBytes { b in
            client198.withNetworkBytes { ip in
                ServerCookieMaker(secret: rfcSecret).isValid(
                    clientCookie: UnsafeRawBufferPointer(rebasing: b[0..<8]),
                    serverCookie: UnsafeRawBufferPointer(rebasing: b[8..<24]), clientIP: ip, now: 1559734385)
            }
        }
        #expect(valid)
        let maker = ServerCookieMaker(secret: rfcSecret)
        func check(_ c: [UInt8], _ client: ClientAddress, _ now: UInt32) -> Bool {
            c.withUnsafeBytes { b in client.withNetworkBytes { ip in
                maker.isValid(clientCookie: UnsafeRawBufferPointer(rebasing: b[0..<8]),
                              serverCookie: UnsafeRawBufferPointer(rebasing: b[8..<b.count]), clientIP: ip, now: now) } }
        }
        #expect(!check(full, client198, 1559731985 + 3601), "older than an hour: stale")
        #expect(!check(full, client198, 1559731985 - 301), "more than 5 minutes in the future")
        #expect(check(full, client198, 1559731985 - 299))
        #expect(!check(full, ClientAddress(family: .ipv4, address: UInt128(0xC633_6465)), 1559731985), "another client address")
        var tampered = full; tampered[23] ^= 1
        #expect(!check(tampered, client198, 1559731985), "hash altered")
        // A stale cookie still gets a normal answer and a fresh cookie (§5.2.4 → §5.2.3).
        let (r2, a2) = guardAnswer(g, h, cookieQuery(id: 3, cookie: full), client: client198, now: 1559731985 + 7200)
        #expect(a2 == .answered)
        #expect(r2[7] == 1)
        let fresh = try #require(responseCookie(r2))
        #expect(check(fresh, client198, 1559731985 + 7200))
    }

    @Test("rfc7873_5_2_2: COOKIE option lengths other than 8 and 16…40 are FORMERR")
    func malformedCookie() throws {
        let g = QueryGuard(OperationsConfiguration(), udpPayloadSize: 1232)
        let h = try opsResponder()
        for len in [0, 7, 9, 15, 41] {
            let (r, _) = guardAnswer(g, h, cookieQuery(id: 4, cookie: [UInt8](repeating: 7, count: len)),
                                     client: client198, now: 1000)
            #expect(r.count >= 12 && r[3] & 0x0F == 1, "length \(len)")
        }
        for len in [8, 16, 40] {
            let (r, _) = guardAnswer(g, h, cookieQuery(id: 5, cookie: [UInt8](repeating: 7, count: len)),
                                     client: client198, now: 1000)
            #expect(r[3] & 0x0F == 0, "length \(len)")
        }
    }

    @Test("rfc7873_5_4: QDCOUNT 0 with a COOKIE gets NOERROR and a server cookie; without one FORMERR")
    func cookieOnlyQuery() throws {
        let g = QueryGuard({ var o = OperationsConfiguration(); o.cookieSecret = rfcSecret; return o }(), udpPayloadSize: 1232)
        let h = try opsResponder()
        let (r, _) = guardAnswer(g, h, cookieQuery(id: 6, cookie: hexBytes("2464c4abcf10c957"), question: false),
                                 client: client198, now: 1559731985)
        #expect(r[3] & 0x0F == 0)
        #expect(r[5] == 0 && r[7] == 0 && r[11] == 1)
        #expect(hexString(try #require(responseCookie(r))) == "2464c4abcf10c957010000005cf79f111f8130c3eee29480")
        let (f, _) = guardAnswer(g, h, cookieQuery(id: 7, cookie: nil, question: false), client: client198, now: 1)
        #expect(f[3] & 0x0F == 1)
    }

    @Test("rfc6891_6_1_3: QDCOUNT 0 with EDNS version 1 is BADVERS with an OPT of version 0, cookie or not")
    func cookieOnlyQueryOfAnotherVersion() throws {
        let g = QueryGuard({ var o = OperationsConfiguration(); o.cookieSecret = rfcSecret; return o }(), udpPayloadSize: 1232)
        let h = try opsResponder()
        for cookie in [hexBytes("2464c4abcf10c957"), nil] {
            let (r, _) = guardAnswer(g, h, cookieQuery(id: 8, cookie: cookie, question: false, version: 1),
                                     client: client198, now: 1559731985)
            #expect(fullRCode(r) == 16, "\(cookie.map(hexString) ?? "no cookie")")
            #expect(r[5] == 0 && r[7] == 0 && r[11] == 1, "no question, no answer, the OPT")
            #expect(responseCookie(r) == nil, "BADVERS comes before the cookie (RFC 7873 §5.2 is for version 0)")
        }
    }

    @Test("no OPT or no COOKIE: answers are byte-identical to the responder's own")
    func noCookieUntouched() throws {
        let g = QueryGuard(OperationsConfiguration(), udpPayloadSize: 1232)
        let h = try opsResponder()
        for q in [cookieQuery(id: 8, cookie: nil), makeQuery(id: 9, name: "1.2.0.192.bl.example")] {
            let (r, _) = guardAnswer(g, h, q, client: client198, now: 1)
            let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 65535, alignment: 8)
            defer { out.deallocate() }
            let o = q.withUnsafeBytes { h.respond(to: $0, transport: .udp, into: out) }
            #expect(r == Array(out[0..<o.length]))
        }
    }

    @Test("BADVERS wins over cookie processing")
    func badVersFirst() throws {
        let g = QueryGuard(OperationsConfiguration(), udpPayloadSize: 1232)
        let (r, _) = guardAnswer(g, try opsResponder(), cookieQuery(id: 10, cookie: hexBytes("2464c4abcf10c957"), version: 1),
                                 client: client198, now: 1)
        #expect(r.count > 12)
        #expect(responseCookie(r) == nil)
    }
}

@Suite("DNS Cookies over loopback", .serialized)
struct CookieLoopbackTests {
    @Test("a cookie learned over UDP is valid over TCP and UDP from the same address, not from another")
    func learnOverUDPUseOverTCP() async throws {
        let server = try await startServer(handler: try opsResponder()) { c in
            c.operations.cookieSecret = rfcSecret
            c.operations.rrl = RRLSettings(rate: 1, slip: 0)
        }
        defer { Task { await server.stop() } }
        let v4 = try #require(server.udpAddresses.first { $0.family == .ipv4 })
        let first = try #require(try udpQuery(v4, cookieQuery(id: 1, cookie: hexBytes("0102030405060708"))))
        let cookie = try #require(responseCookie(first))
        #expect(cookie.count == 24)
        #expect(Array(cookie[0..<8]) == hexBytes("0102030405060708"))
        // Over TCP the same cookie is echoed back renewed.
        let tcpAddress = try #require(server.tcpAddresses.first { $0.family == .ipv4 })
        let tcp = try TestSocket(tcp: tcpAddress)
        try tcp.send(framed(cookieQuery(id: 2, cookie: cookie)))
        let viaTCP = try #require(tcp.receiveFramed())
        #expect(viaTCP[7] == 1)
        #expect(Array(try #require(responseCookie(viaTCP))[0..<8]) == hexBytes("0102030405060708"))
        // With RRL at 1/s and slip 0, only the valid cookie keeps UDP answers coming.
        var answered = 0
        for i in 0..<10 {
            if let r = try udpQuery(v4, cookieQuery(id: UInt16(10 + i), cookie: cookie), timeout: 0.3, retries: 0), r[7] == 1 { answered += 1 }
        }
        #expect(answered == 10)
        var withoutCookie = 0
        for i in 0..<10 {
            if try udpQuery(v4, cookieQuery(id: UInt16(30 + i), cookie: nil), timeout: 0.2, retries: 0) != nil { withoutCookie += 1 }
        }
        #expect(withoutCookie <= 2, "without a cookie the flood is limited (\(withoutCookie) answered)")
        await server.stop()
    }
}
