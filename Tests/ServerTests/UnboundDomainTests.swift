import Foundation
import Glibc
import DNSBLServer
import Testing
import TestSupport
import ServerTestSupport

// dnset through a real resolver: Unbound with strict QNAME minimisation walks `com`,
// `example.com`, `www.example.com`… down every listed name; each must be found (an NXDOMAIN
// on the way, RFC 8020, would stop it).

@Suite("dnset through Unbound with strict QNAME minimisation", .serialized)
struct UnboundDomainTests {
    @Test("every sampled listed name (and a subdomain of each) answers 127.0.0.2 through Unbound",
          .enabled(if: which("unbound") != nil, "unbound is not installed"),
          .enabled(if: which("dig") != nil, "dig (dnsutils) is not installed"))
    func listedNamesThroughUnbound() throws {
        let dir = try makeTempDirectory()
        chmod(dir, 0o755)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Real names when the shared data is there, else a fixed set with deep chains.
        var names = ["example.com", "a.b.c.deep.example.org", "xn--bcher-kva.example", "0123456789abcdef0123456789abcdef01234567.hash.example"]
        let real = repositoryRoot() + "/../shared/realdata/blocklistproject-phishing-nl.txt"
        if let text = try? String(contentsOfFile: real, encoding: .utf8) {
            let all = text.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }
            var g = SplitMix64(seed: 9156)
            for _ in 0..<60 { names.append(String(all[Int(g.next() % UInt64(all.count))])) }
        }
        let source = "$SOA 3600 ns.dbl.example. hostmaster.dbl.example. 1 3600 600 604800 60\n$NS 3600 ns.example.net\n"
            + names.map { "." + $0 }.joined(separator: "\n") + "\n"
        try source.write(toFile: dir + "/d.txt", atomically: true, encoding: .utf8)
        let server = try ServeProcess(["dbl.example:dnset:d.txt"], directory: dir, ipv6: false)
        defer { server.child.signal(SIGTERM); _ = server.child.waitExit() }
        let port = try freeUDPAndTCPPort()
        let config = """
            server:
                interface: 127.0.0.1
                port: \(port)
                do-ip6: no
                do-daemonize: no
                username: ""
                chroot: ""
                directory: "\(dir)"
                pidfile: "\(dir)/unbound.pid"
                use-syslog: no
                logfile: ""
                verbosity: 1
                module-config: "iterator"
                qname-minimisation: yes
                qname-minimisation-strict: yes
                do-not-query-localhost: no
                access-control: 127.0.0.0/8 allow
                cache-min-ttl: 0
            remote-control:
                control-enable: no
            stub-zone:
                name: "dbl.example"
                stub-addr: 127.0.0.1@\(server.v4.port)
            """
        try config.write(toFile: dir + "/unbound.conf", atomically: true, encoding: .utf8)
        let resolver = try ChildProcess(which("unbound")!, ["-d", "-c", dir + "/unbound.conf"])
        defer { resolver.signal(SIGTERM); _ = resolver.waitExit(timeout: 5) }
        let resolverAddress = try ListenAddress(parsing: "127.0.0.1:\(port)")
        var up = false
        let deadline = Date().addingTimeInterval(15)
        while !up && Date() < deadline {
            up = ((try? udpQuery(resolverAddress, makeQuery(id: 1, name: "dbl.example", type: 6), timeout: 0.3, retries: 0)) ?? nil) != nil
            if !up { usleep(100_000) }
        }
        #expect(up, "unbound did not start: \(resolver.text)")
        var found = 0
        for n in names {
            for q in [n, "sub." + n] {
                let r = try run(which("dig")!, ["@127.0.0.1", "-p", "\(port)", "+tries=2", "+time=3", "+short", q + ".dbl.example", "A"])
                if r.output.trimmingCharacters(in: .whitespacesAndNewlines) == "127.0.0.2" { found += 1 } else {
                    Issue.record("\(q): '\(r.output)'")
                }
            }
        }
        #expect(found == 2 * names.count)
    }
}
