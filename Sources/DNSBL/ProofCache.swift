#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DNSWire
import Synchronization

/// The proofs (``WireProof``) one thread has computed for DO=1 queries, keyed by what a proof
/// depends on — the NSEC gap and the closest encloser — rather than by QNAME, so a NEW name in
/// a gap already seen costs a few hash probes, two label compares and a copy instead of the
/// store view's descent (``StoreZoneView/wireProof(_:)``).
///
/// **What a proof depends on.** Let the QNAME `q` not be a name of the view, X its closest
/// encloser (the longest ancestor that is a name of the view, RFC 4592 §3.3.1; an empty
/// non-terminal counts: it exists, though it owns no NSEC), `l` the label of `q` just below X,
/// and (P, N) the NSEC covering `q` (RFC 4034 §6.1 order). No child of X sorting between the
/// child holding P and the one holding N exists (its subtree would hold an owner between P and
/// `q` or between `q` and N). So for every name `q'` below X whose label below X sorts strictly
/// between those two children's labels (the low and high bounds; a bound is open when P or N
/// is not below X): `q'` does not exist, X is its closest encloser, and every owner compares
/// with `q'` as with `q` — the same covering NSEC. The NSEC of or covering the wildcard `*.X`
/// (RFC 4035 §3.1.3.2's second NSEC; for a wildcard expansion §3.1.3.3's "no closer match" NSEC
/// is the covering one) depends on X alone. So the whole proof is a function of (view
/// generation, X, the gap's bounds at X); X is also the deeper of `q`'s common ancestors with P
/// and with N. A name of the view (an owner or an empty non-terminal) is keyed by itself.
///
/// **Finding the entry without the descent.** X is not known before the proof is, but it need
/// not be: a gap entry answers only for names below X whose next label lies inside its bounds,
/// and those names' closest encloser is X, so at most one gap entry of a view matches a QNAME.
/// A lookup hashes the QNAME's label prefixes from the apex down (FNV-1a, the generation mixed
/// in), one label at a time, and at each prefix at a depth where the thread ever stored a gap
/// entry (a 64-bit mask of depths below the apex) probes the 4 ways of the set the hash picks
/// (a tag compare each); on a tag match it compares the generation, the encloser's bytes and
/// the next label with the bounds. The whole QNAME is probed once more as an exact entry. A
/// miss computes the proof and stores it: a gap entry under X (the bounds from the NSEC's owner
/// and next name), or an exact entry.
///
/// **What that means for a flood.** Random names under one listed wildcard range or one
/// unlisted gap — a bot rotating through its /64, through a /24 — share one entry per gap at
/// their closest encloser, whose NSEC RRsets' signatures the responder's signature cache
/// already holds: such a flood computes one proof and signs nothing after its first answer
/// (ProofCacheTests, SignedAllocationTests show it).
///
/// **Memory.** One table of ``capacity`` entries (1,024 sets of 4 ways) per thread
/// (thread-local: no lock on the query path), ~1.3 KiB an entry plus an 8-byte tag (~5.3 MiB
/// a thread, its pages touched as entries are used), allocated zeroed at the thread's first
/// DO=1 query in a store-view zone and freed when the thread ends; a full set replaces its
/// ways in turn. The same allocation holds the thread's finished answers (6 MiB more, see
/// "Finished answers" below), each keyed by an entry's ``Entry/stamp``. Each ``SignedZone`` draws a new ``generation``
/// when a responder is built, and an entry only answers for the generation it was computed in,
/// so a reload (a new responder, a new view) starts from an empty cache in effect: no entry of
/// an old view is ever served. ProofCacheTests check every cached answer against the reference
/// view (the export sorted by libldns) on random stores.
enum ProofCache {
    /// Entries per thread (~1.3 KiB each, ~5.3 MiB in all, pages touched as used): 1,024
    /// sets of 4 — room for the gaps of a few thousand rotating prefixes.
    static let capacity = 4096
    static let ways = 4

    /// A label of the view (a nibble, a decimal octet or `*`: at most 3 bytes) bounding a
    /// gap's labels at its closest encloser; `count` 0: unbounded.
    struct Bound: Equatable {
        var count: UInt8 = 0
        var b0: UInt8 = 0, b1: UInt8 = 0, b2: UInt8 = 0
    }

    struct Entry {
        /// 0: empty.
        var generation: UInt64 = 0
        /// A gap entry: its closest encloser X. An exact entry: the QNAME, a name of the view.
        /// Uncompressed wire names, apex included.
        var key = NameBuffer()
        var exact = false
        /// A gap entry answers for every name below a child of X whose label sorts strictly
        /// between these two (RFC 4034 §6.1 order): the labels of the children of X that hold
        /// the covering NSEC's owner and next name (unbounded when that name is not below X).
        var low = Bound(), high = Bound()
        /// This thread's number for the entry (never 0, never reused): the finished answers
        /// made from its proof are keyed by it, so they die with it.
        var stamp: UInt64 = 0
        var proof = WireProof()
    }

    /// Which entry a proof came from (``proof(_:view:generation:key:)``): `stamp` 0 when the
    /// proof was not kept (no finished answer may be kept for it either); `exact` for an entry
    /// of a name of the view (one QNAME), false for a gap entry (every name of the gap).
    struct ProofKey {
        var stamp: UInt64 = 0
        var exact = false
        /// Labels of the QNAME below the apex, when the lookup counted them (else -1).
        var below = -1
    }

    /// A generation no ``SignedZone`` has had (never 0).
    static func nextGeneration() -> UInt64 { generations.wrappingAdd(1, ordering: .relaxed).newValue }

    /// Proofs this thread has computed (cache misses) and answered from its table (hits),
    /// for tests and measurements.
    static var threadCounts: (computed: Int, hits: Int) {
        let t = threadTable()
        return (t.pointee.computed, t.pointee.hits)
    }

    /// FNV-1a step.
    @inline(__always)
    private static func mix(_ h: UInt64, _ b: UInt8) -> UInt64 { (h ^ UInt64(b)) &* 0x100_0000_01b3 }

    /// The hash step of one label (its length byte at `at` in `q`, then its bytes): a label of
    /// at most 3 bytes — a nibble, a decimal octet, `*` — as one word (one step where FNV-1a
    /// takes two to four), a longer one byte by byte.
    @inline(__always)
    private static func mixLabel(_ h: UInt64, _ q: inout NameBuffer, _ at: Int) -> UInt64 {
        withUnsafeBytes(of: &q.bytes) { b in
            let p = b.baseAddress!
            let n = Int(p.load(fromByteOffset: at, as: UInt8.self))
            if n <= 3 && at + 4 <= b.count {
                let word = UInt64(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
                return (h ^ (word & ((1 << UInt64(8 * (n + 1))) &- 1))) &* 0x100_0000_01b3
            }
            var h = h, i = at
            let stop = min(at + 1 + n, b.count)
            while i < stop { h = mix(h, p.load(fromByteOffset: i, as: UInt8.self)); i += 1 }
            return h
        }
    }

    /// The offsets of `q`'s label length bytes, left to right, into `starts`; how many, and
    /// the offset of the root label. `n` -1 when there are more than 128 labels.
    @inline(__always)
    private static func labelStarts(_ q: inout NameBuffer, _ starts: inout InlineArray<128, UInt8>) -> (n: Int, end: Int) {
        let count = q.count
        return withUnsafeBytes(of: &q.bytes) { b in
            let p = b.baseAddress!
            var n = 0, end = 0
            while end < count, case let l = p.load(fromByteOffset: end, as: UInt8.self), l != 0 {
                guard n < 128 else { return (-1, end) }
                starts[n] = UInt8(truncatingIfNeeded: end)
                n += 1
                end += 1 + Int(l)
            }
            return (n, end)
        }
    }

    /// Whether `q`'s bytes from `at` on begin with `apex` (the caller checked the lengths).
    @inline(__always)
    private static func endsWith(_ q: inout NameBuffer, _ apex: [UInt8], at: Int) -> Bool {
        withUnsafeBytes(of: &q.bytes) { b in
            apex.withUnsafeBytes { a in a.count == 0 || memcmp(b.baseAddress! + at, a.baseAddress!, a.count) == 0 }
        }
    }

    /// Whether `key` (of `q.count - from` bytes, checked by the caller) equals `q`'s bytes from
    /// `from` on (one memcmp, in place).
    @inline(__always)
    private static func same(_ key: inout NameBuffer, _ q: inout NameBuffer, from: Int) -> Bool {
        let n = q.count - from
        return withUnsafeBytes(of: &key.bytes) { k in
            withUnsafeBytes(of: &q.bytes) { b in memcmp(k.baseAddress!, b.baseAddress! + from, n) == 0 }
        }
    }

    /// The first way of the set a key hash picks.
    @inline(__always)
    private static func set(_ h: UInt64) -> Int { Int(truncatingIfNeeded: (h ^ (h >> 29)) & UInt64(capacity / ways - 1)) * ways }

    /// Canonical order (RFC 4034 §6.1) of a bound and the label of `q` at byte `at` (its
    /// length byte): negative, zero or positive.
    @inline(__always)
    private static func compare(_ b: Bound, _ q: inout NameBuffer, _ at: Int) -> Int {
        let n = Int(q.bytes[at]), m = Int(b.count)
        var j = 0
        while j < m && j < n {
            let x = j == 0 ? b.b0 : j == 1 ? b.b1 : b.b2, y = q.bytes[at + 1 + j]
            if x != y { return Int(x) - Int(y) }
            j += 1
        }
        return m - n
    }

    /// The label of `name` just above the suffix of `suffixCount` bytes that `q` ends with
    /// from byte `at` (the closest encloser), as a bound; unbounded when `name` is not below
    /// that suffix; nil when the label is longer than a bound holds.
    private static func branch(_ name: NameBuffer, below q: inout NameBuffer, at: Int) -> Bound? {
        var name = name
        let xlen = q.count - at
        guard name.count > xlen else { return Bound() }
        let cut = name.count - xlen
        var p = 0, prev = 0
        while p < cut { prev = p; p += 1 + Int(name.bytes[p]) }
        guard p == cut else { return Bound() }
        for i in 0..<xlen where name.bytes[cut + i] != q.bytes[at + i] { return Bound() }
        let n = Int(name.bytes[prev])
        guard n >= 1 && n <= 3 else { return nil }
        return Bound(count: UInt8(n), b0: name.bytes[prev + 1], b1: n > 1 ? name.bytes[prev + 2] : 0,
                     b2: n > 2 ? name.bytes[prev + 3] : 0)
    }

    /// The proof of `qname` in `view` (of generation `generation`), from this thread's table
    /// or computed and stored there. Allocation-free after the thread's first call.
    /// - Parameter qname: uncompressed lower-case wire name at or below the view's apex.
    static func proof(_ qname: NameBuffer, view: StoreZoneView, generation: UInt64) -> WireProof {
        var key = ProofKey()
        var q = qname
        var p = WireProof()
        return withUnsafeMutablePointer(to: &p) { out in
            proof(&q, view: view, generation: generation, key: &key, into: out).pointee
        }
    }

    /// ``proof(_:view:generation:)`` in place, also telling which entry answered or now holds
    /// the proof (`key`), which the thread's finished answers are keyed by: where the proof
    /// is — a hit's entry in the thread's table (not copied: it is more than a kilobyte), else
    /// `out`, where it is written. An entry's proof stays as it is until this thread's next
    /// call stores a new entry (a miss), so the pointer is good until this thread's next call
    /// (the signing context of one query, ``SigningContext``). `q` is not changed (inout only
    /// so it is not copied).
    static func proof(_ q: inout NameBuffer, view: StoreZoneView, generation: UInt64, key: inout ProofKey,
                      into out: UnsafeMutablePointer<WireProof>) -> UnsafePointer<WireProof> {
        key = ProofKey()
        // Label starts, left to right (the deepest label first).
        var starts = InlineArray<128, UInt8>(repeating: 0)
        let (n, end) = labelStarts(&q, &starts)
        guard n >= 0 else { out.pointee = view.wireProof(q); return UnsafePointer(out) }
        let below = n - labelCount(view.apex)
        guard end < q.count, below >= 0 else { out.pointee = view.wireProof(q); return UnsafePointer(out) }
        key.below = below
        // The apex must be the QNAME's suffix.
        let apexAt = below < n ? Int(starts[below]) : end
        guard q.count - apexAt == view.apex.count, endsWith(&q, view.apex, at: apexAt) else {
            out.pointee = view.wireProof(q); return UnsafePointer(out)
        }

        let t = threadTable()
        let tags = t.pointee.tags, entries = t.pointee.entries
        // The depths below the apex at which gap entries were ever stored: no other is probed.
        let depths = t.pointee.gapDepths
        // FNV-1a over the generation, then label by label (length byte and bytes) from the apex
        // down: `h` is the hash of the prefix of `d` labels below the apex, at byte `at`. Each
        // prefix is probed as a closest encloser (its set's ways), the whole QNAME also as an
        // exact entry.
        let seed: UInt64 = mix(0xcbf2_9ce4_8422_2325 ^ generation, 0)
        var h = seed
        var d = 0, at = apexAt
        while true {
            if d >= below {
                let exactHash = mix(h, 1)
                let tag = exactHash | 1
                let first = set(exactHash)
                for w in first..<(first + ways) where tags[w] == tag {
                    let e = entries + w
                    guard e.pointee.generation == generation, e.pointee.exact, e.pointee.key.count == q.count else { continue }
                    if same(&e.pointee.key, &q, from: 0) {
                        t.pointee.hits += 1
                        key.stamp = e.pointee.stamp
                        key.exact = true
                        return UnsafePointer(e.pointer(to: \.proof)!)
                    }
                }
                break
            }
            if (depths >> UInt64(min(d, 63))) & 1 != 0 {
                let tag = h | 1
                let first = set(h)
                let child = Int(starts[below - d - 1])
                for w in first..<(first + ways) where tags[w] == tag {
                    let e = entries + w
                    guard e.pointee.generation == generation, !e.pointee.exact, e.pointee.key.count == q.count - at,
                          e.pointee.low.count == 0 || compare(e.pointee.low, &q, child) < 0,
                          e.pointee.high.count == 0 || compare(e.pointee.high, &q, child) > 0 else { continue }
                    if same(&e.pointee.key, &q, from: at) {
                        t.pointee.hits += 1
                        key.stamp = e.pointee.stamp
                        key.exact = false
                        return UnsafePointer(e.pointer(to: \.proof)!)
                    }
                }
            }
            d += 1
            at = Int(starts[below - d])
            h = mixLabel(h, &q, at)
        }

        let p = view.wireProof(q)
        t.pointee.computed += 1
        var e = Entry()
        e.generation = generation
        e.proof = p
        let keyHash: UInt64
        if p.exists {
            // `h` is the whole QNAME's hash here.
            e.exact = true
            e.key = q
            keyHash = mix(h, 1)
        } else {
            // The closest encloser X and the labels of its children that bound the gap.
            let c = min(p.closestEncloserLabels, below - 1)
            h = seed
            at = apexAt
            var k = 0
            while k < c {
                k += 1
                at = Int(starts[below - k])
                h = mixLabel(h, &q, at)
            }
            guard let low = branch(p.nsec.owner, below: &q, at: at), let high = branch(p.nsec.next, below: &q, at: at)
            else { out.pointee = p; return UnsafePointer(out) }
            var key = NameBuffer()
            for i in at..<q.count { key.append(q.bytes[i]) }
            e.key = key
            e.low = low
            e.high = high
            keyHash = h
            t.pointee.gapDepths |= 1 << UInt64(min(c, 63))
        }
        // A free way (or one of an old generation), else the ways in turn.
        let first = set(keyHash)
        var way = first + t.pointee.computed & (ways - 1)
        for w in first..<(first + ways) where tags[w] == 0 || entries[w].generation != generation { way = w; break }
        t.pointee.stamps += 1
        e.stamp = t.pointee.stamps
        key.stamp = e.stamp
        key.exact = e.exact
        entries[way] = e
        tags[way] = keyHash | 1
        out.pointee = p
        return UnsafePointer(out)
    }

    private static let generations = Atomic<UInt64>(0)

    /// One thread's table: tags (0: empty slot) and entries side by side, the finished
    /// answers' tags and slots (``FinishedHeader``), and its counters.
    struct Table {
        var tags: UnsafeMutablePointer<UInt64>
        var entries: UnsafeMutablePointer<Entry>
        var answerTags: UnsafeMutablePointer<UInt64>
        var answers: UnsafeMutableRawPointer
        var computed = 0
        var hits = 0
        /// The last entry stamp handed out.
        var stamps: UInt64 = 0
        /// Bit d (63: any depth from 63 on): a gap entry whose closest encloser lies d labels
        /// below its apex was stored (in any view); lookups probe only those depths.
        var gapDepths: UInt64 = 0
        var answersStored = 0
        var answersServed = 0
        /// Of `answersServed`, those served before the answer rules (``serveFinishedDirect(_:qtype:signer:apexAt:_:_:)``).
        var answersServedDirect = 0
        var answerTurn = 0
        /// Tests: neither serve nor keep finished answers on this thread.
        var answersOff = false
    }

    /// This thread's table (allocated zeroed on first use: an all-zero entry is empty).
    static func threadTable() -> UnsafeMutablePointer<Table> {
        if let p = pthread_getspecific(tableKey) { return p.assumingMemoryBound(to: Table.self) }
        let header = (MemoryLayout<Table>.stride + 63) & ~63
        let tagBytes = MemoryLayout<UInt64>.stride * capacity
        let entryBytes = (MemoryLayout<Entry>.stride * capacity + 63) & ~63
        let answerTagBytes = MemoryLayout<UInt64>.stride * answerCapacity
        let bytes = header + tagBytes + entryBytes + answerTagBytes + answerSlot * answerCapacity
        // calloc: zeroed pages from the system, touched only as entries are used.
        let raw = calloc(1, bytes)!
        let tags = (raw + header).bindMemory(to: UInt64.self, capacity: capacity)
        let entries = (raw + header + tagBytes).bindMemory(to: Entry.self, capacity: capacity)
        let answerTags = (raw + header + tagBytes + entryBytes).bindMemory(to: UInt64.self, capacity: answerCapacity)
        let answers = raw + header + tagBytes + entryBytes + answerTagBytes
        let table = raw.bindMemory(to: Table.self, capacity: 1)
        table.initialize(to: Table(tags: tags, entries: entries, answerTags: answerTags, answers: answers))
        pthread_setspecific(tableKey, raw)
        return table
    }

    private static let tableKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { p in
            guard let p else { return }
            ProofCache.releaseAnswers(p.assumingMemoryBound(to: Table.self))
            free(p)
        }
        return key
    }()
}

// MARK: - Finished answers

/// The finished DO=1 answers of one thread: what `signAnswer` wrote after the question (the
/// answer and authority sections, RRSIGs and NSECs included), kept per proof-cache entry and
/// QTYPE, so a repeated answer — the same name, or a new name of a gap seen before — is the
/// proof-cache probe, a compare of the DO=0 sections, a copy and a few patches.
///
/// **What a finished answer depends on, and its key.** `signAnswer` rewrites the DO=0 answer
/// (its sections as the answer rules wrote them, and the RCODE and counts) with the proof, the
/// QTYPE (the NSEC and DNSKEY cases), the names the RRsets are signed at (the QNAME, `*.X`, the
/// apex, the NSEC owners) and the RRSIGs the signer has for them. A slot is found by (the
/// proof-cache entry's stamp, QTYPE) — the stamp names one proof of one view generation, for
/// one QNAME (an exact entry) or every name of one gap — and then serves only a DO=0 answer
/// equal to the one it was made from (its bytes compared, the RCODE and counts). An answer
/// with an RRset signed at the QNAME itself is kept for exact entries only, and the apex
/// DNSKEY answer (whose RRset follows the key timing, not the DO=0 answer) is never kept.
///
/// **Compression pointers.** Both sections point into the question: at the QNAME (offset 12)
/// and at the apex inside it, whose offset depends on the QNAME's length (IPv4 names of a gap
/// differ in length). For a gap entry the pointers to the apex part are recorded
/// (`relocAt`, `relocDelta`: the target's offset from the apex) and patched on each copy; a
/// pointer anywhere else (into the QNAME below the apex, into the answer), or an RR type whose
/// RDATA might hold a name this does not parse, means the answer is not kept.
///
/// **Freshness.** A slot holds the earliest re-signing time (`until`) of the RRSIG copies it
/// was made from and the signer's key generation; past that time, or after a key change, it
/// is not served and the slow path (which takes the re-made signatures) replaces it. Every
/// hit sets the use marks of the RRsets' signatures, so the background round keeps re-signing
/// them, and counts the signer's cache hits as the slow path would.
///
/// **Size and truncation.** A finished answer is served only when it fits the message's
/// limit (the UDP payload size), else the slow path writes (and truncates) as it always did;
/// answers larger than a slot are not kept.
extension ProofCache {
    /// Slots per thread: 1,024 sets of 4, ``answerSlot`` bytes each (6 MiB a thread, pages
    /// touched as used).
    static let answerCapacity = 4096
    static let answerSlot = 1536
    /// Bytes of a slot before its answer bytes (the header, rounded up).
    static let answerHeader = (MemoryLayout<FinishedHeader>.stride + 63) & ~63
    /// Room for the DO=0 section and the finished bytes together.
    static let answerBytes = answerSlot - answerHeader
    static let maxRelocations = 24
    static let maxMarks = 8

    /// One slot's description; its bytes (the DO=0 section, then the finished ones) follow it.
    struct FinishedHeader {
        /// The proof-cache entry (0: empty) and QTYPE it answers for.
        var stamp: UInt64 = 0
        var qtype: UInt16 = 0
        /// The DO=0 answer it was made from: RCODE and counts (bytes: the slot's first
        /// `templateCount`).
        var rcodeIn: UInt16 = 0, anIn: UInt16 = 0, nsIn: UInt16 = 0
        /// The signed answer's RCODE and counts.
        var rcode: UInt16 = 0, an: UInt16 = 0, ns: UInt16 = 0
        var templateCount: UInt16 = 0, finishedCount: UInt16 = 0
        /// Served before then (Unix seconds, serial arithmetic).
        var until: UInt32 = 0
        var keyGeneration = 0
        /// Pointers to the apex part of the QNAME: the first `templateRelocs` in the DO=0
        /// section, then `finishedRelocs` in the finished bytes (offsets from each's start).
        var templateRelocs: UInt8 = 0, finishedRelocs: UInt8 = 0
        var relocAt = InlineArray<24, UInt16>(repeating: 0)
        var relocDelta = InlineArray<24, UInt8>(repeating: 0)
        /// The DO=0 answer it was made from did not depend on the client or on anything but the
        /// QNAME's proof and the QTYPE (``Responder/servesFinishedDirectly``): the slot may be
        /// served before the answer rules run (``serveFinishedDirect(_:qtype:signer:apexAt:_:_:)``).
        var direct = false
        /// The answer names a listed address (``Reply/listed``, for the outcome).
        var listed = false
        /// Retained ``ZoneSigner/UseMark``s (opaque pointers) of the RRsets' signatures.
        var marks: UInt8 = 0
        var use = InlineArray<8, UInt>(repeating: 0)
    }

    /// What `signAnswer`'s slow path learns of the signatures it writes: the earliest
    /// `until`, the key generation, the use marks (retained until stored or released).
    struct SignatureUse {
        var keepable = true
        /// An RRset was signed at the QNAME (not at `*.X`, the apex or an NSEC owner).
        var qnameOwner = false
        var until: UInt32 = 0
        var generation = 0
        var count = 0
        var marks = InlineArray<8, UInt>(repeating: 0)

        /// Drops what an earlier answer left (releasing its marks) and starts afresh.
        mutating func reset() {
            release()
            keepable = true
            qnameOwner = false
        }

        mutating func release() {
            var i = 0
            while i < count {
                Unmanaged<ZoneSigner.UseMark>.fromOpaque(UnsafeRawPointer(bitPattern: marks[i])!).release()
                i += 1
            }
            count = 0
        }

        /// One RRset's signatures: valid until `until` (its copy's re-signing time), made by
        /// keys of `generation`.
        mutating func note(until: UInt32, generation: Int, use: ZoneSigner.UseMark) {
            guard keepable else { return }
            guard count < ProofCache.maxMarks, count == 0 || generation == self.generation else { keepable = false; return }
            if count == 0 || Int32(bitPattern: until &- self.until) < 0 { self.until = until }
            self.generation = generation
            marks[count] = UInt(bitPattern: Unmanaged.passRetained(use).toOpaque())
            count += 1
        }
    }

    /// Tests: turns this thread's finished answers off (neither served nor kept) or on.
    static func setFinishedAnswers(_ on: Bool) { threadTable().pointee.answersOff = !on }

    /// Finished answers this thread has kept and served, for tests and measurements.
    static var finishedCounts: (stored: Int, served: Int, direct: Int) {
        let t = threadTable()
        return (t.pointee.answersStored, t.pointee.answersServed, t.pointee.answersServedDirect)
    }

    @inline(__always)
    private static func answerHash(_ stamp: UInt64, _ qtype: UInt16) -> UInt64 {
        var h = stamp &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(qtype) &* 0xC2B2_AE3D_27D4_EB4F
        h ^= h >> 31
        return h
    }

    @inline(__always)
    private static func answerSet(_ h: UInt64) -> Int { Int(truncatingIfNeeded: h & UInt64(answerCapacity / ways - 1)) * ways }

    /// Serves the finished answer kept for (`key`, `qtype`) when the DO=0 answer just written
    /// after `afterQuestion` (RCODE and counts in `r`) is the one it was made from, its
    /// signatures are still served and it fits `w`'s limit: writes it in place of the DO=0
    /// sections and sets `r`'s RCODE and counts. False (nothing changed) otherwise.
    /// - Parameter apexAt: offset of the apex inside the question's QNAME.
    static func serveFinished(_ key: ProofKey, qtype: UInt16, signer: ZoneSigner, apexAt: Int,
                              afterQuestion: MessageWriter.Mark, _ w: inout MessageWriter, _ r: inout Reply) -> Bool {
        let t = threadTable()
        guard !t.pointee.answersOff else { return false }
        let h = answerHash(key.stamp, qtype), tag = h | 1
        let first = answerSet(h)
        let base = afterQuestion.count, len = w.count - base
        guard let out = w.buffer.baseAddress else { return false }
        for way in first..<(first + ways) where t.pointee.answerTags[way] == tag {
            let slot = t.pointee.answers + way * answerSlot
            let e = slot.assumingMemoryBound(to: FinishedHeader.self)
            guard e.pointee.stamp == key.stamp, e.pointee.qtype == qtype, Int(e.pointee.templateCount) == len,
                  e.pointee.rcodeIn == r.rcode, e.pointee.anIn == r.an, e.pointee.nsIn == r.ns else { continue }
            // The DO=0 sections, equal but for the pointers to the apex (patched values).
            let bytes = slot + answerHeader, current = out + base
            let tr = Int(e.pointee.templateRelocs)
            var from = 0, k = 0, same = true
            while k < tr {
                let at = Int(e.pointee.relocAt[k])
                let v = 0xC000 | (apexAt + Int(e.pointee.relocDelta[k]))
                if (at > from && memcmp(current + from, bytes + from, at - from) != 0)
                    || current.load(fromByteOffset: at, as: UInt8.self) != UInt8(truncatingIfNeeded: v >> 8)
                    || current.load(fromByteOffset: at + 1, as: UInt8.self) != UInt8(truncatingIfNeeded: v) {
                    same = false
                    break
                }
                from = at + 2
                k += 1
            }
            guard same, len == from || memcmp(current + from, bytes + from, len - from) == 0 else { return false }
            // Signatures still served: before the earliest re-signing time, by the keys that sign now.
            let now = signer.clock()
            guard Int32(bitPattern: e.pointee.until &- now) > 0, e.pointee.keyGeneration == signer.generationNow(now) else {
                return false
            }
            guard base + Int(e.pointee.finishedCount) <= w.limit else { return false }
            w.rollback(to: afterQuestion)
            return write(slot, apexAt: apexAt, t, signer, &w, &r)
        }
        return false
    }

    /// Serves the finished answer kept for (`key`, `qtype`) before the answer rules run, in
    /// place of the DO=0 answer and the compare of ``serveFinished(_:qtype:signer:apexAt:afterQuestion:_:_:)``:
    /// only a slot made from a DO=0 answer that depended on nothing but the proof and the
    /// QTYPE (``FinishedHeader/direct``; the caller checked the same holds for this query,
    /// ``Responder/servesFinishedDirectly``), whose signatures are still served and which fits
    /// `w`'s limit. Writes it after the question (nothing else written yet) and sets `r`'s
    /// RCODE, counts and `listed`. False (nothing changed) otherwise.
    ///
    /// Why no compare is needed: the key's stamp names one proof of one view generation (one
    /// responder: one store, one configuration), for one QNAME (an exact entry) or for every
    /// name of one NSEC gap (a gap entry); with the client out of the answer (no ACL decision
    /// but pass, no key) and no generic, dnset or transition data at the apex, the DO=0 answer
    /// is a function of the QNAME's proof and the QTYPE — the same NXDOMAIN, or, under a
    /// wildcard, the store answer of an address inside the wildcard's block, which the
    /// signed view is built from (StoreZoneView: every name of the gap below the closest
    /// encloser has the wildcard's value; `$` renders the block). FinishedAnswerTests
    /// check each such answer against the slow path's byte for byte.
    static func serveFinishedDirect(_ key: ProofKey, qtype: UInt16, signer: ZoneSigner, apexAt: Int,
                                    _ w: inout MessageWriter, _ r: inout Reply) -> Bool {
        let t = threadTable()
        guard !t.pointee.answersOff else { return false }
        let h = answerHash(key.stamp, qtype), tag = h | 1
        let first = answerSet(h)
        for way in first..<(first + ways) where t.pointee.answerTags[way] == tag {
            let slot = t.pointee.answers + way * answerSlot
            let e = slot.assumingMemoryBound(to: FinishedHeader.self)
            guard e.pointee.stamp == key.stamp, e.pointee.qtype == qtype else { continue }
            guard e.pointee.direct, w.count + Int(e.pointee.finishedCount) <= w.limit else { return false }
            let now = signer.clock()
            guard Int32(bitPattern: e.pointee.until &- now) > 0, e.pointee.keyGeneration == signer.generationNow(now) else {
                return false
            }
            guard write(slot, apexAt: apexAt, t, signer, &w, &r) else { return false }
            r.listed = e.pointee.listed
            t.pointee.answersServedDirect += 1
            return true
        }
        return false
    }

    /// Writes slot `slot`'s finished bytes at `w`'s end (the caller checked they fit and the
    /// slot is fresh), patches its pointers to the apex, marks its signatures used and sets
    /// `r`'s RCODE and counts.
    @inline(__always)
    private static func write(_ slot: UnsafeMutableRawPointer, apexAt: Int, _ t: UnsafeMutablePointer<Table>,
                              _ signer: ZoneSigner, _ w: inout MessageWriter, _ r: inout Reply) -> Bool {
        let e = slot.assumingMemoryBound(to: FinishedHeader.self)
        let bytes = slot + answerHeader
        let base = w.count, n = Int(e.pointee.finishedCount)
        guard let out = w.buffer.baseAddress,
              w.bytes(UnsafeRawBufferPointer(start: bytes + Int(e.pointee.templateCount), count: n)) else { return false }
        let tr = Int(e.pointee.templateRelocs)
        var k = tr
        let end = tr + Int(e.pointee.finishedRelocs)
        while k < end {
            let at = base + Int(e.pointee.relocAt[k])
            let v = 0xC000 | (apexAt + Int(e.pointee.relocDelta[k]))
            out.storeBytes(of: UInt8(truncatingIfNeeded: v >> 8), toByteOffset: at, as: UInt8.self)
            out.storeBytes(of: UInt8(truncatingIfNeeded: v), toByteOffset: at + 1, as: UInt8.self)
            k += 1
        }
        k = 0
        while k < Int(e.pointee.marks) {
            Unmanaged<ZoneSigner.UseMark>.fromOpaque(UnsafeRawPointer(bitPattern: e.pointee.use[k])!)
                ._withUnsafeGuaranteedRef { $0.note() }
            signer.noteCacheHit()
            k += 1
        }
        r.rcode = e.pointee.rcode
        r.an = e.pointee.an
        r.ns = e.pointee.ns
        t.pointee.answersServed += 1
        return true
    }

    /// Keeps the answer `signAnswer` just finished: `template` the DO=0 sections it rewrote
    /// (RCODE and counts `rcodeIn`, `anIn`, `nsIn`), `finished` what it wrote after the
    /// question (`rcode`, `an`, `ns`; `listed` the DO=0 answer's ``Reply/listed``; `direct`:
    /// it may be served before the answer rules, ``FinishedHeader/direct``), `use` its
    /// signatures (whose marks the slot takes over;
    /// released when the answer is not kept). `apexAt`, `qnameEnd`: the apex's offset in the
    /// question and the end of the QNAME.
    static func keepFinished(_ key: ProofKey, qtype: UInt16, template: UnsafeRawBufferPointer, rcodeIn: UInt16, anIn: UInt16,
                             nsIn: UInt16, finished: UnsafeRawBufferPointer, rcode: UInt16, an: UInt16, ns: UInt16,
                             listed: Bool, direct: Bool, apexAt: Int, qnameEnd: Int, use: inout SignatureUse) {
        let t = threadTable()
        guard !t.pointee.answersOff, key.stamp != 0, use.keepable, use.count > 0, !(use.qnameOwner && !key.exact),
              template.count + finished.count <= answerBytes else { use.release(); return }
        var e = FinishedHeader()
        e.stamp = key.stamp; e.qtype = qtype
        e.rcodeIn = rcodeIn; e.anIn = anIn; e.nsIn = nsIn
        e.rcode = rcode; e.an = an; e.ns = ns
        e.templateCount = UInt16(template.count); e.finishedCount = UInt16(finished.count)
        e.until = use.until; e.keyGeneration = use.generation
        e.listed = listed; e.direct = direct
        if !key.exact {
            // An exact entry's QNAME is fixed (so are its offsets); a gap's names differ.
            var n = 0
            guard relocations(template, rrs: Int(anIn) + Int(nsIn), apexAt: apexAt, qnameEnd: qnameEnd, &e, &n) else {
                use.release(); return
            }
            e.templateRelocs = UInt8(n)
            guard relocations(finished, rrs: Int(an) + Int(ns), apexAt: apexAt, qnameEnd: qnameEnd, &e, &n) else {
                use.release(); return
            }
            e.finishedRelocs = UInt8(n - Int(e.templateRelocs))
        }
        e.marks = UInt8(use.count)
        for i in 0..<use.count { e.use[i] = use.marks[i] }
        use.count = 0  // the slot holds them now

        // The slot already holding this key, else an empty one, else the ways in turn.
        let h = answerHash(key.stamp, qtype), tag = h | 1
        let first = answerSet(h)
        var way = -1
        for w in first..<(first + ways) where t.pointee.answerTags[w] == tag {
            let old = (t.pointee.answers + w * answerSlot).assumingMemoryBound(to: FinishedHeader.self)
            if old.pointee.stamp == key.stamp && old.pointee.qtype == qtype { way = w; break }
        }
        if way < 0 { for w in first..<(first + ways) where t.pointee.answerTags[w] == 0 { way = w; break } }
        if way < 0 {
            t.pointee.answerTurn &+= 1
            way = first + t.pointee.answerTurn & (ways - 1)
        }
        let slot = t.pointee.answers + way * answerSlot
        let header = slot.assumingMemoryBound(to: FinishedHeader.self)
        if t.pointee.answerTags[way] != 0 { releaseMarks(header) }
        header.pointee = e
        let bytes = slot + answerHeader
        if template.count > 0 { bytes.copyMemory(from: template.baseAddress!, byteCount: template.count) }
        if finished.count > 0 { (bytes + template.count).copyMemory(from: finished.baseAddress!, byteCount: finished.count) }
        t.pointee.answerTags[way] = tag
        t.pointee.answersStored += 1
    }

    private static func releaseMarks(_ e: UnsafeMutablePointer<FinishedHeader>) {
        var k = 0
        while k < Int(e.pointee.marks) {
            Unmanaged<ZoneSigner.UseMark>.fromOpaque(UnsafeRawPointer(bitPattern: e.pointee.use[k])!).release()
            k += 1
        }
        e.pointee.marks = 0
    }

    /// At the thread's end: the marks its slots hold.
    static func releaseAnswers(_ t: UnsafeMutablePointer<Table>) {
        for way in 0..<answerCapacity where t.pointee.answerTags[way] != 0 {
            releaseMarks((t.pointee.answers + way * answerSlot).assumingMemoryBound(to: FinishedHeader.self))
        }
    }

    /// Records in `e` (from index `n` on, advancing it) the compression pointers of the first
    /// `rrs` RRs of `b` (written at the message offset after the question) whose target is the
    /// apex part of the QNAME (`apexAt..<qnameEnd`). False when a pointer has another target
    /// but the QNAME itself (offset 12: the same for every name), an RR's RDATA may hold a name
    /// this does not parse, or there are too many pointers.
    private static func relocations(_ b: UnsafeRawBufferPointer, rrs: Int, apexAt: Int, qnameEnd: Int,
                                    _ e: inout FinishedHeader, _ n: inout Int) -> Bool {
        var p = 0
        for _ in 0..<rrs {
            guard name(b, &p, apexAt, qnameEnd, &e, &n), p + 10 <= b.count else { return false }
            let type = UInt16(b[p]) << 8 | UInt16(b[p + 1])
            let rdlen = Int(b[p + 8]) << 8 | Int(b[p + 9])
            var rd = p + 10
            let end = rd + rdlen
            guard end <= b.count else { return false }
            switch type {
            case DNSType.ns, 5, 12:  // NS, CNAME, PTR
                guard name(b, &rd, apexAt, qnameEnd, &e, &n) else { return false }
            case 15:  // MX
                rd += 2
                guard name(b, &rd, apexAt, qnameEnd, &e, &n) else { return false }
            case DNSType.soa:
                guard name(b, &rd, apexAt, qnameEnd, &e, &n), name(b, &rd, apexAt, qnameEnd, &e, &n) else { return false }
            case 1, 13, 16, 28, 46, 47, 48:  // A, HINFO, TXT, AAAA, RRSIG, NSEC, DNSKEY: no compressed name
                break
            default:
                return false
            }
            guard rd <= end else { return false }
            p = end
        }
        return p == b.count
    }

    /// Skips the name at `p` in `b`, recording a final pointer to the apex part of the QNAME
    /// (see ``relocations(_:rrs:apexAt:qnameEnd:_:_:)``). A function of its own, not a nested
    /// one: nested functions capturing variables box them on the heap in debug builds.
    private static func name(_ b: UnsafeRawBufferPointer, _ p: inout Int, _ apexAt: Int, _ qnameEnd: Int,
                             _ e: inout FinishedHeader, _ n: inout Int) -> Bool {
        while p < b.count {
            let l = Int(b[p])
            if l & 0xC0 == 0xC0 {
                guard p + 1 < b.count else { return false }
                let target = (l & 0x3F) << 8 | Int(b[p + 1])
                if target != DNSWire.headerSize {
                    guard target >= apexAt, target < qnameEnd, n < maxRelocations else { return false }
                    e.relocAt[n] = UInt16(p)
                    e.relocDelta[n] = UInt8(target - apexAt)
                    n += 1
                }
                p += 2
                return true
            }
            guard l & 0xC0 == 0 else { return false }
            p += 1 + l
            if l == 0 { return true }
        }
        return false
    }
}
