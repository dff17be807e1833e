#if canImport(Glibc)
import Glibc
#endif
import DNSBL
@testable import DNSBLServer
import DNSWire
import Foundation
import PrefixStore
import Testing
import ZoneSource
import TestSupport
import ServerTestSupport

/// The bundled example zone (zones/ at the repository root), compiled with ZoneSource.
let bundledStore: Store = {
    let root = repositoryRoot()
    let specs = [ZoneSpec(zone: "bl.example", type: "ip4set", files: [root + "/zones/bl.example.ip4set"]),
                 ZoneSpec(zone: "bl.example", type: "ip6trie", files: [root + "/zones/bl.example.ip6trie"])]
    let result = Compiler.compile(specs)
    precondition(!result.hasErrors, "bundled zone: \(result.diagnostics)")
    return try! Store(zones: result.zones)
}()

/// A normal query whose answer proves the server is still serving (127.0.0.2, RFC 5782).
func healthQuery(id: UInt16) -> [UInt8] { makeQuery(id: id, name: HostileCorpus.listed) }

func isHealthy(_ reply: [UInt8]?, id: UInt16) -> Bool {
    guard let r = reply, let p = parseResponse(r) else { return false }
    return p.id == id && p.rcode == 0 && p.addresses == ["127.0.0.2"]
}

@Suite("Hostile packets: in-process against the Responder")
struct HostileInProcessTests {
    @Test("every case of the corpus gets its expected outcome over UDP and TCP sizes", arguments: HostileCorpus.cases)
    func corpusCase(_ c: HostileCase) {
        let responder = Responder(stores: [bundledStore])
        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 65535, alignment: 16)
        defer { out.deallocate() }
        for (transport, limit) in [(Transport.udp, 1232), (.tcp, 65535)] {
            let n = c.bytes.withUnsafeBytes { responder.respond(to: $0, transport: transport, into: out).length }
            let reply = Array(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(out)[0..<n]))
            let problem = HostileCorpus.judge(c, reply: n == 0 ? nil : reply, sizeLimit: limit)
            #expect(problem == nil, "\(c.name) over \(transport): \(problem ?? "")")
        }
    }

    @Test("the corpus covers every kind the issue names, with FORMERR, answers and silence")
    func corpusShape() {
        let cases = HostileCorpus.cases
        #expect(cases.count >= 50)
        #expect(Set(cases.map(\.name)).count == cases.count, "case names are unique")
        #expect(cases.contains { $0.expected == .silence })
        #expect(cases.contains { $0.expected == .formErr })
        #expect(cases.contains { $0.expected == .answer(5) })
        #expect(cases.contains { $0.expected == .answer(16) })
    }
}

@Suite("Hostile packets against a real server on loopback", .serialized)
struct HostileLoopbackTests {
    /// The server under test answers with the real Responder over the bundled zone.
    func start(_ configure: (inout ServerConfiguration) -> Void = { _ in }) async throws -> DNSServer {
        try await startServer(handler: Responder(stores: [bundledStore]), configure: configure)
    }

    @Test("UDP: each case gets its outcome, and a normal query right after it is answered")
    func udp() async throws {
        let server = try await start()
        defer { Task { await server.stop() } }
        let s = try TestSocket(udp: server.udpAddresses[0], timeout: 2)
        var passed = 0
        for (i, c) in HostileCorpus.cases.enumerated() {
            let healthID = UInt16(0x7000 + i)
            try s.send(c.bytes)
            try s.send(healthQuery(id: healthID))
            // Datagrams of one flow are answered in order, so a case that gets silence shows
            // up as the health answer arriving first; no timeout has to be waited out.
            var reply: [UInt8]? = nil
            var first = s.receiveDatagram()
            if c.expected != .silence || (first.map { !isHealthy($0, id: healthID) } ?? false) {
                reply = first
                first = s.receiveDatagram()
            }
            let problem = HostileCorpus.judge(c, reply: reply, sizeLimit: 1232)
            #expect(problem == nil, "UDP \(c.name): \(problem ?? "")")
            #expect(isHealthy(first, id: healthID), "UDP: no normal answer after \(c.name)")
            if problem == nil && isHealthy(first, id: healthID) { passed += 1 }
        }
        #expect(passed == HostileCorpus.cases.count)
        await server.stop()
    }

    @Test("UDP: an empty datagram gets silence; the server keeps answering")
    func udpEmpty() async throws {
        let server = try await start()
        defer { Task { await server.stop() } }
        let s = try TestSocket(udp: server.udpAddresses[1], timeout: 2)
        let n = send(s.fd, nil, 0, 0)
        #expect(n == 0)
        try s.send(healthQuery(id: 0x6001))
        #expect(isHealthy(s.receiveDatagram(), id: 0x6001))
        await server.stop()
    }

    @Test("TCP: each case on its own connection gets its outcome, then a normal query on that connection is answered")
    func tcp() async throws {
        let server = try await start()
        defer { Task { await server.stop() } }
        var passed = 0
        for (i, c) in HostileCorpus.cases.enumerated() {
            let healthID = UInt16(0x7800 + i)
            let s = try TestSocket(tcp: server.tcpAddresses[i % 2], timeout: 2)
            try s.send(framed(c.bytes) + framed(healthQuery(id: healthID)))
            var reply: [UInt8]? = nil
            var next = s.receiveFramed()
            if c.expected != .silence || (next.map { !isHealthy($0, id: healthID) } ?? false) {
                reply = next
                next = s.receiveFramed()
            }
            let problem = HostileCorpus.judge(c, reply: reply, sizeLimit: 65535)
            #expect(problem == nil, "TCP \(c.name): \(problem ?? "")")
            #expect(isHealthy(next, id: healthID), "TCP: no normal answer after \(c.name)")
            if problem == nil && isHealthy(next, id: healthID) { passed += 1 }
        }
        #expect(passed == HostileCorpus.cases.count)
        await server.stop()
    }

    @Test("TCP: a length prefix longer than what is sent, then the client closes: no reply, server fine")
    func tcpLyingLengthThenClose() async throws {
        let server = try await start()
        defer { Task { await server.stop() } }
        do {
            let s = try TestSocket(tcp: server.tcpAddresses[0], timeout: 2)
            try s.send([0x01, 0x00] + healthQuery(id: 1))
            shutdown(s.fd, Int32(SHUT_WR))
            #expect(s.receiveFramed() == nil)
        }
        let t = try TestSocket(tcp: server.tcpAddresses[0], timeout: 2)
        try t.send(framed(healthQuery(id: 2)))
        #expect(isHealthy(t.receiveFramed(), id: 2))
        #expect(try isHealthy(udpQuery(server.udpAddresses[0], healthQuery(id: 3)), id: 3))
        await server.stop()
    }

    @Test("TCP: a length prefix shorter than the message desynchronises only that connection")
    func tcpShortLength() async throws {
        let server = try await start { $0.tcpIdleTimeout = 1 }
        defer { Task { await server.stop() } }
        do {
            let s = try TestSocket(tcp: server.tcpAddresses[0], timeout: 3)
            // "5 bytes" — the rest of the query is then read as further frames.
            try s.send([0x00, 0x05] + healthQuery(id: 4))
            var answeredID4 = false
            while let r = s.receiveFramed() { if parseResponse(r)?.id == 4 { answeredID4 = true } }
            #expect(!answeredID4, "the cut query must not be answered as a whole")
        }
        let t = try TestSocket(tcp: server.tcpAddresses[0], timeout: 2)
        try t.send(framed(healthQuery(id: 5)))
        #expect(isHealthy(t.receiveFramed(), id: 5))
        await server.stop()
    }

    @Test("TCP: a zero-length frame closes the connection after the earlier answer")
    func tcpZeroLengthFrame() async throws {
        let server = try await start()
        defer { Task { await server.stop() } }
        let s = try TestSocket(tcp: server.tcpAddresses[1], timeout: 2)
        try s.send(framed(healthQuery(id: 6)) + [0, 0] + framed(healthQuery(id: 7)))
        #expect(isHealthy(s.receiveFramed(), id: 6))
        #expect(s.waitForClose())
        let t = try TestSocket(tcp: server.tcpAddresses[1], timeout: 2)
        try t.send(framed(healthQuery(id: 8)))
        #expect(isHealthy(t.receiveFramed(), id: 8))
        await server.stop()
    }

    @Test("TCP: a client sending one byte a second is answered and stalls nobody")
    func tcpOneByteASecond() async throws {
        let server = try await start { $0.tcpIdleTimeout = 2; $0.tcpThreads = 1 }
        defer { Task { await server.stop() } }
        let slow = try TestSocket(tcp: server.tcpAddresses[0], timeout: 3)
        let other = try TestSocket(tcp: server.tcpAddresses[0], timeout: 2)
        let message = framed(healthQuery(id: 9))
        // The first three bytes one second apart (each within the idle timeout), meanwhile
        // another client on the same event loop is answered at once; then the rest.
        for (k, b) in message.prefix(3).enumerated() {
            try slow.send([b])
            let started = Date()
            try other.send(framed(healthQuery(id: UInt16(20 + k))))
            #expect(isHealthy(other.receiveFramed(), id: UInt16(20 + k)))
            #expect(Date().timeIntervalSince(started) < 0.5)
            usleep(1_000_000)
        }
        try slow.send(Array(message.dropFirst(3)))
        #expect(isHealthy(slow.receiveFramed(), id: 9))
        await server.stop()
    }

    @Test("TCP: a client that never reads its answers does not stall others; the server still answers")
    func tcpNeverReads() async throws {
        let server = try await start { $0.tcpThreads = 1; $0.tcpIdleTimeout = 30 }
        defer { Task { await server.stop() } }
        let hog = try TestSocket(tcp: server.tcpAddresses[0], timeout: 0.2, receiveBuffer: 4096)
        let q = framed(makeQuery(id: 1, name: "bl.example", type: 2))
        var burst: [UInt8] = []
        for _ in 0..<2000 { burst += q }
        var written = 0
        for _ in 0..<50 {
            let n = burst.withUnsafeBytes { send(hog.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
            if n > 0 { written += n } else { usleep(10_000) }
        }
        #expect(written >= burst.count, "the hog wrote at least one burst of 2000 queries (\(written) bytes)")
        let other = try TestSocket(tcp: server.tcpAddresses[0], timeout: 2)
        for i in 0..<10 {
            try other.send(framed(healthQuery(id: UInt16(100 + i))))
            #expect(isHealthy(other.receiveFramed(), id: UInt16(100 + i)))
        }
        #expect(try isHealthy(udpQuery(server.udpAddresses[0], healthQuery(id: 200)), id: 200))
        await server.stop()
    }

    @Test("TCP: a 65535-byte frame (the largest) is answered")
    func tcpLargestFrame() async throws {
        let server = try await start()
        defer { Task { await server.stop() } }
        let s = try TestSocket(tcp: server.tcpAddresses[0], timeout: 3)
        let q = healthQuery(id: 11)
        try s.send(framed(q + [UInt8](repeating: 0, count: 65535 - q.count)))
        #expect(isHealthy(s.receiveFramed(), id: 11))
        await server.stop()
    }
}

@Suite("The oracle: MessageCheck on the responder's replies")
struct OracleTests {
    @Test("MessageCheck.response rejects broken replies (so passing it means something)")
    func oracleRejects() throws {
        let responder = Responder(stores: [bundledStore])
        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 65535, alignment: 16)
        defer { out.deallocate() }
        let q = Msg.header(id: 0x4242, ar: 1) + Msg.question(HostileCorpus.listed, 16) + Msg.opt()
        let n = q.withUnsafeBytes { responder.respond(to: $0, transport: .udp, into: out).length }
        let good = Array(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(out)[0..<n]))
        func check(_ r: [UInt8], limit: Int = 1232) -> String? {
            q.withUnsafeBytes { qb in r.withUnsafeBytes { MessageCheck.response($0, to: qb, sizeLimit: limit) } }
        }
        #expect(check(good) == nil)
        var bad = good; bad[1] ^= 1
        #expect(check(bad) != nil, "ID not echoed")
        bad = good; bad[2] &= 0x7F
        #expect(check(bad) != nil, "QR clear")
        bad = good; bad[12 + 2] ^= 0x20
        #expect(check(bad) != nil, "QUESTION case changed")
        bad = good; bad[2] |= 0x02
        #expect(check(bad) != nil, "TC with records")
        bad = good; bad[11] = 0; bad.removeLast(11)
        #expect(check(bad) != nil, "OPT missing")
        bad = good; bad[7] += 1
        #expect(check(bad) != nil, "ANCOUNT one too many")
        bad = good + [0]
        #expect(check(bad) != nil, "a byte after the last section")
        #expect(check(good, limit: good.count - 1) != nil, "over the size limit")
        // A forward compression pointer in the first answer's owner.
        let firstRR = 12 + Msg.question(HostileCorpus.listed, 16).count
        bad = good; bad[firstRR] = 0xC0; bad[firstRR + 1] = UInt8(firstRR + 4)
        #expect(check(bad) != nil, "forward pointer")
        #expect(check([]) != nil, "silence where a reply is due")
    }
}
