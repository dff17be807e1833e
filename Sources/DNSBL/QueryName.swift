import PrefixStore

/// The labels left of the zone apex, read once into an address or prefix (SPEC §4). Every
/// dataset of the zone then reuses it (rbldnsd's design: parse the QNAME once).
struct QueryAddress {
    /// Labels left of the apex.
    var labels: Int = 0
    /// Readable as IPv4: 1…4 decimal labels 0–255 (leading zeros accepted, at most 3 digits).
    var v4 = true
    /// Readable as IPv6: 1…32 labels of one hex digit each (case-insensitive).
    var v6 = true
    /// IPv4 prefix aligned to the top: `2.0.192` → 0xC000_0200 (/24).
    var v4Key: UInt32 = 0
    /// IPv6 prefix aligned to the top: `8.b.d.0.1.0.0.2` → 0x2001_0db8_0…0 (/32).
    var v6Key: UInt128 = 0

    /// Reads the labels of the encoded name between `start` and `end` (the apex offset).
    /// Allocates nothing; a name that is neither form ends with both flags false.
    init(_ q: UnsafeRawBufferPointer, start: Int, end: Int) {
        var pos = start
        // Nibbles collect in two 64-bit halves, leftmost label lowest (a 128-bit shift per
        // label was the hot spot); aligned to the top once at the end.
        var low: UInt64 = 0, high: UInt64 = 0
        while pos < end {
            let len = Int(q[pos])
            labels += 1
            if v6 {
                if len == 1, labels <= 32, let nib = hexValue(q[pos + 1]) {
                    let i = labels - 1
                    if i < 16 { low |= UInt64(nib) << UInt64(4 * i) } else { high |= UInt64(nib) << UInt64(4 * (i - 16)) }
                } else {
                    v6 = false
                }
            }
            if v4 {
                if len >= 1, len <= 3, labels <= 4 {
                    var val: UInt32 = 0
                    var k = 1
                    while k <= len {
                        let d = q[pos + k] &- 0x30
                        if d > 9 { v4 = false; break }
                        val = val * 10 + UInt32(d)
                        k += 1
                    }
                    if val > 255 { v4 = false }
                    if v4 { v4Key = (v4Key >> 8) | (val << 24) }
                } else {
                    v4 = false
                }
            }
            pos += 1 + len
        }
        if labels == 0 { v4 = false; v6 = false }
        if v6 { v6Key = (UInt128(high) << 64 | UInt128(low)) << UInt128(128 - 4 * labels) }
    }
}

@inline(__always)
func hexValue(_ b: UInt8) -> UInt8? {
    if b &- 0x30 < 10 { return b &- 0x30 }
    let l = b | 0x20
    if l &- 0x61 < 6 { return l &- 0x61 + 10 }
    return nil
}

/// The IPv4-mapped block ::ffff:0:0/96 (RFC 4291 §2.5.5.2).
let mappedFirst: UInt128 = 0xffff << 32
let mappedLast: UInt128 = mappedFirst | 0xffff_ffff
/// The 6to4 block 2002::/16 (RFC 3056 §2); the IPv4 address sits in bits 16–47.
let sixToFourFirst: UInt128 = 0x2002 << 112
let sixToFourLast: UInt128 = sixToFourFirst | ((1 << 112) - 1)

@inline(__always)
func embeddedIPv4(sixToFour a: UInt128) -> UInt32 { UInt32(truncatingIfNeeded: a >> 80) }

/// One dataset's contribution to an answer.
struct Hit {
    var a: UInt32
    var txt: UnsafeRawBufferPointer?
    /// Answer TTL of the dataset in seconds.
    var ttl: UInt32
    /// The listing came from IPv4 data: `$` renders ``Lookup/v4Address`` dotted.
    var fromV4: Bool
}

/// The addresses `$` renders in this answer (SPEC §3.3: IPv4 data answered through
/// ::ffff:0:0/96 or 2002::/16 renders the embedded IPv4 address).
struct RenderAddresses {
    var v4: UInt32 = 0
    var v6: UInt128 = 0
}

extension ServingZone {
    // Datasets are read in place through buffer pointers: binding `let d = v4[i]` would copy
    // the struct and retain/release its table's owner and value array on every query.

    @inline(__always)
    func collectV4(_ key: UInt32, _ hits: UnsafeMutableBufferPointer<Hit>, _ n: inout Int) {
        v4.withUnsafeBufferPointer { sets in
            for i in sets.indices {
                let v = sets[i].table.value(at: UInt128(key))
                if v >= 0 {
                    let val = sets[i].values[Int(v)]
                    hits[n] = Hit(a: val.a, txt: val.txt, ttl: sets[i].ttl, fromV4: true)
                    n += 1
                }
            }
        }
    }

    @inline(__always)
    func collectV6(_ key: UInt128, _ hits: UnsafeMutableBufferPointer<Hit>, _ n: inout Int) {
        v6.withUnsafeBufferPointer { sets in
            for i in sets.indices {
                let v = sets[i].table.value(at: key)
                if v >= 0 {
                    let val = sets[i].values[Int(v)]
                    hits[n] = Hit(a: val.a, txt: val.txt, ttl: sets[i].ttl, fromV4: false)
                    n += 1
                }
            }
        }
    }

    /// Every dataset listing the full address the name spells (SPEC §3), into `hits`
    /// (capacity ≥ dataset count). Returns how many.
    func lookup(_ qa: QueryAddress, _ hits: UnsafeMutableBufferPointer<Hit>,
                _ render: inout RenderAddresses) -> Int {
        var n = 0
        if qa.v4 && qa.labels == 4 {
            render.v4 = qa.v4Key
            collectV4(qa.v4Key, hits, &n)
        } else if qa.v6 && qa.labels == 32 {
            let a = qa.v6Key
            render.v6 = a
            if !v4.isEmpty && a >= mappedFirst && a <= mappedLast {
                render.v4 = UInt32(truncatingIfNeeded: a)
                collectV4(render.v4, hits, &n)
            } else {
                collectV6(a, hits, &n)
                if !v4.isEmpty && a >= sixToFourFirst && a <= sixToFourLast {
                    render.v4 = embeddedIPv4(sixToFour: a)
                    collectV4(render.v4, hits, &n)
                } else if !v4.isEmpty && !transitions.isEmpty, let e = transitionIPv4(a) {
                    render.v4 = e
                    collectV4(e, hits, &n)
                }
            }
        }
        return n
    }

    func anyV4(_ first: UInt32, _ last: UInt32) -> Bool {
        v4.withUnsafeBufferPointer { sets in
            for i in sets.indices where sets[i].table.intersects(first: UInt128(first), last: UInt128(last)) {
                return true
            }
            return false
        }
    }

    func anyV6(_ first: UInt128, _ last: UInt128) -> Bool {
        v6.withUnsafeBufferPointer { sets in
            for i in sets.indices where sets[i].table.intersects(first: first, last: last) { return true }
            return false
        }
    }

    /// Whether some full name below the IPv6 prefix `first...last` is listed, counting IPv4
    /// data through ::ffff:0:0/96, 2002::/16 and the zone's transition mappings exactly as
    /// ``lookup(_:_:_:)`` answers them.
    func v6PrefixHasData(_ first: UInt128, _ last: UInt128) -> Bool {
        if v4.isEmpty { return anyV6(first, last) }
        // IPv6 data inside ::ffff:0:0/96 is unreachable when the zone has IPv4 data.
        if first < mappedFirst && anyV6(first, min(last, mappedFirst - 1)) { return true }
        if last > mappedLast && anyV6(max(first, mappedLast + 1), last) { return true }
        if first <= mappedLast && last >= mappedFirst {
            let lo = max(first, mappedFirst), hi = min(last, mappedLast)
            if anyV4(UInt32(truncatingIfNeeded: lo), UInt32(truncatingIfNeeded: hi)) { return true }
        }
        if first <= sixToFourLast && last >= sixToFourFirst {
            // The embedded addresses of a contiguous slice of 2002::/16 are contiguous too.
            let lo = max(first, sixToFourFirst), hi = min(last, sixToFourLast)
            if anyV4(embeddedIPv4(sixToFour: lo), embeddedIPv4(sixToFour: hi)) { return true }
        }
        if !transitions.isEmpty && transitionPrefixHasData(first, last) { return true }
        return false
    }

    /// Whether the partial name is an empty non-terminal: some listed full name lies below it
    /// in either reading (SPEC §4). A full IPv4 name that is not listed has nothing below it
    /// in the IPv4 reading.
    func hasDataBelow(_ qa: QueryAddress) -> Bool {
        if qa.v4 && qa.labels < 4 {
            let host = UInt32(32 - 8 * qa.labels)
            let last = qa.v4Key | UInt32((UInt64(1) << UInt64(host)) - 1)
            if anyV4(qa.v4Key, last) { return true }
        }
        if qa.v6 && qa.labels < 32 {
            let last = qa.v6Key | (UInt128.max >> UInt128(4 * qa.labels))
            if v6PrefixHasData(qa.v6Key, last) { return true }
        }
        return false
    }

    /// Whether the name (labels `start..<end` plus the apex) is an in-zone NS name, a
    /// generic owner or a subzone apex, or an ancestor of one: such names are NODATA, never
    /// NXDOMAIN (SPEC §5, RFC 8020).
    func isNSNameOrAncestor(_ q: UnsafeRawBufferPointer, start: Int, end: Int) -> Bool {
        let leftLength = end - start
        for i in existing.indices {
            let name = existing[i]
            let total = leftLength + apex.count
            guard name.count >= total else { continue }
            let found = name.withUnsafeBufferPointer { n -> Bool in
                // `name`'s suffix of `total` bytes must start at a label boundary.
                var p = 0
                while name.count - p > total {
                    p += 1 + Int(n[p])
                }
                guard name.count - p == total else { return false }
                var k = 0
                while k < leftLength {
                    if lowerASCII(q[start + k]) != n[p + k] { return false }
                    k += 1
                }
                return true
            }
            if found { return true }
        }
        return false
    }
}

extension ServingZone {
    /// Whether generic record `r` is owned by the name whose labels left of this apex are
    /// `q[start..<end]` (case-insensitive).
    @inline(__always)
    func owns(_ r: ServingRecord, _ q: UnsafeRawBufferPointer, start: Int, end: Int) -> Bool {
        let n = end - start
        guard r.prefix.count == n else { return false }
        return r.prefix.withUnsafeBufferPointer { pre -> Bool in
            var k = 0
            while k < n {
                if lowerASCII(q[start + k]) != pre[k] { return false }
                k += 1
            }
            return true
        }
    }

    /// Whether generic data defines the name `q[start..<end]` + apex.
    func hasGenericName(_ q: UnsafeRawBufferPointer, start: Int, end: Int) -> Bool {
        for i in records.indices where owns(records[i], q, start: start, end: end) { return true }
        return false
    }
}

/// What an ACL decided for a client (rbldnsd `acl`, SPEC §7). Ordered by severity: of a zone
/// ACL and the global ACL the more severe decision wins (ignore > refuse > empty > policy
/// answer > pass), as rbldnsd consults both.
struct ACLDecision {
    enum Kind: UInt8 { case none = 0, answer = 1, empty = 2, refuse = 3, ignore = 4 }
    var kind: Kind = .none
    /// The policy answer (kind `.answer`): A in 127.255.255.0/24 and TXT template.
    var a: UInt32 = 0
    var txt: UnsafeRawBufferPointer? = nil
    var ttl: UInt32 = 0

    /// Folds in one matching ACL value; an earlier policy answer is kept (global before zone).
    mutating func add(_ v: StoreValue, ttl: UInt32) {
        let k: Kind
        switch v.a {
        case ACLAction.ignore.rawValue: k = .ignore
        case ACLAction.refuse.rawValue: k = .refuse
        case ACLAction.empty.rawValue: k = .empty
        case ACLAction.pass.rawValue: k = .none
        default: k = .answer
        }
        if k == .answer && kind == .none {
            kind = .answer; a = v.a; txt = v.txt; self.ttl = ttl
        } else if k.rawValue > kind.rawValue {
            kind = k
        }
    }
}

extension ServingACL {
    /// Consults every dataset of the client's family (longest prefix within each).
    /// Allocates nothing.
    @inline(__always)
    func decide(_ c: ClientAddress, into d: inout ACLDecision) {
        switch c.family {
        case .ipv4?:
            for i in v4.indices {
                let v = v4[i].table.value(at: c.address)
                if v >= 0 { d.add(v4[i].values[Int(v)], ttl: v4[i].ttl) }
            }
        case .ipv6?:
            for i in v6.indices {
                let v = v6[i].table.value(at: c.address)
                if v >= 0 { d.add(v6[i].values[Int(v)], ttl: v6[i].ttl) }
            }
        case nil:
            break
        }
    }
}
