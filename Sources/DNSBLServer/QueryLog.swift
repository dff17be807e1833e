#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DNSBL
import DNSWire
import Synchronization

/// Optional per-query log: one text line per answered (or dropped) query.
///
/// Line format (space separated): Unix time with milliseconds, transport (`udp`/`tcp`), client
/// `address#port`, QNAME as received (case kept, non-printable bytes as `\DDD`), QTYPE mnemonic
/// or `TYPEn`, RCODE mnemonic (`-` when nothing was sent), ANSWER count, `tc` when truncated,
/// and the key when the zone has an `aclkey` dataset and the query carried a listed key:
///
///     1764470400.123 udp 192.0.2.1#40000 2.0.0.127.bl.example A NOERROR 1
///     1764470400.125 udp 192.0.2.1#40001 2.0.0.127.k3y.bl.example A NOERROR 1 k3y
///
/// Serving threads format the line into a stack buffer and append it to an in-memory buffer under
/// a short lock; a background thread writes the buffer to the file every 0.5 s. When the buffer
/// holds more than 4 MiB (the disk cannot keep up) further lines are dropped and counted rather
/// than slowing the answers.
public final class QueryLog: @unchecked Sendable {
    private struct Buffers {
        var active: [UInt8] = []
        var spare: [UInt8]? = nil
        var dropped: Int = 0
    }
    private let state = Mutex(Buffers())
    private let fd: Int32
    private let path: String
    private let stopFlag = Atomic<Bool>(false)
    private var thread: pthread_t? = nil
    private static let capacityLimit = 4 << 20

    /// Leave out the lines of queries answered NXDOMAIN (`--query-log-skip-nxdomain`; on a
    /// DNSBL most queries are for addresses not listed, so this keeps the log to the hits).
    public let skipNXDOMAIN: Bool

    /// Opens (appends to) `path`, creating it with mode 0640.
    /// - Parameters:
    ///   - path: the log file (`/dev/stdout` for standard output).
    ///   - skipNXDOMAIN: see ``skipNXDOMAIN``.
    /// - Throws: ``ServerError`` with code `.io` when the file cannot be opened.
    public init(path: String, skipNXDOMAIN: Bool = false) throws(ServerError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw ServerError(.io, "query log \(path): \(errnoText())") }
        self.fd = fd
        self.path = path
        self.skipNXDOMAIN = skipNXDOMAIN
        state.withLock { $0.active.reserveCapacity(256 << 10); $0.spare = [UInt8](); $0.spare!.reserveCapacity(256 << 10) }
        startFlusher()
    }

    deinit { close(fd) }

    /// Stops the flusher thread after a last flush. Idempotent.
    public func stop() {
        if stopFlag.exchange(true, ordering: .acquiringAndReleasing) { return }
        if let t = thread { pthread_join(t, nil) }
        flush()
    }

    /// Reopens the file by its path (for logrotate: on SIGHUP after the old file was renamed),
    /// after writing what is buffered to the old one. The new descriptor replaces the old one
    /// with `dup2`, so the flusher never sees a closed descriptor. `/dev/stdout` and
    /// `/dev/stderr` are not reopened.
    /// - Throws: ``ServerError`` `.io` when the path cannot be opened (the old file stays in use).
    public func reopen() throws(ServerError) {
        if path == "/dev/stdout" || path == "/dev/stderr" { flush(); return }
        flush()
        let nfd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard nfd >= 0 else { throw ServerError(.io, "query log \(path): \(errnoText())") }
        _ = dup2(nfd, fd)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        close(nfd)
    }

    /// Lines dropped because the buffer was full.
    public var droppedLines: Int { state.withLock { $0.dropped } }

    private func startFlusher() {
        let box = Unmanaged.passRetained(self).toOpaque()
        var tid = pthread_t()
        let rc = pthread_create(&tid, nil, { arg in
            let log = Unmanaged<QueryLog>.fromOpaque(arg!).takeRetainedValue()
            while !log.stopFlag.load(ordering: .acquiring) {
                usleep(500_000)
                log.flush()
            }
            return nil
        }, box)
        if rc == 0 { thread = tid } else { Unmanaged<QueryLog>.fromOpaque(box).release() }
    }

    /// Writes what is buffered now.
    public func flush() {
        var out: [UInt8] = state.withLock { s in
            let data = s.active
            s.active = s.spare ?? []
            s.spare = nil
            return data
        }
        out.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = write(fd, raw.baseAddress! + off, raw.count - off)
                if n <= 0 { if n < 0 && errno == EINTR { continue }; break }
                off += n
            }
        }
        out.removeAll(keepingCapacity: true)
        state.withLock { s in if s.spare == nil { s.spare = out } }
    }

    /// Records one query. `peer` is the client's sockaddr; `query` the raw query bytes. QNAME
    /// and QTYPE come from the outcome (`DNSBL/AnswerOutcome/qnameLength`, `DNSBL/AnswerOutcome/qtype`)
    /// when the query was read; only a query that could not be read is searched for them.
    public func record(transport: Transport, peer: UnsafePointer<sockaddr>?,
                       query: UnsafeRawBufferPointer, outcome: AnswerOutcome) {
        if skipNXDOMAIN && outcome.length != 0 && outcome.rcode == 3 { return }
        withUnsafeTemporaryAllocation(byteCount: 1200, alignment: 1) { line in
            var w = LineWriter(line)
            var ts = timespec()
            clock_gettime(CLOCK_REALTIME, &ts)
            w.decimal(UInt64(ts.tv_sec))
            w.byte(UInt8(ascii: "."))
            let ms = UInt64(ts.tv_nsec / 1_000_000)
            w.byte(UInt8(48 + ms / 100)); w.byte(UInt8(48 + ms / 10 % 10)); w.byte(UInt8(48 + ms % 10))
            w.byte(32)
            w.ascii(transport == .udp ? "udp" : "tcp")
            w.byte(32)
            w.peer(peer)
            w.byte(32)
            let n = outcome.qnameLength
            if n > 0 && DNSWire.headerSize + n <= query.count {
                w.readName(UnsafeRawBufferPointer(rebasing: query[DNSWire.headerSize..<(DNSWire.headerSize + n)]))
                w.byte(32)
                w.qtype(outcome.qtype)
            } else {
                let qtypeOffset = w.qname(query)
                w.byte(32)
                if let o = qtypeOffset, o + 2 <= query.count {
                    w.qtype(UInt16(query[o]) << 8 | UInt16(query[o + 1]))
                } else {
                    w.byte(UInt8(ascii: "-"))
                }
            }
            w.byte(32)
            if outcome.length == 0 { w.byte(UInt8(ascii: "-")) } else { w.rcode(outcome.rcode) }
            w.byte(32)
            w.decimal(UInt64(outcome.answerCount))
            if outcome.truncated { w.ascii(" tc") }
            if outcome.keyState == .known {  // aclkey: the key, as the rspamd fork logs it
                let k = outcome.keyOffset
                if k > 0 && k < query.count, k + 1 + Int(query[k]) <= query.count {
                    w.byte(32)
                    for b in query[(k + 1)..<(k + 1 + Int(query[k]))] { w.label(b) }
                }
            }
            w.byte(10)
            let bytes = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(line)[0..<w.count])
            state.withLock { s in
                if s.active.count + bytes.count > QueryLog.capacityLimit { s.dropped += 1; return }
                s.active.append(contentsOf: bytes)
            }
        }
    }
}

/// Bounded ASCII writer over a caller's buffer; silently stops at the end.
struct LineWriter {
    let buf: UnsafeMutableRawBufferPointer
    var count = 0
    init(_ buf: UnsafeMutableRawBufferPointer) { self.buf = buf }

    mutating func byte(_ b: UInt8) {
        if count < buf.count { buf[count] = b; count += 1 }
    }
    mutating func ascii(_ s: StaticString) {
        s.withUTF8Buffer { for b in $0 { byte(b) } }
    }
    mutating func decimal(_ v: UInt64) {
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = 0
        var x = v
        withUnsafeMutableBytes(of: &digits) { d in
            repeat { d[n] = UInt8(48 + x % 10); x /= 10; n += 1 } while x > 0
            while n > 0 { n -= 1; byte(d[n]) }
        }
    }
    mutating func peer(_ sa: UnsafePointer<sockaddr>?) {
        guard let sa else { byte(UInt8(ascii: "-")); return }
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { t in
            var port: UInt16 = 0
            switch Int32(sa.pointee.sa_family) {
            case AF_INET:
                sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { p in
                    var a = p.pointee.sin_addr
                    inet_ntop(AF_INET, &a, t.baseAddress, 64)
                    port = UInt16(bigEndian: p.pointee.sin_port)
                }
            case AF_INET6:
                sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p in
                    var a = p.pointee.sin6_addr
                    inet_ntop(AF_INET6, &a, t.baseAddress, 64)
                    port = UInt16(bigEndian: p.pointee.sin6_port)
                }
            default:
                t[0] = 63; t[1] = 0
            }
            var i = 0
            while i < 64 && t[i] != 0 { byte(UInt8(bitPattern: t[i])); i += 1 }
            byte(UInt8(ascii: "#"))
            decimal(UInt64(port))
        }
    }
    /// Writes a QNAME the reader has checked (`name`: its encoded bytes, root label last).
    mutating func readName(_ name: UnsafeRawBufferPointer) {
        if name.count == 1 { byte(UInt8(ascii: ".")); return }
        var o = 0
        while o < name.count - 1 {
            let len = Int(name[o])
            if o > 0 { byte(UInt8(ascii: ".")) }
            for b in name[(o + 1)..<(o + 1 + len)] { label(b) }
            o += 1 + len
        }
    }

    /// One byte of a label as text: printable ASCII as is, the rest (and `.`, `\`) as `\DDD`.
    @inline(__always)
    mutating func label(_ b: UInt8) {
        if b > 32 && b < 127 && b != UInt8(ascii: ".") && b != UInt8(ascii: "\\") {
            byte(b)
        } else {
            byte(UInt8(ascii: "\\"))
            byte(48 + b / 100); byte(48 + b / 10 % 10); byte(48 + b % 10)
        }
    }

    /// Writes the question name of a query that could not be read; returns the offset of
    /// QTYPE, or nil if the name is unreadable.
    mutating func qname(_ q: UnsafeRawBufferPointer) -> Int? {
        guard q.count > 12, (UInt16(q[4]) << 8 | UInt16(q[5])) >= 1 else { byte(UInt8(ascii: "-")); return nil }
        var o = 12
        var first = true
        while o < q.count {
            let len = Int(q[o])
            if len == 0 {
                if first { byte(UInt8(ascii: ".")) }
                return o + 1
            }
            guard len < 64, o + 1 + len <= q.count else { byte(UInt8(ascii: "?")); return nil }
            if !first { byte(UInt8(ascii: ".")) }
            first = false
            for b in q[(o + 1)..<(o + 1 + len)] { label(b) }
            o += 1 + len
        }
        byte(UInt8(ascii: "?"))
        return nil
    }
    mutating func qtype(_ t: UInt16) {
        switch t {
        case 1: ascii("A")
        case 2: ascii("NS")
        case 5: ascii("CNAME")
        case 6: ascii("SOA")
        case 12: ascii("PTR")
        case 15: ascii("MX")
        case 16: ascii("TXT")
        case 28: ascii("AAAA")
        case 252: ascii("AXFR")
        case 251: ascii("IXFR")
        case 255: ascii("ANY")
        default: ascii("TYPE"); decimal(UInt64(t))
        }
    }
    mutating func rcode(_ r: UInt8) {
        switch r {
        case 0: ascii("NOERROR")
        case 1: ascii("FORMERR")
        case 2: ascii("SERVFAIL")
        case 3: ascii("NXDOMAIN")
        case 4: ascii("NOTIMP")
        case 5: ascii("REFUSED")
        case 16: ascii("BADVERS")
        default: ascii("RCODE"); decimal(UInt64(r))
        }
    }
}
