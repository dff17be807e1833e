import DNSBL
import ServiceLifecycle
import Synchronization

/// Test seam: a trivial answerer (echo, faults, delays) that a transport test puts in a
/// ``Snapshot`` instead of a ``DNSBL/Responder``. Internal (reached with `@testable import`):
/// production snapshots hold the Responder as a concrete type, and the query pipeline tests
/// one optional per query for this hook (``QueryPipeline/answer(_:transport:client:snapshot:now:into:)``).
///
/// Called from many threads at once with the query bytes (without the TCP length prefix) and
/// a response buffer of at least 65535 bytes for TCP and at least the configured UDP payload
/// size for UDP; `length == 0` in the outcome means "send nothing".
protocol QueryHandler: AnyObject, Sendable {
    func respond(to query: UnsafeRawBufferPointer, transport: Transport,
                 into response: UnsafeMutableRawBufferPointer) -> AnswerOutcome
}

/// One zone of a snapshot, for logs.
public struct ZoneSummary: Sendable, CustomStringConvertible {
    /// Zone name in text form, e.g. `bl.example`.
    public var name: String
    /// Serial of the zone's SOA.
    public var serial: UInt32
    public var datasets: Int
    /// Entries (listings and exclusions) read from source, summed over datasets.
    public var entries: Int
    /// Source lines skipped by the compiler (as rbldnsd skips them), summed over datasets.
    public var skippedLines: Int
    public init(name: String, serial: UInt32, datasets: Int, entries: Int, skippedLines: Int = 0) {
        self.name = name; self.serial = serial; self.datasets = datasets; self.entries = entries
        self.skippedLines = skippedLines
    }
    public var description: String {
        "\(name) serial \(serial), \(datasets) dataset(s), \(entries) entries"
            + (skippedLines > 0 ? ", \(skippedLines) line\(skippedLines == 1 ? "" : "s") skipped" : "")
    }
}

/// An immutable serving snapshot: the responder answering queries plus what it was built from.
///
/// Transport threads read the current snapshot once per batch (UDP) or per query (TCP) from a
/// ``SnapshotHolder``; a reload swaps in a new one, and the old one lives (store files stay
/// mapped) until the last query holding it finishes and ARC releases it.
public final class Snapshot: Sendable {
    public let responder: Responder
    /// Test seam (``QueryHandler``): when set, it answers every query in place of the pipeline.
    let stub: (any QueryHandler)?
    /// Total entries over all zones; compared between reloads by the shrink guard.
    public let entryCount: Int
    public let zones: [ZoneSummary]
    /// 1 for the first snapshot, +1 per successful reload.
    public let generation: Int

    public init(responder: Responder, entryCount: Int, zones: [ZoneSummary] = [], generation: Int = 1) {
        self.responder = responder
        self.stub = nil
        self.entryCount = entryCount
        self.zones = zones
        self.generation = generation
    }

    /// A snapshot answered by a test's `handler` (its responder serves no zone).
    init(handler: any QueryHandler, entryCount: Int, zones: [ZoneSummary] = [], generation: Int = 1) {
        self.responder = Responder(stores: [])
        self.stub = handler
        self.entryCount = entryCount
        self.zones = zones
        self.generation = generation
    }

    private init(_ other: Snapshot, generation: Int) {
        responder = other.responder
        stub = other.stub
        entryCount = other.entryCount
        zones = other.zones
        self.generation = generation
    }

    /// The same data as generation `generation` (the reloader numbers what a loader built).
    public func renumbered(_ generation: Int) -> Snapshot { Snapshot(self, generation: generation) }
}

/// The atomically replaceable current ``Snapshot``.
///
/// Readers take a strong reference under a mutex (a few nanoseconds, no allocation); the
/// writer replaces it. Readers never wait for a reload: candidates are built outside the lock.
/// Listeners off the query path (NOTIFY, IXFR prebuilds) subscribe with ``changes()`` and are
/// told of every swap; nothing polls.
public final class SnapshotHolder: Sendable {
    /// One swap: the snapshot replaced and the one installed.
    public typealias Change = (previous: Snapshot, current: Snapshot)

    private let current: Mutex<Snapshot>
    private let subscribers = Mutex<(next: Int, streams: [Int: AsyncStream<Change>.Continuation])>((0, [:]))

    public init(_ snapshot: Snapshot) { current = Mutex(snapshot) }

    /// The snapshot to answer with now.
    @inline(__always)
    public func load() -> Snapshot { current.withLock { $0 } }

    /// Installs `snapshot`, tells every subscriber, and returns the one it replaced.
    @discardableResult
    public func swap(_ snapshot: Snapshot) -> Snapshot {
        let previous = current.withLock { old in
            let previous = old
            old = snapshot
            return previous
        }
        for stream in subscribers.withLock({ Array($0.streams.values) }) {
            stream.yield((previous, snapshot))
        }
        return previous
    }

    /// Every swap after this call, in order (none is dropped: each reload is its own
    /// element). The stream ends when the consuming task is cancelled.
    public func changes() -> AsyncStream<Change> {
        let (stream, continuation) = AsyncStream.makeStream(of: Change.self, bufferingPolicy: .unbounded)
        let id = subscribers.withLock { s in
            let id = s.next
            s.next += 1
            s.streams[id] = continuation
            return id
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.streams.removeValue(forKey: id) }
        }
        return stream
    }

    /// Calls `changed(previous, current)` for every snapshot installed after the call began,
    /// until the task is cancelled or its service group shuts down gracefully. For services
    /// that act on reloads (NOTIFY, transfer prebuilds) off the query path.
    public func watch(_ changed: (_ previous: Snapshot, _ current: Snapshot) -> Void) async {
        for await change in changes().cancelOnGracefulShutdown() {
            changed(change.previous, change.current)
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension ClientAddress {
    /// The client a socket address names (`AF_INET`, `AF_INET6`; anything else or `nil` is
    /// ``ClientAddress/unknown``). Reads the bytes in place; allocates nothing.
    init(sockaddr sa: UnsafePointer<sockaddr>?) {
        guard let sa else { self = .unknown; return }
        switch Int32(sa.pointee.sa_family) {
        case AF_INET:
            let a = UnsafeRawPointer(sa).load(as: sockaddr_in.self).sin_addr.s_addr
            self.init(ipv4: UInt32(bigEndian: a))
        case AF_INET6:
            var sin6 = UnsafeRawPointer(sa).load(as: sockaddr_in6.self)
            let v = withUnsafeBytes(of: &sin6.sin6_addr) { b -> UInt128 in
                var x: UInt128 = 0
                for i in 0..<16 { x = x << 8 | UInt128(b[i]) }
                return x
            }
            self.init(ipv6: v)
        default:
            self = .unknown
        }
    }
}
