#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DNSSEC
import DNSWire
import Synchronization

/// One signed zone as a Responder serves it: its signer, its signed view and the TTLs of the
/// records only the signed zone has. A class: the signing context of every DO=1 query holds
/// it, and copying a struct of this size (the store view's arrays) retained each of its
/// references on every copy.
final class SignedZone: Sendable {
    let signer: ZoneSigner
    let view: any SignedZoneView
    /// NSEC TTL: min(SOA TTL, SOA MINIMUM) (RFC 9077 §3.2, RFC 4034 §4).
    let nsecTTL: UInt32
    /// DNSKEY TTL: the SOA's TTL (also the original TTL of the SOA's RRSIG in every answer).
    let dnskeyTTL: UInt32
    /// `view` when it is the store's: its proofs allocate nothing (``StoreZoneView/wireProof(_:)``).
    let storeView: StoreZoneView?
    /// `storeView` in a box: the query path reaches the view through one reference, where
    /// unwrapping the Optional copied the struct (its arrays retained and released) per query.
    let storeViewBox: StoreViewBox?
    /// The RRSIGs this responder has written, by the bytes they cover.
    let rrsigs: RRSIGWireCache
    /// This zone's tag in the threads' proof caches (`ProofCache`): new for every responder,
    /// so a reload never serves a proof of the old view.
    let proofGeneration: UInt64
    /// Bytes and labels of the apex name (read once).
    let apexCount: Int, apexLabels: Int
    /// Whether DO=1 answers are kept and served finished (`ProofCache`, "Finished answers"):
    /// not with a signature cache of one RRset (`--dnssec-signature-cache 1`), which keeps no
    /// signature past the answer that made it — a finished answer would keep its signatures
    /// and serve them without the signer, so every RRset is signed anew, as that setting is
    /// used to measure signing.
    let finishedAnswers: Bool

    init(signer: ZoneSigner, view: any SignedZoneView, nsecTTL: UInt32, dnskeyTTL: UInt32) {
        self.signer = signer; self.view = view; self.nsecTTL = nsecTTL; self.dnskeyTTL = dnskeyTTL
        storeView = view as? StoreZoneView
        storeViewBox = storeView.map(StoreViewBox.init)
        rrsigs = RRSIGWireCache(capacity: signer.cacheCapacity)
        proofGeneration = ProofCache.nextGeneration()
        apexCount = view.apex.count
        apexLabels = labelCount(view.apex)
        finishedAnswers = signer.cacheCapacity > 1
    }
}

/// A store view behind a reference (``SignedZone/storeViewBox``).
final class StoreViewBox: Sendable {
    let view: StoreZoneView
    init(_ view: StoreZoneView) { self.view = view }
}

/// The RRSIG RDATA of the RRsets one responder has signed, keyed by exactly what a signature
/// covers (owner as signed, type, TTL, each RR's canonical RDATA in answer order), so a DO=1
/// answer from cached signatures is a hash, a lookup and a copy: no allocation, no key arrays.
/// A miss, a copy past the signer's re-signing time for it, or one made by keys that no longer
/// sign goes to the ``ZoneSigner`` (its cache, else a new signature) and stores the result here;
/// every hit marks the signer's entry as in use, so its background round re-signs it. Bounded by the
/// signer's cache capacity (an arbitrary entry is dropped when full); thread-safe.
///
/// Layout: the key hash picks one of up to 16 shards (its low bits), each a mutex around an
/// open-addressing table (hash and entry inline in one slot array, linear probing over at most
/// ``probeLimit`` slots, the slot from the hash's high bits). Entries are replaced, never
/// removed, so a probe stops at the first empty slot. A lookup is a lock of one shard, at most
/// ``probeLimit`` 64-bit compares and a copy of the entry (reference counts only): no hashing
/// of its own, no allocation. A shard's table starts small and doubles (under its lock, on a
/// store) up to twice its share of the capacity; at its share, or with a full probe window at
/// the largest size, a store replaces an entry of the window.
final class RRSIGWireCache: Sendable {
    struct Entry: Sendable {
        var key: [UInt8]
        var rrsigs: [[UInt8]]
        /// Served until then (Unix seconds, serial arithmetic): the signer's re-signing time
        /// for the RRset, so a re-made signature replaces this copy (``ZoneSigner/SignaturesForCopy``).
        var until: UInt32
        /// The signer's key generation that made them: after a key change (rollover, reload)
        /// the entry is stale whatever its expiration.
        var generation: Int
        /// Set on every hit, so the signer's background round re-signs RRsets in use.
        var use: ZoneSigner.UseMark
    }

    /// One shard's table: `hashes[i]` 0 for an empty slot, else the key hash (0 stored as 1);
    /// `entries[i]` the entry of a used slot.
    struct Table {
        var hashes: [UInt64]
        var entries: [Entry?]
        var count = 0
        /// Entries this shard keeps at most.
        let limit: Int
        /// The largest table: a power of two, at least twice `limit`.
        let maxSlots: Int
        /// Where the next forced replacement in a full window lands (round robin).
        var victim = 0

        init(limit: Int) {
            self.limit = limit
            var m = 16
            while m < 2 * limit { m <<= 1 }
            maxSlots = m
            let start = min(m, 1024)
            hashes = [UInt64](repeating: 0, count: start)
            entries = [Entry?](repeating: nil, count: start)
        }

        @inline(__always)
        func find(_ h: UInt64) -> Int? {
            let mask = hashes.count - 1
            var i = Int(truncatingIfNeeded: h >> 32) & mask
            for _ in 0..<RRSIGWireCache.probeLimit {
                let x = hashes[i]
                if x == h { return i }
                if x == 0 { return nil }
                i = (i + 1) & mask
            }
            return nil
        }

        mutating func store(_ h: UInt64, _ e: Entry) {
            if let i = find(h) { entries[i] = e; return }
            if count >= limit { evict(near: Int(truncatingIfNeeded: h >> 32) & (hashes.count - 1)) }
            while true {
                let mask = hashes.count - 1
                let start = Int(truncatingIfNeeded: h >> 32) & mask
                var i = start
                for _ in 0..<RRSIGWireCache.probeLimit {
                    if hashes[i] == 0 {
                        hashes[i] = h; entries[i] = e; count += 1
                        if count * 2 > hashes.count && hashes.count < maxSlots { grow() }
                        return
                    }
                    i = (i + 1) & mask
                }
                if hashes.count < maxSlots { grow(); continue }
                // A full window at the largest size: replace one of its entries.
                let at = (start + victim % RRSIGWireCache.probeLimit) & mask
                victim &+= 1
                hashes[at] = h; entries[at] = e
                return
            }
        }

        /// Drops the first entry at or after slot `s` (an arbitrary one): backward-shift
        /// deletion, so every other entry stays within its probe window.
        mutating func evict(near s: Int) {
            let mask = hashes.count - 1
            var i = s
            while hashes[i] == 0 { i = (i + 1) & mask }
            var j = i
            while true {
                j = (j + 1) & mask
                if hashes[j] == 0 { break }
                let home = Int(truncatingIfNeeded: hashes[j] >> 32) & mask
                // The entry at j stays when its home lies cyclically in (i, j].
                let stays = i <= j ? (i < home && home <= j) : (i < home || home <= j)
                if !stays { hashes[i] = hashes[j]; entries[i] = entries[j]; i = j }
            }
            hashes[i] = 0; entries[i] = nil
            count -= 1
        }

        /// Doubles the table, re-placing every entry (a store's path: allocates).
        mutating func grow() {
            let oldH = hashes, oldE = entries
            let n = hashes.count * 2
            hashes = [UInt64](repeating: 0, count: n)
            entries = [Entry?](repeating: nil, count: n)
            count = 0
            for j in oldH.indices where oldH[j] != 0 {
                var i = Int(truncatingIfNeeded: oldH[j] >> 32) & (n - 1)
                // A window still full after doubling: that entry is dropped (the cache is a cache).
                for _ in 0..<RRSIGWireCache.probeLimit {
                    if hashes[i] == 0 { hashes[i] = oldH[j]; entries[i] = oldE[j]; count += 1; break }
                    i = (i + 1) & (n - 1)
                }
            }
        }
    }

    /// A shard: its own lock.
    final class Shard: Sendable {
        let table: Mutex<Table>
        init(limit: Int) { table = Mutex(Table(limit: limit)) }
    }

    /// Slots probed per lookup at most.
    static let probeLimit = 8

    let capacity: Int
    private let shards: [Shard]
    private let shardMask: Int

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        // Up to 16 shards, none with a share below 1: the shares sum to at most `capacity`.
        var n = 1
        while n < 16 && n * 2 <= self.capacity { n <<= 1 }
        shardMask = n - 1
        let share = self.capacity / n
        shards = (0..<n).map { _ in Shard(limit: share) }
    }

    @inline(__always)
    private static func slotHash(_ hash: UInt64) -> UInt64 { hash == 0 ? 1 : hash }

    func lookup(_ hash: UInt64) -> Entry? {
        let h = Self.slotHash(hash)
        return shards[Int(truncatingIfNeeded: h) & shardMask].table.withLock { t in
            guard let i = t.find(h) else { return nil }
            return t.entries[i]
        }
    }

    func store(_ hash: UInt64, _ e: Entry) {
        let h = Self.slotHash(hash)
        shards[Int(truncatingIfNeeded: h) & shardMask].table.withLock { $0.store(h, e) }
    }

    var count: Int { shards.reduce(0) { n, s in n + s.table.withLock { $0.count } } }
}

/// The signing context of one DO=1 query in a signed zone (``SignedQueryState/signing``): the
/// zone, the QNAME's depth and proof-cache key, and pointers into the thread's
/// ``SigningStorage``, which holds the QNAME and its proof (more than a kilobyte). A copy of
/// the context copies the pointers, never the storage: the context is built, kept in an
/// Optional and read several times on every DO=1 answer, and copying the proof each time cost
/// more than finding it in the proof cache.
///
/// One storage per thread: an answer is synchronous and builds at most one signing context
/// (``Responder/signingContext(zoneIndex:_:_:)``, the only writer of the storage and the only
/// caller of the proof cache on the query path), so a context is valid until the thread's
/// next query builds the next one. The proof of a proof-cache hit is read in the cache's
/// entry itself, which only the thread's next proof-cache miss can replace.
struct SigningContext {
    /// Not counted: the responder holding the zone outlives every query it answers (and so
    /// every context, which lives for one answer). A context without a counted reference is
    /// plain bytes, which the Optional holding it assigns and drops without value witnesses.
    unowned(unsafe) let zone: SignedZone
    let qnamePointer: UnsafeMutablePointer<NameBuffer>
    /// The proof: in the thread's storage, or a hit's entry in the thread's proof cache, which
    /// stays as it is until the thread's next ``ProofCache/proof(_:view:generation:key:into:)``
    /// (the next query's signing context).
    let proofPointer: UnsafePointer<WireProof>
    /// Labels of the QNAME below the apex.
    var below: Int
    /// The thread's proof-cache entry `proof` came from (stamp 0: none, e.g. another view):
    /// the key of the finished answers `signAnswer` keeps (`ProofCache`).
    var proofKey = ProofCache.ProofKey()
    /// The answer rules found this query's DO=0 answer a function of the proof and the QTYPE
    /// alone (``Responder/servesFinishedDirectly``): the finished answer kept from it may be
    /// served before the rules run.
    var direct = false

    /// The QNAME, lower case, uncompressed (read in place).
    var qname: NameBuffer { unsafeAddress { UnsafePointer(qnamePointer) } }
    /// The proof of the QNAME in the zone's signed view (read in place).
    var proof: WireProof { unsafeAddress { proofPointer } }
}

/// One thread's QNAME and proof for its DO=1 query (``SigningContext``), allocated at the
/// thread's first signed answer and freed when the thread ends. The QNAME's bytes past its
/// count are kept zero, as a fresh ``NameBuffer``'s are.
enum SigningStorage {
    static let proofAt = (MemoryLayout<NameBuffer>.stride + 63) & ~63
    static let bytes = proofAt + MemoryLayout<WireProof>.stride

    static func thread() -> (UnsafeMutablePointer<NameBuffer>, UnsafeMutablePointer<WireProof>) {
        let raw: UnsafeMutableRawPointer
        if let p = pthread_getspecific(key) {
            raw = p
        } else {
            raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
            raw.initializeMemory(as: NameBuffer.self, repeating: NameBuffer(), count: 1)
            (raw + proofAt).initializeMemory(as: WireProof.self, repeating: WireProof(), count: 1)
            pthread_setspecific(key, raw)
        }
        return (raw.assumingMemoryBound(to: NameBuffer.self), (raw + proofAt).assumingMemoryBound(to: WireProof.self))
    }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { p in p?.deallocate() }
        return key
    }()
}

/// One thread's scratch for `signAnswer`: the copy of
/// the answer section (4 KiB), the signature key being built (2 KiB), the table of the
/// answer's RRs (128) and what the answer's signatures are (`ProofCache.SignatureUse`),
/// allocated at the thread's first signed answer and freed when the thread ends — so a
/// signed answer neither zeroes ~9 KiB of stack buffers nor allocates.
private enum SignScratch {
    static let copyBytes = 4096, keyBytes = 2048, rrCount = 128
    static let keyAt = copyBytes, rrsAt = copyBytes + keyBytes
    static let useAt = (rrsAt + rrCount * MemoryLayout<WrittenRR>.stride + 15) & ~15
    static let bytes = useAt + MemoryLayout<ProofCache.SignatureUse>.stride

    static func thread() -> UnsafeMutableRawPointer {
        if let p = pthread_getspecific(key) { return p }
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 16)
        (raw + rrsAt).initializeMemory(as: WrittenRR.self, repeating: WrittenRR(), count: rrCount)
        (raw + useAt).initializeMemory(as: ProofCache.SignatureUse.self, repeating: ProofCache.SignatureUse(), count: 1)
        pthread_setspecific(key, raw)
        return raw
    }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { p in
            guard let p else { return }
            (p + SignScratch.useAt).assumingMemoryBound(to: ProofCache.SignatureUse.self).pointee.release()
            p.deallocate()
        }
        return key
    }()
}

/// Where one RR of the answer being signed lies in the copy of the answer section.
private struct WrittenRR {
    var start: Int32 = 0
    var rdStart: Int32 = 0
    var end: Int32 = 0
    var type: UInt16 = 0
    var ttl: UInt32 = 0
}

/// The name an RRset is signed at.
private enum SignedOwner {
    case qname
    /// `*.<closest encloser>`.
    case wildcard
    case apex
    /// An NSEC owner.
    case nsec(second: Bool)
}

/// Appends into a fixed scratch buffer; `ok` turns false when it is full.
private struct KeyWriter {
    let buf: UnsafeMutableRawBufferPointer
    var count = 0
    var ok = true
    init(_ buf: UnsafeMutableRawBufferPointer) { self.buf = buf }
    mutating func u8(_ b: UInt8) {
        guard count < buf.count else { ok = false; return }
        buf[count] = b
        count += 1
    }
    mutating func u16(_ v: UInt16) { u8(UInt8(v >> 8)); u8(UInt8(truncatingIfNeeded: v)) }
    mutating func u32(_ v: UInt32) { u16(UInt16(v >> 16)); u16(UInt16(truncatingIfNeeded: v)) }
    mutating func name(_ n: NameBuffer, from: Int = 0) {
        var n = n  // one copy: element reads of a borrowed InlineArray copy it whole
        for i in from..<n.count { u8(n.bytes[i]) }
    }
    mutating func set16(_ v: UInt16, at p: Int) {
        guard p + 1 < count else { return }
        buf[p] = UInt8(v >> 8); buf[p + 1] = UInt8(truncatingIfNeeded: v)
    }
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: buf[0..<count]) }
}

/// FNV-1a, 64 bits.
@inline(__always)
private func fnv1a(_ b: UnsafeRawBufferPointer) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for x in b { h = (h ^ UInt64(x)) &* 0x100_0000_01b3 }
    return h
}

extension Responder {
    /// The signing context of a DO=1 query in zone `zoneIndex`, or nil when the zone is not
    /// signed. Reads the view once (allocation-free for the store's view).
    func signingContext(zoneIndex: Int32, _ query: UnsafeRawBufferPointer, _ q: ParsedQuery) -> SigningContext? {
        guard zoneIndex >= 0, Int(zoneIndex) < signedZones.count, let z = signedZones[Int(zoneIndex)] else { return nil }
        let (qname, proof) = SigningStorage.thread()
        let n = min(q.qnameLength, 256), old = qname.pointee.count
        withUnsafeMutableBytes(of: &qname.pointee.bytes) { b in
            Self.lowercased(UnsafeRawBufferPointer(rebasing: query[q.qnameOffset..<(q.qnameOffset + n)]), into: b.baseAddress!)
            // Past the count: zero, as in a fresh buffer.
            if old > n { (b.baseAddress! + n).initializeMemory(as: UInt8.self, repeating: 0, count: old - n) }
        }
        qname.pointee.count = n
        var key = ProofCache.ProofKey()
        let at: UnsafePointer<WireProof>
        if let box = z.storeViewBox {
            at = ProofCache.proof(&qname.pointee, view: box.view, generation: z.proofGeneration, key: &key, into: proof)
        } else {
            proof.pointee = WireProof(z.view.prove(qname.pointee.array), apex: z.view.apex)
            at = UnsafePointer(proof)
        }
        return SigningContext(zone: z, qnamePointer: qname, proofPointer: at,
                              below: key.below >= 0 ? key.below : max(0, qname.pointee.labelCount - z.apexLabels), proofKey: key)
    }

    /// Copies `name` lower-cased (ASCII `A`–`Z` only, as ``lowerASCII(_:)``) to `out`, eight
    /// bytes at a time. A wire name's length bytes (at most 63) are below `A`: unchanged.
    @inline(__always)
    static func lowercased(_ name: UnsafeRawBufferPointer, into out: UnsafeMutableRawPointer) {
        let n = name.count
        guard n > 0, let from = name.baseAddress else { return }
        var i = 0
        while i + 8 <= n {
            let x = from.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            // Per byte: bit 7 set in `upper` when the byte is in 0x41...0x5A.
            let low7 = x & 0x7F7F_7F7F_7F7F_7F7F
            let geA = low7 &+ 0x3F3F_3F3F_3F3F_3F3F, gtZ = low7 &+ 0x2525_2525_2525_2525
            let upper = (geA ^ gtZ) & ~x & 0x8080_8080_8080_8080
            out.storeBytes(of: x | (upper >> 2), toByteOffset: i, as: UInt64.self)
            i += 8
        }
        while i < n {
            out.storeBytes(of: lowerASCII(from.load(fromByteOffset: i, as: UInt8.self)), toByteOffset: i, as: UInt8.self)
            i += 1
        }
    }

    /// Labels below the serving zone's apex of the block a signed answer's `$` names (RFC 4592
    /// §3.3.1: the closest encloser for a wildcard expansion, the QNAME itself otherwise),
    /// given the QNAME's `labels` below that apex.
    static func dollarLabels(_ s: SigningContext, labels: Int) -> Int {
        guard !s.proof.exists, s.proof.wildcardExists else { return labels }
        let below = s.below - s.proof.closestEncloserLabels
        return max(0, labels - below)
    }

    /// Rewrites the answer written from `afterQuestion` as the signed zone's authoritative
    /// server sends it to a DO=1 query (RFC 4035 §3.1): RRSIGs after every RRset
    /// (§3.1.1; a wildcard expansion signed at `*.<closest encloser>`, its NSEC proving no
    /// closer match, §3.1.3.3); DNSKEY at the apex; NODATA with the NSEC of the name
    /// (§3.1.3.1) — for an empty non-terminal, which owns none, the NSEC covering it, whose
    /// next owner is a name below it — or, under a wildcard, the covering NSEC and the
    /// wildcard's (§3.1.3.4); NXDOMAIN with the NSEC covering the QNAME and the one covering
    /// the wildcard at the closest encloser (§3.1.3.2). The RCODE follows the view (an exclusion marker or an
    /// empty non-terminal is NODATA). Sets `r.tc` when the signed answer does not fit (or holds
    /// more than 128 RRs before signing).
    ///
    /// The finished answer the thread's proof cache keeps for the proof's entry and QTYPE is
    /// served when the DO=0 answer is the one it was made from and its signatures are still
    /// served (`ProofCache.serveFinished`): a compare, a copy and a few patched pointers.
    /// Otherwise the answer is rewritten here and kept for the next time
    /// (`ProofCache.keepFinished`).
    ///
    /// Allocates nothing when every RRSIG comes from ``SignedZone/rrsigs``: the answer section
    /// is copied to a 4 KiB stack buffer (a larger one, TCP only, to the heap) and rewritten.
    /// - Parameter s: inout only so the caller's context is not copied; not changed.
    func signAnswer(_ s: inout SigningContext, _ q: ParsedQuery, afterQuestion: MessageWriter.Mark,
                    _ w: inout MessageWriter, _ r: inout Reply) {
        guard r.rcode == DNSRCode.noError || r.rcode == DNSRCode.nxDomain else { return }
        if s.proofKey.stamp != 0, s.zone.finishedAnswers,
           ProofCache.serveFinished(s.proofKey, qtype: q.qtype, signer: s.zone.signer,
                                    apexAt: DNSWire.headerSize + q.qnameLength - s.zone.apexCount,
                                    afterQuestion: afterQuestion, &w, &r) {
            return
        }
        let len = w.count - afterQuestion.count
        // This thread's scratch (never zeroed: every byte read is written first), passed as
        // pointers. State the nested writers of the rewrite share lives here too: a variable
        // captured by nested functions is boxed on the heap in debug builds.
        let scratch = SignScratch.thread()
        let key = scratch + SignScratch.keyAt, rrs = scratch + SignScratch.rrsAt
        let use = (scratch + SignScratch.useAt).assumingMemoryBound(to: ProofCache.SignatureUse.self)
        var ok = true
        if len <= SignScratch.copyBytes {
            signAnswer(s, q, afterQuestion: afterQuestion, copy: scratch, copyCount: SignScratch.copyBytes, key: key, rrs: rrs,
                       use: use, ok: &ok, &w, &r)
        } else {
            let heap = UnsafeMutableRawBufferPointer.allocate(byteCount: len, alignment: 8)
            defer { heap.deallocate() }
            signAnswer(s, q, afterQuestion: afterQuestion, copy: heap.baseAddress!, copyCount: len, key: key, rrs: rrs,
                       use: use, ok: &ok, &w, &r)
        }
    }

    private func signAnswer(_ s: SigningContext, _ q: ParsedQuery, afterQuestion: MessageWriter.Mark,
                            copy copyStart: UnsafeMutableRawPointer, copyCount: Int, key keyStart: UnsafeMutableRawPointer,
                            rrs rrsStart: UnsafeMutableRawPointer, use: UnsafeMutablePointer<ProofCache.SignatureUse>,
                            ok okp: UnsafeMutablePointer<Bool>, _ w: inout MessageWriter, _ r: inout Reply) {
        let rrs = rrsStart.assumingMemoryBound(to: WrittenRR.self)
        // What the finished answer depends on beyond the proof and QTYPE (ProofCache.keepFinished).
        use.pointee.reset()
        let rcodeIn = r.rcode, anIn = r.an, nsIn = r.ns
        var ok: Bool {
            get { okp.pointee }
            set { okp.pointee = newValue }
        }
        let copy = UnsafeMutableRawBufferPointer(start: copyStart, count: copyCount)
        let keyBuf = UnsafeMutableRawBufferPointer(start: keyStart, count: 2048)
        let z = s.zone, signer = z.signer, proof = s.proof
        let base = afterQuestion.count, len = w.count - base
        UnsafeMutableRawBufferPointer(rebasing: copy[0..<len])
            .copyMemory(from: UnsafeRawBufferPointer(rebasing: w.buffer[base..<w.count]))
        let message = UnsafeRawBufferPointer(w.buffer)
        // A byte of the answer as written: the question from the message, the rest from the copy.
        func byte(_ at: Int) -> UInt8 { at >= base ? copy[at - base] : message[at] }
        let total = Int(r.an) + Int(r.ns)
        guard total <= 128 else { r.tc = true; return }
        var p = 0
        for i in 0..<total {
            guard let rr = Self.readRR(copy, at: &p, end: len) else { return }
            rrs[i] = rr
        }
        let an = Int(r.an)
        let questionName = DNSWire.headerSize
        let apexAt = DNSWire.headerSize + q.qnameLength - z.view.apex.count
        w.rollback(to: afterQuestion)
        var anOut: UInt16 = 0, nsOut: UInt16 = 0

        // The owner, type, TTL and RDATA length prefix of a signature's key.
        func begin(_ k: inout KeyWriter, _ owner: SignedOwner, type: UInt16, ttl: UInt32) {
            switch owner {
            case .qname: k.name(s.qname)
            case .wildcard:
                k.u8(1); k.u8(42)
                k.name(s.qname, from: s.qname.offset(droppingLabels: s.below - proof.closestEncloserLabels))
            case .apex:
                let apex = z.view.apex
                for i in 0..<apex.count { k.u8(apex[i]) }
            case .nsec(let second): k.name(second ? proof.wildcard.owner : proof.nsec.owner)
            }
            k.u16(type); k.u32(ttl)
        }
        // Canonical RDATA (RFC 4034 §6.2) of a written RR, appended with its length.
        func canonicalRData(_ k: inout KeyWriter, _ rr: WrittenRR) {
            let lengthAt = k.count
            k.u16(0)
            let rd = base + Int(rr.rdStart), end = base + Int(rr.end)
            switch rr.type {
            case DNSType.ns, 5, 12:  // NS, CNAME, PTR
                name(&k, at: rd)
            case 15:  // MX
                k.u8(byte(rd)); k.u8(byte(rd + 1)); name(&k, at: rd + 2)
            case DNSType.soa:
                var at = rd
                name(&k, at: at); skip(&at)
                name(&k, at: at); skip(&at)
                for i in at..<max(at, end) { k.u8(byte(i)) }
            default:
                for i in rd..<end { k.u8(byte(i)) }
            }
            k.set16(UInt16(truncatingIfNeeded: k.count - lengthAt - 2), at: lengthAt)
        }
        func name(_ k: inout KeyWriter, at start: Int) {
            var at = start, hops = 0
            while at < base + len {
                let l = Int(byte(at))
                if l & 0xC0 == 0xC0 {
                    guard hops < 64 else { k.ok = false; return }
                    at = (l & 0x3F) << 8 | Int(byte(at + 1))
                    hops += 1
                    continue
                }
                k.u8(UInt8(l))
                if l == 0 { return }
                for i in 1...l { k.u8(lowerASCII(byte(at + i))) }
                at += 1 + l
            }
            k.ok = false
        }
        func skip(_ at: inout Int) {
            while at < base + len {
                let l = Int(byte(at))
                if l & 0xC0 == 0xC0 { at += 2; return }
                at += 1 + l
                if l == 0 { return }
            }
        }
        // The RRSIGs of the RRset whose key `k` holds, from the cache or the signer.
        // `ttl`: the TTL written; `originalTTL`: the RRset's TTL in the signed zone, which the
        // RRSIG covers (RFC 4034 §3.1.4) — higher for the SOA of a negative answer (RFC 2308 §3).
        func putSigs(_ k: KeyWriter, pointer: Int?, owner: NameBuffer?, type: UInt16, ttl: UInt32, originalTTL: UInt32? = nil,
                     count: inout UInt16) {
            guard ok else { return }
            let bytes = k.bytes
            let hash = fnv1a(bytes)
            if k.ok, let e = z.rrsigs.lookup(hash), e.key.count == bytes.count,
               e.key.withUnsafeBytes({ memcmp($0.baseAddress!, bytes.baseAddress!, bytes.count) == 0 }),
               case let now = signer.clock(), e.generation == signer.generationNow(now),
               Int32(bitPattern: e.until &- now) > 0 {
                signer.noteCacheHit()
                e.use.note()
                use.pointee.note(until: e.until, generation: e.generation, use: e.use)
                // Index loops: a for-in over an array of arrays allocates in debug builds.
                var i = 0
                while i < e.rrsigs.count && ok {
                    ok = e.rrsigs[i].withUnsafeBytes {
                        Self.put(owner: owner, pointer: pointer, type: DNSSECRecords.typeRRSIG, ttl: ttl, rdata: $0, &w)
                    }
                    count += 1
                    i += 1
                }
                return
            }
            guard k.ok else { ok = false; return }
            // Miss: the key's parts as the signer takes them (allocates).
            var at = 0
            while bytes[at] != 0 { at += 1 + Int(bytes[at]) }
            let signedAs = Array(bytes[0...at])
            at += 7
            var rdatas: [[UInt8]] = []
            while at + 2 <= bytes.count {
                let n = Int(bytes[at]) << 8 | Int(bytes[at + 1])
                rdatas.append(Array(bytes[(at + 2)..<(at + 2 + n)]))
                at += 2 + n
            }
            let copy = signer.signaturesForCopy(owner: signedAs, type: type, ttl: originalTTL ?? ttl, rdatas: rdatas)
            let sigs = copy.rrsigs
            if sigs.isEmpty {
                use.pointee.keepable = false
            } else {
                use.pointee.note(until: copy.refreshAt, generation: copy.generation, use: copy.use)
                z.rrsigs.store(hash, RRSIGWireCache.Entry(key: Array(bytes), rrsigs: sigs, until: copy.refreshAt,
                                                          generation: copy.generation, use: copy.use))
            }
            for sig in sigs where ok {
                ok = sig.withUnsafeBytes { Self.put(owner: owner, pointer: pointer, type: DNSSECRecords.typeRRSIG, ttl: ttl, rdata: $0, &w) }
                count += 1
            }
        }
        func putRRsets(_ from: Int, _ to: Int, signedAs: SignedOwner, pointer: Int, count: inout UInt16) {
            if case .qname = signedAs, from < to { use.pointee.qnameOwner = true }
            var i = from
            while i < to && ok {
                var j = i
                while j < to && rrs[j].type == rrs[i].type { j += 1 }
                for x in i..<j where ok {
                    ok = w.bytes(UnsafeRawBufferPointer(rebasing: copy[Int(rrs[x].start)..<Int(rrs[x].end)]))
                    count += 1
                }
                var k = KeyWriter(keyBuf)
                // The SOA of a negative answer carries min(SOA TTL, MINIMUM); its RRSIG is the
                // zone's, made over the SOA's own TTL (as NSD serving the signed export sends it).
                let original = rrs[i].type == DNSType.soa ? z.dnskeyTTL : rrs[i].ttl
                begin(&k, signedAs, type: rrs[i].type, ttl: original)
                for x in i..<j { canonicalRData(&k, rrs[x]) }
                putSigs(k, pointer: pointer, owner: nil, type: rrs[i].type, ttl: rrs[i].ttl, originalTTL: original, count: &count)
                i = j
            }
        }
        func putNSEC(second: Bool, count: inout UInt16) {
            guard ok else { return }
            let n = second ? proof.wildcard : proof.nsec
            var k = KeyWriter(keyBuf)
            begin(&k, .nsec(second: second), type: DNSSECRecords.typeNSEC, ttl: z.nsecTTL)
            // RDATA (RFC 4034 §4.1): the next owner, then window 0 of the type bitmap.
            let rdAt = k.count
            k.u16(0)
            k.name(n.next)
            var top = 0
            for t in 0..<64 where n.types & (1 << UInt64(t)) != 0 { top = t }
            k.u8(0); k.u8(UInt8(top / 8 + 1))
            for octet in 0...(top / 8) {
                var v: UInt8 = 0
                for bit in 0..<8 where n.types & (1 << UInt64(octet * 8 + bit)) != 0 { v |= 0x80 >> UInt8(bit) }
                k.u8(v)
            }
            k.set16(UInt16(truncatingIfNeeded: k.count - rdAt - 2), at: rdAt)
            guard k.ok else { ok = false; return }
            ok = Self.put(owner: n.owner, pointer: nil, type: DNSSECRecords.typeNSEC, ttl: z.nsecTTL,
                          rdata: UnsafeRawBufferPointer(rebasing: k.bytes[(rdAt + 2)...]), &w)
            count += 1
            putSigs(k, pointer: nil, owner: n.owner, type: DNSSECRecords.typeNSEC, ttl: z.nsecTTL, count: &count)
        }

        let atApex = s.below == 0
        if an > 0 {
            // Positive: the owner the RRsets are signed at is the QNAME, or the wildcard that
            // synthesised them.
            let synthesised = !proof.exists && proof.wildcardExists
            putRRsets(0, an, signedAs: synthesised ? .wildcard : .qname, pointer: questionName, count: &anOut)
            putRRsets(an, total, signedAs: .apex, pointer: apexAt, count: &nsOut)
            if synthesised { putNSEC(second: false, count: &nsOut) }
            r.rcode = DNSRCode.noError
        } else if atApex && (q.qtype == DNSSECRecords.typeDNSKEY) {
            // DNSKEY at the apex (RFC 4035 §2.1). Never kept finished: the RRset follows the
            // key timing, which the DO=0 answer (NODATA) does not show.
            use.pointee.keepable = false
            var k = KeyWriter(keyBuf)
            begin(&k, .apex, type: DNSSECRecords.typeDNSKEY, ttl: z.dnskeyTTL)
            let keys = signer.dnskeyRData
            for x in 0..<keys.count {
                let rd = keys[x]
                if ok {
                    ok = rd.withUnsafeBytes {
                        Self.put(owner: nil, pointer: questionName, type: DNSSECRecords.typeDNSKEY, ttl: z.dnskeyTTL, rdata: $0, &w)
                    }
                    anOut += 1
                }
                k.u16(UInt16(truncatingIfNeeded: rd.count))
                for i in 0..<rd.count { k.u8(rd[i]) }
            }
            putSigs(k, pointer: questionName, owner: nil, type: DNSSECRecords.typeDNSKEY, ttl: z.dnskeyTTL, count: &anOut)
            r.rcode = DNSRCode.noError
        } else if q.qtype == DNSSECRecords.typeNSEC && proof.exists && proof.nsec.owner == s.qname {
            // (An empty non-terminal owns no NSEC: NODATA below, with the covering one.)
            putNSEC(second: false, count: &anOut)
            r.rcode = DNSRCode.noError
        } else {
            // Negative: the SOA (signed), then the NSEC proof; the RCODE is the view's.
            putRRsets(an, total, signedAs: .apex, pointer: apexAt, count: &nsOut)
            putNSEC(second: false, count: &nsOut)
            if proof.exists {
                r.rcode = DNSRCode.noError
            } else {
                if proof.hasWildcard && !(proof.wildcard.owner == proof.nsec.owner) { putNSEC(second: true, count: &nsOut) }
                r.rcode = proof.wildcardExists ? DNSRCode.noError : DNSRCode.nxDomain
            }
        }
        if !ok {
            r.tc = true
            use.pointee.release()
            return
        }
        r.an = anOut
        r.ns = nsOut
        if s.proofKey.stamp != 0 && z.finishedAnswers {
            ProofCache.keepFinished(s.proofKey, qtype: q.qtype, template: UnsafeRawBufferPointer(rebasing: copy[0..<len]),
                                    rcodeIn: rcodeIn, anIn: anIn, nsIn: nsIn,
                                    finished: UnsafeRawBufferPointer(rebasing: w.buffer[base..<w.count]),
                                    rcode: r.rcode, an: anOut, ns: nsOut, listed: r.listed, direct: s.direct,
                                    apexAt: apexAt, qnameEnd: DNSWire.headerSize + q.qnameLength, use: &use.pointee)
        } else {
            use.pointee.release()
        }
    }

    /// Writes one RR: owner a pointer when `pointer` is given, else `owner` uncompressed.
    private static func put(owner: NameBuffer?, pointer: Int?, type: UInt16, ttl: UInt32, rdata: UnsafeRawBufferPointer,
                            _ w: inout MessageWriter) -> Bool {
        let mark = w.mark
        var wroteOwner = true
        if let pointer {
            wroteOwner = w.u16(0xC000 | UInt16(pointer))
        } else if var owner {
            for i in 0..<owner.count where wroteOwner { wroteOwner = w.u8(owner.bytes[i]) }
        }
        guard wroteOwner, let rdl = w.rrFixed(type: type, rrClass: DNSClass.in, ttl: ttl), w.bytes(rdata) else {
            w.rollback(to: mark)
            return false
        }
        w.finishRData(lengthAt: rdl)
        return true
    }

    /// Reads back where one RR written at `p` (in `b`, the copy of the answer section) lies,
    /// advancing `p`.
    private static func readRR(_ b: UnsafeMutableRawBufferPointer, at p: inout Int, end: Int) -> WrittenRR? {
        let start = p
        guard skipName(b, at: &p, end: end), p + 10 <= end else { return nil }
        let type = UInt16(b[p]) << 8 | UInt16(b[p + 1])
        let ttl = UInt32(b[p + 4]) << 24 | UInt32(b[p + 5]) << 16 | UInt32(b[p + 6]) << 8 | UInt32(b[p + 7])
        let rdlen = Int(b[p + 8]) << 8 | Int(b[p + 9])
        let rdStart = p + 10
        p = rdStart + rdlen
        guard p <= end else { return nil }
        return WrittenRR(start: Int32(start), rdStart: Int32(rdStart), end: Int32(p), type: type, ttl: ttl)
    }

    private static func skipName(_ b: UnsafeMutableRawBufferPointer, at p: inout Int, end: Int) -> Bool {
        while p < end {
            let len = Int(b[p])
            if len & 0xC0 == 0xC0 { p += 2; return p <= end }
            p += 1 + len
            if len == 0 { return p <= end }
        }
        return false
    }
}

/// Labels of an uncompressed wire name, root not counted.
func labelCount(_ name: [UInt8]) -> Int {
    var n = 0, p = 0
    while p < name.count && name[p] != 0 { n += 1; p += 1 + Int(name[p]) }
    return n
}
