#if canImport(Glibc)
import Glibc
#endif
import DNSBL
import DNSWire
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// TCP transport (RFC 7766) on SwiftNIO.
///
/// - Framing: each message is preceded by its length as a 2-byte big-endian integer (RFC 1035
///   §4.2.2). Several queries may arrive in one segment (pipelining); they are answered **in
///   the order received**, one response per query that gets one.
/// - A zero-length frame is not a DNS message: the connection is closed.
/// - Idle timeout: no byte read or written for ``ServerConfiguration/tcpIdleTimeout`` closes
///   the connection, which also ends connections stuck on a length prefix that lies.
/// - Message timeout: a message (length prefix and body) must be complete within
///   ``ServerConfiguration/tcpMessageTimeout`` of its first byte, or the connection is closed,
///   so a client dribbling a byte just inside the idle timeout cannot hold a slot for long
///   (RFC 7766 §6.2.3; Knot's `tcp-io-timeout`).
/// - Connection cap: at ``ServerConfiguration/tcpMaxConnections`` open connections, a new one
///   is admitted by closing the connection that has gone longest without a whole message
///   answered or a write (bytes trickled in do not count)
///   (RFC 7766 §6.2.3 lets a server close idle connections under load); so holders of
///   slots cannot lock out new clients.
/// - Backpressure: once ``ServerConfiguration/tcpMaxQueuedBytes`` of responses wait for a client
///   that does not read, the server stops answering and reading that connection until the client
///   drains them; unread input is then bounded by one partial message plus one read burst.
///   Event loops never block, so such a client costs the others nothing.
final class TCPServer: @unchecked Sendable {
    let configuration: ServerConfiguration
    let holder: SnapshotHolder
    let logger: Logger
    let queryLog: QueryLog?
    let group: MultiThreadedEventLoopGroup
    let connections: ConnectionRegistry
    let stats = TransportStats()
    /// The query path shared with UDP; set by ``DNSServer`` before binding.
    var pipeline: QueryPipeline? = nil
    /// Metrics; set by ``DNSServer`` before binding.
    var metrics: ServerMetrics? = nil
    private var serverChannels: [Channel] = []
    private(set) var boundAddresses: [ListenAddress] = []
    private let scratch: [ObjectIdentifier: ResponseScratch]

    init(configuration: ServerConfiguration, holder: SnapshotHolder, logger: Logger, queryLog: QueryLog?) {
        self.configuration = configuration
        self.holder = holder
        self.logger = logger
        self.queryLog = queryLog
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.tcpThreads)
        self.connections = ConnectionRegistry(limit: configuration.tcpMaxConnections)
        var scratch: [ObjectIdentifier: ResponseScratch] = [:]
        for loop in group.makeIterator() { scratch[ObjectIdentifier(loop)] = ResponseScratch() }
        self.scratch = scratch
    }

    func bind(_ addresses: [ListenAddress]) async throws(ServerError) {
        for address in addresses {
            do {
                let channel = try await bootstrap(for: address).bind(host: address.host, port: Int(address.port)).get()
                serverChannels.append(channel)
                var actual = address
                actual.port = UInt16(channel.localAddress?.port ?? Int(address.port))
                boundAddresses.append(actual)
            } catch {
                await unbind()
                if let e = error as? IOError, e.errnoCode == EADDRINUSE {
                    throw ServerError.portInUse("TCP", address)
                }
                throw ServerError(.bind, "TCP bind \(address): \(error)")
            }
        }
    }

    /// Serves on inherited (socket-activated) listening stream sockets; NIO calls `listen` on them.
    func adopt(_ fds: [Int32]) async throws {
        do {
            for fd in fds {
                let local = localAddress(fd)
                let fallback = try ListenAddress(host: "0.0.0.0", port: 0)
                let b = bootstrap(for: local ?? fallback, inherited: true)
                let channel = try await b.withBoundSocket(fd).get()
                serverChannels.append(channel)
                if let local { boundAddresses.append(local) }
            }
        } catch {
            for c in serverChannels { try? await c.close() }
            serverChannels = []
            throw ServerError(.socket, "inherited TCP socket: \(error)")
        }
    }

    /// Closes the listening sockets (before serving; used when the UDP side cannot bind).
    func unbind() async {
        for c in serverChannels { try? await c.close() }
        serverChannels = []
        boundAddresses = []
    }

    private func bootstrap(for address: ListenAddress, inherited: Bool = false) -> ServerBootstrap {
        let idle = TimeAmount.nanoseconds(Int64(configuration.tcpIdleTimeout * 1e9))
        let messageTimeout = TimeAmount.nanoseconds(Int64(configuration.tcpMessageTimeout * 1e9))
        let queued = configuration.tcpMaxQueuedBytes
        var b = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
        // An inherited socket is already bound: SO_REUSEADDR and IPV6_V6ONLY are its creator's
        // choice (systemd's BindIPv6Only=) and cannot change after bind.
        if !inherited { b = b.serverChannelOption(.socketOption(.so_reuseaddr), value: 1) }
        if address.family == .ipv6 && !inherited {
            b = b.serverChannelOption(
                ChannelOptions.Types.SocketOption(level: NIOBSDSocket.OptionLevel.ipv6, name: NIOBSDSocket.Option.ipv6_v6only),
                value: 1)
        }
        return b
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: queued / 2, high: queued))
            .childChannelOption(.maxMessagesPerRead, value: 1)
            .childChannelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: DNSTCPHandler.readSize))
            .childChannelInitializer { [self] channel in
                let activity = ConnectionActivity()
                guard connections.admit(channel, activity: activity) else {
                    return channel.eventLoop.makeFailedFuture(ConnectionLimitReached())
                }
                let scratch = self.scratch[ObjectIdentifier(channel.eventLoop)]!
                return channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(IdleStateHandler(allTimeout: idle))
                    let handler = DNSTCPHandler(holder: holder, pipeline: self.pipeline!, scratch: scratch,
                                                queryLog: queryLog, stats: stats, transfer: configuration.transfer)
                    handler.activity = activity
                    handler.registry = connections
                    handler.messageTimeout = messageTimeout
                    handler.counters = self.metrics?.block(forLoop: ObjectIdentifier(channel.eventLoop))
                    try sync.addHandler(handler)
                }
            }
    }

    /// Stops accepting, lets open connections receive the answers to what they already sent
    /// (for at most `shutdownGrace` seconds), closes them and stops the event loops.
    func stop() async {
        for c in serverChannels { try? await c.close() }
        serverChannels = []
        let open = connections.all()
        for c in open { c.pipeline.fireUserInboundEventTriggered(DNSTCPHandler.Drain()) }
        let deadline = ContinuousClock.now + .milliseconds(Int(configuration.shutdownGrace * 1000))
        while connections.count > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        for c in connections.all() { try? await c.close() }
        try? await group.shutdownGracefully()
    }
}

struct ConnectionLimitReached: Error {}

/// When a connection last read or wrote, for choosing whom to close at the cap. Written by
/// the connection's event loop, read by the accepting one.
final class ConnectionActivity: Sendable {
    private let last = Atomic<UInt64>(monotonicNanos())
    /// Marks the connection active now.
    @inline(__always) func touch() { last.store(monotonicNanos(), ordering: .relaxed) }
    var lastNanos: UInt64 { last.load(ordering: .relaxed) }
}

/// Open TCP connections, capped: at the cap, a new connection replaces the one idle longest
/// (activity = a whole message answered or a write; trickled bytes do not count).
final class ConnectionRegistry: Sendable {
    let limit: Int
    private let open = Mutex<[ObjectIdentifier: (channel: Channel, activity: ConnectionActivity)]>([:])
    private let evictedCount = Atomic<Int>(0)
    private let messageTimeoutCount = Atomic<Int>(0)
    init(limit: Int) { self.limit = limit }

    /// Registers `channel`, unregistering it when it closes. At the cap, the connection with
    /// the oldest activity is closed to make room; `false` only when the cap is 0 slots.
    func admit(_ channel: Channel, activity: ConnectionActivity) -> Bool {
        let id = ObjectIdentifier(channel)
        var victim: Channel? = nil
        let ok = open.withLock { map -> Bool in
            if map.count >= limit {
                guard let oldest = map.min(by: { $0.value.activity.lastNanos < $1.value.activity.lastNanos }) else {
                    return false
                }
                map.removeValue(forKey: oldest.key)
                victim = oldest.value.channel
            }
            map[id] = (channel, activity)
            return true
        }
        if let victim {
            evictedCount.add(1, ordering: .relaxed)
            victim.close(promise: nil)
        }
        if ok { channel.closeFuture.whenComplete { [self] _ in _ = open.withLock { $0.removeValue(forKey: id) } } }
        return ok
    }
    var count: Int { open.withLock { $0.count } }
    func all() -> [Channel] { open.withLock { $0.values.map(\.channel) } }
    /// Connections closed to admit a new one at the cap.
    var evicted: Int { evictedCount.load(ordering: .relaxed) }
    /// Connections closed because a message was not complete in time.
    var messageTimeouts: Int { messageTimeoutCount.load(ordering: .relaxed) }
    func noteMessageTimeout() { messageTimeoutCount.add(1, ordering: .relaxed) }
}

/// A 65535-byte response buffer per event loop: handlers on one loop run one at a time.
final class ResponseScratch: @unchecked Sendable {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65535, alignment: 8)
    deinit { buffer.deallocate() }
}

/// Decodes length-prefixed queries, answers them in order, applies backpressure.
final class DNSTCPHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = Never
    typealias OutboundIn = Never
    typealias OutboundOut = ByteBuffer

    /// Shutdown: answer what is complete in the buffer, then close once written.
    struct Drain {}

    let holder: SnapshotHolder
    let transfer: (any TransferHandler)?
    var transferState = TransferState()
    private let scratch: ResponseScratch
    private let queryLog: QueryLog?
    private let stats: TransportStats
    private let pipeline: QueryPipeline
    var counters: QueryCounters? = nil
    private var input: ByteBuffer? = nil
    private var readWanted = false
    private var draining = false
    private var closing = false
    /// The peer, read once per connection (for ACLs).
    private var client: ClientAddress? = nil
    private var closeQueued = false
    /// Last read or write, for the connection cap's choice of whom to close.
    var activity: ConnectionActivity? = nil
    /// A message must be complete this long after its first byte arrived.
    var messageTimeout: TimeAmount = .seconds(5)
    /// The pending check of ``messageTimeout`` (at most one per connection).
    private var messageDeadline: Scheduled<Void>? = nil
    /// When the partial message at the head of the input began; nil = none pending.
    private var partialSince: NIODeadline? = nil
    /// Counts message timeouts.
    var registry: ConnectionRegistry? = nil

    init(holder: SnapshotHolder, pipeline: QueryPipeline, scratch: ResponseScratch, queryLog: QueryLog?,
         stats: TransportStats, transfer: (any TransferHandler)? = nil) {
        self.holder = holder
        self.pipeline = pipeline
        self.transfer = transfer
        self.scratch = scratch
        self.queryLog = queryLog
        self.stats = stats
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if draining || closing { return }
        // Not touched per read: a client trickling a byte at a time must look idle to the
        // cap's eviction; only answered messages (below) and writes count as activity.
        if input == nil || input!.readableBytes == 0 {
            input = bytes
        } else {
            input!.writeBuffer(&bytes)
        }
        process(context: context)
    }

    /// Answers every complete frame in the buffer, in order, while the channel is writable.
    /// Fairness between connections of one event loop comes from small reads: each read
    /// brings at most `readSize` bytes, so one busy connection gets one such slice per loop tick.
    private func process(context: ChannelHandlerContext) {
        if transferState.busy { return pumpTransfer(context: context) }
        guard var buffer = input else {
            if draining || closing { closeAfterWrites(context: context) }
            return
        }
        input = nil  // sole owner while we work: compaction below then needs no copy
        var wrote = false
        var framesTaken = 0
        var waitingForBytes = false
        // The answers of one pass go out in one buffer (one allocation per read burst, not per
        // answer), written whenever it passes `batchBytes` so that writability keeps telling.
        var out: ByteBuffer? = nil
        loop: while context.channel.isWritable || draining {
            // The same pure framing function the wire fuzz target drives (tools/fuzz).
            let frame = buffer.readableBytesView.withUnsafeBytes { DNSWire.nextTCPFrame($0) }
            let length: Int
            switch frame {
            case .incomplete:
                waitingForBytes = buffer.readableBytes > 0
                break loop
            case .empty:
                // Not a DNS message; nothing sensible follows on this stream.
                closing = true
                buffer.clear()
                break loop
            case .message(let n):
                length = n
                framesTaken += 1
            }
            buffer.moveReaderIndex(forwardBy: 2)
            if transfer != nil, let pending = out {
                // With transfers on, any query may start one, whose messages are written
                // directly: the answers before it go out first.
                context.write(wrapOutboundOut(pending), promise: nil)
                out = nil
            }
            if transfer != nil, buffer.readableBytesView.withUnsafeBytes({
                interceptTransfer(UnsafeRawBufferPointer(rebasing: $0[0..<Int(length)]), context: context)
            }) {
                buffer.moveReaderIndex(forwardBy: Int(length))
                stats.add(received: 1, answered: 1, dropped: 0)
                wrote = true
                if transferState.busy { break }
                continue
            }
            let snapshot = holder.load()
            let client = self.client ?? context.channel.remoteAddress.map { a in
                a.withSockAddr { sa, _ in ClientAddress(sockaddr: sa) }
            } ?? .unknown
            self.client = client
            let outcome = buffer.readableBytesView.withUnsafeBytes { raw -> AnswerOutcome in
                let query = UnsafeRawBufferPointer(rebasing: raw[0..<length])
                let started = counters == nil ? 0 : monotonicNanos()
                let (o, action) = pipeline.answer(query, transport: .tcp, client: client, snapshot: snapshot,
                                                  now: wallClockSeconds(), into: scratch.buffer)
                if let counters {
                    counters.use(snapshot)
                    counters.record(o, action, transport: .tcp)
                    counters.recordKey(o, query: query)  // aclkey
                    counters.recordLatency(nanos: monotonicNanos() &- started, count: 1)
                }
                if let queryLog {
                    if let remote = context.channel.remoteAddress {
                        remote.withSockAddr { sa, _ in queryLog.record(transport: .tcp, peer: sa, query: query, outcome: o) }
                    } else {
                        queryLog.record(transport: .tcp, peer: nil, query: query, outcome: o)
                    }
                }
                return o
            }
            buffer.moveReaderIndex(forwardBy: length)
            if outcome.length > 0 && outcome.length <= 65535 {
                if out == nil { out = context.channel.allocator.buffer(capacity: max(Self.batchBytes, outcome.length + 2)) }
                out!.writeInteger(UInt16(outcome.length))
                out!.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(scratch.buffer)[0..<outcome.length]))
                if out!.readableBytes >= Self.batchBytes {
                    context.write(wrapOutboundOut(out!), promise: nil)
                    out = nil
                }
                wrote = true
                stats.add(received: 1, answered: 1, dropped: 0)
            } else {
                stats.add(received: 1, answered: 0, dropped: 1)
            }
        }
        if buffer.readableBytes == 0 {
            buffer.clear()
        } else if buffer.readerIndex > 32 << 10 {
            buffer.discardReadBytes()
        }
        input = buffer
        if let pending = out { context.write(wrapOutboundOut(pending), promise: nil) }
        if wrote { context.flush(); activity?.touch() }
        armMessageDeadline(context: context, waiting: waitingForBytes, newFrame: framesTaken > 0)
        if (draining || closing) && !transferState.busy { closeAfterWrites(context: context) }
    }

    /// Tracks when the partial message at the head of the buffer began (its first byte, or the
    /// end of the message before it) and keeps at most one timer per connection: when it fires
    /// it closes the connection if that message is older than ``messageTimeout``, or re-arms
    /// for the message now pending. A pipelining client whose reads end mid-message costs one
    /// clock read per read, not a timer each; messages that arrive whole start none.
    private func armMessageDeadline(context: ChannelHandlerContext, waiting: Bool, newFrame: Bool) {
        guard waiting && !draining && !closing else {
            partialSince = nil
            return
        }
        if partialSince == nil || newFrame { partialSince = .now() }
        if messageDeadline == nil { scheduleMessageCheck(context: context, at: partialSince! + messageTimeout) }
    }

    private func scheduleMessageCheck(context: ChannelHandlerContext, at deadline: NIODeadline) {
        messageDeadline = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            messageDeadline = nil
            guard let since = partialSince else { return }
            if NIODeadline.now() - since >= messageTimeout {
                registry?.noteMessageTimeout()
                context.close(promise: nil)
            } else {
                scheduleMessageCheck(context: context, at: since + messageTimeout)
            }
        }
    }

    /// Continues with the queries that arrived during a zone transfer.
    func resumeAfterTransfer(context: ChannelHandlerContext) {
        process(context: context)
        resumeReadingIfWanted(context: context)
    }

    /// Bytes per read: small enough that one connection's backlog is handled in slices.
    static let readSize = 4096
    /// Answers are gathered into one buffer up to about this many bytes before it is written.
    static let batchBytes = 16 << 10

    /// Closes once everything written so far has gone out: writes complete in order, so an
    /// empty write queued last completes after them.
    private func closeAfterWrites(context: ChannelHandlerContext) {
        if closeQueued { return }
        closeQueued = true
        let promise = context.eventLoop.makePromise(of: Void.self)
        promise.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0)), promise: promise)
    }

    private func resumeReadingIfWanted(context: ChannelHandlerContext) {
        if readWanted && context.channel.isWritable && !draining && !closing {
            readWanted = false
            context.read()
        }
    }

    // Outbound read: suppressed while responses are backed up; re-issued when they drain.
    func read(context: ChannelHandlerContext) {
        if context.channel.isWritable && !draining && !closing && !transferState.busy {
            context.read()
        } else {
            readWanted = true
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        // A streamed transfer's producer stops at its next message.
        transferState.pending?.stream?.cancel()
        messageDeadline?.cancel()
        messageDeadline = nil
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        activity?.touch()
        if context.channel.isWritable {
            process(context: context)
            resumeReadingIfWanted(context: context)
        }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            // A transfer being built (seconds for a large zone, nothing written meanwhile) or
            // written is not idleness; the handler fires again after the next idle period.
            if transferState.busy { return }
            context.close(promise: nil)
        } else if event is Drain {
            draining = true
            process(context: context)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
