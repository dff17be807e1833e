#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DNSBL
import DNSBLServer
import DNSSEC
import Logging
import PrefixStore
import ZoneExport
import ZoneSource
import ZoneTransfer

/// The `prefixbl serve` settings exactly as given (flag spellings in the comments), before any
/// check. ``DaemonConfiguration/init(_:)`` turns them into the one validated value the daemon
/// runs from; tests build it directly, without the command line.
public struct DaemonOptions: Sendable {
    /// `--listen`; empty = 127.0.0.1:5300 and [::1]:5300, whichever the host has.
    public var listen: [String] = []
    /// `--store`, compiled store files.
    public var stores: [String] = []
    /// Dataset specs `ZONE:TYPE:FILE[,FILE…]` compiled at start.
    public var specs: [String] = []
    /// `--udp-payload`, bytes (512…4096).
    public var udpPayload = 1232
    public var identity: String? = nil
    public var noVersion = false
    public var noIdServer = false
    public var nsInAuthority = false
    /// `--teredo`, `--nat64`, `--6rd` (see ``TransitionFlags``).
    public var teredo: [String] = []
    public var nat64: [String] = []
    public var sixRD: [String] = []
    /// TCP timeouts, seconds; `--tcp-max-connections`.
    public var tcpIdleTimeout = 10.0
    public var tcpMessageTimeout = 5.0
    public var tcpMaxConnections = 256
    /// `--allow-transfer "CIDR [KEYNAME|NOKEY]"`, `--notify "HOST:PORT [KEYNAME|NOKEY]"`.
    public var allowTransfer: [String] = []
    public var notify: [String] = []
    /// `--tsig-key [ALG:]NAME:SECRET`, `--tsig-keyfile FILE`.
    public var tsigKeys: [String] = []
    public var tsigKeyFiles: [String] = []
    /// `--ixfr-versions`; `--ixfr-memory`, megabytes.
    public var ixfrVersions = 4
    public var ixfrMemory = 1024
    public var transferIPv4Images = false
    public var transferExpandText: String? = nil
    /// `--udp-batch-wait`, microseconds (0…100000).
    public var udpBatchWait = 200
    public var threads: Int? = nil
    /// Reload: seconds between file checks (0 = SIGHUP only), settle delay in seconds, largest
    /// accepted fall in entries in percent, `--force-reload`.
    public var checkInterval = 1.0
    public var settleDelay = 0.5
    public var maxShrink = 50.0
    public var forceReload = false
    /// `--force`: compile listings the guards refuse.
    public var forceCompile = false
    public var queryLog: String? = nil
    /// `--query-log-skip-nxdomain`: leave NXDOMAIN answers out of the query log.
    public var queryLogSkipNxdomain = false
    /// `--aclkey-metrics-keys`: keys counted under their own label in
    /// `prefixbl_aclkey_queries_total` (the rest as `other_key`).
    public var aclkeyMetricsKeys = 100  // aclkey
    /// `--strict`: a line rbldnsd would skip refuses the data instead.
    public var strict = false
    public var user: String? = nil
    public var group: String? = nil
    public var pidFile: String? = nil
    /// `--cookie-secret`, 32 hex digits; `--cookie-udp-payload`, bytes.
    public var cookieSecret: String? = nil
    public var cookieUdpPayload = 4096
    /// `--rrl-rate` responses per second, `--rrl-slip`.
    public var rrlRate: Int? = nil
    public var rrlSlip = 2
    /// `--metrics ADDR:PORT`; `--stats` seconds between log lines.
    public var metrics: String? = nil
    public var stats: Double? = nil
    /// `--max-age` seconds; `--max-age-action` warn or refuse.
    public var maxAge: Int? = nil
    public var maxAgeAction = "warn"
    /// TTLs, seconds: rbldnsd's `-t DEFTTL:MINTTL:MAXTTL`.
    public var defaultTTL: UInt32 = 2100
    public var minTTL: UInt32? = nil
    public var maxTTL: UInt32? = nil
    public var allowHostBits = false
    public var chroot: String? = nil
    public var workdir: String? = nil
    /// `--stats-file`, `--stats-interval` seconds, `--stats-incremental`.
    public var statsFile: String? = nil
    public var statsInterval = 60.0
    public var statsIncremental = false
    public var logLevel = "info"
    /// The program's version, for the start log line (`prefixbl --version`).
    public var version = "unknown"
    /// `--dnssec-key PATH`: BIND-format key pairs (base name or either file); their owners
    /// are the zones answered signed to DO=1 queries.
    public var dnssecKeys: [String] = []
    /// `--dnssec-signature-cache`: RRsets whose signatures are kept.
    public var dnssecSignatureCache = 100_000
    /// `--dnssec-inception-offset`, `--dnssec-validity`, `--dnssec-refresh`: seconds (RRSIG
    /// inception before now, expiration after now, re-signing margin; nil = half the validity).
    public var dnssecInceptionOffset = 3600
    public var dnssecValidity = 14 * 86_400
    public var dnssecRefresh: Int? = nil
    /// `--dnssec-ent-rrset`: every empty non-terminal of a signed zone gets an HINFO RRset and
    /// so an NSEC of its own (`DNSBL/ZoneSigner/emptyNonTerminalRecords`); needs `--dnssec-key`.
    public var dnssecENTRRset = false

    public init() {}
}

/// A setting the daemon cannot run with: the message names the flag and the rule
/// (the command line reports it as a usage error).
public struct InvalidConfiguration: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Everything `prefixbl serve` runs from, checked once (hickory-dns style): every address,
/// spec, key, ACL and bound is parsed here, so the daemon never meets a malformed setting.
public struct DaemonConfiguration: Sendable {
    /// The settings as given.
    public let options: DaemonOptions
    /// Addresses to bind (the defaults when `--listen` was not given; see ``defaultListen``).
    public let listen: [ListenAddress]
    /// Whether ``listen`` holds the quick-start defaults, which are skipped when the host
    /// lacks the address family.
    public let defaultListen: Bool
    /// What is served and how it is built (the same path as `prefixbl compile`).
    public let data: DataSources
    /// Answer settings for the Responder.
    public let answer: AnswerOptions
    /// TSIG keys of `--tsig-key` and `--tsig-keyfile` (read here: before the chroot).
    public let keyring: TSIGKeyring
    /// Who may transfer zones; nil = AXFR/IXFR answered NOTIMP.
    public let transferACL: TransferACL?
    /// The DNS Cookie secret, 16 bytes; nil = random at start.
    public let cookieSecret: [UInt8]?
    public let metricsAddress: ListenAddress?
    public let logLevel: Logger.Level
    /// The signers of `--dnssec-key`, one per zone, keys read here (before the chroot), with
    /// the file each key came from (for errors that name it).
    public let signers: [ZoneSigner]
    /// The keys named explicitly as files (not found in a key directory), by zone: such a
    /// key for a zone not served stops the start.
    public let keyFiles: [(zone: [UInt8], file: String)]
    /// Why a zone whose keys all came from key directories cannot be signed now (no key
    /// active): refused at start only if the zone is served (a directory may be shared by
    /// several zones, as BIND's key-directory is).
    public let directoryKeyProblems: [[UInt8]: String]
    /// What the key directories held but gave no key (a `.private` without its `.key`),
    /// one line each; logged at start.
    public let keyNotes: [String]

    /// The largest value a seconds option takes: a year.
    public static let maxSeconds = 31_536_000.0

    /// Checks every setting.
    /// - Throws: ``InvalidConfiguration`` naming the flag and the rule; `ServerError` `.io`
    ///   when a TSIG key file cannot be read.
    public init(_ o: DaemonOptions) throws {
        func check(_ ok: Bool, _ message: @autoclosure () -> String) throws(InvalidConfiguration) {
            if !ok { throw InvalidConfiguration(message()) }
        }
        options = o
        try check(!(o.stores.isEmpty && o.specs.isEmpty), "nothing to serve: give --store FILE and/or ZONE:TYPE:FILE specs")
        try check((512...4096).contains(o.udpPayload), "--udp-payload must be 512...4096")
        try check((0...100_000).contains(o.udpBatchWait), "--udp-batch-wait must be 0...100000 microseconds")
        try check(o.tcpIdleTimeout > 0, "--tcp-idle-timeout must be > 0")
        // Seconds become Durations and Int64-nanosecond deadlines: `1e300` trapped at start.
        for (value, name) in [(o.tcpIdleTimeout, "--tcp-idle-timeout"), (o.checkInterval, "--check-interval"),
                              (o.settleDelay, "--settle-delay"), (o.statsInterval, "--stats-interval"),
                              (o.stats ?? 0, "--stats")] {
            try check(value.isFinite && value <= Self.maxSeconds, "\(name) must be at most \(Int(Self.maxSeconds)) seconds (a year)")
        }
        try check(o.tcpMaxConnections > 0, "--tcp-max-connections must be > 0")
        try check(o.tcpMessageTimeout > 0, "--tcp-message-timeout must be > 0")
        try check((o.udpPayload...65535).contains(o.cookieUdpPayload), "--cookie-udp-payload must be --udp-payload (\(o.udpPayload))...65535")
        if let threads = o.threads { try check((1...1024).contains(threads), "--threads must be 1...1024") }
        try check(o.checkInterval >= 0, "--check-interval must be >= 0 (0: only SIGHUP reloads)")
        try check(o.statsInterval > 0, "--stats-interval must be > 0")
        for (value, name) in [(o.defaultTTL, "--default-ttl"), (o.minTTL ?? 0, "--min-ttl"), (o.maxTTL ?? 0, "--max-ttl")] {
            try check(value <= CompileOptions.maxTTL, "\(name) \(value) is above \(CompileOptions.maxTTL) (2^31−1), the largest TTL (RFC 2181 §8): resolvers take a larger one as 0")
        }
        if let minTTL = o.minTTL, let maxTTL = o.maxTTL, maxTTL > 0 { try check(minTTL <= maxTTL, "--min-ttl is above --max-ttl") }
        try check(o.settleDelay >= 0, "--settle-delay must be >= 0")
        try check((0...100).contains(o.maxShrink), "--max-shrink is a percentage, 0...100")
        guard let level = Logger.Level(rawValue: o.logLevel) else { throw InvalidConfiguration("unknown --log-level '\(o.logLevel)'") }
        logLevel = level
        defaultListen = o.listen.isEmpty
        do {
            listen = try (defaultListen ? ["127.0.0.1:5300", "[::1]:5300"] : o.listen).map { try ListenAddress(parsing: $0) }
            metricsAddress = try o.metrics.map { try ListenAddress(parsing: $0) }
        } catch { throw InvalidConfiguration("\(error)") }
        if let secret = o.cookieSecret {
            guard let bytes = parseHexSecret(secret) else { throw InvalidConfiguration("--cookie-secret must be 32 hex digits (16 bytes)") }
            cookieSecret = bytes
        } else {
            cookieSecret = nil
        }
        if let rate = o.rrlRate { try check(rate >= 1, "--rrl-rate must be >= 1") }
        try check(o.rrlSlip >= 0, "--rrl-slip must be >= 0")
        if let stats = o.stats { try check(stats > 0, "--stats must be > 0") }
        if let maxAge = o.maxAge { try check(maxAge > 0, "--max-age must be > 0") }
        try check(["warn", "refuse"].contains(o.maxAgeAction), "--max-age-action is warn or refuse")
        let specs: [ZoneSpec]
        do throws(Diagnostic) { specs = try o.specs.map { s throws(Diagnostic) in try ZoneSpec(parsing: s) } } catch {
            throw InvalidConfiguration(error.message)
        }
        var build = CompileOptions(strict: o.strict, force: o.forceCompile)
        build.strictLinesOnly = true
        build.defaultTTL = o.defaultTTL
        build.allowHostBits = o.allowHostBits
        data = DataSources(stores: o.stores, specs: specs, compile: build, ttl: TTLBounds(min: o.minTTL, max: o.maxTTL))

        var keys: [TSIGKey] = []
        for k in o.tsigKeys { keys.append(try TSIGKey(option: k)) }
        for f in o.tsigKeyFiles { keys += try TSIGKey.read(keyFile: f) }
        keyring = try TSIGKeyring(keys)
        do {
            transferACL = o.allowTransfer.isEmpty ? nil : try TransferACL(parsing: o.allowTransfer)
        } catch { throw InvalidConfiguration(error.reason) }
        for name in transferACL?.keyNames ?? [] where keyring.key(named: name) == nil {
            throw InvalidConfiguration("--allow-transfer names TSIG key \(name), which no --tsig-key or --tsig-keyfile defines")
        }
        for target in o.notify {
            let words = target.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if words.count == 2, words[1].uppercased() != "NOKEY", keyring.key(named: String(words[1])) == nil {
                throw InvalidConfiguration("--notify \(target) names TSIG key \(words[1]), which no --tsig-key or --tsig-keyfile defines")
            }
        }

        var answer = AnswerOptions()
        do { try TransitionFlags.apply(teredo: o.teredo, nat64: o.nat64, sixRD: o.sixRD, to: &answer) } catch {
            throw InvalidConfiguration(error.reason)
        }
        (signers, keyFiles, keyNotes, directoryKeyProblems) = try Self.loadSigners(o)
        for (zone, _) in answer.transitions {
            // Mappings answer names the export cannot write: no NSEC chain can hold them.
            for s in signers where zone == Self.zoneText(s.apex) || zone.hasSuffix("." + Self.zoneText(s.apex)) {
                throw InvalidConfiguration("--teredo/--nat64/--6rd for zone \(zone) and --dnssec-key for zone \(Self.zoneText(s.apex)) cannot be combined: the mapped names are not part of the signed zone")
            }
        }
        if let s = signers.first, o.transferExpandText != nil {
            // A signed zone is transferred as DO=1 answers prove it: `$` as the block.
            throw InvalidConfiguration("--transfer-expand-text and --dnssec-key for zone \(Self.zoneText(s.apex)) cannot be combined: a signed zone is transferred with '$' written as the block, as its signed answers carry it")
        }
        if !signers.isEmpty {
            answer.dnssec = DNSSECServing(signers: signers) { stores, signer in
                Self.signedView(stores: stores, apex: signer.apex, emptyNonTerminalRecords: signer.emptyNonTerminalRecords,
                                logger: Logger(label: "prefixbl"))
            }
        }
        answer.udpPayloadSize = o.udpPayload
        answer.version = o.noVersion ? nil : Array("prefixbl".utf8)
        answer.identity = o.noIdServer ? nil : Array((o.identity ?? hostName()).utf8)
        answer.nsInAuthority = o.nsInAuthority
        if let acl = transferACL { answer.udpIXFR = { acl.allows($0) } }
        self.answer = answer
    }

    /// Transport settings for `addresses` (the listen addresses that survived the defaults
    /// check) and the sockets socket activation passed.
    public func server(addresses: [ListenAddress], inherited: [Systemd.InheritedSocket]) -> ServerConfiguration {
        var config = ServerConfiguration(listen: addresses, threads: options.threads)
        config.inheritedSockets = inherited
        config.udpPayloadSize = options.udpPayload
        config.udpBatchWait = Double(options.udpBatchWait) / 1_000_000
        config.tcpIdleTimeout = options.tcpIdleTimeout
        config.tcpMaxConnections = options.tcpMaxConnections
        config.tcpMessageTimeout = options.tcpMessageTimeout
        config.operations.cookieUDPPayloadSize = options.cookieUdpPayload
        config.operations.cookieSecret = cookieSecret
        if let rate = options.rrlRate { config.operations.rrl = RRLSettings(rate: rate, slip: options.rrlSlip) }
        if !keyring.isEmpty { config.tsig = keyring }
        return config
    }

    /// The zone-transfer responder `--allow-transfer` asks for, nil without it.
    public func transferResponder(logger: Logger) -> TransferResponder? {
        guard let acl = transferACL else { return nil }
        let export = ExportOptions(dollar: options.transferExpandText.map { .fixed(Array($0.utf8)) } ?? .block,
                                   imagesWithoutIPv6Data: options.transferIPv4Images)
        let limits = IXFRLimits(versions: max(0, options.ixfrVersions), memoryBytes: max(0, options.ixfrMemory) << 20)
        return TransferResponder(acl: acl, options: export, keyring: keyring.isEmpty ? nil : keyring,
                                 logger: logger, history: TransferHistory(limits: limits))
    }
}

extension DaemonConfiguration {
    /// The signed view of zone `apex` served from `stores` (every store holding a part of it):
    /// `StoreZoneView` — O(log n) per proof from the store's ranges, nothing enumerated — when
    /// it covers the zone's shape, else the reference ``ExportedZoneView`` (the export
    /// enumerated and sorted once: `generic` records, `combined` subzones, NS names inside
    /// the address tree). Logs which view the zone got.
    /// With `emptyNonTerminalRecords` (`--dnssec-ent-rrset`) each empty non-terminal owns an
    /// HINFO RRset and its NSEC in either view.
    public static func signedView(stores: [Store], apex: [UInt8], emptyNonTerminalRecords: Bool = false,
                                  logger: Logger? = nil) -> any SignedZoneView {
        let parts = stores.flatMap { $0.zones.filter { $0.name == apex } }
        let started = ContinuousClock.now
        if let view = StoreZoneView.make(parts: parts, imagesWithoutIPv6Data: true, emptyNonTerminalRecords: emptyNonTerminalRecords) {
            let took = ContinuousClock.now - started
            let ms = took.components.seconds * 1000 + took.components.attoseconds / 1_000_000_000_000_000
            logger?.info("DNSSEC view from the store", metadata: [
                "zone": "\(CanonicalName.text(apex))", "view": "store", "build-ms": "\(ms)"])
            return view
        }
        let view = ExportedZoneView(stores: stores, apex: apex, emptyNonTerminalRecords: emptyNonTerminalRecords)
        logger?.info("DNSSEC view from the export (zone shape not covered by the store view)",
                    metadata: ["zone": "\(CanonicalName.text(apex))", "view": "export", "owners": "\(view.count)"])
        return view
    }

    /// Reads every `--dnssec-key` and groups the keys by zone.
    /// - Throws: ``InvalidConfiguration`` naming the file: missing, unreadable, malformed,
    ///   an unsupported algorithm, or a bad signing setting. The message never holds key material.
    /// `prefixbl export --dnssec-key` signs with the same rules.
    public static func loadSigners(_ o: DaemonOptions) throws(InvalidConfiguration)
        -> ([ZoneSigner], [(zone: [UInt8], file: String)], [String], [[UInt8]: String]) {
        guard !o.dnssecKeys.isEmpty else {
            // Unsigned answers come from the store's rules: an RRset at empty non-terminals
            // would only change the answer to HINFO queries there, for no resolver's gain.
            if o.dnssecENTRRset { throw InvalidConfiguration("--dnssec-ent-rrset needs --dnssec-key: it shapes the NSEC chain of a signed zone") }
            return ([], [], [], [:])
        }
        guard o.dnssecSignatureCache >= 1 else { throw InvalidConfiguration("--dnssec-signature-cache must be >= 1") }
        guard (0...86_400).contains(o.dnssecInceptionOffset) else { throw InvalidConfiguration("--dnssec-inception-offset must be 0...86400 seconds") }
        guard (60...(365 * 86_400)).contains(o.dnssecValidity) else { throw InvalidConfiguration("--dnssec-validity must be 60...31536000 seconds") }
        if let r = o.dnssecRefresh {
            // A signature is never served with less than the margin left; like BIND's re-signing
            // interval (a quarter of the validity by default) the margin cannot be small.
            let floor = Self.minimumRefresh(validity: o.dnssecValidity)
            guard r >= floor, r < o.dnssecValidity else {
                throw InvalidConfiguration("--dnssec-refresh \(r) must be at least \(floor) seconds (an hour, or a quarter of --dnssec-validity when that is less) and below --dnssec-validity (\(o.dnssecValidity)): signatures would be served with seconds left")
            }
        }
        let (order, byZone, files, notes) = try readKeys(o.dnssecKeys)
        let now = Int64(time(nil))
        var deferred: [[UInt8]: String] = [:]
        for zone in order {
            guard let why = ZoneSigner.problem(keys: byZone[zone]!, apex: zone, at: now) else { continue }
            // Keys named as files: refused now; keys found in a directory: only if the zone is
            // served (known once the data is loaded).
            if files.contains(where: { $0.zone == zone }) { throw InvalidConfiguration("--dnssec-key: \(why)") }
            deferred[zone] = why
        }
        let validity = SignatureValidity(inceptionOffset: UInt32(o.dnssecInceptionOffset), lifetime: UInt32(o.dnssecValidity),
                                         refreshMargin: o.dnssecRefresh.map(UInt32.init))
        let signers = order.map { ZoneSigner(keys: byZone[$0]!, validity: validity, cacheCapacity: o.dnssecSignatureCache,
                                              emptyNonTerminalRecords: o.dnssecENTRRset) }
        return (signers, files, notes, deferred)
    }

    /// The least `--dnssec-refresh` accepted for a validity of `validity` seconds: an hour
    /// (longer than the TTL of most DNSBL answers), or a quarter of the validity when that is
    /// less (BIND's default re-signing margin).
    public static func minimumRefresh(validity: Int) -> Int { min(3600, validity / 4) }

    /// Reads the key pairs of `paths` (files or key directories, see `SigningKey.loadAll`)
    /// and groups them by zone, in the order the zones first appear; `files` lists the keys
    /// named explicitly as files (not found in a directory); `notes` says what a directory
    /// held but gave no key (a `.private` without its `.key`).
    /// - Throws: ``InvalidConfiguration`` naming the file: missing, unreadable, malformed,
    ///   an unsupported algorithm, a key given twice. Never holds key material.
    public static func readKeys(_ paths: [String]) throws(InvalidConfiguration)
        -> (order: [[UInt8]], byZone: [[UInt8]: [SigningKey]], files: [(zone: [UInt8], file: String)], notes: [String]) {
        var byZone: [[UInt8]: [SigningKey]] = [:], order: [[UInt8]] = [], files: [(zone: [UInt8], file: String)] = []
        var notes: [String] = []
        for path in paths {
            let keys: [SigningKey]
            do throws(DNSSECKeyError) { keys = try SigningKey.loadAll(path: path, notes: &notes) } catch {
                throw InvalidConfiguration("--dnssec-key \(error)")
            }
            var st = stat()
            let inDirectory = stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
            for key in keys {
                var zone = key.dnskey.owner
                CanonicalName.canonicalize(&zone)
                if byZone[zone] == nil { order.append(zone) }
                if byZone[zone, default: []].contains(where: { $0.dnskey == key.dnskey }) {
                    throw InvalidConfiguration("--dnssec-key \(key.source): the same key is given twice")
                }
                byZone[zone, default: []].append(key)
                if !inDirectory { files.append((zone, key.source)) }
            }
        }
        return (order, byZone, files, notes)
    }

    /// A wire name as the lower-case text the transition flags use: no trailing dot.
    static func zoneText(_ wire: [UInt8]) -> String {
        var t = CanonicalName.text(wire).lowercased()
        if t.count > 1 && t.hasSuffix(".") { t.removeLast() }
        return t
    }
}

/// 32 hex digits → 16 bytes, or nil.
public func parseHexSecret(_ text: String) -> [UInt8]? {
    let chars = Array(text.utf8)
    guard chars.count == 32 else { return nil }
    var out: [UInt8] = []
    for i in stride(from: 0, to: 32, by: 2) {
        guard let b = UInt8(String(decoding: chars[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
        out.append(b)
    }
    return out
}

/// The host name (`gethostname(2)`), the default NSID and `id.server` identity.
func hostName() -> String {
    var buf = [CChar](repeating: 0, count: 256)
    guard gethostname(&buf, buf.count) == 0 else { return "prefixbl" }
    return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
