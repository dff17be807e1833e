import DNSBL
@testable import DNSBLDaemon
import DNSSEC
import DNSWire
import LDNSKit
import PrefixStore
import Testing
import TestSupport
import ZoneSource

// The two signed views the daemon serves — StoreZoneView (from the store's ranges, where it
// covers the zone) and ExportedZoneView (the export enumerated, the reference and fallback) —
// give the same proof for every name: the same existence, NSEC (owner, next owner, bitmap;
// for an empty non-terminal the NSEC covering it), closest encloser and wildcard NSEC.

/// Names to prove in `view`'s zone: every owner and empty non-terminal, a parent and a few
/// children of sampled owners, and random names of every length in the address ranges the
/// data uses (IPv6, its IPv4 images under ::ffff:0:0/96 and 2002::/16, IPv4).
func sampleNames(_ view: ExportedZoneView, rng: inout SplitMix64, random: Int) -> [[UInt8]] {
    let apex = view.apex
    var names = view.names + Array(view.emptyNonTerminals)
    let hex = Array("0123456789abcdef".utf8)
    for _ in 0..<min(random, view.names.count) {
        let o = view.names[Int(rng.next() % UInt64(view.names.count))]
        if o != apex { names.append(ExportedZoneView.parent(o)) }
        names.append([1, hex[Int(rng.next() % 16)]] + o)
        let octet = Array(String(rng.next() % 256).utf8)
        names.append([UInt8(octet.count)] + octet + o)
    }
    func nibbles(_ a: UInt128, _ k: Int) -> [UInt8] {
        var w: [UInt8] = []
        for i in (0..<k).reversed() { w += [1, hex[Int((a >> (124 - 4 * UInt128(i))) & 0xF)]] }
        return w + apex
    }
    func octets(_ a: UInt32, _ k: Int) -> [UInt8] {
        var w: [UInt8] = []
        for i in (0..<k).reversed() {
            let t = Array(String((a >> (24 - 8 * UInt32(i))) & 0xFF).utf8)
            w += [UInt8(t.count)] + t
        }
        return w + apex
    }
    for _ in 0..<random {
        let v4 = UInt32(0xC000_0200) | UInt32(rng.next() % 256)
        let v4b = UInt32(0xC633_0000) | UInt32(rng.next() % 65536)
        let v4Any = rng.next() % 2 == 0 ? v4 : v4b
        let v6: UInt128
        switch rng.next() % 4 {
        case 0: v6 = UInt128(0xFFFF) << 32 | UInt128(v4Any)
        case 1: v6 = UInt128(0x2002) << 112 | UInt128(v4Any) << 80 | UInt128(rng.next() % 65536)
        default: v6 = UInt128(0x2001_0DB8) << 96 | rng.next128() >> 32 | (rng.next() % 2 == 0 ? 0 : rng.next128() >> 64)
        }
        names.append(nibbles(v6, 1 + Int(rng.next() % 32)))
        names.append(nibbles(v6, 32))
        names.append(octets(v4Any, 1 + Int(rng.next() % 4)))
        names.append(octets(v4Any, 4))
    }
    names.append([1, 0x78, 1, 0x79] + apex)  // not an address
    return names
}

/// The two views of `apex` in `stores`; records every name whose proofs differ.
/// `ents`: both with an HINFO RRset at every empty non-terminal (`--dnssec-ent-rrset`).
func checkParity(_ stores: [Store], apex: [UInt8], seed: UInt64, random: Int = 200, what: String, ents: Bool = false) throws {
    let reference = ExportedZoneView(stores: stores, apex: apex, emptyNonTerminalRecords: ents)
    let store = try #require(DaemonConfiguration.signedView(stores: stores, apex: apex, emptyNonTerminalRecords: ents) as? StoreZoneView,
                             "\(what): the store view covers the zone")
    var rng = SplitMix64(seed: seed)
    let names = sampleNames(reference, rng: &rng, random: random)
    var bad = 0
    for q in names {
        let a = store.prove(q), b = reference.prove(q)
        if a != b || store.ownsEmptyNonTerminalRecord(q) != reference.ownsEmptyNonTerminalRecord(q) {
            bad += 1
            if bad <= 5 {
                Issue.record("\(what) seed \(seed): \(CanonicalName.text(q))\nstore  \(a)\nexport \(b)")
            }
        }
    }
    #expect(bad == 0, "\(what): \(bad) of \(names.count) names differ")
    if ents {
        #expect(reference.emptyNonTerminals.isEmpty && !reference.entOwners.isEmpty, "\(what): every empty non-terminal owns HINFO")
    } else {
        #expect(!reference.emptyNonTerminals.isEmpty, "\(what): the sample holds empty non-terminals")
    }
}

/// A random list in rbldnsd's format: prefixes under `base` (IPv6: 2001:db8::/32; IPv4:
/// 192.0.2.0/24 and 198.51.0.0/16), exclusions, values of their own, single addresses.
func randomList(_ family: AddressFamily, rng: inout SplitMix64, count: Int) -> String {
    var text = SignedFixture.soa + ":127.0.0.2:listed $\n"
    for _ in 0..<count {
        let bang = rng.next() % 5 == 0 ? "!" : ""
        let value = rng.next() % 4 == 0 ? " :127.0.0.\(3 + rng.next() % 3):other" : ""
        if family == .ipv6 {
            let len = [32, 36, 40, 44, 48, 52, 56, 64, 72, 96, 128, 33, 47, 61, 127][Int(rng.next() % 15)]
            var a = UInt128(0x2001_0DB8) << 96 | (rng.next128() >> 32 & (UInt128(1) << 96 - 1) >> UInt128(rng.next() % 24))
            if len < 128 { a &= ~((UInt128(1) << UInt128(128 - len)) - 1) }
            let groups = (0..<8).map { String(UInt16((a >> UInt128(112 - 16 * $0)) & 0xFFFF), radix: 16) }
            text += "\(bang)\(groups.joined(separator: ":"))/\(len)\(value)\n"
        } else {
            let len = [24, 25, 26, 28, 30, 32, 32, 16, 20, 23][Int(rng.next() % 10)]
            var a = rng.next() % 2 == 0 ? UInt32(0xC000_0200) | UInt32(rng.next() % 256)
                                        : UInt32(0xC633_0000) | UInt32(rng.next() % 65536)
            if len < 32 { a &= ~((UInt32(1) << UInt32(32 - len)) - 1) }
            if len < 24 && a >> 24 == 0xC0 { continue }
            text += "\(bang)\(a >> 24).\(a >> 16 & 0xFF).\(a >> 8 & 0xFF).\(a & 0xFF)/\(len)\(value)\n"
        }
    }
    return text
}

@Suite("The store-derived and the reference signed view agree (proofs for sampled names)")
struct SignedViewParityTests {
    static let apex = wireName("bl.example")

    static func load(_ files: [(type: String, text: String)]) throws -> [Store] {
        let dir = TempDir()
        let specs = files.enumerated().map { i, f in
            ZoneSpec(zone: "bl.example", type: f.type, files: [dir.write("l\(i).txt", f.text)])
        }
        return try DataSources(stores: [], specs: specs).load(now: 0) { _ in }
    }

    @Test("the bundled zone (zones/), each file alone and both in one zone")
    func bundled() throws {
        let root = repositoryRoot()
        let v4 = ZoneSpec(zone: "bl.example", type: "ip4set", files: [root + "/zones/bl.example.ip4set"])
        let v6 = ZoneSpec(zone: "bl.example", type: "ip6trie", files: [root + "/zones/bl.example.ip6trie"])
        for (what, specs) in [("IPv4", [v4]), ("IPv6", [v6]), ("both", [v4, v6])] {
            let stores = try DataSources(stores: [], specs: specs).load(now: 0) { _ in }
            try checkParity(stores, apex: Self.apex, seed: 1, what: "bundled \(what)")
            try checkParity(stores, apex: Self.apex, seed: 1, what: "bundled \(what), --dnssec-ent-rrset", ents: true)
        }
    }

    @Test("the signed-answer fixture (both families, exact names, an excluded /64)")
    func fixture() throws {
        try checkParity(try SignedFixture.stores(TempDir()), apex: Self.apex, seed: 2, what: "fixture")
    }

    @Test("random stores: IPv6 only, IPv4 only, both families, two datasets of a family")
    func randomStores() throws {
        let seed = testSeed()
        var rng = SplitMix64(seed: seed)
        for round in 0..<4 {
            let shapes: [(String, [AddressFamily])] = [("IPv6", [.ipv6]), ("IPv4", [.ipv4]), ("both", [.ipv6, .ipv4]),
                                                       ("two IPv6 and IPv4", [.ipv6, .ipv6, .ipv4])]
            for (what, families) in shapes {
                let files = families.map { f in
                    (type: f == .ipv6 ? "ip6trie" : "ip4set", text: randomList(f, rng: &rng, count: 5 + Int(rng.next() % 40)))
                }
                let stores = try Self.load(files)
                try checkParity(stores, apex: Self.apex, seed: seed &+ UInt64(round), random: 100,
                                what: "random \(what) round \(round)")
                try checkParity(stores, apex: Self.apex, seed: seed &+ UInt64(round), random: 100,
                                what: "random \(what) round \(round), --dnssec-ent-rrset", ents: true)
            }
        }
    }

    @Test("each covered shape (IPv6, IPv4, both): the store view's DO=1 answers verify and carry the reference's records",
          arguments: ["IPv6", "IPv4", "both"])
    func signedAnswersPerShape(_ shape: String) throws {
        let v6 = (type: "ip6trie", text: SignedFixture.v6), v4 = (type: "ip4set", text: SignedFixture.v4)
        let stores = try Self.load(shape == "IPv6" ? [v6] : shape == "IPv4" ? [v4] : [v6, v4])
        let signer = ZoneSigner(keys: try SignedFixture.keys())
        var viaDaemon = SignedFixture.signedOptions(signer)
        viaDaemon.dnssec = DNSSECServing(signers: [signer]) { s, z in DaemonConfiguration.signedView(stores: s, apex: z.apex) }
        #expect(DaemonConfiguration.signedView(stores: stores, apex: signer.apex) is StoreZoneView)
        let store = Responder(stores: stores, options: viaDaemon)
        let reference = Responder(stores: stores, options: SignedFixture.signedOptions(signer, view: .export))
        var rng = SplitMix64(seed: 3)
        var names = signedCases.map { ($0.name, $0.type) }
        for _ in 0..<100 {
            names.append((nibble("2001:db\(rng.next() % 10)::\(String(rng.next() % 0xFFFF, radix: 16))"), 1))
            names.append(("\(rng.next() % 256).\(rng.next() % 3).0.192.bl.example", [1, 16][Int(rng.next() % 2)]))
        }
        for (name, type) in names {
            let edns = EDNS(size: 4096, dnssecOK: true)
            let (p, failures) = try verifySigned(ask(store, name, type, edns: edns), keys: dnskeyWires(signer), answerIsRRSIGs: type == 46)
            #expect(failures.isEmpty, "\(shape) \(name) \(type): \(failures)\n\(p.text)")
            let q = try Packet(wire: ask(reference, name, type, edns: edns))
            func records(_ p: Packet) -> Set<[UInt8]> { Set((p.answer + p.authority).filter { $0.type != 46 }.map(wire)) }
            #expect(p.rcode == q.rcode && records(p) == records(q), "\(shape) \(name) \(type)\nstore:\n\(p.text)\nexport:\n\(q.text)")
        }
    }

    @Test("the daemon serves the store view where it covers the zone, the reference elsewhere")
    func choice() throws {
        let v6 = (type: "ip6trie", text: SignedFixture.v6), v4 = (type: "ip4set", text: SignedFixture.v4)
        for files in [[v6], [v4], [v6, v4]] {
            #expect(DaemonConfiguration.signedView(stores: try Self.load(files), apex: Self.apex) is StoreZoneView)
        }
        let generic = (type: "generic", text: SignedFixture.soa + "www A 192.0.2.1\n")
        #expect(DaemonConfiguration.signedView(stores: try Self.load([v6, generic]), apex: Self.apex) is ExportedZoneView)
    }
}
