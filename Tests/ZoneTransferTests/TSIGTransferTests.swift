#if canImport(Glibc)
import Glibc
#endif
import DNSBLServer
import Foundation
import LDNSKit
import Testing
import TestSupport
import ServerTestSupport

/// A zone big enough for a multi-message AXFR: 1,500 /48s (about 8 messages of 16 kB).
func manyBlocksZone(serial: Int = 1) -> String {
    var text = "$SOA 3600 ns1.example.net hostmaster.example.net \(serial) 600 300 86400 5\n$NS 3600 ns1.example.net\n:127.0.0.2:Listed\n"
    // Every other /48, so that no two merge into a shorter block.
    for k in 0..<1500 { text += "2001:db8:\(String(2 * k, radix: 16))::/48\n" }
    return text
}

/// The messages of a transfer answering `query` (already signed or not), read until the
/// closing SOA or an error RCODE.
func transferAnswer(_ server: ListenAddress, _ query: [UInt8]) throws -> [[UInt8]] {
    let s = try TestSocket(tcp: server)
    s.setTimeout(10)
    try s.send(framed(query))
    var out: [[UInt8]] = []
    var soaSeen = 0
    while let m = s.receiveFramed() {
        out.append(m)
        if m[3] & 0x0F != 0 { break }
        soaSeen += soaCount(m)
        if soaSeen >= 2 { break }
    }
    return out
}

@Suite("TSIG on zone transfer, SOA and NOTIFY (RFC 8945)", .serialized)
struct TSIGTransferTests {
    static let keyOption = "hmac-sha256:\(tsigKeyName):\(tsigSecret)"

    func serve(_ dir: String, _ extra: [String]) throws -> ServeProcess {
        let src = dir + "/zone.txt"
        if !FileManager.default.fileExists(atPath: src) { try manyBlocksZone().write(toFile: src, atomically: true, encoding: .utf8) }
        return try ServeProcess(["--tsig-key", Self.keyOption] + extra + ["bl.example:ip6trie:" + src],
                                directory: dir, ipv6: false)
    }

    @Test("RFC 8945 §5.3.1: dig -y AXFR succeeds with every message signed and dig reports no verify failure; libldns verifies the chain",
          .enabled(if: which("dig") != nil, "dig not installed"))
    func signedAXFR() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try serve(dir, ["--allow-transfer", "127.0.0.0/8 \(tsigKeyName)"])
        defer { server.child.signal(SIGTERM); _ = server.child.waitExit() }

        let dig = try run(which("dig")!, ["+tcp", "-p", "\(server.v4.port)", "@127.0.0.1", "-y", Self.keyOption,
                                          "bl.example", "AXFR"])
        let records = dig.output.split(separator: "\n").filter { !$0.hasPrefix(";") && !$0.isEmpty }
        let tsigLines = records.filter { $0.contains("\tTSIG\t") }
        #expect(dig.status == 0 && !dig.output.contains("failed") && !dig.output.contains("Couldn't verify"), "\(dig.output.suffix(2000))")
        #expect(records.count > 1500, "\(dig.output.suffix(500))")
        #expect(tsigLines.count >= 4 && tsigLines.allSatisfy { $0.contains("NOERROR") },
                "one TSIG per message: \(tsigLines.count)")
        // dig's view of the signature: a tampered key makes it say so (the check above can fail).
        let wrongDig = try run(which("dig")!, ["+tcp", "-p", "\(server.v4.port)", "@127.0.0.1", "-y",
                                               "hmac-sha256:\(tsigKeyName):c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0", "bl.example", "AXFR"])
        #expect(wrongDig.output.contains("BADSIG") || wrongDig.output.contains("failed"), "\(wrongDig.output)")

        // The same transfer read by hand: libldns verifies message 1 with the request MAC and
        // each later one on the prior MAC with the timers only.
        var query = makeQuery(id: 0x5151, name: "bl.example", type: 252)
        query[2] = 0
        let session = testKey().signRequest(&query, now: UInt64(time(nil)))
        let messages = try transferAnswer(server.v4, query)
        #expect(messages.count >= 4 && messages.allSatisfy { $0[3] & 0x0F == 0 })
        let ldns = LDNSTSIG(keyName: tsigKeyName + ".", secret: tsigSecret, requestMAC: session.priorMAC)
        for (k, m) in messages.enumerated() { #expect(ldns.verifyNext(m), "libldns: message \(k + 1) of \(messages.count)") }
        var ours = session
        for (k, m) in messages.enumerated() {
            let verdict = ours.verify(m, now: UInt64(time(nil)))
            #expect(verdict == .valid, "ours: message \(k + 1)")
        }
        // IXFR goes the same way (answered in full, signed).
        var ixfr = makeQuery(id: 0x5152, name: "bl.example", type: 251)
        let ixfrSession = testKey().signRequest(&ixfr, now: UInt64(time(nil)))
        let ixfrCheck = LDNSTSIG(keyName: tsigKeyName + ".", secret: tsigSecret, requestMAC: ixfrSession.priorMAC)
        let ixfrMessages = try transferAnswer(server.v4, ixfr)
        #expect(!ixfrMessages.isEmpty)
        for m in ixfrMessages { #expect(ixfrCheck.verifyNext(m)) }
    }

    @Test("RFC 8945 §5.2: with a key required, unsigned is REFUSED, unknown key BADKEY, wrong secret BADSIG (unsigned NOTAUTH), stale time BADTIME (signed)")
    func refusals() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try serve(dir, ["--tsig-key", "other.bl.example:hmac-sha256:\(tsigSecret)",
                                     "--allow-transfer", "127.0.0.0/8 \(tsigKeyName)", "--allow-transfer", "192.0.2.0/24"])
        defer { server.child.signal(SIGTERM); _ = server.child.waitExit() }
        let now = UInt64(time(nil))
        func axfr(_ key: TSIGKey?, at t: UInt64 = now) throws -> [UInt8] {
            var q = makeQuery(id: 0x6161, name: "bl.example", type: 252)
            _ = key?.signRequest(&q, now: t)
            return try #require(try transferAnswer(server.v4, q).first)
        }
        let unsigned = try axfr(nil)
        #expect(unsigned[3] & 0x0F == 5 && tsigFields(unsigned) == nil, "unsigned → REFUSED without TSIG")
        let unknown = try axfr(testKey(name: "nobody.bl.example"))
        #expect(unknown[3] & 0x0F == 9 && tsigFields(unknown)?.error == 17 && tsigFields(unknown)?.macSize == 0)
        let wrong = try axfr(testKey(secret: "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"))
        #expect(wrong[3] & 0x0F == 9 && tsigFields(wrong)?.error == 16 && tsigFields(wrong)?.macSize == 0)
        var staleQuery = makeQuery(id: 0x6262, name: "bl.example", type: 252)
        let staleSession = testKey().signRequest(&staleQuery, now: now - 1000)
        let stale = try #require(try transferAnswer(server.v4, staleQuery).first)
        let t = try #require(tsigFields(stale))
        #expect(stale[3] & 0x0F == 9 && t.error == 18 && t.macSize == 32 && t.time == now - 1000)
        #expect(t.other.reduce(UInt64(0)) { $0 << 8 | UInt64($1) } >= now, "Other Data: the server's time")
        let check = LDNSTSIG(keyName: tsigKeyName + ".", secret: tsigSecret, requestMAC: staleSession.priorMAC)
        #expect(check.verifyNext(stale), "the BADTIME answer is signed")
        // A valid key the ACL entry does not name: REFUSED, signed with that key.
        var otherQuery = makeQuery(id: 0x6363, name: "bl.example", type: 252)
        let otherSession = testKey(name: "other.bl.example").signRequest(&otherQuery, now: now)
        let other = try #require(try transferAnswer(server.v4, otherQuery).first)
        var otherCheck = otherSession
        let otherVerdict = otherCheck.verify(other, now: now)
        #expect(other[3] & 0x0F == 5 && otherVerdict == .valid)
        #expect(!server.child.text.contains(tsigSecret), "the secret never reaches the log")
    }

    @Test("RFC 8945 §5.3: a signed SOA query (a secondary's serial check) gets a signed answer over UDP and TCP; unsigned ones are untouched",
          .enabled(if: which("dig") != nil, "dig not installed"))
    func signedSOA() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try serve(dir, ["--allow-transfer", "127.0.0.1 \(tsigKeyName)"])
        defer { server.child.signal(SIGTERM); _ = server.child.waitExit() }
        for tcp in [false, true] {
            let dig = try run(which("dig")!, (tcp ? ["+tcp"] : []) + ["-p", "\(server.v4.port)", "@127.0.0.1", "-y",
                                                                     Self.keyOption, "bl.example", "SOA"])
            #expect(dig.output.contains("status: NOERROR") && dig.output.contains("\tTSIG\t")
                    && !dig.output.contains("Couldn't verify") && !dig.output.contains("failure"), "\(dig.output)")
        }
        var q = makeQuery(id: 0x7171, name: "bl.example", type: 6, edns: 1232)
        var session = testKey().signRequest(&q, now: UInt64(time(nil)))
        let answer = try #require(try udpQuery(server.v4, q))
        let verdict = session.verify(answer, now: UInt64(time(nil)))
        #expect(verdict == .valid)
        #expect(try Packet(wire: answer).answer.contains { $0.type == 6 })
        var bad = makeQuery(id: 0x7272, name: "bl.example", type: 6)
        _ = testKey(secret: "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0").signRequest(&bad, now: UInt64(time(nil)))
        let refused = try #require(try udpQuery(server.v4, bad))
        let refusedPacket = try Packet(wire: refused)
        #expect(refused[3] & 0x0F == 9 && tsigFields(refused)?.error == 16 && refusedPacket.answer.isEmpty)
        let plain = try #require(try udpQuery(server.v4, makeQuery(id: 0x7373, name: "bl.example", type: 6)))
        #expect(plain[3] & 0x0F == 0 && tsigFields(plain) == nil)
    }

    @Test("NSD as a TSIG secondary: transfer with the key, NOTIFY signed and accepted, the answer to NOTIFY verified",
          .enabled(if: which("nsd") != nil, "nsd not installed (tools/install-test-deps.sh installs it)"))
    func nsdSecondary() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = dir + "/zone.txt"
        try transferZone.write(toFile: src, atomically: true, encoding: .utf8)
        // The key reaches serve through a tsig-keygen style file, and NSD through its own clause.
        try "key \"\(tsigKeyName)\" {\n\talgorithm hmac-sha256;\n\tsecret \"\(tsigSecret)\";\n};\n"
            .write(toFile: dir + "/xfr.key", atomically: true, encoding: .utf8)
        let nsdPort = freeTCPPort()
        let server = try ServeProcess(["--tsig-keyfile", dir + "/xfr.key", "--allow-transfer", "127.0.0.1 \(tsigKeyName)",
                                       "--notify", "127.0.0.1:\(nsdPort) \(tsigKeyName)",
                                       "--check-interval", "0.2", "--settle-delay", "0.1", "bl.example:ip6trie:" + src],
                                      directory: dir, ipv6: false)
        defer { server.child.signal(SIGTERM); _ = server.child.waitExit() }
        let conf = nsdServerClauses(dir: dir, port: nsdPort) + """
            key:
              name: "\(tsigKeyName)"
              algorithm: hmac-sha256
              secret: "\(tsigSecret)"
            zone:
              name: bl.example
              request-xfr: AXFR 127.0.0.1@\(server.v4.port) \(tsigKeyName)
              allow-notify: 127.0.0.1 \(tsigKeyName)

            """
        try conf.write(toFile: dir + "/nsd.conf", atomically: true, encoding: .utf8)
        let nsd = try ChildProcess(which("nsd")!, ["-d", "-c", dir + "/nsd.conf"], directory: dir)
        defer { stopTree(nsd.process.processIdentifier) }
        // A resolver per query: libldns gives up on a server for good after one failed send.
        func secondaryA(_ name: String) -> Set<String> {
            let r = try? Resolver(server: "127.0.0.1", port: nsdPort, timeout: 1, retries: 1, recursionDesired: false)
            return Set((try? r?.query(name: name, type: 1))??.answers.compactMap(\.address) ?? [])
        }
        let probe = nibbleName("2001:db8:2::1")
        let started = Date()
        var first: Set<String> = []
        while first.isEmpty && Date().timeIntervalSince(started) < 120 {
            first = secondaryA(probe)
            if first.isEmpty { usleep(100_000) }
        }
        #expect(first == ["127.0.0.4"], "NSD did not transfer with TSIG:\n\(nsd.text.suffix(3000))\n\(server.child.text.suffix(2000))")
        #expect(server.child.waitFor("zone transfer", timeout: 60), "the transfer came from serve")

        // A change: serve sends a signed NOTIFY, NSD (which requires the key) accepts it and
        // transfers; serve checks the TSIG of NSD's answer before logging the acknowledgement.
        let changed = transferZone.replacingOccurrences(of: " 1 600 300", with: " 2 600 300") + "\n2001:db8:abcd::/48 :127.0.0.9:\n"
        let probe2 = nibbleName("2001:db8:abcd::1")
        let changedAt = Date()
        try changed.write(toFile: src, atomically: true, encoding: .utf8)
        var followed = false
        while !followed && Date().timeIntervalSince(changedAt) < 120 {
            followed = secondaryA(probe2) == ["127.0.0.9"]
            if !followed { usleep(50_000) }
        }
        #expect(followed, "NSD did not follow the change:\n\(nsd.text.suffix(3000))\n\(server.child.text.suffix(3000))")
        #expect(server.child.waitFor("NOTIFY acknowledged", timeout: 60) && server.child.text.contains("tsig=\(tsigKeyName)"),
                "\(server.child.text.suffix(2000))")
        #expect(!server.child.text.contains("NOTIFY answer fails TSIG"))
        #expect(!server.child.text.contains(tsigSecret), "the secret never reaches the log")
    }
}

@Suite("TSIG secondaries: Knot and BIND (RFC 8945)", .serialized)
struct TSIGOtherSecondaryTests {
    /// Starts `serve` for both keys, a secondary from `config(primaryPort, ownPort)`, waits
    /// for the zone, changes the data and waits for the secondary to follow the NOTIFY.
    func run(_ name: String, secondaryKey: String, algorithm: String, start: (String, UInt16, UInt16) throws -> ChildProcess) throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = dir + "/zone.txt"
        try transferZone.write(toFile: src, atomically: true, encoding: .utf8)
        let port = freeTCPPort()
        let server = try ServeProcess(["--tsig-key", "\(algorithm):\(secondaryKey):\(tsigSecret)",
                                       "--allow-transfer", "127.0.0.1 \(secondaryKey)",
                                       "--notify", "127.0.0.1:\(port) \(secondaryKey)",
                                       "--check-interval", "0.2", "--settle-delay", "0.1", "bl.example:ip6trie:" + src],
                                      directory: dir, ipv6: false)
        defer { server.child.signal(SIGTERM); _ = server.child.waitExit() }
        let secondary = try start(dir, server.v4.port, port)
        defer { stopTree(secondary.process.processIdentifier) }
        // A resolver per query: libldns gives up on a server for good after one failed send,
        // which happens while the secondary is still starting.
        func a(_ address: String) -> Set<String> {
            let resolver = try? Resolver(server: "127.0.0.1", port: port, timeout: 1, retries: 1, recursionDesired: false)
            return Set((try? resolver?.query(name: nibbleName(address), type: 1))??.answers.compactMap(\.address) ?? [])
        }
        // Probes where Knot 3.2 agrees with serve: Knot does not count a name whose only child
        // is a wildcard as existing (RFC 4592 §2.2.2 does), so under 2001:db8:2::/47 it
        // answers the /32's value; NSD and BIND answer like serve. An exact name and a
        // wildcard whose parent has other children are unaffected.
        var deadline = Date().addingTimeInterval(120)
        while a("2001:db8:1::1").isEmpty && Date() < deadline { usleep(100_000) }
        #expect(a("2001:db8:1::1") == ["127.0.0.3"], "\(name) did not transfer:\n\(secondary.text.suffix(3000))\n\(server.child.text.suffix(2000))")
        let changed = transferZone.replacingOccurrences(of: " 1 600 300", with: " 2 600 300") + "\n2001:db8:abcd::1 :127.0.0.9:\n"
        try changed.write(toFile: src, atomically: true, encoding: .utf8)
        deadline = Date().addingTimeInterval(120)
        while a("2001:db8:abcd::1") != ["127.0.0.9"] && Date() < deadline { usleep(50_000) }
        #expect(a("2001:db8:abcd::1") == ["127.0.0.9"], "\(name) did not follow:\n\(secondary.text.suffix(3000))\n\(server.child.text.suffix(2000))")
        #expect(server.child.waitFor("NOTIFY acknowledged", timeout: 60) && server.child.text.contains("tsig=\(secondaryKey)"))
        #expect(!server.child.text.contains("NOTIFY answer fails TSIG"))
    }

    @Test("Knot as a secondary with an hmac-sha512 key (the RunningSecondaries snippet): transfer, signed NOTIFY, follows",
          .enabled(if: which("knotd") != nil, "knotd not installed (apt knot)"))
    func knot() throws {
        try run("Knot", secondaryKey: "xfr.bl.example", algorithm: "hmac-sha512") { dir, primary, port in
            let conf = """
                server:
                    rundir: "\(dir)"
                    listen: 127.0.0.1@\(port)
                database:
                    storage: "\(dir)"
                log:
                  - target: stderr
                    any: info
                key:
                  - id: xfr.bl.example
                    algorithm: hmac-sha512
                    secret: \(tsigSecret)
                remote:
                  - id: prefixbl
                    address: 127.0.0.1@\(primary)
                    key: xfr.bl.example
                acl:
                  - id: prefixbl-notify
                    address: 127.0.0.1
                    key: xfr.bl.example
                    action: notify
                zone:
                  - domain: bl.example
                    master: prefixbl
                    acl: prefixbl-notify

                """
            try conf.write(toFile: dir + "/knot.conf", atomically: true, encoding: .utf8)
            return try ChildProcess(which("knotd")!, ["-c", dir + "/knot.conf"], directory: dir)
        }
    }

    @Test("BIND as a secondary with a tsig-keygen style key (the RunningSecondaries snippet): transfer, signed NOTIFY, follows",
          .enabled(if: which("named") != nil, "named not installed (apt bind9)"))
    func bind() throws {
        try run("BIND", secondaryKey: "xfr.bl.example", algorithm: "hmac-sha256") { dir, primary, port in
            try namedSecondary(dir: dir, port: port, clauses: """
                key "xfr.bl.example" {
                    algorithm hmac-sha256;
                    secret "\(tsigSecret)";
                };
                server 127.0.0.1 {
                    keys { xfr.bl.example; };
                };
                zone "bl.example" {
                    type secondary;
                    primaries port \(primary) { 127.0.0.1 key xfr.bl.example; };
                    allow-notify { key xfr.bl.example; };
                    file "bl.example.db";
                };

                """)
        }
    }
}
