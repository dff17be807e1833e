#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DNSBLServer

/// An rbldnsd 0.998 command line (`rbldnsd(8)`), parsed with rbldnsd's own option letters, and
/// its translation into `prefixbl serve` arguments (`prefixbl rbldnsd ARGV…`).
///
/// Options are parsed as rbldnsd's `getopt` does: flags may be bundled (`-nq`), an option's
/// value may be attached or separate (`-b127.2`, `-b 127.2`), options and dataset specs may be
/// mixed (GNU argument permutation), `--` ends the options. Each option is implemented, or
/// accepted and ignored (``notes`` says why), or refused (`-d`, `-x`, `-X`: ``parse(_:)``
/// throws). The table in the "Migrating from rbldnsd" article is the contract.
public struct RbldnsdCommandLine: Sendable, Equatable {
    /// `-b` values as given, in order.
    public var bind: [String] = []
    /// `-4` / `-6`: only IPv4 / only IPv6 addresses of the `-b` names.
    public var ipv4Only = false
    public var ipv6Only = false
    /// `-t defttl:minttl:maxttl`, seconds; nil = not given (0 for min/max = no constraint).
    public var defaultTTL: UInt32? = nil
    public var minTTL: UInt32? = nil
    public var maxTTL: UInt32? = nil
    /// `-c`, seconds between file checks; nil = rbldnsd's default (60); 0 = no automatic checks.
    public var checkInterval: UInt32? = nil
    /// `-a` (true: NS in AUTHORITY only when asked) / `-A` (false); the last one wins.
    /// rbldnsd 0.998's default is non-lazy (`-A`).
    public var lazy = false
    /// `-l [+]logfile`: query log; `-` is standard output; `+` asks for unbuffered lines.
    public var queryLog: String? = nil
    public var queryLogUnbuffered = false
    /// `-s [+]statsfile`: statistics line every check interval; `+` writes deltas.
    public var statsFile: String? = nil
    public var statsIncremental = false
    /// `-u user[:group]`.
    public var user: String? = nil
    public var group: String? = nil
    /// `-r rootdir` (chroot) and `-w workdir` (chdir after the chroot).
    public var rootDir: String? = nil
    public var workDir: String? = nil
    /// `-e`: CIDR prefixes with host bits set are taken as their network.
    public var allowHostBits = false
    /// `-q`: quiet start.
    public var quiet = false
    /// `-p pidfile`.
    public var pidFile: String? = nil
    /// `-n`, `-f`, `-C`: accepted (see ``notes``).
    public var foreground = false
    public var forkOnReload = false
    public var noGzip = false
    /// `-v` count: 1 hides the version number, 2 refuses `version.bind`.
    public var versionHiding = 0
    /// Dataset specs `zone:type:file[,file…]`, in order.
    public var datasets: [String] = []
    /// Why an accepted option does nothing (logged at start).
    public var notes: [String] = []

    public init() {}

    /// Option letters that take a value, as in rbldnsd's getopt string.
    static let withValue: Set<Character> = ["u", "r", "w", "b", "t", "c", "p", "l", "s", "x", "X"]
    static let flags: Set<Character> = ["4", "6", "e", "q", "n", "f", "d", "v", "C", "a", "A"]

    /// Parses rbldnsd's argv (without the program name).
    /// - Throws: `DNSBLServer/ServerError` `.config` for an unknown option, a missing value, a bad time
    ///   value, and the refused options `-d` (use `prefixbl dump`), `-x`/`-X` (no extensions).
    public static func parse(_ argv: [String]) throws(ServerError) -> RbldnsdCommandLine {
        var r = RbldnsdCommandLine()
        var i = 0
        var optionsEnded = false
        while i < argv.count {
            let arg = argv[i]
            i += 1
            if optionsEnded || !arg.hasPrefix("-") || arg == "-" {
                r.datasets.append(arg)
                continue
            }
            if arg == "--" { optionsEnded = true; continue }
            var rest = Substring(arg.dropFirst())
            while let letter = rest.first {
                rest = rest.dropFirst()
                if withValue.contains(letter) {
                    let value: String
                    if !rest.isEmpty {
                        value = String(rest); rest = ""
                    } else if i < argv.count {
                        value = argv[i]; i += 1
                    } else {
                        throw ServerError(.config, "rbldnsd option -\(letter) needs a value")
                    }
                    try r.apply(letter, value)
                } else if flags.contains(letter) {
                    try r.apply(letter, nil)
                } else {
                    throw ServerError(.config, "unknown rbldnsd option -\(letter) in '\(arg)'")
                }
            }
        }
        return r
    }

    private mutating func apply(_ letter: Character, _ value: String?) throws(ServerError) {
        switch letter {
        case "b": bind.append(value!)
        case "4": ipv4Only = true; ipv6Only = false
        case "6": ipv6Only = true; ipv4Only = false
        case "t":
            let parts = value!.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count <= 3 else { throw ServerError(.config, "-t takes defttl:minttl:maxttl, got '\(value!)'") }
            let times = try parts.map { p throws(ServerError) -> UInt32? in
                p.isEmpty ? nil : try RbldnsdCommandLine.seconds(p)
            }
            if let d = times[0] { defaultTTL = d }
            if times.count > 1, let m = times[1] { minTTL = m }
            if times.count > 2, let m = times[2] { maxTTL = m }
        case "c": checkInterval = try Self.seconds(Substring(value!))
        case "a": lazy = true
        case "A": lazy = false
        case "l":
            var v = value!
            if v.hasPrefix("+") { queryLogUnbuffered = true; v.removeFirst() }
            queryLog = v
        case "s":
            var v = value!
            if v.hasPrefix("+") { statsIncremental = true; v.removeFirst() }
            statsFile = v
        case "u":
            let parts = value!.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            user = parts[0].isEmpty ? nil : String(parts[0])
            group = parts.count > 1 && !parts[1].isEmpty ? String(parts[1]) : nil
        case "r": rootDir = value!
        case "w": workDir = value!
        case "e": allowHostBits = true
        case "q": quiet = true
        case "p": pidFile = value!
        case "n":
            foreground = true
        case "f":
            forkOnReload = true
            note("-f ignored: prefixbl always answers from the old data while a reload is compiled (no fork needed)")
        case "C":
            noGzip = true
            note("-C ignored: gzip input is recognised by its magic bytes and always read")
        case "v": versionHiding += 1
        case "d": throw ServerError(.config, "-d (dump zones in BIND format) is refused: use `prefixbl dump`")
        case "x", "X": throw ServerError(.config, "-\(letter) (load an rbldnsd extension .so) is refused: prefixbl loads no extensions; use the query log (-l) or the statistics line (-s)")
        default: throw ServerError(.config, "unknown rbldnsd option -\(letter)")
        }
    }

    private mutating func note(_ s: String) { if !notes.contains(s) { notes.append(s) } }

    /// A time value in rbldnsd's units: digits with an optional suffix s, m, h, d or w.
    /// - Throws: `DNSBLServer/ServerError` `.config` for anything else or a value above 2^31-1 seconds.
    public static func seconds(_ text: Substring) throws(ServerError) -> UInt32 {
        var digits = text
        var unit: UInt64 = 1
        if let last = text.last, !last.isNumber {
            switch last.lowercased() {
            case "s": unit = 1
            case "m": unit = 60
            case "h": unit = 3600
            case "d": unit = 86400
            case "w": unit = 604800
            default: throw ServerError(.config, "bad time unit in '\(text)' (s, m, h, d or w)")
            }
            digits = text.dropLast()
        }
        guard let n = UInt64(digits) else { throw ServerError(.config, "bad time value '\(text)'") }
        let (total, overflow) = n.multipliedReportingOverflow(by: unit)
        // 2^31−1: the largest TTL (RFC 2181 §8), and the bound of every other rbldnsd time.
        guard !overflow, total <= UInt64(Int32.max) else {
            throw ServerError(.config, "time value '\(text)' is above 2147483647 seconds (2^31−1)")
        }
        return UInt32(total)
    }

    /// The `-b` values resolved as rbldnsd does (`addr[/port]`, port default 53, names and
    /// services via `getaddrinfo`, so that inet_aton's short forms such as `127.2` = 127.0.0.2
    /// work), filtered by `-4`/`-6`, in order, duplicates removed.
    /// - Throws: `DNSBLServer/ServerError` `.badAddress` when a value does not resolve.
    public func listenAddresses() throws(ServerError) -> [ListenAddress] {
        var out: [ListenAddress] = []
        for b in bind {
            var host = b
            var port = "53"
            if let slash = b.lastIndex(of: "/") {
                host = String(b[..<slash])
                port = String(b[b.index(after: slash)...])
                if port.isEmpty { port = "53" }
            }
            var hints = addrinfo()
            hints.ai_family = ipv4Only ? AF_INET : ipv6Only ? AF_INET6 : AF_UNSPEC
            #if canImport(Glibc)
            hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
            #else
            hints.ai_socktype = SOCK_DGRAM
            #endif
            hints.ai_flags = AI_PASSIVE
            var res: UnsafeMutablePointer<addrinfo>? = nil
            let rc = host.isEmpty ? getaddrinfo(nil, port, &hints, &res) : getaddrinfo(host, port, &hints, &res)
            guard rc == 0 else {
                throw ServerError(.badAddress, "-b \(b): \(String(cString: gai_strerror(rc)))")
            }
            defer { freeaddrinfo(res) }
            var p = res
            while let ai = p {
                var buf = [CChar](repeating: 0, count: 64)
                var number: UInt16 = 0
                if ai.pointee.ai_family == AF_INET {
                    ai.pointee.ai_addr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { s in
                        var a = s.pointee.sin_addr
                        inet_ntop(AF_INET, &a, &buf, 64)
                        number = UInt16(bigEndian: s.pointee.sin_port)
                    }
                } else if ai.pointee.ai_family == AF_INET6 {
                    ai.pointee.ai_addr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { s in
                        var a = s.pointee.sin6_addr
                        inet_ntop(AF_INET6, &a, &buf, 64)
                        number = UInt16(bigEndian: s.pointee.sin6_port)
                    }
                }
                if buf[0] != 0 {
                    let a = try ListenAddress(host: String(cString: buf), port: number)
                    if !out.contains(a) { out.append(a) }
                }
                p = ai.pointee.ai_next
            }
        }
        return out
    }

    /// The equivalent `prefixbl serve` arguments (without the `serve` word).
    /// - Parameters:
    ///   - runningAsRoot: rbldnsd switches to user `rbldns` when started as root with no
    ///     `-u`; pass `geteuid() == 0`.
    ///   - socketActivated: the service manager passed listening sockets (systemd socket
    ///     activation), so no `-b` is needed.
    /// - Throws: what ``listenAddresses()`` throws; `.config` when there is no `-b` and no
    ///   socket activation (`socketActivated`), as rbldnsd requires one.
    public func serveArguments(runningAsRoot: Bool, socketActivated: Bool = false) throws(ServerError) -> [String] {
        var a: [String] = []
        if !socketActivated {
            let listen = try listenAddresses()
            guard !listen.isEmpty else { throw ServerError(.config, "no -b address given (rbldnsd requires one unless socket-activated)") }
            for l in listen { a += ["--listen", l.description] }
        }
        a += ["--default-ttl", "\(defaultTTL ?? 2100)"]
        if let minTTL, minTTL > 0 { a += ["--min-ttl", "\(minTTL)"] }
        if let maxTTL, maxTTL > 0 { a += ["--max-ttl", "\(maxTTL)"] }
        let check = checkInterval ?? 60
        a += ["--check-interval", "\(check)"]
        if !lazy { a.append("--ns-in-authority") }
        if let queryLog { a += ["--query-log", queryLog == "-" ? "/dev/stdout" : queryLog] }
        if let statsFile {
            a += ["--stats-file", statsFile, "--stats-interval", "\(check == 0 ? 60 : check)"]
            if statsIncremental { a.append("--stats-incremental") }
        }
        if let user { a += ["--user", user] } else if runningAsRoot { a += ["--user", "rbldns"] }
        if let group { a += ["--group", group] }
        if let rootDir { a += ["--chroot", rootDir] }
        if let workDir { a += ["--workdir", workDir] }
        if allowHostBits { a.append("--allow-host-bits") }
        if quiet { a += ["--log-level", "warning"] }
        if let pidFile { a += ["--pid-file", pidFile] }
        if versionHiding >= 2 { a.append("--no-version") }
        if !datasets.isEmpty { a.append("--") }
        a += datasets
        return a
    }
}
