#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TestSupport
import ServerTestSupport
import DNSBLServer

/// What dig reports for one query: the RCODE mnemonic (nil when no reply came) and the RDATA
/// of each answer record as dig prints it.
struct DigReply {
    var status: String?
    var answers: [String]
}

/// `dig @127.0.0.1 -p port name type` (one try, one second).
func digQuery(_ port: UInt16, _ name: String, _ type: String) throws -> DigReply {
    let dig = try #require(which("dig"), "dig (bind9-dnsutils) is needed")
    let r = try run(dig, ["@127.0.0.1", "-p", "\(port)", "+tries=1", "+time=1", "+noall", "+comments", "+answer", name, type])
    var reply = DigReply(status: nil, answers: [])
    for line in r.output.split(separator: "\n") {
        if let s = line.range(of: "status: ") {
            reply.status = String(line[s.upperBound...].prefix { $0 != "," })
        } else if !line.hasPrefix(";"), !line.trimmingCharacters(in: .whitespaces).isEmpty {
            let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if f.count >= 5 { reply.answers.append(f[4...].joined(separator: " ")) }
        }
    }
    return reply
}

/// The metrics listener's address from the server's log.
func metricsAddress(_ server: ServeProcess) throws -> ListenAddress {
    #expect(server.child.waitFor("/metrics"), "\(server.child.text)")
    let line = try #require(server.child.text.split(separator: "\n").first { $0.contains("/metrics") })
    let url = try #require(line.range(of: "http://").map { line[$0.upperBound...] })
    return try ListenAddress(parsing: String(url.prefix { $0 != "/" }))
}

/// aclkey end to end (issue 13 point 4): `prefixbl serve` on loopback, queried with dig.
@Suite("aclkey: keys in the query name, served", .serialized)
struct AclKeyServeTests {
    static let list = ":127.0.0.2:Listed $\n192.0.2.0/24\n"
    static let keys = """
        :ignore
        goodkey :pass
        quietkey :ignore
        nokey :refuse
        emptykey :empty
        forcedkey :127.0.0.9:Forced for $
        spare1 :pass
        spare2 :pass

        """
    static let reloadedKeys = """
        :127.255.255.254:Unknown key, see https://www.example/dqs
        goodkey :refuse
        newkey :pass
        quietkey :pass
        nokey :pass
        emptykey :pass
        forcedkey :pass
        spare1 :pass

        """

    @Test(.timeLimit(.minutes(3)))
    func actionsLogMetricsAndReload() throws {
        let dir = TempDir()
        let list = dir.write("list", Self.list)
        let keys = dir.write("keys", Self.keys)
        let log = dir.path + "/q.log"
        let server = try ServeProcess(["--query-log", log, "--metrics", "127.0.0.1:0", "--aclkey-metrics-keys", "2",
                                       "--check-interval", "0.2", "--settle-delay", "0.1", "--",
                                       "bl.example:ip4set:\(list)", "bl.example:aclkey:\(keys)",
                                       "plain.example:ip4set:\(list)"],
                                      directory: dir.path, ipv6: false)
        defer { stop(server.child) }
        let port = server.v4.port
        let zone = "bl.example"

        // :pass — answered as the name without the key; keys are case-insensitive.
        var r = try digQuery(port, "1.2.0.192.goodkey.\(zone)", "A")
        #expect(r.status == "NOERROR" && r.answers == ["127.0.0.2"], "\(r)")
        r = try digQuery(port, "1.2.0.192.goodkey.\(zone)", "TXT")
        #expect(r.answers == ["\"Listed 192.0.2.1\""], "\(r)")
        r = try digQuery(port, "1.2.0.192.GOODKEY.\(zone)", "A")
        #expect(r.answers == ["127.0.0.2"], "\(r)")
        // :ignore — no reply at all.
        #expect(try digQuery(port, "1.2.0.192.quietkey.\(zone)", "A").status == nil)
        // :refuse, :empty.
        #expect(try digQuery(port, "1.2.0.192.nokey.\(zone)", "A").status == "REFUSED")
        r = try digQuery(port, "1.2.0.192.emptykey.\(zone)", "A")
        #expect(r.status == "NXDOMAIN" && r.answers.isEmpty, "\(r)")
        // The forced answer: every address name listed, `$` = the client's address.
        r = try digQuery(port, "10.10.10.10.forcedkey.\(zone)", "A")
        #expect(r.answers == ["127.0.0.9"], "\(r)")
        r = try digQuery(port, "10.10.10.10.forcedkey.\(zone)", "TXT")
        #expect(r.answers == ["\"Forced for 127.0.0.1\""], "\(r)")
        // An unknown key and a name without a key: the default (:ignore).
        #expect(try digQuery(port, "1.2.0.192.wrongkey.\(zone)", "A").status == nil)
        #expect(try digQuery(port, "1.2.0.192.\(zone)", "A").status == nil)
        // NS and SOA at the apex are exempt.
        r = try digQuery(port, zone, "SOA")
        #expect(r.status == "NOERROR" && r.answers.count == 1, "\(r)")
        #expect(try digQuery(port, zone, "NS").status == "NOERROR")
        // A zone without aclkey: the label is an ordinary one.
        #expect(try digQuery(port, "1.2.0.192.goodkey.plain.example", "A").status == "NXDOMAIN")
        #expect(try digQuery(port, "1.2.0.192.plain.example", "A").answers == ["127.0.0.2"])

        // Per-key counters, bounded: two keys by name (--aclkey-metrics-keys 2), the rest other_key.
        let page = try #require(try httpGet(try metricsAddress(server), "/metrics")).body
        #expect(sample(page, #"prefixbl_aclkey_queries_total{result="key",key="goodkey"}"#) == 3, "\(page)")
        #expect(sample(page, #"prefixbl_aclkey_queries_total{result="key",key="quietkey"}"#) == 1)
        #expect(sample(page, #"prefixbl_aclkey_queries_total{result="other_key",key=""}"#) == 4)
        #expect(sample(page, #"prefixbl_aclkey_queries_total{result="unknown_key",key=""}"#) == 2)
        #expect(!page.contains(#"key="nokey""#))

        // The key ends the query-log line of a keyed query (as the rspamd fork logs it).
        usleep(1_200_000)
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        #expect(lines.contains { $0.hasSuffix("1.2.0.192.goodkey.bl.example A NOERROR 1 goodkey") }, "\(lines)")
        #expect(lines.contains { $0.hasSuffix("1.2.0.192.GOODKEY.bl.example A NOERROR 1 GOODKEY") }, "\(lines)")
        #expect(lines.contains { $0.hasSuffix("1.2.0.192.quietkey.bl.example A - 0 quietkey") }, "\(lines)")
        #expect(lines.contains { $0.hasSuffix("1.2.0.192.wrongkey.bl.example A - 0") }, "\(lines)")

        // Keys reload like data: a changed value, a new key, and a policy answer for unknown keys.
        try Self.reloadedKeys.write(toFile: keys + ".new", atomically: false, encoding: .utf8)
        rename(keys + ".new", keys)
        #expect(server.child.waitFor("reloaded", timeout: 20), "\(server.child.text)")
        #expect(try digQuery(port, "1.2.0.192.goodkey.\(zone)", "A").status == "REFUSED")
        #expect(try digQuery(port, "1.2.0.192.newkey.\(zone)", "A").answers == ["127.0.0.2"])
        #expect(try digQuery(port, "1.2.0.192.quietkey.\(zone)", "A").answers == ["127.0.0.2"])
        r = try digQuery(port, "1.2.0.192.wrongkey.\(zone)", "A")
        #expect(r.answers == ["127.255.255.254"], "\(r)")
        r = try digQuery(port, "1.2.0.192.wrongkey.\(zone)", "TXT")
        #expect(r.answers == ["\"Unknown key, see https://www.example/dqs\""], "\(r)")
        #expect(try digQuery(port, "1.2.0.192.\(zone)", "A").answers == ["127.255.255.254"])
    }

    /// The malloc gate with an aclkey zone and the per-key counters on: keyed, unknown-key
    /// and forced answers allocate nothing per query (the first answer of a key after a
    /// reload names its counter, once).
    @Test(.timeLimit(.minutes(3)))
    func keyedQueriesAllocateNothing() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try mallocCounterSource.write(toFile: dir + "/mc.c", atomically: true, encoding: .utf8)
        let compiler = try #require(which("cc"), "no C compiler (cc) to build the malloc counter")
        let cc = try run(compiler, ["-O2", "-shared", "-fPIC", "-o", dir + "/mc.so", dir + "/mc.c", "-ldl"])
        try #require(cc.status == 0, "cc: \(cc.output)")
        try Self.list.write(toFile: dir + "/list", atomically: true, encoding: .utf8)
        try (":127.255.255.254:Unknown key\n" + Self.keys.split(separator: "\n").dropFirst().joined(separator: "\n") + "\n")
            .write(toFile: dir + "/keys", atomically: true, encoding: .utf8)
        let server = try ServeProcess(["--threads", "1", "--metrics", "127.0.0.1:0", "--",
                                       "bl.example:ip4set:list", "bl.example:aclkey:keys"],
                                      directory: dir, ipv6: false, environment: ["LD_PRELOAD": dir + "/mc.so"])
        defer { server.child.signal(SIGTERM); _ = server.child.waitExit() }
        func count(_ n: Int) throws -> Int {
            server.child.signal(SIGUSR2)
            try #require(server.child.waitFor("MALLOCS", count: n, timeout: 5))
            let lines = server.child.text.split(separator: "\n").filter { $0.hasPrefix("MALLOCS ") }
            return Int(lines[n - 1].dropFirst(8))!
        }
        let queries = [makeQuery(id: 1, name: "1.2.0.192.goodkey.bl.example"),
                       makeQuery(id: 2, name: "1.2.0.192.goodkey.bl.example", type: 16),
                       makeQuery(id: 3, name: "1.2.0.192.forcedkey.bl.example", type: 16),
                       makeQuery(id: 4, name: "1.2.0.192.nokey.bl.example"),
                       makeQuery(id: 5, name: "1.2.0.192.emptykey.bl.example"),
                       makeQuery(id: 6, name: "1.2.0.192.wrongkey.bl.example", type: 16),
                       makeQuery(id: 7, name: "1.2.0.192.bl.example")]
        let s = try TestSocket(udp: server.v4, timeout: 1)
        for q in queries { try s.send(q); #expect(s.receiveDatagram() != nil) }
        usleep(300_000)
        let c1 = try count(1)
        let idleStart = Date()
        usleep(1_000_000)
        let c2 = try count(2)
        let idleRate = Double(c2 - c1) / Date().timeIntervalSince(idleStart)
        let busyStart = Date()
        var answered = 0
        for round in 0..<300 {
            for (i, q) in queries.enumerated() {
                var m = q
                m[0] = UInt8(round & 0xFF); m[1] = UInt8(i)
                for _ in 0..<10 { try s.send(m) }
            }
            for _ in 0..<(10 * queries.count) { if s.receiveDatagram() != nil { answered += 1 } }
        }
        let c3 = try count(3)
        let busy = Date().timeIntervalSince(busyStart)
        let perQuery = (Double(c3 - c2) - idleRate * busy) / Double(max(answered, 1))
        #expect(answered > 15_000, "answered \(answered) of 21000")
        #expect(perQuery < 0.02, "allocations per query: \(perQuery) (idle \(idleRate)/s, busy \(c3 - c2) in \(busy) s)")
    }
}
