import DNSBLDaemon
import DNSBLServer
import Testing
import TestSupport
import ZoneSource

// rbldnsd compatibility (issue 4): rbldnsd's command line, option for option, translated into
// `prefixbl serve` arguments.

// MARK: - rbldnsd command line → prefixbl serve arguments

struct RbldnsdLineCase: CustomTestStringConvertible, Sendable {
    var argv: [String]
    var root = false
    var expected: [String]
    var testDescription: String { argv.joined(separator: " ") }
}

let rbldnsdLineCases: [RbldnsdLineCase] = [
    // Debian's documented example: short address form, attached value.
    .init(argv: ["-b127.2", "bl.example:ip4set:list"],
          expected: ["--listen", "127.0.0.2:53", "--default-ttl", "2100", "--check-interval", "60",
                     "--ns-in-authority", "--", "bl.example:ip4set:list"]),
    // IPv6 with a port, repeated -b, lazy, TTL default + max with units, check interval in minutes.
    .init(argv: ["-b", "::1/5300", "-b", "127.0.0.1/5301", "-a", "-t", "30::1h", "-c", "5m",
                 "bl.example:ip6trie:v6", "bl.example:ip4set:v4"],
          expected: ["--listen", "[::1]:5300", "--listen", "127.0.0.1:5301", "--default-ttl", "30",
                     "--max-ttl", "3600", "--check-interval", "300", "--", "bl.example:ip6trie:v6",
                     "bl.example:ip4set:v4"]),
    // Bundled flags, every file option, user:group, chroot + workdir, unbuffered log, delta stats.
    .init(argv: ["-nqe", "-vv", "-p", "/run/x.pid", "-u", "rbldns:nogroup", "-r/var/lib/rbldns", "-w", "sub",
                 "-l", "+query.log", "-s", "+stats", "-t", ":60:", "-b", "192.0.2.1", "z.example:ip4set:f"],
          expected: ["--listen", "192.0.2.1:53", "--default-ttl", "2100", "--min-ttl", "60", "--check-interval", "60",
                     "--ns-in-authority", "--query-log", "query.log", "--stats-file", "stats", "--stats-interval", "60",
                     "--stats-incremental", "--user", "rbldns", "--group", "nogroup", "--chroot", "/var/lib/rbldns",
                     "--workdir", "sub", "--allow-host-bits", "--log-level", "warning", "--pid-file", "/run/x.pid",
                     "--no-version", "--", "z.example:ip4set:f"]),
    // -A after -a wins; -c 0 (no polling); -l - is standard output; options after specs (GNU permutation).
    .init(argv: ["z.example:ip4set:f", "-a", "-A", "-c", "0", "-l", "-", "-b", "127.0.0.1/5300"],
          expected: ["--listen", "127.0.0.1:5300", "--default-ttl", "2100", "--check-interval", "0",
                     "--ns-in-authority", "--query-log", "/dev/stdout", "--", "z.example:ip4set:f"]),
    // Started as root without -u: rbldnsd switches to its default user, rbldns.
    .init(argv: ["-b", "127.0.0.1", "-f", "-C", "-v", "z.example:ip4set:f"], root: true,
          expected: ["--listen", "127.0.0.1:53", "--default-ttl", "2100", "--check-interval", "60",
                     "--ns-in-authority", "--user", "rbldns", "--", "z.example:ip4set:f"]),
    // -4 keeps the IPv4 addresses of a name; a service name as port.
    .init(argv: ["-4", "-b", "localhost/domain", "z.example:ip4set:f"],
          expected: ["--listen", "127.0.0.1:53", "--default-ttl", "2100", "--check-interval", "60",
                     "--ns-in-authority", "--", "z.example:ip4set:f"]),
]

@Test("rbldnsd command lines translate to prefixbl serve arguments", arguments: rbldnsdLineCases)
func rbldnsdCommandLine(_ c: RbldnsdLineCase) throws {
    let parsed = try RbldnsdCommandLine.parse(c.argv)
    #expect(try parsed.serveArguments(runningAsRoot: c.root) == c.expected)
}

@Test("rbldnsd flags: parsed fields, notes for ignored options")
func rbldnsdFields() throws {
    let p = try RbldnsdCommandLine.parse(["-nfCqv", "-t", "1h:5m:2d", "-b", "127.0.0.1", "-u", "nobody", "z:ip4set:f"])
    #expect(p.foreground && p.forkOnReload && p.noGzip && p.quiet)
    #expect(p.versionHiding == 1)
    #expect(p.defaultTTL == 3600 && p.minTTL == 300 && p.maxTTL == 172_800)
    #expect(p.user == "nobody" && p.group == nil)
    #expect(p.notes.count == 2, "-f and -C are accepted and explained: \(p.notes)")
    #expect(try RbldnsdCommandLine.seconds("35m") == 2100)
    #expect(try RbldnsdCommandLine.seconds("2w") == 1_209_600)
    #expect(try RbldnsdCommandLine.seconds("2147483647") == 2_147_483_647)
    // Socket activation: no -b needed, none emitted.
    let s = try RbldnsdCommandLine.parse(["z:ip4set:f"]).serveArguments(runningAsRoot: false, socketActivated: true)
    #expect(!s.contains("--listen"))
}

@Test("rbldnsd options prefixbl refuses or cannot parse are errors with a reason",
      arguments: [["-d", "z:ip4set:f"], ["-x", "ext.so"], ["-X", "arg"], ["-Z"], ["-b"], ["-t", "5y"],
                  ["-t", "1:2:3:4"], ["-c", "abc"],
                  // above 2^31−1 (RFC 2181 §8); the second used to trap on overflow
                  ["-t", "2147483648"], ["-t", "99999999999999999w"]])
func rbldnsdRefused(_ argv: [String]) {
    #expect(throws: ServerError.self) { _ = try RbldnsdCommandLine.parse(argv) }
}

@Test("no -b and no socket activation is an error, as in rbldnsd")
func rbldnsdNeedsBind() throws {
    let p = try RbldnsdCommandLine.parse(["z:ip4set:f"])
    #expect(throws: ServerError.self) { _ = try p.serveArguments(runningAsRoot: false) }
}

@Test("-e and -t DEFTTL reach the compiler: host bits masked, default TTL applied")
func compilerOptionsFromRbldnsd() throws {
    let dir = TempDir()
    let spec = try ZoneSpec(parsing: "bl.example:ip4set:" + dir.write("hb", "192.0.2.7/24\n"))
    let strict = Compiler.compile([spec], options: CompileOptions())
    #expect(strict.zones.first?.datasets.first?.entries.isEmpty == true, "without -e the entry is skipped")
    var options = CompileOptions()
    options.allowHostBits = true
    options.defaultTTL = 30
    let loose = Compiler.compile([spec], options: options)
    let d = try #require(loose.zones.first?.datasets.first)
    #expect(d.entries.count == 1)
    #expect(d.ttl == 30)
}
