import DNSBL
import DNSSEC
import Foundation
import PrefixStore
import ServerTestSupport
import Synchronization
import TestSupport
import Testing
import ZoneExport
import ZoneSource
import ZoneTransfer

/// `SignedZoneStream` (the signed zone made as the label trees are walked in canonical
/// order) against `CanonicalZone.signedRecords` (the zone built whole and sorted): the same
/// records in the same order, on random stores.
@Suite("Signed zone streamed as it is walked")
struct SignedStreamTests {
    static let apex = try! #require(CanonicalName.parse("bl.example."))
    static let soa = "$SOA 3600 ns1.bl.example hostmaster.bl.example 7 600 300 86400 300\n$NS 3600 ns1.bl.example\n"

    static func compile(_ datasets: [(type: String, text: String)]) throws -> [StoreZone] {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var specs: [ZoneSpec] = []
        for (i, d) in datasets.enumerated() {
            let path = dir + "/d\(i).txt"
            try d.text.write(toFile: path, atomically: true, encoding: .utf8)
            specs.append(ZoneSpec(zone: "bl.example", type: d.type, files: [path]))
        }
        var options = CompileOptions()
        options.force = true
        let r = Compiler.compile(specs, options: options)
        #expect(!r.hasErrors, "\(r.diagnostics)")
        return try Store(zones: r.zones).zones
    }

    /// A random list: IPv6 prefixes under a few /16s (top nibbles 2, 3, f among them), IPv4
    /// prefixes under several top octets (2, 20, 25, 192, 198: labels that sort between and
    /// collide with the nibbles), exclusions, values of their own, `$` texts.
    static func randomList(_ family: AddressFamily, rng: inout SplitMix64, count: Int) -> String {
        var text = soa + ":127.0.0.2:listed $\n"
        for _ in 0..<count {
            let bang = rng.next() % 5 == 0 ? "!" : ""
            let value = rng.next() % 4 == 0 ? " :127.0.0.\(3 + rng.next() % 3):other" : ""
            if family == .ipv6 {
                let top: [UInt128] = [0x2001_0DB8, 0x2002_0200, 0x3FFF_0000, 0xFE80_0000, 0x2001_0DB9]
                let len = [32, 36, 40, 44, 48, 52, 56, 64, 72, 96, 128, 33, 47, 61, 127][Int(rng.next() % 15)]
                var a = top[Int(rng.next() % 5)] << 96 | (rng.next128() >> 32 & (UInt128(1) << 96 - 1) >> UInt128(rng.next() % 24))
                if len < 128 { a &= ~((UInt128(1) << UInt128(128 - len)) - 1) }
                let groups = (0..<8).map { String(UInt16((a >> UInt128(112 - 16 * $0)) & 0xFFFF), radix: 16) }
                text += "\(bang)\(groups.joined(separator: ":"))/\(len)\(value)\n"
            } else {
                let tops: [UInt32] = [2, 20, 25, 192, 198, 1, 100]
                let len = [24, 25, 26, 28, 30, 32, 32, 16, 20, 23, 8][Int(rng.next() % 11)]
                var a = tops[Int(rng.next() % 7)] << 24 | UInt32(truncatingIfNeeded: rng.next()) & 0x00FF_FFFF
                if len < 32 { a &= ~((UInt32(1) << UInt32(32 - len)) - 1) }
                text += "\(bang)\(a >> 24).\(a >> 16 & 0xFF).\(a >> 8 & 0xFF).\(a & 0xFF)/\(len)\(value)\n"
            }
        }
        return text
    }

    static let generic = soa + """
        @ MX 10 mx.example.net
        www A 192.0.2.80
        ns1 A 192.0.2.53
        2.0.0.127 TXT test entry
        info.2.2.2 TXT inside a listed block
        8.b.d.0.1.0.0.2 TXT nibble path

        """

    /// The built reference and the stream for `parts`, compared record by record.
    static func check(_ parts: [StoreZone], what: String, ents: Bool) throws {
        let key = try SigningKey(publicFile: "K.key", publicText: SignatureCarryTests.key,
                                 privateFile: "K.private", privateText: SignatureCarryTests.secret)
        let now = Atomic<UInt32>(1_800_000_000)
        // A cache larger than the zone: the stream (which only looks the cache up) gets the
        // reference's signatures, so the records are byte for byte equal.
        let signer = ZoneSigner(keys: [key], cacheCapacity: 1_000_000, clock: { now.load(ordering: .relaxed) })
        let zone = CanonicalZone(parts: parts, apex: apex, dnskeys: signer.dnskeyRData, keepRRsets: true,
                                 emptyNonTerminalRecords: ents)
        var built: [ExportRecord] = []
        let builtFigures = zone.signedRecords(signer: signer, reuse: SignatureCarry()) { built.append($0) }
        var streamed: [ExportRecord] = []
        let carry = SignatureCarry()
        let s = SignedZoneStream.records(parts: parts, apex: apex, signer: signer, reuse: carry,
                                         emptyNonTerminalRecords: ents) { streamed.append($0) }
        #expect(s.figures.signaturesMade == 0, "\(what): every signature from the signer's cache")
        #expect(s.owners == zone.count, "\(what): owners")
        #expect(s.figures.rrsets == builtFigures.rrsets && s.figures.records == builtFigures.records, "\(what): figures")
        #expect(s.stats == zone.stats, "\(what): export figures")
        #expect(streamed.count == built.count, "\(what): \(streamed.count) records streamed, \(built.count) built")
        if let i = (0..<min(streamed.count, built.count)).first(where: { streamed[$0] != built[$0] }) {
            Issue.record("\(what): record \(i) differs:\nstreamed \(streamed[i])\nbuilt    \(built[i])")
        }
        #expect(streamed == built, "\(what): streamed == built")
        // The carry: a second stream re-signs nothing and writes the same records.
        var again: [ExportRecord] = []
        let second = SignedZoneStream.records(parts: parts, apex: apex, signer: signer, reuse: carry,
                                              emptyNonTerminalRecords: ents) { again.append($0) }
        #expect(second.figures.signaturesMade == 0 && second.figures.reused == second.figures.rrsets && again == built,
                "\(what): the carry gives every signature")
        #expect(carry.count == second.figures.rrsets)
    }

    @Test("random stores (IPv6, IPv4, both with colliding top labels, two datasets, generic records, split over two stores), with and without --dnssec-ent-rrset: the streamed signed zone equals the built one record for record")
    func streamedEqualsBuilt() throws {
        let seed = testSeed()
        var rng = SplitMix64(seed: seed)
        for round in 0..<3 {
            let shapes: [(String, [AddressFamily], Bool)] = [
                ("IPv6", [.ipv6], false), ("IPv4", [.ipv4], false), ("both", [.ipv6, .ipv4], false),
                ("two IPv6 and IPv4", [.ipv6, .ipv6, .ipv4], false), ("both and generic", [.ipv6, .ipv4], true)]
            for (what, families, generic) in shapes {
                var files = families.map { f in
                    (type: f == .ipv6 ? "ip6trie" : "ip4set", text: Self.randomList(f, rng: &rng, count: 5 + Int(rng.next() % 60)))
                }
                if generic { files.append((type: "generic", text: Self.generic)) }
                let parts = try Self.compile(files)
                for ents in [false, true] {
                    try Self.check(parts, what: "seed \(seed) round \(round) \(what)\(ents ? " ents" : "")", ents: ents)
                }
            }
            // One zone over two stores (serve --store a --store b): the union.
            let a = try Self.compile([(type: "ip6trie", text: Self.randomList(.ipv6, rng: &rng, count: 30))])
            let b = try Self.compile([(type: "ip4set", text: Self.randomList(.ipv4, rng: &rng, count: 30)),
                                      (type: "ip6trie", text: Self.randomList(.ipv6, rng: &rng, count: 30))])
            try Self.check(a + b, what: "seed \(seed) round \(round) two stores", ents: false)
        }
    }

    @Test("the canonical export: owners strictly ascending in canonical order, the export's records (owners lower case) and figures")
    func canonicalExport() throws {
        var rng = SplitMix64(seed: testSeed())
        let parts = try Self.compile([(type: "ip6trie", text: Self.randomList(.ipv6, rng: &rng, count: 80)),
                                      (type: "ip4set", text: Self.randomList(.ipv4, rng: &rng, count: 80)),
                                      (type: "generic", text: Self.generic)])
        for ents in [false, true] {
            let options = ExportOptions(dollar: .block, imagesWithoutIPv6Data: true, emptyNonTerminalRecords: ents)
            var stream = CanonicalExport(parts, options: options)
            var records: [ExportRecord] = []
            var previous: [UInt8]? = nil
            while let g = stream.next() {
                if let p = previous { #expect(CanonicalName.compare(p, g.owner) < 0, "\(CanonicalName.text(p)) before \(CanonicalName.text(g.owner))") }
                previous = g.owner
                #expect(g.records.allSatisfy { $0.owner.map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 } == g.owner })
                records += g.records.map { var r = $0; r.owner = g.owner; return r }
            }
            var exported: [ExportRecord] = []
            let stats = Exporter.export(parts, options: options) { r in
                var r = r; r.owner = r.owner.map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 }; exported.append(r)
            }
            func key(_ r: ExportRecord) -> String { "\(r.owner) \(r.type) \(r.ttl) \(r.rdata)" }
            #expect(records.map(key).sorted() == exported.map(key).sorted(), "ents \(ents): the export's records")
            #expect(stream.stats == stats, "ents \(ents): figures")
            #expect(stream.owners == Set(exported.map(\.owner)).count)
        }
    }
}
