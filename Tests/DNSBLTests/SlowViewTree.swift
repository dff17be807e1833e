@testable import DNSBL
import PrefixStore

// The proof computation as it was before the O(log n) searches (fa263b3's ViewTree and
// StoreZoneView.wireProof, classifying every child of each node on the way), kept as a slow
// reference: SlowZoneView's proofs must equal StoreZoneView's on random stores and names,
// including stores too large for the export-sorting ReferenceView.

struct SlowViewTree {
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
    /// The classifications of the mixed nodes of the top ``memoDepth`` levels (the apex and
    /// the nodes every proof passes through), made once when the tree is built: node `i` of
    /// the level-order numbering (``memoIndex(_:)``) at `memoKinds[i * fan ..< (i + 1) * fan]`,
    /// its wildcard value at `memoWilds[i]` (-3: not a mixed node, not kept).
    private(set) var memoKinds: [Int32] = []
    private(set) var memoWilds: [Int32] = []
    /// Levels kept: IPv4 the apex and the /8 nodes (257 nodes of 256 children), IPv6 the apex
    /// down to the /12 nodes (4,369 nodes of 16 children); about 270 KiB per family.
    var memoDepth: Int { family == .ipv4 ? 2 : 4 }

    /// The old tree over `t`'s united intervals.
    init(_ t: ViewTree) {
        family = t.family; emptyNonTerminalRecords = t.emptyNonTerminalRecords
        width = t.width; step = t.step; labels = t.labels; fan = t.fan
        firsts = t.firsts; lasts = t.lasts; values = t.values; hasTXT = t.hasTXT
        order = t.family == .ipv6 ? (0..<16).map { Int16($0) } : ViewTree.octetOrder
        buildMemo()
    }

    /// The level-order number of a node of depth < ``memoDepth``: the nodes above its level,
    /// then its block's index within the level.
    @inline(__always)
    func memoIndex(depth: Int, base: UInt128) -> Int {
        var above = 0, per = 1
        for _ in 0..<depth { above += per; per *= fan }
        return above + (depth == 0 ? 0 : Int(truncatingIfNeeded: base >> UInt128(width - depth * step)))
    }

    /// Classifies the mixed nodes of the top ``memoDepth`` levels once (O(N·(F + m log n)) for
    /// those N nodes), keeping what ``classify(_:_:)`` finds for them.
    private mutating func buildMemo() {
        var nodes = 0, per = 1
        for _ in 0..<memoDepth { nodes += per; per *= fan }
        var kinds = [Int32](repeating: -1, count: nodes * fan)
        var wilds = [Int32](repeating: -3, count: nodes)
        var k = Kids()
        var level = [root]
        for _ in 0..<memoDepth {
            var next: [Node] = []
            for n in level {
                classify(n, &k)
                let i = memoIndex(depth: n.depth, base: n.base)
                for c in 0..<fan {
                    kinds[i * fan + c] = k.kinds[k.offset + c]
                    if k.kinds[k.offset + c] == -2, let ch = child(n, &k, c) { next.append(ch) }
                }
                wilds[i] = k.wildcard
            }
            level = next
        }
        memoKinds = kinds; memoWilds = wilds
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

    // MARK: A node's children

    /// What the children of one node are, from one pass over the node's intervals
    /// (``classify(_:_:)``): per child value (0…15, 0…255) not listed (-1), mixed (-2) or the
    /// uniform combined value, and the node's wildcard value (-1: no wildcard). Fixed-size, so
    /// classifying allocates nothing. It keeps the last classification made at each depth of
    /// each family (a proof walks the same paths several times: the QNAME's, its NSEC owner's,
    /// the next owner's, the wildcard's), so a node is classified once per proof.
    struct Kids {
        /// Per depth: IPv4 depths 0…4 at `d * 256`, IPv6 depths 0…33 at `1280 + d * 16`.
        var kinds = InlineArray<1824, Int32>(repeating: -1)
        var bases = InlineArray<39, UInt128>(repeating: 0)
        var filled = InlineArray<39, Bool>(repeating: false)
        var wilds = InlineArray<39, Int32>(repeating: -1)
        /// Where the current node's kinds start in `kinds`.
        var offset = 0
        var wildcard: Int32 = -1
        /// 0: no children (an owner); 1: only the wildcard (a ``State/wildParent(_:)``);
        /// 2: a walked node (its kinds at `offset`).
        var mode: UInt8 = 0
    }

    /// Classifies the children of `node` into `k` (or finds it classified there): one binary
    /// search per mixed child, the runs of uniform and unlisted children taken from the
    /// interval bounds (O(fan + m log n) for m mixed children).
    func classify(_ node: Node, _ k: inout Kids) {
        switch node.state {
        case .leaf, .star:
            k.mode = 0; k.wildcard = -1
        case .wildParent(let v):
            k.mode = 1; k.wildcard = v
        case .walked(let lo, let hi):
            k.mode = 2
            let slot = family == .ipv4 ? node.depth : 5 + node.depth
            let off = family == .ipv4 ? node.depth * 256 : 1280 + node.depth * 16
            k.offset = off
            if k.filled[slot] && k.bases[slot] == node.base {
                k.wildcard = k.wilds[slot]
                return
            }
            if node.depth < memoDepth && !memoWilds.isEmpty {
                let i = memoIndex(depth: node.depth, base: node.base)
                let w = memoWilds[i]
                if w != -3 {
                    memoKinds.withUnsafeBufferPointer { m in
                        for c in 0..<fan { k.kinds[off + c] = m[i * fan + c] }
                    }
                    k.wildcard = w
                    k.filled[slot] = true; k.bases[slot] = node.base; k.wilds[slot] = w
                    return
                }
            }
            for c in 0..<fan { k.kinds[off + c] = -1 }
            k.filled[slot] = false
            let d = node.depth
            let shift = UInt128(width - (d + 1) * step)
            let size = UInt128(1) << shift
            let blockBits = width - d * step
            let blockLast = blockBits >= 128 ? UInt128.max : node.base | ((UInt128(1) << UInt128(blockBits)) - 1)
            // Uniform values and how many children carry each (the first 16 distinct ones).
            var tv = InlineArray<16, Int32>(repeating: 0), tn = InlineArray<16, Int>(repeating: 0)
            var distinct = 0, overflow = false, listed = 0, mixed = 0
            var i = lo, c = 0
            while i < hi && c < fan {
                let f = firsts[i]
                if f > node.base {
                    let fc = (f - node.base) >> shift
                    if fc >= UInt128(fan) { break }
                    if Int(fc) > c { c = Int(fc) }
                }
                let cf = node.base + (UInt128(c) << shift)
                let cl = cf + (size - 1)
                if f <= cf && lasts[i] >= cl {
                    // Children c…endc lie inside interval i: uniform with its value.
                    let v = values[i]
                    var endc = fan - 1, next = i
                    if lasts[i] < blockLast {
                        let rel = lasts[i] - node.base + 1
                        endc = Int(rel >> shift) - 1
                        if rel & (size - 1) == 0 { next = i + 1 }
                    }
                    for cc in c...endc { k.kinds[off + cc] = v }
                    let n = endc - c + 1
                    listed += n
                    var found = false
                    for t in 0..<distinct where tv[t] == v { tn[t] += n; found = true; break }
                    if !found {
                        if distinct < 16 { tv[distinct] = v; tn[distinct] = n; distinct += 1 } else { overflow = true }
                    }
                    c = endc + 1
                    i = next
                } else {
                    // Child c meets an interval boundary: mixed.
                    k.kinds[off + c] = -2
                    mixed += 1
                    let e = firstStarting(after: cl, i, hi)
                    i = lasts[e - 1] > cl ? e - 1 : e
                    c += 1
                }
            }
            // The wildcard: the most common uniform value; "not listed" wins ties, then the
            // smaller id. The apex has none.
            k.wildcard = -1
            defer { k.filled[slot] = true; k.bases[slot] = node.base; k.wilds[slot] = k.wildcard }
            guard d > 0 else { return }
            var best = fan - listed - mixed
            if !overflow {
                for t in 0..<distinct {
                    let v = tv[t], n = tn[t]
                    if n > best || (n == best && k.wildcard >= 0 && v < k.wildcard) { best = n; k.wildcard = v }
                }
            } else {
                for c in 0..<fan {
                    let v = k.kinds[off + c]
                    guard v >= 0 else { continue }
                    var seen = false
                    for e in 0..<c where k.kinds[off + e] == v { seen = true; break }
                    if seen { continue }
                    var n = 0
                    for e in c..<fan where k.kinds[off + e] == v { n += 1 }
                    if n > best || (n == best && k.wildcard >= 0 && v < k.wildcard) { best = n; k.wildcard = v }
                }
            }
        }
    }

    /// The child of `node` with value `c` (-1: the wildcard) when it is a name of the view;
    /// `k` is `node`'s classification.
    func child(_ node: Node, _ k: inout Kids, _ c: Int) -> Node? {
        if c < 0 {
            guard k.mode != 0, k.wildcard >= 0 else { return nil }
            return Node(depth: node.depth, base: node.base, label: -1, state: .star(k.wildcard))
        }
        guard k.mode == 2, case .walked(let lo, let hi) = node.state else { return nil }
        let kind = k.kinds[k.offset + c]
        let d = node.depth
        let shift = UInt128(width - (d + 1) * step)
        let cb = node.base + (UInt128(c) << shift)
        if kind == -2 {
            let l = firstEnding(atOrAfter: cb, lo, hi)
            let h = firstStarting(after: cb + ((UInt128(1) << shift) - 1), l, hi)
            return Node(depth: d + 1, base: cb, label: Int16(c), state: .walked(lo: l, hi: h))
        }
        if kind == k.wildcard { return nil }
        let s: State = kind == -1 || d + 1 == labels ? .leaf(kind) : .wildParent(kind)
        return Node(depth: d + 1, base: cb, label: Int16(c), state: s)
    }

    /// Whether the child with value `c` (-1: the wildcard) is a name of the view.
    @inline(__always)
    func isName(_ k: inout Kids, _ c: Int) -> Bool {
        if c < 0 { return k.mode != 0 && k.wildcard >= 0 }
        guard k.mode == 2 else { return false }
        let kind = k.kinds[k.offset + c]
        return kind == -2 || kind != k.wildcard
    }

    /// The child value at canonical position `p` (0 the wildcard, then ``order``).
    @inline(__always)
    func value(at p: Int) -> Int { p == 0 ? -1 : Int(order[p - 1]) }

    func firstChild(_ node: Node, _ k: inout Kids) -> Node? {
        if k.mode == 0 { return nil }
        for p in 0...fan where isName(&k, value(at: p)) { return child(node, &k, value(at: p)) }
        return nil
    }

    func lastChild(_ node: Node, _ k: inout Kids) -> Node? {
        if k.mode == 0 { return nil }
        var p = fan
        while p >= 0 {
            if isName(&k, value(at: p)) { return child(node, &k, value(at: p)) }
            p -= 1
        }
        return nil
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
        var p = lo - 1
        while p >= 0 {
            if isName(&k, value(at: p)) { return child(node, &k, value(at: p)) }
            p -= 1
        }
        return nil
    }

    /// The first child whose label sorts after label `i` of `q`.
    func firstChild(_ node: Node, _ k: inout Kids, after q: inout LabelPath, _ i: Int) -> Node? {
        if k.mode == 0 { return nil }
        var p = position(after: &q, i)
        while p <= fan {
            if isName(&k, value(at: p)) { return child(node, &k, value(at: p)) }
            p += 1
        }
        return nil
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

/// StoreZoneView's proof as computed before (the slow reference).
struct SlowZoneView {
    let apex: [UInt8]
    let trees: [SlowViewTree]
    let apexTypeBits: UInt64

    init(_ v: StoreZoneView) {
        apex = v.apex; trees = v.trees.map { SlowViewTree($0) }; apexTypeBits = v.apexTypeBits
    }

    func prove(_ qname: [UInt8]) -> ViewProof {
        let p = wireProof(NameBuffer(qname))
        let name = NameBuffer(qname)
        let ce: [UInt8]
        if p.exists {
            ce = qname
        } else {
            let at = name.offset(droppingLabels: name.labelCount - labelCount(apex) - p.closestEncloserLabels)
            ce = Array(qname[min(at, qname.count)...])
        }
        return ViewProof(exists: p.exists, nsec: p.nsec.viewNSEC, closestEncloser: p.exists ? qname : ce,
                         wildcard: p.hasWildcard ? p.wildcard.viewNSEC : nil, wildcardExists: p.wildcardExists)
    }

    /// ``prove(_:)`` in fixed buffers: allocates nothing.
    func wireProof(_ qname: NameBuffer) -> WireProof {
        var q = LabelPath(qname, apex: apex) ?? LabelPath()
        var k = SlowViewTree.Kids()
        var out = WireProof()
        // At most two trees (IPv6, IPv4): their paths along the QNAME.
        var l0 = trees.count > 0 ? trees[0].locate(&q, &k) : SlowViewTree.Path()
        var l1 = trees.count > 1 ? trees[1].locate(&q, &k) : SlowViewTree.Path()
        var exists = q.count == 0
        var owner = q.count == 0
        var encloser = 0
        for t in trees.indices {
            let j = (t == 0 ? l0.count : l1.count) - 1
            encloser = max(encloser, j)
            if j == q.count {
                exists = true
                if trees[t].isOwner(t == 0 ? l0.nodes[j] : l1.nodes[j]) { owner = true }
            }
        }
        var o = owner ? q : floorOwner(&q, &l0, &l1, &k)
        out.nsec = nsec(&o, &k)
        out.exists = exists
        if exists {
            out.closestEncloserLabels = q.count
            return out
        }
        out.closestEncloserLabels = encloser
        var w = q.prefix(encloser)
        w.appendShort(42, 0, 0, 1)
        l0 = trees.count > 0 ? trees[0].locate(&w, &k) : SlowViewTree.Path()
        l1 = trees.count > 1 ? trees[1].locate(&w, &k) : SlowViewTree.Path()
        var wExists = false
        if trees.count > 0 && l0.count - 1 == w.count && l0.nodes[w.count].isOwner { wExists = true }
        if trees.count > 1 && l1.count - 1 == w.count && l1.nodes[w.count].isOwner { wExists = true }
        out.hasWildcard = true
        out.wildcardExists = wExists
        var wo = wExists ? w : floorOwner(&w, &l0, &l1, &k)
        out.wildcard = nsec(&wo, &k)
        return out
    }

    // MARK: The chain

    /// The greatest owner at or before `q` over all trees (the apex when none); `l0`, `l1`
    /// are the trees' paths along `q`.
    func floorOwner(_ q: inout LabelPath, _ l0: inout SlowViewTree.Path, _ l1: inout SlowViewTree.Path,
                    _ k: inout SlowViewTree.Kids) -> LabelPath {
        var best = LabelPath()
        if trees.count > 0, let n = trees[0].floorOwner(&q, &l0, &k) {
            var l = trees[0].labels(of: n)
            if LabelPath.compare(&l, &best) > 0 { best = l }
        }
        if trees.count > 1, let n = trees[1].floorOwner(&q, &l1, &k) {
            var l = trees[1].labels(of: n)
            if LabelPath.compare(&l, &best) > 0 { best = l }
        }
        return best
    }

    /// The NSEC owned by `owner` (labels below the apex, an owner of the view).
    func nsec(_ owner: inout LabelPath, _ k: inout SlowViewTree.Kids) -> WireNSEC {
        var types: UInt64 = owner.count == 0 ? apexTypeBits : 0
        var next = LabelPath()
        var haveNext = false
        var emptyNode = false
        for t in trees.indices {
            let tree = trees[t]
            var l = tree.locate(&owner, &k)
            if owner.count > 0 && l.count - 1 == owner.count {
                let n = l.nodes[l.count - 1]
                types |= tree.typeBits(n)
                if tree.isEmptyNonTerminal(n) { emptyNode = true }
            }
            if let n = tree.higherOwner(&owner, &l, &k) {
                var nl = tree.labels(of: n)
                if !haveNext || LabelPath.compare(&nl, &next) < 0 { next = nl; haveNext = true }
            }
        }
        // An empty non-terminal of every tree holding the name: its HINFO (--dnssec-ent-rrset).
        if types == 0 && emptyNode && trees.first?.emptyNonTerminalRecords == true {
            types = 1 << UInt64(SignedViewRecords.typeHINFO) | 1 << 46 | 1 << 47
        }
        return WireNSEC(owner: owner.name(apex: apex), next: next.name(apex: apex), types: types)
    }

}
