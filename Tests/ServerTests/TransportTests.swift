#if canImport(Glibc)
import Glibc
#endif
import DNSBL
@testable import DNSBLServer
import Foundation
import Synchronization
import Testing
import TestSupport
import ServerTestSupport

@Suite("Transport over loopback (stub answerer)", .serialized)
struct TransportTests {
    @Test("listen address parsing: IPv4, [v6]:port, bare v6, default port")
    func listenAddressParsing() throws {
        #expect(try ListenAddress(parsing: "192.0.2.1").description == "192.0.2.1:5300")
        #expect(try ListenAddress(parsing: "192.0.2.1:53").port == 53)
        #expect(try ListenAddress(parsing: "[2001:db8::1]:53").description == "[2001:db8::1]:53")
        #expect(try ListenAddress(parsing: "[2001:db8::1]").port == 5300)
        #expect(try ListenAddress(parsing: "2001:db8::1").family == .ipv6)
        #expect(throws: ServerError.self) { try ListenAddress(parsing: "example.org:53") }
        #expect(throws: ServerError.self) { try ListenAddress(parsing: "192.0.2.1:70000") }
        #expect(throws: ServerError.self) { try ListenAddress(parsing: "[2001:db8::1:53") }
    }

    @Test("UDP over IPv4 and IPv6 on ephemeral ports, every thread's socket answers")
    func udpBothFamilies() async throws {
        let server = try await startServer(handler: StubHandler(value: 7))
        defer { Task { await server.stop() } }
        #expect(server.udpAddresses.count == 2)
        #expect(server.udpAddresses.allSatisfy { $0.port != 0 })
        #expect(server.udpAddresses == server.tcpAddresses, "UDP and TCP share the ephemeral port")
        for address in server.udpAddresses {
            // Many source ports spread over the SO_REUSEPORT group.
            for i in 0..<40 {
                let q = makeQuery(id: UInt16(100 + i), name: "2.0.0.127.bl.example")
                let r = try #require(try udpQuery(address, q), "no answer from \(address)")
                let p = try #require(parseResponse(r))
                #expect(p.id == UInt16(100 + i))
                #expect(p.addresses == ["127.0.0.7"])
            }
        }
        await server.stop()
        #expect(server.udpStats.answered == 80)
    }

    @Test("a handler returning length 0 sends nothing (QR=1 input)")
    func udpNoReply() async throws {
        let server = try await startServer(handler: StubHandler())
        defer { Task { await server.stop() } }
        var q = makeQuery(id: 9, name: "bl.example")
        q[2] |= 0x80
        let r = try udpQuery(server.udpAddresses[0], q, timeout: 0.3, retries: 0)
        #expect(r == nil)
        await server.stop()
    }

    @Test("UDP batch: 200 queries sent back to back all answered")
    func udpBurst() async throws {
        let server = try await startServer(handler: StubHandler())
        defer { Task { await server.stop() } }
        let s = try TestSocket(udp: server.udpAddresses[0], timeout: 2)
        for i in 0..<200 { try s.send(makeQuery(id: UInt16(i), name: "x.bl.example")) }
        var seen = Set<UInt16>()
        while seen.count < 200, let d = s.receiveDatagram() { seen.insert(UInt16(d[0]) << 8 | UInt16(d[1])) }
        #expect(seen.count == 200)
        await server.stop()
    }

    @Test("UDP batch wait: ping-pong queries wait for the pacing only above the rate threshold")
    func udpBatchWaitPacing() async throws {
        // min rate 0: every receive after a non-full one waits until 50 ms after it, so ten
        // queries sent one after the other's answer take at least ~0.5 s in all.
        let paced = try await startServer(handler: StubHandler()) { c in
            c.udpBatchWait = 0.05
            c.udpBatchWaitMinRate = 0
        }
        defer { Task { await paced.stop() } }
        let a = try TestSocket(udp: paced.udpAddresses[0], timeout: 2)
        var started = Date()
        for i in 0..<10 {
            try a.send(makeQuery(id: UInt16(i), name: "p.bl.example"))
            #expect(a.receiveDatagram() != nil, "query \(i) unanswered")
        }
        #expect(Date().timeIntervalSince(started) >= 0.35, "the receives did not wait")
        // A burst arriving while the worker waits is answered completely.
        for i in 0..<200 { try a.send(makeQuery(id: UInt16(1000 + i), name: "b.bl.example")) }
        var seen = Set<UInt16>()
        while seen.count < 200, let d = a.receiveDatagram() { seen.insert(UInt16(d[0]) << 8 | UInt16(d[1])) }
        #expect(seen.count == 200)
        await paced.stop()

        // The same with a threshold no ping-pong client reaches: nothing waits.
        let direct = try await startServer(handler: StubHandler()) { c in
            c.udpBatchWait = 0.05
            c.udpBatchWaitMinRate = 1_000_000
        }
        defer { Task { await direct.stop() } }
        let b = try TestSocket(udp: direct.udpAddresses[0], timeout: 2)
        started = Date()
        for i in 0..<10 {
            try b.send(makeQuery(id: UInt16(i), name: "d.bl.example"))
            #expect(b.receiveDatagram() != nil, "query \(i) unanswered")
        }
        #expect(Date().timeIntervalSince(started) < 0.35, "receives waited below the rate threshold")
        await direct.stop()
    }

    @Test("UDP stop() wakes workers blocked on idle sockets (no receive timeout)")
    func udpStopWakesIdleWorkers() async throws {
        let server = try await startServer(handler: StubHandler()) { c in c.udpThreads = 3 }
        // Both addresses idle: six workers blocked in recvmmsg without a timeout.
        try await Task.sleep(for: .milliseconds(300))
        let started = Date()
        let stoppedAt = Mutex<Date?>(nil)
        Task { await server.stop(); stoppedAt.withLock { $0 = Date() } }
        // A worker that no shutdown woke would block forever: poll instead of awaiting stop().
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, stoppedAt.withLock({ $0 }) == nil {
            try await Task.sleep(for: .milliseconds(20))
        }
        let end = try #require(stoppedAt.withLock { $0 }, "stop() did not return within 10 s")
        #expect(end.timeIntervalSince(started) < 5)
    }

    @Test("TCP over IPv4 and IPv6: framed query, framed answer")
    func tcpBothFamilies() async throws {
        let server = try await startServer(handler: StubHandler(value: 3))
        defer { Task { await server.stop() } }
        for address in server.tcpAddresses {
            let s = try TestSocket(tcp: address)
            try s.send(framed(makeQuery(id: 42, name: "2.0.0.127.bl.example")))
            let r = try #require(s.receiveFramed())
            let p = try #require(parseResponse(r))
            #expect(p.id == 42 && p.addresses == ["127.0.0.3"])
        }
        await server.stop()
    }

    @Test("rfc7766 §6.2.1.1: pipelined queries in one write are all answered, in order")
    func tcpPipelining() async throws {
        let server = try await startServer(handler: StubHandler())
        defer { Task { await server.stop() } }
        let s = try TestSocket(tcp: server.tcpAddresses[0])
        var burst: [UInt8] = []
        for i in 0..<50 { burst += framed(makeQuery(id: UInt16(1000 + i), name: "q\(i).bl.example")) }
        try s.send(burst)
        var ids: [UInt16] = []
        for _ in 0..<50 {
            guard let r = s.receiveFramed(), let p = parseResponse(r) else { break }
            ids.append(p.id)
        }
        #expect(ids == (0..<50).map { UInt16(1000 + $0) })
        // A query split across writes (length prefix first, then the body byte by byte).
        let q = framed(makeQuery(id: 7, name: "split.bl.example"))
        try s.send(Array(q[0..<1]))
        usleep(20_000)
        for b in q[1...] { try s.send([b]) }
        #expect(s.receiveFramed().flatMap(parseResponse)?.id == 7)
        await server.stop()
    }

    @Test("rfc7766 §6.2.3: an idle connection is closed after the idle timeout")
    func tcpIdleTimeout() async throws {
        let server = try await startServer(handler: StubHandler()) { $0.tcpIdleTimeout = 0.5 }
        defer { Task { await server.stop() } }
        let s = try TestSocket(tcp: server.tcpAddresses[0], timeout: 3)
        try s.send(framed(makeQuery(id: 1, name: "a.bl.example")))
        #expect(s.receiveFramed() != nil)
        let start = Date()
        #expect(s.waitForClose())
        let waited = Date().timeIntervalSince(start)
        #expect(waited > 0.3 && waited < 2.5, "closed after \(waited) s")
        await server.stop()
    }

    @Test("a length prefix that lies (more bytes announced than sent) ends at the idle timeout")
    func tcpLyingLength() async throws {
        let server = try await startServer(handler: StubHandler()) { $0.tcpIdleTimeout = 0.5 }
        defer { Task { await server.stop() } }
        let s = try TestSocket(tcp: server.tcpAddresses[0], timeout: 3)
        try s.send([0x01, 0x00] + makeQuery(id: 1, name: "a.bl.example"))
        #expect(s.waitForClose())
        await server.stop()
    }

    @Test("a zero-length frame closes the connection after earlier answers")
    func tcpZeroLength() async throws {
        let server = try await startServer(handler: StubHandler())
        defer { Task { await server.stop() } }
        let s = try TestSocket(tcp: server.tcpAddresses[0], timeout: 2)
        try s.send(framed(makeQuery(id: 5, name: "a.bl.example")) + [0, 0])
        #expect(s.receiveFramed().flatMap(parseResponse)?.id == 5)
        #expect(s.waitForClose())
        await server.stop()
    }

    @Test("at the cap a new connection replaces the one idle longest; the others keep working")
    func tcpConnectionCap() async throws {
        let server = try await startServer(handler: StubHandler()) { $0.tcpMaxConnections = 3 }
        defer { Task { await server.stop() } }
        let a = server.tcpAddresses[0]
        let c1 = try TestSocket(tcp: a), c2 = try TestSocket(tcp: a), c3 = try TestSocket(tcp: a)
        for (i, c) in [c1, c2, c3].enumerated() {
            try c.send(framed(makeQuery(id: UInt16(i), name: "a.bl.example")))
            #expect(c.receiveFramed() != nil)
            usleep(20_000)
        }
        let c4 = try TestSocket(tcp: a)
        try c4.send(framed(makeQuery(id: 4, name: "a.bl.example")))
        #expect(c4.receiveFramed().flatMap(parseResponse)?.id == 4)
        #expect(c1.waitForClose(), "c1 was idle longest")
        #expect(server.tcpConnectionCount == 3)
        try c2.send(framed(makeQuery(id: 10, name: "a.bl.example")))
        #expect(c2.receiveFramed().flatMap(parseResponse)?.id == 10)
        await server.stop()
    }

    /// Slowloris: `--tcp-max-connections` clients each holding a partial message (one byte per
    /// idle timeout keeps them alive) shut every other client out of TCP.
    @Test("at the cap, a new connection replaces the one longest without a whole message (trickled bytes do not count)")
    func tcpCapEvictsStalledConnection() async throws {
        let server = try await startServer(handler: StubHandler()) { $0.tcpMaxConnections = 2; $0.tcpIdleTimeout = 30 }
        defer { Task { await server.stop() } }
        let a = server.tcpAddresses[0]
        let s1 = try TestSocket(tcp: a, timeout: 1), s2 = try TestSocket(tcp: a, timeout: 1)
        try s1.send([0xFF, 0xFF, 1])
        try s2.send([0xFF, 0xFF, 1])
        usleep(1_300_000)
        try s1.send([2])   // trickling bytes is not progress
        try s2.send([3])
        let c = try TestSocket(tcp: a, timeout: 3)
        try c.send(framed(makeQuery(id: 2, name: "a.bl.example")))
        #expect(c.receiveFramed().flatMap(parseResponse)?.id == 2)
        let closed = [s1.waitForClose(), s2.waitForClose()].filter { $0 }.count
        #expect(closed == 1, "exactly one stalled connection makes room")
        var count = server.tcpConnectionCount
        for _ in 0..<100 where count != 2 { usleep(20_000); count = server.tcpConnectionCount }
        #expect(count == 2)
        await server.stop()
    }

    @Test("a client that sends without reading does not stall another client")
    func tcpNonReaderDoesNotStall() async throws {
        let server = try await startServer(handler: StubHandler()) { config in
            config.tcpThreads = 1  // both connections on one event loop: the worst case
            config.tcpIdleTimeout = 30
        }
        defer { Task { await server.stop() } }
        let a = server.tcpAddresses[0]
        let hog = try TestSocket(tcp: a, timeout: 0.2, receiveBuffer: 4096)
        let q = framed(makeQuery(id: 1, name: "hog.bl.example"))
        var burst: [UInt8] = []
        for _ in 0..<2000 { burst += q }
        // The hog writes ~60 KB of queries at a time and never reads; once buffers fill up its
        // writes time out, which is fine.
        var written = 0
        for _ in 0..<100 {
            let n = burst.withUnsafeBytes { send(hog.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
            if n > 0 { written += n } else { usleep(10_000) }
        }
        #expect(written > 0)
        let other = try TestSocket(tcp: a, timeout: 2)
        let started = Date()
        for i in 0..<20 {
            try other.send(framed(makeQuery(id: UInt16(i), name: "ok.bl.example")))
            #expect(other.receiveFramed().flatMap(parseResponse)?.id == UInt16(i))
        }
        #expect(Date().timeIntervalSince(started) < 2)
        // And UDP is unaffected too.
        #expect(try udpQuery(server.udpAddresses[0], makeQuery(id: 77, name: "u.bl.example")) != nil)
        await server.stop()
    }

    @Test("stop() with an open TCP connection returns promptly and closes it")
    func stopClosesConnections() async throws {
        let server = try await startServer(handler: StubHandler())
        let s = try TestSocket(tcp: server.tcpAddresses[0], timeout: 3)
        try s.send(framed(makeQuery(id: 1, name: "a.bl.example")))
        #expect(s.receiveFramed() != nil)
        let started = Date()
        await server.stop()
        #expect(Date().timeIntervalSince(started) < 2.5)
        #expect(s.waitForClose())
    }

    @Test("stop() delivers the answers to pipelined TCP queries already read, then closes")
    func stopFinishesInFlight() async throws {
        let server = try await startServer(handler: StubHandler(delayMicroseconds: 30_000))
        let s = try TestSocket(tcp: server.tcpAddresses[0], timeout: 5)
        var burst: [UInt8] = []
        for i in 0..<8 { burst += framed(makeQuery(id: UInt16(i), name: "a.bl.example")) }
        try s.send(burst)
        usleep(10_000)  // read by the server, being answered (8 × 30 ms)
        await server.stop()
        var ids: [UInt16] = []
        while let r = s.receiveFramed(), let p = parseResponse(r) { ids.append(p.id) }
        #expect(ids == (0..<8).map { UInt16($0) })
    }

    @Test("binding an address in use fails with a bind error naming it")
    func bindConflict() async throws {
        let first = try await startServer(handler: StubHandler())
        defer { Task { await first.stop() } }
        let port = first.tcpAddresses[0].port
        var config = ServerConfiguration(listen: [try ListenAddress(parsing: "127.0.0.1:\(port)")], threads: 1)
        config.udpThreads = 1
        // SO_REUSEPORT lets the same user join a UDP group; the TCP listener collides.
        let second = DNSServer(configuration: config, holder: SnapshotHolder(Snapshot(handler: StubHandler(), entryCount: 1)),
                               logger: .init(label: "test"))
        let error = await #expect(throws: ServerError.self) { try await second.start() }
        #expect(error?.code == .bind)
        #expect(error?.reason.contains("127.0.0.1:\(port)") == true, "\(String(describing: error))")
        await first.stop()
    }
}

@Suite("dig and kdig against the server", .serialized)
struct DigTests {
    @Test("dig over UDP and TCP, IPv4 and IPv6", .enabled(if: which("dig") != nil, "dig (dnsutils) is not installed"))
    func dig() async throws {
        let server = try await startServer(handler: StubHandler(value: 9))
        defer { Task { await server.stop() } }
        let dig = which("dig")!
        for (i, address) in server.udpAddresses.enumerated() {
            for tcp in [false, true] {
                var args = ["@\(address.host)", "-p", "\(address.port)", "+short", "+tries=2", "+time=2",
                            "2.0.0.127.bl.example", "A"]
                if tcp { args.append("+tcp") }
                let r = try run(dig, args)
                #expect(r.status == 0, "dig \(args): \(r.output)")
                #expect(r.output.trimmingCharacters(in: .whitespacesAndNewlines) == "127.0.0.9",
                        "address \(i) tcp \(tcp): \(r.output)")
            }
        }
        await server.stop()
    }

    @Test("kdig over UDP and TCP", .enabled(if: which("kdig") != nil, "kdig (knot-dnsutils) is not installed"))
    func kdig() async throws {
        let server = try await startServer(handler: StubHandler(value: 4))
        defer { Task { await server.stop() } }
        let kdig = which("kdig")!
        for address in server.udpAddresses {
            for tcp in [false, true] {
                var args = ["@\(address.host)", "-p", "\(address.port)", "+short", "+retry=1", "+time=2",
                            "2.0.0.127.bl.example", "A"]
                if tcp { args.append("+tcp") }
                let r = try run(kdig, args)
                #expect(r.status == 0, "kdig \(args): \(r.output)")
                #expect(r.output.trimmingCharacters(in: .whitespacesAndNewlines) == "127.0.0.4")
            }
        }
        await server.stop()
    }
}
