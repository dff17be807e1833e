#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CSystemShims
import DNSBL
import DNSWire
import Logging
import Synchronization

/// UDP transport: for every listen address, `threads` sockets bound to the same address with
/// `SO_REUSEPORT` (the kernel spreads datagrams over them by flow hash), each served by its own
/// thread that receives up to `batchSize` queries with one `recvmmsg(2)`, answers them into
/// preallocated per-slot buffers and sends all answers with one `sendmmsg(2)`.
///
/// Why not SwiftNIO for UDP: measured on a 2-vCPU machine, recvmmsg/sendmmsg threads served
/// ~273k qps per core against ~234k for NIO `DatagramBootstrap` with vector reads and one flush
/// per read burst (<doc:DesignNotes#UDP-serving>); the hand-rolled loop also allocates nothing
/// per packet.
final class UDPServer: @unchecked Sendable {
    struct Worker {
        var fd: Int32
        var thread: pthread_t?
        /// Socket-activated: shared with the service manager, so never shut down (its
        /// receive timeout lets the worker notice ``stop()`` instead).
        var adopted = false
    }

    let configuration: ServerConfiguration
    let holder: SnapshotHolder
    let logger: Logger
    let queryLog: QueryLog?
    private(set) var boundAddresses: [ListenAddress] = []
    private var workers: [Worker] = []
    private let stopFlag = Atomic<Bool>(false)
    let stats = TransportStats()
    /// The query path shared with TCP; set by ``DNSServer`` before ``start()``.
    var pipeline: QueryPipeline? = nil
    /// Metrics; set by ``DNSServer`` before ``start()``. `nil` = count nothing.
    var metrics: ServerMetrics? = nil

    init(configuration: ServerConfiguration, holder: SnapshotHolder, logger: Logger, queryLog: QueryLog?) {
        self.configuration = configuration
        self.holder = holder
        self.logger = logger
        self.queryLog = queryLog
    }

    /// Creates and binds every socket; on failure closes what was opened.
    func bind(_ addresses: [ListenAddress]) throws(ServerError) {
        do {
            for address in addresses {
                var actual = address
                // SO_REUSEPORT would let the group join another process's sockets on this port
                // (same user) and share its traffic: check first that nobody holds it.
                if actual.port != 0 { try probeUnused(actual) }
                for i in 0..<configuration.udpThreads {
                    let fd = try makeSocket(actual)
                    workers.append(Worker(fd: fd, thread: nil))
                    if i == 0 {
                        // Port 0 takes an ephemeral port; the other sockets of the group join it.
                        actual.port = try boundPort(fd)
                        boundAddresses.append(actual)
                        let rcv = csys_get_rcvbuf(fd)
                        if rcv < configuration.udpReceiveBuffer {
                            logger.warning("UDP receive buffer smaller than asked", metadata: [
                                "address": "\(actual)", "asked": "\(configuration.udpReceiveBuffer)",
                                "got": "\(rcv)", "hint": "raise sysctl net.core.rmem_max"])
                        }
                    }
                }
            }
        } catch {
            for w in workers { close(w.fd) }
            workers = []
            throw error
        }
    }

    /// Serves on inherited (socket-activated) datagram sockets: `udpThreads` workers share each
    /// descriptor (concurrent `recvmmsg` on one socket is safe; the kernel hands each datagram
    /// to one caller). The socket keeps the options its creator gave it, except the timeouts
    /// the workers need to notice ``stop()``.
    func adopt(_ fds: [Int32]) throws(ServerError) {
        for fd in fds {
            guard csys_set_timeouts(fd, 200, 100) == 0 else {
                throw ServerError(.socket, "inherited UDP socket \(fd): \(errnoText())")
            }
            _ = csys_set_rcvbuf(fd, Int32(configuration.udpReceiveBuffer))
            if let a = localAddress(fd) { boundAddresses.append(a) }
            for _ in 0..<configuration.udpThreads { workers.append(Worker(fd: fd, thread: nil, adopted: true)) }
        }
    }

    /// Binds and closes a socket without `SO_REUSEPORT` on `address`: the bind fails with
    /// EADDRINUSE while any other socket holds the port, with or without `SO_REUSEPORT`
    /// (Linux shares a port only among sockets that all set it). A process binding in the
    /// instant between the probe and our group is not detected.
    /// - Throws: ``ServerError`` `.bind` naming the address and port.
    func probeUnused(_ address: ListenAddress) throws(ServerError) {
        let fd = try openUDPSocket(address)
        defer { close(fd) }
        if address.family == .ipv6 { _ = csys_set_v6only(fd) }
        let rc = address.withSockaddr { Glibc.bind(fd, $0, $1) }
        guard rc != 0 else { return }
        let e = errno
        if e == EADDRINUSE {
            throw ServerError.portInUse("UDP", address)
        }
        throw ServerError(.bind, "UDP bind \(address): \(errnoText(e))")
    }

    /// A close-on-exec UDP socket of `address`'s family, unbound.
    /// - Throws: ``ServerError`` `.socket`.
    private func openUDPSocket(_ address: ListenAddress) throws(ServerError) -> Int32 {
        let domain = address.family == .ipv4 ? AF_INET : AF_INET6
        #if canImport(Glibc)
        let fd = socket(domain, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #else
        let fd = socket(domain, SOCK_DGRAM, 0)
        #endif
        guard fd >= 0 else { throw ServerError(.socket, "UDP socket for \(address): \(errnoText())") }
        return fd
    }

    private func makeSocket(_ address: ListenAddress) throws(ServerError) -> Int32 {
        let fd = try openUDPSocket(address)
        var ok = csys_set_reuseport(fd) == 0
        if ok, address.family == .ipv6 { ok = csys_set_v6only(fd) == 0 }
        if ok { _ = csys_set_rcvbuf(fd, Int32(configuration.udpReceiveBuffer)) }
        // No receive timeout: an idle socket costs no wake-ups, and `stop()` wakes its worker by
        // shutting the socket for reading. The send timeout bounds a sendmmsg stuck on a full
        // send buffer.
        if ok { ok = csys_set_timeouts(fd, 0, 100) == 0 }
        guard ok else {
            let e = errnoText(); close(fd)
            throw ServerError(.socket, "UDP socket options for \(address): \(e)")
        }
        let rc = address.withSockaddr { Glibc.bind(fd, $0, $1) }
        guard rc == 0 else {
            let code = errno
            let e = errnoText(code); close(fd)
            if code == EADDRINUSE {
                throw ServerError.portInUse("UDP", address)
            }
            throw ServerError(.bind, "UDP bind \(address): \(e)")
        }
        return fd
    }

    /// Starts one thread per socket.
    func start() {
        for i in workers.indices {
            let context = WorkerContext(server: self, fd: workers[i].fd)
            let box = Unmanaged.passRetained(context).toOpaque()
            var tid = pthread_t()
            let rc = pthread_create(&tid, nil, { arg in
                let context = Unmanaged<WorkerContext>.fromOpaque(arg!).takeRetainedValue()
                csys_set_thread_name("prefixbl-udp")
                context.server.serve(fd: context.fd)
                return nil
            }, box)
            if rc == 0 {
                workers[i].thread = tid
            } else {
                Unmanaged<WorkerContext>.fromOpaque(box).release()
                logger.error("cannot start UDP thread", metadata: ["errno": "\(rc)"])
            }
        }
    }

    /// Stops receiving; each worker finishes (answers) the batch it holds, then exits.
    func stop() {
        if stopFlag.exchange(true, ordering: .acquiringAndReleasing) { return }
        // Wakes workers blocked in recvmmsg; they answer what is queued, then see the flag.
        for w in workers where !w.adopted { _ = csys_shutdown_read(w.fd) }
        var closed = Set<Int32>()
        for w in workers {
            if let t = w.thread { pthread_join(t, nil) }
            // Adopted sockets are shared by several workers: close each descriptor once.
            if closed.insert(w.fd).inserted { close(w.fd) }
        }
        workers = []
    }

    private final class WorkerContext {
        let server: UDPServer
        let fd: Int32
        init(server: UDPServer, fd: Int32) { self.server = server; self.fd = fd }
    }

    /// The reply to a datagram larger than the receive slot (MSG_TRUNC): FORMERR with the
    /// header only (ID, opcode and RD echoed, all counts 0; 12 bytes, so never an amplifier)
    /// when at least the 12-byte header arrived and it is a query; otherwise nothing.
    static func oversizedReply(to query: UnsafeRawBufferPointer, into response: UnsafeMutableRawBufferPointer) -> AnswerOutcome {
        var out = AnswerOutcome()
        guard let h = DNSHeader(reading: query), !h.isResponse else { return out }
        var w = MessageWriter(buffer: response, limit: DNSWire.classicUDPLimit)
        let echoed = h.flags & (DNSFlags.opcodeMask | DNSFlags.rd | DNSFlags.cd)
        guard w.header(id: h.id, flags: DNSFlags.qr | echoed | DNSRCode.formErr, qd: 0) else { return out }
        out.rcode = UInt8(DNSRCode.formErr)
        out.length = w.count
        return out
    }

    /// The packet loop: receive a batch, hand each query to the ``QueryPipeline``, send the
    /// batch, count. Allocates the batch once; nothing per packet.
    private func serve(fd: Int32) {
        guard let pipeline else {
            logger.critical("UDP worker started without a query pipeline")
            return
        }
        let querySlot = 4096
        // Cookie holders may get answers up to --cookie-udp-payload (QueryGuard).
        let responseSlot = max(configuration.udpPayloadSize, configuration.operations.cookieUDPPayloadSize, 4096)
        guard let batch = csys_udp_batch_new(UInt32(configuration.udpBatchSize), querySlot, responseSlot) else {
            logger.critical("cannot allocate UDP batch buffers")
            return
        }
        defer { csys_udp_batch_free(batch) }
        csys_udp_batch_set_wait(batch, UInt32(max(0, min(configuration.udpBatchWait, 0.1)) * 1e6),
                                UInt32(clamping: configuration.udpBatchWaitMinRate))
        let counters = metrics?.makeBlock()
        var lastErrorLog: UInt64 = 0
        while !stopFlag.load(ordering: .relaxed) {
            let n = csys_udp_batch_recv(fd, batch)
            if n <= 0 {
                let e = errno
                if n < 0 && e != EAGAIN && e != EWOULDBLOCK && e != EINTR {
                    if e == EBADF { return }
                    let now = monotonicSeconds()
                    if now != lastErrorLog {
                        lastErrorLog = now
                        logger.error("recvmmsg failed", metadata: ["error": "\(errnoText(e))"])
                    }
                }
                continue
            }
            // One snapshot per batch: a reload is picked up by the next batch, and the old
            // snapshot stays alive (mapped) until this reference is dropped.
            let snapshot = holder.load()
            counters?.use(snapshot)
            let now = wallClockSeconds()
            let started = counters == nil ? 0 : monotonicNanos()
            var queued: UInt32 = 0
            var dropped = 0
            var i: UInt32 = 0
            // A plain counter: a Range<UInt32> iterator is generic and allocates in debug builds.
            while i < UInt32(n) {
                defer { i += 1 }
                var qlen = 0
                var truncated: Int32 = 0
                let q = csys_udp_batch_query(batch, i, &qlen, &truncated)!
                var rcap = 0
                let r = csys_udp_batch_response(batch, i, &rcap)!
                let query = UnsafeRawBufferPointer(start: q, count: qlen)
                let into = UnsafeMutableRawBufferPointer(start: r, count: rcap)
                var outcome: AnswerOutcome
                var action = QueryGuard.Action.answered
                var plen: socklen_t = 0
                let client = ClientAddress(sockaddr: csys_udp_batch_peer(batch, i, &plen))
                if truncated != 0 {
                    // Larger than the receive slot: the rest of the message is gone, so it
                    // cannot be read as sent (see Robustness.md, "Oversized datagrams").
                    outcome = Self.oversizedReply(to: query, into: into)
                    counters?.recordOversized()
                } else {
                    (outcome, action) = pipeline.answer(query, transport: .udp, client: client, snapshot: snapshot,
                                                        now: now, into: into)
                }
                counters?.record(outcome, action, transport: .udp)
                counters?.recordKey(outcome, query: query)  // aclkey
                if outcome.length > 0 && outcome.length <= rcap {
                    csys_udp_batch_queue(batch, queued, i, outcome.length)
                    queued += 1
                } else {
                    dropped += 1
                }
                if let queryLog {
                    var plen: socklen_t = 0
                    queryLog.record(transport: .udp, peer: csys_udp_batch_peer(batch, i, &plen),
                                    query: query, outcome: outcome)
                }
            }
            if let counters {
                counters.recordLatency(nanos: (monotonicNanos() &- started) / UInt64(n), count: Int(n))
            }
            var sent: Int32 = 0
            if queued > 0 { sent = csys_udp_batch_send(fd, batch, queued) }
            stats.add(received: Int(n), answered: Int(sent), dropped: dropped + Int(queued) - Int(sent))
        }
    }
}

/// Counters of one transport, updated once per batch (UDP) or per query (TCP).
public final class TransportStats: Sendable {
    private let receivedCount = Atomic<Int>(0)
    private let answeredCount = Atomic<Int>(0)
    private let droppedCount = Atomic<Int>(0)
    public init() {}
    func add(received: Int, answered: Int, dropped: Int) {
        receivedCount.add(received, ordering: .relaxed)
        answeredCount.add(answered, ordering: .relaxed)
        if dropped != 0 { droppedCount.add(dropped, ordering: .relaxed) }
    }
    /// Queries received.
    public var received: Int { receivedCount.load(ordering: .relaxed) }
    /// Responses sent.
    public var answered: Int { answeredCount.load(ordering: .relaxed) }
    /// Queries not answered (handler returned nothing, or the send failed).
    public var dropped: Int { droppedCount.load(ordering: .relaxed) }
}

func boundPort(_ fd: Int32) throws(ServerError) -> UInt16 {
    var ss = sockaddr_storage()
    var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
    let rc = withUnsafeMutablePointer(to: &ss) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    guard rc == 0 else { throw ServerError(.socket, "getsockname: \(errnoText())") }
    return withUnsafePointer(to: &ss) { p -> UInt16 in
        if Int32(p.pointee.ss_family) == AF_INET {
            return p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
        }
        return p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) }
    }
}

func monotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

func monotonicSeconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec)
}
