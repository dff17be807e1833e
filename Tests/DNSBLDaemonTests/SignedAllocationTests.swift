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
            }
            #expect(signer.signaturesMade == made, "no new signature after the warm-up")
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
