#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One exported version of a zone kept for incremental transfer (IXFR, RFC 1995): its SOA and
/// every other record in wire form, indexed by a 64-bit hash so two versions compare in
/// O(n log n) without per-record allocations.
///
/// The records are held in export order in ``segments`` of at most a given size, ready to be
/// the record sections of AXFR messages, so a server can send the version as its full transfer
/// and keep it for IXFR without a second copy. Memory: the records' wire bytes (owner
/// uncompressed: about the AXFR size) plus 16 bytes per record (``memoryBytes``).
public struct ZoneVersion: Sendable {
    /// The version's SOA serial.
    public let serial: UInt32
    /// The SOA record.
    public let soa: ExportRecord
    /// Every record but the SOA, whole RR wire form, back to back in export order, cut at
    /// record boundaries: per segment the bytes and the number of records.
    public let segments: [(count: Int, bytes: [UInt8])]
    /// Per record: FNV-1a 64 hash of its bytes, segment, offset and length; sorted by hash.
    let index: [Entry]

    struct Entry: Sendable { var hash: UInt64; var segment: UInt32; var offset: UInt16; var length: UInt16 }

    /// Records besides the SOA.
    public var count: Int { index.count }
    /// Bytes this version holds (wire bytes and index).
    public var memoryBytes: Int {
        segments.reduce(0) { $0 + $1.bytes.count } + index.count * MemoryLayout<Entry>.stride
            + soa.rdata.count + soa.owner.count
    }

    /// Collects records as an export emits them (the SOA is recognised by type and kept apart).
    public struct Builder {
        let segmentBytes: Int
        var soa: ExportRecord? = nil
        var segments: [(count: Int, bytes: [UInt8])] = []
        var current: (count: Int, bytes: [UInt8]) = (0, [])
        var index: [Entry] = []

        /// - Parameter segmentBytes: the most bytes of records per segment (a record longer
        ///   than that gets a segment of its own); at most 65535.
        public init(segmentBytes: Int = 16_000) { self.segmentBytes = min(segmentBytes, 65_535) }

        /// Adds one record (RR wire form of ``ExportRecord/wire``).
        public mutating func add(_ r: ExportRecord) {
            if r.type == ExportType.soa { soa = r; return }
            let size = r.owner.count + 10 + r.rdata.count
            if current.count > 0 && current.bytes.count + size > segmentBytes {
                segments.append(current)
                current = (0, [])
                current.bytes.reserveCapacity(segmentBytes)
            }
            let start = current.bytes.count
            current.bytes += r.owner
            r.appendWire(to: &current.bytes)
            current.count += 1
            index.append(Entry(hash: fnv1a(current.bytes[start...]), segment: UInt32(segments.count),
                               offset: UInt16(start), length: UInt16(size)))
        }

        /// The version; nil when no SOA was added. The builder is left empty (its records
        /// move into the version: the index is sorted in place, not copied).
        public mutating func finish() -> ZoneVersion? {
            guard let soa else { return nil }
            var all = segments
            segments = []
            if current.count > 0 { all.append(current) }
            current = (0, [])
            var sorted = index
            index = []
            sorted.sort { $0.hash < $1.hash }
            return ZoneVersion(serial: soaSerial(soa), soa: soa, segments: all, index: sorted)
        }
    }

    /// A version from the records of a complete export (``Exporter``), SOA included.
    public init?(_ records: some Sequence<ExportRecord>) {
        var b = Builder()
        for r in records { b.add(r) }
        guard let v = b.finish() else { return nil }
        self = v
    }

    init(serial: UInt32, soa: ExportRecord, segments: [(count: Int, bytes: [UInt8])], index: [Entry]) {
        self.serial = serial; self.soa = soa; self.segments = segments; self.index = index
    }

    func record(_ e: Entry) -> ArraySlice<UInt8> {
        segments[Int(e.segment)].bytes[Int(e.offset)..<(Int(e.offset) + Int(e.length))]
    }

    /// The condensed difference from `old` to `new` (RFC 1995 §4): the RRs (whole wire form)
    /// only `old` has and those only `new` has, SOAs excluded. An RR whose TTL changed is
    /// deleted with the old TTL and added with the new. Each list in hash order.
    public static func difference(from old: ZoneVersion, to new: ZoneVersion)
        -> (deleted: [ArraySlice<UInt8>], added: [ArraySlice<UInt8>])
    {
        var deleted: [ArraySlice<UInt8>] = [], added: [ArraySlice<UInt8>] = []
        var i = 0, j = 0
        let a = old.index, b = new.index
        while i < a.count || j < b.count {
            if j == b.count || (i < a.count && a[i].hash < b[j].hash) {
                deleted.append(old.record(a[i])); i += 1
            } else if i == a.count || b[j].hash < a[i].hash {
                added.append(new.record(b[j])); j += 1
            } else if (i + 1 == a.count || a[i + 1].hash != a[i].hash) && (j + 1 == b.count || b[j + 1].hash != b[j].hash) {
                // One record each with this hash (the common case): equal, or both changed.
                let x = old.record(a[i]), y = new.record(b[j])
                if !sameBytes(x, y) { deleted.append(x); added.append(y) }
                i += 1; j += 1
            } else {
                // Several records share the hash on one side: match them by bytes.
                let h = a[i].hash
                var ie = i, je = j
                while ie < a.count && a[ie].hash == h { ie += 1 }
                while je < b.count && b[je].hash == h { je += 1 }
                var left = (i..<ie).map { old.record(a[$0]) }
                for k in j..<je {
                    let r = new.record(b[k])
                    if let m = left.firstIndex(where: { sameBytes($0, r) }) { left.remove(at: m) } else { added.append(r) }
                }
                deleted += left
                i = ie; j = je
            }
        }
        return (deleted, added)
    }
}

/// The serial in an SOA record's RDATA (after MNAME and RNAME).
func soaSerial(_ soa: ExportRecord) -> UInt32 {
    var p = 0
    for _ in 0..<2 {
        while p < soa.rdata.count && soa.rdata[p] != 0 { p += 1 + Int(soa.rdata[p]) }
        p += 1
    }
    guard p + 4 <= soa.rdata.count else { return 0 }
    return UInt32(soa.rdata[p]) << 24 | UInt32(soa.rdata[p + 1]) << 16 | UInt32(soa.rdata[p + 2]) << 8 | UInt32(soa.rdata[p + 3])
}

func sameBytes(_ x: ArraySlice<UInt8>, _ y: ArraySlice<UInt8>) -> Bool {
    x.count == y.count && x.withUnsafeBytes { p in y.withUnsafeBytes { q in memcmp(p.baseAddress!, q.baseAddress!, p.count) == 0 } }
}

@inline(__always) func fnv1a(_ s: ArraySlice<UInt8>) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in s { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
    return h
}

/// SOA serial arithmetic (RFC 1982 §3.2, SERIAL_BITS 32).
public enum SerialNumber {
    /// Whether `a` is greater than `b`: they differ and `a` lies less than 2^31 ahead of `b`
    /// going up modulo 2^32. (At exactly 2^31 apart the comparison is undefined; false.)
    public static func isGreater(_ a: UInt32, than b: UInt32) -> Bool {
        a != b && (a &- b) < 0x8000_0000
    }
}
