import ArgumentParser
import DNSBLDaemon
#if canImport(Glibc)
import Glibc
#endif

/// `prefixbl rbldnsd ARGV…`: rbldnsd's command line, option for option (see the "Migrating
/// from rbldnsd" article for the table), run as `prefixbl serve`.
struct Rbldnsd: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve with an rbldnsd command line (drop-in for /usr/sbin/rbldnsd).",
        discussion: """
            Takes rbldnsd 0.998's options exactly (-b addr/port, -t ttl:min:max, -c, -a/-A, -l, -s, \
            -u, -r, -w, -e, -v, -C, -p, -n, -f, -q, -4, -6; -d, -x, -X are refused) and the dataset \
            specs, translates them into `prefixbl serve` options and serves. \
            --print-serve prints the translation and exits. Never forks: run it under systemd \
            (Type=notify) or with start-stop-daemon --background.

            Example:
              prefixbl rbldnsd -r/var/lib/rbldns -b127.2 bl.example:ip4set:list
            """)

    @Flag(help: "Print the equivalent `prefixbl serve` command line and exit.")
    var printServe = false

    @Flag(help: "Refuse data with any line rbldnsd would skip instead of skipping it with a warning (`prefixbl serve --strict`); must come before the rbldnsd options.")
    var strict = false

    @Option(name: .customLong("dnssec-key"), help: ArgumentHelp("Answer DO=1 queries signed with this key pair (`prefixbl serve --dnssec-key`); repeatable; must come before the rbldnsd options.", valueName: "path"))
    var dnssecKeys: [String] = []

    @Flag(name: .customLong("dnssec-ent-rrset"), help: "An HINFO RRset at every empty non-terminal of the signed zone (`prefixbl serve --dnssec-ent-rrset`); needs --dnssec-key; must come before the rbldnsd options.")
    var dnssecENTRRset = false

    @Argument(parsing: .captureForPassthrough, help: ArgumentHelp("rbldnsd options and zone:type:file specs.", valueName: "rbldnsd-argv"))
    var argv: [String] = []

    func run() throws {
        let parsed: RbldnsdCommandLine
        do { parsed = try RbldnsdCommandLine.parse(argv) } catch {
            throw ValidationError("\(error)")
        }
        let activated = getenv("LISTEN_FDS") != nil && getenv("LISTEN_PID").map { String(cString: $0) } == "\(getpid())"
        var args: [String]
        do { args = try parsed.serveArguments(runningAsRoot: geteuid() == 0, socketActivated: activated) } catch {
            throw ValidationError("\(error)")
        }
        // Before the `--` that ends the options of the translation, if any.
        if strict { args.insert("--strict", at: args.firstIndex(of: "--") ?? args.endIndex) }
        for key in dnssecKeys { args.insert(contentsOf: ["--dnssec-key", key], at: args.firstIndex(of: "--") ?? args.endIndex) }
        if dnssecENTRRset { args.insert("--dnssec-ent-rrset", at: args.firstIndex(of: "--") ?? args.endIndex) }
        for note in parsed.notes {
            let text = "prefixbl rbldnsd: \(note)\n"
            _ = text.utf8CString.withUnsafeBytes { write(2, $0.baseAddress, $0.count - 1) }
        }
        if printServe {
            print((["prefixbl", "serve"] + args).map(shellQuoted).joined(separator: " "))
            return
        }
        let serve = try Serve.parse(args)
        try serve.run()
    }
}

func shellQuoted(_ s: String) -> String {
    if !s.isEmpty && s.allSatisfy({ $0.isLetter || $0.isNumber || "-_./:=@,[]+".contains($0) }) { return s }
    return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
