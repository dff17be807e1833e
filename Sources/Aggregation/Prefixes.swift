import PrefixStore
import ZoneSource

// One 128-bit space for both families: IPv4 lives in ::ffff:0:0/96 (RFC 4291 §2.5.5.2), so an
// IPv4 /24 is a /120 here. Every table below is keyed by UInt128 addresses in this space.

/// `::ffff:0:0`, the base of IPv4-mapped addresses.
let mappedBase: UInt128 = 0xFFFF_0000_0000

@inline(__always) func prefixMask(_ len: Int) -> UInt128 {
    len <= 0 ? 0 : len >= 128 ? .max : ~(UInt128.max >> UInt128(len))
}

/// The last address of the prefix `address/len`.
@inline(__always) func prefixEnd(_ address: UInt128, _ len: Int) -> UInt128 {
    address | ~prefixMask(len)
}

@inline(__always) func isMapped(_ a: UInt128) -> Bool { a >> 32 == 0xFFFF }

/// A prefix in the shared space: `address` has zero host bits; `length` 0…128.
struct PrefixKey: Hashable, Comparable, Sendable {
    var address: UInt128
    var length: UInt8

    init(_ address: UInt128, _ length: Int) {
        self.address = address & prefixMask(length)
        self.length = UInt8(length)
    }

    /// The prefix of `cidr` in the shared space (IPv4 mapped).
    init(_ cidr: CIDRPrefix) {
        if cidr.family == .ipv4 { self.init(mappedBase | cidr.address, cidr.length + 96) }
        else { self.init(cidr.address, cidr.length) }
    }

    var len: Int { Int(length) }
    var end: UInt128 { prefixEnd(address, len) }
    var family: AddressFamily { isMapped(address) && length >= 96 ? .ipv4 : .ipv6 }

    func contains(_ other: PrefixKey) -> Bool {
        other.length >= length && other.address & prefixMask(len) == address
    }
    func contains(address a: UInt128) -> Bool { a & prefixMask(len) == address }

    /// Back to the family's own numbering (IPv4 in the low 32 bits, length 0…32).
    var cidr: CIDRPrefix {
        family == .ipv4
            ? CIDRPrefix(family: .ipv4, address: address & 0xFFFF_FFFF, length: len - 96)
            : CIDRPrefix(family: .ipv6, address: address, length: len)
    }

    static func < (a: PrefixKey, b: PrefixKey) -> Bool {
        a.address != b.address ? a.address < b.address : a.length < b.length
    }
}

/// Prefix lengths in the shared space for a family's length: IPv4 /24 is 120.
@inline(__always) func sharedLength(_ len: Int, _ family: AddressFamily) -> Int {
    family == .ipv4 ? len + 96 : len
}

/// Prefixes of one kind (allocations, assignment sizes, whitelist entries) flattened for
/// longest-match lookups: disjoint ascending ranges, each owned by the longest prefix covering
/// it. Of equal prefixes the first given wins; the others are reported in `duplicates`.
struct PrefixIndex: Sendable {
    /// The distinct prefixes sorted by (address, length), with the caller's index of each.
    private(set) var sorted: [(key: PrefixKey, index: Int32)] = []
    /// Caller indexes of prefixes dropped as equal to an earlier one.
    private(set) var duplicates: [Int32] = []
    /// Per sorted position: the position of the innermost prefix containing it, or -1.
    private var parent: [Int32] = []
    private var starts: [UInt128] = []
    private var ends: [UInt128] = []
    /// Per range: the sorted position of its owner.
    private var owners: [Int32] = []

    init() {}

    /// Builds from `prefixes[i]` carrying index `i`.
    init(_ prefixes: [PrefixKey]) {
        var list = prefixes.enumerated().map { (key: $0.element, index: Int32($0.offset)) }
        list.sort { $0.key != $1.key ? $0.key < $1.key : $0.index < $1.index }
        for e in list {
            if sorted.last?.key == e.key { duplicates.append(e.index) } else { sorted.append(e) }
        }
        parent = Array(repeating: -1, count: sorted.count)

        // Sweep with a stack of open prefixes (two prefixes either nest or are disjoint).
        var stack: [Int] = []
        var pos: UInt128 = 0
        var done = false  // the sweep passed the last address
        func emit(_ from: UInt128, _ to: UInt128, _ owner: Int) {
            starts.append(from); ends.append(to); owners.append(Int32(owner))
        }
        func pop() {
            let top = stack.removeLast()
            let end = sorted[top].key.end
            if !done && pos <= end { emit(pos, end, top) }
            if end == .max { done = true } else if !done { pos = max(pos, end + 1) }
        }
        for i in sorted.indices {
            let k = sorted[i].key
            while let top = stack.last, sorted[top].key.end < k.address { pop() }
            if let top = stack.last {
                parent[i] = Int32(top)
                if !done && pos < k.address { emit(pos, k.address - 1, top) }
            }
            if !done { pos = max(pos, k.address) }
            stack.append(i)
        }
        while !stack.isEmpty { pop() }
    }

    var isEmpty: Bool { sorted.isEmpty }

    /// The sorted position of the longest prefix containing `address`, or nil.
    private func position(_ address: UInt128) -> Int? {
        var lo = 0, hi = starts.count
        while lo < hi {
            let m = (lo + hi) >> 1
            if starts[m] <= address { lo = m + 1 } else { hi = m }
        }
        guard lo > 0, address <= ends[lo - 1] else { return nil }
        return Int(owners[lo - 1])
    }

    /// The caller's index of the longest prefix containing `address`, or nil. O(log n).
    func lookup(_ address: UInt128) -> Int32? {
        position(address).map { sorted[$0].index }
    }

    /// The caller's index of the longest prefix containing all of `p` (its length ≤ p's).
    func longestContaining(_ p: PrefixKey) -> Int32? {
        guard var i = position(p.address) else { return nil }
        while sorted[i].key.length > p.length {
            let up = parent[i]
            if up < 0 { return nil }
            i = Int(up)
        }
        return sorted[i].index
    }

    /// Whether some prefix lies strictly inside `p` (longer than p, within it).
    func hasPrefix(strictlyInside p: PrefixKey) -> Bool {
        var lo = 0, hi = sorted.count
        while lo < hi {
            let m = (lo + hi) >> 1
            if sorted[m].key.address < p.address { lo = m + 1 } else { hi = m }
        }
        var i = lo
        let end = p.end
        while i < sorted.count && sorted[i].key.address <= end {
            if sorted[i].key.length > p.length { return true }
            i += 1
        }
        return false
    }
}

/// An open-addressing hash table from addresses (UInt128, never 0) to good/bad event counts:
/// 24 bytes a slot, no per-entry allocation, a cheap multiplicative hash.
struct AddressCounts {
    private(set) var keys: [UInt128]
    private(set) var bad: [UInt32]
    private(set) var good: [UInt32]
    private(set) var count = 0
    private var mask: Int

    init(capacity: Int = 1 << 16) {
        var c = 16
        while c < capacity { c <<= 1 }
        keys = Array(repeating: 0, count: c)
        bad = Array(repeating: 0, count: c)
        good = Array(repeating: 0, count: c)
        mask = c - 1
    }

    @inline(__always) static func hash(_ k: UInt128) -> Int {
        var h = UInt64(truncatingIfNeeded: k) &* 0x9E37_79B9_7F4A_7C15
        h ^= UInt64(truncatingIfNeeded: k >> 64) &* 0xC2B2_AE3D_27D4_EB4F
        h ^= h >> 31
        h &*= 0xBF58_476D_1CE4_E5B9
        h ^= h >> 29
        return Int(truncatingIfNeeded: h)
    }

    /// Adds events for `key` (saturating at UInt32.max).
    mutating func add(_ key: UInt128, bad b: UInt32, good g: UInt32) {
        if (count + 1) * 10 > keys.count * 7 { grow() }
        var i = Self.hash(key) & mask
        while true {
            let k = keys[i]
            if k == key { break }
            if k == 0 { keys[i] = key; count += 1; break }
            i = (i + 1) & mask
        }
        let (nb, ob) = bad[i].addingReportingOverflow(b)
        bad[i] = ob ? .max : nb
        let (ng, og) = good[i].addingReportingOverflow(g)
        good[i] = og ? .max : ng
    }

    private mutating func grow() {
        let old = (keys, bad, good)
        let c = keys.count * 2
        keys = Array(repeating: 0, count: c)
        bad = Array(repeating: 0, count: c)
        good = Array(repeating: 0, count: c)
        mask = c - 1
        count = 0
        for i in 0..<old.0.count where old.0[i] != 0 {
            var j = Self.hash(old.0[i]) & mask
            while keys[j] != 0 { j = (j + 1) & mask }
            keys[j] = old.0[i]; bad[j] = old.1[i]; good[j] = old.2[i]
            count += 1
        }
    }

    /// Calls `body` for every address with its counts, in table order.
    func forEach(_ body: (UInt128, UInt32, UInt32) -> Void) {
        for i in 0..<keys.count where keys[i] != 0 { body(keys[i], bad[i], good[i]) }
    }
}

/// Seconds in the largest of d/h/m/s that divides them: `604800` → `7d`, `5400` → `90m`.
func durationText(_ s: Int64) -> String {
    if s == 0 { return "unlimited" }
    for (unit, size) in [("d", Int64(86400)), ("h", 3600), ("m", 60)] where s % size == 0 {
        return "\(s / size)\(unit)"
    }
    return "\(s)s"
}

/// Parses `30`, `30s`, `15m`, `2h`, `7d`, `1w` into seconds; nil when malformed.
func parseDuration(_ text: String) -> Int64? {
    var t = Substring(text)
    var mult: Int64 = 1
    if let last = t.last, !last.isNumber {
        switch last {
        case "s", "S": mult = 1
        case "m", "M": mult = 60
        case "h", "H": mult = 3600
        case "d", "D": mult = 86400
        case "w", "W": mult = 604800
        default: return nil
        }
        t = t.dropLast()
    }
    guard let n = Int64(t), n >= 0 else { return nil }
    let (r, o) = n.multipliedReportingOverflow(by: mult)
    return o ? nil : r
}

/// The last path component, for TXT records (no directory names leak into public answers).
func baseName(_ path: String) -> String {
    path.split(separator: "/").last.map(String.init) ?? path
}

/// `1 address`, `2 addresses`.
func counted<N: BinaryInteger>(_ n: N, _ one: String, _ many: String) -> String {
    n == 1 ? "1 \(one)" : "\(n) \(many)"
}
