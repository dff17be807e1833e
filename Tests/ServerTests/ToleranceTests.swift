#if canImport(Glibc)
import Glibc
#endif
import DNSBLServer
import Foundation
import Testing
import ServerTestSupport
import TestSupport

/// A line rbldnsd skips is skipped with a file:line warning, counted, and the rest of the data
/// is served, at start and at every reload; `--strict` refuses instead (issue 13 point 1, case
/// C24). The table below is what rbldnsd 1.0pre does with each kind of bad line, per dataset
/// type; the parity test checks it against rbldnsd itself where it is installed.
struct BadLineCase: CustomTestStringConvertible, Sendable {
    var type: String
    var line: String
    /// rbldnsd logs the line (`file(2): …`) and skips it.
    var rbldnsdSkips: Bool
    /// prefixbl skips it with a warning naming file:2.
    var prefixblSkips: Bool
    /// An address the bad line names, queried in both servers (IP types only).
    var probe: String?
    var testDescription: String { "\(type): \(line)" }

    init(_ type: String, _ line: String, _ rbldnsd: Bool, _ prefixbl: Bool? = nil, probe: String? = nil) {
        self.type = type; self.line = line; rbldnsdSkips = rbldnsd; prefixblSkips = prefixbl ?? rbldnsd
        self.probe = probe
    }

    /// Same skip decision, hence the same answers (else a documented difference).
    var agrees: Bool { rbldnsdSkips == prefixblSkips }

    /// The line after the bad one: it must be served whatever happened to the bad one.
    var goodLine: String {
        switch type {
        case "ip6trie": "2001:db8:ffff::1"
        case "ip6tset": "2001:db8:ffff:1"
        case "generic": "good A 192.0.2.99"
        case "acl": "203.0.113.0/24 :refuse"
        case "combined": "203.0.113.1"
        default: "203.0.113.1"
        }
    }

    var goodAddress: String? {
        switch type {
        case "ip6trie": "2001:db8:ffff::1"
        case "ip6tset": "2001:db8:ffff:1::1"
        case "generic", "acl": nil
        default: "203.0.113.1"
        }
    }

    var fileText: String {
        switch type {
        case "generic", "acl": "\(line)\n\(goodLine)\n"
        case "combined": "$DATASET ip4set @\n\(line)\n\(goodLine)\n"
        default: ":127.0.0.2:Listed $\n\(line)\n\(goodLine)\n"
        }
    }
    /// The bad line's number in its file.
    var badLineNumber: Int { type == "generic" || type == "acl" ? 1 : 2 }
}

let badLineCases: [BadLineCase] = [
    // ip4set
    BadLineCase("ip4set", "192.0.2.300", true),
    BadLineCase("ip4set", "foo", true),
    BadLineCase("ip4set", "1.2.3.4.5", true),
    BadLineCase("ip4set", "2001:db8::1", true),
    BadLineCase("ip4set", "192.0.2.1/24", true, probe: "192.0.2.1"),
    BadLineCase("ip4set", "0.0.0.0/0", true, probe: "8.8.8.8"),
    BadLineCase("ip4set", "192.0.2.9-192.0.2.3", true, probe: "192.0.2.5"),
    BadLineCase("ip4set", "192.0.2.10/33", true, probe: "192.0.2.10"),
    BadLineCase("ip4set", "192.0.2.18/", true, probe: "192.0.2.18"),
    BadLineCase("ip4set", "192.0.2.19-", true, probe: "192.0.2.19"),
    BadLineCase("ip4set", "192.0.2.20-300", true, probe: "192.0.2.20"),
    BadLineCase("ip4set", "192.0.2.5 :300:x", true, probe: "192.0.2.5"),
    BadLineCase("ip4set", "192.0.2.14 ::1", true, probe: "192.0.2.14"),
    BadLineCase("ip4set", "192.0.2.15 :6 trailing", true, probe: "192.0.2.15"),
    BadLineCase("ip4set", "192.0.2.11 :127.0.0.3:", false, probe: "192.0.2.11"),
    BadLineCase("ip4set", "192.0.2.12:4", false, probe: "192.0.2.12"),
    BadLineCase("ip4set", "!192.0.2.16 :5", false, probe: "192.0.2.16"),
    BadLineCase("ip4set", "192.0.2.17 ;comment", false, probe: "192.0.2.17"),
    // rbldnsd serves A 1.0.0.2; prefixbl skips A values outside 127.0.0.0/8.
    BadLineCase("ip4set", "192.0.2.13 :1.2", false, true, probe: "192.0.2.13"),
    BadLineCase("ip4set", "192.0.2.6 :128.0.0.2:out", false, true, probe: "192.0.2.6"),
    BadLineCase("ip4set", "192.0.2.7 :127.255.255.3:reserved", false, true, probe: "192.0.2.7"),
    BadLineCase("ip4set", "$TTL abc", true),
    BadLineCase("ip4set", "$MAXRANGE4 xyz", true),
    BadLineCase("ip4set", "$SOA 1", true),
    BadLineCase("ip4set", "$NS", true),
    BadLineCase("ip4set", "$FOO bar", true),
    BadLineCase("ip4set", "$1", true),
    BadLineCase("ip4set", "$TIMESTAMP xyz", true),
    BadLineCase("ip4set", "$DATASET ip4set @", true),
    // ip4trie
    BadLineCase("ip4trie", "192.0.2.300", true),
    BadLineCase("ip4trie", "2001:db8::1", true),
    BadLineCase("ip4trie", "192.0.2.1/24", true, probe: "192.0.2.1"),
    BadLineCase("ip4trie", "192.0.2.9-192.0.2.10", true, probe: "192.0.2.9"),
    BadLineCase("ip4trie", "192.0.2.5 :300:x", true, probe: "192.0.2.5"),
    BadLineCase("ip4trie", "192.0.2", false, probe: "192.0.2.77"),
    BadLineCase("ip4trie", "10.1", false, probe: "10.1.2.3"),
    // rbldnsd's ip4trie lists the world; prefixbl skips it unless --force.
    BadLineCase("ip4trie", "0.0.0.0/0", false, true, probe: "8.8.8.8"),
    // ip4tset
    BadLineCase("ip4tset", "192.0.2.300", true),
    BadLineCase("ip4tset", "2001:db8::1", true),
    BadLineCase("ip4tset", "192.0.2.0/24", true, probe: "192.0.2.1"),
    BadLineCase("ip4tset", "192.0.2.9-192.0.2.10", true, probe: "192.0.2.9"),
    BadLineCase("ip4tset", "192.0.2", true, probe: "192.0.2.0"),
    BadLineCase("ip4tset", "!192.0.2.6", true, probe: "192.0.2.6"),
    BadLineCase("ip4tset", "192.0.2.5 :3:x", false, probe: "192.0.2.5"),
    // ip6trie
    BadLineCase("ip6trie", "2001:db8::g", true),
    BadLineCase("ip6trie", "192.0.2.1", true),
    BadLineCase("ip6trie", "2001:db8::1/32", true, probe: "2001:db8::1"),
    BadLineCase("ip6trie", "2001:db8::5 :300:x", true, probe: "2001:db8::5"),
    BadLineCase("ip6trie", "2001:db8::/129", true),
    BadLineCase("ip6trie", "2001:db8:0:1", false, probe: "2001:db8:0:1::5"),
    // rbldnsd lists the world and serves A 128.0.0.2; prefixbl skips both.
    BadLineCase("ip6trie", "::/0", false, true, probe: "2001:db8:eeee::1"),
    BadLineCase("ip6trie", "2001:db8::7 :128.0.0.2:out", false, true, probe: "2001:db8::7"),
    // prefixbl reads IPv6 with a dotted IPv4 tail; rbldnsd skips it ("invalid address").
    BadLineCase("ip6trie", "::ffff:192.0.2.1", true, false),
    // ip6tset
    BadLineCase("ip6tset", "2001:db8::g", true),
    BadLineCase("ip6tset", "192.0.2.1", true),
    BadLineCase("ip6tset", "2001:db8::/48", true, probe: "2001:db8::1"),
    BadLineCase("ip6tset", "2001:db8::1", true, probe: "2001:db8::1"),
    BadLineCase("ip6tset", "!2001:db8:0:3::/80", true),
    BadLineCase("ip6tset", "2001:db8:0:2", false, probe: "2001:db8:0:2::5"),
    BadLineCase("ip6tset", "!2001:db8:ffff:1::5", false, probe: "2001:db8:ffff:1::5"),
    BadLineCase("ip6tset", "2001:db8:0:4 :3:x", false, probe: "2001:db8:0:4::1"),
    // prefixbl reads CIDR notation in ip6tset; rbldnsd wants the four-group form.
    BadLineCase("ip6tset", "2001:db8:0:1::/64", true, false, probe: "2001:db8:0:1::1"),
    // generic
    BadLineCase("generic", "www A 300.1.1.1", true),
    BadLineCase("generic", "www FOO bar", true),
    BadLineCase("generic", "www", true),
    BadLineCase("generic", "www 10 A", true),
    BadLineCase("generic", "mail MX x y", true),
    BadLineCase("generic", "www -5 A 192.0.2.1", true),
    BadLineCase("generic", "txt TXT hello world", false),
    // rbldnsd ignores the trailing dot; prefixbl gives it its zone-file meaning and skips a
    // name outside the zone. rbldnsd 1.0 has no AAAA in generic data; prefixbl has.
    BadLineCase("generic", "www.outside.example. A 192.0.2.1", false, true),
    BadLineCase("generic", "www AAAA 2001:db8::1", true, false),
    // acl
    BadLineCase("acl", "192.0.2.300", true),
    BadLineCase("acl", "192.0.2.0/24 :bogus", true),
    BadLineCase("acl", "192.0.2.1/24", true),
    BadLineCase("acl", "2001:db8::1/32", true),
    BadLineCase("acl", "192.0.2.9-192.0.2.10", true),
    BadLineCase("acl", "$SOA 3600 a b 1 1 1 1 1", true),
    BadLineCase("acl", "2001:db8::/32 :refuse", false),
    // rbldnsd answers with the policy A 127.0.0.2; prefixbl skips policy answers outside
    // 127.255.255.0/24 (they would look like listings).
    BadLineCase("acl", "198.51.100.0/24 :2", false, true),
    // combined (inside an ip4set section)
    BadLineCase("combined", "192.0.2.300", true),
    BadLineCase("combined", "2001:db8::1", true),
    BadLineCase("combined", "192.0.2.1/24", true, probe: "192.0.2.1"),
]

/// RCODE, sorted A addresses and sorted TXT strings of an answer.
struct Answer: Equatable, CustomStringConvertible {
    var rcode: UInt8
    var a: [String]
    var txt: [String]
    var description: String { "rcode \(rcode) A \(a) TXT \(txt)" }
}

func answer(_ port: UInt16, _ name: String, _ type: UInt16) throws -> Answer? {
    let q = makeQuery(id: UInt16.random(in: 1...0xFFFE), name: name, type: type)
    guard let m = try udpQuery(try ListenAddress(host: "127.0.0.1", port: port), q, timeout: 2, retries: 2) else { return nil }
    guard m.count >= 12 else { return nil }
    var o = 12
    func skipName() {
        while o < m.count {
            let l = Int(m[o])
            if l == 0 { o += 1; return }
            if l & 0xC0 == 0xC0 { o += 2; return }
            o += 1 + l
        }
    }
    skipName(); o += 4
    var a: [String] = [], txt: [String] = []
    for _ in 0..<(Int(m[6]) << 8 | Int(m[7])) {
        skipName()
        guard o + 10 <= m.count else { break }
        let t = Int(m[o]) << 8 | Int(m[o + 1]), len = Int(m[o + 8]) << 8 | Int(m[o + 9])
        o += 10
        guard o + len <= m.count else { break }
        if t == 1 && len == 4 { a.append("\(m[o]).\(m[o + 1]).\(m[o + 2]).\(m[o + 3])") }
        if t == 16 {
            var s: [UInt8] = [], k = o
            while k < o + len { let l = Int(m[k]); s += m[(k + 1)..<min(k + 1 + l, o + len)]; k += 1 + l }
            txt.append(String(decoding: s, as: UTF8.self))
        }
        o += len
    }
    return Answer(rcode: m[3] & 0x0F, a: a.sorted(), txt: txt.sorted())
}

/// Kills a child this test started (SIGKILL: a child spawned by Foundation's Process may start
/// with SIGTERM blocked) and reaps it; nothing when it has exited already.
func stop(_ c: ChildProcess) {
    if c.process.isRunning { kill(c.process.processIdentifier, SIGKILL) }
    _ = c.waitExit(timeout: 10)
}

/// The query name of an IPv4 or IPv6 address under `zone`.
func dnsblName(_ address: String, _ zone: String) -> String {
    address.contains(":") ? nibbleName(address, zone: zone) : reversedName(address, zone: zone)
}

@Suite("Bad lines are skipped as rbldnsd skips them", .serialized)
struct ToleranceTests {
    static let rbldnsd = which("rbldnsd")

    /// Every case in one server per implementation, one zone per case; the bad line's
    /// warnings, the answers for the line after it and for the address the bad line names.
    @Test(.timeLimit(.minutes(3)))
    func everyKindOfBadLineAsRbldnsd() throws {
        let dir = TempDir()
        chmod(dir.path, 0o755)
        var specs: [String] = []
        var zones: [(BadLineCase, String, String)] = []
        for (i, c) in badLineCases.enumerated() {
            let zone = "z\(i).\(c.type).example"
            // Relative names: both servers run in `dir` (rbldnsd cuts long paths in its messages).
            let file = "c\(i)"
            chmod(dir.write(file, c.fileText), 0o644)
            specs.append("\(zone):\(c.type):\(file)")
            // An acl alone is no zone's data (rbldnsd: "missing data for zone").
            if c.type == "acl" { dir.write("g\(i)", "203.0.113.1\n"); specs.append("\(zone):ip4set:g\(i)") }
            zones.append((c, zone, file))
        }
        let plain = try ServeProcess(specs, directory: dir.path, ipv6: false)
        // The child's output reader keeps it referenced while it runs: stop it explicitly.
        defer { stop(plain.child) }
        let log = plain.child.text
        for (c, zone, file) in zones {
            let mark = " \(file):\(c.badLineNumber): warning: "
            let warned = log.contains(mark) && log.components(separatedBy: mark).dropFirst()
                .contains { $0.prefix { $0 != "\n" }.contains("; line skipped") }
            #expect(warned == c.prefixblSkips, "\(c): prefixbl \(warned ? "skipped" : "kept") the line\n\(log.split(separator: "\n").filter { $0.contains(" " + file + ":") }.joined(separator: "\n"))")
            if let good = c.goodAddress {
                let r = try #require(try answer(plain.v4.port, dnsblName(good, zone), 1))
                #expect(r.a == ["127.0.0.2"], "\(c): the line after the bad one is not served: \(r)")
            } else if c.type == "generic" {
                let r = try #require(try answer(plain.v4.port, "good." + zone, 1))
                #expect(r.a == ["192.0.2.99"], "\(c): \(r)")
            }
        }
        // Skipped lines counted in the load log line.
        let skipped = badLineCases.filter { $0.prefixblSkips && $0.type != "generic" }.count
        #expect(log.contains("skipped-lines=\(skipped)") || log.contains("skipped-lines: \(skipped)")
                || log.contains("\"skipped-lines\": \(skipped)") || log.contains("skipped-lines=\"\(skipped)\""),
                "load log line without skipped-lines=\(skipped):\n\(log.split(separator: "\n").filter { $0.contains("data loaded") }.joined())")

        guard let rbldnsd = Self.rbldnsd else { return }
        let port = try freePort()
        let rb = try ChildProcess(rbldnsd, ["-n", "-c", "0", "-b", "127.0.0.1/\(port)"] + (geteuid() == 0 ? ["-u", "nobody"] : []) + specs,
                                  directory: dir.path)
        defer { stop(rb) }
        try #require(rb.waitFor("started", timeout: 30), "rbldnsd did not start:\n\(rb.text)")
        for (c, zone, file) in zones {
            // rbldnsd names the file as given on the command line: "file NAME(LINE): …".
            let warned = rb.text.contains("file \(file)(\(c.badLineNumber)):")
            #expect(warned == c.rbldnsdSkips, "\(c): rbldnsd \(warned ? "skipped" : "kept") the line (table says otherwise)")
            var names: [String] = []
            if let good = c.goodAddress { names.append(dnsblName(good, zone)) }
            if c.type == "generic" { names.append("good." + zone) }
            if c.agrees, let p = c.probe { names.append(dnsblName(p, zone)) }
            for n in names {
                for t: UInt16 in [1, 16] {
                    let ours = try answer(plain.v4.port, n, t), theirs = try answer(port, n, t)
                    #expect(ours == theirs, "\(c): \(n) type \(t): prefixbl \(String(describing: ours)) rbldnsd \(String(describing: theirs))")
                }
            }
            if !c.agrees, let p = c.probe {
                // The documented difference is exactly the skip: prefixbl answers as if the line
                // were absent.
                let ours = try #require(try answer(plain.v4.port, dnsblName(p, zone), 1))
                if c.prefixblSkips { #expect(ours.a.isEmpty, "\(c): \(ours)") } else { #expect(!ours.a.isEmpty, "\(c): \(ours)") }
            }
        }
    }
}

/// Case C24: one list with IPv4 and IPv6 lines loaded as both ip6trie and ip4set. rbldnsd logs
/// `invalid address` for each wrong-family line and serves the rest; so does prefixbl, at start
/// and at a reload, and counts the skipped lines in the load log line and in /metrics.
@Suite("C24: a list of both families as ip4set and ip6trie", .serialized)
struct MixedFamilyListTests {
    static let c24 = """
        $SOA 3600 ns1.bl.example hostmaster.bl.example 1 3600 900 604800 60
        :127.0.0.2:Listed $
        2001:db8:abcc::/47
        192.0.2.0/24
        !192.0.2.77

        """

    @Test(.timeLimit(.minutes(2)))
    func servedAtStartAndAtReload() throws {
        let dir = TempDir()
        let file = dir.write("list", Self.c24)
        let server = try ServeProcess(["--metrics", "127.0.0.1:0", "--check-interval", "0.2", "--settle-delay", "0.1",
                                       "--", "bl.example:ip6trie:\(file)", "bl.example:ip4set:\(file)"],
                                      directory: dir.path, ipv6: false)
        defer { stop(server.child) }
        let port = server.v4.port
        #expect(try answer(port, reversedName("192.0.2.7"), 1)?.a == ["127.0.0.2"])
        #expect(try answer(port, reversedName("192.0.2.7"), 16)?.txt == ["Listed 192.0.2.7"])
        #expect(try answer(port, reversedName("192.0.2.77"), 1)?.rcode == 3)
        #expect(try answer(port, nibbleName("2001:db8:abcd::5"), 1)?.a == ["127.0.0.2"])
        // Each dataset skipped the other family's lines, with file:line.
        let log = server.child.text
        #expect(log.contains("\(file):3: warning: IPv6 entry '2001:db8:abcc::/47' in an IPv4 dataset (ip4set); line skipped"), "\(log)")
        #expect(log.contains("\(file):4: warning: IPv4 entry '192.0.2.0/24' in an IPv6 dataset (ip6trie); line skipped"), "\(log)")
        #expect(log.contains("\(file):5: warning: IPv4 entry '192.0.2.77' in an IPv6 dataset (ip6trie); line skipped"), "\(log)")
        #expect(log.contains("skipped-lines=3"), "\(log)")
        // The metrics listener starts (and logs its address) after the DNS sockets answer.
        #expect(server.child.waitFor("/metrics"), "\(server.child.text)")
        let metricsLine = try #require(server.child.text.split(separator: "\n").first { $0.contains("/metrics") })
        let url = try #require(metricsLine.range(of: "http://").map { metricsLine[$0.upperBound...] })
        let address = try ListenAddress(parsing: String(url.prefix { $0 != "/" }))
        let page = try #require(try httpGet(address, "/metrics")).body
        #expect(sample(page, #"prefixbl_dataset_skipped_lines{zone="bl.example",dataset="ip4set:\#(file)",type="ip4set"}"#) == 1, "\(page)")
        #expect(sample(page, #"prefixbl_dataset_skipped_lines{zone="bl.example",dataset="ip6trie:\#(file)",type="ip6trie"}"#) == 2)

        // A reload with more lines of the other family, and a new listing of each: served.
        let next = Self.c24 + "198.51.100.0/24\n2001:db8:1::/48\nnot an address\n"
        try next.write(toFile: file + ".new", atomically: false, encoding: .utf8)
        rename(file + ".new", file)
        #expect(server.child.waitFor("reloaded", timeout: 20), "\(server.child.text)")
        #expect(try answer(port, reversedName("198.51.100.9"), 1)?.a == ["127.0.0.2"])
        #expect(try answer(port, nibbleName("2001:db8:1::9"), 1)?.a == ["127.0.0.2"])
        #expect(try answer(port, reversedName("192.0.2.7"), 1)?.a == ["127.0.0.2"])
        let reloaded = server.child.text.split(separator: "\n").first { $0.contains("reloaded") }.map(String.init) ?? ""
        #expect(reloaded.contains("skipped-lines=7"), "\(reloaded)")
        let page2 = try #require(try httpGet(address, "/metrics")).body
        #expect(sample(page2, #"prefixbl_dataset_skipped_lines{zone="bl.example",dataset="ip4set:\#(file)",type="ip4set"}"#) == 3)
        #expect(sample(page2, #"prefixbl_dataset_skipped_lines{zone="bl.example",dataset="ip6trie:\#(file)",type="ip6trie"}"#) == 4)
        server.child.signal(SIGTERM)
        #expect(server.child.waitExit() == 0)
    }

    /// `--strict`: the same data refuses to start (serve and rbldnsd mode), and `check` fails.
    @Test(.timeLimit(.minutes(2)))
    func strictRefuses() throws {
        let dir = TempDir()
        let file = dir.write("list", Self.c24)
        let bin = try #require(prefixblBinary())
        let serve = try ChildProcess(bin, ["serve", "--strict", "--listen", "127.0.0.1:0", "--",
                                           "bl.example:ip6trie:\(file)", "bl.example:ip4set:\(file)"], directory: dir.path)
        defer { stop(serve) }
        #expect(serve.waitExit(timeout: 30) == 2, "\(serve.text)")
        #expect(serve.text.contains("cannot load the data to serve"))
        #expect(serve.text.contains("\(file):3: error: IPv6 entry"))
        let port = try freePort()
        let rb = try ChildProcess(bin, ["rbldnsd", "--strict", "-n", "-b", "127.0.0.1/\(port)",
                                        "bl.example:ip6trie:\(file)", "bl.example:ip4set:\(file)"], directory: dir.path)
        defer { stop(rb) }
        #expect(rb.waitExit(timeout: 30) == 2, "\(rb.text)")
        let print = try ChildProcess(bin, ["rbldnsd", "--strict", "--print-serve", "-n", "-b", "127.0.0.1/\(port)",
                                           "bl.example:ip4set:\(file)"], directory: dir.path)
        #expect(print.waitExit(timeout: 30) == 0)
        #expect(print.text.contains("--strict"), "\(print.text)")
        // check: exit 1 whenever a line was skipped; compile writes the store (exit 0) unless --strict.
        let check = try ChildProcess(bin, ["check", "bl.example:ip4set:\(file)"], directory: dir.path)
        #expect(check.waitExit(timeout: 30) == 1)
        #expect(check.text.contains("1 line skipped"), "\(check.text)")
        let compile = try ChildProcess(bin, ["compile", "-o", dir.path + "/s.pfxbl", "bl.example:ip4set:\(file)"], directory: dir.path)
        #expect(compile.waitExit(timeout: 30) == 0, "\(compile.text)")
        let strictCompile = try ChildProcess(bin, ["compile", "--strict", "-o", dir.path + "/t.pfxbl", "bl.example:ip4set:\(file)"], directory: dir.path)
        #expect(strictCompile.waitExit(timeout: 30) == 1)
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/t.pfxbl"))
    }

    /// A reload whose data has errors (here: `--strict` and a new bad line) keeps the old data.
    @Test(.timeLimit(.minutes(2)))
    func strictReloadKeepsOldData() throws {
        let dir = TempDir()
        let soa = "$SOA 3600 ns1.bl.example hostmaster.bl.example 1 3600 900 604800 60\n"
        let file = dir.write("list", soa + ":127.0.0.2:Listed\n192.0.2.0/24\n")
        let server = try ServeProcess(["--strict", "--check-interval", "0.2", "--settle-delay", "0.1", "--", "bl.example:ip4set:\(file)"],
                                      directory: dir.path, ipv6: false)
        defer { stop(server.child) }
        try (soa + ":127.0.0.2:Listed\n192.0.2.0/24\n198.51.100.0/24\n2001:db8::/32\n").write(toFile: file, atomically: true, encoding: .utf8)
        #expect(server.child.waitFor("reload refused", timeout: 20), "\(server.child.text)")
        #expect(try answer(server.v4.port, reversedName("192.0.2.1"), 1)?.a == ["127.0.0.2"])
        #expect(try answer(server.v4.port, reversedName("198.51.100.1"), 1)?.rcode == 3)
    }
}

@Suite("Query log controls", .serialized)
struct QueryLogControlTests {
    /// `--query-log-skip-nxdomain` (spamhaus/rbldnsd#32): NXDOMAIN answers are not logged,
    /// everything else is.
    @Test(.timeLimit(.minutes(5)))
    func skipNXDOMAIN() throws {
        let dir = TempDir()
        let file = dir.write("list", ":127.0.0.2:Listed\n192.0.2.0/24\n")
        let server = try ServeProcess(["--query-log", dir.path + "/q.log", "--query-log-skip-nxdomain", "--",
                                       "bl.example:ip4set:\(file)"], directory: dir.path, ipv6: false)
        defer { stop(server.child) }
        let port = server.v4.port
        #expect(try answer(port, reversedName("192.0.2.10"), 1)?.rcode == 0)
        #expect(try answer(port, reversedName("198.51.100.10"), 1)?.rcode == 3)
        #expect(try answer(port, "2.0.192.bl.example", 1)?.rcode == 0)
        #expect(try answer(port, "outside.example", 1)?.rcode == 5)
        server.child.signal(SIGTERM)
        #expect(server.child.waitExit() == 0)
        let lines = try String(contentsOfFile: dir.path + "/q.log", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 3, "\(lines)")
        #expect(lines.contains { $0.hasSuffix("10.2.0.192.bl.example A NOERROR 1") })
        #expect(lines.contains { $0.hasSuffix("2.0.192.bl.example A NOERROR 0") })
        #expect(lines.contains { $0.hasSuffix("outside.example A REFUSED 0") })
        #expect(!lines.contains { $0.contains("NXDOMAIN") })
    }
}
