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
    /// Address width, bits per label, labels of a full name, children per node.
    let width: Int, step: Int, labels: Int, fan: Int
    /// The united intervals: sorted, disjoint, neighbours with equal values merged.
    let firsts: [UInt128], lasts: [UInt128], values: [Int32]
    /// Per combined value: whether it has a TXT record.
    let hasTXT: [Bool]
    /// Child values in canonical label order (0…15, or the 256 octets as decimal strings).
    let order: [Int16]

    /// One dataset's ranges as placed in this tree (its own, or IPv4 images in the IPv6 tree).
    struct Source {
        var ranges: [(first: UInt128, last: UInt128, value: Int32)]
        var values: [StoreValue]
        var ttl: UInt32
        var fromV4: Bool

        init(_ d: StoreDataset, clippingMapped: Bool = false) {
            values = d.values; ttl = d.ttl; fromV4 = d.family == .ipv4
            let all = d.table.ranges()
            guard clippingMapped else { ranges = all; return }
            ranges = []
            ranges.reserveCapacity(all.count)
            for r in all {
                if r.last < viewMappedFirst || r.first > viewMappedLast { ranges.append(r); continue }
                if r.first < viewMappedFirst { ranges.append((r.first, viewMappedFirst - 1, r.value)) }
                if r.last > viewMappedLast { ranges.append((viewMappedLast + 1, r.last, r.value)) }
            }
        }

        init(mapped d: StoreDataset) {
            values = d.values; ttl = d.ttl; fromV4 = true
            ranges = d.table.ranges().map { (viewMappedFirst | $0.first, viewMappedFirst | $0.last, $0.value) }
        }

        init(sixToFour d: StoreDataset) {
            values = d.values; ttl = d.ttl; fromV4 = true
            let low: UInt128 = (1 << 80) - 1
            ranges = d.table.ranges().map {
                (viewSixToFourFirst | ($0.first << 80), viewSixToFourFirst | ($0.last << 80) | low, $0.value)
            }
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
    init(family: AddressFamily, sources: [Source]) {
        self.family = family
        width = family.bits
        step = family == .ipv6 ? 4 : 8
        labels = width / step
        fan = 1 << step
        order = family == .ipv6 ? (0..<16).map { Int16($0) } : ViewTree.octetOrder
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
        let tables = sources.map(\.ranges)
        if tables.count == 1 {
            var cache: [Int32: Int32] = [:]
            for r in tables[0] {
                let n = cache[r.value] ?? { let n = id([(0, r.value)]); cache[r.value] = n; return n }()
                add(r.first, r.last, n)
            }
        } else if tables.count > 1 {
            var bounds: [UInt128] = []
            var ends = false
            for t in tables {
                for r in t {
                    bounds.append(r.first)
                    if r.last != .max { bounds.append(r.last + 1) } else { ends = true }
                }
            }
            bounds.sort()
            var unique: [UInt128] = []
            for b in bounds where unique.last != b { unique.append(b) }
            var pos = [Int](repeating: 0, count: tables.count)
            for (k, start) in unique.enumerated() {
                let end: UInt128 = k + 1 < unique.count ? unique[k + 1] - 1 : (ends ? .max : start)
                if k + 1 == unique.count && !ends { break }
                var parts: [(Int, Int32)] = []
                for (d, t) in tables.enumerated() {
                    while pos[d] < t.count && t[pos[d]].last < start { pos[d] += 1 }
                    if pos[d] < t.count && t[pos[d]].first <= start { parts.append((d, t[pos[d]].value)) }
                }
                if !parts.isEmpty { add(start, end, id(parts)) }
            }
        }
        firsts = f; lasts = l; values = v; hasTXT = txtFlags
    }

    var isEmpty: Bool { firsts.isEmpty }

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

    /// ``children(_:)`` through `memo` (one proof visits the same nodes several times).
    func children(_ node: Node, _ memo: ChildMemo?) -> [Node] {
        guard let memo else { return children(node) }
        let key = ChildMemo.Key(depth: node.depth, base: node.base, label: node.label)
        if let l = memo.lists[key] { return l }
        let l = children(node)
        memo.lists[key] = l
        return l
    }

    /// The children of `node` that are names of the view, in canonical order (`*` first).
    func children(_ node: Node) -> [Node] {
        switch node.state {
        case .leaf, .star:
            return []
        case .wildParent(let v):
            return [Node(depth: node.depth, base: node.base, label: -1, state: .star(v))]
        case .walked(let lo, let hi):
            let d = node.depth
            let shift = width - (d + 1) * step
            let size = UInt128(1) << UInt128(shift)
            // kind: -1 not listed, >= 0 uniform value, -2 mixed (intervals in spans[c])
            var kinds = [Int32](repeating: -1, count: fan)
            var spans = [(Int, Int)](repeating: (0, 0), count: fan)
            var i = lo
            for c in 0..<fan {
                let cf = node.base + (UInt128(c) << UInt128(shift))
                let cl = cf + (size - 1)
                i = firstEnding(atOrAfter: cf, i, hi)
                if i == hi { break }
                if firsts[i] > cl { continue }
                if firsts[i] <= cf && lasts[i] >= cl { kinds[c] = values[i]; continue }
                kinds[c] = -2
                spans[c] = (i, firstStarting(after: cl, i, hi))
            }
            var wildcard: Int32 = -1
            if d > 0 {
                // The most common uniform value; "not listed" wins ties, then the smaller id.
                let sorted = kinds.filter { $0 != -2 }.sorted()
                var best = 0
                var k = 0
                while k < sorted.count {
                    var e = k
                    while e < sorted.count && sorted[e] == sorted[k] { e += 1 }
                    if sorted[k] == -1 { best = e - k } else if e - k > best { best = e - k; wildcard = sorted[k] }
                    k = e
                }
            }
            var out: [Node] = []
            if wildcard >= 0 { out.append(Node(depth: d, base: node.base, label: -1, state: .star(wildcard))) }
            for c16 in order {
                let c = Int(c16)
                let k = kinds[c]
                let cb = node.base + (UInt128(c) << UInt128(shift))
                if k == -2 {
                    out.append(Node(depth: d + 1, base: cb, label: c16, state: .walked(lo: spans[c].0, hi: spans[c].1)))
                } else if k != wildcard {
                    let s: State = k == -1 || d + 1 == labels ? .leaf(k) : .wildParent(k)
                    out.append(Node(depth: d + 1, base: cb, label: c16, state: s))
                }
            }
            return out
        }
    }

    // MARK: Labels and names

    /// Canonical comparison (RFC 4034 §6.1) of a node's label with label bytes `m`.
    func compareLabel(_ label: Int16, _ m: ArraySlice<UInt8>) -> Int {
        var b: (UInt8, UInt8, UInt8) = (0, 0, 0)
        let n: Int
        if label == -1 {
            b.0 = 42; n = 1
        } else if family == .ipv6 {
            b.0 = label < 10 ? UInt8(48 + label) : UInt8(87 + label); n = 1
        } else if label < 10 {
            b.0 = UInt8(48 + label); n = 1
        } else if label < 100 {
            b.0 = UInt8(48 + label / 10); b.1 = UInt8(48 + label % 10); n = 2
        } else {
            b.0 = UInt8(48 + label / 100); b.1 = UInt8(48 + (label / 10) % 10); b.2 = UInt8(48 + label % 10); n = 3
        }
        var i = 0
        var j = m.startIndex
        while i < n && j < m.endIndex {
            let x = i == 0 ? b.0 : i == 1 ? b.1 : b.2
            if x != m[j] { return Int(x) - Int(m[j]) }
            i += 1; j += 1
        }
        return n - m.count
    }

    /// The labels of `node` below the apex, top-down (the apex's first, the node's own last).
    func relativeLabels(_ node: Node) -> [[UInt8]] {
        var out: [[UInt8]] = []
        out.reserveCapacity(node.depth + 1)
        for k in 0..<node.depth {
            let v = Int((node.base >> UInt128(width - (k + 1) * step)) & UInt128(fan - 1))
            if family == .ipv6 {
                out.append([v < 10 ? UInt8(48 + v) : UInt8(87 + v)])
            } else {
                out.append(Array(String(v).utf8))
            }
        }
        if node.label == -1 { out.append([42]) }
        return out
    }

    // MARK: Lookups by name

    /// The path from the apex along `q` (labels below the apex, top-down) as far as it runs
    /// through names of this tree, with each path node's children.
    func locate(_ q: [[UInt8]], memo: ChildMemo? = nil) -> (path: [Node], kids: [[Node]]) {
        var path = [root]
        var kids = [children(root, memo)]
        var idx = 0
        while idx < q.count {
            guard let c = kids[idx].first(where: { compareLabel($0.label, q[idx][...]) == 0 }) else { break }
            path.append(c)
            kids.append(children(c, memo))
            idx += 1
        }
        return (path, kids)
    }

    /// The last owner in canonical order within the subtree of `node`.
    func lastOwner(_ node: Node, memo: ChildMemo? = nil) -> Node {
        var n = node
        while true {
            let ks = children(n, memo)
            guard let l = ks.last else { return n }
            n = l
        }
    }

    /// The first owner in canonical order within the subtree of `node`.
    func firstOwner(_ node: Node, memo: ChildMemo? = nil) -> Node {
        var n = node
        while !n.isOwner {
            guard let f = children(n, memo).first else { return n }
            n = f
        }
        return n
    }

    /// The greatest owner of this tree at or before `q` in canonical order, the apex not
    /// counted; nil when there is none.
    func floorOwner(_ q: [[UInt8]], located: (path: [Node], kids: [[Node]])? = nil, memo: ChildMemo? = nil) -> Node? {
        let (path, kids) = located ?? locate(q, memo: memo)
        let j = path.count - 1, k = q.count
        if j == k && path[j].isOwner { return path[j] }
        var i = j
        while i >= 0 {
            if i < k {
                let m = q[i][...]
                if let c = kids[i].last(where: { compareLabel($0.label, m) < 0 }) { return lastOwner(c, memo: memo) }
                if i > 0 && path[i].isOwner { return path[i] }
            }
            i -= 1
        }
        return nil
    }

    /// The smallest owner of this tree after `q` in canonical order; nil when there is none
    /// (the chain wraps to the apex).
    func higherOwner(_ q: [[UInt8]], located: (path: [Node], kids: [[Node]])? = nil, memo: ChildMemo? = nil) -> Node? {
        let (path, kids) = located ?? locate(q, memo: memo)
        let j = path.count - 1, k = q.count
        if j == k {
            if let f = kids[j].first { return firstOwner(f, memo: memo) }
        } else if let c = kids[j].first(where: { compareLabel($0.label, q[j][...]) > 0 }) {
            return firstOwner(c, memo: memo)
        }
        var i = j - 1
        while i >= 0 {
            if let c = kids[i].first(where: { compareLabel($0.label, q[i][...]) > 0 }) { return firstOwner(c, memo: memo) }
            i -= 1
        }
        return nil
    }

    /// RR types at an owner of this tree, ascending, with RRSIG and NSEC.
    func types(_ node: Node) -> [UInt16] {
        switch node.state {
        case .leaf(-1): return [13, 46, 47]
        case .leaf(let v), .star(let v): return hasTXT[Int(v)] ? [1, 16, 46, 47] : [1, 46, 47]
        case .walked, .wildParent: return []
        }
    }
}

/// Children lists computed during one proof, by node (a proof descends the same path for the
/// QNAME, its NSEC owner, the next owner and the wildcard).
final class ChildMemo {
    struct Key: Hashable { var depth: Int; var base: UInt128; var label: Int16 }
    var lists: [Key: [ViewTree.Node]] = [:]
}
