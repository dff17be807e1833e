import ArgumentParser
import DNSBLDaemon
import Dispatch
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `prefixbl serve`: the flags of the daemon (``DNSBLDaemon/Daemon``). Everything past
/// parsing — checks, binding, loading, reloading — is the daemon module's.
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
    @Option(help: "Refuse a reload whose entry count, in total or in any one dataset, falls by more than this percentage.")
    var maxShrink: Double = 50
    @Flag(help: "Accept reloads that fail the --max-shrink guard.")
    var forceReload = false
    @Flag(name: .customLong("force"), help: "Compile listings the guards refuse (0.0.0.0/0, ::/0, 127.0.0.1).")
    var forceCompile = false
    @Option(help: ArgumentHelp("Append one line per query to this file ('-': standard output).", valueName: "file"))
    var queryLog: String?
    @Flag(help: "Leave queries answered NXDOMAIN out of the query log (most DNSBL queries are for addresses not listed).")
    var queryLogSkipNxdomain = false
    @Option(help: ArgumentHelp("aclkey zones: how many keys get a series of their own in prefixbl_aclkey_queries_total (the rest count as other_key).", valueName: "n"))
    var aclkeyMetricsKeys: Int = 100  // aclkey

    @Flag(help: "Refuse data with any line rbldnsd would skip (malformed, wrong family, values out of range…) instead of skipping it with a warning; a reload with one keeps the old data.")
    var strict = false
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
    @Option(name: .customLong("dnssec-key"), help: ArgumentHelp(
        "A DNSSEC key pair (BIND format, as dnssec-keygen and ldns-keygen write it): base name or either file, or a key directory (every K*.private with its .key); repeatable. Its owner names the zone answered signed to DO=1 queries; a key with flags 257 signs the DNSKEY RRset, the others the rest (one key: a CSK). Publish/Activate/Inactive/Delete timing in the .private file is honoured. Read before --chroot and --user, and again at every reload (SIGHUP).",
        valueName: "path"))
    var dnssecKeys: [String] = []
    @Option(help: ArgumentHelp("RRsets whose signatures are kept in the signature cache.", valueName: "n"))
    var dnssecSignatureCache: Int = 100_000
    @Option(help: ArgumentHelp("RRSIG inception this many seconds before signing.", valueName: "seconds"))
    var dnssecInceptionOffset: Int = 3600
    @Option(help: ArgumentHelp("RRSIG expiration this many seconds after signing (default 14 days).", valueName: "seconds"))
    var dnssecValidity: Int = 14 * 86_400
    @Option(help: ArgumentHelp("A cached signature expiring within this many seconds is made anew before it is served; a background task renews served ones before that, with jitter (default: half of --dnssec-validity).", valueName: "seconds"))
    var dnssecRefresh: Int?
    @Flag(name: .customLong("dnssec-ent-rrset"), help: "Give every empty non-terminal of a signed zone an HINFO RRset (\"empty-non-terminal\" \"prefixbl\"), so each owns an NSEC: BIND 9.18 then synthesises NXDOMAIN for unlisted names from its cache (RFC 8198). About 55% more names in a nibble zone. Needs --dnssec-key.")
    var dnssecENTRRset = false

    /// The flags as the daemon takes them.
    var options: DaemonOptions {
        var o = DaemonOptions()
        o.listen = listen; o.stores = stores; o.specs = specs; o.udpPayload = udpPayload; o.identity = identity
        o.noVersion = noVersion; o.noIdServer = noIdServer; o.nsInAuthority = nsInAuthority
        o.teredo = teredo; o.nat64 = nat64; o.sixRD = sixRD
        o.tcpIdleTimeout = tcpIdleTimeout; o.tcpMessageTimeout = tcpMessageTimeout; o.tcpMaxConnections = tcpMaxConnections
        o.allowTransfer = allowTransfer; o.notify = notify; o.tsigKeys = tsigKeys; o.tsigKeyFiles = tsigKeyFiles
        o.ixfrVersions = ixfrVersions; o.ixfrMemory = ixfrMemory
        o.transferIPv4Images = transferIPv4Images; o.transferExpandText = transferExpandText
        o.udpBatchWait = udpBatchWait; o.threads = threads
        o.checkInterval = checkInterval; o.settleDelay = settleDelay; o.maxShrink = maxShrink; o.forceReload = forceReload
        o.forceCompile = forceCompile; o.queryLog = queryLog; o.queryLogSkipNxdomain = queryLogSkipNxdomain; o.aclkeyMetricsKeys = aclkeyMetricsKeys; o.strict = strict; o.user = user; o.group = group; o.pidFile = pidFile
        o.cookieSecret = cookieSecret; o.cookieUdpPayload = cookieUdpPayload; o.rrlRate = rrlRate; o.rrlSlip = rrlSlip
        o.metrics = metrics; o.stats = stats; o.maxAge = maxAge; o.maxAgeAction = maxAgeAction
        o.defaultTTL = defaultTTL; o.minTTL = minTTL; o.maxTTL = maxTTL; o.allowHostBits = allowHostBits
        o.chroot = chroot; o.workdir = workdir
        o.statsFile = statsFile; o.statsInterval = statsInterval; o.statsIncremental = statsIncremental
        o.logLevel = logLevel
        o.dnssecKeys = dnssecKeys; o.dnssecSignatureCache = dnssecSignatureCache
        o.dnssecInceptionOffset = dnssecInceptionOffset; o.dnssecValidity = dnssecValidity; o.dnssecRefresh = dnssecRefresh
        o.dnssecENTRRset = dnssecENTRRset
        o.version = prefixblVersion
        return o
    }

    /// Builds the one validated configuration (a bad setting is a usage error, exit 64), then
    /// runs the daemon on it. Not in `validate()`: the configuration reads key files and is
    /// built once.
    func run() throws {
        let configuration: DaemonConfiguration
        do { configuration = try DaemonConfiguration(options) } catch let invalid as InvalidConfiguration {
            // A usage error, reported as ArgumentParser reports one from validate() (exit 64).
            writeStderr("Error: \(invalid.message)\nUsage: \(PrefixBL.usageString(for: Serve.self))\n"
                        + "  See 'prefixbl serve --help' for more information.\n")
            throw ExitCode.validationFailure
        }
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = configuration.logLevel
            return h
        }
        let status = blockingRun { await Daemon.run(configuration) }
        if status != 0 { throw ExitCode(status) }
    }
}

/// The largest value a seconds option takes: a year.
let maxSecondsOption = DaemonConfiguration.maxSeconds

/// Seconds options become `Duration`s and timer deadlines in Int64 nanoseconds: an absurd value
/// (`--timeout 1e300`) trapped at start with a runtime failure instead of a message.
/// - Throws: `ValidationError` when `value` is not finite or above ``maxSecondsOption``.
func checkSecondsOption(_ value: Double, _ name: String) throws {
    guard value.isFinite, value <= maxSecondsOption else {
        throw ValidationError("\(name) must be at most \(Int(maxSecondsOption)) seconds (a year)")
    }
}

/// Runs async work from a synchronous `run()`, blocking the main thread until it ends, so that
/// the root command can stay a plain `ParsableCommand`.
func blockingRun(_ body: @escaping @Sendable () async -> Int32) -> Int32 {
    let done = DispatchSemaphore(value: 0)
    let result = Mutex<Int32>(2)
    Task {
        let status = await body()
        result.withLock { $0 = status }
        done.signal()
    }
    done.wait()
    return result.withLock { $0 }
}
