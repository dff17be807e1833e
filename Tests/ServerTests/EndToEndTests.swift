#if canImport(Glibc)
import Glibc
#endif
import DNSBL
@testable import DNSBLServer
import Foundation
import PrefixStore
import Synchronization
import Testing
import TestSupport
import ServerTestSupport

/// Source data shared by the end-to-end tests (cases C1, C2, C7 of ../shared/cases).
enum E2EData {
    static let soa = "$SOA 3600 ns1.bl.example hostmaster.bl.example 1 600 300 86400 300\n$NS 3600 ns1.bl.example\n"
    static let c1 = soa + ":127.0.0.2:Listed, see https://bl.example/q?$\n192.0.2.10\n"
    static let c2 = ":127.0.0.2:Listed\n2001:db8:abcc::/47\n"
    static let c7a = "2001:db8::/32 :127.0.0.2:" + String(repeating: "a", count: 400) + " $\n"
    static let c7b = "2001:db8:5::/48 :127.0.0.3:" + String(repeating: "b", count: 200) + " $\n"

    static func write(in dir: String) throws -> [String] {
        try c1.write(toFile: dir + "/c1.txt", atomically: true, encoding: .utf8)
        try c2.write(toFile: dir + "/c2.txt", atomically: true, encoding: .utf8)
        try c7a.write(toFile: dir + "/c7a.txt", atomically: true, encoding: .utf8)
        try c7b.write(toFile: dir + "/c7b.txt", atomically: true, encoding: .utf8)
        return ["bl.example:ip4set:c1.txt", "bl.example:ip6trie:c2.txt",
                "c7.bl.example:ip6trie:c7a.txt", "c7.bl.example:ip6trie:c7b.txt"]
    }
}

@Suite("prefixbl serve end to end (built binary)", .serialized)
struct ServeProcessTests {
    @Test("SIGTERM: stops serving, exits 0")
    func sigtermExitsZero() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let specs = try E2EData.write(in: dir)
        let server = try ServeProcess(specs, directory: dir)
        // An open TCP connection must not hold up the exit.
        let tcp = try TestSocket(tcp: server.v4, timeout: 5)
        server.child.signal(SIGTERM)
        let status = server.child.waitExit(timeout: 10)
        #expect(status == 0, "exit status \(String(describing: status)); output:\n\(server.child.text)")
        #expect(tcp.waitForClose())
        #expect(server.child.text.contains("exiting"))
    }

    @Test("SIGINT exits 0 too; SIGHUP reloads without exiting")
    func sighupThenSigint() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let specs = try E2EData.write(in: dir)
        let server = try ServeProcess(specs, directory: dir)
        server.child.signal(SIGHUP)
        #expect(server.child.waitFor("reloaded", timeout: 10), "\(server.child.text)")
        #expect(server.child.process.isRunning)
        server.child.signal(SIGINT)
        #expect(server.child.waitExit(timeout: 10) == 0)
    }

    @Test("--user drops root after binding; --pid-file written before; reload still reads the files")
    func dropPrivileges() throws {
        try #require(getuid() == 0, "switching users needs root: run the suite as root, as CI does")
        try #require(getpwnam("nobody") != nil, "no user 'nobody' on this system")
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        chmod(dir, 0o755)
        let specs = try E2EData.write(in: dir)
        let pidFile = dir + "/prefixbl.pid"
        let nobody = getpwnam("nobody")!.pointee
        let server = try ServeProcess(specs + ["--user", "nobody", "--pid-file", pidFile], directory: dir, ipv6: false)
        let pid = server.child.process.processIdentifier
        #expect(server.child.waitFor("privileges dropped"), "\(server.child.text)")
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let uids = status.split(separator: "\n").first { $0.hasPrefix("Uid:") }?.split(whereSeparator: { $0 == "\t" || $0 == " " }).dropFirst()
        #expect(uids.map(Array.init) == Array(repeating: "\(nobody.pw_uid)", count: 4).map { Substring($0) }, "\(status)")
        #expect(try String(contentsOfFile: pidFile, encoding: .utf8) == "\(pid)\n")
        server.child.signal(SIGHUP)
        #expect(server.child.waitFor("reloaded", timeout: 10), "\(server.child.text)")
        server.child.signal(SIGTERM)
        #expect(server.child.waitExit() == 0)
        // The pid file sits in a root-owned directory: nobody may not remove it; that is logged, not fatal.
        _ = unlink(pidFile)
    }

    @Test("start fails with exit 2 and a reason when a source has errors or the port is taken")
    func startFailures() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // A line rbldnsd skips is skipped (ToleranceTests); with --strict it is an error, and so
        // is a source that cannot be read.
        try "not-an-address\n".write(toFile: dir + "/bad.txt", atomically: true, encoding: .utf8)
        let bad = try ChildProcess(try #require(prefixblBinary()), ["serve", "--strict", "--listen", "127.0.0.1:0", "bl.example:ip4set:bad.txt"], directory: dir)
        defer { stop(bad) }
        #expect(bad.waitExit(timeout: 10) == 2)
        #expect(bad.text.contains("bad.txt:1"), "\(bad.text)")
        let missing = try ChildProcess(prefixblBinary()!, ["serve", "--listen", "127.0.0.1:0", "bl.example:ip4set:missing.txt"], directory: dir)
        defer { stop(missing) }
        #expect(missing.waitExit(timeout: 10) == 2)
        #expect(missing.text.contains("missing.txt"), "\(missing.text)")
        let specs = try E2EData.write(in: dir)
        let first = try ServeProcess(specs, directory: dir, ipv6: false)
        let clash = try ChildProcess(try #require(prefixblBinary()), ["serve", "--listen", "127.0.0.1:\(first.v4.port)"] + specs, directory: dir)
        #expect(clash.waitExit(timeout: 10) == 2)
        #expect(clash.text.contains("cannot bind"), "\(clash.text)")
        first.child.signal(SIGTERM)
        #expect(first.child.waitExit() == 0)
    }

    @Test("dig and kdig: listed, TXT, empty non-terminal, NXDOMAIN, TC then TCP, over IPv4 and IPv6",
          .enabled(if: which("dig") != nil, "dig (dnsutils) is not installed"))
    func digAnswers() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try ServeProcess(try E2EData.write(in: dir), directory: dir)
        defer { server.child.signal(SIGTERM); _ = server.child.waitExit() }
        let dig = which("dig")!
        for address in [server.v4, server.v6!] {
            for transport in ["+notcp", "+tcp"] {
                func ask(_ name: String, _ type: String, _ extra: [String] = []) throws -> String {
                    let r = try run(dig, ["@\(address.host)", "-p", "\(address.port)", transport, "+tries=2", "+time=2",
                                          name, type] + extra)
                    #expect(r.status == 0, "dig \(name) \(type): \(r.output)")
                    return r.output
                }
                var out = try ask(reversedName("192.0.2.10"), "A", ["+short"])
                #expect(out.trimmingCharacters(in: .whitespacesAndNewlines) == "127.0.0.2")
                out = try ask(reversedName("192.0.2.10"), "TXT", ["+short"])
                #expect(out.contains("Listed, see https://bl.example/q?192.0.2.10"))
                out = try ask("2.0.192.bl.example", "A")
                #expect(out.contains("status: NOERROR") && out.contains("ANSWER: 0"), "empty non-terminal: \(out)")
                out = try ask(reversedName("192.0.2.11"), "A")
                #expect(out.contains("status: NXDOMAIN"))
                out = try ask(nibbleName("2001:db8:abcd::5"), "A", ["+short"])
                #expect(out.trimmingCharacters(in: .whitespacesAndNewlines) == "127.0.0.2")
                // C7: ~750 bytes of TXT; without EDNS UDP says TC=1, dig retries over TCP.
                out = try ask(nibbleName("2001:db8:5::1", zone: "c7.bl.example"), "TXT", ["+noedns"])
                #expect(out.contains("ANSWER: 2"), "C7 complete answer: \(out)")
                if transport == "+notcp" { #expect(out.contains("Truncated, retrying in TCP mode"), "\(out)") }
            }
        }
        if let kdig = which("kdig") {
            for tcp in [false, true] {
                let r = try run(kdig, ["@\(server.v4.host)", "-p", "\(server.v4.port)", "+short", "+retry=1", "+time=2",
                                       reversedName("192.0.2.10"), "A"] + (tcp ? ["+tcp"] : []))
                #expect(r.output.trimmingCharacters(in: .whitespacesAndNewlines) == "127.0.0.2", "kdig: \(r.output)")
            }
        }
    }

    @Test("prefixbl query against the real server: verdicts, reasons, exit codes, REFUSED")
    func queryClient() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try ServeProcess(try E2EData.write(in: dir), directory: dir)
        defer { server.child.signal(SIGTERM); _ = server.child.waitExit() }
        let bin = try #require(prefixblBinary())
        let v4 = "\(server.v4.host):\(server.v4.port)", v6 = "[::1]:\(server.v6!.port)"
        var r = try run(bin, ["query", "192.0.2.10", "--zone", "bl.example", "--server", v4])
        #expect(r.status == 0)
        #expect(r.output.contains("10.2.0.192.bl.example."), "dig-like output: \(r.output)")
        #expect(r.output.hasSuffix("listed: 127.0.0.2 \"Listed, see https://bl.example/q?192.0.2.10\"\n"), "\(r.output)")
        r = try run(bin, ["query", "192.0.2.11", "--zone", "bl.example", "--server", v6, "--short"])
        #expect(r.status == 1)
        #expect(r.output == "not listed (NXDOMAIN)\n")
        r = try run(bin, ["query", "2001:db8:abcd::5", "--zone", "bl.example", "--server", v6, "--tcp", "--short"])
        #expect(r.status == 0)
        #expect(r.output == "listed: 127.0.0.2 \"Listed\"\n", "\(r.output)")
        r = try run(bin, ["query", "2.0.192.bl.example", "--server", v4, "--short"])
        #expect(r.status == 1)
        #expect(r.output == "not listed (NODATA)\n")
        // C7: two TXT RRs of ~750 bytes in all; fits 1232-byte EDNS, so no TC with our client's
        // EDNS; the TCP path is exercised by the truncation test against the stub server.
        r = try run(bin, ["query", "2001:db8:5::1", "--zone", "c7.bl.example", "--server", v4, "--type", "TXT", "--short"])
        #expect(r.status == 0)
        #expect(r.output.hasPrefix("listed: \"" + String(repeating: "a", count: 400) + " 2001:db8:5::1\""), "\(r.output)")
        r = try run(bin, ["query", "192.0.2.10", "--zone", "example.org", "--server", v4, "--short"])
        #expect(r.status == 2)
        #expect(r.output == "error: REFUSED\n", "outside our zones: \(r.output)")
    }

    @Test("query log: one line per query with client, QNAME, QTYPE, RCODE and answer count")
    func queryLog() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try ServeProcess(try E2EData.write(in: dir) + ["--query-log", dir + "/q.log"], directory: dir)
        _ = try udpQuery(server.v4, makeQuery(id: 1, name: reversedName("192.0.2.10")))
        _ = try udpQuery(server.v4, makeQuery(id: 2, name: reversedName("192.0.2.11"), type: 16))
        let tcp = try TestSocket(tcp: server.v4)
        try tcp.send(framed(makeQuery(id: 3, name: "2.0.192.BL.example")))
        _ = tcp.receiveFramed()
        server.child.signal(SIGTERM)
        #expect(server.child.waitExit() == 0)
        let log = try String(contentsOfFile: dir + "/q.log", encoding: .utf8)
        let lines = log.split(separator: "\n")
        #expect(lines.count == 3, "\(log)")
        #expect(lines.contains { $0.contains(" udp 127.0.0.1#") && $0.hasSuffix("10.2.0.192.bl.example A NOERROR 1") })
        #expect(lines.contains { $0.hasSuffix("11.2.0.192.bl.example TXT NXDOMAIN 0") })
        #expect(lines.contains { $0.contains(" tcp ") && $0.hasSuffix("2.0.192.BL.example A NOERROR 0") })
    }

    /// `--query-log -` wrote a file named "-" into the working directory instead of standard
    /// output (only `prefixbl rbldnsd -l -` mapped it).
    @Test("query log '-' is standard output")
    func queryLogDashIsStandardOutput() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try ServeProcess(try E2EData.write(in: dir) + ["--query-log", "-"], directory: dir, ipv6: false)
        _ = try udpQuery(server.v4, makeQuery(id: 1, name: reversedName("192.0.2.10")))
        #expect(server.child.waitFor("10.2.0.192.bl.example A NOERROR 1", timeout: 10), "\(server.child.text)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/-"))
        server.child.signal(SIGTERM)
        #expect(server.child.waitExit() == 0)
    }
}

@Suite("Resolver end to end: Unbound with strict QNAME minimisation", .serialized)
struct UnboundTests {
    static let unbound = which("unbound")

    @Test("C2 through Unbound (qname-minimisation-strict) returns 127.0.0.2 for N(2001:db8:abcd::5)",
          .enabled(if: unbound != nil, "unbound is not installed"),
          .enabled(if: which("dig") != nil, "dig (dnsutils) is not installed"))
    func c2ThroughUnbound() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try (E2EData.soa + E2EData.c2).write(toFile: dir + "/c2.txt", atomically: true, encoding: .utf8)
        let server = try ServeProcess(["bl.example:ip6trie:c2.txt", "--query-log", dir + "/q.log"], directory: dir, ipv6: false)
        defer { server.child.signal(SIGTERM); _ = server.child.waitExit() }
        let port = try freeUDPAndTCPPort()
        let resolver = try StubResolver(unbound: UnboundTests.unbound!, directory: dir, port: port, zone: "bl.example",
                                        stubPort: server.v4.port, server: [#"module-config: "iterator""#, "qname-minimisation: yes", "qname-minimisation-strict: yes", "cache-min-ttl: 0"])
        defer { resolver.stop() }
        #expect(try resolver.waitUp(zone: "bl.example"), "unbound did not start: \(resolver.child.text)")
        let name = nibbleName("2001:db8:abcd::5")
        let r = try run(which("dig")!, ["@127.0.0.1", "-p", "\(port)", "+tries=2", "+time=3", name, "A"])
        #expect(r.output.contains("status: NOERROR"), "\(r.output)\nunbound:\n\(resolver.child.text)")
        #expect(r.output.contains("127.0.0.2"), "\(r.output)")
        // The resolver really minimised: our query log shows shorter names under the zone first.
        server.child.signal(SIGTERM)
        #expect(server.child.waitExit() == 0)
        let log = (try? String(contentsOfFile: dir + "/q.log", encoding: .utf8)) ?? ""
        let lines = log.split(separator: "\n")
        let minimised = lines.filter { $0.contains(" A NOERROR 0") && !$0.contains(" \(name) ") }
        #expect(lines.contains { $0.hasSuffix(" 2.bl.example A NOERROR 0") }, "the 1-nibble probe is NODATA:\n\(log)")
        #expect(minimised.count >= 3, "minimised probes, all NODATA:\n\(log)")
        #expect(!log.contains("NXDOMAIN"), "no ancestor of a listed name may be NXDOMAIN:\n\(log)")
        #expect(lines.contains { $0.hasSuffix(" \(name) A NOERROR 1") })
    }
}

/// A port free for both UDP and TCP on 127.0.0.1 right now (bind port 0 on TCP, check UDP).
func freeUDPAndTCPPort() throws -> UInt16 {
    for _ in 0..<20 {
        let t = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(t) }
        let a = try ListenAddress(parsing: "127.0.0.1:0")
        guard withSockaddr(a, { bind(t, $0, $1) }) == 0 else { continue }
        let port = try DNSBLServer.boundPort(t)
        let u = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(u) }
        if withSockaddr(try ListenAddress(parsing: "127.0.0.1:\(port)"), { bind(u, $0, $1) }) == 0 { return port }
    }
    throw TestError.failed("no free port")
}

@Suite("Reload under load, end to end (built binary, real stores)", .serialized)
struct ReloadEndToEndTests {
    /// Store generation `k`: 2001:db8::/32 → 127.0.0.(k+2), plus 1000 /64s so counts stay level.
    static func image(_ k: Int, dir: String) throws -> StoreImage {
        var text = E2EData.soa + "2001:db8::/32 :127.0.0.\(k + 2):gen \(k)\n"
        for i in 0..<1000 { text += "2001:db9:\(String(i, radix: 16))::/64\n" }
        return try compileStore([("ip6trie", text)], in: dir)
    }

    static func writeFile(_ bytes: [UInt8], to path: String) throws {
        let tmp = path + ".partial"
        try Data(bytes).write(to: URL(fileURLWithPath: tmp))
        guard rename(tmp, path) == 0 else { throw TestError.failed("rename") }
    }

    @Test("store replaced 20 times (one corrupt, one truncated, one source rewritten in place slowly): zero wrong, zero unanswered")
    func reloadUnderLoad() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let storePath = dir + "/bl.store"
        let sourcePath = dir + "/v4.txt"
        try StoreBuilder.write(try Self.image(0, dir: dir), to: storePath)
        try (E2EData.soa + ":127.0.0.2:old\n192.0.2.0/24\n").write(toFile: sourcePath, atomically: true, encoding: .utf8)
        let server = try ServeProcess(["--store", storePath, "v4.bl.example:ip4set:v4.txt",
                                       "--check-interval", "0.1", "--settle-delay", "0.2"],
                                      directory: dir, ipv6: false)
        defer { server.child.signal(SIGTERM); _ = server.child.waitExit() }

        let v6name = nibbleName("2001:db8::1")
        let v4name = reversedName("192.0.2.1", zone: "v4.bl.example")
        let accepted = Mutex<Set<String>>(["127.0.0.2"])
        let wrong = Mutex<[String]>([])
        let unanswered = Atomic<Int>(0)
        let total = Atomic<Int>(0)
        let stop = Atomic<Bool>(false)
        let loopDone = DispatchSemaphore(value: 0)
        let address = server.v4
        Thread {
            var id: UInt16 = 0
            while !stop.load(ordering: .relaxed) {
                id &+= 1
                let v6 = id % 2 == 0
                let r = (try? udpQuery(address, makeQuery(id: id, name: v6 ? v6name : v4name), timeout: 2, retries: 1)).flatMap { $0 }
                total.add(1, ordering: .relaxed)
                guard let r, let p = parseResponse(r) else { unanswered.add(1, ordering: .relaxed); continue }
                let a = p.addresses.joined(separator: ",")
                let ok = v6 ? accepted.withLock { $0.contains(a) } : (a == "127.0.0.2" || a == "127.0.0.3")
                if p.rcode != 0 || !ok { wrong.withLock { $0.append("\(v6 ? "v6" : "v4") rcode \(p.rcode) \(a)") } }
            }
            loopDone.signal()
        }.start()

        func events() -> Int {
            let t = server.child.text
            return t.components(separatedBy: "reloaded").count + t.components(separatedBy: "reload refused").count - 2
        }
        func served(_ name: String) -> String? {
            (try? udpQuery(address, makeQuery(id: 9, name: name))).flatMap { $0 }.flatMap(parseResponse)?.addresses.joined(separator: ",")
        }
        var expectedV6 = "127.0.0.2"
        for round in 1...20 {
            let before = events()
            switch round {
            case 5:
                var bytes = try Self.image(round, dir: dir).bytes
                for i in stride(from: bytes.count / 3, to: bytes.count / 3 + 64, by: 1) { bytes[i] ^= 0x5A }
                try Self.writeFile(bytes, to: storePath)
            case 10:
                let bytes = try Self.image(round, dir: dir).bytes
                try Self.writeFile(Array(bytes[0..<(bytes.count / 2)]), to: storePath)
            case 15:
                let fd = open(sourcePath, O_WRONLY | O_TRUNC)
                for b in Array((E2EData.soa + ":127.0.0.3:new\n192.0.2.0/24\n").utf8) {
                    var byte = b
                    _ = write(fd, &byte, 1)
                    usleep(b == 10 ? 50_000 : 1_000)
                }
                close(fd)
            default:
                let value = "127.0.0.\(round + 2)"
                accepted.withLock { _ = $0.insert(value) }  // before the file lands: answers may switch any time now
                try StoreBuilder.write(try Self.image(round, dir: dir), to: storePath)
                expectedV6 = value
            }
            let eventDeadline = Date().addingTimeInterval(15)
            while events() <= before && Date() < eventDeadline { usleep(20_000) }
            #expect(events() > before, "round \(round): no reload event\n\(server.child.text.suffix(2000))")
            let deadline = Date().addingTimeInterval(5)
            while served(v6name) != expectedV6 && Date() < deadline { usleep(50_000) }
            #expect(served(v6name) == expectedV6, "round \(round)")
        }
        #expect(served(v4name) == "127.0.0.3", "source rewritten in place was reloaded")
        stop.store(true, ordering: .relaxed)
        loopDone.wait()
        #expect(wrong.withLock { $0 }.isEmpty, "wrong answers: \(wrong.withLock { $0.prefix(10) })")
        #expect(unanswered.load(ordering: .relaxed) == 0)
        #expect(total.load(ordering: .relaxed) > 200, "query loop ran \(total.load(ordering: .relaxed)) queries")
        let refused = server.child.text.split(separator: "\n").filter { $0.contains("reload refused") }
        #expect(refused.count == 2, "\(refused)")
    }
}
