#if canImport(Glibc)
import Glibc
#endif
import DNSBLServer
import DNSWire
import Foundation
import LDNSKit
import ServerTestSupport
import Testing
import TestSupport

/// Signatures renewed while serving and key rollovers, end to end: keys made by BIND's
/// dnssec-keygen and re-timed by dnssec-settime, the built binary, and Unbound validating
/// from our DS with no clock-skew allowance (an expired signature would be bogus at once).
@Suite("Signed serve over time: re-signing and key rollovers through Unbound", .serialized)
struct ResignServeTests {
    static let keygen = which("dnssec-keygen"), settime = which("dnssec-settime"), unbound = which("unbound"), dig = which("dig")

    /// SOA TTL 5 s: the DNSKEY RRset's TTL, so a validator's cached DNSKEY RRset turns over fast.
    static let v6 = "$SOA 5 ns1.bl.example hostmaster.example.org 7 5 5 604800 5\n$NS 5 ns1.bl.example\n:127.0.0.2:listed $\n2001:db8::/32\n"

    static func tool(_ path: String, _ args: [String], in dir: String) throws -> String {
        let r = try ServerTestSupport.run(path, args + [])
        guard r.status == 0 else { throw TestError.failed("\(path) \(args): \(r.output)") }
        _ = dir
        // dnssec-keygen prints the base name last (warnings come first).
        return String(r.output.split(separator: "\n").last ?? "").trimmingCharacters(in: .whitespaces)
    }

    struct Setup {
        let dir: String, keys: String, ksk: String, zsk: String, ds: String
    }

    /// A KSK and a ZSK made by dnssec-keygen in `dir/keys` (a key directory) and the DS.
    static func setup() throws -> Setup {
        let dir = try makeTempDirectory()
        let keys = dir + "/keys"
        try FileManager.default.createDirectory(atPath: keys, withIntermediateDirectories: true)
        try v6.write(toFile: dir + "/v6.txt", atomically: true, encoding: .utf8)
        let ksk = keys + "/" + (try tool(keygen!, ["-q", "-K", keys, "-a", "ECDSAP256SHA256", "-f", "KSK", "bl.example"], in: dir))
        let zsk = keys + "/" + (try tool(keygen!, ["-q", "-K", keys, "-a", "ECDSAP256SHA256", "bl.example"], in: dir))
        let ds = try ServerTestSupport.run(prefixblBinary()!, ["dnssec-ds", ksk]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        return Setup(dir: dir, keys: keys, ksk: ksk, zsk: zsk, ds: ds)
    }

    static func resolver(_ s: Setup, stubPort: UInt16) throws -> StubResolver {
        let port = try freeUDPAndTCPPort()
        let r = try StubResolver(unbound: unbound!, directory: s.dir, port: port, zone: "bl.example", stubPort: stubPort,
                                 server: ["val-log-level: 2", #"module-config: "validator iterator""#, #"trust-anchor: "\#(s.ds)""#,
                                          "val-sig-skew-min: 0", "val-sig-skew-max: 0"])
        #expect(try r.waitUp(zone: "bl.example"), "unbound did not start: \(r.child.text)")
        return r
    }

    /// Through Unbound: the RCODE text and whether AD is set.
    static func validated(_ r: StubResolver, _ name: String, _ type: String = "A") throws -> (rcode: String, ad: Bool, text: String) {
        let out = try ServerTestSupport.run(dig!, ["@127.0.0.1", "-p", "\(r.port)", "+dnssec", "+tries=2", "+time=3", name, type]).output
        let flags = out.split(separator: "\n").first { $0.contains(";; flags:") } ?? ""
        let status = out.range(of: "status: ").map { String(out[$0.upperBound...].prefix { $0 != "," }) } ?? "?"
        return (status, flags.contains(" ad"), out)
    }

    /// Straight from serve, DO=1: the answer's RRSIGs (key tag, expiration) and DNSKEY tags.
    static func direct(_ server: ServeProcess, _ name: String, _ type: UInt16) throws -> (sigs: [(tag: UInt16, expiration: UInt32)], dnskeys: Set<UInt16>) {
        let a = try #require(try udpQuery(server.v4, query(name, type, edns: EDNS(size: 4096, dnssecOK: true))))
        let p = try Packet(wire: a)
        func u32(_ b: [UInt8]) -> UInt32 { b.reduce(0) { $0 << 8 | UInt32($1) } }
        let sigs = p.answer.filter { $0.type == 46 }.map { (UInt16(u32($0.rdataFields[6])), u32($0.rdataFields[4])) }
        let keys = Set(p.answer.filter { $0.type == 48 }.map { Self.keyTag($0.rdataFields.flatMap { $0 }) })
        return (sigs, keys)
    }

    /// The key tag of RFC 4034 Appendix B over DNSKEY RDATA.
    static func keyTag(_ rdata: [UInt8]) -> UInt16 {
        var ac: UInt32 = 0
        for (i, b) in rdata.enumerated() { ac += i & 1 == 1 ? UInt32(b) : UInt32(b) << 8 }
        return UInt16((ac + (ac >> 16)) & 0xFFFF)
    }

    static func metric(_ server: ServeProcess, _ series: String) throws -> Double {
        try ServerTestSupport.metric(server, series)
    }

    @Test("Expiry: with a one-minute validity signatures are renewed in the background and Unbound keeps getting AD across the expiry of the first ones",
          .enabled(if: keygen != nil, "dnssec-keygen (bind9) is not installed"),
          .enabled(if: unbound != nil, "unbound is not installed"),
          .enabled(if: dig != nil, "dig (dnsutils) is not installed"))
    func expiry() throws {
        let s = try Self.setup()
        defer { try? FileManager.default.removeItem(atPath: s.dir) }
        let server = try ServeProcess(["bl.example:ip6trie:v6.txt", "--dnssec-key", s.keys, "--metrics", "127.0.0.1:0",
                                       "--dnssec-validity", "60", "--dnssec-refresh", "20", "--dnssec-inception-offset", "5"],
                                      directory: s.dir, ipv6: false)
        defer { server.child.signal(SIGTERM); _ = server.child.waitExit() }
        let resolver = try Self.resolver(s, stubPort: server.v4.port)
        defer { resolver.stop() }
        let listed = nibbleName("2001:db8::5"), unlisted = nibbleName("2001:db9::1")
        let started = Date()
        var rounds = 0
        // 100 s: the first signatures (made in the first seconds) expire at about 60 s.
        while Date().timeIntervalSince(started) < 100 {
            rounds += 1
            for (name, rcode) in [(listed, "NOERROR"), (unlisted, "NXDOMAIN")] {
                let v = try Self.validated(resolver, name)
                #expect(v.rcode == rcode && v.ad, "after \(Int(Date().timeIntervalSince(started))) s: \(v.text)\nunbound:\n\(resolver.child.text.suffix(2000))")
            }
            let now = UInt32(time(nil))
            for sig in try Self.direct(server, listed, 1).sigs {
                #expect(sig.expiration > now + 15, "served a signature expiring at \(sig.expiration), now \(now)")
            }
            let soonest = try Self.metric(server, #"prefixbl_dnssec_soonest_signature_expiry_seconds{zone="bl.example"}"#)
            #expect(soonest > 0, "soonest expiry \(soonest) s")
            Thread.sleep(forTimeInterval: 2)
        }
        #expect(rounds > 20)
        #expect(try Self.metric(server, #"prefixbl_dnssec_background_resigned_total{zone="bl.example"}"#) >= 2,
                "\(server.child.text.suffix(2000))")
    }

    @Test("ZSK rollover by pre-publication with dnssec-keygen -P/-A and dnssec-settime -I/-D, SIGHUP: Unbound validates throughout",
          .enabled(if: keygen != nil && settime != nil, "dnssec-keygen / dnssec-settime (bind9) are not installed"),
          .enabled(if: unbound != nil, "unbound is not installed"),
          .enabled(if: dig != nil, "dig (dnsutils) is not installed"))
    func zskRollover() throws {
        let s = try Self.setup()
        defer { try? FileManager.default.removeItem(atPath: s.dir) }
        let server = try ServeProcess(["bl.example:ip6trie:v6.txt", "--dnssec-key", s.keys], directory: s.dir, ipv6: false)
        defer { server.child.signal(SIGTERM); _ = server.child.waitExit() }
        let resolver = try Self.resolver(s, stubPort: server.v4.port)
        defer { resolver.stop() }
        let listed = nibbleName("2001:db8::5"), unlisted = nibbleName("2001:db9::1")
        func tag(_ base: String) -> UInt16 { UInt16(base.split(separator: "+").last!)! }
        let kskTag = tag(s.ksk), oldTag = tag(s.zsk)
        func check(_ when: String) throws {
            for (name, rcode, type) in [(listed, "NOERROR", "A"), (unlisted, "NXDOMAIN", "A"), ("bl.example", "NOERROR", "DNSKEY")] {
                let v = try Self.validated(resolver, name, type)
                #expect(v.rcode == rcode && v.ad, "\(when): \(v.text)\nunbound:\n\(resolver.child.text.suffix(2000))")
            }
        }
        try check("before the roll")
        #expect(try Self.direct(server, "bl.example", 48).dnskeys == [kskTag, oldTag])
        // Pre-publish the new ZSK now, active in 20 s; the old one inactive then, deleted 15 s later.
        let next = s.keys + "/" + (try Self.tool(Self.keygen!, ["-q", "-K", s.keys, "-a", "ECDSAP256SHA256", "-P", "now", "-A", "now+20", "bl.example"], in: s.dir))
        let newTag = tag(next)
        _ = try Self.tool(Self.settime!, ["-K", s.keys, "-I", "now+20", "-D", "now+35", s.zsk], in: s.dir)
        let rolled = Date().addingTimeInterval(20)
        server.child.signal(SIGHUP)
        #expect(server.child.waitFor("keys re-read at reload"), "\(server.child.text.suffix(2000))")
        #expect(try Self.direct(server, "bl.example", 48).dnskeys == [kskTag, oldTag, newTag], "published, not signing")
        #expect(try Self.direct(server, listed, 1).sigs.map(\.tag) == [oldTag])
        while Date() < rolled { try check("new ZSK published"); Thread.sleep(forTimeInterval: 2) }
        Thread.sleep(forTimeInterval: 2)
        #expect(try Self.direct(server, listed, 1).sigs.map(\.tag) == [newTag], "\(server.child.text.suffix(2000))")
        #expect(try Self.direct(server, "bl.example", 48).dnskeys == [kskTag, oldTag, newTag], "the old ZSK published until Delete")
        let deleted = Date().addingTimeInterval(15)
        while Date() < deleted { try check("new ZSK active"); Thread.sleep(forTimeInterval: 2) }
        Thread.sleep(forTimeInterval: 2)
        #expect(try Self.direct(server, "bl.example", 48).dnskeys == [kskTag, newTag])
        for _ in 0..<4 { try check("old ZSK deleted"); Thread.sleep(forTimeInterval: 2) }
        #expect(server.child.text.contains("a key timing boundary passed"), "\(server.child.text.suffix(2000))")
    }

    @Test("Every key's Delete passing while serving (dnssec-settime -D, SIGHUP): DNSKEY keeps the last keys, Unbound validates, logged once with a metric",
          .enabled(if: keygen != nil && settime != nil, "dnssec-keygen / dnssec-settime (bind9) are not installed"),
          .enabled(if: unbound != nil, "unbound is not installed"),
          .enabled(if: dig != nil, "dig (dnsutils) is not installed"))
    func everyKeyDeleted() throws {
        let s = try Self.setup()
        defer { try? FileManager.default.removeItem(atPath: s.dir) }
        let server = try ServeProcess(["bl.example:ip6trie:v6.txt", "--dnssec-key", s.keys, "--metrics", "127.0.0.1:0"],
                                      directory: s.dir, ipv6: false)
        defer { server.child.signal(SIGTERM); _ = server.child.waitExit() }
        let resolver = try Self.resolver(s, stubPort: server.v4.port)
        defer { resolver.stop() }
        func tag(_ base: String) -> UInt16 { UInt16(base.split(separator: "+").last!)! }
        let kskTag = tag(s.ksk), zskTag = tag(s.zsk)
        // One Delete time for both (two `now+8` could fall in different seconds, and a KSK
        // deleted a second before the ZSK leaves the ZSK alone for that second: see DNSSEC.md).
        var t = time(nil) + 8, parts = tm()
        gmtime_r(&t, &parts)
        let at = String(format: "%04d%02d%02d%02d%02d%02d", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec)
        for k in [s.ksk, s.zsk] { _ = try Self.tool(Self.settime!, ["-K", s.keys, "-D", at, k], in: s.dir) }
        let deleted = Date().addingTimeInterval(8)
        server.child.signal(SIGHUP)
        #expect(server.child.waitFor("re-read at reload"), "\(server.child.text.suffix(2000))")
        Thread.sleep(forTimeInterval: max(0, deleted.timeIntervalSinceNow) + 3)
        #expect(server.child.waitFor("no key is published"), "\(server.child.text.suffix(2000))")
        let dnskey = try Self.direct(server, "bl.example", 48)
        #expect(dnskey.dnskeys == [kskTag, zskTag], "\(server.child.text.suffix(2000))")
        #expect(dnskey.sigs.map(\.tag) == [kskTag])
        #expect(try Self.direct(server, nibbleName("2001:db8::5"), 1).sigs.map(\.tag) == [zskTag])
        for (name, type) in [("bl.example", "DNSKEY"), (nibbleName("2001:db8::5"), "A")] {
            let v = try Self.validated(resolver, name, type)
            #expect(v.rcode == "NOERROR" && v.ad, "\(v.text)\nunbound:\n\(resolver.child.text.suffix(2000))")
        }
        #expect(try Self.metric(server, #"prefixbl_dnssec_keys_held_over{zone="bl.example"}"#) == 1)
        Thread.sleep(forTimeInterval: 2)
        #expect(server.child.text.components(separatedBy: "no key is published").count == 2, "logged once")
    }

    @Test("A key directory shared by several zones: other zones' keys skipped with a notice at start and at SIGHUP, a lone .private named, DS logged only for published keys; dnssec-ds reads the directory",
          .enabled(if: keygen != nil, "dnssec-keygen (bind9) is not installed"))
    func sharedDirectory() throws {
        let s = try Self.setup()
        defer { try? FileManager.default.removeItem(atPath: s.dir) }
        // Another zone's key (a CSK, no active key even), a KSK of ours deleted an hour ago, half a pair.
        let other = s.keys + "/" + (try Self.tool(Self.keygen!, ["-q", "-K", s.keys, "-a", "ECDSAP256SHA256", "-P", "now", "-A", "now+1d", "other.example"], in: s.dir))
        let retired = s.keys + "/" + (try Self.tool(Self.keygen!, ["-q", "-K", s.keys, "-a", "ECDSAP256SHA256", "-f", "KSK", "-P", "now-2h", "-A", "now-2h", "-I", "now-90mi", "-D", "now-1h", "bl.example"], in: s.dir))
        try "Private-key-format: v1.3\n".write(toFile: s.keys + "/Kbl.example.+013+00001.private", atomically: true, encoding: .utf8)
        let binary = prefixblBinary()!
        let ds = try ServerTestSupport.run(binary, ["dnssec-ds", s.keys])
        #expect(ds.status == 0, "\(ds.output)")
        let otherDS = try ServerTestSupport.run(binary, ["dnssec-ds", other]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        let retiredDS = try ServerTestSupport.run(binary, ["dnssec-ds", retired]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(ds.output.contains(s.ds) && ds.output.contains(otherDS) && !ds.output.contains(retiredDS), "\(ds.output)")
        #expect(ds.output.contains("not published now): no DS") && ds.output.contains("Kbl.example.+013+00001.private"), "\(ds.output)")
        let server = try ServeProcess(["bl.example:ip6trie:v6.txt", "--dnssec-key", s.keys], directory: s.dir, ipv6: false)
        defer { server.child.signal(SIGTERM); _ = server.child.waitExit() }
        let text = server.child.text
        #expect(text.contains("key directory for a zone not served: skipped") && text.contains("other.example"), "\(text)")
        #expect(text.contains("Kbl.example.+013+00001.private"), "\(text)")
        #expect(text.contains(s.ds) && !text.contains(retiredDS), "\(text)")
        #expect(text.contains("not published"), "\(text)")
        server.child.signal(SIGHUP)
        #expect(server.child.waitFor("key directory for a zone not served: skipped", count: 2), "\(server.child.text.suffix(2000))")
        let after = server.child.text
        #expect(!after.contains("DNSSEC key for a zone not signed since start"), "\(after)")
        #expect(try Self.direct(server, "bl.example", 48).dnskeys.count == 2)
    }

    @Test("A key directory where no key is active stops the start, naming the zone",
          .enabled(if: keygen != nil, "dnssec-keygen (bind9) is not installed"))
    func noActiveKeyRefused() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.v6.write(toFile: dir + "/v6.txt", atomically: true, encoding: .utf8)
        _ = try Self.tool(Self.keygen!, ["-q", "-K", dir, "-a", "ECDSAP256SHA256", "-P", "now", "-A", "now+3600", "bl.example"], in: dir)
        let child = try ChildProcess(prefixblBinary()!, ["serve", "--listen", "127.0.0.1:0", "bl.example:ip6trie:v6.txt", "--dnssec-key", dir], directory: dir)
        // Known to be served only once the data is loaded: a start failure (exit 2).
        #expect(child.waitExit(timeout: 20) == 2)
        #expect(child.text.contains("no key of zone bl.example. is active"), "\(child.text)")
    }
}
