#if canImport(Glibc)
import Glibc
#endif
import DNSBL
@testable import DNSBLServer
import DNSWire
import Foundation
import Testing
import ServerTestSupport
import TestSupport

func rrlGuard(rate: Int, slip: Int) -> QueryGuard {
    var o = OperationsConfiguration()
    o.cookieSecret = rfcSecret
    o.rrl = RRLSettings(rate: rate, slip: slip)
    return QueryGuard(o, udpPayloadSize: 1232)
}

/// A UDP client socket bound to `source` (e.g. 127.0.1.1, another /24 than 127.0.0.1) and
/// connected to `server`.
final class BoundUDPClient {
    let fd: Int32
    init(source: String, server: ListenAddress, timeout: Double) throws {
        fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw TestError.failed("socket: \(errno)") }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, source, &sin.sin_addr)
        let rc = withUnsafePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { throw TestError.failed("bind \(source): \(errno)") }
        guard withSockaddr(server, { connect(fd, $0, $1) }) == 0 else { throw TestError.failed("connect: \(errno)") }
    }
    deinit { close(fd) }
    func send(_ b: [UInt8]) { _ = b.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) } }
    func receive() -> [UInt8]? {
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n > 0 ? Array(buf[0..<n]) : nil
    }
}

@Suite("Response rate limiting", .serialized)
struct RRLTests {
    @Test("identical responses to one /24 are limited to the rate, every 2nd limited one slipped with TC=1")
    func bucketAndSlip() throws {
        let g = rrlGuard(rate: 5, slip: 2)
        let h = try opsResponder()
        let a = ClientAddress(family: .ipv4, address: UInt128(0xC000_020A))   // 192.0.2.10
        let a2 = ClientAddress(family: .ipv4, address: UInt128(0xC000_02FE))  // same /24
        let b = ClientAddress(family: .ipv4, address: UInt128(0xC633_640A))   // 198.51.100.10
        var actions: [QueryGuard.Action] = []
        for i in 0..<20 {
            let (r, act) = guardAnswer(g, h, makeQuery(id: UInt16(i), name: "1.2.0.192.bl.example"),
                                       client: i % 2 == 0 ? a : a2, now: 100)
            actions.append(act)
            if act == .rrlSlipped {
                #expect(r[2] & 0x02 != 0, "slip is TC=1")
                #expect(r[7] == 0 && r[9] == 0, "slip carries no records")
            }
            if act == .rrlDropped { #expect(r.isEmpty) }
        }
        #expect(actions.filter { $0 == .answered }.count == 5)
        #expect(actions.filter { $0 == .rrlSlipped }.count == 7)
        #expect(actions.filter { $0 == .rrlDropped }.count == 8)
        // Another prefix has its own bucket.
        for i in 0..<5 {
            let (_, act) = guardAnswer(g, h, makeQuery(id: UInt16(i), name: "1.2.0.192.bl.example"), client: b, now: 100)
            #expect(act == .answered)
        }
        // A different response class (another QTYPE) has its own bucket too.
        let (_, other) = guardAnswer(g, h, makeQuery(id: 99, name: "1.2.0.192.bl.example", type: DNSType.txt), client: a, now: 100)
        #expect(other == .answered)
        // One second later the bucket has refilled.
        let (_, later) = guardAnswer(g, h, makeQuery(id: 98, name: "1.2.0.192.bl.example"), client: a, now: 101)
        #expect(later == .answered)
        #expect(g.rrl!.slipped == 7 && g.rrl!.dropped == 8)
        // TCP is never limited.
        for i in 0..<10 {
            let (_, act) = guardAnswer(g, h, makeQuery(id: UInt16(i), name: "1.2.0.192.bl.example"), client: a,
                                       transport: .tcp, now: 101)
            #expect(act == .answered)
        }
    }

    @Test("NXDOMAIN for random names of one zone share one bucket")
    func nxdomainByZone() throws {
        let g = rrlGuard(rate: 3, slip: 0)
        let h = try opsResponder()
        let a = ClientAddress(family: .ipv6, address: UInt128(0x2001_0db8) << 96)
        let a2 = ClientAddress(family: .ipv6, address: UInt128(0x2001_0db8) << 96 | UInt128(0xFF) << 64 | 1)  // same /56
        var answered = 0
        for i in 0..<12 {
            let (r, act) = guardAnswer(g, h, makeQuery(id: UInt16(i), name: "\(i).9.0.192.bl.example"),
                                       client: i % 2 == 0 ? a : a2, now: 7)
            if act == .answered { answered += 1; #expect(r[3] & 0x0F == 3) }
        }
        #expect(answered == 3)
        #expect(g.rrl!.dropped == 9, "slip 0 drops every limited response")
    }

    @Test("a valid server cookie exempts from RRL; a client cookie alone gets BADCOOKIE as the slip")
    func cookieExemption() throws {
        let g = rrlGuard(rate: 2, slip: 1)
        let h = try opsResponder()
        let now: UInt32 = 1559731985
        var slips = 0
        var cookie: [UInt8] = []
        for i in 0..<6 {
            let (r, act) = guardAnswer(g, h, cookieQuery(id: UInt16(i), cookie: hexBytes("2464c4abcf10c957")),
                                       client: client198, now: now)
            if act == .badCookie {
                slips += 1
                #expect(fullRCode(r) == 23, "BADCOOKIE")
                cookie = try #require(responseCookie(r))
            }
        }
        #expect(slips == 4)
        #expect(cookie.count == 24)
        for i in 0..<20 {
            let (r, act) = guardAnswer(g, h, cookieQuery(id: UInt16(i), cookie: cookie), client: client198, now: now + 1)
            #expect(act == .answered)
            #expect(r[7] == 1)
        }
    }

    @Test("over loopback: a flood from 127.0.0.1 is limited and slipped, 127.0.1.1 is answered")
    func loopbackFlood() async throws {
        let responder = try opsResponder()
        let server = try await startServer(handler: responder) { c in
            c.operations.rrl = RRLSettings(rate: 10, slip: 2)
        }
        defer { Task { await server.stop() } }
        let v4 = try #require(server.udpAddresses.first { $0.family == .ipv4 })
        let flood = try TestSocket(udp: v4, timeout: 0.3)
        let q = makeQuery(id: 1, name: "1.2.0.192.bl.example")
        for _ in 0..<200 { try flood.send(q) }
        var full = 0, truncated = 0
        while let d = flood.receiveDatagram() {
            if d[2] & 0x02 != 0 { truncated += 1 } else { full += 1 }
        }
        // Within a second or two: about 10-20 full answers, about half the rest slipped.
        #expect(full >= 10 && full <= 40, "full answers \(full)")
        #expect(truncated >= 60 && truncated <= 100, "slipped \(truncated)")
        let other = try BoundUDPClient(source: "127.0.1.1", server: v4, timeout: 1)
        var answered = 0
        for i in 0..<8 {
            other.send(makeQuery(id: UInt16(500 + i), name: "1.2.0.192.bl.example"))
            if let d = other.receive(), d[2] & 0x02 == 0, d[7] == 1 { answered += 1 }
        }
        #expect(answered == 8, "another /24 is not limited")
        #expect(server.queryGuard.rrl!.slipped >= 60)
        await server.stop()
    }
}
