import PrefixStore
import ZoneSource

/// The IPv4-mapped block ::ffff:0:0/96 (RFC 4291 §2.5.5.2).
let mappedFirst: UInt128 = 0xffff << 32
let mappedLast: UInt128 = mappedFirst | 0xffff_ffff
/// The 6to4 block 2002::/16 (RFC 3056 §2): the IPv4 address sits in bits 16–47, so each
/// IPv4 address owns a /48.
let sixToFourFirst: UInt128 = 0x2002 << 112

/// The label-tree walk of one address family of one serving zone (see ``Exporter``).
struct TreeWalker {
    /// A maximal run of addresses with one combined value.
    struct Interval { var first: UInt128; var last: UInt128; var value: Int32 }
    /// What one or more datasets answer for an address: A addresses, TXT templates (with
    /// whether `$` renders an IPv4 address), TTL.
    struct Combined: Hashable { var a: [UInt32]; var txt: [[UInt8]]; var txtV4: [Bool]; var ttl: UInt32 }

    /// One dataset's ranges as placed in this tree: its own, or the images of IPv4 ranges in
    /// the IPv6 tree. Ranges are sorted and disjoint.
    struct Source {
        var ranges: [(first: UInt128, last: UInt128, value: Int32)]
        var values: [StoreValue]
        var ttl: UInt32
        /// The ranges are IPv4 data: `$` renders an IPv4 address.
        var fromV4: Bool

        init(_ d: StoreDataset, clippingMapped: Bool = false) {
            values = d.values; ttl = d.ttl; fromV4 = d.family == .ipv4
            let all = d.table.ranges()
            guard clippingMapped else { ranges = all; return }
            // IPv6 data inside ::ffff:0:0/96 is unreachable in a zone with IPv4 data.
            ranges = []
            ranges.reserveCapacity(all.count)
            for r in all {
                if r.last < mappedFirst || r.first > mappedLast { ranges.append(r); continue }
                if r.first < mappedFirst { ranges.append((r.first, mappedFirst - 1, r.value)) }
                if r.last > mappedLast { ranges.append((mappedLast + 1, r.last, r.value)) }
            }
        }

        /// The IPv4 dataset's ranges under ::ffff:0:0/96.
        init(mapped d: StoreDataset) {
            values = d.values; ttl = d.ttl; fromV4 = true
            ranges = d.table.ranges().map { (mappedFirst | $0.first, mappedFirst | $0.last, $0.value) }
        }

        /// The IPv4 dataset's ranges under 2002::/16: address A's image is 2002:A::/48.
        init(sixToFour d: StoreDataset) {
            values = d.values; ttl = d.ttl; fromV4 = true
            let low: UInt128 = (1 << 80) - 1
            ranges = d.table.ranges().map {
                (sixToFourFirst | ($0.first << 80), sixToFourFirst | ($0.last << 80) | low, $0.value)
            }
        }
    }

    /// A node that exists in the exported zone besides the walk's own records.
    enum Forced {
        /// An ancestor of a `generic` owner, an NS name or a subzone apex (or such a name
        /// without records of its own): a wildcard above never reaches it.
        case existing
        /// A `generic` owner at a full address name: `serve` answers its records only.
        case owner
    }

    struct NodeKey: Hashable { var depth: Int; var base: UInt128 }

    let apex: [UInt8]
    let family: AddressFamily
    let width: Int
    /// Bits per label: 4 (nibble) or 8 (octet).
    let step: Int
    let labels: Int
    let options: ExportOptions
    var emit: (ExportRecord) -> Void
    let forced: [NodeKey: Forced]
    var intervals: [Interval] = []
    var values: [Combined] = []
    /// Per combined value: A RDATA, and TXT RDATA or nil where the TXT needs `$` per block.
    var fixedRData: [[(UInt16, [UInt8]?)]] = []
    var records = 0, wildcards = 0, markers = 0, dollarTexts = 0
    var topLabels: Set<String> = []
    let markerTTL: UInt32

    init(apex: [UInt8], soa: SOAData, family: AddressFamily, sources: [Source],
         forced: [NodeKey: Forced], options: ExportOptions, emit: @escaping (ExportRecord) -> Void) {
        self.apex = apex; self.family = family; self.options = options; self.emit = emit
        self.forced = forced
        width = family.bits
        step = family == .ipv6 ? 4 : 8
        labels = width / step
        markerTTL = min(soa.ttl, soa.minimum)
        unite(sources)
    }

    /// The nodes of this tree that names outside the walk make existing: every name of
    /// `owners` (`generic` owners) and `existing` (NS names, subzone apexes) below `apex`
    /// whose rightmost labels spell address labels of `family` (canonical: `7`, not `07`;
    /// one lower-case hex digit for IPv6), each such prefix of labels a node.
    static func forcedNodes(family: AddressFamily, apex: [UInt8], owners: [[UInt8]], existing: [[UInt8]])
        -> [NodeKey: Forced]
    {
        let step = family == .ipv6 ? 4 : 8
        let labels = family.bits / step
        var out: [NodeKey: Forced] = [:]
        func add(_ name: [UInt8], owner: Bool) {
            guard name.count > apex.count, Array(name[(name.count - apex.count)...]) == apex else { return }
            // Labels left of the apex, left to right.
            var parts: [ArraySlice<UInt8>] = []
            var p = 0
            while p < name.count - apex.count {
                let n = Int(name[p])
                parts.append(name[(p + 1)..<(p + 1 + n)])
                p += 1 + n
            }
            guard p == name.count - apex.count else { return }  // apex is not a label suffix
            var base: UInt128 = 0
            var depth = 0
            for label in parts.reversed() {
                guard depth < labels, let v = addressLabel(label, family: family) else { break }
                base |= UInt128(v) << UInt128(family.bits - (depth + 1) * step)
                depth += 1
                let whole = depth == parts.count
                let kind: Forced = owner && whole && depth == labels ? .owner : .existing
                let key = NodeKey(depth: depth, base: base)
                if out[key] != .owner { out[key] = kind }
            }
        }
        for o in owners { add(o, owner: true) }
        for e in existing { add(e, owner: false) }
        return out
    }

    /// The value of a label as written by the export (`0`–`255`, `0`–`f`), nil otherwise.
    static func addressLabel(_ l: ArraySlice<UInt8>, family: AddressFamily) -> Int? {
        if family == .ipv6 {
            guard l.count == 1 else { return nil }
            let c = l[l.startIndex]
            if c >= 48 && c <= 57 { return Int(c) - 48 }
            if c >= 97 && c <= 102 { return Int(c) - 87 }
            return nil
        }
        guard !l.isEmpty, l.count <= 3, l.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        if l.count > 1 && l[l.startIndex] == 48 { return nil }
        let v = l.reduce(0) { $0 * 10 + Int($1) - 48 }
        return v <= 255 ? v : nil
    }

    /// Unites the sources' ranges into disjoint intervals of combined values, merging
    /// neighbours with equal values (a uniform child must be one interval).
    mutating func unite(_ sources: [Source]) {
        let tables = sources.map(\.ranges)
        var ids: [Combined: Int32] = [:]
        func id(_ parts: [(Int, Int32)]) -> Int32 {
            var a: [UInt32] = [], t: [[UInt8]] = [], tv4: [Bool] = [], ttl = UInt32.max
            for (d, v) in parts {
                for sv in StoreValue.run(sources[d].values, at: Int(v)) {
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
            let i = Int32(values.count)
            values.append(c); ids[c] = i
            return i
        }
        func add(_ first: UInt128, _ last: UInt128, _ v: Int32) {
            if let l = intervals.last, l.value == v, l.last != .max, l.last + 1 == first {
                intervals[intervals.count - 1].last = last
            } else {
                intervals.append(Interval(first: first, last: last, value: v))
            }
        }
        if tables.count == 1 {
            var cache: [Int32: Int32] = [:]
            for r in tables[0] {
                let v = cache[r.value] ?? { let n = id([(0, r.value)]); cache[r.value] = n; return n }()
                add(r.first, r.last, v)
            }
        } else {
            // Sweep over every boundary; each table is disjoint, so at most one range per table
            // is active at a time.
            var bounds: [UInt128] = []
            var ends = false  // some range ends at the top of the address space
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
        fixedRData = values.map { c in
            var out: [(UInt16, [UInt8]?)] = c.a.map { a in
                var r: [UInt8] = []; appendU32(&r, a); return (ExportType.a, r)
            }
            for t in c.txt {
                if !hasDollar(t) {
                    out.append((ExportType.txt, txtRData(expandDollar(t, []))))
                } else if case .fixed(let f) = options.dollar {
                    out.append((ExportType.txt, txtRData(expandDollar(t, f))))
                } else {
                    out.append((ExportType.txt, nil))
                }
            }
            return out
        }
    }

    mutating func run() {
        if intervals.isEmpty { return }
        walk(base: 0, depth: 0, lo: 0, hi: intervals.count)
    }

    /// One node of the walk: its children classified, and (stepping) the next child to visit.
    struct Frame {
        var base: UInt128
        var depth: Int
        /// Per child: -1 not listed, >= 0 uniform value, -2 mixed (range in `mixedRange`).
        var kind: [Int32]
        var mixedRange: [(Int, Int)]
        var wildcard: Int32
        /// Stepping: the position in ``childOrder`` of the next child.
        var next = 0
    }

    /// Walks the node at `depth` labels whose block starts at `base`; `intervals[lo..<hi]` are
    /// those intersecting the block. Children in numeric label order (the export's order).
    mutating func walk(base: UInt128, depth: Int, lo: Int, hi: Int) {
        let f = enter(base: base, depth: depth, lo: lo, hi: hi)
        for c in 0..<(1 << step) {
            if let (cb, l, h) = visit(f, c) { walk(base: cb, depth: depth + 1, lo: l, hi: h) }
        }
    }

    /// The children of a node in canonical DNS order of their labels (RFC 4034 §6.1): for
    /// nibbles `0`…`9`, `a`…`f` (numeric order); for octets the decimal labels as byte strings
    /// (`0`, `1`, `10`, `100`, …, `109`, `11`, `110`, …, `2`, …).
    var childOrder: [Int] {
        family == .ipv6 ? Array(0..<16) : (0..<256).sorted { String($0).utf8.lexicographicallyPrecedes(String($1).utf8) }
    }

    /// Stepping walk (``stepWalk()``): the frames from the root to the node being visited.
    var stack: [Frame] = []
    var order: [Int] = []

    /// Starts a stepping walk whose owners come in canonical DNS order: each node's wildcard,
    /// then its children in ``childOrder`` (a preorder walk of the label tree); it
    /// visits one child at a time (``stepWalk()``), emitting its records.
    mutating func startStepping() {
        order = childOrder
        stack = []
        if !intervals.isEmpty { stack.append(enter(base: 0, depth: 0, lo: 0, hi: intervals.count)) }
    }

    /// Visits the next child of the stepping walk (emitting what it owns, or entering it);
    /// false when the walk is over.
    mutating func stepWalk() -> Bool {
        while let top = stack.last {
            if top.next == order.count { stack.removeLast(); continue }
            let c = order[top.next]
            stack[stack.count - 1].next += 1
            if let (cb, l, h) = visit(top, c) {
                stack.append(enter(base: cb, depth: top.depth + 1, lo: l, hi: h))
            }
            return true
        }
        return false
    }

    /// Classifies a node's children and emits its wildcard.
    mutating func enter(base: UInt128, depth: Int, lo: Int, hi: Int) -> Frame {
        let shift = width - (depth + 1) * step
        let size = UInt128(1) << UInt128(shift)
        let fan = 1 << step
        // kind: -1 not listed, >= 0 uniform value, -2 mixed (range in mixedRange)
        var kind = [Int32](repeating: -1, count: fan)
        var mixedRange: [(Int, Int)] = Array(repeating: (0, 0), count: fan)
        var i = lo
        for c in 0..<fan {
            let cf = base + (UInt128(c) << UInt128(shift))
            let cl = cf + (size - 1)
            while i < hi && intervals[i].last < cf { i += 1 }
            if i == hi { break }
            if intervals[i].first > cl { continue }
            if intervals[i].first <= cf && intervals[i].last >= cl {
                kind[c] = intervals[i].value
                mixedRange[c] = (i, i + 1)
                continue
            }
            var j = i
            while j < hi && intervals[j].first <= cl { j += 1 }
            kind[c] = -2
            mixedRange[c] = (i, j)
        }
        // The node's wildcard value: the most common uniform value; "not listed" wins ties.
        var wildcard: Int32 = -1
        if depth > 0 {
            var counts: [Int32: Int] = [:]
            for k in kind where k != -2 { counts[k, default: 0] += 1 }
            var best = counts[-1] ?? 0
            for v in counts.keys.sorted() where v >= 0 && counts[v]! > best {
                best = counts[v]!; wildcard = v
            }
            if wildcard >= 0 {
                var owner: [UInt8] = [1, UInt8(ascii: "*")]
                owner += name(base, depth)
                put(owner: owner, value: wildcard, base: base, prefix: depth * step)
                wildcards += 1
            }
        }
        return Frame(base: base, depth: depth, kind: kind, mixedRange: mixedRange, wildcard: wildcard)
    }

    /// Emits what child `c` of node `f` owns, or returns the child's block and intervals when
    /// it is to be walked as a node of its own.
    mutating func visit(_ f: Frame, _ c: Int) -> (UInt128, Int, Int)? {
        let depth = f.depth, base = f.base, wildcard = f.wildcard
        let shift = width - (depth + 1) * step
        let k = f.kind[c]
        let cb = base + (UInt128(c) << UInt128(shift))
        if depth == 0 && k != -1 { topLabels.insert(label(c)) }
        if k == -2 {
            return (cb, f.mixedRange[c].0, f.mixedRange[c].1)
        } else if let fk = forced.isEmpty ? nil : forced[NodeKey(depth: depth + 1, base: cb)] {
            // The name exists anyway, so the wildcard above does not reach it.
            if depth + 1 < labels {
                // Uniform or not listed: walk it to repeat the value as its own wildcard.
                return (cb, f.mixedRange[c].0, f.mixedRange[c].1)
            } else if fk == .existing && k >= 0 {
                put(owner: name(cb, depth + 1), value: k, base: cb, prefix: width)
            }
            // A generic owner at a full name answers its own records only; an existing
            // name that is not listed answers NODATA, "not listed" to a DNSBL client.
        } else if k != wildcard {
            let owner = name(cb, depth + 1)
            if k == -1 {
                // "excluded"/"not listed" under a listed wildcard: an existing name with a
                // type nobody asks for stops the wildcard.
                emit(ExportRecord(owner: owner, type: ExportType.marker, ttl: markerTTL,
                                  rdata: Array("\u{8}excluded\u{8}prefixbl".utf8)))
                records += 1; markers += 1
            } else if depth + 1 == labels {
                put(owner: owner, value: k, base: cb, prefix: width)
            } else {
                put(owner: [1, UInt8(ascii: "*")] + owner, value: k, base: cb, prefix: (depth + 1) * step)
                wildcards += 1
            }
        }
        return nil
    }

    /// Emits the records of combined value `v` at `owner`, which stands for `base/prefix`.
    mutating func put(owner: [UInt8], value v: Int32, base: UInt128, prefix: Int) {
        let c = values[Int(v)]
        var t = 0
        for (type, rdata) in fixedRData[Int(v)] {
            if let rdata {
                emit(ExportRecord(owner: owner, type: type, ttl: c.ttl, rdata: rdata))
            } else {
                let text = c.txtV4[t] && family == .ipv6 ? imageText(base, prefix) : blockText(base, prefix)
                let template = c.txt[t]
                emit(ExportRecord(owner: owner, type: type, ttl: c.ttl,
                                  rdata: txtRData(expandDollar(template, Array(text.utf8)))))
                dollarTexts += 1
            }
            if type == ExportType.txt { t += 1 }
            records += 1
        }
    }

    func blockText(_ base: UInt128, _ prefix: Int) -> String {
        let a = family == .ipv6 ? ipv6Text(base) : ipv4Text(UInt32(truncatingIfNeeded: base))
        return prefix == width ? a : a + "/\(prefix)"
    }

    /// `$` of IPv4 data in the IPv6 tree: the IPv4 block the node's image stands for, as
    /// `serve` renders the embedded IPv4 address there (DNSBL.docc/AnswerRules.md).
    func imageText(_ base: UInt128, _ prefix: Int) -> String {
        let v4: UInt32, bits: Int
        if base >> 32 == 0xffff {
            v4 = UInt32(truncatingIfNeeded: base); bits = max(0, prefix - 96)
        } else {
            v4 = UInt32(truncatingIfNeeded: base >> 80); bits = min(32, max(0, prefix - 16))
        }
        return bits == 32 ? ipv4Text(v4) : ipv4Text(v4) + "/\(bits)"
    }

    func label(_ c: Int) -> String {
        family == .ipv6 ? String(c, radix: 16) : String(c)
    }

    /// Owner name of the node at `depth` labels with block start `base`: the labels in reverse
    /// order, then the apex.
    func name(_ base: UInt128, _ depth: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(depth * 4 + apex.count)
        var d = depth - 1
        while d >= 0 {
            let v = Int((base >> UInt128(width - (d + 1) * step)) & UInt128((1 << step) - 1))
            if family == .ipv6 {
                out.append(1)
                out.append(v < 10 ? UInt8(48 + v) : UInt8(87 + v))
            } else {
                let s = Array(String(v).utf8)
                out.append(UInt8(s.count)); out += s
            }
            d -= 1
        }
        return out + apex
    }
}
