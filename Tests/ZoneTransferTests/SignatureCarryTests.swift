import DNSBL
import DNSSEC
import Foundation
import PrefixStore
import ServerTestSupport
import Synchronization
import Testing
import ZoneExport
import ZoneSource
import ZoneTransfer

/// `CanonicalZone.signedRecords`: the chain, the order, and which signatures a build reuses.
@Suite("Signed zone records and the signatures a reload reuses")
struct SignatureCarryTests {
    /// An Ed25519 CSK for bl.example written by ldns-keygen 1.8.3.
    static let key = "bl.example.\tIN\tDNSKEY\t257 3 15 LIK4G2huMM5gJI4rn8dMo58jwV4Mo9Hmg1b8MdjLOdE=\n"
    static let secret = "Private-key-format: v1.2\nAlgorithm: 15 (ED25519)\nPrivateKey: MutEC3rpllWCc8+99fwPeSmfc2nWcC1SNtRgZNqhpsI="

    static func zone(_ extra: String = "") throws -> [StoreZone] {
        let text = transferZone + "\n" + extra
        let dir = try makeTempDirectory()
        let path = dir + "/zone.txt"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        var options = CompileOptions()
        options.force = true
        let compiled = Compiler.compile([ZoneSpec(zone: "bl.example", type: "ip6trie", files: [path])], options: options)
        try? FileManager.default.removeItem(atPath: dir)
        return try Store(zones: compiled.zones).zones
    }

    @Test("SOA first, one NSEC per owner linking the canonical order back to the apex, an RRSIG per RRset; a second build reuses every signature, a build inside the refresh margin or with another signer re-signs all, a changed line re-signs only its RRsets and the neighbour's NSEC")
    func reuse() throws {
        let now = Atomic<UInt32>(1_800_000_000)
        let k = try SigningKey(publicFile: "K.key", publicText: Self.key, privateFile: "K.private", privateText: Self.secret)
        // A signature cache of one RRset: reuse must come from the carry, not the cache.
        let signer = ZoneSigner(keys: [k], validity: SignatureValidity(lifetime: 14 * 86_400, refreshMargin: 7 * 86_400),
                                cacheCapacity: 1, clock: { now.load(ordering: .relaxed) })
        let apex = try #require(CanonicalName.parse("bl.example."))
        let parts = try Self.zone()
        let zone = CanonicalZone(parts: parts, apex: apex, dnskeys: signer.dnskeyRData, keepRRsets: true)
        var records: [ExportRecord] = []
        let carry = SignatureCarry()
        let first = zone.signedRecords(signer: signer, reuse: carry) { records.append($0) }
        #expect(records.first?.type == ExportType.soa)
        #expect(first.reused == 0 && first.signaturesMade == first.rrsets && first.records == records.count)
        let nsecs = records.filter { $0.type == DNSSECRecords.typeNSEC }
        #expect(nsecs.map(\.owner) == zone.names)
        for (i, n) in nsecs.enumerated() {
            let next = zone.names[(i + 1) % zone.names.count]
            #expect(Array(n.rdata.prefix(next.count)) == next)
            #expect(n.ttl == 5)  // min(SOA TTL 3600, MINIMUM 5)
        }
        #expect(records.filter { $0.type == DNSSECRecords.typeRRSIG }.count == first.rrsets)
        #expect(records.contains { $0.type == DNSSECRecords.typeDNSKEY && $0.owner == apex })

        var again: [ExportRecord] = []
        let second = zone.signedRecords(signer: signer, reuse: carry) { again.append($0) }
        #expect(second.signaturesMade == 0 && second.reused == second.rrsets && again == records)

        // One added line: its owners' RRsets, their NSECs and the predecessors' NSECs.
        let changed = CanonicalZone(parts: try Self.zone("2001:db8:cd::/48 :127.0.0.9:added"), apex: apex,
                                    dnskeys: signer.dnskeyRData, keepRRsets: true)
        let third = changed.signedRecords(signer: signer, reuse: carry) { _ in }
        // Per new owner: A, TXT and NSEC, plus at most one predecessor's NSEC.
        let added = changed.count - zone.count
        #expect(added > 0 && third.signaturesMade >= 3 * added && third.signaturesMade <= 4 * added, "\(third), \(added) new owners")
        #expect(third.reused == third.rrsets - third.signaturesMade)

        // Eight days later every signature is inside the seven-day margin: all made anew.
        now.add(8 * 86_400, ordering: .relaxed)
        let fourth = changed.signedRecords(signer: signer, reuse: carry) { _ in }
        #expect(fourth.reused == 0 && fourth.signaturesMade == fourth.rrsets)
        // Another signer (keys reloaded): nothing carried over.
        let other = ZoneSigner(keys: [k], cacheCapacity: 1, clock: { now.load(ordering: .relaxed) })
        let fifth = changed.signedRecords(signer: other, reuse: carry) { _ in }
        #expect(fifth.reused == 0 && fifth.signaturesMade == fifth.rrsets)
    }

    @Test("Carried signatures come due in four batches ahead of the refresh margin (by owner and type): each build at the recorded due time re-signs one batch with fresh signatures and reuses the rest; four builds re-sign every RRset once")
    func dueInBatches() throws {
        let start: UInt32 = 1_800_000_000
        let now = Atomic<UInt32>(start)
        let k = try SigningKey(publicFile: "K.key", publicText: Self.key, privateFile: "K.private", privateText: Self.secret)
        let validity = SignatureValidity(lifetime: 14 * 86_400, refreshMargin: 7 * 86_400)
        let signer = ZoneSigner(keys: [k], validity: validity, cacheCapacity: 1, clock: { now.load(ordering: .relaxed) })
        let apex = try #require(CanonicalName.parse("bl.example."))
        let zone = CanonicalZone(parts: try Self.zone(), apex: apex, dnskeys: signer.dnskeyRData, keepRRsets: true)
        let carry = SignatureCarry()
        let first = zone.signedRecords(signer: signer, reuse: carry) { _ in }
        let v1 = try #require(carry.version)
        #expect(v1.serial == Self.serial(zone) && v1.generation == signer.keyGeneration && Set(v1.dnskeys) == Set(signer.dnskeyRData))
        // A quarter of the time served (7 days) is the spread; its four steps are 37,800 s.
        let step: UInt32 = 7 * 86_400 / 4 / 4
        let margin = start + 14 * 86_400 - 7 * 86_400
        #expect((0...3).map { margin - $0 * step }.contains(try #require(v1.nextDue)), "\(String(describing: v1.nextDue))")
        var resigned = 0, builds = 0
        while let due = carry.version?.nextDue, Int32(bitPattern: due &- margin) <= 0, builds < 6 {
            now.store(due, ordering: .relaxed)
            var sigs: [ExportRecord] = []
            let f = zone.signedRecords(signer: signer, reuse: carry) { if $0.type == DNSSECRecords.typeRRSIG { sigs.append($0) } }
            builds += 1
            #expect(f.signaturesMade > 0 && f.reused > 0 && f.reused + f.signaturesMade == f.rrsets, "\(f)")
            // The new signatures are fresh: they expire a whole lifetime from now.
            #expect(sigs.filter { r in r.rdata[8..<12].reduce(UInt32(0)) { $0 << 8 | UInt32($1) } == due &+ 14 * 86_400 }.count == f.signaturesMade)
            resigned += f.signaturesMade
            #expect(Int32(bitPattern: try #require(carry.version?.nextDue) &- due) > 0)
        }
        #expect(builds >= 2 && builds <= 4 && resigned == first.rrsets, "\(builds) builds, \(resigned) of \(first.rrsets) RRsets re-signed")
    }

    /// The SOA serial of `zone`.
    static func serial(_ zone: CanonicalZone) -> UInt32 {
        zone.soa.map { r in r.rdata.dropLast(16).suffix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) } } ?? 0
    }

    @Test("a full signature cache drops its oldest RRset for a new one (first in, first out), holds at most its capacity, and keeps a re-signed RRset's place")
    func cacheEvictsOldestFirst() throws {
        let now = Atomic<UInt32>(1_800_000_000)
        let k = try SigningKey(publicFile: "K.key", publicText: Self.key, privateFile: "K.private", privateText: Self.secret)
        let signer = ZoneSigner(keys: [k], cacheCapacity: 3, clock: { now.load(ordering: .relaxed) })
        let owner: [UInt8] = [2, 0x62, 0x6c, 7, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0]
        func sign(_ i: UInt8) -> [[UInt8]] { signer.signatures(owner: owner, type: 1, ttl: 300, rdatas: [[127, 0, 0, i]]) }
        for i: UInt8 in 1...5 { #expect(!sign(i).isEmpty) }
        #expect(signer.cachedRRsets == 3)
        let hits = signer.cacheHits, misses = signer.cacheMisses
        for i: UInt8 in 3...5 { _ = sign(i) }
        #expect(signer.cacheHits == hits + 3 && signer.cacheMisses == misses, "the newest three are held")
        _ = sign(1)  // dropped: signed again, and takes the oldest slot (3's)
        #expect(signer.cacheMisses == misses + 1)
        #expect(signer.cachedRRsets == 3)
        let h2 = signer.cacheHits, m2 = signer.cacheMisses
        _ = sign(4); _ = sign(5); _ = sign(1)
        #expect(signer.cacheHits == h2 + 3 && signer.cacheMisses == m2)
        _ = sign(3)
        #expect(signer.cacheMisses == m2 + 1, "3 was the oldest, dropped for 1")
        // Many more RRsets than slots: never more than the capacity held.
        for i: UInt8 in 6...200 { _ = sign(i) }
        #expect(signer.cachedRRsets == 3)
    }
}
