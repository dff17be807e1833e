#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import Synchronization

/// What the transport does with a zone-transfer query (AXFR, RFC 5936; IXFR, RFC 1995).
public enum TransferStart: Sendable {
    /// Answer with this one message (REFUSED, NOTAUTH, a TSIG error, an up-to-date IXFR).
    case reply([UInt8])
    /// Build the transfer off the event loop (seconds for a large zone), then write its
    /// messages in order on the connection, each made when the connection can take it
    /// (``TransferMessages``); the connection's later queries wait until they are written.
    case transfer(@Sendable () -> TransferMessages)
}

/// The messages of one zone transfer, made one at a time as the connection takes them, so a
/// transfer never holds a second copy of the zone: the handler keeps the records once (its
/// cache or IXFR history) and each message (header, question, ≤ 16 KB of records, TSIG) is
/// assembled only when it is written. `message` is called once per index, in ascending
/// order, from one thread at a time (the connection's event loop).
///
/// A streamed transfer (``init(stream:wrap:)``) has no count: its messages come from a
/// producer thread through a ``TransferStream`` as they are made (a signed zone signed as it is
/// walked), and `wrap` finishes each (TSIG) as it is written.
public struct TransferMessages: Sendable {
    /// Messages in the transfer (0 for a streamed one).
    public let count: Int
    /// The `index`-th message (0-based), without the TCP length prefix.
    public let message: @Sendable (Int) -> [UInt8]
    /// The producer's queue of a streamed transfer; nil when the messages are indexed.
    public let stream: TransferStream?
    /// A streamed transfer: what the `index`-th message taken from ``stream`` is sent as.
    public let wrap: @Sendable (Int, [UInt8]) -> [UInt8]

    public init(count: Int, message: @escaping @Sendable (Int) -> [UInt8]) {
        self.count = count; self.message = message; stream = nil; wrap = { $1 }
    }

    /// Messages taken from `stream` as its producer makes them, each passed through `wrap`
    /// (index, message) in order.
    public init(stream: TransferStream, wrap: @escaping @Sendable (Int, [UInt8]) -> [UInt8] = { $1 }) {
        count = 0; message = { _ in [] }; self.stream = stream; self.wrap = wrap
    }

    /// Messages already made.
    public init(_ messages: [[UInt8]]) {
        self.init(count: messages.count) { messages[$0] }
    }
}

/// The queue between a thread making a transfer's messages and the connection writing them.
/// With a `capacity`, at most that many messages wait, so a slow reader holds the producer
/// back instead of the zone piling up in memory; a reader that takes nothing for
/// `stallLimit` while the queue is full is given up ( ``put(_:)`` returns false and the
/// connection is closed), so a stalled secondary cannot hold a build, or the transfers
/// waiting for it, for as long as it keeps its connection. Unbounded (`capacity` nil), the
/// producer never waits: for a transfer whose records are kept anyway (the IXFR history's
/// version), so the build shared by every transfer runs at its own speed. The producer calls
/// ``put(_:)`` per message then ``finish()``; the connection takes them on its event loop
/// and is woken when one arrives.
public final class TransferStream: Sendable {
    struct State {
        /// Messages from `head` on wait; those before it were taken.
        var queue: [[UInt8]] = []
        var head = 0
        var finished = false
        var cancelled = false
        /// The producer gave the reader up (stalled past `stallLimit`).
        var aborted = false
        /// The consumer found the queue empty and waits for `wake`.
        var wake: (@Sendable () -> Void)? = nil
        var waiting: Int { queue.count - head }
    }
    private let state = Mutex(State())
    /// Messages that may wait (nil: no bound).
    public let capacity: Int?
    /// How long ``put(_:)`` waits on a full queue from which nothing is taken.
    public let stallLimit: Duration

    public init(capacity: Int? = 8, stallLimit: Duration = .seconds(30)) {
        self.capacity = capacity.map { max(1, $0) }
        self.stallLimit = stallLimit
    }

    /// Queues `message`, waiting while `capacity` messages are queued. Returns false when the
    /// connection is gone (``cancel()``) or the reader stalled for ``stallLimit`` (the
    /// connection then ends at ``take(wake:)``'s `.abort`): nothing more is wanted.
    public func put(_ message: [UInt8]) -> Bool {
        let clock = ContinuousClock()
        var fullSince: ContinuousClock.Instant? = nil
        var lastWaiting = -1
        while true {
            let r: (done: Bool?, wake: (@Sendable () -> Void)?, waiting: Int) = state.withLock { s in
                if s.cancelled || s.aborted { return (false, nil, 0) }
                if let c = capacity, s.waiting >= c { return (nil, nil, s.waiting) }
                if s.head > 0 && s.head * 2 >= s.queue.count { s.queue.removeFirst(s.head); s.head = 0 }
                s.queue.append(message)
                let w = s.wake
                s.wake = nil
                return (true, w, 0)
            }
            if let done = r.done { r.wake?(); return done }
            // Full: a reader that takes nothing for stallLimit is given up.
            let now = clock.now
            if fullSince == nil || r.waiting != lastWaiting { fullSince = now; lastWaiting = r.waiting }
            if let since = fullSince, now - since >= stallLimit {
                let w: (@Sendable () -> Void)? = state.withLock { s in
                    // Taken meanwhile: keep going.
                    if s.waiting < lastWaiting { return nil }
                    s.aborted = true; s.queue = []; s.head = 0
                    let w = s.wake; s.wake = nil; return w
                }
                if state.withLock({ $0.aborted }) { w?(); return false }
                fullSince = nil
            }
            usleep(500)
        }
    }

    /// The producer made its last message.
    public func finish() {
        let w: (@Sendable () -> Void)? = state.withLock { s in
            s.finished = true
            let w = s.wake
            s.wake = nil
            return w
        }
        w?()
    }

    /// The connection is gone: the producer's next ``put(_:)`` returns false.
    public func cancel() { state.withLock { $0.cancelled = true; $0.queue = []; $0.head = 0; $0.wake = nil } }

    /// Whether the connection gave up (``cancel()``).
    public var isCancelled: Bool { state.withLock { $0.cancelled } }

    /// Whether the producer gave the reader up (it stalled past ``stallLimit``).
    public var isAborted: Bool { state.withLock { $0.aborted } }

    public enum Taken { case message([UInt8]), wait, end, abort }

    /// The next message; `.wait` when none is queued yet (`wake` is then called once when one
    /// is, or at the end); `.end` after the last; `.abort` when the producer gave the reader
    /// up (close the connection: the transfer is incomplete).
    public func take(wake: @escaping @Sendable () -> Void) -> Taken {
        state.withLock { s in
            if s.aborted { return .abort }
            if s.head < s.queue.count {
                let m = s.queue[s.head]
                s.queue[s.head] = []
                s.head += 1
                if s.head == s.queue.count { s.queue.removeAll(keepingCapacity: true); s.head = 0 }
                return .message(m)
            }
            if s.finished { return .end }
            s.wake = wake
            return .wait
        }
    }
}

/// The zone-transfer hook of the TCP transport (``ServerConfiguration/transfer``): the
/// transport hands every TCP query to it before the answer path; the ZoneTransfer module's
/// `TransferResponder` is the production conformer, wired by the daemon. The transport knows
/// nothing of zones, exports or TSIG keys beyond this.
public protocol TransferHandler: Sendable {
    /// - Parameters:
    ///   - query: one DNS message without the TCP length prefix.
    ///   - peer: the client's address in text form, as NIO reports it (nil: unknown).
    ///   - snapshot: the snapshot serving now; a transfer is built from it.
    /// - Returns: nil when `query` is no AXFR/IXFR query (answer it as usual), else what to send.
    func start(query: UnsafeRawBufferPointer, peer: String?, snapshot: Snapshot) -> TransferStart?
}

extension DNSTCPHandler {
    /// Intercepts an AXFR/IXFR query before the responder sees it. Returns false when `query`
    /// is no transfer query (answer it as usual); otherwise the request is answered (REFUSED
    /// and NOTAUTH at once, a transfer after building it off the event loop) and the
    /// connection's later queries wait until the transfer is written.
    func interceptTransfer(_ query: UnsafeRawBufferPointer, context: ChannelHandlerContext) -> Bool {
        guard let transfer,
              let start = transfer.start(query: query, peer: context.channel.remoteAddress?.ipAddress,
                                         snapshot: holder.load()) else { return false }
        switch start {
        case .reply(let bytes):
            var out = context.channel.allocator.buffer(capacity: bytes.count + 2)
            out.writeInteger(UInt16(bytes.count))
            out.writeBytes(bytes)
            context.write(wrapOutboundOut(out), promise: nil)
        case .transfer(let build):
            transferState.busy = true
            let loop = context.eventLoop
            let bound = NIOLoopBound((self, context), eventLoop: loop)
            let channel = context.channel
            ThreadJob {
                let messages = build()
                // A connection closed meanwhile (the client left, or shutdown closed it before
                // stopping the event loops) wants nothing more: do not post to a loop that may
                // already be shut down.
                guard channel.isActive else { messages.stream?.cancel(); return }
                loop.execute {
                    let (handler, ctx) = bound.value
                    // Closed meanwhile (channelInactive ran before this): stop a producer.
                    guard ctx.channel.isActive else { messages.stream?.cancel(); return }
                    handler.transferState.pending = messages
                    handler.transferState.next = 0
                    handler.pumpTransfer(context: ctx)
                }
            }.start()
        }
        return true
    }

    /// Writes transfer messages while the channel takes them; when all are written, resumes
    /// answering the connection's queued queries.
    func pumpTransfer(context: ChannelHandlerContext) {
        guard transferState.busy, let pending = transferState.pending else { return }
        if let stream = pending.stream {
            let loop = context.eventLoop
            let channel = context.channel
            let bound = NIOLoopBound((self, context), eventLoop: loop)
            while context.channel.isWritable {
                let taken = stream.take {
                    guard channel.isActive else { return }
                    loop.execute {
                        let (handler, ctx) = bound.value
                        handler.pumpTransfer(context: ctx)
                    }
                }
                switch taken {
                case .message(let raw):
                    let m = pending.wrap(transferState.next, raw)
                    var out = context.channel.allocator.buffer(capacity: m.count + 2)
                    out.writeInteger(UInt16(m.count))
                    out.writeBytes(m)
                    context.write(wrapOutboundOut(out), promise: nil)
                    transferState.next += 1
                case .wait:
                    context.flush()
                    return
                case .end:
                    context.flush()
                    transferState = TransferState()
                    resumeAfterTransfer(context: context)
                    return
                case .abort:
                    // The reader stalled past the producer's limit: the transfer is
                    // incomplete, and the connection ends (the secondary retries).
                    context.flush()
                    context.close(promise: nil)
                    return
                }
            }
            context.flush()
            return
        }
        while transferState.next < pending.count && context.channel.isWritable {
            let m = pending.message(transferState.next)
            var out = context.channel.allocator.buffer(capacity: m.count + 2)
            out.writeInteger(UInt16(m.count))
            out.writeBytes(m)
            context.write(wrapOutboundOut(out), promise: nil)
            transferState.next += 1
        }
        context.flush()
        if transferState.next == pending.count {
            transferState = TransferState()
            resumeAfterTransfer(context: context)
        }
    }
}

/// A TCP connection's transfer in progress.
struct TransferState {
    var busy = false
    var pending: TransferMessages? = nil
    var next = 0
}
