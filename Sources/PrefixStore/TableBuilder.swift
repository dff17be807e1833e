// Turns flattened listed ranges into the table arrays of the store (see StoreFormat.md):
// one entry per listed range whose size is m·2^e with m < 256 (every CIDR prefix, and most
// merged runs of adjacent prefixes): the entry says the size, and nothing is listed after it
// until the next key. Any other range gets an entry that runs to the next key plus, when the
// next listed range does not start right after it, one "not listed" terminator entry. Random
// CIDR data is thus one entry per listed range; the worst case is two.

/// Table layout knobs. The defaults are the measured choice (StoreFormat.md, "Why this layout");
/// the others exist so the benchmark can show the alternatives. Every combination is valid
/// valid in the current format version and reads with the same code.
public struct StoreLayoutOptions: Sendable, Hashable {
    /// Interleave keys and tails into one record per entry (the found key's tail then shares
    /// its cache line and page) instead of two separate arrays.
    public var interleaved: Bool
    /// log2 of the mean entries per radix bucket: 2^(⌊log2 n⌋ − slack) buckets (at most 2^24).
    public var radixSlack: Int

    public init(interleaved: Bool = true, radixSlack: Int = 1) {
        self.interleaved = interleaved; self.radixSlack = max(0, radixSlack)
    }

    static let maxRadixBits = 24

    func radixBits(forCount n: Int) -> Int {
        if n <= 1 { return 0 }
        let log2n = Int.bitWidth - n.leadingZeroBitCount - 1
        return max(0, min(StoreLayoutOptions.maxRadixBits, log2n - radixSlack))
    }
}

struct TableBuilder: RangeSink {
    let family: AddressFamily
    /// 0 = IPv4 32-bit keys, 1 = IPv6 high 64 bits, 2 = IPv6 128 bits (hi + lo arrays).
    let kind: UInt8
    let valueWidth: Int
    let notListed: UInt32
    let domainMax: UInt128
    let domainBits: Int

    var keys32: [UInt32] = []
    var hi: [UInt64] = []
    /// Tail fields, interleaved into tail records (see ``RangeTable``) when copied out.
    var lo: [UInt64] = []
    var vals: [UInt32] = []
    /// Size per entry: exponent | mantissa << 8 (mantissa 0: "up to the next key").
    var spans: [UInt16] = []
    let tailStride: Int
    var count: Int { spans.count }
    var listed = 0
    var pendingOpen = false
    var pendingEnd: UInt128 = 0

    let options: StoreLayoutOptions
    var interleaved: Bool { options.interleaved }
    // Filled by `finish()`.
    var radix: [UInt32] = []
    var radixBits = 0
    var radixShift = 0

    /// Key layout for a dataset: IPv6 tables whose prefixes are all /64 or shorter have every
    /// boundary /64-aligned, so the high 64 bits are the whole key.
    static func kind(for entries: [PrefixEntry], family: AddressFamily) -> UInt8 {
        if family == .ipv4 { return 0 }
        for e in entries where e.prefixLength > 64 { return 2 }
        return 1
    }

    static func valueWidth(forCount n: Int) -> Int {
        n < 0xFF ? 1 : n < 0xFFFF ? 2 : 4
    }

    init(family: AddressFamily, kind: UInt8, valueCount: Int, options: StoreLayoutOptions = .init()) {
        self.family = family; self.kind = kind; self.options = options
        valueWidth = TableBuilder.valueWidth(forCount: valueCount)
        notListed = valueWidth == 1 ? 0xFF : valueWidth == 2 ? 0xFFFF : 0xFFFF_FFFF
        tailStride = RangeTable.tailStride(kind: kind, valueWidth: valueWidth)
        switch kind {
        case 0: domainMax = UInt128(UInt32.max); domainBits = 32
        case 1: domainMax = UInt128(UInt64.max); domainBits = 64
        default: domainMax = .max; domainBits = 128
        }
    }

    mutating func reserveHint(_ n: Int) { reserve(n) }

    mutating func reserve(_ n: Int) {
        if kind == 0 { keys32.reserveCapacity(n) } else { hi.reserveCapacity(n) }
        if kind == 2 { lo.reserveCapacity(n) }
        vals.reserveCapacity(n)
        spans.reserveCapacity(n)
    }

    @inline(__always)
    mutating func append(_ key: UInt128, _ value: UInt32, _ size: UInt16) {
        switch kind {
        case 0: keys32.append(UInt32(truncatingIfNeeded: key))
        case 1: hi.append(UInt64(truncatingIfNeeded: key))
        default:
            hi.append(UInt64(truncatingIfNeeded: key >> 64))
            lo.append(UInt64(truncatingIfNeeded: key))
        }
        vals.append(value)
        spans.append(size)
    }

    mutating func addListed(first: UInt128, last: UInt128, value: UInt32) {
        let f = kind == 1 ? first >> 64 : first
        let l = kind == 1 ? last >> 64 : last
        if pendingOpen && f != pendingEnd + 1 {
            append(pendingEnd + 1, notListed, 0)
        }
        pendingOpen = false
        listed += 1
        let diff = l - f
        if diff == domainMax {
            append(f, value, UInt16(domainBits) | 1 << 8)   // 1·2^width: the whole space
            return
        }
        let size = diff + 1
        let e = size.trailingZeroBitCount
        let m = size >> UInt128(e)
        if m <= 0xFF {
            append(f, value, UInt16(e) | UInt16(m) << 8)
        } else {
            append(f, value, 0)
            if l != domainMax { pendingOpen = true; pendingEnd = l }
        }
    }

    /// High (or only) key of entry `i`, widened.
    @inline(__always)
    func searchKey(_ i: Int) -> UInt64 { kind == 0 ? UInt64(keys32[i]) : hi[i] }

    /// Closes the last range and builds the radix index.
    mutating func finish() {
        if pendingOpen {
            append(pendingEnd + 1, notListed, 0)
            pendingOpen = false
        }
        let n = count
        radixBits = options.radixBits(forCount: n)
        let buckets = 1 << radixBits
        radix = [UInt32](repeating: UInt32(truncatingIfNeeded: n), count: buckets + 1)
        guard n > 0 else { radixShift = 0; radix[0] = 0; return }
        let first = searchKey(0)
        let range = searchKey(n - 1) - first
        let rangeBits = UInt64.bitWidth - range.leadingZeroBitCount
        radixShift = max(0, rangeBits - radixBits)
        var next = 0
        for i in 0..<n {
            let b = Int((searchKey(i) - first) >> UInt64(radixShift))
            while next <= b { radix[next] = UInt32(truncatingIfNeeded: i); next += 1 }
        }
        // Remaining buckets (beyond the last key's) already hold n.
    }

    var keyWidth: Int { kind == 0 ? 4 : 8 }

    /// Byte sizes of the arrays in file order: keys, tails (each with 8 bytes of padding after
    /// the last tail), radix. Interleaved: one records array (keys) and no tails array.
    var arraySizes: [Int] {
        let radixBytes = radix.count * 4
        if interleaved { return [count * (keyWidth + tailStride) + 8, 0, radixBytes] }
        return [keyWidth * count, count * tailStride + 8, radixBytes]
    }

    /// Copies the arrays to `base + offsets[k]` (little-endian). The destination is zeroed, so
    /// the padding after the last tail stays zero.
    func copyArrays(to base: UnsafeMutableRawPointer, offsets: [Int]) {
        let kw = keyWidth
        let keyStride = interleaved ? kw + tailStride : kw
        let keysDst = base.advanced(by: offsets[0])
        let tailsDst = interleaved ? keysDst + kw : base.advanced(by: offsets[1])
        let tailsStep = interleaved ? keyStride : tailStride
        let vOff = kind == 2 ? 8 : 0
        let width = valueWidth
        let n = count
        keys32.withUnsafeBufferPointer { k32 in
        hi.withUnsafeBufferPointer { h in
        lo.withUnsafeBufferPointer { l in
        vals.withUnsafeBufferPointer { v in
        spans.withUnsafeBufferPointer { sp in
            for i in 0..<n {
                if kind == 0 {
                    keysDst.storeBytes(of: k32[i].littleEndian, toByteOffset: i &* keyStride, as: UInt32.self)
                } else {
                    keysDst.storeBytes(of: h[i].littleEndian, toByteOffset: i &* keyStride, as: UInt64.self)
                }
                let t = tailsDst + i &* tailsStep
                if kind == 2 { t.storeBytes(of: l[i].littleEndian, as: UInt64.self) }
                // Value (width bytes) then size exponent and mantissa; written as one 8-byte little-endian store that the
                // next record's fields overwrite (records are written in order; padding follows
                // the last one).
                let packed = UInt64(v[i]) | UInt64(sp[i]) << UInt64(8 * width)   // value, exponent, mantissa
                (t + vOff).storeBytes(of: packed.littleEndian, as: UInt64.self)
            }
        }}}}}
        radix.withUnsafeBufferPointer { r in
            let d = base.advanced(by: offsets[2])
            for (i, x) in r.enumerated() { d.storeBytes(of: x.littleEndian, toByteOffset: i * 4, as: UInt32.self) }
        }
    }

    /// Offsets of the arrays when laid out from `start`, each 64-byte aligned; returns the end.
    func layout(from start: Int) -> (offsets: [Int], end: Int) {
        var off = start
        var offs: [Int] = []
        for size in arraySizes {
            off = align(off, 64)
            offs.append(size == 0 ? 0 : off)
            off += size
        }
        return (offs, off)
    }

    /// A table in its own owned buffer (the reference flattening's result).
    mutating func finishStandalone() -> RangeTable {
        finish()
        let (offs, end) = layout(from: 0)
        let mem = StoreMemory(zeroed: max(end, 64))
        copyArrays(to: mem.mutableBase, offsets: offs)
        return makeTable(mem, offs)
    }

    func makeTable(_ mem: StoreMemory, _ offs: [Int]) -> RangeTable {
        let b = UnsafeRawPointer(mem.mutableBase)
        return RangeTable(family: family, kind: kind, count: count, keys: b + offs[0],
                          tails: interleaved ? b + offs[0] + keyWidth : b + offs[1], interleaved: interleaved,
                          valueWidth: valueWidth, radix: (b + offs[2]).assumingMemoryBound(to: UInt32.self),
                          radixBits: radixBits, radixShift: radixShift, rangeCount: listed, owner: mem)
    }
}

@inline(__always)
func align(_ x: Int, _ a: Int) -> Int { (x + a - 1) & ~(a - 1) }
