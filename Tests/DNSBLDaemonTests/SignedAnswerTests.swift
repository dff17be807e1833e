import DNSBL
import DNSBLDaemon
import DNSSEC
import DNSWire
import LDNSKit
import PrefixStore
import Synchronization
import Testing
import TestSupport
import ZoneExport
import ZoneSource
#if canImport(Glibc)
import Glibc
#endif

/// Test key pairs for bl.example written by ldns-keygen 1.8.3 (test material, nothing else).
enum SignedFixture {
    static let zskKey = "bl.example.\tIN\tDNSKEY\t256 3 13 VNiqGBRJca9uaWGDuBGo5Y6mwagzSPbJGqxor4yPbMGxUtsMJ4gSxoV+k6jIMAf6LOLkImOEq9K9k6lERklVrg== ;{id = 33812 (zsk), size = 256b}\n"
    static let zskSecret = "DwUGyXdQ0VxmF9RPyAydB8xQMIvxWVuONxMWCTwETFg="
    static let zskPrivate = "Private-key-format: v1.2\nAlgorithm: 13 (ECDSAP256SHA256)\nPrivateKey: \(zskSecret)\n"
    static let kskKey = "bl.example.\tIN\tDNSKEY\t257 3 15 LIK4G2huMM5gJI4rn8dMo58jwV4Mo9Hmg1b8MdjLOdE= ;{id = 11735 (ksk), size = 256b}\n"
    static let kskSecret = "MutEC3rpllWCc8+99fwPeSmfc2nWcC1SNtRgZNqhpsI="
    static let kskPrivate = "Private-key-format: v1.2\nAlgorithm: 15 (ED25519)\nPrivateKey: \(kskSecret)"

    static let soa = "$SOA 3600 ns1.bl.example hostmaster.example.org 7 3600 600 604800 300\n$NS 3600 ns1.bl.example\n"
    static let v6 = soa + """
        :127.0.0.2:listed $
        2001:db8::/32
        !2001:db8:0:1::/64
        2001:db8:ab::1 :127.0.0.3:exact $
        2001:db8:cd::/48 :127.0.0.4:other

        """
    static let v4 = soa + """
        :127.0.0.2:v4 $
        192.0.2.0/24
        198.51.100.7
        !192.0.2.9

        """

    static func keys() throws -> [SigningKey] {
        [try SigningKey(publicFile: "Kz.key", publicText: kskKey, privateFile: "Kz.private", privateText: kskPrivate),
         try SigningKey(publicFile: "Ky.key", publicText: zskKey, privateFile: "Ky.private", privateText: zskPrivate)]
    }

    static func stores(_ dir: TempDir) throws -> [Store] {
        let v6 = dir.write("v6.txt", Self.v6), v4 = dir.write("v4.txt", Self.v4)
        let specs = [ZoneSpec(zone: "bl.example", type: "ip6trie", files: [v6]),
                     ZoneSpec(zone: "bl.example", type: "ip4set", files: [v4])]
        return try DataSources(stores: [], specs: specs).load(now: 0) { _ in }
    }

    static func signedOptions(_ signer: ZoneSigner, view: ViewKind = .export) -> AnswerOptions {
        var o = AnswerOptions()
        o.udpPayloadSize = 4096
        o.dnssec = DNSSECServing(signers: [signer]) { stores, s in view.make(stores, apex: s.apex) }
        return o
    }
}

/// Which signed view a test's Responder serves: the reference (the export enumerated) or the
/// store-derived one the daemon serves where it covers the zone.
enum ViewKind: String, CaseIterable, Sendable {
    case export, store

    func make(_ stores: [Store], apex: [UInt8]) -> any SignedZoneView {
        switch self {
        case .export: return ExportedZoneView(stores: stores, apex: apex)
        case .store:
            // Not covered (a test fixture error) falls back; `everyAnswerVerifies` checks coverage.
            return StoreZoneView.make(parts: stores.flatMap { $0.zones.filter { $0.name == apex } },
                                      imagesWithoutIPv6Data: true) ?? ExportedZoneView(stores: stores, apex: apex)
        }
    }
}

/// Whether type `t` is in an NSEC type bitmap (RFC 4034 §4.1.2).
func bitmapHas(_ bitmap: [UInt8], _ t: UInt16) -> Bool {
    var p = 0
    while p + 2 <= bitmap.count {
        let window = UInt16(bitmap[p]), length = Int(bitmap[p + 1])
        p += 2
        if window == t >> 8 {
            let byte = Int(t & 0xFF) / 8
            return byte < length && p + byte < bitmap.count && bitmap[p + byte] & (0x80 >> UInt8(t & 7)) != 0
        }
        p += length
    }
    return false
}

/// Whether `name` is a proper subdomain of `parent` (both uncompressed wire names, lower case).
func isBelow(_ name: [UInt8], _ parent: [UInt8]) -> Bool {
    var p = 0
    while p < name.count && name[p] != 0 {
        p += 1 + Int(name[p])
        if name.count - p == parent.count { return name[p...].elementsEqual(parent) }
    }
    return false
}

/// Query names of every kind the signed zone has, with the RCODE a DO=1 query gets.
let signedCases: [(name: String, type: UInt16, rcode: UInt8, what: String)] = [
    (nibble("2001:db8::5"), 1, 0, "listed IPv6 (wildcard)"),
    (nibble("2001:db8::5"), 16, 0, "listed IPv6 TXT (wildcard, $)"),
    (nibble("2001:db8:ab::1"), 16, 0, "listed IPv6, exact name"),
    (nibble("2001:db8:cd::77"), 1, 0, "listed IPv6 /48"),
    (nibble("2001:db8::5"), 28, 0, "listed IPv6, other type (wildcard NODATA)"),
    (nibble("2001:db8:0:1::9"), 1, 3, "excluded IPv6"),
    (nibble("2001:db9::1"), 1, 3, "unlisted IPv6"),
    ("8.b.d.0.1.0.0.2.bl.example", 1, 0, "IPv6 empty non-terminal above a wildcard"),
    ("1.0.0.2.bl.example", 1, 0, "empty non-terminal"),
    ("1.0.0.2.bl.example", 47, 0, "NSEC query at an empty non-terminal (it owns none)"),
    ("2.0.192.bl.example", 1, 0, "IPv4 empty non-terminal"),
    ("bl.example", 47, 0, "apex NSEC"),
    ("5.2.0.192.bl.example", 1, 0, "listed IPv4"),
    ("5.2.0.192.bl.example", 16, 0, "listed IPv4 TXT"),
    ("7.100.51.198.bl.example", 1, 0, "listed IPv4 exact"),
    ("9.2.0.192.bl.example", 1, 0, "excluded IPv4 (marker: NODATA)"),
    ("5.3.0.192.bl.example", 1, 3, "unlisted IPv4"),
    ("bl.example", 6, 0, "apex SOA"),
    ("bl.example", 2, 0, "apex NS"),
    ("bl.example", 48, 0, "apex DNSKEY"),
    ("bl.example", 15, 0, "apex, other type"),
    ("ns1.bl.example", 1, 3, "in-zone NS name (the export owns nothing there: NXDOMAIN when signed)"),
    ("x.y.bl.example", 1, 3, "not an address"),
    ("02.2.0.192.bl.example", 1, 0, "leading-zero label under a wildcard (the wildcard's answer)"),
    ("09.2.0.192.bl.example", 1, 0, "leading-zero twin of an exclusion marker (the wildcard's answer)"),
    ("7.100.051.198.bl.example", 1, 3, "leading-zero label where no wildcard covers (NXDOMAIN)"),
    ("1.5.2.0.192.bl.example", 1, 0, "below a full IPv4 address under a wildcard"),
    ("1.5.2.0.192.bl.example", 28, 0, "below a full IPv4 address under a wildcard, other type (wildcard NODATA)"),
    ("x." + nibble("2001:db8::5"), 1, 0, "below a full IPv6 address under a wildcard"),
    ("x." + nibble("::ffff:192.0.2.5"), 1, 0, "below a full ::ffff image under a wildcard"),
    ("7.100.51.198.bl.example", 47, 0, "NSEC query at a name owning RRsets"),
    ("7.100.51.198.bl.example", 46, 0, "RRSIG query at a name owning RRsets"),
    ("bl.example", 46, 0, "apex RRSIG"),
    (nibble("2001:db8:ab::1"), 46, 0, "RRSIG query at an IPv6 exact name"),
    ("5.3.0.192.bl.example", 46, 3, "RRSIG query at a name that does not exist"),
    ("5.2.0.192.bl.example", 47, 0, "NSEC query at a name a wildcard synthesises (the wildcard's NSEC at the QNAME)"),
    ("5.2.0.192.bl.example", 46, 0, "RRSIG query at a name a wildcard synthesises"),
    ("02.2.0.192.bl.example", 46, 0, "RRSIG query at a leading-zero name under a wildcard"),
    ("5.3.0.192.bl.example", 47, 3, "NSEC query at a name that does not exist"),
    ("bl.example", 255, 0, "apex ANY"),
    ("7.100.51.198.bl.example", 255, 0, "ANY at a listed IPv4 exact name"),
    ("5.2.0.192.bl.example", 255, 0, "ANY under a wildcard"),
    ("*.2.0.192.bl.example", 1, 0, "literal wildcard owner (its own RRset)"),
    ("*.2.0.192.bl.example", 16, 0, "literal wildcard owner TXT"),
    ("*.2.0.192.bl.example", 28, 0, "literal wildcard owner, other type (NODATA by its NSEC)"),
    ("*.2.0.192.bl.example", 47, 0, "literal wildcard owner, NSEC"),
    ("*.8.b.d.0.1.0.0.2.bl.example", 1, 0, "literal IPv6 wildcard owner"),
    ("*.3.0.192.bl.example", 1, 3, "literal `*` that is no wildcard owner"),
]

/// The QTYPEs answered whatever DO says (RFC 4035 §3.1): their DO=0 answers differ from an unsigned zone's.
func explicitDNSSECQuery(_ name: String, _ type: UInt16) -> Bool {
    type == 46 || type == 47 || (type == 48 && name == "bl.example") || name.hasPrefix("*.")
}

func nibble(_ address: String) -> String {
    var a = in6_addr()
    precondition(inet_pton(AF_INET6, address, &a) == 1)
    let bytes = withUnsafeBytes(of: &a) { Array($0) }
    var labels: [String] = []
    for b in bytes.reversed() { labels += [String(b & 0xF, radix: 16), String(b >> 4, radix: 16)] }
    return labels.joined(separator: ".") + ".bl.example"
}

func ask(_ r: Responder, _ name: String, _ type: UInt16, edns: EDNS?, transport: Transport = .udp) -> [UInt8] {
    let q = query(name, type, edns: edns)
    var out = [UInt8](repeating: 0, count: 65535)
    let n = q.withUnsafeBytes { qb in out.withUnsafeMutableBytes { r.respond(to: qb, transport: transport, into: $0).length } }
    return Array(out[0..<n])
}

/// The whole RR in uncompressed wire form, from libldns's parse.
func wire(_ r: PacketRecord) -> [UInt8] {
    let rdata = r.rdataFields.flatMap { $0 }
    var w = r.ownerWire.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }
    for v in [r.type, r.rrClass] { w += [UInt8(v >> 8), UInt8(v & 0xFF)] }
    w += [UInt8(r.ttl >> 24), UInt8(r.ttl >> 16 & 0xFF), UInt8(r.ttl >> 8 & 0xFF), UInt8(r.ttl & 0xFF)]
    w += [UInt8(rdata.count >> 8), UInt8(rdata.count & 0xFF)] + rdata
    return w
}

/// Parses a DO=1 answer with libldns and checks every RRset of ANSWER and AUTHORITY has an
/// RRSIG that libldns verifies against `keys`. Returns the packet and failures.
/// With `answerIsRRSIGs` (QTYPE RRSIG) the ANSWER section's RRSIGs stand alone and are not checked here.
func verifySigned(_ bytes: [UInt8], keys: [[UInt8]], answerIsRRSIGs: Bool = false) throws -> (Packet, [String]) {
    let p = try Packet(wire: bytes)
    var failures: [String] = []
    for section in answerIsRRSIGs ? [p.authority] : [p.answer, p.authority] {
        var sets: [String: [PacketRecord]] = [:]
        var sigs: [String: [PacketRecord]] = [:]
        for r in section {
            let owner = r.owner.lowercased()
            if r.type == 46 {
                let covered = UInt16(r.rdataFields[0][0]) << 8 | UInt16(r.rdataFields[0][1])
                sigs["\(owner) \(covered)", default: []].append(r)
            } else {
                sets["\(owner) \(r.type)", default: []].append(r)
            }
        }
        for (key, set) in sets {
            guard let ss = sigs[key], !ss.isEmpty else { failures.append("no RRSIG for \(key)"); continue }
            for s in ss {
                if let e = try DNSSECVerify.verify(rrset: set.map(wire), rrsig: wire(s), keys: keys, time: Int(time(nil))) {
                    failures.append("\(key): \(e)")
                }
            }
        }
        for key in sigs.keys where sets[key] == nil { failures.append("RRSIG without its RRset: \(key)") }
    }
    return (p, failures)
}

/// Labels of an uncompressed wire name, the root not counted.
func wireLabels(_ name: [UInt8]) -> Int {
    var n = 0, p = 0
    while p < name.count && name[p] != 0 { n += 1; p += 1 + Int(name[p]) }
    return n
}

func dnskeyWires(_ signer: ZoneSigner) -> [[UInt8]] {
    signer.dnskeyRData.map { rd in
        signer.apex + [0, 48, 0, 1, 0, 0, 14, 16, UInt8(rd.count >> 8), UInt8(rd.count & 0xFF)] + rd
    }
}

@Suite("Signed answers (DO=1) from the Responder")
struct SignedAnswerTests {
    @Test("A DO=0 query gets exactly the unsigned answer, byte for byte (with and without EDNS)")
    func doZeroUnchanged() throws {
        let dir = TempDir()
        let stores = try SignedFixture.stores(dir)
        let signer = ZoneSigner(keys: try SignedFixture.keys())
        var plainOptions = AnswerOptions()
        plainOptions.udpPayloadSize = 4096
        let plain = Responder(stores: stores, options: plainOptions)
        let signed = Responder(stores: stores, options: SignedFixture.signedOptions(signer))
        var rng = SplitMix64(seed: 12)
        // DNSSEC QTYPEs asked for and literal wildcard owners excepted (``explicitTypesWithoutDO``).
        var names = signedCases.filter { !explicitDNSSECQuery($0.name, $0.type) }.map { ($0.name, $0.type) }
        names += [("*.3.0.192.bl.example", 1), ("*.bl.example", 16), ("*.x.bl.example", 1)]
        for _ in 0..<300 {
            let a = "2001:db\(rng.next() % 10)::\(String(rng.next() % 0xFFFF, radix: 16))"
            names.append((nibble(a), [1, 16, 28, 255, 48][Int(rng.next() % 5)]))
            names.append(("\(rng.next() % 256).\(rng.next() % 3).0.192.bl.example", [1, 16, 48][Int(rng.next() % 3)]))
        }
        for (name, type) in names {
            for edns in [nil, EDNS(size: 4096), EDNS(size: 512)] {
                #expect(ask(plain, name, type, edns: edns) == ask(signed, name, type, edns: edns), "\(name) \(type)")
            }
        }
        #expect(signer.signaturesMade == 0)
    }

    @Test("Every DO=1 answer parses with libldns, every RRset is signed and verifies, the NSEC proves it; RCODE, AA, no AD, DO echoed; both views",
          arguments: signedCases.indices, ViewKind.allCases)
    func everyAnswerVerifies(_ i: Int, _ view: ViewKind) throws {
        let c = signedCases[i]
        let dir = TempDir()
        let signer = ZoneSigner(keys: try SignedFixture.keys())
        let stores = try SignedFixture.stores(dir)
        if view == .store {
            #expect(DaemonConfiguration.signedView(stores: stores, apex: signer.apex) is StoreZoneView)
        }
        let r = Responder(stores: stores, options: SignedFixture.signedOptions(signer, view: view))
        for transport in [Transport.udp, .tcp] {
            let bytes = ask(r, c.name, c.type, edns: EDNS(size: 4096, dnssecOK: true), transport: transport)
            let (p, failures) = try verifySigned(bytes, keys: dnskeyWires(signer), answerIsRRSIGs: c.type == 46 && c.rcode == 0)
            #expect(failures.isEmpty, "\(c.what): \(failures)\n\(p.text)")
            #expect(p.rcode == c.rcode, "\(c.what)\n\(p.text)")
            #expect(p.aa && !p.ad && !p.tc && p.ednsDO, "\(c.what)\n\(p.text)")
            let nsecs = p.authority.filter { $0.type == 47 } + p.answer.filter { $0.type == 47 }
            if p.answer.isEmpty || p.rcode == 3 {
                #expect(!nsecs.isEmpty, "negative answer without NSEC: \(c.what)\n\(p.text)")
            }
            if p.rcode == 3 {
                // Some NSEC covers the QNAME: owner < QNAME < next in canonical order (libldns's).
                let q = wireName(c.name).map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }
                let covers = nsecs.contains { n in
                    DNSSECVerify.compareNames(n.ownerWire, q) < 0
                        && (DNSSECVerify.compareNames(q, n.rdataFields[0]) < 0 || n.rdataFields[0] == signer.apex)
                }
                #expect(covers, "\(c.what)\n\(p.text)")
            }
            if p.rcode == 0 && p.answer.isEmpty {
                // NODATA (RFC 4035 §3.1.3.1, §3.1.3.4): an NSEC owned by the QNAME without the
                // type; for an empty non-terminal, which owns none, the NSEC covering it whose
                // next owner is below it; under a wildcard, the wildcard's NSEC without the type.
                let q = wireName(c.name).map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }
                let owned = nsecs.first { $0.ownerWire.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 } == q }
                let entProof = nsecs.contains { n in
                    DNSSECVerify.compareNames(n.ownerWire, q) < 0 && isBelow(n.rdataFields[0], q)
                }
                let wildcardProof = nsecs.contains { n in
                    n.ownerWire.starts(with: [1, 0x2A]) && isBelow(q, Array(n.ownerWire.dropFirst(2)))
                        && !bitmapHas(n.rdataFields[1], c.type)
                }
                if c.what.contains("empty non-terminal") {
                    #expect(owned == nil && entProof, "\(c.what)\n\(p.text)")
                } else if let owned {
                    #expect(!bitmapHas(owned.rdataFields[1], c.type) && !bitmapHas(owned.rdataFields[1], 5),
                            "\(c.what)\n\(p.text)")
                } else {
                    #expect(wildcardProof, "\(c.what)\n\(p.text)")
                }
            }
            if c.type == 48 { #expect(p.answer.filter { $0.type == 48 }.count == 2, "\(p.text)") }
            if c.rcode == 0 && !c.what.contains("empty non-terminal") && ([46, 47, 255].contains(c.type) || c.name.hasPrefix("*.") && [1, 16].contains(c.type)) {
                // Asked for explicitly, or the wildcard's own RRset: in ANSWER, owned by the QNAME.
                let q = wireName(c.name).map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }
                #expect(p.answer.contains { $0.type == (c.type == 255 ? $0.type : c.type) && $0.ownerWire == q } && p.rcode == 0,
                        "\(c.what)\n\(p.text)")
            }
        }
    }

    @Test("DNSKEY at the apex, NSEC and RRSIG at a name owning RRsets are answered whatever DO says (RFC 4035 §3.1); RRSIG: the signatures of every RRset there; both views")
    func explicitTypesWithoutDO() throws {
        for view in ViewKind.allCases {
            let dir = TempDir()
            let signer = ZoneSigner(keys: try SignedFixture.keys())
            let stores = try SignedFixture.stores(dir)
            let r = Responder(stores: stores, options: SignedFixture.signedOptions(signer, view: view))
            let keys = dnskeyWires(signer)
            for edns in [nil, EDNS(size: 4096), EDNS(size: 4096, dnssecOK: true)] {
                let signed = edns?.dnssecOK == true
                let dnskey = try Packet(wire: ask(r, "bl.example", 48, edns: edns))
                #expect(dnskey.rcode == 0 && dnskey.aa && dnskey.answer.filter { $0.type == 48 }.count == 2
                        && dnskey.answer.contains { $0.type == 46 } == signed && dnskey.authority.isEmpty, "\(dnskey.text)")
                for name in ["bl.example", "7.100.51.198.bl.example", nibble("2001:db8:ab::1"), "*.2.0.192.bl.example",
                             "5.2.0.192.bl.example", nibble("2001:db8::5")] {
                    let q = wireName(name)
                    let nsec = try Packet(wire: ask(r, name, 47, edns: edns))
                    let nsecs = nsec.answer.filter { $0.type == 47 }
                    #expect(nsec.rcode == 0 && nsecs.count == 1 && nsecs[0].ownerWire == q
                            && nsec.answer.contains { $0.type == 46 } == signed, "\(name)\n\(nsec.text)")
                    // QTYPE RRSIG: every RRset at the name (the NSEC bitmap's types) has its
                    // signatures in ANSWER, each verifying over that RRset; nothing else.
                    let rrsig = try Packet(wire: ask(r, name, 46, edns: edns))
                    #expect(rrsig.rcode == 0 && rrsig.aa && !rrsig.answer.isEmpty && rrsig.answer.allSatisfy { $0.type == 46 },
                            "\(name)\n\(rrsig.text)")
                    guard let bitmap = nsecs.first?.rdataFields[1] else { continue }
                    var covered: Set<UInt16> = []
                    for sig in rrsig.answer {
                        let t = UInt16(sig.rdataFields[0][0]) << 8 | UInt16(sig.rdataFields[0][1])
                        covered.insert(t)
                        // The RRset as the signed zone holds it (`$` rendered as the block, as signed).
                        let set = try Packet(wire: ask(r, name, t, edns: EDNS(size: 4096, dnssecOK: true))).answer.filter { $0.type == t }
                        #expect(!set.isEmpty, "\(name) \(t)")
                        let e = try DNSSECVerify.verify(rrset: set.map(wire), rrsig: wire(sig), keys: keys, time: Int(time(nil)))
                        #expect(e == nil, "\(name) \(t): \(String(describing: e))")
                    }
                    let present = Set((1..<256).map(UInt16.init).filter { bitmapHas(bitmap, $0) && $0 != 46 })
                    #expect(covered == present, "\(name): signed \(covered), present \(present)\n\(rrsig.text)")
                }
                // Names that own nothing stay as they were: NXDOMAIN (DO=0 the unsigned answer).
                for (name, type) in [("5.3.0.192.bl.example", UInt16(46)), ("5.3.0.192.bl.example", 47), ("x.y.bl.example", 46)] {
                    let p = try Packet(wire: ask(r, name, type, edns: edns))
                    #expect(p.rcode == 3 && p.answer.isEmpty, "\(name) \(type)\n\(p.text)")
                }
            }
            // Without DO only these QTYPEs and no other change: DNSKEY below the apex is as unsigned.
            let plain = Responder(stores: stores, options: { var o = AnswerOptions(); o.udpPayloadSize = 4096; return o }())
            for name in ["7.100.51.198.bl.example", "5.2.0.192.bl.example", "5.3.0.192.bl.example"] {
                #expect(ask(r, name, 48, edns: nil) == ask(plain, name, 48, edns: nil), "\(name)")
            }
        }
    }

    @Test("A QNAME whose first label is `*` naming a wildcard owner gets the wildcard's own RRset, DO=1 signed at it (Labels without `*`), DO=0 unsigned; other `*` names as before")
    func literalWildcardOwner() throws {
        let dir = TempDir()
        let stores = try SignedFixture.stores(dir)
        let signer = ZoneSigner(keys: try SignedFixture.keys())
        let plain = Responder(stores: stores, options: { var o = AnswerOptions(); o.udpPayloadSize = 4096; return o }())
        for view in ViewKind.allCases {
            let r = Responder(stores: stores, options: SignedFixture.signedOptions(signer, view: view))
            for (name, a, labels) in [("*.2.0.192.bl.example", [UInt8]([127, 0, 0, 2]), 5), ("*.8.b.d.0.1.0.0.2.bl.example", [127, 0, 0, 2], 10)] {
                for edns in [nil, EDNS(size: 4096), EDNS(size: 4096, dnssecOK: true)] {
                    let (p, failures) = try verifySigned(ask(r, name, 1, edns: edns), keys: dnskeyWires(signer))
                    #expect(p.rcode == 0 && p.answer.filter { $0.type == 1 }.map { $0.rdataFields.flatMap { $0 } } == [a], "\(name)\n\(p.text)")
                    if edns?.dnssecOK == true {
                        #expect(failures.isEmpty, "\(name): \(failures)")
                        let sigs = p.answer.filter { $0.type == 46 }
                        #expect(!sigs.isEmpty && sigs.allSatisfy { Int($0.rdataFields[2][0]) == labels }, "\(name)\n\(p.text)")
                        #expect(!p.authority.contains { $0.type == 47 }, "an exact match needs no NSEC\n\(p.text)")
                    } else {
                        #expect(!p.answer.contains { $0.type == 46 }, "\(p.text)")
                    }
                }
                // TXT: `$` renders the wildcard's block as the export writes it.
                let txt = try Packet(wire: ask(r, name, 16, edns: EDNS(size: 4096, dnssecOK: true)))
                let exported = Exporter.records(stores.flatMap { $0.zones }.filter { $0.name == signer.apex },
                                                options: ExportOptions(imagesWithoutIPv6Data: true)).records
                let expected = exported.filter { $0.owner == wireName(name) && $0.type == 16 }.map(\.rdata)
                #expect(!expected.isEmpty && Set(txt.answer.filter { $0.type == 16 }.map { $0.rdataFields.flatMap { $0 } }) == Set(expected),
                        "\(txt.text)")
            }
            // A `*` label that names no wildcard owner: the unsigned answer as before (DO=0).
            for name in ["*.3.0.192.bl.example", "*.bl.example", "*.x.bl.example", "1.*.2.0.192.bl.example"] {
                for edns in [nil, EDNS(size: 4096)] {
                    #expect(ask(r, name, 1, edns: edns) == ask(plain, name, 1, edns: edns), "\(name)")
                }
            }
        }
    }

    @Test("$ in a signed TXT answer is the text the export writes at the wildcard (or exact name) that answers")
    func dollarAsExported() throws {
        let dir = TempDir()
        let stores = try SignedFixture.stores(dir)
        let signer = ZoneSigner(keys: try SignedFixture.keys())
        let r = Responder(stores: stores, options: SignedFixture.signedOptions(signer))
        let view = ExportedZoneView(stores: stores, apex: signer.apex)
        let exported = Exporter.records(stores[0].zones.filter { $0.name == signer.apex },
                                        options: ExportOptions(imagesWithoutIPv6Data: true)).records
        for name in [nibble("2001:db8::5"), nibble("2001:db8:ab::1"), nibble("2001:db8:cd::77"), "5.2.0.192.bl.example",
                     "7.100.51.198.bl.example"] {
            let p = try Packet(wire: ask(r, name, 16, edns: EDNS(size: 4096, dnssecOK: true)))
            let txt = p.answer.filter { $0.type == 16 }.map { $0.rdataFields.flatMap { $0 } }
            let q = wireName(name)
            let proof = view.prove(q)
            let owner = proof.exists ? q : [1, UInt8(ascii: "*")] + proof.closestEncloser
            let expected = exported.filter { $0.owner == owner && $0.type == 16 }.map(\.rdata)
            #expect(!txt.isEmpty && Set(txt) == Set(expected), "\(name): \(p.text)")
        }
    }

    @Test("Random names under one unlisted gap reuse the same NSEC RRsets: no new signature after the first answer")
    func gapReusesSignatures() throws {
        let dir = TempDir()
        let signer = ZoneSigner(keys: try SignedFixture.keys())
        let r = Responder(stores: try SignedFixture.stores(dir), options: SignedFixture.signedOptions(signer))
        _ = ask(r, nibble("2001:db9:1::1"), 1, edns: EDNS(size: 4096, dnssecOK: true))
        let made = signer.signaturesMade
        #expect(made == 3 * 1)  // SOA, the NSEC covering the QNAME, the one covering the wildcard; one ZSK
        var rng = SplitMix64(seed: 7)
        for _ in 0..<500 {
            let name = nibble("2001:db9:\(String(rng.next() % 0xFFFF, radix: 16))::\(String(rng.next() % 0xFFFF, radix: 16))")
            let p = try Packet(wire: ask(r, name, 1, edns: EDNS(size: 4096, dnssecOK: true)))
            #expect(p.rcode == 3)
        }
        #expect(signer.signaturesMade == made, "signatures made: \(signer.signaturesMade)")
        #expect(signer.cacheHits >= 500 * 3)
    }

    @Test("A DO=1 QNAME that is not a name of the signed view gets the view's answer: the wildcard's RRset signed at the wildcard with the NSEC covering the QNAME, or NXDOMAIN")
    func notANameOfTheView() throws {
        let dir = TempDir()
        let stores = try SignedFixture.stores(dir)
        let signer = ZoneSigner(keys: try SignedFixture.keys())
        let r = Responder(stores: stores, options: SignedFixture.signedOptions(signer))
        let view = ExportedZoneView(stores: stores, apex: signer.apex)
        // Name, the A RDATA of the wildcard that answers it (nil: NXDOMAIN).
        let cases: [(String, [UInt8]?)] = [
            ("02.2.0.192.bl.example", [127, 0, 0, 2]),
            ("002.2.0.192.bl.example", [127, 0, 0, 2]),
            ("09.2.0.192.bl.example", [127, 0, 0, 2]),
            ("1.5.2.0.192.bl.example", [127, 0, 0, 2]),
            ("x.5.2.0.192.bl.example", [127, 0, 0, 2]),
            ("x." + nibble("2001:db8::5"), [127, 0, 0, 2]),
            ("x." + nibble("2001:db8:cd::77"), [127, 0, 0, 4]),
            ("x." + nibble("::ffff:192.0.2.5"), [127, 0, 0, 2]),
            ("7.100.051.198.bl.example", nil),
            ("5.2.00.192.bl.example", nil),
            ("x.7.100.51.198.bl.example", nil),
        ]
        for (name, a) in cases {
            let q = wireName(name).map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }
            let proof = view.prove(q)
            #expect(!proof.exists, "\(name)")
            let (p, failures) = try verifySigned(ask(r, name, 1, edns: EDNS(size: 4096, dnssecOK: true)), keys: dnskeyWires(signer))
            #expect(failures.isEmpty, "\(name): \(failures)\n\(p.text)")
            if let a {
                #expect(p.rcode == 0 && proof.wildcardExists, "\(name)\n\(p.text)")
                #expect(p.answer.filter { $0.type == 1 }.map { $0.rdataFields.flatMap { $0 } } == [a], "\(name)\n\(p.text)")
                let sigs = p.answer.filter { $0.type == 46 }
                // The wildcard's Labels field: its owner's labels, `*` not counted (RFC 4034 §3.1.3).
                let wildcardLabels = wireLabels(proof.closestEncloser)
                #expect(!sigs.isEmpty && sigs.allSatisfy { Int($0.rdataFields[2][0]) == wildcardLabels }, "\(name)\n\(p.text)")
                #expect(p.authority.contains { $0.type == 47 && $0.ownerWire == proof.nsec.owner }, "\(name)\n\(p.text)")
            } else {
                #expect(p.rcode == 3 && p.answer.isEmpty, "\(name)\n\(p.text)")
            }
        }
    }

    @Test("A flood of leading-zero and deeper names under one wildcard or one gap makes no new signature after the first")
    func leadingZeroFlood() throws {
        // The breaker's zone: a /24 with an exclusion (*.2.0.192) and a /8 (*.10).
        let dir = TempDir()
        let v4 = dir.write("v4.txt", SignedFixture.soa + ":127.0.0.2:v4 $\n192.0.2.0/24\n!192.0.2.9\n10.0.0.0/8 :127.0.0.4:big\n")
        let stores = try DataSources(stores: [], specs: [ZoneSpec(zone: "bl.example", type: "ip4set", files: [v4])]).load(now: 0) { _ in }
        let signer = ZoneSigner(keys: try SignedFixture.keys())
        let r = Responder(stores: stores, options: SignedFixture.signedOptions(signer))
        for n in ["02.2.0.192.bl.example", "1.2.3.010.bl.example", "1.2.03.10.bl.example"] {
            for t: UInt16 in [1, 16] { _ = ask(r, n, t, edns: EDNS(size: 4096, dnssecOK: true)) }
        }
        let made = signer.signaturesMade
        var rng = SplitMix64(seed: 3)
        for i in 0..<600 {
            // Under *.2.0.192 with a leading zero; under the /8 spelled `010` (no name `010`, no
            // wildcard at the apex: NXDOMAIN); under *.10 with a leading zero below it.
            let name = [
                "0\(rng.next() % 100).2.0.192.bl.example",
                "\(rng.next() % 256).\(rng.next() % 256).\(rng.next() % 256).010.bl.example",
                "\(rng.next() % 256).\(rng.next() % 256).0\(rng.next() % 100).10.bl.example",
            ][i % 3]
            let p = try Packet(wire: ask(r, name, [1, 16][Int(rng.next() % 2)], edns: EDNS(size: 4096, dnssecOK: true)))
            #expect(p.rcode == (i % 3 == 1 ? 3 : 0), "\(name)\n\(p.text)")
        }
        #expect(signer.signaturesMade == made, "signatures made: \(made) -> \(signer.signaturesMade)")
    }

    @Test("The search for a child block standing for a wildcard is bounded: a twin that is a name among 17 names is SERVFAIL (DO=1 only)")
    func wildcardSearchBounded() throws {
        // 192.0.2.0/24 listed, 192.0.2.0 … 192.0.2.16 each an exact name of its own value.
        let dir = TempDir()
        let exact = (0...16).map { "192.0.2.\($0) :127.0.1.\($0):x" }.joined(separator: "\n")
        let v4 = dir.write("v4.txt", SignedFixture.soa + ":127.0.0.2:v4\n192.0.2.0/24\n" + exact + "\n")
        let stores = try DataSources(stores: [], specs: [ZoneSpec(zone: "bl.example", type: "ip4set", files: [v4])]).load(now: 0) { _ in }
        let signer = ZoneSigner(keys: try SignedFixture.keys())
        let r = Responder(stores: stores, options: SignedFixture.signedOptions(signer))
        let plain = Responder(stores: stores, options: { var o = AnswerOptions(); o.udpPayloadSize = 4096; return o }())
        let free = try Packet(wire: ask(r, "020.2.0.192.bl.example", 1, edns: EDNS(size: 4096, dnssecOK: true)))
        #expect(free.rcode == 0 && free.answer.filter { $0.type == 1 }.map { $0.rdataFields.flatMap { $0 } } == [[127, 0, 0, 2]], "\(free.text)")
        let bounded = try Packet(wire: ask(r, "00.2.0.192.bl.example", 1, edns: EDNS(size: 4096, dnssecOK: true)))
        #expect(bounded.rcode == 2 && bounded.answer.isEmpty, "\(bounded.text)")
        #expect(ask(r, "00.2.0.192.bl.example", 1, edns: EDNS(size: 4096)) == ask(plain, "00.2.0.192.bl.example", 1, edns: EDNS(size: 4096)))
    }

    @Test("A cached signature within the refresh margin of expiry is made anew; none served expired")
    func refreshBeforeExpiry() throws {
        let dir = TempDir()
        let now = Mutex<UInt32>(UInt32(time(nil)))
        let signer = ZoneSigner(keys: try SignedFixture.keys(), validity: SignatureValidity(inceptionOffset: 60, lifetime: 120, refreshMargin: 60),
                                clock: { now.withLock { $0 } })
        let r = Responder(stores: try SignedFixture.stores(dir), options: SignedFixture.signedOptions(signer))
        var lastMade = 0
        for step in 0..<10 {
            let t = now.withLock { $0 }
            let p = try Packet(wire: ask(r, nibble("2001:db8::5"), 1, edns: EDNS(size: 4096, dnssecOK: true)))
            for sig in p.answer where sig.type == 46 {
                let exp = sig.rdataFields[4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                let inc = sig.rdataFields[5].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                #expect(exp > t + 60 && inc <= t, "step \(step)")
            }
            #expect(signer.secondsUntilSoonestExpiry.map { $0 > 60 } == true)
            if step % 2 == 1 { #expect(signer.signaturesMade > lastMade, "re-signed after 70 s") }
            lastMade = signer.signaturesMade
            now.withLock { $0 += step % 2 == 0 ? 70 : 0 }
        }
    }

    @Test("A signed answer that does not fit the UDP size is TC=1 with no records; over TCP it is whole")
    func truncation() throws {
        let dir = TempDir()
        let signer = ZoneSigner(keys: try SignedFixture.keys())
        let r = Responder(stores: try SignedFixture.stores(dir), options: SignedFixture.signedOptions(signer))
        let udp = try Packet(wire: ask(r, "bl.example", 48, edns: EDNS(size: 512, dnssecOK: true)))
        let full = try Packet(wire: ask(r, "bl.example", 48, edns: EDNS(size: 512, dnssecOK: true), transport: .tcp))
        if full.wire.count > 512 {
            #expect(udp.tc && udp.answer.isEmpty && udp.authority.isEmpty)
        }
        #expect(!full.tc && full.answer.count >= 3)
    }

    @Test("The signature cache is bounded by its capacity")
    func cacheBounded() throws {
        let dir = TempDir()
        let signer = ZoneSigner(keys: try SignedFixture.keys(), cacheCapacity: 5)
        let r = Responder(stores: try SignedFixture.stores(dir), options: SignedFixture.signedOptions(signer))
        for c in signedCases { _ = ask(r, c.name, c.type, edns: EDNS(size: 4096, dnssecOK: true)) }
        #expect(signer.cachedRRsets <= 5)
        #expect(signer.cacheMisses > 5)
    }
}

@Suite("--dnssec-key in the daemon configuration")
struct DNSSECConfigurationTests {
    static func refusal(_ change: (inout DaemonOptions) -> Void) -> String {
        var o = DaemonOptions()
        o.specs = ["bl.example:ip4set:v4.txt"]
        change(&o)
        do { _ = try DaemonConfiguration(o); return "" } catch { return "\(error)" }
    }

    @Test("Bad key files are refused naming the file, never showing the private key")
    func badKeyFiles() throws {
        let dir = TempDir()
        let good = dir.path + "/Kbl.example.+013+33812"
        _ = dir.write("Kbl.example.+013+33812.key", SignedFixture.zskKey)
        _ = dir.write("Kbl.example.+013+33812.private", SignedFixture.zskPrivate)
        #expect(Self.refusal { $0.dnssecKeys = [good] } == "")
        #expect(Self.refusal { $0.dnssecKeys = [good + ".private"] } == "")
        let cases: [(String, String, String)] = [
            ("missing", "", ""),
            ("wrongpair", SignedFixture.zskKey, SignedFixture.kskPrivate),
            ("badalg", SignedFixture.zskKey.replacingOccurrences(of: "256 3 13", with: "256 3 8"), SignedFixture.zskPrivate),
            ("garbage", "not a key\n", SignedFixture.zskPrivate),
            ("badprivate", SignedFixture.zskKey, "Private-key-format: v1.2\nAlgorithm: 13 (ECDSAP256SHA256)\nPrivateKey: \(SignedFixture.zskSecret.dropFirst(4))\n"),
        ]
        for (name, pub, priv) in cases {
            let base = dir.path + "/K\(name)"
            if !pub.isEmpty { _ = dir.write("K\(name).key", pub) }
            if !priv.isEmpty { _ = dir.write("K\(name).private", priv) }
            let message = Self.refusal { $0.dnssecKeys = [base] }
            #expect(message.contains("K\(name)."), "\(name): \(message)")
            for secret in [SignedFixture.zskSecret, SignedFixture.kskSecret] {
                let s = Array(secret)
                for i in 0...(s.count - 8) { #expect(!message.contains(String(s[i..<(i + 8)])), "\(name): \(message)") }
            }
        }
        #expect(Self.refusal { $0.dnssecKeys = [good, good] }.contains("twice"))
    }

    @Test("Transition mappings in a signed zone are refused, naming the combination")
    func transitionsRefused() throws {
        let dir = TempDir()
        _ = dir.write("K.key", SignedFixture.zskKey)
        _ = dir.write("K.private", SignedFixture.zskPrivate)
        let m = Self.refusal { $0.dnssecKeys = [dir.path + "/K"]; $0.teredo = ["bl.example"] }
        #expect(m.contains("--teredo/--nat64/--6rd") && m.contains("--dnssec-key") && m.contains("bl.example"), "\(m)")
        #expect(Self.refusal { $0.dnssecKeys = [dir.path + "/K"]; $0.teredo = ["other.example"] } == "")
    }

    @Test("Zone transfers and NOTIFY with a signed zone start (transfers are signed); --transfer-expand-text is refused, naming the zone")
    func transfersAllowed() throws {
        let dir = TempDir()
        _ = dir.write("K.key", SignedFixture.zskKey)
        _ = dir.write("K.private", SignedFixture.zskPrivate)
        #expect(Self.refusal { $0.dnssecKeys = [dir.path + "/K"]; $0.allowTransfer = ["127.0.0.1/32"] } == "")
        #expect(Self.refusal { $0.dnssecKeys = [dir.path + "/K"]; $0.notify = ["127.0.0.1:5300"] } == "")
        let t = Self.refusal { $0.dnssecKeys = [dir.path + "/K"]; $0.allowTransfer = ["127.0.0.1/32"]; $0.transferExpandText = "x" }
        #expect(t.contains("--transfer-expand-text") && t.contains("--dnssec-key") && t.contains("bl.example"), "\(t)")
        #expect(Self.refusal { $0.allowTransfer = ["127.0.0.1/32"]; $0.transferExpandText = "x" } == "")
    }

    @Test("Signing settings: a cache of 0 and a validity below a minute are refused")
    func settings() {
        let dir = TempDir()
        _ = dir.write("K.key", SignedFixture.zskKey)
        _ = dir.write("K.private", SignedFixture.zskPrivate)
        #expect(Self.refusal { $0.dnssecKeys = [dir.path + "/K"]; $0.dnssecSignatureCache = 0 }.contains("--dnssec-signature-cache"))
        #expect(Self.refusal { $0.dnssecKeys = [dir.path + "/K"]; $0.dnssecValidity = 10 }.contains("--dnssec-validity"))
        #expect(Self.refusal { $0.dnssecKeys = [dir.path + "/K"]; $0.dnssecRefresh = 14 * 86_400 }.contains("--dnssec-refresh"))
    }

    @Test("A refresh margin that would serve signatures with seconds left is refused: at least an hour, or a quarter of the validity")
    func refreshFloor() {
        let dir = TempDir()
        _ = dir.write("K.key", SignedFixture.zskKey)
        _ = dir.write("K.private", SignedFixture.zskPrivate)
        for r in [0, 1, 3599] {
            let why = Self.refusal { $0.dnssecKeys = [dir.path + "/K"]; $0.dnssecRefresh = r }
            #expect(why.contains("--dnssec-refresh \(r) must be at least 3600 seconds"), "\(r): \(why)")
        }
        #expect(Self.refusal { $0.dnssecKeys = [dir.path + "/K"]; $0.dnssecRefresh = 3600 } == "")
        // A one-minute validity (tests): a quarter of it, 15 seconds.
        #expect(Self.refusal { $0.dnssecKeys = [dir.path + "/K"]; $0.dnssecValidity = 60; $0.dnssecRefresh = 14 }.contains("at least 15 seconds"))
        #expect(Self.refusal { $0.dnssecKeys = [dir.path + "/K"]; $0.dnssecValidity = 60; $0.dnssecRefresh = 15 } == "")
    }
}
