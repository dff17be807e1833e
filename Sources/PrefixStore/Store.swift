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
    /// The next value of the dataset answers together with this one (rbldnsd `ip4set`: several
    /// entries at the deciding bucket level). A table's value index names the first value of
    /// such a run; ``run(_:at:)`` gives all of it.
    public var continues: Bool = false

    /// The values value index `index` of a dataset answers with: the record at `index` and
    /// every following one while the previous continues.
    @inlinable
    public static func run(_ values: [StoreValue], at index: Int) -> ArraySlice<StoreValue> {
        var end = index
        while values[end].continues { end += 1 }
        return values[index...end]
    }
}

/// A dataset's flattened table: sorted, disjoint ranges, each with a value index.
///
/// The table points into the store's memory (the mapping, or an owned buffer) and keeps that
/// memory alive. Lookups are O(log n), allocate nothing and touch three places: the radix
/// bucket, a short branch-free search over the bucket's keys, and the found entry's *tail* (low
/// key half, value index and size in one record). See StoreFormat.md for the layout: one entry
/// per listed range (a start key, a value index and a size `m·2^e` in two bytes) plus a "not
/// listed" entry only where a range whose size has more than 8 significant bits is followed by
/// a gap.
public struct RangeTable: @unchecked Sendable {
    public let family: AddressFamily
    /// Key layout: 0 = 32-bit IPv4 keys; 1 = IPv6 high 64 bits only (every boundary /64-aligned);
    /// 2 = IPv6 128-bit keys: high halves in the key array (the search runs on them), low halves
    /// in the tails.
    @usableFromInline let kind: UInt8
    /// Number of entries (listed entries + "not listed" terminators).
    @usableFromInline let count: Int
    /// Start keys: `UInt32` (kind 0) or the high 64 bits `UInt64` (kinds 1, 2), little-endian,
    /// `keyStride` bytes apart (the key width for separate arrays; key width + tail stride when
    /// keys and tails are interleaved into one record per entry).
    @usableFromInline let keys: UnsafeRawPointer
    @usableFromInline let keyStride: Int
    /// Per-entry tail records of `tailStride` bytes: [low key half, 8 bytes, kind 2 only]
    /// [value index, `valueWidth` bytes; all ones = "not listed"] [size exponent e, 1 byte]
    /// [size mantissa m, 1 byte], followed by 8 bytes of padding so one unaligned 8-byte load
    /// reads value and size together.
    /// m > 0: the entry covers `[key, key + m·2^e - 1]` (in key units) and nothing until the
    /// next key; m = 0: it covers `[key, nextKey - 1]`.
    @usableFromInline let tails: UnsafeRawPointer
    @usableFromInline let tailStride: Int
    @usableFromInline let valueOffset: Int
    @usableFromInline let valueMask: UInt64
    @usableFromInline let spanShift: UInt64
    /// Radix over `(highKey - keys[0]) >> radixShift`: `radix[b]` is the first entry whose
    /// bucket is ≥ b; `radixBuckets + 1` entries.
    @usableFromInline let radix: UnsafePointer<UInt32>
    @usableFromInline let radixBuckets: UInt64
    @usableFromInline let radixShift: UInt64
    @usableFromInline let valueWidth: Int
    @usableFromInline let owner: AnyObject?

    /// Listed ranges after flattening (gaps not counted).
    public let rangeCount: Int

    /// Entries in the table: one per listed range plus a "not listed" terminator after each
    /// range whose size is not a power of two and that is followed by a gap (StoreFormat.md).
    public var entryCount: Int { count }

    /// Bytes per tail record for a key kind and value width.
    static func tailStride(kind: UInt8, valueWidth: Int) -> Int { (kind == 2 ? 8 : 0) + valueWidth + 2 }

    @usableFromInline
    init(family: AddressFamily, kind: UInt8, count: Int, keys: UnsafeRawPointer, tails: UnsafeRawPointer,
         interleaved: Bool, valueWidth: Int, radix: UnsafePointer<UInt32>, radixBits: Int, radixShift: Int,
         rangeCount: Int, owner: AnyObject?) {
        self.family = family; self.kind = kind; self.count = count; self.keys = keys; self.tails = tails
        self.valueWidth = valueWidth
        let ts = RangeTable.tailStride(kind: kind, valueWidth: valueWidth)
        let kw = kind == 0 ? 4 : 8
        self.tailStride = interleaved ? kw + ts : ts
        self.keyStride = interleaved ? kw + ts : kw
        self.valueOffset = kind == 2 ? 8 : 0
        self.valueMask = valueWidth == 1 ? 0xFF : valueWidth == 2 ? 0xFFFF : 0xFFFF_FFFF
        self.spanShift = UInt64(8 * valueWidth)
        self.radix = radix
        self.radixBuckets = UInt64(1) << UInt64(radixBits); self.radixShift = UInt64(radixShift)
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
            let i = locate(UInt32.self, UInt64(k))
            if i < 0 { return -1 }
            let (v, e, m) = tail(i)
            if v == valueMask { return -1 }
            if m != 0 && (k &- storedKey(i, UInt32.self)) >> UInt32(e) >= UInt32(m) { return -1 }
            return Int32(truncatingIfNeeded: v)
        case 1:
            let k = UInt64(truncatingIfNeeded: key >> 64)
            let i = locate(UInt64.self, k)
            if i < 0 { return -1 }
            let (v, e, m) = tail(i)
            if v == valueMask { return -1 }
            if m != 0 && (k &- storedKey(i, UInt64.self)) >> UInt64(e) >= UInt64(m) { return -1 }
            return Int32(truncatingIfNeeded: v)
        default:
            let i = locate128(key)
            if i < 0 { return -1 }
            let (v, e, m) = tail(i)
            if v == valueMask { return -1 }
            if m != 0 && (key &- key128(i)) >> UInt128(e) >= UInt128(m) { return -1 }
            return Int32(truncatingIfNeeded: v)
        }
    }

    /// Whether any listed range intersects the closed interval `first...last` (IPv4 in the low
    /// 32 bits). This is the empty-non-terminal test of the answer rules (RFC 8020): a partial query name names a
    /// prefix, and the name exists when listed data lies at or below it.
    @inlinable
    public func intersects(first: UInt128, last: UInt128) -> Bool {
        if first > last || count == 0 { return false }
        switch kind {
        case 0:
            guard first >> 32 == 0 else { return false }
            let f = UInt32(truncatingIfNeeded: first)
            let l = last >> 32 == 0 ? UInt32(truncatingIfNeeded: last) : UInt32.max
            let i = locate(UInt32.self, UInt64(f))
            if i >= 0 {
                let (v, e, m) = tail(i)
                if v != valueMask && (m == 0 || (f &- storedKey(i, UInt32.self)) >> UInt32(e) < UInt32(m)) { return true }
            }
            var j = i + 1
            if j < count && storedKey(j, UInt32.self) <= l {
                if tail(j).value != valueMask { return true }
                j += 1
                if j < count && storedKey(j, UInt32.self) <= l && tail(j).value != valueMask { return true }
            }
            return false
        case 1:
            let f = UInt64(truncatingIfNeeded: first >> 64)
            let l = UInt64(truncatingIfNeeded: last >> 64)
            let i = locate(UInt64.self, f)
            if i >= 0 {
                let (v, e, m) = tail(i)
                if v != valueMask && (m == 0 || (f &- storedKey(i, UInt64.self)) >> UInt64(e) < UInt64(m)) { return true }
            }
            var j = i + 1
            if j < count && storedKey(j, UInt64.self) <= l {
                if tail(j).value != valueMask { return true }
                j += 1
                if j < count && storedKey(j, UInt64.self) <= l && tail(j).value != valueMask { return true }
            }
            return false
        default:
            let i = locate128(first)
            if i >= 0 {
                let (v, e, m) = tail(i)
                if v != valueMask && (m == 0 || (first &- key128(i)) >> UInt128(e) < UInt128(m)) { return true }
            }
            var j = i + 1
            if j < count && key128(j) <= last {
                if tail(j).value != valueMask { return true }
                j += 1
                if j < count && key128(j) <= last && tail(j).value != valueMask { return true }
            }
            return false
        }
    }

    /// Listed ranges as (first, last, value index), in order: for `dump` and tests.
    /// Addresses as in ``value(at:)``: IPv4 in the low 32 bits.
    public func ranges() -> [(first: UInt128, last: UInt128, value: Int32)] {
        var out: [(first: UInt128, last: UInt128, value: Int32)] = []
        out.reserveCapacity(rangeCount)
        var it = makeRangeIterator()
        while let r = it.next() { out.append(r) }
        return out
    }

    /// The listed ranges of ``ranges()`` one at a time, read from the table's memory as they
    /// are asked for: nothing is copied or allocated (a caller streaming a million ranges keeps
    /// no array of them).
    public func makeRangeIterator() -> RangeIterator { RangeIterator(self) }

    /// Streams a table's listed ranges in ascending order (``makeRangeIterator()``).
    public struct RangeIterator: IteratorProtocol {
        @usableFromInline let table: RangeTable
        @usableFromInline var i = 0
        @usableFromInline let maxKey: UInt128

        @usableFromInline init(_ table: RangeTable) {
            self.table = table
            maxKey = table.kind == 0 ? UInt128(UInt32.max) : table.kind == 1 ? UInt128(UInt64.max) : .max
        }

        /// The next listed range (first, last, value index), nil after the last.
        @inlinable
        public mutating func next() -> (first: UInt128, last: UInt128, value: Int32)? {
            while i < table.count {
                let at = i
                i += 1
                let (v, e, m) = table.tail(at)
                if v == table.valueMask { continue }
                let k = table.domainKey(at)
                let end: UInt128
                if m == 0 {
                    end = at + 1 < table.count ? table.domainKey(at + 1) - 1 : maxKey
                } else {
                    // Validated: k + m·2^e - 1 fits the key domain (2^128 only as 1·2^128 from 0).
                    end = k &+ ((UInt128(m) << UInt128(e)) &- 1)
                }
                if table.kind == 1 {
                    return (k << 64, (end << 64) | UInt128(UInt64.max), Int32(truncatingIfNeeded: v))
                }
                return (k, end, Int32(truncatingIfNeeded: v))
            }
            return nil
        }
    }

    // MARK: internals

    /// Value index (all ones = "not listed", compare with `valueMask`) and size exponent and
    /// mantissa of entry `i`.
    @inlinable @inline(__always)
    func tail(_ i: Int) -> (value: UInt64, exp: UInt8, mant: UInt8) {
        let raw = UInt64(littleEndian: tails.loadUnaligned(fromByteOffset: i &* tailStride &+ valueOffset, as: UInt64.self))
        return (raw & valueMask, UInt8(truncatingIfNeeded: raw &>> spanShift),
                UInt8(truncatingIfNeeded: raw &>> (spanShift &+ 8)))
    }

    /// Low 64 bits of entry `i`'s key (kind 2).
    @inlinable @inline(__always)
    func low(_ i: Int) -> UInt64 {
        UInt64(littleEndian: tails.loadUnaligned(fromByteOffset: i &* tailStride, as: UInt64.self))
    }

    /// Stored key of entry `i` (kind 0: `UInt32`; kinds 1, 2: the high 64 bits).
    @inlinable @inline(__always)
    func storedKey<K: FixedWidthInteger>(_ i: Int, _: K.Type) -> K {
        K(littleEndian: keys.loadUnaligned(fromByteOffset: i &* keyStride, as: K.self))
    }

    /// The entry's start key in its key domain (kind 1: the high 64 bits).
    @inlinable
    func domainKey(_ i: Int) -> UInt128 {
        switch kind {
        case 0: return UInt128(storedKey(i, UInt32.self))
        case 1: return UInt128(storedKey(i, UInt64.self))
        default: return key128(i)
        }
    }

    @inlinable
    func key128(_ i: Int) -> UInt128 {
        (UInt128(storedKey(i, UInt64.self)) << 64) | UInt128(low(i))
    }

    /// Index of the last entry whose key is ≤ `k`, or -1. `K` is the stored key type; `k` is
    /// given widened to 64 bits.
    @inlinable @inline(__always)
    func locate<K: FixedWidthInteger & UnsignedInteger>(_: K.Type, _ k64: UInt64) -> Int {
        let n = count
        if n == 0 { return -1 }
        let first = UInt64(storedKey(0, K.self))
        if k64 < first { return -1 }
        let d = (k64 &- first) >> radixShift
        if d >= radixBuckets { return n - 1 }
        let b = Int(truncatingIfNeeded: d)
        let lo = Int(radix[b]), hi = Int(radix[b &+ 1])
        return upperBound(lo, hi, K(truncatingIfNeeded: k64)) - 1
    }

    @inlinable @inline(__always)
    func locate128(_ k: UInt128) -> Int {
        let n = count
        if n == 0 { return -1 }
        let qh = UInt64(truncatingIfNeeded: k >> 64)
        let first = storedKey(0, UInt64.self)
        if qh < first { return -1 }
        let d = (qh &- first) >> radixShift
        if d >= radixBuckets { return n - 1 }
        let b = Int(truncatingIfNeeded: d)
        let lo = Int(radix[b])
        var j = upperBound(lo, Int(radix[b &+ 1]), qh)
        // Keys sharing the high half sit next to each other inside one bucket; order them by the
        // low half (rare: only prefixes longer than /64 share a high half).
        if j > lo && storedKey(j &- 1, UInt64.self) == qh {
            j = lowUpperBound(lowerBound(lo, j, qh), j, UInt64(truncatingIfNeeded: k))
        }
        return j - 1
    }

    /// First index in `lo..<hi` whose key is > `k`. Branch-free halving: the comparison feeds
    /// an add, not a jump, so mispredictions do not stall the next lookup's loads.
    @inlinable @inline(__always)
    func upperBound<K: FixedWidthInteger>(_ lo: Int, _ hi: Int, _ k: K) -> Int {
        var base = lo
        var n = hi &- lo
        if n <= 0 { return lo }
        while n > 1 {
            let half = n &>> 1
            base &+= half & (0 &- Int(truncatingIfNeeded: unsafeBitCast(storedKey(base &+ half, K.self) <= k, to: UInt8.self)))
            n &-= half
        }
        return base &+ Int(truncatingIfNeeded: unsafeBitCast(storedKey(base, K.self) <= k, to: UInt8.self))
    }

    /// First index in `lo..<hi` whose key is ≥ `k`.
    @inlinable
    func lowerBound<K: FixedWidthInteger>(_ lo: Int, _ hi: Int, _ k: K) -> Int {
        var base = lo
        var n = hi &- lo
        if n <= 0 { return lo }
        while n > 1 {
            let half = n &>> 1
            base = storedKey(base &+ half, K.self) < k ? base &+ half : base
            n &-= half
        }
        return base &+ (storedKey(base, K.self) < k ? 1 : 0)
    }

    /// First index in `lo..<hi` whose low key half is > `k` (within one run of equal high halves).
    @inlinable
    func lowUpperBound(_ lo: Int, _ hi: Int, _ k: UInt64) -> Int {
        var base = lo
        var n = hi &- lo
        if n <= 0 { return lo }
        while n > 1 {
            let half = n &>> 1
            base = low(base &+ half) <= k ? base &+ half : base
            n &-= half
        }
        return base &+ (low(base) <= k ? 1 : 0)
    }
}

/// One dataset of a zone, as served.
public struct StoreDataset: Sendable {
    public let name: String
    /// The dataset type's name as stored (`ip4set`, `acl`, …); answers go by ``rule``.
    public let type: String
    /// How the table is matched and what its values mean (from ``type``, see ``DatasetRule``).
    public let rule: DatasetRule
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
    /// Encoded labels between the dataset's attachment point and the apex, no root byte;
    /// empty = the apex (see ``DatasetInput/subzone``).
    public let subzone: [UInt8]
    /// Source lines the compiler skipped for this dataset (see ``DatasetInput/skippedLines``);
    /// 0 in stores written before the count existed.
    public let skippedLines: Int
    /// dnset (``DatasetRule/domainNames``): the name table (then ``table`` is empty and
    /// ``family`` means nothing); nil for every other rule.
    public var domains: DomainTable? = nil
}

/// One zone of a store.
public struct StoreZone: Sendable {
    /// Apex, uncompressed wire form, lower-cased.
    public let name: [UInt8]
    public let soa: SOAData
    public let nsTTL: UInt32
    public let ns: [[UInt8]]
    public let datasets: [StoreDataset]
    /// `generic` records, in the order compiled.
    public let records: [GenericRecord]

    /// Whether this is the global-ACL pseudo-zone (``ZoneInput/globalACLZoneName``).
    public var isGlobalACL: Bool { name == ZoneInput.globalACLZoneName }
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

    /// The same mapping with other zone metadata (``mappingTTLs(_:)``); tables and values
    /// still point into `memory`.
    init(memory: StoreMemory, zones: [StoreZone]) {
        self.memory = memory
        self.byteCount = memory.count
        self.zones = zones
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

    /// ``encode(_:)`` with explicit table layout knobs (benchmarks compare layouts with it;
    /// every choice is a valid store of the current format version).
    public static func encode(_ zones: [ZoneInput], options: StoreLayoutOptions) throws(StoreError) -> StoreImage {
        try StoreEncoder.encode(zones, options: options)
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
