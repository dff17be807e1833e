import ArgumentParser
import CJail
import DNSBL
import DNSBLServer
import Dispatch
import Logging
import PrefixStore
import ServiceLifecycle
import Synchronization
import UnixSignals
import ZoneExport
import ZoneSource
#if canImport(Glibc)
import Glibc
#endif

/// `prefixbl serve`: answer DNSBL queries over UDP and TCP from stores and rbldnsd-style sources.
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve DNSBL zones over UDP and TCP.",
        discussion: """
            Inputs are compiled stores (--store) and rbldnsd-style dataset specs compiled at start \
            (ZONE:TYPE:FILE[,FILE...], as on an rbldnsd command line). Every input file is watched: \
            a change (or SIGHUP) reloads without pausing the answers; a bad candidate is refused and \
            the old data keeps serving. SIGTERM/SIGINT finish in-flight queries and exit 0.

            Example:
              prefixbl serve --listen 127.0.0.1:5300 bl.example:ip6trie:v6.txt bl.example:ip4set:v4.txt
            """)

    @Option(name: .customLong("listen"), help: ArgumentHelp(
        "Address to serve on, UDP and TCP: ADDR[:PORT] or [V6ADDR]:PORT; repeatable. Port 0 = ephemeral.",
        valueName: "addr"))
    var listen: [String] = []

    @Option(name: .customLong("store"), help: ArgumentHelp("A compiled store file; repeatable.", valueName: "file"))
    var stores: [String] = []

    @Argument(help: ArgumentHelp("Dataset specs compiled at start.", valueName: "zone:type:file[,file...]"))
    var specs: [String] = []

    @Option(help: "EDNS UDP payload size we offer, bytes (512-4096).")
    var udpPayload: Int = 1232

    @Option(help: "Identity for NSID and CH TXT id.server (default: the host name).")
    var identity: String?

    @Flag(help: "Answer CH TXT version.bind with REFUSED.")
    var noVersion = false

    @Flag(help: "Answer CH TXT id.server with REFUSED and send no NSID.")
    var noIdServer = false

    @Flag(help: "Add the zone's NS RRset to the AUTHORITY section of positive answers.")
    var nsInAuthority = false

    @Option(name: .customLong("teredo"), help: ArgumentHelp(
        "Answer Teredo addresses (2001:0::/32) in this zone from its IPv4 data too (RFC 4380); repeatable.",
        valueName: "zone"))
    var teredo: [String] = []

    @Option(name: .customLong("nat64"), help: ArgumentHelp(
        "Answer NAT64 addresses in this zone from its IPv4 data too: 64:ff9b::/96, or PREFIX/LEN of length 32, 40, 48, 56, 64 or 96 (RFC 6052); repeatable.",
        valueName: "zone[=prefix/len]"))
    var nat64: [String] = []

    @Option(name: .customLong("6rd"), help: ArgumentHelp(
        "Answer a 6rd domain's addresses in this zone from its IPv4 data too: 6rd prefix and the domain's common IPv4 bits as a prefix (RFC 5969); repeatable.",
        valueName: "zone=prefix/len,ipv4prefix/masklen"))
    var sixRD: [String] = []

    @Option(help: "Seconds without traffic before a TCP connection is closed.")
    var tcpIdleTimeout: Double = 10

    @Option(help: "Seconds a TCP message may take from its first byte to its last before the connection is closed.")
    var tcpMessageTimeout: Double = 5

    @Option(help: "Open TCP connections at most; at the cap a new one replaces the connection longest without a whole message.")
    var tcpMaxConnections: Int = 256

    @Option(name: .customLong("allow-transfer"), help: ArgumentHelp(
        "Clients allowed AXFR/IXFR over TCP, optionally only with a TSIG key: \"CIDR [KEYNAME|NOKEY]\" (NSD's provide-xfr); repeatable. Other clients get REFUSED; without the option AXFR/IXFR are answered NOTIMP.",
        valueName: "cidr [key]"))
    var allowTransfer: [String] = []

    @Option(name: .customLong("notify"), help: ArgumentHelp(
        "Secondary to send NOTIFY when a zone's serial changes: \"HOST:PORT [KEYNAME|NOKEY]\" or [V6HOST]:PORT, signed with the key when named; repeatable.",
        valueName: "host:port [key]"))
    var notify: [String] = []

    @Option(name: .customLong("tsig-key"), help: ArgumentHelp(
        "A TSIG key (RFC 8945) as dig -y takes it: [ALGORITHM:]NAME:BASE64SECRET (default hmac-sha256); repeatable. Visible in ps: prefer --tsig-keyfile.",
        valueName: "[alg:]name:secret"))
    var tsigKeys: [String] = []

    @Option(name: .customLong("tsig-keyfile"), help: ArgumentHelp(
        "A file of TSIG key statements: BIND/tsig-keygen `key \"NAME\" { algorithm ...; secret \"...\"; };`, or NSD/Knot `key:` clauses; repeatable.",
        valueName: "file"))
    var tsigKeyFiles: [String] = []

    @Option(name: .customLong("ixfr-versions"), help: ArgumentHelp(
        "Versions of each zone kept to answer IXFR with differences, the current one included; 0: IXFR always gets the full zone.",
        valueName: "n"))
    var ixfrVersions: Int = 4

    @Option(name: .customLong("ixfr-memory"), help: ArgumentHelp(
        "Megabytes all kept IXFR versions may hold together (about the AXFR size of each); the oldest go first.",
        valueName: "MB"))
    var ixfrMemory: Int = 1024

    @Flag(name: .customLong("transfer-ipv4-images"), help: "In transfers, also write IPv4 data under ::ffff:0:0/96 and 2002::/16 for zones without IPv6 data.")
    var transferIPv4Images = false

    @Option(name: .customLong("transfer-expand-text"), help: "In transfers, write TXT '$' as this text (default: the block's address or CIDR).")
    var transferExpandText: String?

    @Option(help: ArgumentHelp("At 20,000 UDP queries/s or more per thread, receive at most every this many microseconds, so that answers go out in larger batches (less CPU per answer, up to this much added latency); 0 = off.", valueName: "us"))
    var udpBatchWait: Int = 200

    @Option(help: "UDP threads per listen address and TCP event loops (default: CPUs available).")
    var threads: Int?

    @Option(help: "Seconds between checks of the input files for changes.")
    var checkInterval: Double = 1

    @Option(help: "Seconds between the two looks at a changed file that must agree before it is read.")
    var settleDelay: Double = 0.5

    @Option(help: "Refuse a reload whose entry count falls by more than this percentage.")
    var maxShrink: Double = 50

    @Flag(help: "Accept reloads that fail the --max-shrink guard.")
    var forceReload = false

    @Flag(name: .customLong("force"), help: "Compile listings the guards refuse (0.0.0.0/0, ::/0, 127.0.0.1).")
    var forceCompile = false

    @Option(help: ArgumentHelp("Append one line per query to this file ('-': standard output).", valueName: "file"))
    var queryLog: String?

    @Option(help: "Switch to this user after binding the sockets.")
    var user: String?

    @Option(help: "Switch to this group after binding the sockets (default: the user's group).")
    var group: String?

    @Option(help: ArgumentHelp("Write the process id to this file.", valueName: "file"))
    var pidFile: String?

    @Option(help: ArgumentHelp("DNS Cookie server secret, 32 hex digits (RFC 9018); random at start if absent.", valueName: "hex"))
    var cookieSecret: String?

    @Option(help: ArgumentHelp("Largest UDP answer for a query with a valid DNS server cookie, bytes (--udp-payload...65535; the client's EDNS size still caps it).", valueName: "bytes"))
    var cookieUdpPayload: Int = 4096

    @Option(help: ArgumentHelp("Response rate limit: identical UDP responses per second per client /24 or /56 (default off).", valueName: "n"))
    var rrlRate: Int?

    @Option(help: ArgumentHelp("Every Nth rate-limited response is sent truncated (TC=1); 0 drops all.", valueName: "n"))
    var rrlSlip: Int = 2

    @Option(help: ArgumentHelp("Serve Prometheus metrics over HTTP at GET /metrics on this address (default off).", valueName: "addr:port"))
    var metrics: String?

    @Option(help: ArgumentHelp("Log a statistics line every this many seconds (default off).", valueName: "seconds"))
    var stats: Double?

    @Option(help: ArgumentHelp("Log loudly and expose it when a zone's data is older than this.", valueName: "seconds"))
    var maxAge: Int?

    @Option(help: ArgumentHelp("What to do with a zone older than --max-age: warn, or refuse (answer REFUSED).", valueName: "warn|refuse"))
    var maxAgeAction: String = "warn"

    @Option(help: "Answer TTL of datasets without $TTL, seconds (rbldnsd -t DEFTTL).")
    var defaultTTL: UInt32 = 2100

    @Option(help: "Raise every TTL in the data below this to it, seconds (rbldnsd -t :MINTTL).")
    var minTTL: UInt32?

    @Option(help: "Lower every TTL in the data above this to it, seconds (rbldnsd -t ::MAXTTL).")
    var maxTTL: UInt32?

    @Flag(help: "Take CIDR prefixes with host bits set as their network instead of skipping them (rbldnsd -e).")
    var allowHostBits = false

    @Option(help: ArgumentHelp("chroot to this directory before reading the data (needs root; rbldnsd -r).", valueName: "dir"))
    var chroot: String?

    @Option(help: ArgumentHelp("Change to this directory (after --chroot) before reading the data (rbldnsd -w).", valueName: "dir"))
    var workdir: String?

    @Option(help: ArgumentHelp("Append a statistics line to this file every --stats-interval seconds (rbldnsd -s).", valueName: "file"))
    var statsFile: String?

    @Option(help: "Seconds between statistics lines.")
    var statsInterval: Double = 60

    @Flag(help: "Statistics lines carry the counts since the previous line, not since start (rbldnsd -s +file).")
    var statsIncremental = false

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    func validate() throws {
        if stores.isEmpty && specs.isEmpty {
            throw ValidationError("nothing to serve: give --store FILE and/or ZONE:TYPE:FILE specs")
        }
        guard (512...4096).contains(udpPayload) else { throw ValidationError("--udp-payload must be 512...4096") }
        guard (0...100_000).contains(udpBatchWait) else { throw ValidationError("--udp-batch-wait must be 0...100000 microseconds") }
        guard tcpIdleTimeout > 0 else { throw ValidationError("--tcp-idle-timeout must be > 0") }
        for (value, name) in [(tcpIdleTimeout, "--tcp-idle-timeout"), (checkInterval, "--check-interval"),
                              (settleDelay, "--settle-delay"), (statsInterval, "--stats-interval"),
                              (stats ?? 0, "--stats")] {
            try checkSecondsOption(value, name)
        }
        guard tcpMaxConnections > 0 else { throw ValidationError("--tcp-max-connections must be > 0") }
        guard tcpMessageTimeout > 0 else { throw ValidationError("--tcp-message-timeout must be > 0") }
        guard (udpPayload...65535).contains(cookieUdpPayload) else {
            throw ValidationError("--cookie-udp-payload must be --udp-payload (\(udpPayload))...65535")
        }
        if let threads, !(1...1024).contains(threads) { throw ValidationError("--threads must be 1...1024") }
        guard checkInterval >= 0 else { throw ValidationError("--check-interval must be >= 0 (0: only SIGHUP reloads)") }
        guard statsInterval > 0 else { throw ValidationError("--stats-interval must be > 0") }
        for (value, name) in [(defaultTTL, "--default-ttl"), (minTTL ?? 0, "--min-ttl"), (maxTTL ?? 0, "--max-ttl")]
        where value > CompileOptions.maxTTL {
            throw ValidationError("\(name) \(value) is above \(CompileOptions.maxTTL) (2^31−1), the largest TTL (RFC 2181 §8): resolvers take a larger one as 0")
        }
        if let minTTL, let maxTTL, maxTTL > 0, minTTL > maxTTL { throw ValidationError("--min-ttl is above --max-ttl") }
        guard settleDelay >= 0 else { throw ValidationError("--settle-delay must be >= 0") }
        guard (0...100).contains(maxShrink) else { throw ValidationError("--max-shrink is a percentage, 0...100") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level '\(logLevel)'") }
        for a in listenAddresses { _ = try ListenAddress(parsing: a) }
        if let cookieSecret, parseHexSecret(cookieSecret) == nil {
            throw ValidationError("--cookie-secret must be 32 hex digits (16 bytes)")
        }
        if let rrlRate, rrlRate < 1 { throw ValidationError("--rrl-rate must be >= 1") }
        guard rrlSlip >= 0 else { throw ValidationError("--rrl-slip must be >= 0") }
        if let metrics { _ = try ListenAddress(parsing: metrics) }
        if let stats, stats <= 0 { throw ValidationError("--stats must be > 0") }
        if let maxAge, maxAge <= 0 { throw ValidationError("--max-age must be > 0") }
        guard ["warn", "refuse"].contains(maxAgeAction) else { throw ValidationError("--max-age-action is warn or refuse") }
        for s in specs { _ = try ZoneSpec(parsing: s) }
        do { _ = try answerOptions() } catch { throw ValidationError(error.reason) }
        let keyring = try tsigKeyring()
        for name in try TransferACL(parsing: allowTransfer).keyNames where keyring.key(named: name) == nil {
            throw ValidationError("--allow-transfer names TSIG key \(name), which no --tsig-key or --tsig-keyfile defines")
        }
        for target in notify {
            let words = target.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if words.count == 2, words[1].uppercased() != "NOKEY", keyring.key(named: String(words[1])) == nil {
                throw ValidationError("--notify \(target) names TSIG key \(words[1]), which no --tsig-key or --tsig-keyfile defines")
            }
        }
    }

    /// The keys of --tsig-key and --tsig-keyfile.
    func tsigKeyring() throws -> TSIGKeyring {
        var keys: [TSIGKey] = []
        for k in tsigKeys { keys.append(try TSIGKey(option: k)) }
        for f in tsigKeyFiles { keys += try TSIGKey.read(keyFile: f) }
        return try TSIGKeyring(keys)
    }

    var listenAddresses: [String] { listen.isEmpty ? ["127.0.0.1:5300", "[::1]:5300"] : listen }

    func run() throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
        let status = blockingRun { try await serve() }
        if status != 0 { throw ExitCode(status) }
    }

    /// - Throws: ``ServerError`` `.config` for a bad transition flag.
    func answerOptions() throws(ServerError) -> AnswerOptions {
        var options = AnswerOptions()
        try TransitionFlags.apply(teredo: teredo, nat64: nat64, sixRD: sixRD, to: &options)
        options.udpPayloadSize = udpPayload
        options.version = noVersion ? nil : Array("prefixbl".utf8)
        options.identity = noIdServer ? nil : Array((identity ?? hostName()).utf8)
        options.nsInAuthority = nsInAuthority
        if !allowTransfer.isEmpty, let acl = try? TransferACL(parsing: allowTransfer) {
            options.udpIXFR = { acl.allows($0) }
        }
        return options
    }

    func serve() async throws -> Int32 {
        let logger = Logger(label: "prefixbl")
        // Trap signals before anything else: a SIGTERM or SIGHUP arriving while the data loads
        // must not kill the process with the default action.
        let stopSignals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        let hangupSignals = await UnixSignalsSequence(trapping: .sighup)
        var addresses = try listenAddresses.map { try ListenAddress(parsing: $0) }
        if listen.isEmpty {
            // The quick-start defaults must work on hosts without IPv6.
            let usable = addresses.filter(\.isAvailable)
            for a in addresses where !usable.contains(a) {
                logger.warning("default listen address not available; skipped", metadata: ["address": "\(a)"])
            }
            if !usable.isEmpty { addresses = usable }
        }
        let sourceSpecs = try specs.map { try ZoneSpec(parsing: $0) }
        // Key files are read before the chroot and before privileges are dropped (they are
        // usually readable by root only).
        let keyring = try tsigKeyring()
        let options = try answerOptions()
        let storePaths = stores
        let compile = CompileSettings(force: forceCompile, defaultTTL: defaultTTL, minTTL: minTTL, maxTTL: maxTTL,
                                      allowHostBits: allowHostBits)
        // Socket activation (systemd .socket units): the listening sockets are inherited and
        // --listen is not used.
        let inherited: [Systemd.InheritedSocket]
        do { inherited = try Systemd.inheritedSockets() } catch {
            logger.critical("bad socket activation", metadata: ["reason": "\(error)"])
            return 2
        }
        // Ids are looked up before a chroot hides /etc/passwd; the pid file is written before
        // the chroot too (rbldnsd's order), so its path is outside the jail.
        let ids: (uid: uid_t?, gid: gid_t?)
        do { ids = try Privileges.resolve(user: user, group: group) } catch {
            logger.critical("cannot drop privileges", metadata: ["reason": "\(error)"])
            return 2
        }
        if let pidFile, chroot != nil { writePidFile(pidFile, logger: logger) }
        if let chroot {
            // libdispatch (where Swift tasks run on Linux) reads /proc/<tid>/stat of its workers
            // whenever work is waiting at its once-a-second look, and traps (SIGILL) when it
            // cannot: in a jail without /proc a loaded server died within seconds. A descriptor
            // of /proc kept from here serves those reads (Sources/CJail/jail.c).
            let keptProc = cjail_keep_proc()
            guard Glibc.chdir(chroot) == 0, Glibc.chroot(chroot) == 0, Glibc.chdir("/") == 0 else {
                logger.critical("cannot chroot", metadata: ["dir": "\(chroot)", "errno": "\(errno)"])
                return 2
            }
            guard cjail_thread_stat_readable() == 1 else {
                logger.critical("chroot: /proc/<tid>/stat is not readable inside the jail; the task runtime (libdispatch) would trap under load. Mount proc at \(chroot)/proc or use --workdir", metadata: [
                    "dir": "\(chroot)", "kept-proc-fd": "\(keptProc)"])
                return 2
            }
        }
        if let workdir {
            guard Glibc.chdir(workdir) == 0 else {
                logger.critical("cannot change directory", metadata: ["dir": "\(workdir)", "errno": "\(errno)"])
                return 2
            }
        }
        let loader = SnapshotLoader(files: storePaths + sourceSpecs.flatMap(\.files)) {
            var loaded: [Store] = []
            for path in storePaths { loaded.append(try Store(path: path)) }
            var ts = timespec()
            clock_gettime(CLOCK_REALTIME, &ts)
            if !sourceSpecs.isEmpty {
                loaded.append(try compileSources(sourceSpecs, now: UInt64(ts.tv_sec), settings: compile, logger: logger))
            }
            return Snapshot.serving(loaded, options: options, now: UInt64(ts.tv_sec))
        }

        let started = ContinuousClock.now
        let (first, prints): (Snapshot, [FileFingerprint])
        do {
            (first, prints) = try await Reloader.initialSnapshot(loader: loader, settleDelay: 0)
        } catch {
            logger.critical("cannot load the data to serve", metadata: ["reason": "\(error)"])
            return 2
        }
        logger.info("data loaded", metadata: [
            "entries": "\(first.entryCount)", "ms": "\((ContinuousClock.now - started).milliseconds)"])
        for zone in first.zones { logger.info("zone", metadata: ["zone": "\(zone)"]) }
        for (zone, mappings) in options.transitions.sorted(by: { $0.key < $1.key }) {
            // A `combined` subzone is served under its base zone's name.
            let served = first.zones.contains { $0.name.lowercased() == zone || zone.hasSuffix("." + $0.name.lowercased()) }
            let text = mappings.map(\.description).joined(separator: "; ")
            if served {
                logger.info("transition mappings", metadata: ["zone": "\(zone)", "mappings": "\(text)"])
            } else {
                logger.warning("transition mappings for a zone not served (yet)", metadata: ["zone": "\(zone)", "mappings": "\(text)"])
            }
        }
        // Compiling source specs at start frees most of what it allocated; hand those pages
        // back (about 6 MB of RSS with the real files) instead of keeping them in malloc's pools.
        releaseFreedMemory()

        var config = ServerConfiguration(listen: addresses, threads: threads)
        config.inheritedSockets = inherited
        config.udpPayloadSize = udpPayload
        config.udpBatchWait = Double(udpBatchWait) / 1_000_000
        config.tcpIdleTimeout = tcpIdleTimeout
        config.tcpMaxConnections = tcpMaxConnections
        config.tcpMessageTimeout = tcpMessageTimeout
        config.operations.cookieUDPPayloadSize = cookieUdpPayload
        if !keyring.isEmpty {
            config.tsig = keyring
            logger.info("TSIG keys", metadata: ["keys": "\(keyring.keys.map(\.description).joined(separator: ", "))"])
        }
        if !allowTransfer.isEmpty {
            let acl = try TransferACL(parsing: allowTransfer)
            config.transfer = ZoneTransfer(
                acl: acl, options: ExportOptions(dollar: transferExpandText.map { .fixed(Array($0.utf8)) } ?? .block,
                                                 imagesWithoutIPv6Data: transferIPv4Images),
                keyring: keyring.isEmpty ? nil : keyring, logger: logger,
                history: TransferHistory(limits: IXFRLimits(versions: max(0, ixfrVersions),
                                                            memoryBytes: max(0, ixfrMemory) << 20)))
        }
        // `-` is standard output, as for rbldnsd's `-l -` (the migration guide says so); it made
        // a file named "-" in the working directory.
        let queryLogger = try queryLog.map { path throws(ServerError) in try QueryLog(path: path == "-" ? "/dev/stdout" : path) }
        config.operations.cookieSecret = cookieSecret.flatMap(parseHexSecret)
        if let rrlRate { config.operations.rrl = RRLSettings(rate: rrlRate, slip: rrlSlip) }
        let serverMetrics: ServerMetrics? = (metrics != nil || stats != nil || maxAge != nil) ? ServerMetrics(logger: logger) : nil
        serverMetrics?.statsInterval = stats
        serverMetrics?.maxAge = maxAge.map(UInt64.init)
        serverMetrics?.refuseStale = maxAgeAction == "refuse"
        let holder = SnapshotHolder(first)
        let notifier = notify.isEmpty ? nil : try NotifyService(holder: holder, targets: notify, keyring: keyring, logger: logger)
        let server = DNSServer(configuration: config, holder: holder, logger: logger, queryLog: queryLogger,
                               metrics: serverMetrics)
        serverMetrics?.server = server
        do {
            try await server.start()
        } catch {
            logger.critical("cannot bind", metadata: ["reason": "\(error)"])
            queryLogger?.stop()
            return 2
        }
        // Written while still privileged, so it can live in /run; removed at exit if the
        // (possibly unprivileged) process may.
        if let pidFile, chroot == nil { writePidFile(pidFile, logger: logger) }
        do {
            try Privileges.drop(uid: ids.uid, gid: ids.gid)
        } catch {
            logger.critical("cannot drop privileges", metadata: ["reason": "\(error)"])
            await server.stop()
            queryLogger?.stop()
            if let pidFile { unlink(pidFile) }
            return 2
        }
        if user != nil || group != nil {
            logger.info("privileges dropped", metadata: ["uid": "\(getuid())", "gid": "\(getgid())"])
        }
        let stats = statsFile.map { StatsWriter(path: $0, incremental: statsIncremental, server: server, logger: logger) }
        stats?.mark()
        let statsTask = stats.map { writer in
            Task { [statsInterval] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(Int64(statsInterval * 1000)))
                    if Task.isCancelled { break }
                    writer.write()
                }
            }
        }
        defer { statsTask?.cancel(); stats?.mark() }

        let reloader = Reloader(holder: holder, loader: loader, logger: logger)
        // 0 = no polling (rbldnsd -c 0): SIGHUP still reloads.
        reloader.checkInterval = checkInterval == 0 ? Double(Int32.max) : checkInterval
        reloader.onHangup = {
            Systemd.notify(Systemd.reloadingMessage())
            do { try queryLogger?.reopen() } catch {
                logger.error("cannot reopen the query log", metadata: ["reason": "\(error)"])
            }
        }
        reloader.afterHangupReload = { Systemd.notify("READY=1") }
        reloader.settleDelay = settleDelay
        reloader.maxShrink = maxShrink / 100
        reloader.force = forceReload
        reloader.setBaseline(prints)
        serverMetrics?.reloader = reloader
        var metricsListener: MetricsHTTPServer? = nil
        if let serverMetrics, let metrics {
            let listener = MetricsHTTPServer(metrics: serverMetrics)
            do {
                try await listener.start(try ListenAddress(parsing: metrics))
            } catch {
                logger.critical("cannot serve metrics", metadata: ["reason": "\(error)"])
                await server.stop()
                return 2
            }
            logger.info("metrics", metadata: ["address": "http://\(listener.boundAddress!)/metrics"])
            metricsListener = listener
        }
        let metricsTask = Task { await serverMetrics?.run() }
        defer { metricsTask.cancel() }
        reloader.hangupSignals = hangupSignals
        // $TIMESTAMP expiry is judged when a Responder is built: rebuild it every minute when
        // some dataset has an expiry, so expired data stops being served without a file change.
        reloader.refresh = { current in
            let responder = current.responder
            guard responder.stores.contains(where: { $0.zones.contains { $0.datasets.contains { $0.expires != nil } } })
            else { return nil }
            var ts = timespec()
            clock_gettime(CLOCK_REALTIME, &ts)
            return Snapshot.serving(responder.stores, options: options, now: UInt64(ts.tv_sec))
        }

        // Services start in order and shut down in reverse: the reloader stops first, then the
        // server stops accepting and finishes what it has read.
        let group = ServiceGroup(configuration: .init(
            services: [DNSServerService(server: server), reloader] + (notifier.map { [$0] } ?? [])
                + (config.transfer.map { [TransferPrebuildService(holder: holder, transfer: $0)] } ?? []),
            logger: logger))
        let signalTask = Task {
            for await signal in stopSignals {
                logger.info("signal received: shutting down", metadata: ["signal": "\(signal)"])
                Systemd.notify("STOPPING=1")
                await group.triggerGracefulShutdown()
            }
        }
        defer { signalTask.cancel() }
        // Readiness for Type=notify units: the sockets answer and privileges are dropped.
        Systemd.notify("READY=1\nSTATUS=serving \(first.entryCount) entries\nMAINPID=\(getpid())")
        do {
            try await group.run()
        } catch {
            logger.error("service group ended with an error", metadata: ["error": "\(error)"])
            await server.stop()
            queryLogger?.stop()
            if let pidFile, chroot == nil { unlink(pidFile) }
            return 1
        }
        queryLogger?.stop()
        await metricsListener?.stop()
        if let pidFile, chroot == nil { unlink(pidFile) }
        logger.info("exiting")
        return 0
    }

    func writePidFile(_ path: String, logger: Logger) {
        let text = "\(getpid())\n"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            logger.warning("cannot write pid file", metadata: ["path": "\(path)", "errno": "\(errno)"])
            return
        }
        _ = text.utf8CString.withUnsafeBytes { write(fd, $0.baseAddress, $0.count - 1) }
        close(fd)
    }
}

/// Compiles rbldnsd-style specs into one in-memory store with ZoneSource's compiler (the code
/// path of `prefixbl compile`). Warnings are logged; any error refuses the candidate.
/// - Throws: ``ServerError`` `.config` listing the first errors with file:line.
func compileSources(_ specs: [ZoneSpec], now: UInt64, settings: CompileSettings, logger: Logger) throws -> Store {
    var options = CompileOptions(force: settings.force)
    options.now = now
    options.defaultTTL = settings.defaultTTL
    options.allowHostBits = settings.allowHostBits
    let result = Compiler.compile(specs, options: options)
    for d in result.diagnostics where d.severity != .error {
        logger.warning("\(d)")
    }
    if result.hasErrors {
        let errors = result.diagnostics.filter { $0.severity == .error }
        let shown = errors.prefix(5).map(\.description).joined(separator: "; ")
        throw ServerError(.config, "compile failed with \(errors.count) error(s): \(shown)")
    }
    var zones = result.zones
    if settings.minTTL != nil || settings.maxTTL != nil {
        for z in zones.indices {
            zones[z].soa.ttl = settings.clamp(zones[z].soa.ttl)
            zones[z].nsTTL = settings.clamp(zones[z].nsTTL)
            for d in zones[z].datasets.indices { zones[z].datasets[d].ttl = settings.clamp(zones[z].datasets[d].ttl) }
        }
    }
    return try Store(zones: zones)
}

/// Compile-time settings of `serve` (rbldnsd's `-t` and `-e`).
struct CompileSettings: Sendable {
    var force = false
    var defaultTTL: UInt32 = 2100
    /// TTL constraints, seconds; nil or 0 = none (rbldnsd's rule).
    var minTTL: UInt32? = nil
    var maxTTL: UInt32? = nil
    var allowHostBits = false

    func clamp(_ ttl: UInt32) -> UInt32 {
        var t = ttl
        if let minTTL, minTTL > 0, t < minTTL { t = minTTL }
        if let maxTTL, maxTTL > 0, t > maxTTL { t = maxTTL }
        return t
    }
}

/// The `--stats-file` line, written at every interval:
/// `UNIXTIME udp:RECEIVED:ANSWERED:DROPPED tcp:RECEIVED:ANSWERED:DROPPED *:RECEIVED:ANSWERED:DROPPED`
/// (query counts since start, or since the previous line with `--stats-incremental`); a bare
/// `UNIXTIME` line at start and at shutdown marks where the counters restart, as rbldnsd does.
final class StatsWriter: Sendable {
    let path: String
    let incremental: Bool
    let server: DNSServer
    let logger: Logger
    private let last = Mutex<[Int]>([0, 0, 0, 0, 0, 0])

    init(path: String, incremental: Bool, server: DNSServer, logger: Logger) {
        self.path = path; self.incremental = incremental; self.server = server; self.logger = logger
    }

    func mark() { append("\(time(nil))\n") }

    func write() {
        let u = server.udpStats, t = server.tcpStats
        let now = [u.received, u.answered, u.dropped, t.received, t.answered, t.dropped]
        let v: [Int] = last.withLock { last in
            defer { last = now }
            return incremental ? zip(now, last).map { $0 - $1 } : now
        }
        let line = "\(time(nil)) udp:\(v[0]):\(v[1]):\(v[2]) tcp:\(v[3]):\(v[4]):\(v[5]) *:\(v[0] + v[3]):\(v[1] + v[4]):\(v[2] + v[5])\n"
        logger.info("stats", metadata: ["line": "\(line.dropLast())"])
        append(line)
    }

    private func append(_ text: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            logger.warning("cannot write the stats file", metadata: ["path": "\(path)", "errno": "\(errno)"])
            return
        }
        _ = text.utf8CString.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count - 1) }
        close(fd)
    }
}

/// The largest value a seconds option takes: a year.
let maxSecondsOption = 31_536_000.0

/// Seconds options become `Duration`s and timer deadlines in Int64 nanoseconds: an absurd value
/// (`--tcp-idle-timeout 1e300`) trapped at start with a runtime failure instead of a message.
/// - Throws: `ValidationError` when `value` is not finite or above ``maxSecondsOption``.
func checkSecondsOption(_ value: Double, _ name: String) throws {
    guard value.isFinite, value <= maxSecondsOption else {
        throw ValidationError("\(name) must be at most \(Int(maxSecondsOption)) seconds (a year)")
    }
}

/// 32 hex digits → 16 bytes, or nil.
func parseHexSecret(_ text: String) -> [UInt8]? {
    let chars = Array(text.utf8)
    guard chars.count == 32 else { return nil }
    var out: [UInt8] = []
    for i in stride(from: 0, to: 32, by: 2) {
        guard let b = UInt8(String(decoding: chars[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
        out.append(b)
    }
    return out
}

func hostName() -> String {
    var buf = [CChar](repeating: 0, count: 256)
    guard gethostname(&buf, buf.count) == 0 else { return "prefixbl" }
    return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

extension Duration {
    var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}

/// Runs async work from a synchronous `run()`, blocking the main thread until it ends, so that
/// the root command can stay a plain `ParsableCommand`.
func blockingRun(_ body: @escaping @Sendable () async throws -> Int32) -> Int32 {
    let done = DispatchSemaphore(value: 0)
    let result = Mutex<Int32>(2)
    Task {
        do {
            let status = try await body()
            result.withLock { $0 = status }
        } catch {
            let text = "prefixbl: \(error)\n"
            _ = text.utf8CString.withUnsafeBytes { write(2, $0.baseAddress, $0.count - 1) }
        }
        done.signal()
    }
    done.wait()
    return result.withLock { $0 }
}
