#if canImport(Glibc)
import Glibc
#endif
import DNSBLServer
import Foundation
import LDNSKit
import Testing
import TestSupport
import ServerTestSupport

/// Parity of `serve --dnssec-key` with the standard path for a signed zone: `prefixbl export`
/// signed by `ldns-signzone` (NSEC) and served by NSD, both with the same keys. For sampled
/// names of every kind, both answers to a DO=1 query must carry the same RCODE, AA and TC
/// flags and the same RRs in each section — NSEC owners, next names and type bitmaps included
/// — with signatures compared by type covered, algorithm, labels, original TTL, key tag and
/// signer (the signature bytes and the validity times differ by construction).
@Suite("Signed serve against NSD serving ldns-signzone of the export", .serialized)
struct SignedParityTests {
    static let keygen = which("ldns-keygen"), signzone = which("ldns-signzone"), nsd = which("nsd")

    /// Runs a tool, returns its standard output; throws when it fails.
    static func tool(_ path: String, _ args: [String], in dir: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw TestError.failed("\(path) \(args) exited \(p.terminationStatus): \(String(decoding: errData, as: UTF8.self))")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// RFC 4034 §6.1 canonical order of two presentation names (lower-cased labels compared
    /// as byte strings from the rightmost; a name sorts before its descendants). Slow and
    /// obviously correct: the reference the sampling of gaps uses.
    static func canonicalLess(_ a: [[UInt8]], _ b: [[UInt8]]) -> Bool {
        var i = a.count - 1, j = b.count - 1
        while i >= 0 && j >= 0 {
            if a[i] != b[j] { return a[i].lexicographicallyPrecedes(b[j]) }
            i -= 1; j -= 1
        }
        return a.count < b.count
    }

    /// Lower-case labels of a presentation name, rightmost last (no escapes in our names).
    static func labels(_ name: String) -> [[UInt8]] {
        name.lowercased().split(separator: ".").map { Array($0.utf8) }
    }

    /// Presentation form of an uncompressed wire name, lower case, labels as they are (no
    /// escapes: `*` stays `*`; our names hold no dots or blanks inside labels).
    static func plain(_ wire: [UInt8]) -> String {
        var out = "", i = 0
        while i < wire.count, wire[i] != 0 {
            let n = Int(wire[i])
            out += String(decoding: wire[(i + 1)...(i + n)], as: UTF8.self).lowercased() + "."
            i += n + 1
        }
        return out.isEmpty ? "." : out
    }

    /// A response reduced to what must agree: header bits and each section as a sorted list
    /// of RR texts, RRSIG without signature and validity times.
    static func normalised(_ wire: [UInt8]) throws -> [String] {
        let p = try Packet(wire: wire)
        func rr(_ r: PacketRecord) -> String {
            var fields = r.rdataText
            if r.type == 46, fields.count == 9 {  // RRSIG: covered alg labels ottl exp inc tag signer sig
                fields = [fields[0], fields[1], fields[2], fields[3], fields[6], fields[7]]
            }
            return "\(r.owner.lowercased()) \(r.ttl) \(r.type) \(fields.joined(separator: " ").lowercased())"
        }
        return ["rcode=\(p.rcode) aa=\(p.aa) tc=\(p.tc) do=\(p.ednsDO)"]
            + p.answer.map { "an " + rr($0) }.sorted()
            + p.authority.map { "ns " + rr($0) }.sorted()
            + p.additional.map { "ar " + rr($0) }.sorted()
    }

    /// One DO=1 query over an open TCP connection (both servers keep it open between queries).
    static func ask(_ s: TestSocket, _ name: String, _ type: UInt16, id: UInt16) throws -> [UInt8] {
        try s.send(framed(query(name, type, id: id, flags: 0, edns: EDNS(size: 4096, dnssecOK: true))))
        guard let m = s.receiveFramed() else { throw TestError.failed("no answer to \(name) \(type)") }
        return m
    }

    /// The names to compare in one zone, with the types asked for each, drawn from the signed
    /// zone file: the apex, owners, wildcard expansions, empty non-terminals, a name inside
    /// every gap of the NSEC chain (or `gapLimit` sampled gaps), random addresses of both
    /// families with their ::ffff:0:0/96 and 2002::/16 images.
    static func sample(zone: String, signedFile: String, gapLimit: Int, rng: inout SplitMix64) throws -> [(String, UInt16, String)] {
        let rrs = try ZoneFile.load(path: signedFile)
        var owners = Set<String>(), nsec: [(String, String)] = []
        // `--dnssec-ent-rrset`: the names given the HINFO "empty-non-terminal" "prefixbl".
        var entOwners = Set<String>()
        let entHINFO: [UInt8] = [18] + Array("empty-non-terminal".utf8) + [8] + Array("prefixbl".utf8)
        for r in rrs where r.type != 46 {
            let owner = plain(r.owner)
            owners.insert(owner)
            if r.type == 13 && r.rdata == entHINFO { entOwners.insert(owner) }
            if r.type == 47 {
                // NSEC RDATA: the next owner (uncompressed wire), then the bitmap.
                var n = 0
                while r.rdata[n] != 0 { n += Int(r.rdata[n]) + 1 }
                nsec.append((owner, plain(Array(r.rdata[0...n]))))
            }
        }
        let apex = zone + "."
        var out: [(String, UInt16, String)] = []
        for t: UInt16 in [6, 2, 48, 1, 16, 28, 47, 15] { out.append((apex, t, "apex")) }
        // Owners (all, or a sample) with A, TXT, a type no owner has (AAAA) and NSEC.
        let ownerList = owners.sorted().filter { $0 != apex }
        let picked = ownerList.count <= gapLimit ? ownerList : (0..<gapLimit).map { _ in ownerList[Int(rng.next() % UInt64(ownerList.count))] }
        for o in picked {
            if o.hasPrefix("*.") {
                // Below a wildcard: a label of each spelling, and the wildcard name itself.
                out.append(("7." + o.dropFirst(2), 1, "wildcard expansion"))
                out.append(("x7." + o.dropFirst(2), 16, "wildcard expansion TXT"))
                out.append(("0.f." + o.dropFirst(2), 28, "wildcard NODATA"))
                out.append((o, 1, "wildcard owner"))
            } else if entOwners.contains(o) {
                // An empty non-terminal with its own HINFO and NSEC.
                out.append((o, 1, "empty non-terminal"))
                out.append((o, 16, "empty non-terminal TXT"))
                out.append((o, 13, "empty non-terminal HINFO"))
                out.append((o, 47, "empty non-terminal NSEC"))
            } else {
                out.append((o, 1, "owner"))
                out.append((o, 16, "owner TXT"))
                out.append((o, 28, "owner, other type"))
                out.append((o, 47, "owner NSEC"))
            }
            // Empty non-terminals: ancestors that own nothing.
            var l = labels(o)
            while l.count > labels(apex).count + 1 {
                l.removeFirst()
                let name = l.map { String(decoding: $0, as: UTF8.self) }.joined(separator: ".") + "."
                if !owners.contains(name) { out.append((name, 1, "empty non-terminal")); break }
            }
        }
        // Every gap of the chain (or a sample): a name just after its owner ("%" sorts before
        // every child label a nibble or octet owner has, so "%.<owner>" lies between the owner
        // and its next name) and one after the owner's subtree ("x9.<owner>").
        let gaps = nsec.count <= gapLimit ? nsec : (0..<gapLimit).map { _ in nsec[Int(rng.next() % UInt64(nsec.count))] }
        for (o, next) in gaps {
            for l in ["%", "x9"] {
                let name = l + "." + o
                let n = labels(name), a = labels(o), b = labels(next)
                let inGap = canonicalLess(a, n) && (canonicalLess(n, b) || b == labels(apex))
                if inGap { out.append((name, 1, "in the gap \(o) → \(next)")) }
            }
        }
        // Random addresses: IPv6, IPv4 and the IPv4 images.
        func nibbles(_ b: [UInt8]) -> String {
            b.reversed().flatMap { [String($0 & 15, radix: 16), String($0 >> 4, radix: 16)] }.joined(separator: ".")
        }
        for _ in 0..<200 {
            let v4 = (0..<4).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let v6 = [UInt8(0x20), UInt8(rng.next() % 3 == 0 ? 0x01 : 0x0a)] + (0..<14).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            out.append((v4.reversed().map { String($0) }.joined(separator: ".") + "." + apex, 1, "IPv4 address"))
            out.append((nibbles(v6) + "." + apex, 1, "IPv6 address"))
            out.append((nibbles([UInt8](repeating: 0, count: 10) + [0xff, 0xff] + v4) + "." + apex, 1, "::ffff: image"))
            out.append((nibbles([0x20, 0x02] + v4 + [UInt8](repeating: 0, count: 10)) + "." + apex, 16, "6to4 image"))
        }
        return out
    }

    /// `ents`: both sides with an HINFO at every empty non-terminal (`serve --dnssec-ent-rrset`,
    /// `export --dnssec-ent-rrset` signed by ldns-signzone).
    @Test("Same RRsets, NSEC chain, RCODE and flags as NSD serving ldns-signzone of the export: bundled zones and real lists",
          .enabled(if: keygen != nil && signzone != nil, "ldns-keygen or ldns-signzone (ldnsutils) is not installed"),
          .enabled(if: nsd != nil, "nsd is not installed (tools/install-test-deps.sh installs it)"),
          arguments: [false, true])
    func parity(ents: Bool) throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let real = try #require(realdataDirectory())
        let root = repositoryRoot()
        let bin = try #require(prefixblBinary())
        try "$SOA 3600 ns.example.net hostmaster.example.net 5 3600 600 604800 300\n$NS 3600 ns.example.net\n"
            .write(toFile: dir + "/rdsoa.txt", atomically: true, encoding: .utf8)
        // Two signed zones, several datasets each: the bundled zone, and real lists of both families.
        let zones = ["bl.example", "rd.example"]
        _ = try Self.tool(bin, ["compile", "bl.example:ip4set:\(root)/zones/bl.example.ip4set",
                                "bl.example:ip6trie:\(root)/zones/bl.example.ip6trie",
                                "rd.example:ip6trie:rdsoa.txt", "rd.example:ip6trie:\(real)/spamhaus-dropv6.txt",
                                "rd.example:ip4set:\(real)/spamhaus-drop.txt", "-o", "zones.pfxbl"], in: dir)
        var keyArgs: [String] = []
        for zone in zones {
            let ksk = try Self.tool(Self.keygen!, ["-a", "ECDSAP256SHA256", "-k", zone], in: dir).trimmingCharacters(in: .whitespacesAndNewlines)
            let zsk = try Self.tool(Self.keygen!, ["-a", "ECDSAP256SHA256", zone], in: dir).trimmingCharacters(in: .whitespacesAndNewlines)
            keyArgs += ["--dnssec-key", dir + "/" + ksk, "--dnssec-key", dir + "/" + zsk]
            // The signed zone as a secondary would hold it: export (with the IPv4 images serve
            // answers), then ldns-signzone with NSEC and the same keys.
            _ = try Self.tool(bin, ["export", "zones.pfxbl", "--zone", zone, "--ipv4-images", "-o", zone + ".zone"]
                              + (ents ? ["--dnssec-ent-rrset"] : []), in: dir)
            _ = try Self.tool(Self.signzone!, ["-o", zone, zone + ".zone", ksk, zsk], in: dir)
        }
        let server = try ServeProcess(["--store", "zones.pfxbl"] + keyArgs + (ents ? ["--dnssec-ent-rrset"] : []),
                                      directory: dir, ipv6: false)
        defer { server.child.signal(SIGTERM); _ = server.child.waitExit() }
        let nsdPort = freeTCPPort()
        var conf = nsdServerClauses(dir: dir, port: nsdPort)
        // NSD adds the apex NS RRset to the authority section of positive answers unless
        // minimal-responses is on; serve never does (its unsigned answers neither).
        conf = conf.replacingOccurrences(of: "  server-count: 1\n", with: "  server-count: 1\n  minimal-responses: yes\n")
        for zone in zones { conf += "zone:\n  name: \(zone)\n  zonefile: \(zone).zone.signed\n\n" }
        try conf.write(toFile: dir + "/nsd.conf", atomically: true, encoding: .utf8)
        let nsd = try ChildProcess(Self.nsd!, ["-d", "-c", dir + "/nsd.conf"], directory: dir)
        defer { stopTree(nsd.process.processIdentifier) }
        let nsdAddress = try ListenAddress(parsing: "127.0.0.1:\(nsdPort)")
        var up = false
        for _ in 0..<100 where !up {
            if let m = try? udpQuery(nsdAddress, query("rd.example", 6), timeout: 0.3, retries: 0), let p = try? Packet(wire: m),
               p.rcode == 0, !p.answer.isEmpty {
                up = true
            } else { usleep(100_000) }
        }
        try #require(up, "NSD did not serve the signed zones:\n\(nsd.text.suffix(3000))")

        var rng = SplitMix64(seed: testSeed())
        let ours = try TestSocket(tcp: server.v4, timeout: 10), theirs = try TestSocket(tcp: nsdAddress, timeout: 10)
        var compared = 0, differences: [String] = []
        var kinds: [String: Int] = [:]
        for (zone, limit) in [("bl.example", 100_000), ("rd.example", 400)] {
            for (name, type, what) in try Self.sample(zone: zone, signedFile: dir + "/\(zone).zone.signed", gapLimit: limit, rng: &rng) {
                let id = UInt16(truncatingIfNeeded: compared)
                let a = try Self.normalised(try Self.ask(ours, name, type, id: id))
                let b = try Self.normalised(try Self.ask(theirs, name, type, id: id))
                compared += 1
                kinds[what.hasPrefix("in the gap") ? "in a gap" : what, default: 0] += 1
                if a != b {
                    let onlyOurs = a.filter { !b.contains($0) }, onlyTheirs = b.filter { !a.contains($0) }
                    let text = "\(what): \(name) type \(type)\n  serve only: \(onlyOurs)\n  NSD only:   \(onlyTheirs)"
                    differences.append(text)
                }
            }
        }
        #expect(compared > 2_000, "only \(compared) names compared: \(kinds)")
        #expect(kinds["wildcard owner", default: 0] > 20 && kinds["in a gap", default: 0] > 500 && kinds["empty non-terminal", default: 0] > 20,
                "\(kinds)")
        if ents { #expect(kinds["empty non-terminal HINFO", default: 0] > 20, "\(kinds)") }
        #expect(differences.isEmpty, "\(differences.count) differences of \(compared) answers (first 20):\n\(differences.prefix(20).joined(separator: "\n"))")
    }
}
