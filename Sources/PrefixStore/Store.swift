// API CONTRACT (skeleton). The store helper replaces the bodies with the mmap-backed format; the
// public signatures below are what DNSBL, ZoneSource and the CLI program against. The current
// bodies are a slow in-memory placeholder so the layers above can be built and tested meanwhile.

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
/// Lookups are O(log n) and allocate nothing.
public struct RangeTable: @unchecked Sendable {
    public let family: AddressFamily
    // placeholder representation: boundaries with value (-1 = gap)
    @usableFromInline let starts: [UInt128]
    @usableFromInline let vals: [Int32]

    /// Listed ranges after flattening (gaps not counted).
    public var rangeCount: Int { vals.filter { $0 >= 0 }.count }

    /// The value index covering `key` (IPv4 in the low 32 bits), or -1 when not listed.
    @inlinable
    public func value(at key: UInt128) -> Int32 {
        var lo = 0, hi = starts.count
        while lo < hi { let mid = (lo + hi) / 2; if starts[mid] <= key { lo = mid + 1 } else { hi = mid } }
        return lo == 0 ? -1 : vals[lo - 1]
    }

    /// Whether any listed range intersects the closed interval `first...last`.
    @inlinable
    public func intersects(first: UInt128, last: UInt128) -> Bool {
        var lo = 0, hi = starts.count
        while lo < hi { let mid = (lo + hi) / 2; if starts[mid] <= first { lo = mid + 1 } else { hi = mid } }
        if lo > 0 && vals[lo - 1] >= 0 { return true }
        return lo < starts.count && starts[lo] <= last && vals[lo] >= 0
    }

    /// Listed ranges as (first, last, value index), in order: for `dump` and tests.
    public func ranges() -> [(first: UInt128, last: UInt128, value: Int32)] {
        var out: [(UInt128, UInt128, Int32)] = []
        let maxKey: UInt128 = family == .ipv4 ? UInt128(UInt32.max) : UInt128.max
        for i in starts.indices where vals[i] >= 0 {
            out.append((starts[i], i + 1 < starts.count ? starts[i + 1] - 1 : maxKey, vals[i]))
        }
        return out
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
public final class Store: @unchecked Sendable {
    public let zones: [StoreZone]
    /// Size of the store in bytes.
    public let byteCount: Int
    // placeholder keeps TXT bytes alive
    private let txtStorage: [UnsafeMutableRawBufferPointer]

    /// Opens `path` read-only with mmap and validates it completely.
    /// - Throws: ``StoreError`` naming the path and what is wrong.
    public convenience init(path: String) throws(StoreError) {
        throw StoreError(.io, "store files not implemented in the skeleton", path: path)
    }

    /// Validates and opens an in-memory store image (tests, fuzzing).
    public convenience init(bytes: [UInt8]) throws(StoreError) {
        throw StoreError(.io, "store images not implemented in the skeleton")
    }

    /// Builds a store in memory from compile input; the same as encode + open.
    public init(zones input: [ZoneInput]) throws(StoreError) {
        var bufs: [UnsafeMutableRawBufferPointer] = []
        var zs: [StoreZone] = []
        for z in input {
            var ds: [StoreDataset] = []
            for d in z.datasets {
                let t = StoreBuilder.referenceFlatten(d.entries, family: d.family).table
                var vals: [StoreValue] = []
                for v in d.values {
                    var p: UnsafeRawBufferPointer? = nil
                    if let txt = v.txt {
                        let b = UnsafeMutableRawBufferPointer.allocate(byteCount: max(txt.count, 1), alignment: 1)
                        b.copyBytes(from: txt); bufs.append(b)
                        p = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(b)[0..<txt.count])
                    }
                    vals.append(StoreValue(a: v.a, txt: p))
                }
                ds.append(StoreDataset(name: d.name, type: d.type, family: d.family, ttl: d.ttl, table: t,
                                       values: vals, created: d.created, expires: d.expires,
                                       entryCount: d.entries.count))
            }
            zs.append(StoreZone(name: z.name, soa: z.soa, nsTTL: z.nsTTL, ns: z.ns, datasets: ds))
        }
        zones = zs; byteCount = 0; txtStorage = bufs
    }

    deinit { for b in txtStorage { b.deallocate() } }
}

public enum StoreBuilder {
    /// Flattens and encodes zones into a store image.
    public static func encode(_ zones: [ZoneInput]) throws(StoreError) -> StoreImage {
        throw StoreError(.io, "not implemented in the skeleton")
    }

    /// Writes an image to `path` atomically: temp file in the same directory, fsync, rename.
    /// A failure leaves any previous file at `path` untouched.
    public static func write(_ image: StoreImage, to path: String) throws(StoreError) {
        throw StoreError(.io, "not implemented in the skeleton", path: path)
    }

    /// Slow, obviously-correct flattening used as the test reference: every boundary of every
    /// prefix, and for each elementary interval the longest covering prefix (exclusion wins at
    /// equal length, then the first in order).
    public static func referenceFlatten(_ entries: [PrefixEntry], family: AddressFamily)
        -> (table: RangeTable, conflicts: [FlattenConflict])
    {
        let bits = family.bits
        func last(_ e: PrefixEntry) -> UInt128 {
            let host = bits - Int(e.prefixLength)
            return host == 0 ? e.address : e.address | ((host >= 128 ? UInt128.max : (UInt128(1) << host) - 1))
        }
        let maxKey: UInt128 = family == .ipv4 ? UInt128(UInt32.max) : UInt128.max
        var points = Set<UInt128>([0])
        for e in entries { points.insert(e.address); let l = last(e); if l < maxKey { points.insert(l + 1) } }
        let sorted = points.sorted()
        var starts: [UInt128] = [], vals: [Int32] = []
        for p in sorted {
            var best: PrefixEntry? = nil
            for e in entries where e.address <= p && p <= last(e) {
                if let b = best {
                    if e.prefixLength > b.prefixLength || (e.prefixLength == b.prefixLength && e.isExclusion && !b.isExclusion) { best = e }
                } else { best = e }
            }
            let v = best.map { $0.isExclusion ? -1 : $0.value } ?? -1
            if let lv = vals.last, lv == v { continue }
            starts.append(p); vals.append(v)
        }
        return (RangeTable(family: family, starts: starts, vals: vals), [])
    }
}
