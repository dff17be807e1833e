@testable import DNSBL
import DNSBLDaemon
import DNSSEC
import DNSWire
import PrefixStore
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

// The malloc gate of DNSBLTests.AllocationTests extended to DO=1 queries in a signed zone
// (issue 12, point 5): once the warm-up has filled the signature cache, a signed answer — the
// store view's proof, the RRSIGs and NSECs copied from the cache — allocates nothing.
// Counted by the malloc interposer tools/test.sh preloads (tools/malloc-count.c); without it
// the test fails, naming the interposer. Before this gate: ~480 allocations per answer.

private typealias MallocCounter = @convention(c) () -> Int

private let signedMallocCount: MallocCounter? = {
    guard let sym = dlsym(nil, "prefixbl_thread_malloc_count") else { return nil }
    return unsafeBitCast(sym, to: MallocCounter.self)
}()

@Suite("Allocations on the signed answer path")
struct SignedAllocationTests {
    /// DO=1 queries of every kind a signed zone answers from the store view, each with the
    /// RCODE and the counts of ANSWER and AUTHORITY RRs it must have (so a gate that passed
    /// on a shortened answer fails here).
    static let cases: [(name: String, type: UInt16, rcode: UInt8, an: Int, ns: Int, what: String)] = [
        (nibble("2001:db8::5"), 1, 0, 2, 2, "listed IPv6 wildcard answer: A + RRSIG; NSEC + RRSIG"),
        (nibble("2001:db8::5"), 16, 0, 2, 2, "listed IPv6 TXT wildcard answer"),
        (nibble("2001:db8:ab::1"), 16, 0, 2, 0, "listed IPv6 exact name"),
        ("5.2.0.192.bl.example", 1, 0, 2, 2, "listed IPv4 wildcard answer"),
        ("5.2.0.192.bl.example", 16, 0, 2, 2, "listed IPv4 TXT wildcard answer"),
        ("7.100.51.198.bl.example", 1, 0, 2, 0, "listed IPv4 exact name"),
        (nibble("2001:db9::1"), 1, 3, 0, 6, "unlisted IPv6: NXDOMAIN, SOA and two NSECs, signed"),
        ("5.3.0.192.bl.example", 1, 3, 0, 6, "unlisted IPv4: NXDOMAIN"),
        (nibble("2001:db8:0:1::9"), 1, 3, 0, 4, "excluded IPv6: NXDOMAIN, one NSEC covers the QNAME and the wildcard"),
        ("9.2.0.192.bl.example", 1, 0, 0, 4, "exclusion marker: NODATA, SOA and its NSEC"),
        (nibble("2001:db8::5"), 28, 0, 0, 4, "wildcard NODATA (other type): the wildcard's NSEC covers the QNAME"),
        ("1.0.0.2.bl.example", 1, 0, 0, 4, "empty non-terminal: NODATA with the covering NSEC"),
        ("2.0.192.bl.example", 1, 0, 0, 4, "IPv4 empty non-terminal"),
        ("bl.example", 48, 0, 3, 0, "apex DNSKEY: two keys, signed by the KSK"),
        ("bl.example", 6, 0, 2, 0, "apex SOA"),
        ("bl.example", 15, 0, 0, 4, "apex NODATA"),
    ]

    @Test
    func signedAnswersFromCachedSignaturesAllocateNothing() throws {
        let count = try #require(signedMallocCount,
            "no malloc interposer: run under tools/test.sh, or LD_PRELOAD=.build/libmalloc-count.so (tools/malloc-count.c)")
        let dir = TempDir()
        let signer = ZoneSigner(keys: try SignedFixture.keys())
        let stores = try SignedFixture.stores(dir)
        #expect(DaemonConfiguration.signedView(stores: stores, apex: signer.apex) is StoreZoneView)
        let r = Responder(stores: stores, options: SignedFixture.signedOptions(signer, view: .store))
        let queries = Self.cases.map { query($0.name, $0.type, edns: EDNS(size: 4096, dnssecOK: true)) }
        let response = UnsafeMutableRawBufferPointer.allocate(byteCount: 65535, alignment: 16)
        defer { response.deallocate() }
        for transport in [Transport.udp, .tcp] {
            // Warm-up: signs every RRset once (the signer's cache, then the responder's copy).
            var warm: [[UInt8]] = []
            for q in queries {
                let n = q.withUnsafeBytes { r.respond(to: $0, transport: transport, into: response).length }
                warm.append(Array(response[0..<n]))
            }
            for (i, c) in Self.cases.enumerated() {
                let a = warm[i]
                try #require(a.count >= 12, "\(c.what): no answer")
                #expect(Int(a[3] & 0xF) == Int(c.rcode), "\(c.what): RCODE \(a[3] & 0xF)")
                #expect(a[2] & 0x02 == 0, "\(c.what): truncated")
                #expect(Int(a[6]) << 8 | Int(a[7]) == c.an, "\(c.what): ANSWER count")
                #expect(Int(a[8]) << 8 | Int(a[9]) == c.ns, "\(c.what): AUTHORITY count")
            }
            let made = signer.signaturesMade
            for (i, q) in queries.enumerated() {
                let served = ProofCache.finishedCounts.served
                let before = count()
                var same = true
                for _ in 0..<200 {
                    let n = q.withUnsafeBytes { r.respond(to: $0, transport: transport, into: response).length }
                    // Byte for byte the warm-up's answer (the signatures come from the cache).
                    same = same && n == warm[i].count && memcmp(response.baseAddress!, warm[i], n) == 0
                }
                let after = count()
                #expect(same, "\(Self.cases[i].what): answer differs from the warm-up's")
                #expect(after - before == 0, "\(transport) \(Self.cases[i].what): \(after - before) allocations in 200 answers")
                // The gate covers the finished answers' path: every repeated answer but the
                // apex DNSKEY (never kept finished) is served from the thread's finished answers.
                let fast = ProofCache.finishedCounts.served - served
                #expect(fast == (Self.cases[i].type == 48 ? 0 : 200), "\(transport) \(Self.cases[i].what): \(fast) of 200 served finished")
            }
            #expect(signer.signaturesMade == made, "no new signature after the warm-up")
        }
    }

    /// NEW names in gaps the warm-up opened, each asked once, with the RCODE and counts their
    /// gap's answers have: a bot rotating through a listed /64, an unlisted range, an excluded
    /// /64, a listed or unlisted IPv4 /24. Their proofs come from the proof cache's entry for
    /// their gap (or, for the IPv4 wildcard names, whose cut is the name itself, are computed
    /// afresh, allocation-free), their NSECs' and answers' signatures from the signature cache.
    static func newNames(_ count: Int, seed: UInt64) -> [(name: String, type: UInt16, rcode: UInt8, an: Int, ns: Int, what: String)] {
        var rng = SplitMix64(seed: seed)
        var out: [(name: String, type: UInt16, rcode: UInt8, an: Int, ns: Int, what: String)] = []
        var seen = Set<String>()
        func hex(_ bits: Int) -> String { String(rng.next() & ((1 << UInt64(bits)) - 1), radix: 16) }
        while out.count < count {
            let c: (name: String, type: UInt16, rcode: UInt8, an: Int, ns: Int, what: String)
            switch out.count % 7 {
            case 0: c = (nibble("2001:db8::\(hex(16))"), 1, 0, 2, 2, "new listed IPv6 name (wildcard)")
            case 1: c = (nibble("2001:db8::\(hex(16))"), 16, 0, 2, 2, "new listed IPv6 name, TXT")
            case 2: c = (nibble("2001:db8::\(hex(16))"), 28, 0, 0, 4, "new listed IPv6 name, other type")
            case 3: c = (nibble("2001:db9:\(hex(16)):\(hex(16))::\(hex(16))"), 1, 3, 0, 6, "new unlisted IPv6 name")
            case 4: c = (nibble("2001:db8:0:1:\(hex(12)):\(hex(16))::\(hex(16))"), 1, 3, 0, 4, "new excluded IPv6 name")
            case 5:
                // Octet labels sorting before the exclusion marker `9` (the wildcard answers
                // them, and the NSEC of `*` is the no-closer-match proof of each).
                let x = [Int(rng.next() % 9), 10 + Int(rng.next() % 80), 100 + Int(rng.next() % 156)][Int(rng.next() % 3)]
                c = ("\(x).2.0.192.bl.example", 1, 0, 2, 2, "new listed IPv4 name (wildcard)")
            default: c = ("\(rng.next() % 256).3.0.192.bl.example", 1, 3, 0, 6, "new unlisted IPv4 name")
            }
            if seen.insert(c.name + "/\(c.type)").inserted && !cases.contains(where: { $0.name == c.name && $0.type == c.type }) {
                out.append(c)
            }
        }
        return out
    }

    @Test
    func newNamesInWarmedGapsAllocateNothing() throws {
        let count = try #require(signedMallocCount,
            "no malloc interposer: run under tools/test.sh, or LD_PRELOAD=.build/libmalloc-count.so (tools/malloc-count.c)")
        let dir = TempDir()
        let signer = ZoneSigner(keys: try SignedFixture.keys())
        let stores = try SignedFixture.stores(dir)
        let r = Responder(stores: stores, options: SignedFixture.signedOptions(signer, view: .store))
        let response = UnsafeMutableRawBufferPointer.allocate(byteCount: 65535, alignment: 16)
        defer { response.deallocate() }
        let edns = EDNS(size: 4096, dnssecOK: true)
        let names = Self.newNames(700, seed: testSeed())
        let queries = names.map { query($0.name, $0.type, edns: edns) }
        for transport in [Transport.udp, .tcp] {
            // Warm-up: the fixed cases (one name per gap) sign every RRset the new names need.
            for c in Self.cases {
                _ = query(c.name, c.type, edns: edns).withUnsafeBytes { r.respond(to: $0, transport: transport, into: response) }
            }
            let made = signer.signaturesMade, misses = signer.cacheMisses
            // Each new name once (per transport); the header bytes that hold the RCODE, TC and
            // the counts kept in a buffer allocated before counting, checked after.
            let headers = UnsafeMutableRawBufferPointer.allocate(byteCount: 12 * queries.count, alignment: 8)
            defer { headers.deallocate() }
            let served = ProofCache.finishedCounts.served
            let before = count()
            var i = 0
            while i < queries.count {
                _ = queries[i].withUnsafeBytes { r.respond(to: $0, transport: transport, into: response).length }
                memcpy(headers.baseAddress! + 12 * i, response.baseAddress!, 12)
                i += 1
            }
            let after = count()
            // Most new names are answered from the finished answer a gap mate left (the gate
            // covers that path; the first name of each kind, per transport, is kept).
            let fast = ProofCache.finishedCounts.served - served
            #expect(fast * 10 > queries.count * 9, "\(transport): \(fast) of \(queries.count) new names served finished")
            #expect(after - before == 0, "\(transport): \(after - before) allocations in \(queries.count) answers to new names")
            var bad = 0
            for (i, c) in names.enumerated() {
                let h = Array(headers[(12 * i)..<(12 * i + 12)])
                let rcode = Int(h[3] & 0xF), tc = h[2] & 0x02 != 0
                let an = Int(h[6]) << 8 | Int(h[7]), ns = Int(h[8]) << 8 | Int(h[9])
                if rcode != Int(c.rcode) || an != c.an || ns != c.ns || tc {
                    bad += 1
                    if bad <= 5 { Issue.record("\(transport) \(c.what) \(c.name): RCODE \(rcode) TC \(tc) ANSWER \(an) AUTHORITY \(ns)") }
                }
            }
            #expect(bad == 0)
        }
    }

    /// A flood of random names under one unlisted gap and under one listed wildcard range:
    /// after each gap's first answer, no new signature and no signature-cache miss (issue 12,
    /// point 5: "random names under one unlisted gap reuse the same two NSEC RRsets"), and one
    /// proof computed per gap.
    @Test
    func floodInOneGapSignsNothingNew() throws {
        let dir = TempDir()
        let signer = ZoneSigner(keys: try SignedFixture.keys())
        let stores = try SignedFixture.stores(dir)
        let r = Responder(stores: stores, options: SignedFixture.signedOptions(signer, view: .store))
        let response = UnsafeMutableRawBufferPointer.allocate(byteCount: 65535, alignment: 16)
        defer { response.deallocate() }
        let edns = EDNS(size: 4096, dnssecOK: true)
        var rng = SplitMix64(seed: testSeed())
        func hex() -> String { String(rng.next() & 0xFFFF, radix: 16) }
        let floods: [(what: String, name: () -> String, rcode: Int)] = [
            ("unlisted 2001:db9::/32", { nibble("2001:db9:\(hex()):\(hex()):\(hex())::\(hex())") }, 3),
            ("listed 2001:db8:5::/48 (wildcard)", { nibble("2001:db8:5:\(hex()):\(hex())::\(hex())") }, 0),
        ]
        for f in floods {
            // The answer without its ID and question: every name of the gap (all of one length)
            // gets the same bytes — the same RRsets, NSECs and RRSIGs.
            func ask(_ name: String) -> [UInt8] {
                let q = query(name, 1, edns: edns)
                let n = q.withUnsafeBytes { r.respond(to: $0, transport: .udp, into: response).length }
                let qlen = nibble("::").utf8.count + 2 + 4
                return Array(response[2..<12]) + Array(response[(12 + qlen)..<n])
            }
            let first = ask(f.name())
            #expect(Int(first[1] & 0xF) == f.rcode, "\(f.what)")
            let made = signer.signaturesMade, misses = signer.cacheMisses, cached = signer.cachedRRsets
            let before = ProofCache.threadCounts
            var wrong = 0
            for _ in 0..<2000 where ask(f.name()) != first { wrong += 1 }
            let after = ProofCache.threadCounts
            #expect(wrong == 0, "\(f.what): \(wrong) answers unlike the first")
            #expect(signer.signaturesMade == made, "\(f.what): \(signer.signaturesMade - made) signatures made by 2,000 random names")
            #expect(signer.cacheMisses == misses && signer.cachedRRsets == cached, "\(f.what)")
            #expect(after.computed == before.computed, "\(f.what): \(after.computed - before.computed) proofs computed")
            #expect(after.hits - before.hits == 2000, "\(f.what)")
        }
    }

    /// The store view's proof (``StoreZoneView/wireProof``) allocates nothing, for names of
    /// every kind.
    @Test
    func proofAllocatesNothing() throws {
        let count = try #require(signedMallocCount, "no malloc interposer (tools/malloc-count.c)")
        let dir = TempDir()
        let signer = ZoneSigner(keys: try SignedFixture.keys())
        let stores = try SignedFixture.stores(dir)
        let view = try #require(DaemonConfiguration.signedView(stores: stores, apex: signer.apex) as? StoreZoneView)
        for c in Self.cases {
            var wire: [UInt8] = []
            for l in c.name.split(separator: ".") { wire.append(UInt8(l.utf8.count)); wire += Array(l.utf8) }
            wire.append(0)
            let p = view.prove(wire)  // the allocating form, warm-up
            let name = NameBuffer(wire)
            let before = count()
            var exists = 0
            for _ in 0..<200 where view.wireProof(name).exists { exists += 1 }
            let after = count()
            #expect(exists == (p.exists ? 200 : 0), "\(c.what)")
            #expect(after - before == 0, "\(c.what): \(after - before) allocations in 200 proofs")
        }
    }
}
