// The public face of the store: the validated, memory-mapped reader (`Store`), its range tables
// and the builder entry points. The byte layout is described in StoreFormat.md (DocC) and in
// Format.swift; the flattening sweep lives in Flatten.swift.

/// Errors opening, validating or writing a store.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case io, badMagic, badVersion, truncated, badChecksum, badLayout, tooLarge, invalidInput
    }
    public var code: Code
    public var reason: String
    public var path: String?
    public init(_ code: Code, _ reason: String, path: String? = nil) {
        self.code = code; self.reason = reason; self.path = path
    }
    public var description: String {
        (path.map { "\($0): " } ?? "") + reason
    }
}

/// The value a listing answers with, as stored: A address and TXT template bytes.
public struct StoreValue: @unchecked Sendable {
    /// Host-order IPv4 integer of the A record (127.0.0.2 = 0x7F000002).
    public var a: UInt32
    /// TXT template bytes (`$` = queried address, `$$` = `$`), valid while the ``Store`` lives;
    /// `nil` when the listing has no TXT.
    public var txt: UnsafeRawBufferPointer?
}

/// A dataset's flattened table: sorted, disjoint ranges, each with a value index.
///
/// The table points into the store's memory (the mapping, or an owned buffer) and keeps that
/// memory alive. Lookups are O(log n), touch a handful of cache lines (a radix bucket, then a
/// short branch-free search over the bucket's keys) and allocate nothing. See StoreFormat.md for
/// the layout: one *entry* per listed range (a start key, a value index and a span byte) plus a
/// "not listed" entry only where a non-power-of-two range needs its end spelled out.
public struct RangeTable: @unchecked Sendable {
    public let family: AddressFamily
    /// Key layout: 0 = 32-bit IPv4 keys; 1 = IPv6 high 64 bits only (every boundary /64-aligned);
    /// 2 = IPv6 high and low 64 bits in two arrays (search runs on the high array).
    @usableFromInline let kind: UInt8
    /// Number of entries (listed entries + "not listed" terminators).
    @usableFromInline let count: Int
    /// Start keys: `UInt32` (kind 0) or the high 64 bits `UInt64` (kinds 1, 2).
    @usableFromInline let keys: UnsafeRawPointer
    /// Low 64 bits of the start keys (kind 2 only; else equal to `keys`, never read).
    @usableFromInline let lows: UnsafePointer<UInt64>
    /// Value index per entry, `valueWidth` bytes little-endian; all ones = "not listed".
    @usableFromInline let vals: UnsafeRawPointer
    /// Span per entry: `s` ≤ key width means the entry covers `[key, key + 2^s - 1]` in key units
    /// and nothing until the next key; 0xFF means it covers `[key, nextKey - 1]`.
    @usableFromInline let spans: UnsafePointer<UInt8>
    /// Radix over `(highKey - keys[0]) >> radixShift`: `radix[b]` is the first entry whose
    /// bucket is ≥ b; `radixBuckets + 1` entries.
    @usableFromInline let radix: UnsafePointer<UInt32>
    @usableFromInline let radixBuckets: UInt64
    @usableFromInline let radixShift: UInt64
    @usableFromInline let valueWidth: Int
    @usableFromInline let notListed: UInt32
    @usableFromInline let owner: AnyObject?

    /// Listed ranges after flattening (gaps not counted).
    public let rangeCount: Int

    @usableFromInline
    init(family: AddressFamily, kind: UInt8, count: Int, keys: UnsafeRawPointer,
         lows: UnsafePointer<UInt64>?, vals: UnsafeRawPointer, valueWidth: Int,
         spans: UnsafePointer<UInt8>, radix: UnsafePointer<UInt32>, radixBits: Int,
         radixShift: Int, rangeCount: Int, owner: AnyObject?) {
        self.family = family; self.kind = kind; self.count = count; self.keys = keys
        self.lows = lows ?? keys.assumingMemoryBound(to: UInt64.self)
        self.vals = vals; self.valueWidth = valueWidth; self.spans = spans; self.radix = radix
        self.radixBuckets = UInt64(1) << UInt64(radixBits); self.radixShift = UInt64(radixShift)
        self.notListed = valueWidth == 1 ? 0xFF : valueWidth == 2 ? 0xFFFF : 0xFFFF_FFFF
        self.rangeCount = rangeCount; self.owner = owner
    }

    // MARK: lookups

    /// The value index covering `key` (IPv4 in the low 32 bits), or -1 when not listed.
    @inlinable
    public func value(at key: UInt128) -> Int32 {
        switch kind {
        case 0:
            guard key >> 32 == 0 else { return -1 }
            let k = UInt32(truncatingIfNeeded: key)
            let p = keys.assumingMemoryBound(to: UInt32.self)
            let i = locate(p, UInt64(k))
            if i < 0 { return -1 }
            let v = valueIndex(i)
            if v == notListed { return -1 }
            let s = spans[i]
            if s != 0xFF && (k &- p[i]) >> UInt32(s) != 0 { return -1 }
            return Int32(bitPattern: v)
        case 1:
            let k = UInt64(truncatingIfNeeded: key >> 64)
            let p = keys.assumingMemoryBound(to: UInt64.self)
            let i = locate(p, k)
            if i < 0 { return -1 }
            let v = valueIndex(i)
            if v == notListed { return -1 }
            let s = spans[i]
            if s != 0xFF && (k &- p[i]) >> UInt64(s) != 0 { return -1 }
            return Int32(bitPattern: v)
        default:
            let i = locate128(key)
            if i < 0 { return -1 }
            let v = valueIndex(i)
            if v == notListed { return -1 }
            let s = spans[i]
            if s != 0xFF && (key &- key128(i)) >> UInt128(s) != 0 { return -1 }
            return Int32(bitPattern: v)
        }
    }

    /// Whether any listed range intersects the closed interval `first...last` (IPv4 in the low
    /// 32 bits). This is the empty-non-terminal test of SPEC §4: a partial query name names a
    /// prefix, and the name exists when listed data lies at or below it.
    @inlinable
    public func intersects(first: UInt128, last: UInt128) -> Bool {
        if first > last || count == 0 { return false }
        switch kind {
        case 0:
            guard first >> 32 == 0 else { return false }
            let f = UInt32(truncatingIfNeeded: first)
            let l = last >> 32 == 0 ? UInt32(truncatingIfNeeded: last) : UInt32.max
            let p = keys.assumingMemoryBound(to: UInt32.self)
            let i = locate(p, UInt64(f))
            if i >= 0 && valueIndex(i) != notListed {
                let s = spans[i]
                if s == 0xFF || (f &- p[i]) >> UInt32(s) == 0 { return true }
            }
            var j = i + 1
            if j < count && p[j] <= l {
                if valueIndex(j) != notListed { return true }
                j += 1
                if j < count && p[j] <= l && valueIndex(j) != notListed { return true }
            }
            return false
        case 1:
            let f = UInt64(truncatingIfNeeded: first >> 64)
            let l = UInt64(truncatingIfNeeded: last >> 64)
            let p = keys.assumingMemoryBound(to: UInt64.self)
            let i = locate(p, f)
            if i >= 0 && valueIndex(i) != notListed {
                let s = spans[i]
                if s == 0xFF || (f &- p[i]) >> UInt64(s) == 0 { return true }
            }
            var j = i + 1
            if j < count && p[j] <= l {
                if valueIndex(j) != notListed { return true }
                j += 1
                if j < count && p[j] <= l && valueIndex(j) != notListed { return true }
            }
            return false
        default:
            let i = locate128(first)
            if i >= 0 && valueIndex(i) != notListed {
                let s = spans[i]
                if s == 0xFF || (first &- key128(i)) >> UInt128(s) == 0 { return true }
            }
            var j = i + 1
            if j < count && key128(j) <= last {
                if valueIndex(j) != notListed { return true }
                j += 1
                if j < count && key128(j) <= last && valueIndex(j) != notListed { return true }
            }
            return false
        }
    }

    /// Listed ranges as (first, last, value index), in order: for `dump` and tests.
    /// Addresses as in ``value(at:)``: IPv4 in the low 32 bits.
    public func ranges() -> [(first: UInt128, last: UInt128, value: Int32)] {
        var out: [(first: UInt128, last: UInt128, value: Int32)] = []
        out.reserveCapacity(rangeCount)
        let maxKey: UInt128 = kind == 0 ? UInt128(UInt32.max) : kind == 1 ? UInt128(UInt64.max) : .max
        for i in 0..<count {
            let v = valueIndex(i)
            if v == notListed { continue }
            let k = domainKey(i)
            let s = spans[i]
            let end: UInt128
            if s == 0xFF {
                end = i + 1 < count ? domainKey(i + 1) - 1 : maxKey
            } else {
                end = s >= 128 ? UInt128.max : k + ((UInt128(1) << UInt128(s)) - 1)
            }
            if kind == 1 {
                out.append((k << 64, (end << 64) | UInt128(UInt64.max), Int32(bitPattern: v)))
            } else {
                out.append((k, end, Int32(bitPattern: v)))
            }
        }
        return out
    }

    // MARK: internals

    @inlinable
    func valueIndex(_ i: Int) -> UInt32 {
        switch valueWidth {
        case 1: return UInt32(vals.load(fromByteOffset: i, as: UInt8.self))
        case 2: return UInt32(UInt16(littleEndian: vals.load(fromByteOffset: i &* 2, as: UInt16.self)))
        default: return UInt32(littleEndian: vals.load(fromByteOffset: i &* 4, as: UInt32.self))
        }
    }

    /// The entry's start key in its key domain (kind 1: the high 64 bits).
    @usableFromInline
    func domainKey(_ i: Int) -> UInt128 {
        switch kind {
        case 0: return UInt128(keys.assumingMemoryBound(to: UInt32.self)[i])
        case 1: return UInt128(keys.assumingMemoryBound(to: UInt64.self)[i])
        default: return key128(i)
        }
    }

    @inlinable
    func key128(_ i: Int) -> UInt128 {
        (UInt128(keys.assumingMemoryBound(to: UInt64.self)[i]) << 64) | UInt128(lows[i])
    }

    /// Index of the last entry whose key is ≤ `k`, or -1. `K` is the stored key type; `k` is
    /// given widened to 64 bits.
    @inlinable
    func locate<K: FixedWidthInteger & UnsignedInteger>(_ p: UnsafePointer<K>, _ k64: UInt64) -> Int {
        let n = count
        if n == 0 { return -1 }
        let first = UInt64(p[0])
        if k64 < first { return -1 }
        let d = (k64 &- first) >> radixShift
        if d >= radixBuckets { return n - 1 }
        let b = Int(truncatingIfNeeded: d)
        let lo = Int(radix[b]), hi = Int(radix[b &+ 1])
        return RangeTable.upperBound(p, lo, hi, K(truncatingIfNeeded: k64)) - 1
    }

    @inlinable
    func locate128(_ key: UInt128) -> Int {
        let n = count
        if n == 0 { return -1 }
        let p = keys.assumingMemoryBound(to: UInt64.self)
        let qh = UInt64(truncatingIfNeeded: key >> 64)
        let ql = UInt64(truncatingIfNeeded: key)
        let first = p[0]
        if qh < first { return -1 }
        let d = (qh &- first) >> radixShift
        var lo = 0, hi = n
        if d < radixBuckets {
            let b = Int(truncatingIfNeeded: d)
            lo = Int(radix[b]); hi = Int(radix[b &+ 1])
        } else {
            lo = n; hi = n
        }
        var j = RangeTable.upperBound(p, lo, hi, qh)
        // Keys sharing the high half sit next to each other inside one bucket; order them by the
        // low half. `lo == n` (beyond the last bucket) still needs this for the final run.
        let runLo = d < radixBuckets ? lo : 0
        if j > runLo && p[j &- 1] == qh {
            let r = RangeTable.lowerBound(p, runLo, j, qh)
            j = RangeTable.upperBound(lows, r, j, ql)
        }
        return j - 1
    }

    /// First index in `lo..<hi` whose key is > `k` (branch-free halving).
    @inlinable
    static func upperBound<K: FixedWidthInteger>(_ p: UnsafePointer<K>, _ lo: Int, _ hi: Int, _ k: K) -> Int {
        var base = lo
        var n = hi &- lo
        if n <= 0 { return lo }
        while n > 1 {
            let half = n >> 1
            base = p[base &+ half] <= k ? base &+ half : base
            n &-= half
        }
        return base &+ (p[base] <= k ? 1 : 0)
    }

    /// First index in `lo..<hi` whose key is ≥ `k`.
    @inlinable
    static func lowerBound<K: FixedWidthInteger>(_ p: UnsafePointer<K>, _ lo: Int, _ hi: Int, _ k: K) -> Int {
        var base = lo
        var n = hi &- lo
        if n <= 0 { return lo }
        while n > 1 {
            let half = n >> 1
            base = p[base &+ half] < k ? base &+ half : base
            n &-= half
        }
        return base &+ (p[base] < k ? 1 : 0)
    }
}

/// One dataset of a zone, as served.
public struct StoreDataset: Sendable {
    public let name: String
    public let type: String
    public let family: AddressFamily
    /// Answer TTL in seconds.
    public let ttl: UInt32
    public let table: RangeTable
    /// Values, indexed by ``RangeTable/value(at:)``.
    public let values: [StoreValue]
    /// `$TIMESTAMP` creation and expiry (Unix seconds), when given.
    public let created: UInt64?
    public let expires: UInt64?
    /// Entries read from source (listings + exclusions) before flattening.
    public let entryCount: Int
}

/// One zone of a store.
public struct StoreZone: Sendable {
    /// Apex, uncompressed wire form, lower-cased.
    public let name: [UInt8]
    public let soa: SOAData
    public let nsTTL: UInt32
    public let ns: [[UInt8]]
    public let datasets: [StoreDataset]
}

/// Figures of an encoded store.
public struct StoreSummary: Sendable {
    public var zones: Int
    public var datasets: Int
    public var entries: Int
    /// Listed ranges after flattening, over all datasets.
    public var ranges: Int
    public var bytes: Int
}

/// An encoded store image plus what flattening found.
public struct StoreImage: Sendable {
    public var bytes: [UInt8]
    public var summary: StoreSummary
    /// Equal-prefix conflicts per zone, per dataset (same shape as the input).
    public var conflicts: [[[FlattenConflict]]]
}

/// An opened, validated, immutable store. Read-only; safe to share between threads.
///
/// Opening checks every byte that lookups will later trust (see StoreFormat.md, "Validation");
/// afterwards lookups do no bounds checks and cannot fail.
public final class Store: @unchecked Sendable {
    public let zones: [StoreZone]
    /// Size of the store in bytes.
    public let byteCount: Int
    /// The mapping or owned buffer every table and TXT pointer refers to.
    let memory: StoreMemory

    /// Opens `path` read-only with mmap and validates it completely.
    /// - Throws: ``StoreError`` naming the path and what is wrong (`.io` for open/mmap
    ///   failures, the validation codes otherwise).
    public convenience init(path: String) throws(StoreError) {
        let mem = try StoreMemory(mapping: path)
        do {
            try self.init(memory: mem)
        } catch {
            var e = error
            e.path = path
            throw e
        }
    }

    /// Validates and opens an in-memory store image (tests, fuzzing). The bytes are copied into
    /// an owned, 64-byte aligned buffer.
    /// - Throws: ``StoreError`` when the image is not a valid store.
    public convenience init(bytes: [UInt8]) throws(StoreError) {
        try self.init(memory: StoreMemory(copying: bytes))
    }

    /// Builds a store in memory from compile input; the same as encode + open.
    /// - Throws: ``StoreError`` `.invalidInput` for entries the builder refuses.
    public convenience init(zones input: [ZoneInput]) throws(StoreError) {
        let image = try StoreBuilder.encode(input)
        try self.init(bytes: image.bytes)
    }

    init(memory: StoreMemory) throws(StoreError) {
        self.memory = memory
        self.byteCount = memory.count
        self.zones = try StoreReader.open(memory)
    }
}

public enum StoreBuilder {
    /// Flattens and encodes zones into a store image.
    ///
    /// Per dataset the entries are flattened (longest prefix wins; at equal prefix an exclusion
    /// beats a listing, and of two listings the first in entry order wins and is reported in
    /// ``StoreImage/conflicts``). O(n log n) time; already sorted input is not copied.
    /// - Throws: ``StoreError`` `.invalidInput` for a prefix with host bits set, a prefix length
    ///   beyond the family's width, an IPv4 address above 32 bits or a value index out of range;
    ///   `.tooLarge` when a count or size exceeds the format's integer widths.
    public static func encode(_ zones: [ZoneInput]) throws(StoreError) -> StoreImage {
        try StoreEncoder.encode(zones)
    }

    /// Writes an image to `path` atomically: temp file in the same directory, write, fsync,
    /// rename, fsync of the directory. A failure leaves any previous file at `path` untouched.
    /// - Throws: ``StoreError`` `.io` naming the path and the failing system call.
    public static func write(_ image: StoreImage, to path: String) throws(StoreError) {
        try StoreFile.writeAtomically(image.bytes, to: path)
    }

    /// Slow, obviously-correct flattening used as the test reference: every boundary of every
    /// prefix, and for each elementary interval the longest covering prefix (exclusion wins at
    /// equal length, then the first in order). Conflicts: each later listing of an already
    /// listed prefix with a different value index, against the first listing. O(n²).
    public static func referenceFlatten(_ entries: [PrefixEntry], family: AddressFamily)
        -> (table: RangeTable, conflicts: [FlattenConflict])
    {
        Flattener.reference(entries, family: family)
    }
}
