import PrefixStore

/// The export's records (``Exporter/export(_:options:emit:)-([StoreZone],_,_)``, the same
/// records) grouped by owner in canonical DNS order (RFC 4034 §6.1), produced one owner at a
/// time, so a signed zone can be signed and sent as it is walked instead of being sorted whole.
///
/// Each label-tree walk (per serving zone and address family) is stepped as a preorder walk
/// whose children come in canonical label order (`TreeWalker.childOrder`): its owners come out
/// sorted. The records that are not the walks' — SOA, NS, `generic` records, domain-name sets
/// — are few in an address list and are held sorted in memory. The sources are merged by
/// owner; records of one owner from several sources (an IPv4 and an IPv6 name that are the
/// same name) form one group. With ``ExportOptions/emptyNonTerminalRecords`` the HINFO of each
/// empty non-terminal is made as the walk passes it: the ancestors of an owner that are not
/// ancestors of the owner before it, each an owner of its own before it.
///
/// Memory: the walks' interval tables (as the export) and the non-walk records; not the
/// zone's records. Owners lower case.
public struct CanonicalExport {
    /// One owner and its records (in the order the sources gave them).
    public struct Group: Sendable {
        public var owner: [UInt8]
        public var records: [ExportRecord]
    }

    final class Buffer { var records: [ExportRecord] = [] }

    struct Walk {
        var walker: TreeWalker
        let buffer: Buffer
        var pos = 0
        var done = false

        /// The next owner's records of this walk, nil when it is over.
        mutating func next() -> Group? {
            while true {
                let buf = buffer.records
                if pos < buf.count {
                    var e = pos + 1
                    while e < buf.count && buf[e].owner == buf[pos].owner { e += 1 }
                    if e < buf.count || done {
                        let g = Group(owner: lowerName(buf[pos].owner), records: Array(buf[pos..<e]))
                        pos = e
                        return g
                    }
                }
                if done { return nil }
                if pos > 0 { buffer.records.removeFirst(pos); pos = 0 }
                if !walker.stepWalk() { done = true }
            }
        }
    }

    let apex: [UInt8]
    var small: [ExportRecord] = []
    var smallPos = 0
    var walks: [Walk] = []
    /// Per source (0 the small records, then each walk): its next group.
    var heads: [Group?] = []
    /// TTL of the empty non-terminals' HINFO; nil without the option.
    let entTTL: UInt32?
    var previous: [UInt8]? = nil
    var pending: [Group] = []
    /// Owners produced so far (empty non-terminals included).
    public private(set) var owners = 0
    var baseStats: ExportStats
    var tops: [Bool] = []
    var emptyNonTerminals = 0

    /// The export's figures (as ``Exporter/export(_:options:emit:)-([StoreZone],_,_)`` gives
    /// them), complete once ``next()`` has returned nil.
    public var stats: ExportStats {
        var st = baseStats
        var topLabels: [AddressFamily: Set<String>] = [:]
        for (k, w) in walks.enumerated() {
            st.records += w.walker.records
            st.wildcards += w.walker.wildcards
            st.markers += w.walker.markers
            st.dollarTexts += w.walker.dollarTexts
            if tops[k] { topLabels[w.walker.family, default: []].formUnion(w.walker.topLabels) }
        }
        if let a = topLabels[.ipv4], let b = topLabels[.ipv6] {
            let digits = Set((0...9).map { String($0) })
            st.familyCollisions = a.union(b).intersection(digits).sorted()
        }
        st.records += emptyNonTerminals
        st.emptyNonTerminals = emptyNonTerminals
        return st
    }

    /// - Parameters:
    ///   - parts: the zone in every store that holds it (store order); not empty.
    ///   - options: the export options (as ``Exporter``).
    public init(_ parts: [StoreZone], options: ExportOptions) {
        precondition(!parts.isEmpty, "export of no zone")
        apex = lowerName(parts[0].name)
        entTTL = options.emptyNonTerminalRecords ? min(parts[0].soa.ttl, parts[0].soa.minimum) : nil
        var small: [ExportRecord] = []
        var walkers: [TreeWalker] = []
        var tops: [Bool] = []
        let stats = Exporter.exportRecords(parts, options: options, emit: { r in
            var r = r
            r.owner = lowerName(r.owner)
            small.append(r)
        }, deferWalk: { w, top in walkers.append(w); tops.append(top) })
        baseStats = stats
        // Stable: records of one owner keep the export's order.
        let keyed = small.enumerated().sorted { a, b in
            let c = canonicalCompare(a.element.owner, b.element.owner)
            return c != 0 ? c < 0 : a.offset < b.offset
        }
        self.small = keyed.map(\.element)
        for var w in walkers {
            let b = Buffer()
            w.emit = { b.records.append($0) }
            w.startStepping()
            walks.append(Walk(walker: w, buffer: b))
        }
        self.tops = tops
        heads = [nextSmall()]
        for i in walks.indices { heads.append(walks[i].next()) }
    }

    mutating func nextSmall() -> Group? {
        guard smallPos < small.count else { return nil }
        var e = smallPos + 1
        while e < small.count && small[e].owner == small[smallPos].owner { e += 1 }
        let g = Group(owner: small[smallPos].owner, records: Array(small[smallPos..<e]))
        smallPos = e
        return g
    }

    /// The next owner in canonical order with its records; nil at the end.
    public mutating func next() -> Group? {
        if !pending.isEmpty { owners += 1; return pending.removeFirst() }
        var best = -1
        for i in heads.indices {
            guard let h = heads[i] else { continue }
            if best < 0 || canonicalCompare(h.owner, heads[best]!.owner) < 0 { best = i }
        }
        guard best >= 0 else { return nil }
        var group = heads[best]!
        advance(best)
        for i in (best + 1)..<heads.count {
            if let h = heads[i], h.owner == group.owner {
                group.records += h.records
                advance(i)
            }
        }
        if let ttl = entTTL {
            // Ancestors of this owner below the apex that are not ancestors of (or) the owner
            // before it: no owner (it would have come before), so empty non-terminals.
            var ents: [[UInt8]] = []
            var n = parentName(group.owner)
            while n.count > apex.count {
                if let p = previous, isNameSuffix(n, of: p) { break }
                ents.append(n)
                n = parentName(n)
            }
            previous = group.owner
            emptyNonTerminals += ents.count
            if !ents.isEmpty {
                for e in ents.reversed() {
                    pending.append(Group(owner: e, records: [ExportRecord(owner: e, type: ExportType.marker, ttl: ttl,
                                                                          rdata: ExportType.emptyNonTerminalHINFO)]))
                }
                pending.append(group)
                owners += 1
                return pending.removeFirst()
            }
        }
        owners += 1
        return group
    }

    mutating func advance(_ i: Int) {
        heads[i] = i == 0 ? nextSmall() : walks[i - 1].next()
    }
}

/// `name` with ASCII upper case lowered (no copy when it has none).
func lowerName(_ name: [UInt8]) -> [UInt8] {
    name.contains(where: { $0 >= 65 && $0 <= 90 }) ? name.map(lowerASCII) : name
}

/// Whether `suffix` is `name` or one of its ancestors (label-aligned suffix), both lower case.
func isNameSuffix(_ suffix: [UInt8], of name: [UInt8]) -> Bool {
    guard suffix.count <= name.count else { return false }
    var p = 0
    while p < name.count {
        if name.count - p == suffix.count { return name[p...].elementsEqual(suffix) }
        if name.count - p < suffix.count { return false }
        let n = Int(name[p])
        if n == 0 { return false }
        p += 1 + n
    }
    return false
}

/// Canonical DNS order (RFC 4034 §6.1) of two lower-case uncompressed wire names, without
/// allocating (label offsets on the stack): negative, 0 or positive.
func canonicalCompare(_ a: [UInt8], _ b: [UInt8]) -> Int {
    a.withUnsafeBufferPointer { x in
        b.withUnsafeBufferPointer { y in
            withUnsafeTemporaryAllocation(of: Int.self, capacity: 256) { st in
                // Label start offsets of x in st[0..<ca], of y in st[128..<128+cb].
                var ca = 0, cb = 0, p = 0
                while p < x.count && x[p] != 0 && ca < 128 { st[ca] = p; ca += 1; p += 1 + Int(x[p]) }
                p = 0
                while p < y.count && y[p] != 0 && cb < 128 { st[128 + cb] = p; cb += 1; p += 1 + Int(y[p]) }
                var i = ca - 1, j = cb - 1
                while i >= 0 && j >= 0 {
                    let pa = st[i], pb = st[128 + j]
                    let na = Int(x[pa]), nb = Int(y[pb])
                    var k = 0
                    while k < na && k < nb {
                        let u = x[pa + 1 + k], v = y[pb + 1 + k]
                        if u != v { return Int(u) - Int(v) }
                        k += 1
                    }
                    if na != nb { return na - nb }
                    i -= 1; j -= 1
                }
                return ca - cb
            }
        }
    }
}
