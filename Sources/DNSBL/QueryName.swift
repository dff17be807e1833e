import DNSWire
import PrefixStore

/// The labels left of the zone apex, read once into an address or prefix (<doc:AnswerRules#Reading-the-query-name>). Every
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

extension QueryAddress {
    /// The address of the first `labels` labels of a name gathered by `scan` (the labels left
    /// of the zone apex); the same value as reading those labels with ``init(_:start:end:)``.
    @inline(__always)
    init(_ scan: QNameScan, labels k: Int) {
        labels = k
        v4 = k >= 1 && k <= 4 && scan.v4Run >= k
        v6 = k >= 1 && k <= 32 && scan.v6Run >= k
        if v4 {
            // Octet i sits in byte i; the last label read ends in the top byte.
            v4Key = scan.octets << UInt32(8 * (4 - k))
        }
        if v6 {
            // Nibble i sits at bit 4i; drop those of labels beyond `k` (apex labels that
            // happen to be single hex digits), then align the k nibbles to the top.
            var low = scan.low, high = scan.high
            if k < 16 {
                low &= (UInt64(1) << UInt64(4 * k)) &- 1
                high = 0
            } else if k < 32 {
                high &= (UInt64(1) << UInt64(4 * (k - 16))) &- 1
            }
            v6Key = (UInt128(high) << 64 | UInt128(low)) << UInt128(128 - 4 * k)
        }
    }
}

/// What the answer path needs from the QNAME, gathered label by label during the query
/// reader's walk (``DNSWire/readQuery(_:eachLabel:)``) so that the name is walked once: where
/// labels start (for the zone match) and, for the leading labels, their reading as IPv4 octets
/// and IPv6 nibbles (for the address, whatever the apex turns out to be). Plain values on the
/// stack; gathering allocates nothing.
struct QNameScan: QNameLabelVisitor {
    /// Bit i of word i / 64 set: a label starts at QNAME offset i (relative to QNAME's first
    /// byte; names are at most 255 bytes). The root label's bit is set by ``finish(qnameLength:)``.
    var starts: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    var labels = 0
    /// Leading labels that are one hex digit each (at most 32), and their nibbles, label i at
    /// bit 4i of `low` (i < 16) or 4(i−16) of `high`.
    var v6Run = 0
    var low: UInt64 = 0
    var high: UInt64 = 0
    /// Leading labels that are decimal octets 0–255 of 1–3 digits (at most 4), octet i in
    /// byte i.
    var v4Run = 0
    var octets: UInt32 = 0

    /// Takes the label of `length` bytes whose length byte is at `offset` of `q` (QNAME starts
    /// at ``DNSWire/headerSize``).
    @inline(__always)
    mutating func label(_ q: UnsafeRawBufferPointer, offset: Int, length len: Int) {
        setStart(offset - DNSWire.headerSize)
        let i = labels
        labels += 1
        if v6Run == i && len == 1 && i < 32, let nib = hexValue(q[offset + 1]) {
            if i < 16 { low |= UInt64(nib) << UInt64(4 * i) } else { high |= UInt64(nib) << UInt64(4 * (i - 16)) }
            v6Run += 1
        }
        if v4Run == i && i < 4 && len <= 3 {
            var val: UInt32 = 0
            var k = 1
            while k <= len {
                let d = q[offset + k] &- 0x30
                if d > 9 { return }
                val = val * 10 + UInt32(d)
                k += 1
            }
            if val <= 255 {
                octets |= val << UInt32(8 * i)
                v4Run += 1
            }
        }
    }

    /// Four one-byte labels at once (the bulk of an IPv6 name): each byte is classified as hex
    /// digit and decimal digit in 16-bit lanes without branches, and the leading run of valid
    /// lanes extends the IPv6 and IPv4 readings exactly as four ``label(_:offset:length:)``
    /// calls would.
    @inline(__always)
    mutating func fourOneByteLabels(_ q: UnsafeRawBufferPointer, offset: Int, word w: UInt64) {
        let rel = offset &- DNSWire.headerSize
        setStarts(0x55, at: rel)
        let i = labels
        labels &+= 4
        let lanes: UInt64 = 0x0001_0001_0001_0001
        let top = lanes &* 0x8000
        let x = (w >> 8) & (lanes &* 0xFF)            // the label bytes, one per 16-bit lane
        // lane + 0x8000 − c has its top bit set iff lane ≥ c (lanes are ≤ 0xFF: no carry out)
        let digit = (x &+ lanes &* (0x8000 - 0x30)) & ~(x &+ lanes &* (0x8000 - 0x3A)) & top
        let y = x | (lanes &* 0x20)                    // ASCII lower case
        let letter = (y &+ lanes &* (0x8000 - 0x61)) & ~(y &+ lanes &* (0x8000 - 0x67)) & top
        if v6Run == i && i < 32 {
            let bad = ~(digit | letter) & top
            let run = min(bad == 0 ? 4 : bad.trailingZeroBitCount >> 4, 32 - i)
            if run > 0 {
                // Nibble values per lane, then packed: lane k to bits 4k…4k+3.
                var n = (x & (lanes &* 0xF)) &+ (letter >> 15) &* 9
                n = n | (n >> 12)
                n &= 0x0000_00FF_0000_00FF
                n = (n | (n >> 24)) & 0xFFFF
                n &= (UInt64(1) << UInt64(4 * run)) &- 1
                let shift = 4 * i
                if shift < 64 {
                    low |= n << UInt64(shift)
                    if shift > 48 { high |= n >> UInt64(64 - shift) }
                } else {
                    high |= n << UInt64(shift - 64)
                }
                v6Run &+= run
            }
        }
        if v4Run == i && i < 4 {
            let bad = ~digit & top
            let run = min(bad == 0 ? 4 : bad.trailingZeroBitCount >> 4, 4 - i)
            if run > 0 {
                // Digit values, lane k to byte k.
                var o = x & (lanes &* 0xF)
                o = o | (o >> 8)
                o &= 0x0000_FFFF_0000_FFFF
                o = (o | (o >> 16)) & 0xFFFF_FFFF
                o &= (UInt64(1) << UInt64(8 * run)) &- 1
                octets |= UInt32(truncatingIfNeeded: o << UInt64(8 * i))
                v4Run &+= run
            }
        }
    }

    /// Marks the root label, which ends the name at `qnameLength − 1`.
    @inline(__always)
    mutating func finish(qnameLength: Int) { setStart(qnameLength - 1) }

    @inline(__always)
    mutating func setStart(_ rel: Int) { setStarts(1, at: rel) }

    /// Sets the bits of `pattern` (at most 8 bits wide) from QNAME offset `rel` on.
    @inline(__always)
    mutating func setStarts(_ pattern: UInt64, at rel: Int) {
        let off = UInt64(rel & 63)
        let lo = pattern &<< off
        // The part that spills into the next word (none when off + 8 ≤ 64).
        let hi = off > 56 ? pattern &>> (64 &- off) : 0
        switch rel >> 6 {
        case 0: starts.0 |= lo; starts.1 |= hi
        case 1: starts.1 |= lo; starts.2 |= hi
        case 2: starts.2 |= lo; starts.3 |= hi
        default: starts.3 |= lo
        }
    }

    /// Whether a label starts at QNAME offset `rel` (0…254).
    @inline(__always)
    func startsLabel(at rel: Int) -> Bool {
        let bit = UInt64(1) << UInt64(rel & 63)
        switch rel >> 6 {
        case 0: return starts.0 & bit != 0
        case 1: return starts.1 & bit != 0
        case 2: return starts.2 & bit != 0
        default: return starts.3 & bit != 0
        }
    }

    /// Labels starting before QNAME offset `rel`.
    @inline(__always)
    func labels(before rel: Int) -> Int {
        let m = (UInt64(1) << UInt64(rel & 63)) &- 1
        switch rel >> 6 {
        case 0: return (starts.0 & m).nonzeroBitCount
        case 1: return starts.0.nonzeroBitCount + (starts.1 & m).nonzeroBitCount
        case 2: return starts.0.nonzeroBitCount + starts.1.nonzeroBitCount + (starts.2 & m).nonzeroBitCount
        default:
            return starts.0.nonzeroBitCount + starts.1.nonzeroBitCount + starts.2.nonzeroBitCount
                + (starts.3 & m).nonzeroBitCount
        }
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
    /// Further values answering with this one (rbldnsd `ip4set`: several entries of the
    /// deciding bucket level, a value run of the store): `more` values at `next`.
    var more: Int = 0
    var next: UnsafePointer<StoreValue>? = nil
    /// dnset: the matched entry's name (its search key in the store); `$` in TXT renders it.
    var name: UnsafeRawBufferPointer? = nil

    /// Values of the hit: 1 + ``more``.
    @inline(__always) var count: Int { 1 &+ more }

    /// A and TXT of value `k` (0 = `a`, `txt`; then the run).
    @inline(__always) func a(_ k: Int) -> UInt32 { k == 0 ? a : next.unsafelyUnwrapped[k &- 1].a }
    @inline(__always) func txt(_ k: Int) -> UnsafeRawBufferPointer? { k == 0 ? txt : next.unsafelyUnwrapped[k &- 1].txt }
}

/// The addresses `$` renders in this answer (<doc:AnswerRules#Reading-the-query-name>: IPv4
/// data answered through ::ffff:0:0/96 or 2002::/16 renders the embedded IPv4 address).
struct RenderAddresses {
    var v4: UInt32 = 0
    var v6: UInt128 = 0
    /// Prefix lengths: below 32 (128) `$` renders `address/length` (signed answers only).
    var bits4: UInt8 = 32
    var bits6: UInt8 = 128

    /// Renders the block of `labels` labels instead of the address, as the export's `$` for
    /// a wildcard does: in the IPv4 tree the /8·labels; in the IPv6 tree the /4·labels and, for
    /// IPv4 data there, the IPv4 block its image stands for (::ffff:0:0/96 or 2002::/16).
    mutating func block(labels: Int, v4Tree: Bool) {
        if v4Tree {
            let b = min(32, 8 * labels)
            v4 = b == 0 ? 0 : v4 & ~UInt32(0) << UInt32(32 - b)
            bits4 = UInt8(b)
            return
        }
        let b = min(128, 4 * labels)
        v6 = b == 0 ? 0 : v6 & ~UInt128(0) << UInt128(128 - b)
        bits6 = UInt8(b)
        let b4 = v6 >> 32 == 0xffff ? max(0, b - 96) : min(32, max(0, b - 16))
        v4 = b4 == 0 ? 0 : v4 & ~UInt32(0) << UInt32(32 - b4)
        bits4 = UInt8(b4)
    }
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
                    // A value run (rbldnsd ip4set: several entries decide together) answers
                    // with each of its values.
                    let p = sets[i].valuePointer + Int(v)
                    var more = 0
                    while p[more].continues { more &+= 1 }
                    hits[n] = Hit(a: p[0].a, txt: p[0].txt, ttl: sets[i].ttl, fromV4: true, more: more, next: p + 1)
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
                    // A value run (rbldnsd ip4set: several entries decide together) answers
                    // with each of its values.
                    let p = sets[i].valuePointer + Int(v)
                    var more = 0
                    while p[more].continues { more &+= 1 }
                    hits[n] = Hit(a: p[0].a, txt: p[0].txt, ttl: sets[i].ttl, fromV4: false, more: more, next: p + 1)
                    n += 1
                }
            }
        }
    }

    /// Every dataset listing the full address the name spells (<doc:AnswerRules#Which-entries-answer>), into `hits`
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
    /// in either reading (<doc:AnswerRules#RFC-8020>). A full IPv4 name that is not listed has nothing below it
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
    /// NXDOMAIN (RFC 8020; <doc:AnswerRules#Answers>).
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

/// What an ACL decided for a client (rbldnsd `acl`, <doc:ZoneDataAnswers#ACLs>). Ordered by severity: of a zone
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
