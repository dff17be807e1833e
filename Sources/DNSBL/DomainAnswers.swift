import PrefixStore

// dnset: answers from domain-name datasets (<doc:AnswerRules#Domain-lists>). The labels left
// of the serving apex become the name table's search key (DomainKey: labels right to left,
// each followed by a zero byte) in a stack buffer; every dnset dataset of the zone is then
// looked up with it. Nothing here allocates.

/// One dnset dataset as the responder serves it.
struct ServingNames: @unchecked Sendable {
    let table: DomainTable
    /// Answer TTL in seconds.
    let ttl: UInt32
    let valueStorage: ValueStorage
    var valuePointer: UnsafePointer<StoreValue> { UnsafePointer(valueStorage.base) }

    init(table: DomainTable, values: [StoreValue], ttl: UInt32) {
        self.table = table; self.ttl = ttl
        valueStorage = ValueStorage(values)
    }
}

extension ServingZone {
    /// Calls `body` with the search key of the name `q[start..<end]` (encoded labels, the
    /// serving apex excluded), lower-cased, or with a zero length when a label holds a zero
    /// byte (such a name matches nothing: keys use zero bytes as label ends).
    @inline(__always)
    func withNameKey<R>(_ q: UnsafeRawBufferPointer, start: Int, end: Int,
                        _ body: (UnsafeRawPointer, Int) -> R) -> R {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256) { buf in
            let out = UnsafeMutableRawPointer(buf.baseAddress!)
            let total = end &- start
            var p = start
            var ok = total > 0 && total <= 255
            while ok && p < end {
                let l = Int(q[p])
                let dst = total &- (p &- start) &- (l &+ 1)
                var k = 0
                while k < l {
                    let b = q[p &+ 1 &+ k]
                    if b == 0 { ok = false; break }
                    out.storeBytes(of: lowerASCII(b), toByteOffset: dst &+ k, as: UInt8.self)
                    k &+= 1
                }
                out.storeBytes(of: 0, toByteOffset: dst &+ l, as: UInt8.self)
                p &+= 1 &+ l
            }
            return body(UnsafeRawPointer(out), ok ? total : 0)
        }
    }

    /// Every dnset dataset listing the name `q[start..<end]` (rbldnsd's dnset rule,
    /// ``PrefixStore/DomainTable/match(at:)``), appended to `hits` from `n` (capacity ≥ the
    /// zone's dataset count). `listedBelow` is set when a dataset that does not list the name
    /// lists some name strictly below it (RFC 8020: NODATA, not NXDOMAIN, if nothing else
    /// answers); one binary search per dataset gives both.
    func lookupNames(_ q: UnsafeRawBufferPointer, start: Int, end: Int,
                     _ hits: UnsafeMutableBufferPointer<Hit>, _ n: inout Int, listedBelow: inout Bool) {
        var count = n
        var below = false
        withNameKey(q, start: start, end: end) { key, len in
            guard len > 0 else { return }
            names.withUnsafeBufferPointer { sets in
                for i in sets.indices {
                    let table = sets[i].table
                    guard table.nameCount > 0 else { continue }
                    let at = table.locate(key, len)
                    guard let m = table.match(at: at) else {
                        if !below { below = table.hasListedBelow(at: at, key, len) }
                        continue
                    }
                    let p = sets[i].valuePointer + Int(m.value)
                    var more = 0
                    while p[more].continues { more &+= 1 }
                    var h = Hit(a: p[0].a, txt: p[0].txt, ttl: sets[i].ttl, fromV4: false, more: more, next: p + 1)
                    h.name = table.key(m.entry)
                    hits[count] = h
                    count &+= 1
                }
            }
        }
        n = count
        if below { listedBelow = true }
    }
}
