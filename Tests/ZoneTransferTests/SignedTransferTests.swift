#if canImport(Glibc)
import Glibc
#endif
import DNSBLServer
import Foundation
import LDNSKit
import ServerTestSupport
import Testing
import TestSupport

/// `run` on a thread of its own: a test waiting for a child process does not hold one of the
/// few threads of Swift's cooperative pool, where other suites' tasks (a reloader's timer) run.
func runOffPool(_ path: String, _ args: [String], timeout: Double = 20) async throws -> (status: Int32, output: String) {
    try await withCheckedThrowingContinuation { (c: CheckedContinuation<(status: Int32, output: String), Error>) in
        Thread { c.resume(with: Result { try run(path, args, timeout: timeout) }) }.start()
    }
}

/// A value handed across threads once (a started process).
struct Handed<T>: @unchecked Sendable { let value: T }

/// Starts `serve` on a thread of its own (it waits for the " serving" line).
func serveOffPool(_ args: [String], directory: String) async throws -> ServeProcess {
    try await withCheckedThrowingContinuation { (c: CheckedContinuation<Handed<ServeProcess>, Error>) in
        Thread { c.resume(with: Result { Handed(value: try ServeProcess(args, directory: directory, ipv6: false)) }) }.start()
    }.value
}

/// Polls `condition` every 100 ms (sleeping, not blocking a thread) until it holds or `seconds` pass.
func poll(_ seconds: Double, _ condition: () throws -> Bool) async throws -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        try await Task.sleep(for: .milliseconds(100))
    }
    return try condition()
}

/// AXFR/IXFR of a signed zone and `export --dnssec-key`, checked by real tools started by the
/// test: `ldns-verify-zone` on the transferred and exported zones, NSD as an IXFR secondary
/// validated through Unbound with our DS as trust anchor.
@Suite("Signed zone transfers and signed export", .serialized)
struct SignedTransferTests {
    static let keygen = which("ldns-keygen"), verify = which("ldns-verify-zone"), dig = which("dig")
    static let nsd = which("nsd"), unbound = which("unbound")

    static func soa(_ serial: Int) -> String {
        "$SOA 3600 ns1.bl.example hostmaster.example.org \(serial) 3600 600 604800 300\n$NS 3600 ns1.bl.example\n"
    }
    static func v6(_ serial: Int, extra: String = "") -> String {
        soa(serial) + ":127.0.0.2:listed $\n2001:db8::/32\n!2001:db8:0:1::/64\n2001:db8:ab::1 :127.0.0.3:exact\n" + extra
    }
    static func v4(_ serial: Int, extra: String = "") -> String { soa(serial) + ":127.0.0.2:v4 $\n192.0.2.0/24\n!192.0.2.9\n" + extra }
    /// The one-line change of the reload tests: a new listed /48.
    static let addedLine = "2001:db8:cd::/48 :127.0.0.9:added\n"

    /// Names of every kind (listed, unlisted, excluded, ENT, apex, IPv4, images).
    static let names: [(String, String)] = [
        (nibbleName("2001:db8::5"), "A"), (nibbleName("2001:db8:ab::1"), "TXT"), (nibbleName("2001:db9::1"), "A"),
        (nibbleName("2001:db8:0:1::9"), "A"), ("1.0.0.2.bl.example", "A"), ("5.2.0.192.bl.example", "A"),
        ("9.2.0.192.bl.example", "A"), ("5.3.0.192.bl.example", "A"), ("bl.example", "SOA"), ("bl.example", "DNSKEY"),
        (nibbleName("::ffff:192.0.2.5"), "A"), (nibbleName("2002:c000:205::1"), "A"), ("x.bl.example", "A"),
    ]

    struct Keys { let dir: String; let ksk: String; let zsk: String; let ds: String }

    /// A KSK (ECDSA) and a ZSK (Ed25519) from ldns-keygen, the data files (serial 7) and the DS.
    static func keys() async throws -> Keys {
        let dir = try makeTempDirectory()
        try v6(7).write(toFile: dir + "/v6.txt", atomically: true, encoding: .utf8)
        try v4(7).write(toFile: dir + "/v4.txt", atomically: true, encoding: .utf8)
        func keygen(_ args: String) async throws -> String {
            let r = try await runOffPool("/bin/sh", ["-c", "cd '\(dir)' && '\(Self.keygen!)' \(args) bl.example"])
            guard r.status == 0 else { throw TestError.failed("ldns-keygen: \(r.output)") }
            return dir + "/" + r.output.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let ksk = try await keygen("-a ECDSAP256SHA256 -k"), zsk = try await keygen("-a ED25519")
        let ds = try await runOffPool(prefixblBinary()!, ["dnssec-ds", ksk]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        return Keys(dir: dir, ksk: ksk, zsk: zsk, ds: ds)
    }

    static func serve(_ k: Keys, _ extra: [String] = []) async throws -> ServeProcess {
        try await serveOffPool(["bl.example:ip6trie:v6.txt", "bl.example:ip4set:v4.txt", "--dnssec-key", k.ksk, "--dnssec-key", k.zsk,
                          "--allow-transfer", "127.0.0.0/8", "--check-interval", "0.2", "--settle-delay", "0.1"] + extra,
                         directory: k.dir)
    }

    /// Records of dig's output: "owner ttl class type rdata…" lines, lower-cased, TTL dropped.
    /// A trailing comment (ldns writes `;{id = …}` after a DNSKEY) is dropped and a DNSKEY's
    /// key joined (dig splits long base64 with spaces).
    static func records(_ output: String) -> [String] {
        output.split(separator: "\n").filter { !$0.hasPrefix(";") && !$0.isEmpty }.map { line in
            let content = line.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)[0]
            let f = content.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if f.count > 7, f[3].lowercased() == "dnskey" {
                return ([f[0]] + f[2...6]).joined(separator: " ").lowercased() + " " + f[7...].joined().lowercased()
            }
            return ([f[0]] + f.dropFirst(2)).joined(separator: " ").lowercased()
        }
    }

    static func type(_ record: String) -> String { String(record.split(separator: " ")[2]) }

    static func verifyZone(_ path: String, _ k: Keys) async throws -> (status: Int32, output: String) {
        try await runOffPool(Self.verify!, ["-k", k.ksk + ".key", path], timeout: 60)
    }

    @Test("AXFR of a signed zone: ldns-verify-zone accepts it (our KSK as anchor); its NSECs are those DO=1 answers carry; the IXFR from the first serial the process signed is the whole zone; after a one-line reload the IXFR from a later serial holds only the changed RRsets, NSECs and signatures, and the new AXFR verifies",
          .enabled(if: keygen != nil, "ldns-keygen (ldnsutils) is not installed"),
          .enabled(if: verify != nil, "ldns-verify-zone (ldnsutils) is not installed"),
          .enabled(if: dig != nil, "dig (dnsutils) is not installed"))
    func axfrVerifiesAndIXFRIsSmall() async throws {
        let k = try await Self.keys()
        defer { try? FileManager.default.removeItem(atPath: k.dir) }
        let server = try await Self.serve(k)
        defer { server.child.signal(SIGTERM); _ = server.child.waitExit() }
        let port = "\(server.v4.port)"
        let axfr = try await runOffPool(Self.dig!, ["+tcp", "+onesoa", "-p", port, "@127.0.0.1", "bl.example", "AXFR"]).output
        try axfr.write(toFile: k.dir + "/axfr.zone", atomically: true, encoding: .utf8)
        let v = try await Self.verifyZone(k.dir + "/axfr.zone", k)
        #expect(v.status == 0, "ldns-verify-zone: \(v.output)\n\(axfr.prefix(3000))")
        let all = Self.records(axfr)
        let types = Set(all.map(Self.type))
        #expect(types.isSuperset(of: ["dnskey", "rrsig", "nsec", "soa", "ns", "a", "txt", "hinfo"]), "\(types)")
        // Every NSEC a DO=1 answer carries is one of the transferred zone's.
        let nsecs = Set(all.filter { Self.type($0) == "nsec" })
        var seen = 0
        for (name, qtype) in Self.names {
            let r = try await runOffPool(Self.dig!, ["+dnssec", "+norec", "-p", port, "@127.0.0.1", name, qtype]).output
            for n in Self.records(r) where Self.type(n) == "nsec" {
                #expect(nsecs.contains(n), "\(name) \(qtype): \(n) is not in the AXFR")
                seen += 1
            }
        }
        #expect(seen >= 10)

        /// The IXFR from `serial` once the reload to `current` is served.
        func ixfrFrom(_ serial: Int, source: String = "127.0.0.1") async throws -> [String] {
            var r: [String] = []
            let deadline = Date().addingTimeInterval(20)
            repeat {
                r = Self.records(try await runOffPool(Self.dig!, ["+tcp", "-b", source, "-p", port, "@127.0.0.1", "bl.example", "IXFR=\(serial)"]).output)
                if r.count > 1 { break }
                try await Task.sleep(for: .milliseconds(100))
            } while Date() < deadline
            return r
        }

        // The serial raised: 7 was the first version this process signed (after a restart a
        // secondary may hold 7 with another process's signatures), so the IXFR from 7 asked by
        // an address this process never sent 7 is the whole zone of 8, as an AXFR would send
        // it (RFC 1995 §4): SOA 8, the records, SOA 8. The address that took the AXFR of 7
        // above gets the difference.
        try Self.v6(8).write(toFile: k.dir + "/v6.txt", atomically: true, encoding: .utf8)
        try Self.v4(8).write(toFile: k.dir + "/v4.txt", atomically: true, encoding: .utf8)
        #expect(try await poll(20) { server.child.text.contains("reloaded") }, "\(server.child.text.suffix(2000))")
        let whole = try await ixfrFrom(7, source: "127.0.0.2")
        let wholeSOAs = whole.indices.filter { Self.type(whole[$0]) == "soa" }
        #expect(wholeSOAs == [0, whole.count - 1] && whole.first?.contains(" 8 3600 ") == true,
                "the IXFR from the first signed serial is not the whole zone:\n\(whole.prefix(12).joined(separator: "\n"))")
        let axfr8Text = try await runOffPool(Self.dig!, ["+tcp", "+onesoa", "-p", port, "@127.0.0.1", "bl.example", "AXFR"]).output
        let axfr8 = Self.records(axfr8Text)
        #expect(Set(whole.filter { Self.type($0) != "soa" }) == Set(axfr8.filter { Self.type($0) != "soa" }))
        #expect(server.child.text.split(separator: "\n").contains { $0.contains("client_serial=7") && $0.contains("ixfr=full") },
                "\(server.child.text.suffix(3000))")
        let fromSeven = try await ixfrFrom(7)
        #expect(fromSeven.indices.filter { Self.type(fromSeven[$0]) == "soa" }.count == 4,
                "the peer that took 7 from this process gets an incremental IXFR:\n\(fromSeven.prefix(12).joined(separator: "\n"))")

        // One line added and the serial raised: 8 is a version this process signed after its
        // first, so the IXFR from 8 is incremental.
        try Self.v6(9, extra: Self.addedLine).write(toFile: k.dir + "/v6.txt", atomically: true, encoding: .utf8)
        try Self.v4(9).write(toFile: k.dir + "/v4.txt", atomically: true, encoding: .utf8)
        let ixfr = try await ixfrFrom(8)
        // SOA 9, SOA 8, deleted…, SOA 9, added…, SOA 9.
        let soas = ixfr.indices.filter { Self.type(ixfr[$0]) == "soa" }
        try #require(soas.count == 4, "not an incremental IXFR:\n\(ixfr.joined(separator: "\n"))")
        let deleted = Array(ixfr[(soas[1] + 1)..<soas[2]]), added = Array(ixfr[(soas[2] + 1)..<soas[3]])
        let newText = try await runOffPool(Self.dig!, ["+tcp", "+onesoa", "-p", port, "@127.0.0.1", "bl.example", "AXFR"]).output
        let newAXFR = Self.records(newText)
        // Old + difference = new (as sets of RRs, the SOA aside).
        let oldSet = Set(axfr8.filter { Self.type($0) != "soa" }), newSet = Set(newAXFR.filter { Self.type($0) != "soa" })
        #expect(oldSet.subtracting(deleted).union(added) == newSet)
        #expect(added.contains { $0.hasPrefix("*.d.c.0.0.8.b.d.0.1.0.0.2.bl.example. in a 127.0.0.9") }, "\(added)")
        #expect(added.contains { Self.type($0) == "nsec" } && deleted.contains { Self.type($0) == "nsec" })
        // Only what changed: the new owners' RRsets, the predecessor's NSEC, the SOA's RRSIG.
        #expect(deleted.count + added.count < 40, "IXFR too large: \(deleted.count) deleted, \(added.count) added")
        #expect(!added.contains { Self.type($0) == "dnskey" } && !deleted.contains { Self.type($0) == "dnskey" })
        let line = server.child.text.split(separator: "\n").last { $0.contains("signed zone built for transfer") && $0.contains("serial=9") }
        #expect(line?.contains("rrsets_reused=") == true, "\(server.child.text.suffix(3000))")
        print("signed IXFR 8→9 after one added line: \(deleted.count) RRs deleted, \(added.count) added; \(line ?? "")")
        try newText.write(toFile: k.dir + "/axfr9.zone", atomically: true, encoding: .utf8)
        let v8 = try await Self.verifyZone(k.dir + "/axfr9.zone", k)
        #expect(v8.status == 0, "ldns-verify-zone after the reload: \(v8.output)")

        // Only versions this process sent a peer are its IXFR bases: 8 is kept (not the first
        // signed version), but 127.0.0.4 was never sent it, so it gets the whole zone of 9.
        let fromEight = try await ixfrFrom(8, source: "127.0.0.4")
        #expect(fromEight.indices.filter { Self.type(fromEight[$0]) == "soa" } == [0, fromEight.count - 1],
                "an IXFR from a serial this process never sent that peer is not the whole zone:\n\(fromEight.prefix(12).joined(separator: "\n"))")
        // An "up to date" answer (the SOA alone) carries no version: 127.0.0.3 asking from 9 at
        // 9, then from 9 after a reload to 10, gets the whole zone of 10; 127.0.0.1, which took
        // the AXFR of 9, the difference.
        let upToDate = Self.records(try await runOffPool(Self.dig!, ["+tcp", "-b", "127.0.0.3", "-p", port, "@127.0.0.1", "bl.example", "IXFR=9"]).output)
        #expect(upToDate.count == 1 && Self.type(upToDate[0]) == "soa", "\(upToDate.prefix(5))")
        try Self.v6(10, extra: Self.addedLine).write(toFile: k.dir + "/v6.txt", atomically: true, encoding: .utf8)
        try Self.v4(10, extra: "192.0.2.77\n").write(toFile: k.dir + "/v4.txt", atomically: true, encoding: .utf8)
        let fromNine = try await ixfrFrom(9, source: "127.0.0.3")
        #expect(fromNine.first?.contains(" 10 3600 ") == true && fromNine.indices.filter { Self.type(fromNine[$0]) == "soa" } == [0, fromNine.count - 1],
                "an IXFR from a serial the peer was answered \"up to date\" at is not the whole zone:\n\(fromNine.prefix(12).joined(separator: "\n"))")
        let ownNine = try await ixfrFrom(9)
        #expect(ownNine.indices.filter { Self.type(ownNine[$0]) == "soa" }.count == 4, "\(ownNine.prefix(12).joined(separator: "\n"))")
    }

    @Test("A signed zone is built for transfer at start, before any secondary asks; the first AXFR is served from that build (the serial is signed once)",
          .enabled(if: keygen != nil, "ldns-keygen (ldnsutils) is not installed"),
          .enabled(if: dig != nil, "dig (dnsutils) is not installed"))
    func prebuiltAtStart() async throws {
        let k = try await Self.keys()
        defer { try? FileManager.default.removeItem(atPath: k.dir) }
        let server = try await Self.serve(k)
        defer { server.child.signal(SIGTERM); _ = server.child.waitExit() }
        func lines(_ parts: String...) -> [Substring] {
            server.child.text.split(separator: "\n").filter { l in parts.allSatisfy { l.contains($0) } }
        }
        #expect(try await poll(30) { !lines("transfer prebuilt", "why=signed zone at start").isEmpty }, "\(server.child.text.suffix(3000))")
        let prebuilt = lines("transfer prebuilt", "why=signed zone at start")
        #expect(prebuilt.count == 1 && prebuilt.first?.contains("serial=7") == true, "\(prebuilt)")
        #expect(lines("zone transfer", "qtype=").isEmpty, "no transfer was asked yet")
        #expect(lines("signed zone built for transfer", "serial=7").count == 1, "\(server.child.text.suffix(3000))")

        let axfr = Self.records(try await runOffPool(Self.dig!, ["+tcp", "+onesoa", "-p", "\(server.v4.port)", "@127.0.0.1", "bl.example", "AXFR"]).output)
        #expect(axfr.first.map(Self.type) == "soa" && axfr.first?.contains(" 7 3600 ") == true && axfr.contains { Self.type($0) == "rrsig" })
        #expect(try await poll(10) { lines("zone transfer", "qtype=AXFR", "serial=7").count == 1 }, "\(server.child.text.suffix(3000))")
        // Served from the build made at start: the zone was not signed again for it.
        #expect(lines("signed zone built for transfer", "serial=7").count == 1, "\(server.child.text.suffix(3000))")
    }

    @Test("export --dnssec-key writes a signed master file ldns-verify-zone accepts, with the NSEC chain of the AXFR; a key for another zone and --expand-text are refused",
          .enabled(if: keygen != nil, "ldns-keygen (ldnsutils) is not installed"),
          .enabled(if: verify != nil, "ldns-verify-zone (ldnsutils) is not installed"),
          .enabled(if: dig != nil, "dig (dnsutils) is not installed"))
    func signedExport() async throws {
        let k = try await Self.keys()
        defer { try? FileManager.default.removeItem(atPath: k.dir) }
        let bin = try #require(prefixblBinary())
        let c = try await runOffPool(bin, ["compile", "bl.example:ip6trie:\(k.dir)/v6.txt", "bl.example:ip4set:\(k.dir)/v4.txt", "-o", k.dir + "/bl.pfxbl"])
        try #require(c.status == 0, "\(c.output)")
        let e = try await runOffPool(bin, ["export", k.dir + "/bl.pfxbl", "--dnssec-key", k.ksk, "--dnssec-key", k.zsk + ".private", "-o", k.dir + "/signed.zone"])
        try #require(e.status == 0, "\(e.output)")
        #expect(e.output.contains("signed:"), "\(e.output)")
        let v = try await Self.verifyZone(k.dir + "/signed.zone", k)
        #expect(v.status == 0, "ldns-verify-zone: \(v.output)")
        let exported = Self.records(try String(contentsOfFile: k.dir + "/signed.zone", encoding: .utf8))
        // The same chain as the transfer of the same data.
        let server = try await Self.serve(k)
        defer { server.child.signal(SIGTERM); _ = server.child.waitExit() }
        let axfr = Self.records(try await runOffPool(Self.dig!, ["+tcp", "+onesoa", "-p", "\(server.v4.port)", "@127.0.0.1", "bl.example", "AXFR"]).output)
        func chain(_ r: [String]) -> Set<String> { Set(r.filter { Self.type($0) == "nsec" }) }
        #expect(!chain(exported).isEmpty && chain(exported) == chain(axfr))
        func data(_ r: [String]) -> Set<String> { Set(r.filter { !["rrsig", "nsec"].contains(Self.type($0)) }) }
        #expect(data(exported) == data(axfr))

        let other = try await runOffPool("/bin/sh", ["-c", "cd '\(k.dir)' && '\(Self.keygen!)' -a ED25519 other.example"])
        let refused = try await runOffPool(bin, ["export", k.dir + "/bl.pfxbl", "--dnssec-key", k.dir + "/" + other.output.trimmingCharacters(in: .whitespacesAndNewlines)])
        #expect(refused.status != 0 && refused.output.contains("other.example"), "\(refused.output)")
        let text = try await runOffPool(bin, ["export", k.dir + "/bl.pfxbl", "--dnssec-key", k.ksk, "--expand-text", "x"])
        #expect(text.status != 0 && text.output.contains("--expand-text"), "\(text.output)")
    }

    @Test("NSD as an IXFR secondary of a signed zone with a date-style serial (YYYYMMDDnn, ahead of the Unix time) keeps validating through Unbound (our DS as trust anchor) across a restart of serve (same keys and data: within seconds the new process asks NSD its serial and makes a version past it, sent whole; no serial reused) and a reload that changes data (incremental)",
          .enabled(if: keygen != nil, "ldns-keygen (ldnsutils) is not installed"),
          .enabled(if: nsd != nil, "nsd not installed (tools/install-test-deps.sh installs it)"),
          .enabled(if: unbound != nil, "unbound is not installed"),
          .enabled(if: dig != nil, "dig (dnsutils) is not installed"))
    func nsdSecondaryValidates() async throws {
        let k = try await Self.keys()
        defer { try? FileManager.default.removeItem(atPath: k.dir) }
        let nsdPort = freeTCPPort(), primaryPort = freeTCPPort()
        // A date-style serial: versions without a data change count up from it by one.
        let d = 2026120701
        try Self.v6(d).write(toFile: k.dir + "/v6.txt", atomically: true, encoding: .utf8)
        try Self.v4(d).write(toFile: k.dir + "/v4.txt", atomically: true, encoding: .utf8)
        // A fixed port too, which the restarted process listens on again.
        let serveArgs = ["--notify", "127.0.0.1:\(nsdPort)", "--listen", "127.0.0.1:\(primaryPort)"]
        var server = try await Self.serve(k, serveArgs)
        defer { server.child.signal(SIGTERM); _ = server.child.waitExit() }
        let conf = nsdServerClauses(dir: k.dir, port: nsdPort) + """
            zone:
              name: bl.example
              request-xfr: 127.0.0.1@\(primaryPort) NOKEY
              allow-notify: 127.0.0.1 NOKEY

            """
        try conf.write(toFile: k.dir + "/nsd.conf", atomically: true, encoding: .utf8)
        let nsd = try ChildProcess(Self.nsd!, ["-d", "-c", k.dir + "/nsd.conf"], directory: k.dir)
        defer { stopTree(nsd.process.processIdentifier) }
        let secondary = try Resolver(server: "127.0.0.1", port: nsdPort, timeout: 2, retries: 2, recursionDesired: false)
        func serial() -> String? {
            guard let r = try? secondary.query(name: "bl.example", type: 6), r.rcode == 0 else { return nil }
            let line = r.text.split(separator: "\n").first { $0.contains("\tSOA\t") }
            return line?.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst(6).first.map(String.init)
        }

        let primary = try Resolver(server: "127.0.0.1", port: primaryPort, timeout: 2, retries: 2, recursionDesired: false)
        func served() -> String? {
            guard let r = try? primary.query(name: "bl.example", type: 6), r.rcode == 0 else { return nil }
            let line = r.text.split(separator: "\n").first { $0.contains("\tSOA\t") }
            return line?.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst(6).first.map(String.init)
        }
        // The first version comes at once: data serial + 1 (NSD, starting, holds nothing yet
        // or the data's serial; the log names what it was asked). NSD transfers it.
        _ = try await poll(60) { serial() == "\(d + 1)" }
        try #require(serial() == "\(d + 1)", "NSD did not load the zone:\n\(nsd.text)\n\(server.child.text.suffix(3000))")
        #expect(server.child.text.split(separator: "\n").contains {
            ($0.contains("cannot ask a secondary") || $0.contains("secondary holds")) && $0.contains("127.0.0.1:\(nsdPort)")
        }, "\(server.child.text.suffix(3000))")

        let unboundPort = freeTCPPort()
        let resolver = try StubResolver(unbound: Self.unbound!, directory: k.dir, port: unboundPort, zone: "bl.example",
                                        stubPort: nsdPort,
                                        server: ["val-log-level: 2", #"module-config: "validator iterator""#, #"trust-anchor: "\#(k.ds)""#])
        defer { resolver.stop() }
        #expect(try await poll(15) { try resolver.waitUp(zone: "bl.example", timeout: 0.3) }, "unbound did not start: \(resolver.child.text)")
        func validated(_ name: String, _ type: String) async throws -> (ad: Bool, output: String) {
            let r = try await runOffPool(Self.dig!, ["@127.0.0.1", "-p", "\(unboundPort)", "+dnssec", "+tries=2", "+time=3", name, type]).output
            let flags = r.split(separator: "\n").first { $0.contains(";; flags:") } ?? ""
            return (flags.contains(" ad") && !r.contains("SERVFAIL"), r)
        }
        for (name, type) in Self.names {
            let v = try await validated(name, type)
            #expect(v.ad, "\(name) \(type) through NSD: \(v.output)\nunbound:\n\(resolver.child.text.suffix(2000))")
        }

        // A restart with the same keys and data: the data's serial again, signed anew (NSD
        // holds the previous process's signatures under d + 1). The new process asks NSD, which
        // holds d + 1, and makes d + 2 at once (not d + 1 again: one serial, one content),
        // NOTIFY; NSD's IXFR from d + 1, a serial this process never sent it, gets the whole zone.
        server.child.signal(SIGTERM)
        _ = server.child.waitExit()
        let restarted = Date()
        server = try await Self.serve(k, serveArgs)
        _ = try await poll(20) { serial() == "\(d + 2)" }
        try #require(serial() == "\(d + 2)", "NSD did not get a serial past the one it held:\n\(nsd.text)\n\(server.child.text.suffix(3000))")
        #expect(Date().timeIntervalSince(restarted) < 20)
        #expect(served() == "\(d + 2)")
        #expect(server.child.text.contains("secondary holds") && server.child.text.contains("serial=\(d + 1)"), "\(server.child.text.suffix(3000))")
        let wholeLine = server.child.text.split(separator: "\n").first { $0.contains("qtype=IXFR") && $0.contains("serial=\(d + 2)") }
        #expect(wholeLine?.contains("client_serial=\(d + 1)") == true && wholeLine?.contains("ixfr=full") == true,
                "NSD's IXFR from the previous process's serial was not answered with the whole zone:\n\(server.child.text.suffix(3000))")
        for (name, type) in Self.names {
            let v = try await validated(name, type)
            #expect(v.ad, "\(name) \(type) after the restart: \(v.output)")
        }

        // A reload that changes data: NOTIFY, NSD follows by IXFR, Unbound validates the new data.
        try Self.v6(d + 10, extra: Self.addedLine).write(toFile: k.dir + "/v6.txt", atomically: true, encoding: .utf8)
        try Self.v4(d + 10).write(toFile: k.dir + "/v4.txt", atomically: true, encoding: .utf8)

        _ = try await poll(30) { serial() == "\(d + 10)" }
        try #require(serial() == "\(d + 10)", "NSD did not follow:\n\(nsd.text)\n\(server.child.text.suffix(3000))")
        let ixfrLine = server.child.text.split(separator: "\n").first { $0.contains("qtype=IXFR") && $0.contains("serial=\(d + 10)") }
        #expect(ixfrLine?.contains("client_serial=\(d + 2)") == true && ixfrLine?.contains("ixfr=incremental") == true,
                "NSD's IXFR was not answered incrementally:\n\(server.child.text.suffix(3000))")
        // No difference from a serial NSD held with other content (it would reject it and fall back).
        #expect(!nsd.text.contains("Failed to apply IXFR") && !nsd.text.lowercased().contains("ixfr failed")
                && !nsd.text.contains("starting AXFR"), "\(nsd.text)")
        // The resolver that cached the old chain keeps validating (the new /48 stays hidden by
        // its cached NSEC and wildcard until their TTL ends, as documented); a resolver with a
        // fresh cache validates the new data through NSD.
        for (name, type) in Self.names {
            let v = try await validated(name, type)
            #expect(v.ad, "\(name) \(type) after the reload: \(v.output)")
        }
        resolver.stop()
        let fresh = k.dir + "/fresh"
        try FileManager.default.createDirectory(atPath: fresh, withIntermediateDirectories: true)
        let second = try StubResolver(unbound: Self.unbound!, directory: fresh, port: unboundPort, zone: "bl.example",
                                      stubPort: nsdPort,
                                      server: ["val-log-level: 2", #"module-config: "validator iterator""#, #"trust-anchor: "\#(k.ds)""#])
        defer { second.stop() }
        #expect(try await poll(15) { try second.waitUp(zone: "bl.example", timeout: 0.3) }, "unbound did not start: \(second.child.text)")
        let after = try await validated(nibbleName("2001:db8:cd::2"), "A")
        #expect(after.ad && after.output.contains("127.0.0.9"), "\(after.output)\nunbound:\n\(second.child.text.suffix(2000))")
        for (name, type) in Self.names {
            let v = try await validated(name, type)
            #expect(v.ad, "\(name) \(type) after the reload, fresh cache: \(v.output)")
        }
        let nx = try await validated(nibbleName("2001:db9::77"), "A")
        #expect(nx.ad && nx.output.contains("NXDOMAIN"), "\(nx.output)")
    }
}
