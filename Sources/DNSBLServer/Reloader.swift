#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals

/// How a serving snapshot is built from files: the files to watch and the builder.
public struct SnapshotLoader: Sendable {
    /// Store and source files whose change triggers a reload.
    public var files: [String]
    /// Builds a candidate snapshot (maps stores, compiles sources, validates). Runs on a
    /// dedicated thread, never on a serving thread. Throws an error describing what is wrong;
    /// the `generation` of the returned snapshot is ignored.
    public var build: @Sendable () throws -> Snapshot
    /// The source files of each zone, keyed by the zone's lower-case text without the trailing
    /// dot (as ``zoneText(_:)`` writes it). The data age of a zone whose datasets carry no
    /// `$TIMESTAMP` is the newest modification time of its own files, so one fresh zone does
    /// not hide a stale one; a zone not named here (from a store) falls back to every file.
    public var zoneFiles: [String: [String]]

    public init(files: [String], zoneFiles: [String: [String]] = [:], build: @escaping @Sendable () throws -> Snapshot) {
        self.files = files
        self.zoneFiles = zoneFiles
        self.build = build
    }
}

/// Identity and state of one file as seen by `stat(2)`: a rename, rewrite or touch changes it.
public struct FileFingerprint: Sendable, Hashable, CustomStringConvertible {
    public var device: UInt64
    public var inode: UInt64
    public var size: Int64
    /// Modification time, nanoseconds since the epoch.
    public var mtimeNanoseconds: Int64
    /// The file did not exist (or could not be stat'ed).
    public var missing: Bool

    public static func of(_ path: String) -> FileFingerprint {
        var st = stat()
        guard stat(path, &st) == 0 else {
            return FileFingerprint(device: 0, inode: 0, size: -1, mtimeNanoseconds: 0, missing: true)
        }
        #if canImport(Darwin)
        let ns = Int64(st.st_mtimespec.tv_sec) * 1_000_000_000 + Int64(st.st_mtimespec.tv_nsec)
        #else
        let ns = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
        #endif
        return FileFingerprint(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), size: Int64(st.st_size),
                               mtimeNanoseconds: ns, missing: false)
    }

    public var description: String {
        missing ? "missing" : "inode \(inode) size \(size) mtime \(mtimeNanoseconds)ns"
    }
}

/// Result of one reload attempt.
public enum ReloadResult: Sendable, Equatable {
    /// The candidate is serving now.
    case swapped(generation: Int, entries: Int)
    /// The candidate was refused (build error, shrink guard); the old snapshot keeps serving.
    case refused(reason: String)
    /// Files did not settle or kept changing while being read; retried at the next change.
    case unsettled
}

/// Keeps the served snapshot current: reloads on SIGHUP and when a watched file changes.
///
/// - Change detection: every ``checkInterval`` seconds each file's device, inode, size and
///   nanosecond mtime are compared with those of the files the current snapshot was built from.
/// - Settling: a changed file is only read once two looks ``settleDelay`` apart agree (a
///   generator still writing in place is waited for); a file that changes while the candidate is
///   being built invalidates the candidate, which is then rebuilt.
/// - Validation: the builder's own checks, then the shrink guard: a candidate whose entry count
///   falls by more than ``maxShrink`` (a fraction: 0.5 = 50%) of the previous one, in total or
///   in any dataset both have, is refused unless ``force`` is set.
/// - Swap: the new snapshot replaces the old one atomically; queries in flight finish on the
///   old one, which is released (and its stores unmapped) when the last of them ends.
/// - Memory: once the replaced snapshot is released (waited for up to ``releaseWait`` seconds)
///   the pages malloc freed with it are handed back to the system (``releaseAfterSwap``), so
///   resident memory after a reload is that of one snapshot, not of the peak of the build.
/// Every refused candidate is logged with its reason at error level; the old data keeps serving.
public final class Reloader: Service, @unchecked Sendable {
    public let holder: SnapshotHolder
    public let loader: SnapshotLoader
    public let logger: Logger
    /// Seconds between polls of the watched files.
    public var checkInterval: Double = 1
    /// Seconds between the two looks that must agree before a changed file is read.
    public var settleDelay: Double = 0.5
    /// Largest accepted fall in entries, as a fraction of the previous count.
    public var maxShrink: Double = 0.5
    /// Accept candidates that fail the shrink guard.
    public var force: Bool = false
    /// Trap SIGHUP while ``run()`` runs.
    public var handleSIGHUP: Bool = true
    /// Rebuilds the current snapshot from the data it already has (no file is read), for
    /// time-dependent rules such as `$TIMESTAMP` expiry; nil = nothing to do. Called every
    /// ``refreshInterval`` seconds off the serving threads; the result is swapped in without the
    /// shrink guard (an expired dataset is meant to disappear).
    public var refresh: (@Sendable (Snapshot) -> Snapshot?)? = nil
    /// Seconds between ``refresh`` calls.
    public var refreshInterval: Double = 60
    /// A SIGHUP sequence trapped earlier (at process start, so that a SIGHUP arriving while the
    /// data loads does not kill the process); when nil, ``run()`` traps SIGHUP itself.
    public var hangupSignals: UnixSignalsSequence? = nil

    /// Called on every SIGHUP before the reload it requests (reopen the query log, tell the
    /// service manager `RELOADING=1`).
    public var onHangup: (@Sendable () -> Void)? = nil
    /// Called after the reload a SIGHUP requested, whatever its outcome (tell the service
    /// manager `READY=1` again).
    public var afterHangupReload: (@Sendable () -> Void)? = nil

    /// After a swap, wait (off the query path, up to ``releaseWait`` seconds) until the
    /// replaced snapshot is gone, then hand the pages malloc freed with it back to the system
    /// (`malloc_trim(0)`): without this glibc keeps most of a replaced signed view in its pools.
    public var releaseAfterSwap: Bool = true
    /// Seconds a swap waits for the queries still holding the replaced snapshot before trimming
    /// anyway.
    public var releaseWait: Double = 5

    private let state = Mutex<[FileFingerprint]>([])
    /// The snapshot the last swap replaced, until it is released.
    private let retired = Mutex<WeakSnapshot>(WeakSnapshot(nil))
    private let reloadLock = Mutex<Bool>(false)
    private let hupRequested = Atomic<Bool>(false)
    private let refusedCount = Atomic<Int>(0)

    public init(holder: SnapshotHolder, loader: SnapshotLoader, logger: Logger) {
        self.holder = holder
        self.loader = loader
        self.logger = logger
    }

    /// Fingerprints of the watched files as of the last attempt (swapped or refused).
    public var seenFingerprints: [FileFingerprint] { state.withLock { $0 } }
    /// Candidates refused so far.
    public var refusals: Int { refusedCount.load(ordering: .relaxed) }

    /// Builds the first snapshot (waiting for files to settle) without installing it anywhere.
    /// - Throws: the builder's error.
    public static func initialSnapshot(loader: SnapshotLoader, settleDelay: Double = 0.5) async throws -> (Snapshot, [FileFingerprint]) {
        var attempts = 0
        while true {
            var before = loader.files.map(FileFingerprint.of)
            before = try await settle(loader.files, from: before, delay: settleDelay)
            let snapshot = try await offThread(loader.build)
            let after = loader.files.map(FileFingerprint.of)
            attempts += 1
            if after == before || attempts >= 5 {
                return (snapshot.renumbered(1), after)
            }
        }
    }

    /// Records the fingerprints the current snapshot was built from.
    public func setBaseline(_ prints: [FileFingerprint]) { state.withLock { $0 = prints } }

    /// Asks for a reload at the next tick, as SIGHUP does.
    public func requestReload() { hupRequested.store(true, ordering: .releasing) }

    /// Polls files and serves SIGHUP until graceful shutdown or cancellation.
    public func run() async throws {
        if state.withLock({ $0.isEmpty }) { setBaseline(loader.files.map(FileFingerprint.of)) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            if handleSIGHUP {
                let signals: UnixSignalsSequence
                if let early = hangupSignals { signals = early } else { signals = await UnixSignalsSequence(trapping: .sighup) }
                group.addTask { [self] in
                    for await _ in signals {
                        logger.info("SIGHUP: reload requested")
                        onHangup?()
                        requestReload()
                    }
                }
            }
            group.addTask { [self] in
                var sinceCheck = 0.0
                var sinceRefresh = 0.0
                let tick = 0.1
                while !Task.isCancelled && !Task.isShuttingDownGracefully {
                    try? await Task.sleep(for: .milliseconds(Int(tick * 1000)))
                    sinceCheck += tick
                    sinceRefresh += tick
                    if refresh != nil && sinceRefresh >= refreshInterval {
                        sinceRefresh = 0
                        await refreshNow()
                        await releaseRetired()
                    }
                    if hupRequested.exchange(false, ordering: .acquiringAndReleasing) {
                        _ = await reload(trigger: "SIGHUP")
                        afterHangupReload?()
                        sinceCheck = 0
                        await releaseRetired()
                    } else if sinceCheck >= checkInterval {
                        sinceCheck = 0
                        let now = loader.files.map(FileFingerprint.of)
                        if now != seenFingerprints {
                            _ = await reload(trigger: "file change")
                            await releaseRetired()
                        }
                    }
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    /// Whether the snapshot the last swap replaced is still referenced (by a query in flight,
    /// a transfer being built, or a leak); false when there was no swap.
    public var retiredSnapshotAlive: Bool { retired.withLock { $0.snapshot != nil } }

    /// When ``releaseAfterSwap`` is set and a swap retired a snapshot: waits until that
    /// snapshot is released (at most ``releaseWait`` seconds), then calls `malloc_trim(0)` on
    /// a thread of its own. Called by ``run()`` after each swap; never on the query path
    /// (queries allocate nothing, so the arena locks malloc_trim takes do not stall them).
    public func releaseRetired() async {
        guard releaseAfterSwap, retired.withLock({ $0.swapped }) else { return }
        retired.withLock { $0.swapped = false }
        let deadline = ContinuousClock.now + .milliseconds(Int(releaseWait * 1000))
        while retiredSnapshotAlive && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        _ = try? await Reloader.offThread { releaseFreedMemory() }
    }

    /// Applies ``refresh`` once (serialised with reloads).
    public func refreshNow() async {
        guard let refresh else { return }
        let current = holder.load()
        guard let fresh = await rebuild(refresh) else { return }
        if fresh.entryCount != current.entryCount {
            logger.info("refreshed: time-limited data changed", metadata: [
                "entries": "\(fresh.entryCount)", "previous-entries": "\(current.entryCount)"])
        }
    }

    /// Builds a snapshot from the current one (no file is read) off the serving threads and
    /// swaps it in without the shrink guard, serialised with reloads: the `$TIMESTAMP`
    /// refresh, a signed zone's new version for its secondaries (new serial, no data change).
    /// `build` gets the snapshot serving now and returns nil for nothing to do.
    /// - Returns: the snapshot installed, nil when `build` returned nil.
    @discardableResult
    public func rebuild(_ build: @escaping @Sendable (Snapshot) -> Snapshot?) async -> Snapshot? {
        while reloadLock.withLock({ busy in if busy { return true }; busy = true; return false }) {
            try? await Task.sleep(for: .milliseconds(20))
        }
        defer { reloadLock.withLock { $0 = false } }
        let current = holder.load()
        let built: Snapshot?? = try? await Reloader.offThread({ build(current) })
        guard let fresh = built.flatMap({ $0 }) else { return nil }
        let next = fresh.renumbered(current.generation + 1)
        holder.swap(next)
        retired.withLock { $0 = WeakSnapshot(current) }
        return next
    }

    /// One reload attempt: settle, build off-thread, check files did not move, validate, swap.
    /// Attempts are serialised.
    @discardableResult
    public func reload(trigger: String) async -> ReloadResult {
        while reloadLock.withLock({ busy in if busy { return true }; busy = true; return false }) {
            try? await Task.sleep(for: .milliseconds(20))
        }
        defer { reloadLock.withLock { $0 = false } }
        let clock = ContinuousClock()
        let started = clock.now
        var rounds = 0
        while rounds < 5 {
            rounds += 1
            var before = loader.files.map(FileFingerprint.of)
            do {
                before = try await Reloader.settle(loader.files, from: before, delay: settleDelay)
            } catch {
                return .unsettled
            }
            let candidate: Snapshot
            let loadStarted = clock.now
            do {
                candidate = try await Reloader.offThread(loader.build)
            } catch {
                state.withLock { $0 = before }
                refusedCount.add(1, ordering: .relaxed)
                logger.error("reload refused: candidate failed to load; old data keeps serving", metadata: [
                    "trigger": "\(trigger)", "reason": "\(error)"])
                return .refused(reason: "\(error)")
            }
            let after = loader.files.map(FileFingerprint.of)
            if after != before {
                logger.notice("files changed while loading; loading again", metadata: ["trigger": "\(trigger)"])
                continue
            }
            let previous = holder.load()
            if !force, let reason = Reloader.shrinkRefusal(from: previous, to: candidate, maxShrink: maxShrink) {
                state.withLock { $0 = after }
                refusedCount.add(1, ordering: .relaxed)
                logger.error("reload refused; old data keeps serving", metadata: [
                    "trigger": "\(trigger)", "reason": "\(reason)"])
                return .refused(reason: reason)
            }
            let next = candidate.renumbered(previous.generation + 1)
            holder.swap(next)
            retired.withLock { $0 = WeakSnapshot(previous) }
            state.withLock { $0 = after }
            func ms(_ d: Duration) -> Int64 { d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000 }
            logger.info("reloaded", metadata: [
                "trigger": "\(trigger)", "generation": "\(next.generation)",
                "entries": "\(next.entryCount)", "previous-entries": "\(previous.entryCount)",
                "skipped-lines": "\(next.zones.reduce(0) { $0 + $1.skippedLines })",
                "load-ms": "\(ms(clock.now - loadStarted))", "total-ms": "\(ms(clock.now - started))",
                "zones": "\(next.zones.map(\.description).joined(separator: "; "))"])
            return .swapped(generation: next.generation, entries: next.entryCount)
        }
        logger.warning("files kept changing during load; will retry at the next change", metadata: ["trigger": "\(trigger)"])
        return .unsettled
    }

    /// Why `candidate` shrinks too much to replace `previous`, or nil. The guard looks at the
    /// total and at each dataset (zone, dataset name) present in both: a dataset whose file was
    /// replaced by one of nothing but bad lines (each skipped, as rbldnsd skips them) must not
    /// quietly take its listings away because other datasets keep the total up.
    static func shrinkRefusal(from previous: Snapshot, to candidate: Snapshot, maxShrink: Double) -> String? {
        func fell(_ before: Int, _ after: Int) -> Bool { Double(after) < Double(before) * (1 - maxShrink) }
        let limit = "more than \(Int(maxShrink * 100))% (--max-shrink); use --force-reload to accept"
        if fell(previous.entryCount, candidate.entryCount) {
            return "entries would fall from \(previous.entryCount) to \(candidate.entryCount), \(limit)"
        }
        func counts(_ s: Snapshot) -> [String: Int] {
            var out: [String: Int] = [:]
            for store in s.responder.stores {
                for zone in store.zones {
                    for d in zone.datasets { out["\(zoneText(zone.name)) \(d.name)", default: 0] += d.entryCount }
                }
            }
            return out
        }
        let before = counts(previous)
        for (key, after) in counts(candidate).sorted(by: { $0.key < $1.key }) {
            if let b = before[key], fell(b, after) {
                return "entries of \(key) would fall from \(b) to \(after), \(limit)"
            }
        }
        return nil
    }

    /// Waits until two looks `delay` seconds apart agree; gives up after 120 s.
    static func settle(_ files: [String], from first: [FileFingerprint], delay: Double) async throws -> [FileFingerprint] {
        var previous = first
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(Int(delay * 1000)))
            let now = files.map(FileFingerprint.of)
            if now == previous { return now }
            previous = now
        }
        throw ServerError(.io, "files did not stop changing within 120 s")
    }

    /// Runs `body` on a fresh thread so compiling never occupies a serving or cooperative thread.
    package static func offThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            let job = ThreadJob {
                do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
            }
            job.start()
        }
    }
}

/// A weak reference to a replaced snapshot, and whether it was set by a swap not yet followed
/// by ``Reloader/releaseRetired()``.
struct WeakSnapshot: @unchecked Sendable {
    weak var snapshot: Snapshot?
    var swapped: Bool
    init(_ snapshot: Snapshot?) { self.snapshot = snapshot; swapped = snapshot != nil }
}

/// A detached pthread running one closure.
package final class ThreadJob: @unchecked Sendable {
    let body: @Sendable () -> Void
    package init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    package func start() {
        let box = Unmanaged.passRetained(self).toOpaque()
        var tid = pthread_t()
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
        pthread_attr_setstacksize(&attr, 8 << 20)
        let rc = pthread_create(&tid, &attr, { arg in
            let job = Unmanaged<ThreadJob>.fromOpaque(arg!).takeRetainedValue()
            job.body()
            return nil
        }, box)
        pthread_attr_destroy(&attr)
        if rc != 0 {
            Unmanaged<ThreadJob>.fromOpaque(box).release()
            body()
        }
    }
}
