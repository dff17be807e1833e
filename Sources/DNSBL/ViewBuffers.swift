/// Fixed-size buffers for the DO=1 answer path: names and label lists live on the stack, so a
/// proof and a signed answer from cached signatures allocate nothing. A DNS name is at most
/// 255 bytes (RFC 1035 §2.3.4), so at most 127 labels.

/// An uncompressed wire name (lower case where the caller made it so) of at most 255 bytes.
struct NameBuffer {
    var bytes = InlineArray<256, UInt8>(repeating: 0)
    var count = 0

    init() {}

    /// A copy of `name` (at most 256 bytes are kept).
    init(_ name: [UInt8]) {
        count = min(name.count, 256)
        for i in 0..<count { bytes[i] = name[i] }
    }

    /// The name as an array (allocates; for the reference view and the slow paths).
    var array: [UInt8] {
        var me = self
        var out = [UInt8](repeating: 0, count: count)
        for i in 0..<count { out[i] = me.bytes[i] }
        return out
    }

    mutating func append(_ b: UInt8) {
        guard count < 256 else { return }
        bytes[count] = b
        count += 1
    }

    static func == (a: NameBuffer, b: NameBuffer) -> Bool {
        guard a.count == b.count else { return false }
        var a = a, b = b
        for i in 0..<a.count where a.bytes[i] != b.bytes[i] { return false }
        return true
    }

    /// Whether the name equals `other`'s bytes.
    func equals(_ other: [UInt8]) -> Bool {
        guard count == other.count else { return false }
        var me = self
        for i in 0..<count where me.bytes[i] != other[i] { return false }
        return true
    }

    /// Labels, root not counted.
    var labelCount: Int {
        var me = self
        var n = 0, p = 0
        while p < count && me.bytes[p] != 0 { n += 1; p += 1 + Int(me.bytes[p]) }
        return n
    }

    /// Byte offset of the suffix that drops the first `labels` labels.
    func offset(droppingLabels labels: Int) -> Int {
        var me = self
        var p = 0
        for _ in 0..<labels where p < count && me.bytes[p] != 0 { p += 1 + Int(me.bytes[p]) }
        return p
    }
}

/// The labels of a name below a zone apex, top-down (the label next to the apex first), their
/// bytes kept in one fixed buffer.
struct LabelPath {
    var bytes = InlineArray<256, UInt8>(repeating: 0)
    /// `ends[i]`: one past the last byte of label `i` in `bytes`.
    var ends = InlineArray<130, UInt8>(repeating: 0)
    var count = 0

    init() {}

    /// The labels of `name` (uncompressed wire form) below `apex`; nil when `name` is not at
    /// or below `apex`.
    init?(_ name: NameBuffer, apex: [UInt8]) {
        var name = name
        var starts = InlineArray<128, UInt8>(repeating: 0)
        var n = 0, p = 0
        while p < name.count && name.bytes[p] != 0 {
            guard n < 128 else { return nil }
            starts[n] = UInt8(truncatingIfNeeded: p)
            n += 1
            p += 1 + Int(name.bytes[p])
        }
        guard p < name.count else { return nil }
        // The apex must be a label suffix of the name.
        var k = n
        while k >= 0 {
            let s = k == n ? p : Int(starts[k])
            if name.count - s == apex.count {
                for i in 0..<apex.count where name.bytes[s + i] != apex[i] { return nil }
                var j = k - 1
                while j >= 0 {
                    let at = Int(starts[j])
                    guard appendLabel(&name, from: at + 1, length: Int(name.bytes[at])) else { return nil }
                    j -= 1
                }
                return
            }
            if name.count - s > apex.count { return nil }
            k -= 1
        }
        return nil
    }

    mutating func start(_ i: Int) -> Int { i == 0 ? 0 : Int(ends[i - 1]) }
    mutating func length(_ i: Int) -> Int { Int(ends[i]) - start(i) }
    var byteCount: Int { mutating get { count == 0 ? 0 : Int(ends[count - 1]) } }

    /// Appends a label copied from `name`; false when the buffer is full.
    mutating func appendLabel(_ name: inout NameBuffer, from: Int, length: Int) -> Bool {
        let at = byteCount
        guard count < 129, at + length <= 255 else { return false }
        for i in 0..<length { bytes[at + i] = name.bytes[from + i] }
        ends[count] = UInt8(at + length)
        count += 1
        return true
    }

    /// Appends a label of 1…3 bytes (`n` of `b0`, `b1`, `b2`); false when the buffer is full.
    @discardableResult
    mutating func appendShort(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, _ n: Int) -> Bool {
        let at = byteCount
        guard count < 129, at + n <= 255 else { return false }
        bytes[at] = b0
        if n > 1 { bytes[at + 1] = b1 }
        if n > 2 { bytes[at + 2] = b2 }
        ends[count] = UInt8(at + n)
        count += 1
        return true
    }

    /// The first `k` labels.
    func prefix(_ k: Int) -> LabelPath {
        var p = self
        p.count = min(k, count)
        return p
    }

    /// The labels as arrays (allocates; for tests and the slow paths).
    var arrays: [[UInt8]] {
        var me = self
        return (0..<count).map { i in (me.start(i)..<Int(me.ends[i])).map { me.bytes[$0] } }
    }

    /// The wire name of these labels followed by `apex`.
    mutating func name(apex: [UInt8]) -> NameBuffer {
        var out = NameBuffer()
        var i = count - 1
        while i >= 0 {
            out.append(UInt8(length(i)))
            for b in start(i)..<Int(ends[i]) { out.append(bytes[b]) }
            i -= 1
        }
        for i in 0..<apex.count { out.append(apex[i]) }
        return out
    }

    /// Canonical order (RFC 4034 §6.1) of two names given as labels below one apex.
    static func compare(_ a: inout LabelPath, _ b: inout LabelPath) -> Int {
        var i = 0
        let m = min(a.count, b.count)
        while i < m {
            let xs = a.start(i), xn = a.length(i), ys = b.start(i), yn = b.length(i)
            var p = 0
            while p < xn && p < yn {
                let x = a.bytes[xs + p], y = b.bytes[ys + p]
                if x != y { return Int(x) - Int(y) }
                p += 1
            }
            if xn != yn { return xn - yn }
            i += 1
        }
        return a.count - b.count
    }
}

/// ``ViewNSEC`` in fixed buffers: owner, next owner and the types as a bit set (bit t: type t;
/// every type of the signed view is below 64).
struct WireNSEC {
    var owner = NameBuffer()
    var next = NameBuffer()
    var types: UInt64 = 0

    init() {}

    init(owner: NameBuffer, next: NameBuffer, types: UInt64) {
        self.owner = owner; self.next = next; self.types = types
    }

    /// From the protocol's form (allocation-free types only below 64; others are dropped,
    /// which no view produces).
    init(_ n: ViewNSEC) {
        owner = NameBuffer(n.owner); next = NameBuffer(n.next)
        for t in n.types where t < 64 { types |= 1 << UInt64(t) }
    }

    var typeList: [UInt16] { (0..<64).filter { types & (1 << UInt64($0)) != 0 }.map { UInt16($0) } }

    /// The protocol's form (allocates).
    var viewNSEC: ViewNSEC { ViewNSEC(owner: owner.array, next: next.array, types: typeList) }
}

/// ``ViewProof`` in fixed buffers (see there for the fields); the closest encloser is the
/// QNAME's suffix of `closestEncloserLabels` labels below the apex.
struct WireProof {
    var exists = false
    var nsec = WireNSEC()
    var closestEncloserLabels = 0
    var hasWildcard = false
    var wildcard = WireNSEC()
    var wildcardExists = false

    init() {}

    init(_ p: ViewProof, apex: [UInt8]) {
        exists = p.exists
        nsec = WireNSEC(p.nsec)
        closestEncloserLabels = max(0, labelCount(p.closestEncloser) - labelCount(apex))
        if let w = p.wildcard { hasWildcard = true; wildcard = WireNSEC(w) }
        wildcardExists = p.wildcardExists
    }
}
