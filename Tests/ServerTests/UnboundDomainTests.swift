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
        let resolver = try StubResolver(unbound: which("unbound")!, directory: dir, port: port, zone: "dbl.example",
                                        stubPort: server.v4.port, server: [#"module-config: "iterator""#, "qname-minimisation: yes", "qname-minimisation-strict: yes", "cache-min-ttl: 0"])
        defer { resolver.stop() }
        #expect(try resolver.waitUp(zone: "dbl.example"), "unbound did not start: \(resolver.child.text)")
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
