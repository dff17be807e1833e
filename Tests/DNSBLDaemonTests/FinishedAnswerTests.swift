@testable import DNSBL
import DNSBLDaemon
import DNSSEC
import DNSWire
import LDNSKit
import PrefixStore
import Synchronization
import Testing
import TestSupport
import ZoneSource
#if canImport(Glibc)
import Glibc
#endif

// The finished DO=1 answers each thread keeps per proof-cache entry and QTYPE (ProofCache,
// "Finished answers"): a DO=1 answer served from them is byte for byte the answer the slow
// path (signAnswer rewriting the DO=0 answer) writes — for the name that made it and for the
// other names of its gap, of other lengths (IPv4), with every UDP size (truncation) and over
// TCP — and none is served past its signatures' re-signing time or after the signing keys
// changed.

/// A wire name as text (the labels here hold no dots).
private func text(_ wire: [UInt8]) -> String {
    var labels: [String] = []
    var p = 0
    while p < wire.count && wire[p] != 0 {
        labels.append(String(decoding: wire[(p + 1)...(p + Int(wire[p]))], as: UTF8.self))
        p += 1 + Int(wire[p])
    }
    return labels.joined(separator: ".")
}

@Suite("Finished DO=1 answers: equal to the slow path's, never served stale")
struct FinishedAnswerTests {
    /// A, TXT, ANY, NSEC, HINFO, SOA, DNSKEY, AAAA.
    static let types: [UInt16] = [1, 16, 255, 47, 13, 6, 48, 28]

    /// Asks `name` in `r` with finished answers off (the slow path), then on twice (kept, then
    /// served); returns the three responses and how many of the two were served finished.
    static func threeWays(_ r: Responder, _ name: String, _ type: UInt16, edns: EDNS, transport: Transport)
        -> (slow: [UInt8], first: [UInt8], again: [UInt8], firstServed: Bool, againServed: Bool) {
        ProofCache.setFinishedAnswers(false)
        let slow = ask(r, name, type, edns: edns, transport: transport)
        ProofCache.setFinishedAnswers(true)
        let s0 = ProofCache.finishedCounts.served
        let first = ask(r, name, type, edns: edns, transport: transport)
        let s1 = ProofCache.finishedCounts.served
        let again = ask(r, name, type, edns: edns, transport: transport)
        let s2 = ProofCache.finishedCounts.served
        return (slow, first, again, s1 > s0, s2 > s1)
    }

    /// Random names of every kind in `stores` (owners, empty non-terminals, children, parents,
    /// random names under the listed and unlisted ranges at every length, ::ffff: and 6to4
    /// images, the apex, a name that is no address), every QTYPE, random UDP sizes and TCP,
    /// some in mixed case: the finished answer equals the slow path's, byte for byte.
    func check(_ stores: [Store], seed: UInt64, what: String) throws -> (asked: Int, gapServed: Int, repeatServed: Int) {
        defer { ProofCache.setFinishedAnswers(true) }
        let signer = ZoneSigner(keys: try SignedFixture.keys())
        let r = Responder(stores: stores, options: SignedFixture.signedOptions(signer, view: .store))
        let view = ViewKind.store.make(stores, apex: signer.apex)
        try #require(view is StoreZoneView, "\(what): the store view covers the zone")
        var rng = SplitMix64(seed: seed)
        var names = sampleNames(ExportedZoneView(stores: stores, apex: signer.apex), rng: &rng, random: 60).map(text)
        // Gap mates: more names under the same ranges (IPv4 names of every length).
        for _ in 0..<60 {
            names.append("\(rng.next() % 256).\(rng.next() % 256).\([2, 100][Int(rng.next() % 2)]).\([192, 198][Int(rng.next() % 2)]).bl.example")
            names.append("\(rng.next() % 256).\(rng.next() % 256).51.198.bl.example")
            names.append(nibble("2001:db8:\(String(rng.next() % 0x10000, radix: 16))::\(String(rng.next() % 0x10000, radix: 16))"))
        }
        names.append("bl.example")
        for i in names.indices.reversed() { names.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        var asked = 0, gapServed = 0, repeatServed = 0, bad = 0
        for name in names {
            let type = Self.types[Int(rng.next() % UInt64(Self.types.count))]
            let transport: Transport = rng.next() % 4 == 0 ? .tcp : .udp
            let edns = EDNS(size: [512, 1232, 4096][Int(rng.next() % 3)], dnssecOK: true)
            // 0x20: some names in mixed case (the question keeps it; the answer points at it).
            let spelled = rng.next() % 4 == 0 ? String(name.map { $0.isLetter && rng.next() % 2 == 0 ? Character($0.uppercased()) : $0 }) : name
            let a = Self.threeWays(r, spelled, type, edns: edns, transport: transport)
            asked += 1
            if a.firstServed { gapServed += 1 }
            if a.againServed { repeatServed += 1 }
            if a.slow != a.first || a.slow != a.again {
                bad += 1
                if bad <= 3 {
                    Issue.record("""
                        \(what) seed \(seed): \(spelled) type \(type) \(transport) size \(edns.size) \
                        (served finished: first \(a.firstServed), again \(a.againServed))
                        slow:  \(a.slow.map { String($0, radix: 16) })
                        first: \(a.first.map { String($0, radix: 16) })
                        again: \(a.again.map { String($0, radix: 16) })
                        """)
                }
            }
        }
        #expect(bad == 0, "\(what) seed \(seed): \(bad) of \(asked) answers differ from the slow path's")
        return (asked, gapServed, repeatServed)
    }

    @Test("random stores and the fixture: every kind of name and QTYPE, first and repeated answers equal the slow path's")
    func equalsSlowPath() throws {
        let seed = testSeed()
        var rng = SplitMix64(seed: seed)
        var asked = 0, gapServed = 0, repeatServed = 0
        func add(_ x: (asked: Int, gapServed: Int, repeatServed: Int)) {
            asked += x.asked; gapServed += x.gapServed; repeatServed += x.repeatServed
        }
        add(try check(try SignedFixture.stores(TempDir()), seed: seed, what: "fixture"))
        let shapes: [(String, [AddressFamily])] = [("IPv6", [.ipv6]), ("IPv4", [.ipv4]), ("both", [.ipv6, .ipv4]),
                                                   ("two IPv6 and IPv4", [.ipv6, .ipv6, .ipv4])]
        for (what, families) in shapes {
            let files = families.map { f in
                (type: f == .ipv6 ? "ip6trie" : "ip4set", text: randomList(f, rng: &rng, count: 5 + Int(rng.next() % 40)))
            }
            add(try check(try SignedViewParityTests.load(files), seed: seed &+ rng.next(), what: "random \(what)"))
        }
        // The fast path was taken: most repeated answers (all but DNSKEY, truncated and
        // oversized ones), and first answers of names whose gap another name opened.
        #expect(repeatServed * 2 > asked, "seed \(seed): \(repeatServed) of \(asked) repeated answers served finished")
        #expect(gapServed * 8 > asked, "seed \(seed): \(gapServed) of \(asked) first answers served from a gap mate's")
    }

    @Test("a finished answer is not served past its signatures' re-signing time, nor after the signing keys changed")
    func expiryAndKeyChange() throws {
        let dir = TempDir()
        let start = UInt32(time(nil))
        let now = Mutex<UInt32>(start)
        // Copies are served until expiration - margin: start + 60 (no jitter).
        let signer = ZoneSigner(keys: try SignedFixture.keys(),
                                validity: SignatureValidity(inceptionOffset: 60, lifetime: 120, refreshMargin: 60),
                                clock: { now.withLock { $0 } }, jitter: { _ in 0 })
        let r = Responder(stores: try SignedFixture.stores(dir), options: SignedFixture.signedOptions(signer, view: .store))
        let edns = EDNS(size: 4096, dnssecOK: true)
        var rng = SplitMix64(seed: testSeed())
        // Names of one listed gap (a wildcard answer) and of one unlisted gap (NXDOMAIN).
        let gaps: [() -> String] = [
            { nibble("2001:db8:5::\(String(rng.next() % 0x10000, radix: 16))") },
            { nibble("2001:db9:\(String(rng.next() % 0x10000, radix: 16))::1") },
        ]
        /// RRSIG expirations and key tags of an answer; whether it was served finished.
        func signed(_ name: String) throws -> (expirations: [UInt32], tags: Set<UInt16>, served: Bool) {
            let before = ProofCache.finishedCounts.served
            let p = try Packet(wire: ask(r, name, 1, edns: edns))
            let served = ProofCache.finishedCounts.served > before
            var exp: [UInt32] = [], tags = Set<UInt16>()
            for sig in p.answer + p.authority where sig.type == 46 {
                exp.append(sig.rdataFields[4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
                tags.insert(sig.rdataFields[6].reduce(UInt16(0)) { $0 << 8 | UInt16($1) })
            }
            #expect(!exp.isEmpty, "\(name): signed")
            return (exp, tags, served)
        }
        for (i, gap) in gaps.enumerated() {
            let start = start + 1000 * UInt32(i)
            now.withLock { $0 = start }
            _ = try signed(gap())
            let warm = try signed(gap())
            #expect(warm.served, "a gap mate's answer is served finished")
            // Inside the validity: still served, the same signatures.
            now.withLock { $0 = start + 59 }
            let late = try signed(gap())
            #expect(late.served && late.expirations == warm.expirations)
            // Past the re-signing time (start + 60): signatures made anew, nothing stale served.
            now.withLock { $0 = start + 61 }
            let renewed = try signed(gap())
            #expect(!renewed.served, "past the re-signing time the finished answer is not served")
            #expect(renewed.expirations.allSatisfy { $0 > start + 61 + 60 }, "fresh signatures: \(renewed.expirations)")
            let again = try signed(gap())
            #expect(again.served && again.expirations == renewed.expirations, "the renewed answer is kept")
        }
        // The keys change (a reload with the KSK alone, now a CSK): the next answer is not
        // served finished and every RRSIG is the new signer's.
        let ksk = try SignedFixture.keys()[0]
        now.withLock { $0 = start + 5000 }
        _ = try signed(gaps[0]())
        let before = try signed(gaps[0]())
        #expect(before.served && before.tags == [33812])
        try signer.replaceKeys([ksk])
        let after = try signed(gaps[0]())
        #expect(!after.served && after.tags == [ksk.dnskey.keyTag], "after the key change: \(after.tags)")
        #expect(try signed(gaps[0]()).served)
    }
    @Test("a signature cache of one RRset (--dnssec-signature-cache 1): no finished answer kept or served, every answer signs anew")
    func signatureCacheOfOne() throws {
        let edns = EDNS(size: 4096, dnssecOK: true)
        // A name under a listed wildcard range (A and the NSEC proving no closer match: two RRsets).
        let name = nibble("2001:db8:5::1")
        func run(_ signer: ZoneSigner) throws -> (made: [Int], stored: Int, served: Int, answers: [[UInt8]]) {
            let r = Responder(stores: try SignedFixture.stores(TempDir()), options: SignedFixture.signedOptions(signer, view: .store))
            let before = ProofCache.finishedCounts
            var made: [Int] = [], answers: [[UInt8]] = []
            for _ in 0..<4 {
                let m = signer.signaturesMade
                answers.append(ask(r, name, 1, edns: edns))
                made.append(signer.signaturesMade - m)
            }
            let after = ProofCache.finishedCounts
            return (made, after.stored - before.stored, after.served - before.served, answers)
        }
        let one = try run(ZoneSigner(keys: try SignedFixture.keys(), cacheCapacity: 1))
        #expect(one.stored == 0 && one.served == 0, "cache of one: \(one.stored) kept, \(one.served) served finished")
        #expect(one.made.allSatisfy { $0 > 0 }, "cache of one: signatures made per answer \(one.made)")
        for a in one.answers {
            let p = try Packet(wire: a)
            #expect(p.answer.contains { $0.type == 46 } && p.authority.contains { $0.type == 46 }, "signed answer")
        }
        // The default cache: the repeated answers are served finished, nothing signed after the first.
        let cached = try run(ZoneSigner(keys: try SignedFixture.keys()))
        #expect(cached.stored >= 1 && cached.served == 3, "default cache: \(cached.stored) kept, \(cached.served) served finished")
        #expect(cached.made.dropFirst().allSatisfy { $0 == 0 }, "default cache: signatures made per answer \(cached.made)")
    }
    @Test("finished answers served before the answer rules go only to clients the ACL passes; every client gets the slow path's answer")
    func directOnlyForPassedClients() throws {
        let dir = TempDir()
        let acl = dir.write("acl.txt", "198.51.100.0/24 :empty\n203.0.113.0/24 :127.255.255.3:policy $\n")
        let specs = [ZoneSpec(zone: "bl.example", type: "ip6trie", files: [dir.write("v6.txt", SignedFixture.v6)]),
                     ZoneSpec(zone: "bl.example", type: "ip4set", files: [dir.write("v4.txt", SignedFixture.v4)]),
                     ZoneSpec(zone: "bl.example", type: "acl", files: [acl])]
        let stores = try DataSources(stores: [], specs: specs).load(now: 0) { _ in }
        let signer = ZoneSigner(keys: try SignedFixture.keys())
        let r = Responder(stores: stores, options: SignedFixture.signedOptions(signer, view: .store))
        defer { ProofCache.setFinishedAnswers(true) }
        let edns = EDNS(size: 4096, dnssecOK: true)
        func ask(_ name: String, _ type: UInt16, _ client: ClientAddress) -> [UInt8] {
            let q = query(name, type, edns: edns)
            var out = [UInt8](repeating: 0, count: 65535)
            let n = q.withUnsafeBytes { qb in
                out.withUnsafeMutableBytes { r.respond(to: qb, transport: Transport.udp, client: client, into: $0).length }
            }
            return Array(out[0..<n])
        }
        let pass = ClientAddress(ipv4: 0xC000_02C8), empty = ClientAddress(ipv4: 0xC633_6401),
            policy = ClientAddress(ipv4: 0xCB00_7101)
        var rng = SplitMix64(seed: testSeed())
        var names = [nibble("2001:db8:ab::1"), "7.100.51.198.bl.example", nibble("2001:db9::1"), "1.0.0.10.bl.example"]
        for _ in 0..<4 {
            names.append(nibble("2001:db8:\(String(rng.next() % 0x10000, radix: 16))::\(String(rng.next() % 0x10000, radix: 16))"))
            names.append("\(rng.next() % 256).2.0.192.bl.example")
        }
        let before = ProofCache.finishedCounts
        var bad = 0
        for name in names {
            for type: UInt16 in [1, 16] {
                for client in [pass, pass, empty, pass, policy, pass, .unknown, pass] {
                    ProofCache.setFinishedAnswers(false)
                    let slow = ask(name, type, client)
                    ProofCache.setFinishedAnswers(true)
                    let got = ask(name, type, client)
                    if got != slow {
                        bad += 1
                        if bad <= 3 { Issue.record("\(name) type \(type) client \(client.address): differs from the slow path's") }
                    }
                }
            }
        }
        #expect(bad == 0)
        let after = ProofCache.finishedCounts
        #expect(after.direct - before.direct >= names.count * 2, "served before the rules: \(after.direct - before.direct)")
    }
}
