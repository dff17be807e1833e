import PrefixStore

/// The signed view of a serving zone decided from the store's ranges: each ``prove(_:)``
/// descends the zone's label trees by binary search (O(log n) per level for n ranges), never
/// enumerating the zone, and agrees name for name and type for type with `prefixbl export`
/// plus DNSKEY at the apex (DNSBL.docc/SignedView.md).
///
/// Zone shapes covered (``make(zone:imagesWithoutIPv6Data:)`` returns nil for the others):
/// IPv6 data only, IPv4 data only, and both families in one zone (the IPv6 tree then holds the
/// IPv4 images under ::ffff:0:0/96 and 2002::/16), from any number of datasets; `acl` datasets
/// are left out as the export leaves them out. Not covered: `generic` records, `combined`
/// subzones, and NS names inside the zone whose first label below the apex is an address label.
public struct StoreZoneView: SignedZoneView {
    public let apex: [UInt8]
    /// The IPv6 tree then the IPv4 tree, those the zone has.
    let trees: [ViewTree]
    /// Types at the apex: NS (when the zone has NS names), SOA, RRSIG, NSEC, DNSKEY.
    let apexTypes: [UInt16]

    /// The view of `zone`, or nil when its shape is not covered (see the type's documentation).
    /// - Parameters:
    ///   - zone: the serving zone, from a store that outlives the view.
    ///   - imagesWithoutIPv6Data: as the export option of that name: whether a zone with IPv4
    ///     data and no IPv6 data also holds the IPv4 images in an IPv6 tree.
    /// - Returns: the view; building it unites the zone's ranges once (O(n log n) for several
    ///   datasets, O(n) for one) into an interval table of 36 bytes per range.
    public static func make(zone: StoreZone, imagesWithoutIPv6Data: Bool = false) -> StoreZoneView? {
        make(parts: [zone], imagesWithoutIPv6Data: imagesWithoutIPv6Data)
    }

    /// The view of one zone spread over several stores (the same apex; SOA and NS from the
    /// first part), as the export unites them; nil when `parts` is empty or the shape is not
    /// covered.
    public static func make(parts: [StoreZone], imagesWithoutIPv6Data: Bool = false) -> StoreZoneView? {
        guard let zone = parts.first, !zone.isGlobalACL else { return nil }
        var v4: [StoreDataset] = [], v6: [StoreDataset] = []
        for p in parts {
            if !p.records.isEmpty { return nil }
            for d in p.datasets {
                switch d.rule {
                case .clientACL, .keyInQName: continue  // access data: not in the export
                case .domainNames: return nil  // domain lists: not covered
                case .longestPrefix, .ip4Buckets: break
                }
                if !d.subzone.isEmpty { return nil }
                if d.family == .ipv4 { v4.append(d) } else { v6.append(d) }
            }
        }
        var trees: [ViewTree] = []
        let hasV6Tree = !v6.isEmpty || (!v4.isEmpty && imagesWithoutIPv6Data)
        if hasV6Tree {
            var sources = v6.map { ViewTree.Source($0, clippingMapped: !v4.isEmpty) }
            sources += v4.map { ViewTree.Source(mapped: $0) }
            sources += v4.map { ViewTree.Source(sixToFour: $0) }
            trees.append(ViewTree(family: .ipv6, sources: sources))
        }
        if !v4.isEmpty {
            trees.append(ViewTree(family: .ipv4, sources: v4.map { ViewTree.Source($0) }))
        }
        // An NS name below the apex whose first label is an address label forces nodes into
        // the export's walk (it stops wildcards there): not covered.
        for ns in zone.ns {
            guard let labels = relativeLabels(ns, apex: zone.name), let top = labels.first else { continue }
            if hasV6Tree && top.count == 1 && isHexDigit(top[0]) { return nil }
            if !v4.isEmpty && isOctetLabel(top) { return nil }
        }
        return StoreZoneView(apex: zone.name, trees: trees.filter { !$0.isEmpty },
                             apexTypes: zone.ns.isEmpty ? [6, 46, 47, 48] : [2, 6, 46, 47, 48])
    }

    /// The proof for `qname` (RFC 4035 §3.1.3): whether it is a name of the view, the NSEC it
    /// owns or the one covering it, its closest encloser (RFC 4592 §3.3.1) and the NSEC of
    /// or covering the wildcard there.
    /// - Parameter qname: uncompressed lower-case wire name at or below ``apex``; a name
    ///   outside the zone is answered as the apex.
    /// - Returns: the proof. Allocates its names and type lists; O(L·(F + log n)) for L labels
    ///   below the apex, F children per node (16, 256) and n ranges.
    public func prove(_ qname: [UInt8]) -> ViewProof {
        let q = StoreZoneView.relativeLabels(qname, apex: apex) ?? []
        let memos = trees.map { _ in ChildMemo() }
        let located = trees.indices.map { trees[$0].locate(q, memo: memos[$0]) }
        var exists = q.isEmpty
        var owner = q.isEmpty
        var encloser = 0
        for l in located {
            let j = l.path.count - 1
            encloser = max(encloser, j)
            if j == q.count {
                exists = true
                if l.path[j].isOwner { owner = true }
            }
        }
        let nsecOwner = owner ? q : floorOwner(q, located: located, memos: memos)
        let nsec = self.nsec(nsecOwner, memos: memos)
        if exists {
            return ViewProof(exists: true, nsec: nsec, closestEncloser: qname, wildcard: nil, wildcardExists: false)
        }
        let ce = Array(q[0..<encloser])
        let w = ce + [[42]]
        let wLocated = trees.indices.map { trees[$0].locate(w, memo: memos[$0]) }
        let wExists = wLocated.contains { $0.path.count - 1 == w.count && $0.path[w.count].isOwner }
        let wNSEC = self.nsec(wExists ? w : floorOwner(w, located: wLocated, memos: memos), memos: memos)
        return ViewProof(exists: false, nsec: nsec, closestEncloser: name(ce), wildcard: wNSEC,
                         wildcardExists: wExists)
    }

    // MARK: The chain

    /// The greatest owner at or before `q` over all trees (the apex when none).
    func floorOwner(_ q: [[UInt8]], located: [(path: [ViewTree.Node], kids: [[ViewTree.Node]])],
                    memos: [ChildMemo]) -> [[UInt8]] {
        var best: [[UInt8]] = []
        for (t, tree) in trees.enumerated() {
            if let n = tree.floorOwner(q, located: located[t], memo: memos[t]) {
                let l = tree.relativeLabels(n)
                if StoreZoneView.compare(l, best) > 0 { best = l }
            }
        }
        return best
    }

    /// The NSEC owned by `owner` (labels below the apex, an owner of the view).
    func nsec(_ owner: [[UInt8]], memos: [ChildMemo]) -> ViewNSEC {
        var types: [UInt16] = owner.isEmpty ? apexTypes : []
        var next: [[UInt8]]? = nil
        for (t, tree) in trees.enumerated() {
            let l = tree.locate(owner, memo: memos[t])
            if !owner.isEmpty && l.path.count - 1 == owner.count {
                for t in tree.types(l.path[owner.count]) where !types.contains(t) { types.append(t) }
            }
            if let n = tree.higherOwner(owner, located: l, memo: memos[t]) {
                let nl = tree.relativeLabels(n)
                if next == nil || StoreZoneView.compare(nl, next!) < 0 { next = nl }
            }
        }
        types.sort()
        return ViewNSEC(owner: name(owner), next: name(next ?? []), types: types)
    }

    // MARK: Names

    /// The wire name of `labels` (below the apex, top-down).
    func name(_ labels: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(labels.reduce(apex.count) { $0 + $1.count + 1 })
        for l in labels.reversed() {
            out.append(UInt8(l.count)); out += l
        }
        return out + apex
    }

    /// Canonical order (RFC 4034 §6.1) of two names given as labels below one apex, top-down.
    static func compare(_ a: [[UInt8]], _ b: [[UInt8]]) -> Int {
        var i = 0
        while i < a.count && i < b.count {
            let x = a[i], y = b[i]
            var p = 0
            while p < x.count && p < y.count {
                if x[p] != y[p] { return Int(x[p]) - Int(y[p]) }
                p += 1
            }
            if x.count != y.count { return x.count - y.count }
            i += 1
        }
        return a.count - b.count
    }

    /// The labels of `name` below `apex`, top-down (the one next to the apex first); nil when
    /// `name` is not at or below `apex`.
    static func relativeLabels(_ name: [UInt8], apex: [UInt8]) -> [[UInt8]]? {
        var starts: [Int] = []
        var p = 0
        while p < name.count && name[p] != 0 {
            starts.append(p)
            p += 1 + Int(name[p])
        }
        guard p < name.count else { return nil }
        // The apex must be a label suffix of the name.
        var k = starts.count
        while k >= 0 {
            let s = k == starts.count ? p : starts[k]
            if name.count - s == apex.count {
                guard name[s...].elementsEqual(apex) else { return nil }
                return starts[0..<k].reversed().map { Array(name[($0 + 1)...($0 + Int(name[$0]))]) }
            }
            if name.count - s > apex.count { return nil }
            k -= 1
        }
        return nil
    }

    static func isHexDigit(_ c: UInt8) -> Bool { (c >= 48 && c <= 57) || (c >= 97 && c <= 102) }

    static func isOctetLabel(_ l: [UInt8]) -> Bool {
        guard !l.isEmpty, l.count <= 3, l.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return false }
        if l.count > 1 && l[0] == 48 { return false }
        return l.reduce(0) { $0 * 10 + Int($1) - 48 } <= 255
    }
}
