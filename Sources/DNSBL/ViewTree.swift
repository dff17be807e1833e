import PrefixStore

/// The IPv4-mapped block ::ffff:0:0/96 (RFC 4291 §2.5.5.2), where a zone with IPv4 data answers
/// the IPv4 data alone.
let viewMappedFirst: UInt128 = 0xffff << 32
let viewMappedLast: UInt128 = viewMappedFirst | 0xffff_ffff
/// The 6to4 block 2002::/16 (RFC 3056 §2): IPv4 address A's image is 2002:A::/48.
let viewSixToFourFirst: UInt128 = 0x2002 << 112

/// One address family's label tree of a serving zone's signed view: the names `prefixbl
/// export` writes for that family (DNSBL.docc/SignedView.md), decided node by node from the
/// zone's united ranges by binary search, never by enumerating the zone.
///
/// A node is an address prefix whose length is a multiple of the label width (4 bits, 8 bits);
/// the exporter's rule decides what the view holds at and below it:
/// - the apex and every node whose block holds more than one value ("mixed") are empty
///   non-terminals; a mixed node below the apex has a wildcard `*.node` carrying the most common
///   value among its uniform children (not listed wins ties, then the value seen first in
///   address order);
/// - a uniform child whose value differs from its parent's wildcard value is a name of its own:
///   an exclusion marker (HINFO) when not listed, the exact name at full length, else an empty
///   non-terminal holding its own wildcard;
/// - a uniform child with the parent's wildcard value is not a name (the wildcard answers it).
///
/// With ``emptyNonTerminalRecords`` (`--dnssec-ent-rrset`) every empty non-terminal below the
/// apex owns an HINFO RRset, so it is an owner of the chain (``isOwner(_:)``).
struct ViewTree: Sendable {
    /// What a node of the tree is.
    enum State: Sendable, Equatable {
        /// Mixed (or the apex): an empty non-terminal; its block meets intervals `lo..<hi`.
        case walked(lo: Int, hi: Int)
        /// A uniform block below a different wildcard: an empty non-terminal whose only child
        /// is its wildcard with combined value `v`.
        case wildParent(Int32)
        /// A full-length name with combined value `v`, or an exclusion marker (`v` = -1).
        case leaf(Int32)
        /// The wildcard `*.parent` with combined value `v`.
        case star(Int32)
    }

    /// A node: its block (`base`, `depth` labels; a wildcard shares its parent's), its own
    /// label (-2 the apex, -1 `*`, else the label's value) and what it is.
    struct Node: Sendable {
        var depth: Int
        var base: UInt128
        var label: Int16
        var state: State

        var isOwner: Bool {
            switch state {
            case .leaf, .star: return true
            case .walked, .wildParent: return false
            }
        }
    }

    let family: AddressFamily
    /// Empty non-terminals below the apex own an HINFO RRset (and so an NSEC).
    var emptyNonTerminalRecords = false
    /// Address width, bits per label, labels of a full name, children per node.
    let width: Int, step: Int, labels: Int, fan: Int
    /// The united intervals: sorted, disjoint, neighbours with equal values merged.
    let firsts: [UInt128], lasts: [UInt128], values: [Int32]
    /// Per combined value: whether it has a TXT record.
    let hasTXT: [Bool]
    /// Child values in canonical label order (0…15, or the 256 octets as decimal strings).
    let order: [Int16]
    /// Canonical rank of each child value (the inverse of ``order``): IPv6 the nibble itself,
    /// IPv4 the octet's place among the 256 decimal strings.
    let rank: [UInt8]
    /// Walked nodes meeting more than this many intervals are *heavy*: their wildcard value
    /// (and, IPv4, which children are names) is worked out once when the tree is built; a
    /// lighter node is scanned when a proof reaches it (one walk over its children: O(r + m log
    /// k) for r runs of uniform children and m mixed ones among its k intervals). IPv4 at most
    /// 32, so a light octet node's uniform children carry at most 32 distinct values (a nibble
    /// node's 16 children never carry more).
    let heavyThreshold: Int

    /// The default ``heavyThreshold``: 256 intervals for IPv6 (a scan walks at most 16
    /// children, each mixed one a galloping search), 32 for IPv4 (up to 256 children and
    /// their rank bits). Lower thresholds make more heavy nodes: a larger table and a longer
    /// build, each heavy node's children walked once, their interval bounds read from memory
    /// far apart.
    static func defaultHeavyThreshold(_ family: AddressFamily) -> Int { family == .ipv4 ? 32 : 256 }
    /// The heavy nodes, per depth in address order (depth d at `heavyStart[d] ..<
    /// heavyStart[d + 1]`): their bases, wildcard values and, IPv4, their name children as 4
    /// words of bits by canonical rank.
    private(set) var heavyBases: [UInt128] = []
    private(set) var heavyWilds: [Int32] = []
    private(set) var heavyBits: [UInt64] = []
    private(set) var heavyStart: [Int] = []

    /// One dataset's ranges as placed in this tree (its own, or IPv4 images in the IPv6 tree),
    /// streamed from the store's table by a ``Cursor`` (never copied into an array).
    struct Source {
        /// Where the dataset's ranges go: as they are; as they are less the IPv4-mapped block
        /// (an IPv6 dataset in a zone with IPv4 data); IPv4 images at ::ffff:0:0/96; IPv4
        /// images at 2002::/16 (address A: 2002:A::/48).
        enum Placement { case own, clippingMapped, mapped, sixToFour }
        var table: RangeTable
        var placement: Placement
        var values: [StoreValue]
        var ttl: UInt32
        var fromV4: Bool

        init(_ d: StoreDataset, clippingMapped: Bool = false) {
            table = d.table; values = d.values; ttl = d.ttl; fromV4 = d.family == .ipv4
            placement = clippingMapped ? .clippingMapped : .own
        }

        init(mapped d: StoreDataset) {
            table = d.table; values = d.values; ttl = d.ttl; fromV4 = true; placement = .mapped
        }

        init(sixToFour d: StoreDataset) {
            table = d.table; values = d.values; ttl = d.ttl; fromV4 = true; placement = .sixToFour
        }
    }

    /// A source's ranges as placed in the tree, in address order, one at a time.
    struct Cursor {
        var ranges: RangeTable.RangeIterator
        let placement: Source.Placement
        /// The part above the IPv4-mapped block of a range clipped in two.
        var pending: (first: UInt128, last: UInt128, value: Int32)? = nil

        init(_ s: Source) { ranges = s.table.makeRangeIterator(); placement = s.placement }

        mutating func next() -> (first: UInt128, last: UInt128, value: Int32)? {
            if let p = pending { pending = nil; return p }
            while let r = ranges.next() {
                switch placement {
                case .own:
                    return r
                case .mapped:
                    return (viewMappedFirst | r.first, viewMappedFirst | r.last, r.value)
                case .sixToFour:
                    let low: UInt128 = (1 << 80) - 1
                    return (viewSixToFourFirst | (r.first << 80), viewSixToFourFirst | (r.last << 80) | low, r.value)
                case .clippingMapped:
                    if r.last < viewMappedFirst || r.first > viewMappedLast { return r }
                    let above = r.last > viewMappedLast ? (viewMappedLast + 1, r.last, r.value) : nil
                    if r.first < viewMappedFirst {
                        pending = above
                        return (r.first, viewMappedFirst - 1, r.value)
                    }
                    if let above { return above }
                    // Wholly inside the mapped block: the IPv4 data answers there.
                }
            }
            return nil
        }
    }

    /// The identity of a combined value, as the exporter unites datasets: the A addresses and
    /// TXT templates in first-seen order, whether each TXT renders IPv4, and the smallest TTL.
    private struct Combined: Hashable {
        var a: [UInt32]; var txt: [[UInt8]]; var txtV4: [Bool]; var ttl: UInt32
    }

    /// Octet values 0…255 in canonical label order (their decimal strings compared as bytes).
    static let octetOrder: [Int16] = (0...255).map { Int16($0) }.sorted {
        Array(String($0).utf8).lexicographicallyPrecedes(Array(String($1).utf8))
    }

    /// Builds the tree of `family` from `sources`, uniting their ranges into intervals of
    /// combined values exactly as the exporter does (ids in order of first appearance).
    init(family: AddressFamily, sources: [Source], heavyThreshold: Int? = nil) {
        self.family = family
        self.heavyThreshold = max(0, min(family == .ipv4 ? 32 : 1024, heavyThreshold ?? ViewTree.defaultHeavyThreshold(family)))
        width = family.bits
        step = family == .ipv6 ? 4 : 8
        labels = width / step
        fan = 1 << step
        order = family == .ipv6 ? (0..<16).map { Int16($0) } : ViewTree.octetOrder
        var r = [UInt8](repeating: 0, count: fan)
        for (i, v) in order.enumerated() { r[Int(v)] = UInt8(i) }
        rank = r
        var ids: [Combined: Int32] = [:]
        var txtFlags: [Bool] = []
        var f: [UInt128] = [], l: [UInt128] = [], v: [Int32] = []
        func id(_ parts: [(Int, Int32)]) -> Int32 {
            var a: [UInt32] = [], t: [[UInt8]] = [], tv4: [Bool] = [], ttl = UInt32.max
            for (d, val) in parts {
                for sv in StoreValue.run(sources[d].values, at: Int(val)) {
                    if !a.contains(sv.a) { a.append(sv.a) }
                    if let p = sv.txt {
                        let bytes = Array(p)
                        if !t.contains(bytes) { t.append(bytes); tv4.append(sources[d].fromV4) }
                    }
                }
                ttl = min(ttl, sources[d].ttl)
            }
            let c = Combined(a: a, txt: t, txtV4: tv4, ttl: ttl)
            if let i = ids[c] { return i }
            let i = Int32(txtFlags.count)
            txtFlags.append(!t.isEmpty); ids[c] = i
            return i
        }
        func add(_ first: UInt128, _ last: UInt128, _ value: Int32) {
            if let pl = l.last, v.last == value, pl != .max, pl + 1 == first {
                l[l.count - 1] = last
            } else {
                f.append(first); l.append(last); v.append(value)
            }
        }
        // One sweep over the sources' ranges in address order (each source sorted and
        // disjoint): from `start`, the sources whose current range holds it decide the value
        // up to the next bound (the end of one of their ranges or the start of another
        // source's). O(n·k) for n ranges over k sources; the combined value of one source's
        // value is looked up in an array, of several (overlapping datasets) in a dictionary.
        var cursors = sources.map { Cursor($0) }
        var heads = cursors.indices.map { cursors[$0].next() }
        var single = sources.map { [Int32](repeating: -1, count: $0.values.count) }
        var several: [[Int64]: Int32] = [:]
        let expected = sources.reduce(0) { $0 + $1.table.rangeCount }
        f.reserveCapacity(expected); l.reserveCapacity(expected); v.reserveCapacity(expected)
        func one(_ d: Int, _ val: Int32) -> Int32 {
            let known = single[d][Int(val)]
            if known >= 0 { return known }
            let n = id([(d, val)])
            single[d][Int(val)] = n
            return n
        }
        var holding: [Int] = []
        holding.reserveCapacity(sources.count)
        var start = heads.compactMap { $0?.first }.min() ?? 0
        sweep: while true {
            holding.removeAll(keepingCapacity: true)
            var end = UInt128.max
            var nextFirst: UInt128? = nil
            for d in heads.indices {
                guard let h = heads[d] else { continue }
                if h.first <= start {
                    holding.append(d)
                    end = min(end, h.last)
                } else {
                    end = min(end, h.first - 1)
                    nextFirst = min(nextFirst ?? h.first, h.first)
                }
            }
            if holding.isEmpty {
                guard let n = nextFirst else { break sweep }
                start = n
                continue
            }
            if holding.count == 1 {
                let d = holding[0], h = heads[d]!
                add(start, end, one(d, h.value))
                if end == .max { break sweep }
                start = end + 1
                guard h.last == end else { continue }
                // The rest of d's ranges before another source's next one: taken as they come.
                var r = cursors[d].next()
                while let x = r, x.last < nextFirst ?? .max {
                    add(x.first, x.last, one(d, x.value))
                    r = cursors[d].next()
                }
                heads[d] = r
                start = min(r?.first ?? .max, nextFirst ?? .max)
                if r == nil && nextFirst == nil { break sweep }
                continue
            }
            let n: Int32
            do {
                let key = holding.map { Int64($0) << 32 | Int64(heads[$0]!.value) }
                if let known = several[key] {
                    n = known
                } else {
                    n = id(holding.map { ($0, heads[$0]!.value) }); several[key] = n
                }
            }
            add(start, end, n)
            if end == .max { break sweep }
            start = end + 1
            for d in holding where heads[d]!.last == end { heads[d] = cursors[d].next() }
        }
        firsts = f; lasts = l; values = v; hasTXT = txtFlags
        buildHeavy()
    }

    /// Finds the heavy nodes (walked nodes meeting more than ``heavyThreshold`` intervals) top
    /// down, level by level, and keeps each one's ``Scan``: O(h·(F + m log n)) for h heavy
    /// nodes with F children and m mixed ones, every level's heavy nodes together meeting at
    /// most n intervals.
    private mutating func buildHeavy() {
        var bases: [UInt128] = [], wilds: [Int32] = [], bits: [UInt64] = []
        var start = [Int](repeating: 0, count: labels + 1)
        var level: [(base: UInt128, lo: Int, hi: Int)] = firsts.count > heavyThreshold ? [(0, 0, firsts.count)] : []
        var next: [(base: UInt128, lo: Int, hi: Int)] = []
        for d in 0..<labels {
            start[d] = bases.count
            next.removeAll(keepingCapacity: true)
            let shift = UInt128(width - (d + 1) * step)
            let deeper = d + 1 < labels
            for n in level {
                let s = scan(depth: d, base: n.base, lo: n.lo, hi: n.hi) { c, lo, hi in
                    if deeper && hi - lo > heavyThreshold { next.append((n.base + (UInt128(c) << shift), lo, hi)) }
                }
                bases.append(n.base)
                wilds.append(s.wild)
                if family == .ipv4 { bits += [s.bits.0, s.bits.1, s.bits.2, s.bits.3] }
            }
            swap(&level, &next)
        }
        start[labels] = bases.count
        heavyBases = bases; heavyWilds = wilds; heavyBits = bits; heavyStart = start
    }

    /// Heavy nodes kept (for the view's build figures and the tests).
    var heavyCount: Int { heavyBases.count }

    /// Index of the heavy node at (`depth`, `base`) in the heavy tables (binary search).
    func heavyIndex(depth: Int, base: UInt128) -> Int? {
        guard depth < labels, !heavyStart.isEmpty else { return nil }
        var lo = heavyStart[depth], hi = heavyStart[depth + 1]
        while lo < hi {
            let m = (lo + hi) >> 1
            if heavyBases[m] < base { lo = m + 1 } else { hi = m }
        }
        return lo < heavyStart[depth + 1] && heavyBases[lo] == base ? lo : nil
    }

    var isEmpty: Bool { firsts.isEmpty }

    /// Whether `node` owns RRsets (and an NSEC) in this tree: a name with data or a marker, a
    /// wildcard, and with ``emptyNonTerminalRecords`` an empty non-terminal below the apex.
    @inline(__always)
    func isOwner(_ node: Node) -> Bool { node.isOwner || (emptyNonTerminalRecords && node.depth > 0) }

    /// Whether `node` is an empty non-terminal below the apex (it owns the HINFO RRset with
    /// ``emptyNonTerminalRecords``).
    @inline(__always)
    func isEmptyNonTerminal(_ node: Node) -> Bool { !node.isOwner && node.depth > 0 }

    /// The apex as a node of this tree.
    var root: Node { Node(depth: 0, base: 0, label: -2, state: .walked(lo: 0, hi: firsts.count)) }

    // MARK: Classifying blocks

    /// First index in `lo..<hi` whose interval ends at or after `key` (O(log n)).
    @inline(__always)
    func firstEnding(atOrAfter key: UInt128, _ lo: Int, _ hi: Int) -> Int {
        var lo = lo, hi = hi
        while lo < hi {
            let m = (lo + hi) >> 1
            if lasts[m] < key { lo = m + 1 } else { hi = m }
        }
        return lo
    }

    /// First index in `lo..<hi` whose interval starts after `key`.
    @inline(__always)
    func firstStarting(after key: UInt128, _ lo: Int, _ hi: Int) -> Int {
        var lo = lo, hi = hi
        while lo < hi {
            let m = (lo + hi) >> 1
            if firsts[m] <= key { lo = m + 1 } else { hi = m }
        }
        return lo
    }

    /// ``firstStarting(after:_:_:)`` from `from` by probes at `from`, +1, +2, +4, … then a
    /// binary search below the first probe past `key`: O(log d) for an answer d places on, and
    /// the probes stay near `from` (a walk over a large node's children touches its intervals
    /// in order instead of jumping across the whole table).
    @inline(__always)
    func firstStarting(after key: UInt128, galloping from: Int, _ hi: Int) -> Int {
        var lo = from, probe = from, step = 1
        while probe < hi && firsts[probe] <= key {
            lo = probe + 1
            probe = from + step
            step <<= 1
        }
        return firstStarting(after: key, lo, min(probe, hi))
    }

    // MARK: A node's children

    /// What a proof needs of a walked node beyond its intervals: its wildcard value (-1: no
    /// wildcard) and, IPv4, which children are names, as bits by canonical rank (bit r of word
    /// r / 64: the child `order[r]`).
    struct Scan {
        var wild: Int32 = -1
        var bits: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    }

    /// Walks the children of the walked node (`depth`, `base`, meeting intervals `lo..<hi`)
    /// in address order, from the interval bounds: `run(c, e, v)` for children c…e uniform
    /// with value v, `mixed(c, l, h)` for a mixed child c meeting intervals l..<h (one binary
    /// search each); children meeting no interval are not reported. O(r + m log n) for r runs
    /// and m mixed children.
    @inline(__always)
    func walkChildren(depth d: Int, base: UInt128, lo: Int, hi: Int,
                      _ run: (Int, Int, Int32) -> Void, _ mixed: (Int, Int, Int) -> Void) {
        let shift = UInt128(width - (d + 1) * step)
        let size = UInt128(1) << shift
        let blockBits = width - d * step
        let blockLast = blockBits >= 128 ? UInt128.max : base | ((UInt128(1) << UInt128(blockBits)) - 1)
        var i = lo, c = 0
        while i < hi && c < fan {
            let f = firsts[i]
            if f > base {
                let fc = (f - base) >> shift
                if fc >= UInt128(fan) { break }
                if Int(fc) > c { c = Int(fc) }
            }
            let cf = base + (UInt128(c) << shift)
            let cl = cf + (size - 1)
            if f <= cf && lasts[i] >= cl {
                // Children c…endc lie inside interval i: uniform with its value.
                var endc = fan - 1, next = i
                if lasts[i] < blockLast {
                    let rel = lasts[i] - base + 1
                    endc = Int(rel >> shift) - 1
                    if rel & (size - 1) == 0 { next = i + 1 }
                }
                run(c, endc, values[i])
                c = endc + 1
                i = next
            } else {
                // Child c meets an interval boundary: mixed; its intervals are i..<e.
                let e = firstStarting(after: cl, galloping: i, hi)
                mixed(c, i, e)
                i = lasts[e - 1] > cl ? e - 1 : e
                c += 1
            }
        }
    }

    /// The ``Scan`` of a walked node (`depth`, `base`, intervals `lo..<hi`), from one walk over
    /// its children (two for IPv4), calling `mixed` for each mixed child as
    /// ``walkChildren(depth:base:lo:hi:_:_:)`` does. The wildcard value is the most common
    /// uniform value among the children, "not listed" winning a tie, then the smaller value
    /// id; the apex has none. Allocates only when the children carry more than 32 distinct
    /// values, which needs more than 32 intervals: a heavy node, scanned at build.
    func scan(depth d: Int, base: UInt128, lo: Int, hi: Int, mixed: (Int, Int, Int) -> Void = { _, _, _ in }) -> Scan {
        var tv = InlineArray<32, Int32>(repeating: 0), tn = InlineArray<32, Int>(repeating: 0)
        var distinct = 0, overflow = false, touched = 0
        walkChildren(depth: d, base: base, lo: lo, hi: hi, { c, e, v in
            let n = e - c + 1
            touched += n
            var t = 0
            while t < distinct && tv[t] != v { t += 1 }
            if t < distinct {
                tn[t] += n
            } else if distinct < 32 {
                tv[distinct] = v; tn[distinct] = n; distinct += 1
            } else {
                overflow = true
            }
        }, { c, l, h in
            touched += 1
            mixed(c, l, h)
        })
        var s = Scan()
        if d > 0 {
            var best = fan - touched
            if !overflow {
                for t in 0..<distinct {
                    let v = tv[t], n = tn[t]
                    if n > best || (n == best && s.wild >= 0 && v < s.wild) { best = n; s.wild = v }
                }
            } else {
                var counts: [Int32: Int] = [:]
                walkChildren(depth: d, base: base, lo: lo, hi: hi, { c, e, v in counts[v, default: 0] += e - c + 1 }, { _, _, _ in })
                for (v, n) in counts where n > best || (n == best && s.wild >= 0 && v < s.wild) { best = n; s.wild = v }
            }
        }
        guard family == .ipv4 else { return s }
        // Names: mixed children, uniform ones of another value than the wildcard's, and with a
        // wildcard the children meeting no interval.
        var b = InlineArray<4, UInt64>(repeating: s.wild >= 0 ? .max : 0)
        let w = s.wild
        rank.withUnsafeBufferPointer { r in
            walkChildren(depth: d, base: base, lo: lo, hi: hi, { c, e, v in
                for x in c...e {
                    let k = Int(r[x])
                    if v != w { b[k >> 6] |= 1 << UInt64(k & 63) } else { b[k >> 6] &= ~(1 << UInt64(k & 63)) }
                }
            }, { c, _, _ in
                let k = Int(r[c])
                b[k >> 6] |= 1 << UInt64(k & 63)
            })
        }
        s.bits = (b[0], b[1], b[2], b[3])
        return s
    }

    /// The classifications a proof has made, kept per depth of each family (a proof walks the
    /// same paths several times: the QNAME's, its NSEC owner's, the next owner's, the
    /// wildcard's), so a node is classified once per proof. Fixed-size: classifying allocates
    /// nothing.
    struct Kids {
        /// Per depth: IPv4 depths 0…4 at slots 0…4, IPv6 depths 0…33 at slots 5…38.
        var bases = InlineArray<39, UInt128>(repeating: 0)
        var filled = InlineArray<39, Bool>(repeating: false)
        var wilds = InlineArray<39, Int32>(repeating: -1)
        /// IPv4 name children per depth (slot 0…4), 4 words each (``Scan/bits``).
        var bits = InlineArray<20, UInt64>(repeating: 0)
        /// The current node's slot.
        var slot = 0
        var wildcard: Int32 = -1
        /// 0: no children (an owner); 1: only the wildcard (a ``State/wildParent(_:)``);
        /// 2: a walked node.
        var mode: UInt8 = 0
    }

    /// Classifies `node` into `k` (or finds it classified there): its wildcard value and,
    /// IPv4, its name children, from the heavy table (one binary search) or a scan of its at
    /// most ``heavyThreshold`` intervals.
    func classify(_ node: Node, _ k: inout Kids) {
        switch node.state {
        case .leaf, .star:
            k.mode = 0; k.wildcard = -1
        case .wildParent(let v):
            k.mode = 1; k.wildcard = v
        case .walked(let lo, let hi):
            k.mode = 2
            let slot = family == .ipv4 ? node.depth : 5 + node.depth
            k.slot = slot
            if k.filled[slot] && k.bases[slot] == node.base {
                k.wildcard = k.wilds[slot]
                return
            }
            var s = Scan()
            if hi - lo > heavyThreshold, let h = heavyIndex(depth: node.depth, base: node.base) {
                s.wild = heavyWilds[h]
                if family == .ipv4 { s.bits = (heavyBits[4 * h], heavyBits[4 * h + 1], heavyBits[4 * h + 2], heavyBits[4 * h + 3]) }
            } else {
                s = scan(depth: node.depth, base: node.base, lo: lo, hi: hi)
            }
            k.wildcard = s.wild
            k.filled[slot] = true; k.bases[slot] = node.base; k.wilds[slot] = s.wild
            if family == .ipv4 {
                k.bits[4 * slot] = s.bits.0; k.bits[4 * slot + 1] = s.bits.1
                k.bits[4 * slot + 2] = s.bits.2; k.bits[4 * slot + 3] = s.bits.3
            }
        }
    }

    /// What child `c` of the walked node `node` (intervals `lo..<hi`) is: not listed (-1),
    /// mixed (-2, meeting intervals `l..<h`) or uniform with its value. O(log n).
    @inline(__always)
    func childKind(_ node: Node, _ lo: Int, _ hi: Int, _ c: Int) -> (kind: Int32, l: Int, h: Int) {
        let shift = UInt128(width - (node.depth + 1) * step)
        let cb = node.base + (UInt128(c) << shift)
        let cl = cb + ((UInt128(1) << shift) - 1)
        let l = firstEnding(atOrAfter: cb, lo, hi)
        if l == hi || firsts[l] > cl { return (-1, l, l) }
        if firsts[l] <= cb && lasts[l] >= cl { return (values[l], l, l + 1) }
        return (-2, l, firstStarting(after: cl, l, hi))
    }

    /// The child of `node` with value `c` (-1: the wildcard) when it is a name of the view;
    /// `k` is `node`'s classification.
    func child(_ node: Node, _ k: inout Kids, _ c: Int) -> Node? {
        if c < 0 {
            guard k.mode != 0, k.wildcard >= 0 else { return nil }
            return Node(depth: node.depth, base: node.base, label: -1, state: .star(k.wildcard))
        }
        guard k.mode == 2, case .walked(let lo, let hi) = node.state else { return nil }
        let (kind, l, h) = childKind(node, lo, hi, c)
        let d = node.depth
        let cb = node.base + (UInt128(c) << UInt128(width - (d + 1) * step))
        if kind == -2 { return Node(depth: d + 1, base: cb, label: Int16(c), state: .walked(lo: l, hi: h)) }
        if kind == k.wildcard { return nil }
        let s: State = kind == -1 || d + 1 == labels ? .leaf(kind) : .wildParent(kind)
        return Node(depth: d + 1, base: cb, label: Int16(c), state: s)
    }

    /// IPv6: the first child at or after child `c` (address order) of the walked `node` that
    /// is a name, i.e. not uniform with the wildcard value `w`: the first address from the
    /// child's start whose value is not `w` (one binary search; neighbouring intervals of equal
    /// value are merged, so the address after an interval of value `w` has another value).
    func nextNameChild(_ node: Node, _ w: Int32, from c: Int) -> Int? {
        guard c < fan, case .walked(let lo, let hi) = node.state else { return nil }
        let shift = UInt128(width - (node.depth + 1) * step)
        let x = node.base + (UInt128(c) << shift)
        let blockBits = width - node.depth * step
        let blockLast = blockBits >= 128 ? UInt128.max : node.base | ((UInt128(1) << UInt128(blockBits)) - 1)
        let i = firstEnding(atOrAfter: x, lo, hi)
        var y = x
        if w < 0 {
            guard i < hi else { return nil }
            y = max(x, firsts[i])
        } else if i < hi && firsts[i] <= x && values[i] == w {
            guard lasts[i] < blockLast else { return nil }
            y = lasts[i] + 1
        }
        guard y <= blockLast else { return nil }
        return Int((y - node.base) >> shift)
    }

    /// IPv6: the last child at or before child `c` of the walked `node` that is a name (see
    /// ``nextNameChild(_:_:from:)``).
    func prevNameChild(_ node: Node, _ w: Int32, atOrBefore c: Int) -> Int? {
        guard c >= 0, case .walked(let lo, let hi) = node.state else { return nil }
        let shift = UInt128(width - (node.depth + 1) * step)
        let x = node.base + (UInt128(c) << shift) + ((UInt128(1) << shift) - 1)
        let j = firstStarting(after: x, lo, hi) - 1
        var y = x
        if w < 0 {
            guard j >= lo else { return nil }
            y = min(x, lasts[j])
        } else if j >= lo && lasts[j] >= x && values[j] == w {
            guard firsts[j] > node.base else { return nil }
            y = firsts[j] - 1
        }
        guard y >= node.base else { return nil }
        return Int((y - node.base) >> shift)
    }

    /// The first canonical position at or after `p` (0 the wildcard, then the children in
    /// ``order``) holding a name; `k` is `node`'s classification.
    func nextName(_ node: Node, _ k: inout Kids, from p: Int) -> Int? {
        if k.mode == 0 { return nil }
        if p <= 0 && k.wildcard >= 0 { return 0 }
        guard k.mode == 2 else { return nil }
        let r = max(p, 1) - 1
        guard r < fan else { return nil }
        if family == .ipv6 { return nextNameChild(node, k.wildcard, from: r).map { $0 + 1 } }
        // The lowest set bit at rank r or above.
        var word = r >> 6
        var m = k.bits[4 * k.slot + word] & (UInt64.max << UInt64(r & 63))
        while true {
            if m != 0 { return word * 64 + m.trailingZeroBitCount + 1 }
            word += 1
            if word == 4 { return nil }
            m = k.bits[4 * k.slot + word]
        }
    }

    /// The last canonical position at or before `p` holding a name.
    func prevName(_ node: Node, _ k: inout Kids, atOrBefore p: Int) -> Int? {
        if k.mode == 0 || p < 0 { return nil }
        if k.mode == 2 && p >= 1 {
            let r = min(p, fan) - 1
            if family == .ipv6 {
                if let c = prevNameChild(node, k.wildcard, atOrBefore: r) { return c + 1 }
            } else {
                // The highest set bit at rank r or below.
                var word = r >> 6
                var m = k.bits[4 * k.slot + word] & (UInt64.max >> UInt64(63 - (r & 63)))
                while true {
                    if m != 0 { return word * 64 + 63 - m.leadingZeroBitCount + 1 }
                    word -= 1
                    if word < 0 { break }
                    m = k.bits[4 * k.slot + word]
                }
            }
        }
        return k.wildcard >= 0 ? 0 : nil
    }

    /// The child value at canonical position `p` (0 the wildcard, then ``order``).
    @inline(__always)
    func value(at p: Int) -> Int { p == 0 ? -1 : Int(order[p - 1]) }

    func firstChild(_ node: Node, _ k: inout Kids) -> Node? {
        guard let p = nextName(node, &k, from: 0) else { return nil }
        return child(node, &k, value(at: p))
    }

    func lastChild(_ node: Node, _ k: inout Kids) -> Node? {
        guard let p = prevName(node, &k, atOrBefore: fan) else { return nil }
        return child(node, &k, value(at: p))
    }

    /// The first canonical position whose label sorts after label `i` of `q` (fan + 1 when
    /// none): a binary search, positions being in canonical order.
    func position(after q: inout LabelPath, _ i: Int) -> Int {
        var lo = 0, hi = fan + 1
        while lo < hi {
            let m = (lo + hi) >> 1
            if compareLabel(Int16(value(at: m)), &q, i) > 0 { hi = m } else { lo = m + 1 }
        }
        return lo
    }

    /// The last child whose label sorts before label `i` of `q`.
    func lastChild(_ node: Node, _ k: inout Kids, before q: inout LabelPath, _ i: Int) -> Node? {
        if k.mode == 0 { return nil }
        // Positions before the first one at or after the label.
        var lo = 0, hi = fan + 1
        while lo < hi {
            let m = (lo + hi) >> 1
            if compareLabel(Int16(value(at: m)), &q, i) >= 0 { hi = m } else { lo = m + 1 }
        }
        guard let p = prevName(node, &k, atOrBefore: lo - 1) else { return nil }
        return child(node, &k, value(at: p))
    }

    /// The first child whose label sorts after label `i` of `q`.
    func firstChild(_ node: Node, _ k: inout Kids, after q: inout LabelPath, _ i: Int) -> Node? {
        if k.mode == 0 { return nil }
        guard let p = nextName(node, &k, from: position(after: &q, i)) else { return nil }
        return child(node, &k, value(at: p))
    }

    /// The child whose label is label `i` of `q` (only canonical spellings name children).
    func childMatching(_ node: Node, _ k: inout Kids, _ q: inout LabelPath, _ i: Int) -> Node? {
        if k.mode == 0 { return nil }
        let s = q.start(i), n = q.length(i), first = q.bytes[s]
        if n == 1 && first == 42 { return child(node, &k, -1) }
        if family == .ipv6 {
            guard n == 1 else { return nil }
            let b = q.bytes[s]
            if b >= 48 && b <= 57 { return child(node, &k, Int(b) - 48) }
            if b >= 97 && b <= 102 { return child(node, &k, Int(b) - 87) }
            return nil
        }
        guard n >= 1, n <= 3, n == 1 || first != 48 else { return nil }
        var v = 0
        for j in s..<(s + n) {
            let b = q.bytes[j]
            guard b >= 48 && b <= 57 else { return nil }
            v = v * 10 + Int(b) - 48
        }
        return v <= 255 ? child(node, &k, v) : nil
    }

    // MARK: Labels and names

    /// The bytes of a node label (-1 `*`, else the value as a nibble or decimal octet).
    @inline(__always)
    func labelBytes(_ label: Int16) -> (UInt8, UInt8, UInt8, Int) {
        if label == -1 { return (42, 0, 0, 1) }
        if family == .ipv6 { return (label < 10 ? UInt8(48 + label) : UInt8(87 + label), 0, 0, 1) }
        if label < 10 { return (UInt8(48 + label), 0, 0, 1) }
        if label < 100 { return (UInt8(48 + label / 10), UInt8(48 + label % 10), 0, 2) }
        return (UInt8(48 + label / 100), UInt8(48 + (label / 10) % 10), UInt8(48 + label % 10), 3)
    }

    /// Canonical comparison (RFC 4034 §6.1) of a node's label with label `i` of `q`.
    func compareLabel(_ label: Int16, _ q: inout LabelPath, _ i: Int) -> Int {
        let (b0, b1, b2, n) = labelBytes(label)
        let s = q.start(i), m = q.length(i)
        var j = 0
        while j < n && j < m {
            let x = j == 0 ? b0 : j == 1 ? b1 : b2
            let y = q.bytes[s + j]
            if x != y { return Int(x) - Int(y) }
            j += 1
        }
        return n - m
    }

    /// The labels of `node` below the apex, top-down (the apex's first, the node's own last).
    func labels(of node: Node) -> LabelPath {
        var out = LabelPath()
        for k in 0..<node.depth {
            let v = Int16(truncatingIfNeeded: (node.base >> UInt128(width - (k + 1) * step)) & UInt128(fan - 1))
            let (b0, b1, b2, n) = labelBytes(v)
            out.appendShort(b0, b1, b2, n)
        }
        if node.label == -1 { out.appendShort(42, 0, 0, 1) }
        return out
    }

    // MARK: Lookups by name

    /// The nodes from the apex along a name, as far as it runs through names of this tree.
    struct Path {
        var nodes = InlineArray<34, Node>(repeating: Node(depth: 0, base: 0, label: -2, state: .leaf(-1)))
        var count = 0
        mutating func append(_ n: Node) { nodes[count] = n; count += 1 }
    }

    /// The path from the apex along `q` (labels below the apex, top-down) as far as it runs
    /// through names of this tree. `k` is scratch.
    func locate(_ q: inout LabelPath, _ k: inout Kids) -> Path {
        var p = Path()
        p.append(root)
        var idx = 0
        while idx < q.count && p.count < 34 {
            let n = p.nodes[p.count - 1]
            classify(n, &k)
            guard let c = childMatching(n, &k, &q, idx) else { break }
            p.append(c)
            idx += 1
        }
        return p
    }

    /// The last owner in canonical order within the subtree of `node`.
    func lastOwner(_ node: Node, _ k: inout Kids) -> Node {
        var n = node
        while true {
            classify(n, &k)
            guard let l = lastChild(n, &k) else { return n }
            n = l
        }
    }

    /// The first owner in canonical order within the subtree of `node`.
    func firstOwner(_ node: Node, _ k: inout Kids) -> Node {
        var n = node
        while !isOwner(n) {
            classify(n, &k)
            guard let f = firstChild(n, &k) else { return n }
            n = f
        }
        return n
    }

    /// The greatest owner of this tree at or before `q` in canonical order, the apex not
    /// counted; nil when there is none. `path` is `locate(q)`.
    func floorOwner(_ q: inout LabelPath, _ path: inout Path, _ k: inout Kids) -> Node? {
        let j = path.count - 1, kq = q.count
        let end = path.nodes[j]
        if j == kq && isOwner(end) { return end }
        var i = j
        while i >= 0 {
            if i < kq {
                let n = path.nodes[i]
                classify(n, &k)
                if let c = lastChild(n, &k, before: &q, i) { return lastOwner(c, &k) }
                if i > 0 && isOwner(n) { return n }
            }
            i -= 1
        }
        return nil
    }

    /// The smallest owner of this tree after `q` in canonical order; nil when there is none
    /// (the chain wraps to the apex). `path` is `locate(q)`.
    func higherOwner(_ q: inout LabelPath, _ path: inout Path, _ k: inout Kids) -> Node? {
        let j = path.count - 1, kq = q.count
        classify(path.nodes[j], &k)
        if j == kq {
            if let f = firstChild(path.nodes[j], &k) { return firstOwner(f, &k) }
        } else if let c = firstChild(path.nodes[j], &k, after: &q, j) {
            return firstOwner(c, &k)
        }
        var i = j - 1
        while i >= 0 {
            classify(path.nodes[i], &k)
            if let c = firstChild(path.nodes[i], &k, after: &q, i) { return firstOwner(c, &k) }
            i -= 1
        }
        return nil
    }

    /// RR types at an owner of this tree with RRSIG and NSEC, as a bit set (bit t: type t); 0
    /// at an empty non-terminal (with ``emptyNonTerminalRecords`` the zone's view gives it
    /// HINFO, RRSIG and NSEC unless the other family's tree has records there:
    /// ``StoreZoneView``).
    func typeBits(_ node: Node) -> UInt64 {
        let nsecRRSIG: UInt64 = 1 << 46 | 1 << 47
        switch node.state {
        case .leaf(-1): return 1 << 13 | nsecRRSIG
        case .leaf(let v), .star(let v): return hasTXT[Int(v)] ? 1 << 1 | 1 << 16 | nsecRRSIG : 1 << 1 | nsecRRSIG
        case .walked, .wildParent: return 0
        }
    }
}
