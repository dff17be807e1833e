// Turns flattened listed ranges into the table arrays of the store (see StoreFormat.md):
// one entry per listed range whose size is a power of two (span byte = log2 of the size; nothing
// is listed after it until the next key), otherwise an entry with span 0xFF that runs to the
// next key plus, when the next listed range does not start right after it, one "not listed"
// terminator entry. Random CIDR data is thus one entry per listed range; the worst case is two.

/// Radix bucket count policy: 2^bits buckets for n entries, about 2^`radixSlack` entries each.
enum RadixPolicy {
    /// log2 of the mean entries per bucket; measured (see StoreFormat.md): 2 is the best
    /// trade of index bytes against keys scanned per lookup.
    nonisolated(unsafe) static var slack = 2
    static let maxBits = 24

    static func bits(forCount n: Int) -> Int {
        if n <= 1 { return 0 }
        let log2n = Int.bitWidth - n.leadingZeroBitCount - 1
        return max(0, min(maxBits, log2n - slack))
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
    var lo: [UInt64] = []
    var vals: [UInt8] = []
    var spans: [UInt8] = []
    var listed = 0
    var pendingOpen = false
    var pendingEnd: UInt128 = 0

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

    init(family: AddressFamily, kind: UInt8, valueCount: Int) {
        self.family = family; self.kind = kind
        valueWidth = TableBuilder.valueWidth(forCount: valueCount)
        notListed = valueWidth == 1 ? 0xFF : valueWidth == 2 ? 0xFFFF : 0xFFFF_FFFF
        switch kind {
        case 0: domainMax = UInt128(UInt32.max); domainBits = 32
        case 1: domainMax = UInt128(UInt64.max); domainBits = 64
        default: domainMax = .max; domainBits = 128
        }
    }

    var count: Int { spans.count }

    mutating func reserve(_ n: Int) {
        switch kind {
        case 0: keys32.reserveCapacity(n)
        case 1: hi.reserveCapacity(n)
        default: hi.reserveCapacity(n); lo.reserveCapacity(n)
        }
        vals.reserveCapacity(n * valueWidth)
        spans.reserveCapacity(n)
    }

    @inline(__always)
    mutating func append(_ key: UInt128, _ value: UInt32, _ span: UInt8) {
        switch kind {
        case 0: keys32.append(UInt32(truncatingIfNeeded: key))
        case 1: hi.append(UInt64(truncatingIfNeeded: key))
        default:
            hi.append(UInt64(truncatingIfNeeded: key >> 64))
            lo.append(UInt64(truncatingIfNeeded: key))
        }
        switch valueWidth {
        case 1: vals.append(UInt8(truncatingIfNeeded: value))
        case 2:
            vals.append(UInt8(truncatingIfNeeded: value)); vals.append(UInt8(truncatingIfNeeded: value >> 8))
        default:
            vals.append(UInt8(truncatingIfNeeded: value)); vals.append(UInt8(truncatingIfNeeded: value >> 8))
            vals.append(UInt8(truncatingIfNeeded: value >> 16)); vals.append(UInt8(truncatingIfNeeded: value >> 24))
        }
        spans.append(span)
    }

    mutating func addListed(first: UInt128, last: UInt128, value: UInt32) {
        let f = kind == 1 ? first >> 64 : first
        let l = kind == 1 ? last >> 64 : last
        if pendingOpen && f != pendingEnd + 1 {
            append(pendingEnd + 1, notListed, 0xFF)
        }
        pendingOpen = false
        listed += 1
        let diff = l - f
        if diff == domainMax {
            append(f, value, UInt8(domainBits))
            return
        }
        let size = diff + 1
        if size & (size - 1) == 0 {
            append(f, value, UInt8(size.trailingZeroBitCount))
        } else {
            append(f, value, 0xFF)
            if l != domainMax { pendingOpen = true; pendingEnd = l }
        }
    }

    /// High (or only) key of entry `i`, widened.
    @inline(__always)
    func searchKey(_ i: Int) -> UInt64 { kind == 0 ? UInt64(keys32[i]) : hi[i] }

    /// Closes the last range and builds the radix index.
    mutating func finish() {
        if pendingOpen {
            append(pendingEnd + 1, notListed, 0xFF)
            pendingOpen = false
        }
        let n = count
        radixBits = RadixPolicy.bits(forCount: n)
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

    /// Byte sizes of the arrays in file order: keys, lows, vals, spans, radix.
    var arraySizes: [Int] {
        let n = count
        let keyBytes = kind == 0 ? 4 * n : 8 * n
        return [keyBytes, kind == 2 ? 8 * n : 0, n * valueWidth, n, radix.count * 4]
    }

    /// Copies the arrays to `base + offsets[k]` (little-endian).
    func copyArrays(to base: UnsafeMutableRawPointer, offsets: [Int]) {
        func put<T: FixedWidthInteger>(_ a: [T], _ off: Int) {
            a.withUnsafeBufferPointer { src in
                let dst = base.advanced(by: off)
                for (i, x) in src.enumerated() { dst.storeBytes(of: x.littleEndian, toByteOffset: i * MemoryLayout<T>.size, as: T.self) }
            }
        }
        if kind == 0 { put(keys32, offsets[0]) } else { put(hi, offsets[0]) }
        if kind == 2 { put(lo, offsets[1]) }
        vals.withUnsafeBytes { base.advanced(by: offsets[2]).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        spans.withUnsafeBytes { base.advanced(by: offsets[3]).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        put(radix, offsets[4])
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
                          lows: kind == 2 ? (b + offs[1]).assumingMemoryBound(to: UInt64.self) : nil,
                          vals: b + offs[2], valueWidth: valueWidth,
                          spans: (b + offs[3]).assumingMemoryBound(to: UInt8.self),
                          radix: (b + offs[4]).assumingMemoryBound(to: UInt32.self),
                          radixBits: radixBits, radixShift: radixShift, rangeCount: listed, owner: mem)
    }
}

@inline(__always)
func align(_ x: Int, _ a: Int) -> Int { (x + a - 1) & ~(a - 1) }
