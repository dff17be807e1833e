#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DNSBLServer
import DNSSEC
import Logging
import PrefixStore
import DNSBL
import ServiceLifecycle
import Synchronization
import UnixSignals
import ZoneTransfer

/// The `prefixbl serve` daemon: binds, jails, loads, serves and reloads until SIGTERM/SIGINT.
///
/// Start order: trap signals; socket activation; resolve the user and group; pid file, chroot
/// and working directory (the jail); load the data; bind; drop privileges; start the services
/// (server, reloader, NOTIFY, IXFR prebuild) in one `ServiceGroup`; tell systemd `READY=1`.
/// Whatever ends the run, what was acquired is released on one path, in reverse order.
public enum Daemon {
    /// Runs the daemon.
    /// - Returns: the exit status: 0 after a graceful shutdown, 2 when it could not start
    ///   (logged at critical level with the reason), 1 when a service failed while serving.
    public static func run(_ configuration: DaemonConfiguration) async -> Int32 {
        let logger = Logger(label: "prefixbl")
        logger.info("prefixbl starting", metadata: ["version": "\(configuration.options.version)", "pid": "\(getpid())"])
        // Trapped before anything else: a SIGTERM or SIGHUP arriving while the data loads
        // must not kill the process with the default action.
        let stopSignals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        let hangupSignals = await UnixSignalsSequence(trapping: .sighup)
        let cleanup = Cleanup()
        let status: Int32
        do {
            try await serve(configuration, logger: logger, stopSignals: stopSignals, hangupSignals: hangupSignals,
                            cleanup: cleanup)
            status = 0
        } catch let failure as StartFailure {
            logger.critical("\(failure.message)", metadata: failure.metadata)
            status = 2
        } catch {
            logger.error("service group ended with an error", metadata: ["error": "\(error)"])
            status = 1
        }
        await cleanup.run()
        if status == 0 { logger.info("exiting") }
        return status
    }

    static func serve(_ c: DaemonConfiguration, logger: Logger, stopSignals: UnixSignalsSequence,
                      hangupSignals: UnixSignalsSequence, cleanup: Cleanup) async throws {
        var addresses = c.listen
        if c.defaultListen {
            // The quick-start defaults must work on hosts without IPv6.
            let usable = addresses.filter(\.isAvailable)
            for a in addresses where !usable.contains(a) {
                logger.warning("default listen address not available; skipped", metadata: ["address": "\(a)"])
            }
            if !usable.isEmpty { addresses = usable }
        }
        // Socket activation (systemd .socket units): the listening sockets are inherited and
        // --listen is not used.
        let inherited = try StartFailure.on("bad socket activation") { try Systemd.inheritedSockets() }
        let jail = try Jail(c.options, logger: logger)
        try jail.enter()

        let keys = c.signers.isEmpty ? nil : KeyRereader(paths: c.options.dnssecKeys, signers: c.signers)
        let serials = c.signers.isEmpty ? nil : SignedSerials()
        let loader = ServingLoader(data: c.data, answer: c.answer, logger: logger, keys: keys, serials: serials)
        // The first snapshot goes straight into the holder and no local of this function keeps
        // it: `serve` runs until shutdown, so a reference held here would keep the first
        // generation (its stores mapped, its signed views) alive beside every later one.
        let (holder, prints, signers, firstEntries) = try await loadFirst(c, loader: loader, logger: logger)
        keys?.arm(signers: signers)
        // Compiling source specs at start frees most of what it allocated; hand those pages
        // back (about 6 MB of RSS with the real files) instead of keeping them in malloc's pools.
        releaseFreedMemory()

        let transfer = c.transferResponder(logger: logger)
        var config = c.server(addresses: addresses, inherited: inherited)
        config.transfer = transfer
        if !c.keyring.isEmpty {
            logger.info("TSIG keys", metadata: ["keys": "\(c.keyring.keys.map(\.description).joined(separator: ", "))"])
        }
        // `-` is standard output, as for rbldnsd's `-l -`.
        let queryLog = try StartFailure.on("cannot open the query log") {
            try c.options.queryLog.map { path in try QueryLog(path: path == "-" ? "/dev/stdout" : path, skipNXDOMAIN: c.options.queryLogSkipNxdomain) }
        }
        cleanup.add { queryLog?.stop() }
        let o = c.options
        let metrics: ServerMetrics? = (o.metrics != nil || o.stats != nil || o.maxAge != nil) ? ServerMetrics(logger: logger, keyLimit: o.aclkeyMetricsKeys) : nil  // aclkey
        metrics?.statsInterval = o.stats
        metrics?.maxAge = o.maxAge.map(UInt64.init)
        metrics?.refuseStale = o.maxAgeAction == "refuse"
        let notifier = try StartFailure.on("bad --notify") {
            o.notify.isEmpty ? nil : try NotifyService(holder: holder, targets: o.notify, keyring: c.keyring, logger: logger)
        }
        let server = DNSServer(configuration: config, holder: holder, logger: logger, queryLog: queryLog, metrics: metrics)
        metrics?.server = server
        cleanup.add { await server.stop() }
        try await StartFailure.on("cannot bind") { try await server.start() }
        jail.writePidFileAfterBind(cleanup: cleanup)
        try jail.dropPrivileges()

        let stats = o.statsFile.map { StatsWriter(path: $0, incremental: o.statsIncremental, server: server, logger: logger) }
        if let stats {
            stats.mark()
            let task = Task { [interval = o.statsInterval] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(Int64(interval * 1000)))
                    if Task.isCancelled { break }
                    stats.write()
                }
            }
            cleanup.add { task.cancel(); stats.mark() }
        }

        let reloader = Reloader(holder: holder, loader: loader.snapshotLoader, logger: logger)
        // 0 = no polling (rbldnsd -c 0): SIGHUP still reloads.
        reloader.checkInterval = o.checkInterval == 0 ? Double(Int32.max) : o.checkInterval
        reloader.onHangup = {
            Systemd.notify(Systemd.reloadingMessage())
            do { try queryLog?.reopen() } catch {
                logger.error("cannot reopen the query log", metadata: ["reason": "\(error)"])
            }
        }
        reloader.afterHangupReload = { Systemd.notify("READY=1") }
        reloader.settleDelay = o.settleDelay
        reloader.maxShrink = o.maxShrink / 100
        reloader.force = o.forceReload
        reloader.setBaseline(prints)
        reloader.hangupSignals = hangupSignals
        reloader.refresh = loader.refresh
        metrics?.reloader = reloader
        if let metrics, let address = c.metricsAddress {
            let listener = MetricsHTTPServer(metrics: metrics)
            cleanup.add { await listener.stop() }
            try await StartFailure.on("cannot serve metrics") { try await listener.start(address) }
            logger.info("metrics", metadata: ["address": "http://\(listener.boundAddress!)/metrics"])
        }
        if let metrics {
            let task = Task { await metrics.run() }
            cleanup.add { task.cancel() }
        }

        // Services start in order and shut down in reverse: the reloader stops first, then the
        // server stops accepting and finishes what it has read.
        var services: [any Service] = [DNSServerService(server: server), reloader]
        if let notifier { services.append(notifier) }
        if let transfer { services.append(TransferPrebuildService(holder: holder, transfer: transfer)) }
        if !signers.isEmpty {
            // Secondaries hold what they transferred: new versions when signatures fall due.
            let versions = transfer.flatMap { t in serials.map { SignedZoneVersions(transfer: t, serials: $0, reloader: reloader, answer: c.answer, logger: logger, secondaries: notifier) } }
            services.append(ResigningService(signers: signers, logger: logger, versions: versions))
        }
        let group = ServiceGroup(configuration: .init(services: services, logger: logger))
        let signalTask = Task {
            for await signal in stopSignals {
                logger.info("signal received: shutting down", metadata: ["signal": "\(signal)"])
                Systemd.notify("STOPPING=1")
                await group.triggerGracefulShutdown()
            }
        }
        cleanup.add { signalTask.cancel() }
        // Readiness for Type=notify units: the sockets answer and privileges are dropped.
        Systemd.notify("READY=1\nSTATUS=serving \(firstEntries) entries\nMAINPID=\(getpid())")
        try await group.run()
    }

    /// Loads the first snapshot into a new holder; what start needs of it besides is returned
    /// as values (the watched files' fingerprints, the signers, the entry count).
    static func loadFirst(_ c: DaemonConfiguration, loader: ServingLoader, logger: Logger) async throws
        -> (SnapshotHolder, [FileFingerprint], [ZoneSigner], Int) {
        let started = ContinuousClock.now
        let (first, prints) = try await StartFailure.on("cannot load the data to serve") {
            try await Reloader.initialSnapshot(loader: loader.snapshotLoader, settleDelay: 0)
        }
        logLoaded(first, answer: c, since: started, logger: logger)
        let signers = try checkSigned(first, c, logger: logger)
        return (SnapshotHolder(first), prints, signers, first.entryCount)
    }

    /// Before binding: every `--dnssec-key` names a zone served, no signed zone holds what a
    /// signed zone cannot (an `acl` dataset answers per client); then the DS of each zone's
    /// keys (digest type 2, RFC 4509) for the parent. Logs only public key material.
    /// Keys found in a key directory for a zone not served are skipped with a notice (a
    /// directory may be shared by several zones); the signers of the zones served are returned.
    static func checkSigned(_ first: Snapshot, _ c: DaemonConfiguration, logger: Logger) throws(StartFailure) -> [ZoneSigner] {
        let served = first.responder.zoneNames
        for (zone, file) in c.keyFiles where !served.contains(zone) {
            throw StartFailure("DNSSEC key for a zone not served", ["file": "\(file)", "zone": "\(CanonicalName.text(zone))"])
        }
        for note in c.keyNotes { logger.warning("DNSSEC key directory", metadata: ["note": "\(note)"]) }
        var signers: [ZoneSigner] = []
        for signer in c.signers {
            if served.contains(signer.apex) { signers.append(signer); continue }
            logger.notice("DNSSEC keys in a key directory for a zone not served: skipped",
                          metadata: ["zone": "\(CanonicalName.text(signer.apex))", "keys": "\(signer.keys.map { "\($0.dnskey.keyTag)" }.joined(separator: " "))"])
        }
        for signer in signers {
            if let why = c.directoryKeyProblems[signer.apex] { throw StartFailure("--dnssec-key: \(why)", ["zone": "\(CanonicalName.text(signer.apex))"]) }
        }
        if let refusal = signedRefusal(stores: first.responder.stores, signers: signers) {
            throw StartFailure(refusal.reason, ["zone": "\(refusal.zone)", "dataset": "\(refusal.dataset)"])
        }
        for signer in signers {
            let state = signer.keysNow().state
            ResigningService.logKeys(signer, state, logger: logger, why: "start")
            for line in dsLines(state) {
                var m: Logger.Metadata = ["zone": "\(CanonicalName.text(signer.apex))", "key": "\(line.key)", "state": "\(line.state)"]
                if let ds = line.ds { m["DS"] = "\(ds)" }
                logger.info("DNSSEC key", metadata: m)
            }
        }
        return signers
    }

    /// Each key of `state` with its state now (`active`, `published` (not signing) or
    /// `not published` (before Publish, after Delete)) and, for the published SEP keys (every
    /// published key when none has the SEP flag), the DS the parent publishes: a DS is given
    /// only for a key in the DNSKEY RRset now.
    public static func dsLines(_ state: ZoneSigner.KeyState) -> [(key: SigningKey, state: String, ds: DSRecord?)] {
        let published = state.keys.filter { state.published.contains($0.dnskey.rdata) }
        let sepPublished = published.contains { $0.dnskey.isSEP }
        let signing = state.dnskeySigners + state.dataSigners
        return state.keys.map { k in
            let isPublished = state.published.contains(k.dnskey.rdata)
            let what = signing.contains { $0.dnskey == k.dnskey } ? "active" : isPublished ? "published" : "not published"
            let ds = isPublished && (k.dnskey.isSEP || !sepPublished) ? k.dnskey.ds : nil
            return (k, what, ds)
        }
    }

    /// The first dataset of `stores` that a signed zone cannot hold (an `acl` dataset or a
    /// global ACL answers per client, `aclkey` per key, `dnset` is not signed yet), or nil.
    /// Checked at start and at every reload (a reload that brings one in is refused).
    public static func signedRefusal(stores: [Store], signers: [ZoneSigner]) -> SignedZoneRefusal? {
        for signer in signers {
            for store in stores {
                for z in store.zones where z.name == signer.apex || z.isGlobalACL {
                    for d in z.datasets {
                        let why: String
                        switch d.rule {
                        case .longestPrefix, .ip4Buckets: continue
                        case .clientACL: why = "an acl dataset and --dnssec-key cannot be combined: acl answers differ per client, a signed zone cannot"
                        case .keyInQName: why = "an aclkey dataset and --dnssec-key cannot be combined: keyed answers differ per key, a signed zone cannot"
                        case .domainNames: why = "a dnset dataset and --dnssec-key cannot be combined yet: signed answers for domain lists are not built"
                        }
                        return SignedZoneRefusal(reason: why, zone: CanonicalName.text(signer.apex), dataset: d.name)
                    }
                }
            }
        }
        return nil
    }

    /// The start-up log: entries, time taken, the zones, and the transition mappings (with a
    /// warning for a mapping whose zone is not served).
    static func logLoaded(_ first: Snapshot, answer c: DaemonConfiguration, since started: ContinuousClock.Instant, logger: Logger) {
        let elapsed = ContinuousClock.now - started
        let ms = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        logger.info("data loaded", metadata: [
            "entries": "\(first.entryCount)", "skipped-lines": "\(first.zones.reduce(0) { $0 + $1.skippedLines })", "ms": "\(ms)"])
        for zone in first.zones { logger.info("zone", metadata: ["zone": "\(zone)"]) }
        for (zone, mappings) in c.answer.transitions.sorted(by: { $0.key < $1.key }) {
            // A `combined` subzone is served under its base zone's name.
            let served = first.zones.contains { $0.name.lowercased() == zone || zone.hasSuffix("." + $0.name.lowercased()) }
            let text = mappings.map(\.description).joined(separator: "; ")
            if served {
                logger.info("transition mappings", metadata: ["zone": "\(zone)", "mappings": "\(text)"])
            } else {
                logger.warning("transition mappings for a zone not served (yet)", metadata: ["zone": "\(zone)", "mappings": "\(text)"])
            }
        }
    }
}

/// Data a signed zone cannot hold (``Daemon/signedRefusal(stores:signers:)``): the start
/// stops, a reload is refused and the old data keeps serving.
public struct SignedZoneRefusal: Error, Sendable, CustomStringConvertible {
    public var reason: String
    public var zone: String
    public var dataset: String
    public var description: String { "\(reason) (zone \(zone), dataset \(dataset))" }
}

/// Why the daemon could not start: logged once, at critical level, on the way out (exit 2).
struct StartFailure: Error {
    var message: String
    var metadata: Logger.Metadata

    init(_ message: String, _ metadata: Logger.Metadata = [:]) { self.message = message; self.metadata = metadata }

    /// `body`'s result, or a ``StartFailure`` with `message` and the error as its reason.
    static func on<T>(_ message: String, _ body: () throws -> T) throws(StartFailure) -> T {
        do { return try body() } catch { throw StartFailure(message, ["reason": "\(error)"]) }
    }

    static func on<T>(_ message: String, _ body: () async throws -> T) async throws(StartFailure) -> T {
        do { return try await body() } catch { throw StartFailure(message, ["reason": "\(error)"]) }
    }
}

/// What the daemon acquired and must release: run once, newest first, whatever ended the run.
final class Cleanup: Sendable {
    private let steps = Mutex<[@Sendable () async -> Void]>([])

    func add(_ step: @escaping @Sendable () async -> Void) { steps.withLock { $0.append(step) } }

    func run() async {
        let all = steps.withLock { s in defer { s = [] }; return s }
        for step in all.reversed() { await step() }
    }
}
