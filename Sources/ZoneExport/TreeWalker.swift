import PrefixStore
import ZoneSource

/// The label-tree walk of one address family (see ``Exporter``).
struct TreeWalker {
    /// A maximal run of addresses with one combined value.
    struct Interval { var first: UInt128; var last: UInt128; var value: Int32 }
    /// What one or more datasets answer for an address: A addresses, TXT templates, TTL.
    struct Combined: Hashable { var a: [UInt32]; var txt: [[UInt8]]; var ttl: UInt32 }

    let zone: StoreZone
    let family: AddressFamily
    let width: Int
    /// Bits per label: 4 (nibble) or 8 (octet).
    let step: Int
    let labels: Int
    let options: ExportOptions
    let emit: (ExportRecord) -> Void
    var intervals: [Interval] = []
    var values: [Combined] = []
    /// Per combined value: A RDATA, and TXT RDATA or nil where the TXT needs `$` per block.
    var fixedRData: [[(UInt16, [UInt8]?)]] = []
    var records = 0, wildcards = 0, markers = 0, dollarTexts = 0
    var topLabels: Set<String> = []
    let markerTTL: UInt32

    init(zone: StoreZone, family: AddressFamily, datasets: [StoreDataset], options: ExportOptions,
         emit: @escaping (ExportRecord) -> Void) {
        self.zone = zone; self.family = family; self.options = options; self.emit = emit
        width = family.bits
        step = family == .ipv6 ? 4 : 8
        labels = width / step
        markerTTL = min(zone.soa.ttl, zone.soa.minimum)
        unite(datasets)
    }

    /// Unites the datasets' range tables into disjoint intervals of combined values, merging
    /// neighbours with equal values (a uniform child must be one interval).
    mutating func unite(_ datasets: [StoreDataset]) {
        let tables = datasets.map { $0.table.ranges() }
        var ids: [Combined: Int32] = [:]
        func id(_ parts: [(Int, Int32)]) -> Int32 {
            var a: [UInt32] = [], t: [[UInt8]] = [], ttl = UInt32.max
            for (d, v) in parts {
                let sv = datasets[d].values[Int(v)]
                if !a.contains(sv.a) { a.append(sv.a) }
                if let p = sv.txt {
                    let bytes = Array(p)
                    if !t.contains(bytes) { t.append(bytes) }
                }
                ttl = min(ttl, datasets[d].ttl)
            }
            let c = Combined(a: a, txt: t, ttl: ttl)
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

    /// Walks the node at `depth` labels whose block starts at `base`; `intervals[lo..<hi]` are
    /// those intersecting the block.
    mutating func walk(base: UInt128, depth: Int, lo: Int, hi: Int) {
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
            if intervals[i].first <= cf && intervals[i].last >= cl { kind[c] = intervals[i].value; continue }
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
        for c in 0..<fan {
            let k = kind[c]
            let cb = base + (UInt128(c) << UInt128(shift))
            if depth == 0 && k != -1 { topLabels.insert(label(c)) }
            if k == -2 {
                walk(base: cb, depth: depth + 1, lo: mixedRange[c].0, hi: mixedRange[c].1)
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
        }
    }

    /// Emits the records of combined value `v` at `owner`, which stands for `base/prefix`.
    mutating func put(owner: [UInt8], value v: Int32, base: UInt128, prefix: Int) {
        let c = values[Int(v)]
        var t = 0
        for (type, rdata) in fixedRData[Int(v)] {
            if let rdata {
                emit(ExportRecord(owner: owner, type: type, ttl: c.ttl, rdata: rdata))
            } else {
                let text = blockText(base, prefix)
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

    func label(_ c: Int) -> String {
        family == .ipv6 ? String(c, radix: 16) : String(c)
    }

    /// Owner name of the node at `depth` labels with block start `base`: the labels in reverse
    /// order, then the zone.
    func name(_ base: UInt128, _ depth: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(depth * 4 + zone.name.count)
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
        return out + zone.name
    }
}
