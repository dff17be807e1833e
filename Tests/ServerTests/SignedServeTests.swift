#if canImport(Glibc)
import Glibc
#endif
import DNSBLServer
import Foundation
import LDNSKit
import ServerTestSupport
import Testing
import TestSupport

/// `serve --dnssec-key` end to end: the built binary, keys made by ldns-keygen, and real
/// validators (Unbound with our DS as trust anchor and a stub zone; BIND's delv) started by
/// the test on their own ports.
@Suite("Signed serve end to end: Unbound and delv validate", .serialized)
struct SignedServeTests {
    static let keygen = which("ldns-keygen"), unbound = which("unbound"), delv = which("delv"), dig = which("dig")

    static let soa = "$SOA 3600 ns1.bl.example hostmaster.example.org 7 3600 600 604800 300\n$NS 3600 ns1.bl.example\n"
    static let v6 = soa + ":127.0.0.2:listed $\n2001:db8::/32\n!2001:db8:0:1::/64\n2001:db8:ab::1 :127.0.0.3:exact\n"
    static let v4 = soa + ":127.0.0.2:v4 $\n192.0.2.0/24\n!192.0.2.9\n"

    /// Name, type, expected RCODE text, what it is.
    static let names: [(String, String, String, String)] = [
        (nibbleName("2001:db8::5"), "A", "NOERROR", "listed IPv6"),
        (nibbleName("2001:db8::5"), "TXT", "NOERROR", "listed IPv6 TXT"),
        (nibbleName("2001:db8:ab::1"), "A", "NOERROR", "listed IPv6 exact"),
        (nibbleName("2001:db9::1"), "A", "NXDOMAIN", "unlisted IPv6"),
        (nibbleName("2001:db8:0:1::9"), "A", "NXDOMAIN", "excluded IPv6"),
        ("1.0.0.2.bl.example", "A", "NOERROR", "empty non-terminal"),
        ("5.2.0.192.bl.example", "A", "NOERROR", "listed IPv4"),
        ("5.2.0.192.bl.example", "TXT", "NOERROR", "listed IPv4 TXT"),
        ("9.2.0.192.bl.example", "A", "NOERROR", "excluded IPv4 (marker, NODATA)"),
        ("5.3.0.192.bl.example", "A", "NXDOMAIN", "unlisted IPv4"),
        ("bl.example", "SOA", "NOERROR", "apex SOA"),
        ("bl.example", "NS", "NOERROR", "apex NS"),
        ("bl.example", "DNSKEY", "NOERROR", "apex DNSKEY"),
        ("02.2.0.192.bl.example", "A", "NOERROR", "leading-zero label under a wildcard"),
        ("5.2.00.192.bl.example", "A", "NXDOMAIN", "leading-zero label, no wildcard"),
        ("1.5.2.0.192.bl.example", "A", "NOERROR", "below a full IPv4 address under a wildcard"),
        ("x." + nibbleName("2001:db8::5"), "A", "NOERROR", "below a full IPv6 address under a wildcard"),
        ("x." + nibbleName("::ffff:192.0.2.5"), "A", "NOERROR", "below a full ::ffff image under a wildcard"),
    ]

    struct Signed {
        let dir: String
        let server: ServeProcess
        let ds: String
        let kskBase: String
        let secrets: [String]
    }

    /// Keys (a KSK and a ZSK from ldns-keygen), data and a running signed `serve`.
    static func start(extra: [String] = []) throws -> Signed {
        let dir = try makeTempDirectory()
        try v6.write(toFile: dir + "/v6.txt", atomically: true, encoding: .utf8)
        try v4.write(toFile: dir + "/v4.txt", atomically: true, encoding: .utf8)
        let ksk = try run(keygen!, ["-a", "ECDSAP256SHA256", "-k", "bl.example"], in: dir)
        let zsk = try run(keygen!, ["-a", "ED25519", "bl.example"], in: dir)
        let kskBase = dir + "/" + ksk.trimmingCharacters(in: .whitespacesAndNewlines)
        let zskBase = dir + "/" + zsk.trimmingCharacters(in: .whitespacesAndNewlines)
        var secrets: [String] = []
        for base in [kskBase, zskBase] {
            let text = try String(contentsOfFile: base + ".private", encoding: .utf8)
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("PrivateKey:") }) {
                secrets.append(line.dropFirst("PrivateKey:".count).trimmingCharacters(in: .whitespaces))
            }
        }
        let ds = try run(prefixblBinary()!, ["dnssec-ds", kskBase], in: dir).trimmingCharacters(in: .whitespacesAndNewlines)
        let server = try ServeProcess(["bl.example:ip6trie:v6.txt", "bl.example:ip4set:v4.txt",
                                       "--dnssec-key", kskBase + ".key", "--dnssec-key", zskBase] + extra,
                                      directory: dir, ipv6: false)
        return Signed(dir: dir, server: server, ds: ds, kskBase: kskBase, secrets: secrets)
    }

    /// An Unbound with the zone's DS as trust anchor and a stub zone to the signed server,
    /// started and waited for; its port.
    static func validatingUnbound(_ s: Signed) throws -> (StubResolver, UInt16) {
        let port = try freeUDPAndTCPPort()
        let resolver = try StubResolver(unbound: unbound!, directory: s.dir, port: port, zone: "bl.example",
                                        stubPort: s.server.v4.port,
                                        server: ["val-log-level: 2", #"module-config: "validator iterator""#, #"trust-anchor: "\#(s.ds)""#])
        #expect(try resolver.waitUp(zone: "bl.example"), "unbound did not start: \(resolver.child.text)")
        return (resolver, port)
    }

    /// `dig +dnssec NAME TYPE` through the resolver on `port`: the output and its flags line.
    static func askDO(port: UInt16, _ name: String, _ type: String) throws -> ((status: Int32, output: String), Substring) {
        let r = try ServerTestSupport.run(dig!, ["@127.0.0.1", "-p", "\(port)", "+dnssec", "+tries=2", "+time=3", name, type])
        return (r, r.output.split(separator: "\n").first { $0.contains(";; flags:") } ?? "")
    }

    static func run(_ tool: String, _ args: [String], in dir: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw TestError.failed("\(tool) \(args) exited \(p.terminationStatus)") }
        return String(decoding: data, as: UTF8.self)
    }

    @Test("Unbound with our DS as trust anchor: AD on every kind of name",
          .enabled(if: keygen != nil, "ldns-keygen (ldnsutils) is not installed"),
          .enabled(if: unbound != nil, "unbound is not installed"),
          .enabled(if: dig != nil, "dig (dnsutils) is not installed"))
    func unboundValidates() throws {
        let s = try Self.start()
        defer { s.server.child.signal(SIGTERM); _ = s.server.child.waitExit(); try? FileManager.default.removeItem(atPath: s.dir) }
        let (resolver, port) = try Self.validatingUnbound(s)
        defer { resolver.stop() }
        for (name, type, rcode, what) in Self.names {
            let (r, flags) = try Self.askDO(port: port, name, type)
            #expect(r.output.contains("status: \(rcode)") && flags.contains(" ad"),
                    "\(what): \(r.output)\nunbound:\n\(resolver.child.text.suffix(3000))")
        }
    }

    /// DNSSEC QTYPEs asked for, ANY and literal wildcard owners: name, type, RCODE text, what.
    static let explicitNames: [(String, String, String, String)] = [
        ("bl.example", "NSEC", "NOERROR", "apex NSEC"),
        (nibbleName("2001:db8:ab::1"), "NSEC", "NOERROR", "NSEC at a name owning RRsets"),
        ("5.3.0.192.bl.example", "NSEC", "NXDOMAIN", "NSEC at a name that does not exist"),
        ("5.2.0.192.bl.example", "NSEC", "NOERROR", "NSEC at a name a wildcard synthesises"),
        ("5.3.0.192.bl.example", "RRSIG", "NXDOMAIN", "RRSIG at a name that does not exist"),
        ("bl.example", "ANY", "NOERROR", "apex ANY"),
        (nibbleName("2001:db8:ab::1"), "ANY", "NOERROR", "ANY at a listed name"),
        ("5.2.0.192.bl.example", "ANY", "NOERROR", "ANY under a wildcard"),
        ("*.2.0.192.bl.example", "A", "NOERROR", "literal wildcard owner"),
        ("*.2.0.192.bl.example", "TXT", "NOERROR", "literal wildcard owner TXT"),
        ("*.2.0.192.bl.example", "AAAA", "NOERROR", "literal wildcard owner, other type"),
        ("*.8.b.d.0.1.0.0.2.bl.example", "A", "NOERROR", "literal IPv6 wildcard owner"),
    ]

    @Test("Unbound with our DS as trust anchor: explicit NSEC/RRSIG/DNSKEY queries, ANY and literal wildcard owners validate (AD); RRSIG queries are answered, not SERVFAIL",
          .enabled(if: keygen != nil, "ldns-keygen (ldnsutils) is not installed"),
          .enabled(if: unbound != nil, "unbound is not installed"),
          .enabled(if: dig != nil, "dig (dnsutils) is not installed"))
    func unboundExplicitTypes() throws {
        let s = try Self.start()
        defer { s.server.child.signal(SIGTERM); _ = s.server.child.waitExit(); try? FileManager.default.removeItem(atPath: s.dir) }
        let (resolver, port) = try Self.validatingUnbound(s)
        defer { resolver.stop() }
        for (name, type, rcode, what) in Self.explicitNames {
            let (r, flags) = try Self.askDO(port: port, name, type)
            #expect(r.output.contains("status: \(rcode)") && flags.contains(" ad"),
                    "\(what): \(r.output)\nunbound:\n\(resolver.child.text.suffix(3000))")
        }
        // QTYPE HINFO at an exclusion marker (the signed zone's HINFO stopping the wildcard): the
        // marker's RRset, validated; a NODATA there contradicted its own NSEC (bogus).
        for name in ["9.2.0.192.bl.example", "1.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.example"] {
            for type in ["HINFO", "ANY"] {
                let r = try ServerTestSupport.run(Self.dig!, ["@127.0.0.1", "-p", "\(port)", "+dnssec", "+tries=2", "+time=3", name, type])
                let flags = r.output.split(separator: "\n").first { $0.contains(";; flags:") } ?? ""
                #expect(r.output.contains("status: NOERROR") && flags.contains(" ad") && r.output.contains("\"excluded\" \"prefixbl\""),
                        "\(type) at the exclusion marker \(name): \(r.output)\nunbound:\n\(resolver.child.text.suffix(3000))")
            }
        }
        // QTYPE RRSIG: the breaker's query got a self-contradicting NODATA that Unbound called bogus.
        for name in [nibbleName("2001:db8:ab::1"), "bl.example", "5.2.0.192.bl.example"] {
            let r = try ServerTestSupport.run(Self.dig!, ["@127.0.0.1", "-p", "\(port)", "+dnssec", "+tries=2", "+time=3", name, "RRSIG"])
            #expect(r.output.contains("status: NOERROR") && Self.hasRecord(r.output, "RRSIG"),
                    "RRSIG at \(name): \(r.output)\nunbound:\n\(resolver.child.text.suffix(3000))")
        }
        // Straight to the server without DO: DNSKEY, NSEC and RRSIG answered (RFC 4035 §3.1).
        for (name, type) in [("bl.example", "DNSKEY"), ("bl.example", "NSEC"), (nibbleName("2001:db8:ab::1"), "RRSIG")] {
            let r = try ServerTestSupport.run(Self.dig!, ["@127.0.0.1", "-p", "\(s.server.v4.port)", "+norec", name, type])
            #expect(r.output.contains("status: NOERROR") && !r.output.contains("ANSWER: 0,") && Self.hasRecord(r.output, type),
                    "\(name) \(type) without DO: \(r.output)")
        }
    }

    /// `--dnssec-ent-rrset`: names of every kind, and the empty non-terminals, which now own an
    /// HINFO RRset and an NSEC: name, type, RCODE text, what.
    static let entNames: [(String, String, String, String)] = names + [
        ("1.0.0.2.bl.example", "HINFO", "NOERROR", "empty non-terminal HINFO"),
        ("1.0.0.2.bl.example", "TXT", "NOERROR", "empty non-terminal TXT (NODATA)"),
        ("1.0.0.2.bl.example", "NSEC", "NOERROR", "empty non-terminal NSEC"),
        ("1.0.0.2.bl.example", "ANY", "NOERROR", "empty non-terminal ANY"),
        ("2.0.192.bl.example", "A", "NOERROR", "IPv4 empty non-terminal (a wildcard's parent)"),
        ("2.0.192.bl.example", "HINFO", "NOERROR", "IPv4 empty non-terminal HINFO"),
        ("0.192.bl.example", "HINFO", "NOERROR", "IPv4 empty non-terminal HINFO, higher"),
        ("8.b.d.0.1.0.0.2.bl.example", "A", "NOERROR", "IPv6 empty non-terminal, a wildcard's parent"),
        ("8.b.d.0.1.0.0.2.bl.example", "HINFO", "NOERROR", "IPv6 empty non-terminal, a wildcard's parent, HINFO"),
        ("5.3.0.192.bl.example", "HINFO", "NXDOMAIN", "HINFO at a name that does not exist"),
    ]

    @Test("--dnssec-ent-rrset: Unbound validates (AD) every kind of name and the HINFO at empty non-terminals; without DO the HINFO is answered, A stays NODATA",
          .enabled(if: keygen != nil, "ldns-keygen (ldnsutils) is not installed"),
          .enabled(if: unbound != nil, "unbound is not installed"),
          .enabled(if: dig != nil, "dig (dnsutils) is not installed"))
    func unboundValidatesEmptyNonTerminalRecords() throws {
        let s = try Self.start(extra: ["--dnssec-ent-rrset"])
        defer { s.server.child.signal(SIGTERM); _ = s.server.child.waitExit(); try? FileManager.default.removeItem(atPath: s.dir) }
        let (resolver, port) = try Self.validatingUnbound(s)
        defer { resolver.stop() }
        for (name, type, rcode, what) in Self.entNames {
            let (r, flags) = try Self.askDO(port: port, name, type)
            #expect(r.output.contains("status: \(rcode)") && flags.contains(" ad"),
                    "\(what): \(r.output)\nunbound:\n\(resolver.child.text.suffix(3000))")
            if type == "HINFO" && rcode == "NOERROR" {
                #expect(Self.hasRecord(r.output, "HINFO") && r.output.contains("\"empty-non-terminal\" \"prefixbl\""), "\(what): \(r.output)")
            }
            if type == "NSEC" { #expect(!r.output.contains("ANSWER: 0,"), "\(what): \(r.output)") }
        }
        // QTYPE RRSIG (a resolver passes it on without validating it): the HINFO's and the NSEC's.
        let rr = try ServerTestSupport.run(Self.dig!, ["@127.0.0.1", "-p", "\(port)", "+dnssec", "+tries=2", "+time=3",
                                                       "1.0.0.2.bl.example", "RRSIG"])
        #expect(rr.output.contains("status: NOERROR") && rr.output.contains("RRSIG\tHINFO ") && rr.output.contains("RRSIG\tNSEC "),
                "RRSIG at an empty non-terminal: \(rr.output)")
        // The ENT's own NSEC at DO=1, straight from the server: owner the ENT, bitmap HINFO RRSIG NSEC.
        let d = try ServerTestSupport.run(Self.dig!, ["@127.0.0.1", "-p", "\(s.server.v4.port)", "+norec", "+dnssec",
                                                      "1.0.0.2.bl.example", "A"])
        #expect(d.output.contains("status: NOERROR") && d.output.contains("ANSWER: 0,"), "\(d.output)")
        #expect(d.output.split(separator: "\n").contains { $0.hasPrefix("1.0.0.2.bl.example.") && $0.contains("NSEC") && $0.hasSuffix("HINFO RRSIG NSEC") },
                "\(d.output)")
        // Without DO: the HINFO answered, A and TXT NODATA, an unlisted name NXDOMAIN as before.
        for (type, answered) in [("HINFO", true), ("ANY", true), ("A", false), ("TXT", false)] {
            let r = try ServerTestSupport.run(Self.dig!, ["@127.0.0.1", "-p", "\(s.server.v4.port)", "+norec", "1.0.0.2.bl.example", type])
            #expect(r.output.contains("status: NOERROR") && Self.hasRecord(r.output, "HINFO") == answered
                    && r.output.contains("ANSWER: 0,") == !answered, "\(type) without DO: \(r.output)")
        }
    }

    @Test("--dnssec-ent-rrset without --dnssec-key stops the start, naming the option")
    func emptyNonTerminalRecordsNeedKeys() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.v4.write(toFile: dir + "/v4.txt", atomically: true, encoding: .utf8)
        let child = try ChildProcess(prefixblBinary()!, ["serve", "--listen", "127.0.0.1:0", "bl.example:ip4set:v4.txt",
                                                         "--dnssec-ent-rrset"], directory: dir)
        #expect(child.waitExit(timeout: 20) == 64)
        #expect(child.text.contains("--dnssec-ent-rrset needs --dnssec-key"), "\(child.text)")
        let r = try ServerTestSupport.run(prefixblBinary()!, ["rbldnsd", "--dnssec-key", "/keys/K", "--dnssec-ent-rrset", "--print-serve",
                                                             "-b", "127.0.0.1/5353", "bl.example:ip4set:v4.txt"])
        let line = r.output.split(separator: "\n").first { $0.hasPrefix("prefixbl serve") } ?? ""
        let flag = line.range(of: "--dnssec-ent-rrset"), end = line.range(of: " -- ")
        #expect(r.status == 0 && flag != nil && end != nil && flag!.lowerBound < end!.lowerBound, "\(r.output)")
    }

    /// Whether dig's output has a record of `type` (owner, TTL, class, type: tabs or spaces).
    static func hasRecord(_ output: String, _ type: String) -> Bool {
        output.split(separator: "\n").contains { line in
            !line.hasPrefix(";") && line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst(3).first == Substring(type)
        }
    }

    @Test("delv validates the same names from the DS",
          .enabled(if: keygen != nil, "ldns-keygen (ldnsutils) is not installed"),
          .enabled(if: delv != nil, "delv (bind9-dnsutils) is not installed"))
    func delvValidates() throws {
        let s = try Self.start()
        defer { s.server.child.signal(SIGTERM); _ = s.server.child.waitExit(); try? FileManager.default.removeItem(atPath: s.dir) }
        // "bl.example. IN DS tag alg 2 hex" → static-ds.
        let f = s.ds.split(separator: " ").map(String.init)
        let anchors = "trust-anchors { bl.example. static-ds \(f[3]) \(f[4]) \(f[5]) \"\(f[6])\"; };\n"
        try anchors.write(toFile: s.dir + "/anchors.conf", atomically: true, encoding: .utf8)
        for (name, type, rcode, what) in Self.names {
            let r = try ServerTestSupport.run(Self.delv!, ["@127.0.0.1", "-p", "\(s.server.v4.port)", "-a", s.dir + "/anchors.conf",
                                                         "+root=bl.example", name, type])
            #expect(r.output.contains("fully validated"), "\(what) (\(rcode)): \(r.output)")
            if rcode == "NXDOMAIN" { #expect(r.output.contains("nxdomain") || r.output.contains("NXDOMAIN"), "\(what): \(r.output)") }
        }
    }

    @Test("The DS is logged at start, the private keys never; metrics count DO=1 queries and signatures",
          .enabled(if: keygen != nil, "ldns-keygen (ldnsutils) is not installed"))
    func logAndMetrics() throws {
        let s = try Self.start(extra: ["--metrics", "127.0.0.1:0"])
        defer { s.server.child.signal(SIGTERM); _ = s.server.child.waitExit(); try? FileManager.default.removeItem(atPath: s.dir) }
        let fields = s.ds.split(separator: " ")
        #expect(s.server.child.text.contains("DS=\(fields.dropFirst(3).joined(separator: " "))") || s.server.child.text.contains(String(fields.last!)),
                "\(s.server.child.text)")
        // The zone (IPv6 and IPv4 data) is one the store view covers, and the log says so.
        #expect(s.server.child.text.contains("DNSSEC view from the store") && s.server.child.text.contains("view=store"),
                "\(s.server.child.text)")
        // The A RRset at the wildcard and the NSEC proving no closer match: 2 RRsets signed once.
        for _ in 0..<3 {
            let q = query(nibbleName("2001:db8::5"), 1, edns: EDNS(size: 1232, dnssecOK: true))
            let a = try #require(try udpQuery(s.server.v4, q))
            let p = try Packet(wire: a)
            #expect(p.answer.contains { $0.type == 46 } && !p.ad && p.ednsDO)
        }
        let line = try #require(s.server.child.text.split(separator: "\n").first { $0.contains("http://") })
        let addr = String(line[line.range(of: "http://")!.upperBound...].prefix { $0 != "/" })
        let page = try #require(try httpGet(try ListenAddress(parsing: addr), "/metrics")).body
        #expect(sample(page, "prefixbl_dnssec_ok_queries_total") == 3, "\(page)")
        #expect(sample(page, #"prefixbl_dnssec_signatures_made_total{zone="bl.example"}"#) == 2, "\(page)")
        #expect(sample(page, #"prefixbl_dnssec_signature_cache_total{zone="bl.example",result="hit"}"#) == 4, "\(page)")
        #expect(sample(page, #"prefixbl_dnssec_signature_cache_total{zone="bl.example",result="miss"}"#) == 2, "\(page)")
        let expiry = sample(page, #"prefixbl_dnssec_soonest_signature_expiry_seconds{zone="bl.example"}"#)
        #expect(expiry > 13 * 86_400 && expiry <= 14 * 86_400, "\(page)")
        for text in [s.server.child.text, page] {
            for secret in s.secrets {
                let c = Array(secret)
                for i in 0...(c.count - 8) { #expect(!text.contains(String(c[i..<(i + 8)]))) }
            }
        }
    }

    @Test("A key for a zone not served stops the start before binding, naming the file",
          .enabled(if: keygen != nil, "ldns-keygen (ldnsutils) is not installed"))
    func keyForZoneNotServed() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.v4.write(toFile: dir + "/v4.txt", atomically: true, encoding: .utf8)
        let base = dir + "/" + (try Self.run(Self.keygen!, ["-a", "ECDSAP256SHA256", "other.example"], in: dir))
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let child = try ChildProcess(prefixblBinary()!, ["serve", "--listen", "127.0.0.1:0", "bl.example:ip4set:v4.txt",
                                                         "--dnssec-key", base], directory: dir)
        #expect(child.waitExit(timeout: 20) == 2)
        #expect(child.text.contains("DNSSEC key for a zone not served") && child.text.contains(base), "\(child.text)")
        #expect(!child.text.contains(" serving"))
    }

    @Test("An acl dataset in a signed zone stops the start, naming the combination",
          .enabled(if: keygen != nil, "ldns-keygen (ldnsutils) is not installed"))
    func aclRefused() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.v4.write(toFile: dir + "/v4.txt", atomically: true, encoding: .utf8)
        try "192.0.2.0/24 :refuse\n198.51.100.0/24 :127.255.255.2:policy for $\n".write(toFile: dir + "/bl.acl", atomically: true, encoding: .utf8)
        let base = dir + "/" + (try Self.run(Self.keygen!, ["-a", "ECDSAP256SHA256", "bl.example"], in: dir))
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let child = try ChildProcess(prefixblBinary()!, ["serve", "--listen", "127.0.0.1:0", "bl.example:ip4set:v4.txt",
                                                         "bl.example:acl:bl.acl", "--dnssec-key", base], directory: dir)
        #expect(child.waitExit(timeout: 20) == 2)
        #expect(child.text.contains("an acl dataset and --dnssec-key cannot be combined"), "\(child.text)")
        #expect(!child.text.contains(" serving"))
    }

    @Test("The rbldnsd command line takes --dnssec-key and hands it to serve")
    func rbldnsdMode() throws {
        let r = try ServerTestSupport.run(prefixblBinary()!, ["rbldnsd", "--dnssec-key", "/keys/Kbl.example.+013+00001", "--print-serve",
                                                             "-b", "127.0.0.1/5353", "bl.example:ip4set:v4.txt"])
        #expect(r.status == 0, "\(r.output)")
        let line = r.output.split(separator: "\n").first { $0.hasPrefix("prefixbl serve") } ?? ""
        let key = line.range(of: "--dnssec-key /keys/Kbl.example.+013+00001")
        let end = line.range(of: " -- ")
        #expect(key != nil && end != nil && key!.lowerBound < end!.lowerBound, "\(r.output)")
    }
}
