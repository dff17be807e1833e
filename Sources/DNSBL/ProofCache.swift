#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
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
/// in), one label at a time, and at each prefix probes the 4 ways of the set the hash picks
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
/// DO=1 query in a store-view zone and freed when the thread ends; a full set replaces its ways in turn. Each ``SignedZone`` draws a new ``generation``
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
        var proof = WireProof()
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
        var q = qname
        // Label starts, left to right (the deepest label first).
        var starts = InlineArray<128, UInt8>(repeating: 0)
        var n = 0, end = 0
        while end < q.count && q.bytes[end] != 0 {
            guard n < 128 else { return view.wireProof(qname) }
            starts[n] = UInt8(truncatingIfNeeded: end)
            n += 1
            end += 1 + Int(q.bytes[end])
        }
        let apex = view.apex
        let below = n - labelCount(apex)
        guard end < q.count, below >= 0 else { return view.wireProof(qname) }
        // The apex must be the QNAME's suffix.
        let apexAt = below < n ? Int(starts[below]) : end
        guard q.count - apexAt == apex.count else { return view.wireProof(qname) }
        for i in 0..<apex.count where q.bytes[apexAt + i] != apex[i] { return view.wireProof(qname) }

        let t = threadTable()
        let tags = t.pointee.tags, entries = t.pointee.entries
        // FNV-1a over the generation, then label by label (length byte and bytes) from the apex
        // down: `h` is the hash of the prefix of `d` labels below the apex, at byte `at`. Each
        // prefix is probed as a closest encloser (its set's ways), the whole QNAME also as an
        // exact entry.
        let seed: UInt64 = mix(0xcbf2_9ce4_8422_2325 ^ generation, 0)
        var h = seed
        var d = 0, at = apexAt
        while true {
            let exactHash = mix(h, 1)
            if d < below {
                let tag = h | 1
                let first = set(h)
                let child = Int(starts[below - d - 1])
                for w in first..<(first + ways) where tags[w] == tag {
                    let e = entries + w
                    guard e.pointee.generation == generation, !e.pointee.exact, e.pointee.key.count == q.count - at,
                          e.pointee.low.count == 0 || compare(e.pointee.low, &q, child) < 0,
                          e.pointee.high.count == 0 || compare(e.pointee.high, &q, child) > 0 else { continue }
                    var same = true
                    var i = 0
                    while i < q.count - at {
                        if e.pointee.key.bytes[i] != q.bytes[at + i] { same = false; break }
                        i += 1
                    }
                    if same {
                        t.pointee.hits += 1
                        return e.pointee.proof
                    }
                }
            } else {
                let tag = exactHash | 1
                let first = set(exactHash)
                for w in first..<(first + ways) where tags[w] == tag {
                    let e = entries + w
                    guard e.pointee.generation == generation, e.pointee.exact, e.pointee.key.count == q.count else { continue }
                    var same = true
                    var i = 0
                    while i < q.count {
                        if e.pointee.key.bytes[i] != q.bytes[i] { same = false; break }
                        i += 1
                    }
                    if same {
                        t.pointee.hits += 1
                        return e.pointee.proof
                    }
                }
                break
            }
            d += 1
            at = Int(starts[below - d])
            let stop = at + 1 + Int(q.bytes[at])
            for i in at..<stop { h = mix(h, q.bytes[i]) }
        }

        let p = view.wireProof(qname)
        t.pointee.computed += 1
        var e = Entry()
        e.generation = generation
        e.proof = p
        let keyHash: UInt64
        if p.exists {
            // `h` is the whole QNAME's hash here.
            e.exact = true
            e.key = qname
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
                let stop = at + 1 + Int(q.bytes[at])
                for i in at..<stop { h = mix(h, q.bytes[i]) }
            }
            guard let low = branch(p.nsec.owner, below: &q, at: at), let high = branch(p.nsec.next, below: &q, at: at)
            else { return p }
            var key = NameBuffer()
            for i in at..<q.count { key.append(q.bytes[i]) }
            e.key = key
            e.low = low
            e.high = high
            keyHash = h
        }
        // A free way (or one of an old generation), else the ways in turn.
        let first = set(keyHash)
        var way = first + t.pointee.computed & (ways - 1)
        for w in first..<(first + ways) where tags[w] == 0 || entries[w].generation != generation { way = w; break }
        entries[way] = e
        tags[way] = keyHash | 1
        return p
    }

    private static let generations = Atomic<UInt64>(0)

    /// One thread's table: tags (0: empty slot) and entries side by side, and its counters.
    struct Table {
        var tags: UnsafeMutablePointer<UInt64>
        var entries: UnsafeMutablePointer<Entry>
        var computed = 0
        var hits = 0
    }

    /// This thread's table (allocated zeroed on first use: an all-zero entry is empty).
    private static func threadTable() -> UnsafeMutablePointer<Table> {
        if let p = pthread_getspecific(tableKey) { return p.assumingMemoryBound(to: Table.self) }
        let header = (MemoryLayout<Table>.stride + 63) & ~63
        let tagBytes = MemoryLayout<UInt64>.stride * capacity
        let bytes = header + tagBytes + MemoryLayout<Entry>.stride * capacity
        // calloc: zeroed pages from the system, touched only as entries are used.
        let raw = calloc(1, bytes)!
        let tags = (raw + header).bindMemory(to: UInt64.self, capacity: capacity)
        let entries = (raw + header + tagBytes).bindMemory(to: Entry.self, capacity: capacity)
        let table = raw.bindMemory(to: Table.self, capacity: 1)
        table.initialize(to: Table(tags: tags, entries: entries))
        pthread_setspecific(tableKey, raw)
        return table
    }

    private static let tableKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { p in free(p) }
        return key
    }()
}
