#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DNSBL
@testable import DNSBLServer
import Foundation
import Logging
import Synchronization

/// Minimal answerer for transport tests: echoes the question and answers one A record
/// 127.0.0.`value` (TTL 60) for any name; `nil` response for QR=1 or garbage.
package final class StubHandler: QueryHandler {
    package let value: UInt8
    package let delayMicroseconds: UInt32
    /// RCODE to answer with; nonzero answers carry no records.
    package let rcode: UInt8
    /// Over UDP answer TC=1 with no records (the client must retry over TCP).
    package let truncateUDP: Bool
    package let calls = Atomic<Int>(0)
    package init(value: UInt8 = 2, delayMicroseconds: UInt32 = 0, rcode: UInt8 = 0, truncateUDP: Bool = false) {
        self.value = value
        self.delayMicroseconds = delayMicroseconds
        self.rcode = rcode
        self.truncateUDP = truncateUDP
    }

    package func respond(to q: UnsafeRawBufferPointer, transport: Transport,
                 into r: UnsafeMutableRawBufferPointer) -> AnswerOutcome {
        calls.add(1, ordering: .relaxed)
        if delayMicroseconds > 0 { usleep(delayMicroseconds) }
        var outcome = AnswerOutcome()
        guard q.count >= 17, q[2] & 0x80 == 0 else { return outcome }
        var o = 12
        while o < q.count {
            let l = Int(q[o])
            if l == 0 { o += 1; break }
            o += 1 + l
        }
        o += 4
        guard o <= q.count, o + 16 <= r.count else { return outcome }
        r.copyMemory(from: UnsafeRawBufferPointer(rebasing: q[0..<o]))
        r[2] = 0x84 | (q[2] & 0x01)
        r[3] = 0
        r[4] = 0; r[5] = 1; r[6] = 0; r[7] = 1
        r[8] = 0; r[9] = 0; r[10] = 0; r[11] = 0
        if rcode != 0 || (truncateUDP && transport == .udp) {
            r[3] = rcode
            r[7] = 0
            if rcode == 0 { r[2] |= 0x02 }
            outcome.length = o
            outcome.rcode = rcode
            outcome.truncated = rcode == 0
            return outcome
        }
        let rr: [UInt8] = [0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, value]
        for (i, b) in rr.enumerated() { r[o + i] = b }
        outcome.length = o + rr.count
        outcome.qtype = UInt16(q[o - 4]) << 8 | UInt16(q[o - 3])
        outcome.answerCount = 1
        outcome.listed = true
        return outcome
    }
}

package enum TestError: Error, CustomStringConvertible {
    case failed(String)
    package var description: String { if case .failed(let s) = self { return s }; return "" }
}

/// A DNS query message: ID, RD flag, one question; optional OPT with a payload size.
package func makeQuery(id: UInt16, name: String, type: UInt16 = 1, edns: UInt16? = nil) -> [UInt8] {
    var m: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, edns == nil ? 0 : 1]
    for label in name.split(separator: ".") {
        m.append(UInt8(label.utf8.count))
        m.append(contentsOf: label.utf8)
    }
    m.append(0)
    m += [UInt8(type >> 8), UInt8(type & 0xFF), 0, 1]
    if let edns { m += [0, 0, 41, UInt8(edns >> 8), UInt8(edns & 0xFF), 0, 0, 0, 0, 0, 0] }
    return m
}

/// Fields of a response the tests look at.
package struct ParsedResponse {
    package var id: UInt16
    package var rcode: UInt8
    package var truncated: Bool
    package var answerCount: Int
    /// A records in ANSWER, dotted.
    package var addresses: [String]
}

package func parseResponse(_ m: [UInt8]) -> ParsedResponse? {
    guard m.count >= 12, m[2] & 0x80 != 0 else { return nil }
    let an = Int(m[6]) << 8 | Int(m[7])
    var o = 12
    func skipName() -> Bool {
        while o < m.count {
            let l = Int(m[o])
            if l == 0 { o += 1; return true }
            if l & 0xC0 == 0xC0 { o += 2; return true }
            o += 1 + l
        }
        return false
    }
    let qd = Int(m[4]) << 8 | Int(m[5])
    for _ in 0..<qd { guard skipName() else { return nil }; o += 4 }
    var addrs: [String] = []
    for _ in 0..<an {
        guard skipName(), o + 10 <= m.count else { return nil }
        let type = Int(m[o]) << 8 | Int(m[o + 1])
        let rdlen = Int(m[o + 8]) << 8 | Int(m[o + 9])
        o += 10
        guard o + rdlen <= m.count else { return nil }
        if type == 1 && rdlen == 4 { addrs.append("\(m[o]).\(m[o + 1]).\(m[o + 2]).\(m[o + 3])") }
        o += rdlen
    }
    return ParsedResponse(id: UInt16(m[0]) << 8 | UInt16(m[1]), rcode: m[3] & 0x0F,
                          truncated: m[2] & 0x02 != 0, answerCount: an, addresses: addrs)
}

/// Blocking socket helpers with timeouts, for loopback clients in tests.
package final class TestSocket {
    package let fd: Int32

    package init(udp address: ListenAddress, timeout: Double = 2) throws {
        fd = socket(address.family == .ipv4 ? AF_INET : AF_INET6, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw TestError.failed("socket: \(errno)") }
        setTimeout(timeout)
        let rc = withSockaddr(address) { connect(fd, $0, $1) }
        guard rc == 0 else { throw TestError.failed("connect \(address): \(String(cString: strerror(errno)))") }
    }

    package init(tcp address: ListenAddress, timeout: Double = 2, receiveBuffer: Int32? = nil) throws {
        fd = socket(address.family == .ipv4 ? AF_INET : AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestError.failed("socket: \(errno)") }
        if var rb = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rb, socklen_t(MemoryLayout<Int32>.size))
        }
        setTimeout(timeout)
        let rc = withSockaddr(address) { connect(fd, $0, $1) }
        guard rc == 0 else { throw TestError.failed("connect \(address): \(String(cString: strerror(errno)))") }
    }

    deinit { close(fd) }

    package func setTimeout(_ seconds: Double) {
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    package func send(_ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + off, bytes.count - off, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw TestError.failed("send: \(String(cString: strerror(errno)))") }
            off += n
        }
    }

    /// One datagram (UDP), or nil on timeout.
    package func receiveDatagram() -> [UInt8]? {
        var buf = [UInt8](repeating: 0, count: 65535)
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n > 0 ? Array(buf[0..<n]) : nil
    }

    /// Exactly `count` bytes (TCP), or nil on timeout / EOF.
    package func receiveExactly(_ count: Int) -> [UInt8]? {
        var buf = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, count - got, 0) }
            if n <= 0 { return nil }
            got += n
        }
        return buf
    }

    /// One length-prefixed DNS message over TCP.
    package func receiveFramed() -> [UInt8]? {
        guard let len = receiveExactly(2) else { return nil }
        return receiveExactly(Int(len[0]) << 8 | Int(len[1]))
    }

    /// True when the peer closed the connection (EOF or reset) within the socket timeout.
    package func waitForClose() -> Bool {
        var b: UInt8 = 0
        while true {
            let n = recv(fd, &b, 1, 0)
            if n == 0 { return true }
            if n < 0 { return errno == ECONNRESET }
        }
    }
}

package func framed(_ m: [UInt8]) -> [UInt8] { [UInt8(m.count >> 8), UInt8(m.count & 0xFF)] + m }

package func withSockaddr<R>(_ a: ListenAddress, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
    if a.family == .ipv4 {
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = a.port.bigEndian
        inet_pton(AF_INET, a.host, &sin.sin_addr)
        return withUnsafePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    }
    var sin6 = sockaddr_in6()
    sin6.sin6_family = sa_family_t(AF_INET6)
    sin6.sin6_port = a.port.bigEndian
    inet_pton(AF_INET6, a.host, &sin6.sin6_addr)
    return withUnsafePointer(to: &sin6) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
}

/// UDP query with one retry; nil when both attempts time out.
package func udpQuery(_ address: ListenAddress, _ query: [UInt8], timeout: Double = 2, retries: Int = 1) throws -> [UInt8]? {
    let s = try TestSocket(udp: address, timeout: timeout)
    for _ in 0...retries {
        try s.send(query)
        while let d = s.receiveDatagram() {
            if d.count >= 2 && d[0] == query[0] && d[1] == query[1] { return d }
        }
    }
    return nil
}

/// Starts a server on ephemeral loopback ports (v4 and v6) answering with `handler`.
package func startServer(handler: Responder, configure: (inout ServerConfiguration) -> Void = { _ in },
                 logger: Logger = Logger(label: "test")) async throws -> DNSServer {
    try await startServer(Snapshot(responder: handler, entryCount: 1), configure: configure, logger: logger)
}

/// Starts a server whose snapshot's test hook answers with the stub `handler`.
package func startServer(handler: any QueryHandler, configure: (inout ServerConfiguration) -> Void = { _ in },
                 logger: Logger = Logger(label: "test")) async throws -> DNSServer {
    try await startServer(Snapshot(handler: handler, entryCount: 1), configure: configure, logger: logger)
}

func startServer(_ snapshot: Snapshot, configure: (inout ServerConfiguration) -> Void,
                 logger: Logger) async throws -> DNSServer {
    var config = ServerConfiguration(listen: [try ListenAddress(parsing: "127.0.0.1:0"), try ListenAddress(parsing: "[::1]:0")],
                                     threads: 2)
    configure(&config)
    let server = DNSServer(configuration: config, holder: SnapshotHolder(snapshot), logger: logger)
    try await server.start()
    return server
}

/// Runs a process to completion (with a timeout), returning status and stdout+stderr.
@discardableResult
package func run(_ path: String, _ args: [String], timeout: Double = 20) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    let data = Mutex<Data>(Data())
    let done = DispatchSemaphore(value: 0)
    let reader = Thread {
        let d = pipe.fileHandleForReading.readDataToEndOfFile()
        data.withLock { $0 = d }
        done.signal()
    }
    reader.start()
    let deadline = Date().addingTimeInterval(timeout)
    while p.isRunning && Date() < deadline { usleep(10_000) }
    if p.isRunning {
        // SIGKILL, not terminate(): children of this test process inherit a mask that blocks
        // SIGTERM, so a hung child would never end and the whole suite would wait on it.
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        throw TestError.failed("\(path) \(args) timed out")
    }
    p.waitUntilExit()
    _ = done.wait(timeout: .now() + 5)
    return (p.terminationStatus, String(decoding: data.withLock { $0 }, as: UTF8.self))
}

/// A fresh temporary directory, removed by the caller.
package func makeTempDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "prefixbl-test-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Collects log records so tests can check what was logged.
package final class LogCollector: Sendable {
    package init() {}
    private let records = Mutex<[(level: Logger.Level, message: String, metadata: String)]>([])
    package func append(_ level: Logger.Level, _ message: String, _ metadata: String) {
        records.withLock { $0.append((level, message, metadata)) }
    }
    package var all: [(level: Logger.Level, message: String, metadata: String)] { records.withLock { $0 } }
    package func count(level: Logger.Level, containing text: String) -> Int {
        all.filter { $0.level == level && ($0.message + " " + $0.metadata).contains(text) }.count
    }
    package var logger: Logger {
        Logger(label: "test") { _ in CollectingHandler(collector: self) }
    }
}

package struct CollectingHandler: LogHandler {
    package let collector: LogCollector
    package var metadata: Logger.Metadata = [:]
    package var logLevel: Logger.Level = .debug
    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    package func log(event: LogEvent) {
        let md = (event.metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        collector.append(event.level, "\(event.message)", md)
    }
}
