import DNSSEC
import DNSWire
import Foundation
import LDNSKit
import Testing
import TestSupport

func name(_ text: String) -> [UInt8] { CanonicalName.parse(text)! }

/// A whole RR in wire form, written through ``DNSSECRecords/write(owner:type:rrClass:ttl:rdata:into:)``.
func rrWire(_ owner: [UInt8], _ type: UInt16, ttl: UInt32, _ rdata: [UInt8]) -> [UInt8] {
    var buffer = [UInt8](repeating: 0, count: 4096)
    let n = buffer.withUnsafeMutableBytes { p -> Int in
        var w = MessageWriter(buffer: p, limit: p.count)
        precondition(DNSSECRecords.write(owner: owner, type: type, ttl: ttl, rdata: rdata, into: &w))
        return w.count
    }
    return Array(buffer[0..<n])
}

func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

/// One RRset of a test zone.
struct TestRRset { var owner: [UInt8]; var type: UInt16; var ttl: UInt32; var rdatas: [[UInt8]] }

/// A small zone in the shape `prefixbl export` writes: apex SOA/NS/DNSKEY, an IPv4 octet name,
/// an octet wildcard and a nibble wildcard, and the NSEC chain over the owners in canonical
/// order (RFC 4034 §4.1.1: next owner of the last is the apex), every RRset signed by `key`.
func signedZone(key: SigningKey, now: UInt32) throws -> (rrsets: [TestRRset], signatures: [[UInt8]: [UInt8]], text: [String]) {
    let apex = key.dnskey.owner
    let soa = name("ns.bl.example") + name("hostmaster.bl.example") + be32(1) + be32(3600) + be32(600) + be32(86400) + be32(300)
    var sets: [TestRRset] = [
        TestRRset(owner: apex, type: DNSType.soa, ttl: 3600, rdatas: [soa]),
        TestRRset(owner: apex, type: DNSType.ns, ttl: 3600, rdatas: [name("ns.bl.example")]),
        TestRRset(owner: apex, type: DNSSECRecords.typeDNSKEY, ttl: 3600, rdatas: [key.dnskey.rdata]),
        TestRRset(owner: name("ns.bl.example"), type: DNSType.a, ttl: 3600, rdatas: [[192, 0, 2, 53]]),
        // Two RRs given out of canonical order and once twice: the signer sorts and dedups.
        TestRRset(owner: name("2.0.0.127.BL.example"), type: DNSType.a, ttl: 2100, rdatas: [[127, 0, 0, 4], [127, 0, 0, 2], [127, 0, 0, 4]]),
        TestRRset(owner: name("2.0.0.127.bl.example"), type: DNSType.txt, ttl: 2100, rdatas: [[6] + Array("listed".utf8)]),
        TestRRset(owner: name("*.100.51.198.bl.example"), type: DNSType.a, ttl: 2100, rdatas: [[127, 0, 0, 2]]),
        TestRRset(owner: name("*.8.b.d.0.1.0.0.2.bl.example"), type: DNSType.a, ttl: 2100, rdatas: [[127, 0, 0, 3]]),
        TestRRset(owner: name("*.8.b.d.0.1.0.0.2.bl.example"), type: DNSType.txt, ttl: 2100, rdatas: [[14] + Array("2001:db8::/32 ".utf8)]),
    ]
    var owners: [[UInt8]] = []
    for s in sets where !owners.contains(where: { CanonicalName.compare($0, s.owner) == 0 }) { owners.append(s.owner) }
    owners.sort(by: CanonicalName.precedes)
    for (i, o) in owners.enumerated() {
        let types = sets.filter { CanonicalName.compare($0.owner, o) == 0 }.map(\.type) + [DNSSECRecords.typeRRSIG, DNSSECRecords.typeNSEC]
        let next = owners[(i + 1) % owners.count]
        sets.append(TestRRset(owner: o, type: DNSSECRecords.typeNSEC, ttl: 300, rdatas: [DNSSECRecords.nsecRData(next: next, types: types)]))
    }
    var signatures: [[UInt8]: [UInt8]] = [:]
    var text: [String] = []
    for s in sets {
        var lowered = s.owner; CanonicalName.canonicalize(&lowered)
        let sig = try key.rrsig(owner: s.owner, type: s.type, ttl: s.ttl, rdatas: s.rdatas,
                                inception: now &- 3600, expiration: now &+ 14 * 86400)
        signatures[lowered + [UInt8(s.type >> 8), UInt8(s.type & 0xFF)]] = sig
        for rd in DNSSECRecords.canonicalOrder(s.rdatas) { text.append(try ZoneFile.presentation(wire: rrWire(s.owner, s.type, ttl: s.ttl, rd))) }
        text.append(try ZoneFile.presentation(wire: rrWire(s.owner, DNSSECRecords.typeRRSIG, ttl: s.ttl, sig)))
    }
    return (sets, signatures, text)
}

struct SigningTests {
    static let now = UInt32(Date().timeIntervalSince1970)

    static func keys() throws -> [SigningKey] { [try Fixture.ecdsa(), try Fixture.ed25519()] }

    /// Each RRSIG verifies with libldns (`ldns_verify_rrsig_keylist_time`), and stops
    /// verifying when the RRset changes.
    @Test func libldnsVerifiesEveryRRSIG() throws {
        for key in try Self.keys() {
            let zone = try signedZone(key: key, now: Self.now)
            let dnskey = rrWire(key.dnskey.owner, DNSSECRecords.typeDNSKEY, ttl: 3600, key.dnskey.rdata)
            for s in zone.rrsets {
                var lowered = s.owner; CanonicalName.canonicalize(&lowered)
                let sig = try #require(zone.signatures[lowered + [UInt8(s.type >> 8), UInt8(s.type & 0xFF)]])
                #expect(sig.count == 18 + key.dnskey.owner.count + 64, "raw 64-byte signature (RFC 6605, RFC 8080)")
                #expect(sig[3] == CanonicalName.rrsigLabelCount(s.owner))
                let rrsig = rrWire(s.owner, DNSSECRecords.typeRRSIG, ttl: s.ttl, sig)
                // The RRset as sent: duplicates gone (RFC 2181 §5), in any order.
                let rrs = DNSSECRecords.canonicalOrder(s.rdatas).reversed().map { rrWire(s.owner, s.type, ttl: s.ttl, $0) }
                let failure = try DNSSECVerify.verify(rrset: rrs, rrsig: rrsig, keys: [dnskey], time: Int(Self.now))
                #expect(failure == nil, "\(key) \(CanonicalName.text(s.owner)) type \(s.type): \(failure ?? "")")

                // Byte 1 is a label character, an address octet or flag bits in every RDATA here.
                var changed = s.rdatas; changed[0][1] ^= 1
                let tampered = try DNSSECVerify.verify(rrset: changed.map { rrWire(s.owner, s.type, ttl: s.ttl, $0) },
                                                       rrsig: rrsig, keys: [dnskey], time: Int(Self.now))
                #expect(tampered != nil, "a changed RRset still verified")
                let late = try DNSSECVerify.verify(rrset: rrs, rrsig: rrsig, keys: [dnskey], time: Int(Self.now) + 15 * 86400)
                #expect(late != nil, "verified after expiration")
            }
        }
    }

    /// RFC 4034 §3.1.3: the Labels field leaves out a leftmost `*` and the root.
    @Test func labelsFieldOfWildcards() {
        #expect(CanonicalName.rrsigLabelCount(name("*.8.b.d.0.1.0.0.2.bl.example")) == 10)
        #expect(CanonicalName.rrsigLabelCount(name("8.b.d.0.1.0.0.2.bl.example")) == 10)
        #expect(CanonicalName.rrsigLabelCount(name("bl.example")) == 2)
        #expect(CanonicalName.rrsigLabelCount([0]) == 0)
        #expect(CanonicalName.rrsigLabelCount(name("a*.bl.example")) == 3)
    }

    /// RFC 4034 §4.1.2 bitmap, checked against libldns's presentation of the NSEC.
    @Test func nsecTypeBitmap() throws {
        let rdata = DNSSECRecords.nsecRData(next: name("b.bl.example"), types: [1, 16, 28, 46, 47, 16, 1234])
        let text = try ZoneFile.presentation(wire: rrWire(name("a.bl.example"), DNSSECRecords.typeNSEC, ttl: 300, rdata))
        #expect(text.trimmingCharacters(in: .whitespaces).hasSuffix("NSEC\tb.bl.example. A TXT AAAA RRSIG NSEC TYPE1234"), "\(text)")
        #expect(DNSSECRecords.typeBitmap([1]) == [0, 1, 0x40])
        #expect(DNSSECRecords.typeBitmap([]) == [])
    }

    /// The zone written out with its NSEC chain and RRSIGs passes `ldns-verify-zone`, and a
    /// zone with one signature byte changed does not.
    @Test(.enabled(if: which("ldns-verify-zone") != nil, "ldns-verify-zone (ldnsutils) is not installed"))
    func ldnsVerifyZoneAcceptsTheSignedZone() throws {
        let tool = which("ldns-verify-zone")!
        for key in try Self.keys() {
            let dir = TempDir()
            let zone = try signedZone(key: key, now: Self.now)
            // The SOA first, as a master file wants.
            let soaFirst = zone.text.filter { $0.contains("\tSOA\t") } + zone.text.filter { !$0.contains("\tSOA\t") }
            let good = dir.write("good.zone", soaFirst.joined(separator: "\n") + "\n")
            let ok = try runTool(tool, [good])
            #expect(ok.status == 0, "\(key): \(ok.stdout) \(ok.stderr)")

            // Flip one base64 character of the TXT RRSIG's signature.
            var broken = soaFirst
            let i = try #require(broken.firstIndex { $0.contains("RRSIG\tTXT") })
            var chars = Array(broken[i])
            let k = chars.count - 6
            chars[k] = chars[k] == "A" ? "B" : "A"
            broken[i] = String(chars)
            let bad = dir.write("bad.zone", broken.joined(separator: "\n") + "\n")
            let refused = try runTool(tool, [bad])
            #expect(refused.status != 0, "a broken signature passed: \(refused.stdout)")

            // A hole in the NSEC chain is refused too.
            let j = try #require(soaFirst.firstIndex { $0.contains("\tNSEC\t") && $0.hasPrefix("ns.") })
            var holed = soaFirst; holed.remove(at: j)
            let hole = dir.write("hole.zone", holed.joined(separator: "\n") + "\n")
            #expect(try runTool(tool, [hole]).status != 0, "a missing NSEC passed")
        }
    }

    /// Signed data is the same whatever the owner's case and RDATA order (RFC 4034 §6.2, §6.3).
    @Test func signedDataIsCanonical() throws {
        let key = try Fixture.ecdsa()
        let prefix = DNSSECRecords.rrsigPrefix(type: DNSType.a, owner: name("x.bl.example"), ttl: 60, inception: 1, expiration: 2, key: key.dnskey)
        let a = DNSSECRecords.signedData(owner: Array([1, 88, 2, 66, 76, 7]) + Array("EXAMPLE".utf8) + [0], type: 1, rrClass: 1, ttl: 60,
                                         rdatas: [[127, 0, 0, 3], [127, 0, 0, 2], [127, 0, 0, 3]], rrsigPrefix: prefix)
        let b = DNSSECRecords.signedData(owner: name("x.bl.example"), type: 1, rrClass: 1, ttl: 60,
                                         rdatas: [[127, 0, 0, 2], [127, 0, 0, 3]], rrsigPrefix: prefix)
        #expect(a == b)
        #expect(a.count == prefix.count + 2 * (name("x.bl.example").count + 10 + 4))
    }

    /// A writer too small for the RR writes nothing.
    @Test func writeRefusesWhatDoesNotFit() {
        var buffer = [UInt8](repeating: 0, count: 20)
        buffer.withUnsafeMutableBytes { p in
            var w = MessageWriter(buffer: p, limit: p.count)
            #expect(!DNSSECRecords.write(owner: name("bl.example"), type: 1, ttl: 1, rdata: [1, 2, 3, 4, 5, 6], into: &w))
            #expect(w.count == 0)
        }
    }
}

/// The NSEC chain built from ``CanonicalName`` order and ``DNSSECRecords/typeBitmap(_:)`` is
/// the one `ldns-signzone` builds for the same zone: the same owners, next names and bitmaps.
struct SignzoneParityTests {
    @Test(.enabled(if: which("ldns-signzone") != nil, "ldns-signzone (ldnsutils) is not installed"))
    func nsecChainMatchesLdnsSignzone() throws {
        let key = try Fixture.ecdsa()
        let dir = TempDir()
        let zone = try signedZone(key: key, now: SigningTests.now)
        var unsigned: [String] = []
        for s in zone.rrsets where s.type != DNSSECRecords.typeNSEC {
            for rd in DNSSECRecords.canonicalOrder(s.rdatas) {
                unsigned.append(try ZoneFile.presentation(wire: rrWire(s.owner, s.type, ttl: s.ttl, rd)))
            }
        }
        let soaFirst = unsigned.filter { $0.contains("\tSOA\t") } + unsigned.filter { !$0.contains("\tSOA\t") }
        let file = dir.write("bl.example.zone", soaFirst.joined(separator: "\n") + "\n")
        let base = Fixture.write(dir, base: "Kbl.example.+013+33812", key: Fixture.ecdsaKey, priv: Fixture.ecdsaPrivate)
        let run = try runTool(which("ldns-signzone")!, ["-d", "-f", dir.path + "/signed.zone", file, base], in: dir.path)
        #expect(run.status == 0, "\(run.stderr)")
        let theirs = try ZoneFile.load(path: dir.path + "/signed.zone")
            .filter { $0.type == DNSSECRecords.typeNSEC }
            .map { CanonicalName.text($0.owner) + " " + DNSSECRecords.describeNSEC($0.rdata) }
        let ours = zone.rrsets.filter { $0.type == DNSSECRecords.typeNSEC }
            .map { CanonicalName.text($0.owner) + " " + DNSSECRecords.describeNSEC($0.rdatas[0]) }
        #expect(theirs.count == 5, "one NSEC per owner: apex, ns, an octet name, two wildcards")
        #expect(theirs.sorted() == ours.sorted())
    }
}

extension DNSSECRecords {
    /// `next type type…` of NSEC RDATA, types as numbers, for comparing chains in tests.
    static func describeNSEC(_ rdata: [UInt8]) -> String {
        var i = 0
        while i < rdata.count, rdata[i] != 0 { i += Int(rdata[i]) + 1 }
        let next = Array(rdata[0...i])
        var types: [Int] = []
        i += 1
        while i + 2 <= rdata.count {
            let window = Int(rdata[i]), length = Int(rdata[i + 1])
            for b in 0..<length where i + 2 + b < rdata.count {
                for bit in 0..<8 where rdata[i + 2 + b] & (0x80 >> UInt8(bit)) != 0 { types.append(window * 256 + b * 8 + bit) }
            }
            i += 2 + length
        }
        return CanonicalName.text(next) + " " + types.map(String.init).joined(separator: " ")
    }
}
