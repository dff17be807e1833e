// Flattening: CIDR entries (laminar: any two are nested or disjoint) → sorted disjoint ranges.
//
// Entries sorted by (address ascending, prefix length ascending) visit every parent before its
// children, so one sweep with a stack of open prefixes (depth ≤ 129) emits the decision for every
// address in order. Input that is already in that order (most list files are) is swept in place;
// otherwise a copy of the entries as (key, length, index, value, origin) records is sorted first:
// O(n log n) time, 32 bytes per entry of extra memory only in that case.

/// Receives the flattened, merged listed ranges in ascending order.
protocol RangeSink {
    mutating func addListed(first: UInt128, last: UInt128, value: UInt32)
    /// Expected entry count, for reserving storage once.
    mutating func reserveHint(_ n: Int)
}

enum Flattener {
    /// Highest address of a family, in the `UInt128` key space.
    static func maxKey(_ family: AddressFamily) -> UInt128 {
        family == .ipv4 ? UInt128(UInt32.max) : .max
    }

    /// Last address of a prefix.
    @inline(__always)
    static func lastAddress(_ address: UInt128, _ length: UInt8, bits: Int) -> UInt128 {
        address | hostMask(length, bits: bits)
    }

    /// The host bits of a prefix of `length` bits in a `bits`-wide family.
    @inline(__always)
    static func hostMask(_ length: UInt8, bits: Int) -> UInt128 {
        let host = bits &- Int(length)
        if host <= 0 { return 0 }
        return host >= 128 ? UInt128.max : (UInt128(1) &<< UInt128(host)) &- 1
    }

    /// Checks one entry against the family and the value table.
    @inline(__always)
    static func check(_ e: PrefixEntry, family: AddressFamily, valueCount: Int) throws(StoreError) {
        let bits = family.bits
        if Int(e.prefixLength) > bits {
            throw StoreError(.invalidInput, "prefix length /\(e.prefixLength) exceeds \(bits) bits (origin \(e.origin))")
        }
        if family == .ipv4 && e.address >> 32 != 0 {
            throw StoreError(.invalidInput, "IPv4 address above 32 bits (origin \(e.origin))")
        }
        if e.address & hostMask(e.prefixLength, bits: bits) != 0 {
            throw StoreError(.invalidInput, "prefix /\(e.prefixLength) has host bits set (origin \(e.origin))")
        }
        if !e.isExclusion && Int(e.value) >= valueCount {
            throw StoreError(.invalidInput, "value index \(e.value) out of range 0..<\(valueCount) (origin \(e.origin))")
        }
    }

    /// Flattens `entries` into `sink`; returns equal-prefix conflicts.
    static func flatten<S: RangeSink>(_ entries: [PrefixEntry], family: AddressFamily, valueCount: Int,
                                      into sink: inout S) throws(StoreError) -> [FlattenConflict] {
        var sorted = true
        var prev: PrefixEntry? = nil
        for e in entries {
            try check(e, family: family, valueCount: valueCount)
            if let p = prev, sorted, (e.address, e.prefixLength) < (p.address, p.prefixLength) { sorted = false }
            prev = e
        }
        var sweep = Sweep(sink: sink, bits: family.bits, maxKey: maxKey(family))
        sweep.sink.reserveHint(entries.count + entries.count / 8 + 2)
        if sorted {
            for e in entries { sweep.add(e) }
        } else {
            // Sort records carry the whole entry (no gather through a permutation afterwards:
            // that costs a cache miss per entry); the entry array stays untouched (it may be
            // shared). The index in the tag keeps duplicates in entry order.
            var recs = [SortRecord]()
            recs.reserveCapacity(entries.count)
            for (i, e) in entries.enumerated() {
                recs.append(SortRecord(hi: UInt64(truncatingIfNeeded: e.address >> 64),
                                       lo: UInt64(truncatingIfNeeded: e.address),
                                       tag: UInt64(e.prefixLength) << 40 | UInt64(i),
                                       value: e.value, origin: e.origin))
            }
            recs.sort()
            for r in recs {
                sweep.add(PrefixEntry(address: UInt128(r.hi) << 64 | UInt128(r.lo), prefixLength: UInt8(truncatingIfNeeded: r.tag >> 40),
                                      value: r.value, origin: r.origin))
            }
        }
        sweep.finish()
        sink = sweep.sink
        return sweep.conflicts
    }

    /// The slow reference (see ``StoreBuilder/referenceFlatten(_:family:)``).
    static func reference(_ entries: [PrefixEntry], family: AddressFamily)
        -> (table: RangeTable, conflicts: [FlattenConflict])
    {
        let bits = family.bits
        let maxK = maxKey(family)
        func last(_ e: PrefixEntry) -> UInt128 { lastAddress(e.address, e.prefixLength, bits: bits) }
        var points = Set<UInt128>([0])
        for e in entries { points.insert(e.address); let l = last(e); if l < maxK { points.insert(l + 1) } }
        let sorted = points.sorted()
        var segs: [(UInt128, Int32)] = []
        for p in sorted {
            var best: PrefixEntry? = nil
            for e in entries where e.address <= p && p <= last(e) {
                if let b = best {
                    if e.prefixLength > b.prefixLength || (e.prefixLength == b.prefixLength && e.isExclusion && !b.isExclusion) { best = e }
                } else { best = e }
            }
            let v = best.map { $0.isExclusion ? -1 : $0.value } ?? -1
            if let lv = segs.last, lv.1 == v { continue }
            segs.append((p, v))
        }
        var conflicts: [FlattenConflict] = []
        for (i, e) in entries.enumerated() where !e.isExclusion {
            if let first = entries[..<i].first(where: {
                !$0.isExclusion && $0.address == e.address && $0.prefixLength == e.prefixLength
            }), first.value != e.value {
                conflicts.append(FlattenConflict(winnerOrigin: first.origin, loserOrigin: e.origin))
            }
        }
        let maxValue = entries.map { Int($0.value) }.max() ?? 0
        var builder = TableBuilder(family: family, kind: TableBuilder.kind(for: entries, family: family),
                                   valueCount: max(maxValue + 1, 1))
        for (i, s) in segs.enumerated() where s.1 >= 0 {
            let end = i + 1 < segs.count ? segs[i + 1].0 - 1 : maxK
            builder.addListed(first: s.0, last: end, value: UInt32(s.1))
        }
        let image = builder.finishStandalone()
        return (image, conflicts)
    }
}

/// Sort record for unsorted input: address, then prefix length, then entry index.
struct SortRecord: Comparable {
    var hi: UInt64
    var lo: UInt64
    /// prefix length << 40 | entry index.
    var tag: UInt64
    var value: Int32
    var origin: UInt32
    @inline(__always)
    static func < (a: SortRecord, b: SortRecord) -> Bool {
        if a.hi != b.hi { return a.hi < b.hi }
        if a.lo != b.lo { return a.lo < b.lo }
        return a.tag < b.tag
    }
}

/// The stack sweep over entries in (address, length) order.
struct Sweep<S: RangeSink> {
    struct Frame {
        var start: UInt128
        var end: UInt128
        var length: UInt8
        /// Effective decision: value index, or -1 for "not listed".
        var value: Int32
        var excluded: Bool
        /// First listing of this exact prefix (value, origin), -1 when only exclusions so far.
        var firstValue: Int32
        var firstOrigin: UInt32
    }

    var sink: S
    let bits: Int
    let maxKey: UInt128
    var stack: [Frame] = []
    var conflicts: [FlattenConflict] = []
    /// Next address not yet decided; `done` once `maxKey` has been decided.
    var cursor: UInt128 = 0
    var done = false
    /// The pending merged run.
    var runStart: UInt128 = 0
    var runEnd: UInt128 = 0
    var runValue: Int32 = -1
    var hasRun = false

    init(sink: S, bits: Int, maxKey: UInt128) {
        self.sink = sink; self.bits = bits; self.maxKey = maxKey
        stack.reserveCapacity(130)
    }

    @inline(__always)
    mutating func emit(_ from: UInt128, _ to: UInt128, _ value: Int32) {
        if hasRun && runValue == value {
            runEnd = to
            return
        }
        flushRun()
        runStart = from; runEnd = to; runValue = value; hasRun = true
    }

    @inline(__always)
    mutating func flushRun() {
        if hasRun && runValue >= 0 {
            sink.addListed(first: runStart, last: runEnd, value: UInt32(runValue))
        }
        hasRun = false
    }

    /// Closes the top frame: its remaining addresses get its decision.
    @inline(__always)
    mutating func pop() {
        let top = stack.removeLast()
        if !done && cursor <= top.end {
            emit(cursor, top.end, top.value)
            if top.end == maxKey { done = true } else { cursor = top.end + 1 }
        }
    }

    mutating func add(_ e: PrefixEntry) {
        let s = e.address
        while let top = stack.last, top.end < s { pop() }
        if let top = stack.last, top.start == s && top.length == e.prefixLength {
            let t = stack.count - 1
            if e.isExclusion {
                stack[t].excluded = true
                stack[t].value = -1
            } else if top.firstValue < 0 {
                stack[t].firstValue = e.value
                stack[t].firstOrigin = e.origin
                if !top.excluded { stack[t].value = e.value }
            } else if top.firstValue != e.value {
                conflicts.append(FlattenConflict(winnerOrigin: top.firstOrigin, loserOrigin: e.origin))
            }
            return
        }
        if s > cursor {
            emit(cursor, s - 1, stack.last?.value ?? -1)
            cursor = s
        }
        let end = Flattener.lastAddress(s, e.prefixLength, bits: bits)
        stack.append(Frame(start: s, end: end, length: e.prefixLength,
                           value: e.isExclusion ? -1 : e.value, excluded: e.isExclusion,
                           firstValue: e.isExclusion ? -1 : e.value, firstOrigin: e.origin))
    }

    mutating func finish() {
        while !stack.isEmpty { pop() }
        if !done { emit(cursor, maxKey, -1) }
        flushRun()
    }
}
