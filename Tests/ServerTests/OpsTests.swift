#if canImport(Glibc)
import Glibc
#endif
import DNSBL
@testable import DNSBLServer
import DNSWire
import Foundation
import Logging
import PrefixStore
import Testing
import TestSupport
import ServerTestSupport

/// bl.example and other.example, each listing 192.0.2.1 (A 127.0.0.2) with a TXT of
/// `txtLength` bytes (so a TXT answer can be made larger than 1232 bytes).
func twoZoneStore(txtLength: Int = 20, names: [String] = ["bl.example", "other.example"]) throws -> Store {
    func zone(_ name: String) -> ZoneInput {
        let txt = Array(String(repeating: "x", count: txtLength).utf8)
        let ds = DatasetInput(name: "t", type: "ip4trie", family: .ipv4, ttl: 2100,
                              values: [ListingValue(a: 0x7F00_0002, txt: txt)],
                              entries: [PrefixEntry(address: UInt128(0xC000_0201), prefixLength: 32, value: 0, origin: 1)],
                              created: nil, expires: nil)
        return ZoneInput(name: wireNameOps(name),
                         soa: SOAData(ttl: 3600, mname: wireNameOps("ns1." + name), rname: wireNameOps("hostmaster.example.org"),
                                      serial: 1, refresh: 7200, retry: 1800, expire: 1209600, minimum: 300),
                         nsTTL: 86400, ns: [wireNameOps("ns1." + name)], datasets: [ds])
    }
    return try Store(zones: names.map(zone))
}

@Suite("Operations: queries by zone", .serialized)
struct ZoneMetricsTests {
    @Test("the answer outcome names the zone that answered; -1 for no zone")
    func outcomeZone() throws {
        let responder = Responder(stores: [try twoZoneStore()])
        #expect(responder.zoneNames == [wireNameOps("bl.example"), wireNameOps("other.example")])
        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 65535, alignment: 8)
        defer { out.deallocate() }
        func zone(_ name: String, _ type: UInt16 = 1) -> Int32 {
            makeQuery(id: 1, name: name, type: type).withUnsafeBytes { responder.respond(to: $0, transport: .udp, into: out).zone }
        }
        #expect(zone("1.2.0.192.bl.example") == 0)
        #expect(zone("9.9.0.192.BL.EXAMPLE") == 0, "NXDOMAIN in the zone still names it")
        #expect(zone("other.example", DNSType.soa) == 1)
        #expect(zone("1.2.0.192.other.example") == 1)
        #expect(zone("1.2.0.192.example.net") == -1, "REFUSED out of zone")
        var chaos = makeQuery(id: 2, name: "version.bind", type: DNSType.txt)
        chaos[chaos.count - 1] = 3
        #expect(chaos.withUnsafeBytes { responder.respond(to: $0, transport: .udp, into: out).zone } == -1)
    }

    @Test("zone slots follow names across reloads that reorder or add zones")
    func slotsStableAcrossReloads() throws {
        let metrics = ServerMetrics(logger: Logger(label: "test"))
        let block = metrics.makeBlock()
        let a = Responder(stores: [try twoZoneStore()])
        let first = Snapshot(responder: a, entryCount: 2, generation: 1)
        block.use(first)
        var o = AnswerOutcome()
        o.length = 12
        o.zone = 1  // other.example
        block.record(o, .answered, transport: .udp)
        // Generation 2 serves other.example first: index 0 is now other.example.
        let reordered = try twoZoneStore(names: ["other.example", "bl.example"])
        let second = Snapshot(responder: Responder(stores: [reordered]), entryCount: 2, generation: 2)
        block.use(second)
        o.zone = 0
        block.record(o, .answered, transport: .tcp)
        let text = metrics.exposition()
        #expect(sample(text, #"prefixbl_zone_responses_total{zone="other.example",transport="udp",rcode="NOERROR"}"#) == 1)
        #expect(sample(text, #"prefixbl_zone_responses_total{zone="other.example",transport="tcp",rcode="NOERROR"}"#) == 1)
        #expect(sample(text, #"prefixbl_zone_responses_total{zone="bl.example",transport="tcp",rcode="NOERROR"}"#) == 0)
    }

    @Test("scripted queries to two zones over UDP and TCP are counted per zone, scraped over HTTP, and in --stats")
    func scriptedTwoZones() async throws {
        let (server, http, metrics) = try await startWithMetrics([try twoZoneStore()]) { $0.tcpThreads = 1 }
        defer { Task { await http.stop(); await server.stop() } }
        let dns = try #require(server.udpAddresses.first)

        // bl.example: 2 NOERROR + 1 NXDOMAIN over UDP, 1 NOERROR over TCP.
        // other.example: 1 NOERROR + 2 NXDOMAIN over UDP. No zone: 1 REFUSED over UDP.
        var id: UInt16 = 0
        func ask(_ name: String) throws {
            id += 1
            #expect(try udpQuery(dns, makeQuery(id: id, name: name)) != nil, "\(name)")
        }
        try ask("1.2.0.192.bl.example"); try ask("1.2.0.192.bl.example"); try ask("9.9.0.192.bl.example")
        try ask("1.2.0.192.other.example"); try ask("8.9.0.192.other.example"); try ask("7.9.0.192.other.example")
        try ask("1.2.0.192.example.net")
        let tcp = try TestSocket(tcp: try #require(server.tcpAddresses.first))
        try tcp.send(framed(makeQuery(id: 99, name: "1.2.0.192.bl.example", type: DNSType.txt)))
        #expect(tcp.receiveFramed().flatMap(parseResponse)?.id == 99)

        let metricsAddress = try #require(http.boundAddress)
        let page = try #require(try httpGet(metricsAddress, "/metrics"))
        #expect(page.status == 200)
        let m = page.body
        func z(_ zone: String, _ transport: String, _ rcode: String) -> Double {
            sample(m, "prefixbl_zone_responses_total{zone=\"\(zone)\",transport=\"\(transport)\",rcode=\"\(rcode)\"}")
        }
        #expect(z("bl.example", "udp", "NOERROR") == 2)
        #expect(z("bl.example", "udp", "NXDOMAIN") == 1)
        #expect(z("bl.example", "tcp", "NOERROR") == 1)
        #expect(z("other.example", "udp", "NOERROR") == 1)
        #expect(z("other.example", "udp", "NXDOMAIN") == 2)
        #expect(z("other.example", "tcp", "NOERROR") == 0)
        #expect(z("none", "udp", "REFUSED") == 1)
        // The totals without the zone label still add up.
        #expect(sample(m, #"prefixbl_responses_total{transport="udp",rcode="NXDOMAIN"}"#) == 3)

        let stats = metrics.statsLine()
        #expect(stats["zones"]?.description == "none=1 bl.example=4 other.example=3")
        await http.stop()
        await server.stop()
    }
}

/// A cookie query for `name` TXT with EDNS payload `size`.
func txtCookieQuery(id: UInt16, cookie: [UInt8]?, size: UInt16) -> [UInt8] {
    cookieQuery(id: id, name: "1.2.0.192.bl.example", type: DNSType.txt, cookie: cookie, size: size)
}

@Suite("Operations: cookie holders get large UDP answers (RFC 7873 §5.2)", .serialized)
struct CookieUDPSizeTests {
    @Test("a TXT answer that truncates at 1232 without a valid server cookie arrives whole over UDP with one")
    func largeAnswerWithCookie() async throws {
        // About 1,700 bytes of TXT: over --udp-payload 1232, under --cookie-udp-payload 4096.
        let responder = Responder(stores: [try twoZoneStore(txtLength: 1700)])
        let server = try await startServer(handler: responder) { $0.operations.cookieSecret = rfcSecret }
        defer { Task { await server.stop() } }
        let dns = server.udpAddresses[0]
        let clientCookie = hexBytes("2464c4abcf10c957")

        // No cookie at all: TC=1, empty answer, within 1232 bytes.
        let plain = try #require(try udpQuery(dns, txtCookieQuery(id: 1, cookie: nil, size: 4096)))
        #expect(parseResponse(plain)?.truncated == true)
        #expect(parseResponse(plain)?.answerCount == 0)
        #expect(plain.count <= 1232)

        // A client cookie alone (no valid server cookie yet): still TC, and it learns one.
        let first = try #require(try udpQuery(dns, txtCookieQuery(id: 2, cookie: clientCookie, size: 4096)))
        #expect(parseResponse(first)?.truncated == true)
        let full = try #require(responseCookie(first))
        #expect(full.count == 24 && Array(full.prefix(8)) == clientCookie)

        // With the valid server cookie: the whole answer over UDP.
        let big = try #require(try udpQuery(dns, txtCookieQuery(id: 3, cookie: full, size: 4096)))
        let p = try #require(parseResponse(big))
        #expect(!p.truncated)
        #expect(p.answerCount == 1)
        #expect(big.count > 1232 && big.count <= 4096, "\(big.count) bytes")
        #expect(responseCookie(big).map { Array($0.prefix(8)) } == clientCookie)
        let bigQuery = txtCookieQuery(id: 3, cookie: full, size: 4096)
        let problem = big.withUnsafeBytes { r in bigQuery.withUnsafeBytes { MessageCheck.response(r, to: $0, sizeLimit: 4096) } }
        #expect(problem == nil)

        // The client's own EDNS size still caps it.
        let small = try #require(try udpQuery(dns, txtCookieQuery(id: 4, cookie: full, size: 1232)))
        #expect(parseResponse(small)?.truncated == true)
        #expect(small.count <= 1232)
        // A forged server cookie gets no more than the plain limit.
        var forged = full; forged[20] ^= 0xFF
        let bad = try #require(try udpQuery(dns, txtCookieQuery(id: 5, cookie: forged, size: 4096)))
        #expect(parseResponse(bad)?.truncated == true)
        await server.stop()
    }

    @Test("--cookie-udp-payload caps what a cookie holder gets")
    func cookieCeiling() async throws {
        let responder = Responder(stores: [try twoZoneStore(txtLength: 1700)])
        let server = try await startServer(handler: responder) {
            $0.operations.cookieSecret = rfcSecret
            $0.operations.cookieUDPPayloadSize = 1400
        }
        defer { Task { await server.stop() } }
        let dns = server.udpAddresses[0]
        let first = try #require(try udpQuery(dns, txtCookieQuery(id: 1, cookie: hexBytes("0102030405060708"), size: 4096)))
        let full = try #require(responseCookie(first))
        let r = try #require(try udpQuery(dns, txtCookieQuery(id: 2, cookie: full, size: 4096)))
        #expect(parseResponse(r)?.truncated == true)
        #expect(r.count <= 1400)
        await server.stop()
    }

    @Test("the Responder honours a per-query UDP ceiling without allocating a different path")
    func responderCeiling() throws {
        let responder = Responder(stores: [try twoZoneStore(txtLength: 1700)])
        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 65535, alignment: 8)
        defer { out.deallocate() }
        let q = makeQuery(id: 1, name: "1.2.0.192.bl.example", type: DNSType.txt, edns: 4096)
        let normal = q.withUnsafeBytes { responder.respond(to: $0, transport: .udp, client: .unknown, into: out) }
        #expect(normal.truncated && normal.length <= 1232)
        let raised = q.withUnsafeBytes { responder.respond(to: $0, transport: .udp, client: .unknown, udpPayloadLimit: 4096, into: out) }
        #expect(!raised.truncated && raised.length > 1232 && raised.answerCount == 1)
        // The advertised payload size stays ours (1232).
        let optSize = UnsafeRawBufferPointer(out).readU16(at: raised.length - 11 + 3)
        #expect(optSize == 1232)
    }
}

@Suite("Operations: datagrams larger than the receive buffer", .serialized)
struct OversizedDatagramTests {
    @Test("a 5000-byte datagram gets a header-only FORMERR (a response gets silence), is counted, and the server keeps answering")
    func oversized() async throws {
        let metrics = ServerMetrics(logger: Logger(label: "test"))
        var config = ServerConfiguration(listen: [try ListenAddress(parsing: "127.0.0.1:0")], threads: 1)
        config.udpThreads = 1
        let server = DNSServer(configuration: config, holder: SnapshotHolder(Snapshot(responder: Responder(stores: [bundledStore]), entryCount: 1)),
                               logger: Logger(label: "test"), metrics: metrics)
        metrics.server = server
        try await server.start()
        defer { Task { await server.stop() } }
        let s = try TestSocket(udp: server.udpAddresses[0], timeout: 1)
        // A well-formed query padded to 5000 bytes: the receive slot holds 4096.
        let q = healthQuery(id: 0x5151)
        try s.send(q + [UInt8](repeating: 0, count: 5000 - q.count))
        let r = try #require(s.receiveDatagram())
        #expect(r.count == 12)
        #expect(r[0] == 0x51 && r[1] == 0x51)
        #expect(r[2] & 0x80 != 0, "QR")
        #expect(r[2] & 0x01 != 0, "RD echoed")
        #expect(r[3] & 0x0F == 1, "FORMERR")
        #expect(r[4...11].allSatisfy { $0 == 0 }, "no question, no records")
        // An oversized response (QR=1) is never answered: the health answer comes first.
        var resp = q; resp[2] |= 0x80
        try s.send(resp + [UInt8](repeating: 0, count: 5000 - resp.count))
        try s.send(healthQuery(id: 0x5252))
        #expect(isHealthy(s.receiveDatagram(), id: 0x5252))
        let text = metrics.exposition()
        #expect(sample(text, "prefixbl_udp_oversized_total") == 2)
        #expect(sample(text, #"prefixbl_responses_total{transport="udp",rcode="FORMERR"}"#) == 1)
        await server.stop()
    }

    @Test("the oversized reply needs the whole 12-byte header")
    func headerOnly() {
        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 512, alignment: 8)
        defer { out.deallocate() }
        let short: [UInt8] = [1, 2, 1, 0, 0, 1, 0, 0, 0, 0, 0]
        #expect(short.withUnsafeBytes { UDPServer.oversizedReply(to: $0, into: out).length } == 0)
        let header: [UInt8] = [1, 2, 0x79, 0, 0, 1, 0, 0, 0, 0, 0, 0]  // opcode 15, RD
        let o = header.withUnsafeBytes { UDPServer.oversizedReply(to: $0, into: out) }
        #expect(o.length == 12 && o.rcode == 1)
        #expect(out[2] == 0x80 | 0x79 && out[3] == 1)
    }
}

@Suite("Operations: TCP slow clients and the connection cap (RFC 7766 §6.2.3)", .serialized)
struct TCPSlotTests {
    @Test("a client dribbling one byte inside the idle timeout is closed at the message timeout")
    func dribbler() async throws {
        let server = try await startServer(handler: Responder(stores: [bundledStore])) {
            $0.tcpIdleTimeout = 2
            $0.tcpMessageTimeout = 1
            $0.tcpMaxConnections = 2
            $0.tcpThreads = 1
        }
        defer { Task { await server.stop() } }
        let slow = try TestSocket(tcp: server.tcpAddresses[0], timeout: 0.4)
        let message = framed(healthQuery(id: 9))
        let started = Date()
        var closedAfter: Double? = nil
        // One byte every 0.4 s (well inside the 2 s idle timeout) would take 14 s to finish.
        for b in message {
            _ = [b].withUnsafeBytes { send(slow.fd, $0.baseAddress, 1, Int32(MSG_NOSIGNAL)) }
            var byte: UInt8 = 0
            let n = recv(slow.fd, &byte, 1, 0)
            if n == 0 || (n < 0 && errno == ECONNRESET) { closedAfter = Date().timeIntervalSince(started); break }
        }
        let after = try #require(closedAfter, "the dribbler was never closed")
        #expect(after >= 0.9 && after < 1.9, "closed after \(after) s")
        #expect(server.tcpMessageTimeouts == 1)
        // A client whose messages arrive whole is not affected, even when it idles in between.
        let normal = try TestSocket(tcp: server.tcpAddresses[0], timeout: 2)
        for i in 0..<3 {
            try normal.send(framed(healthQuery(id: UInt16(30 + i))))
            #expect(isHealthy(normal.receiveFramed(), id: UInt16(30 + i)))
            usleep(600_000)
        }
        #expect(server.tcpMessageTimeouts == 1)
        await server.stop()
    }

    @Test("at a cap of 2, a new connection closes the one idle longest and is answered")
    func evictIdlest() async throws {
        let server = try await startServer(handler: Responder(stores: [bundledStore])) {
            $0.tcpIdleTimeout = 30
            $0.tcpMaxConnections = 2
        }
        defer { Task { await server.stop() } }
        let a = server.tcpAddresses[0]
        let oldest = try TestSocket(tcp: a, timeout: 2)
        try oldest.send(framed(healthQuery(id: 1)))
        #expect(isHealthy(oldest.receiveFramed(), id: 1))
        usleep(100_000)
        let recent = try TestSocket(tcp: a, timeout: 2)
        try recent.send(framed(healthQuery(id: 2)))
        #expect(isHealthy(recent.receiveFramed(), id: 2))
        usleep(100_000)
        let newcomer = try TestSocket(tcp: a, timeout: 2)
        try newcomer.send(framed(healthQuery(id: 3)))
        #expect(isHealthy(newcomer.receiveFramed(), id: 3))
        #expect(oldest.waitForClose())
        try recent.send(framed(healthQuery(id: 4)))
        #expect(isHealthy(recent.receiveFramed(), id: 4))
        #expect(server.tcpEvictions == 1)
        #expect(server.tcpConnectionCount == 2)
        await server.stop()
    }
}

@Suite("Operations: a port held by another process", .serialized)
struct PortInUseTests {
    @Test("the server refuses a UDP port another socket holds with SO_REUSEPORT, naming address and port")
    func udpHeldWithReusePort() async throws {
        // Another process's socket, as another server would hold it (same user, SO_REUSEPORT).
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var one: Int32 = 1
        #expect(setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<Int32>.size)) == 0)
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        #expect(rc == 0)
        defer { close(fd) }
        let port = try boundPort(fd)
        let config = ServerConfiguration(listen: [try ListenAddress(host: "127.0.0.1", port: port)], threads: 1)
        let server = DNSServer(configuration: config, holder: SnapshotHolder(Snapshot(handler: StubHandler(), entryCount: 1)),
                               logger: Logger(label: "test"))
        do {
            try await server.start()
            Issue.record("start succeeded on a held port")
            await server.stop()
        } catch let e as ServerError {
            #expect(e.code == .bind)
            #expect(e.reason.contains("UDP bind 127.0.0.1:\(port): address 127.0.0.1 port \(port) is already in use"), "\(e)")
        }
    }

    @Test("a second prefixbl serve on the same port exits non-zero naming the address and port; port 0 still works")
    func secondServe() throws {
        let binary = try #require(prefixblBinary(), "the prefixbl binary is built with the tests")
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let root = repositoryRoot()
        let spec = "bl.example:ip4set:\(root)/zones/bl.example.ip4set"
        let first = try ServeProcess([spec], directory: dir, ipv6: false)
        let port = first.v4.port
        let second = try run(binary, ["serve", "--listen", "127.0.0.1:\(port)", "--threads", "1", spec], timeout: 20)
        #expect(second.status != 0)
        #expect(second.output.contains("address 127.0.0.1 port \(port) is already in use by another process"), "\(second.output)")
        // The first still answers.
        #expect(try udpQuery(first.v4, makeQuery(id: 7, name: "2.0.0.127.bl.example")) != nil)
        first.child.signal(SIGKILL)
        _ = first.child.waitExit()
    }
}
