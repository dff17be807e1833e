import PrefixStore

/// The signed view of a serving zone decided from the store's ranges: each ``prove(_:)``
/// descends the zone's label trees by binary search (O(log n) per level for n ranges), never
/// enumerating the zone, and agrees name for name and type for type with `prefixbl export`
/// plus DNSKEY at the apex (DNSBL.docc/SignedView.md).
///
/// Zone shapes covered (``make(zone:imagesWithoutIPv6Data:emptyNonTerminalRecords:)`` returns nil for the others):
/// IPv6 data only, IPv4 data only, and both families in one zone (the IPv6 tree then holds the
/// IPv4 images under ::ffff:0:0/96 and 2002::/16), from any number of datasets; `acl` datasets
/// are left out as the export leaves them out. Not covered: `generic` records, `combined`
/// subzones, and NS names inside the zone whose first label below the apex is an address label.
public struct StoreZoneView: SignedZoneView {
    public let apex: [UInt8]
    /// The IPv6 tree then the IPv4 tree, those the zone has.
    let trees: [ViewTree]
    /// Types at the apex as a bit set (bit t: type t): NS (when the zone has NS names), SOA,
    /// RRSIG, NSEC, DNSKEY.
    let apexTypeBits: UInt64

    /// The view of `zone`, or nil when its shape is not covered (see the type's documentation).
    /// - Parameters:
    ///   - zone: the serving zone, from a store that outlives the view.
    ///   - imagesWithoutIPv6Data: as the export option of that name: whether a zone with IPv4
    ///     data and no IPv6 data also holds the IPv4 images in an IPv6 tree.
    ///   - emptyNonTerminalRecords: every empty non-terminal below the apex owns an HINFO
    ///     RRset (``SignedViewRecords/emptyNonTerminalHINFO``) and its NSEC, as the export with
    ///     that option writes it (`--dnssec-ent-rrset`).
    /// - Returns: the view; building it unites the zone's ranges once, streamed from the
    ///   store's tables in one sweep (O(n·k) for n ranges over k placed datasets), into an
    ///   interval table of 36 bytes per range.
    public static func make(zone: StoreZone, imagesWithoutIPv6Data: Bool = false,
                            emptyNonTerminalRecords: Bool = false) -> StoreZoneView? {
        make(parts: [zone], imagesWithoutIPv6Data: imagesWithoutIPv6Data, emptyNonTerminalRecords: emptyNonTerminalRecords)
    }

    /// The view of one zone spread over several stores (the same apex; SOA and NS from the
    /// first part), as the export unites them; nil when `parts` is empty or the shape is not
    /// covered.
    public static func make(parts: [StoreZone], imagesWithoutIPv6Data: Bool = false,
                            emptyNonTerminalRecords: Bool = false) -> StoreZoneView? {
        make(parts: parts, imagesWithoutIPv6Data: imagesWithoutIPv6Data, emptyNonTerminalRecords: emptyNonTerminalRecords,
             heavyThreshold: nil)
    }

    /// ``make(parts:imagesWithoutIPv6Data:emptyNonTerminalRecords:)`` with the trees' heavy
    /// threshold (``ViewTree/heavyThreshold``, nil: each family's default; tests vary it so both the heavy tables and the
    /// scans answer every kind of node).
    static func make(parts: [StoreZone], imagesWithoutIPv6Data: Bool, emptyNonTerminalRecords: Bool,
                     heavyThreshold: Int?) -> StoreZoneView? {
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
            trees.append(ViewTree(family: .ipv6, sources: sources, heavyThreshold: heavyThreshold))
        }
        if !v4.isEmpty {
            trees.append(ViewTree(family: .ipv4, sources: v4.map { ViewTree.Source($0) }, heavyThreshold: heavyThreshold))
        }
        // An NS name below the apex whose first label is an address label forces nodes into
        // the export's walk (it stops wildcards there): not covered.
        for ns in zone.ns {
            guard let labels = relativeLabels(ns, apex: zone.name), let top = labels.first else { continue }
            if hasV6Tree && top.count == 1 && isHexDigit(top[0]) { return nil }
            if !v4.isEmpty && isOctetLabel(top) { return nil }
        }
        for i in trees.indices { trees[i].emptyNonTerminalRecords = emptyNonTerminalRecords }
        return StoreZoneView(apex: zone.name, trees: trees.filter { !$0.isEmpty },
                             apexTypeBits: (zone.ns.isEmpty ? 0 : 1 << 2) | 1 << 6 | 1 << 46 | 1 << 47 | 1 << 48)
    }

    /// The proof for `qname` (RFC 4035 §3.1.3): whether it is a name of the view, the NSEC it
    /// owns or the one covering it, its closest encloser (RFC 4592 §3.3.1) and the NSEC of
    /// or covering the wildcard there.
    /// - Parameter qname: uncompressed lower-case wire name at or below ``apex``; a name
    ///   outside the zone is answered as the apex.
    /// - Returns: the proof (its arrays allocated here; the answer path uses
    ///   `wireProof(_:)`, which allocates nothing). O(L·(F + m log n)) for L labels below the
    ///   apex, F children per node (16, 256), m mixed children on the path and n ranges.
    public func prove(_ qname: [UInt8]) -> ViewProof {
        viewProof(wireProof(NameBuffer(qname)), qname: qname)
    }

    /// `p`, the wire proof of `qname`, in the protocol's form (allocates).
    func viewProof(_ p: WireProof, qname: [UInt8]) -> ViewProof {
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
        var k = ViewTree.Kids()
        var out = WireProof()
        // At most two trees (IPv6, IPv4): their paths along the QNAME.
        var l0 = trees.count > 0 ? trees[0].locate(&q, &k) : ViewTree.Path()
        var l1 = trees.count > 1 ? trees[1].locate(&q, &k) : ViewTree.Path()
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
        l0 = trees.count > 0 ? trees[0].locate(&w, &k) : ViewTree.Path()
        l1 = trees.count > 1 ? trees[1].locate(&w, &k) : ViewTree.Path()
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
    func floorOwner(_ q: inout LabelPath, _ l0: inout ViewTree.Path, _ l1: inout ViewTree.Path,
                    _ k: inout ViewTree.Kids) -> LabelPath {
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
    func nsec(_ owner: inout LabelPath, _ k: inout ViewTree.Kids) -> WireNSEC {
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

    /// Whether the view gives empty non-terminals an HINFO RRset.
    public var emptyNonTerminalRecords: Bool { trees.first?.emptyNonTerminalRecords ?? false }

    public func ownsEmptyNonTerminalRecord(_ qname: [UInt8]) -> Bool {
        ownsEmptyNonTerminalRecord(NameBuffer(qname))
    }

    /// ``ownsEmptyNonTerminalRecord(_:)`` in fixed buffers: allocates nothing. O(L·(F + m log n))
    /// as a proof's descent.
    func ownsEmptyNonTerminalRecord(_ qname: NameBuffer) -> Bool {
        guard emptyNonTerminalRecords, var q = LabelPath(qname, apex: apex), q.count > 0 else { return false }
        var k = ViewTree.Kids()
        var empty = false
        for t in trees.indices {
            let p = trees[t].locate(&q, &k)
            guard p.count - 1 == q.count else { continue }
            let n = p.nodes[q.count]
            if n.isOwner { return false }
            empty = true
        }
        return empty
    }

    // MARK: Names

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
