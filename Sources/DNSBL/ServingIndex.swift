import PrefixStore
import DNSWire

/// One dataset as the responder serves it: its table, values and answer TTL.
struct ServingDataset: @unchecked Sendable {
    let table: RangeTable
    let values: [StoreValue]
    /// Answer TTL in seconds.
    let ttl: UInt32
}

/// A name we write into answers (SOA MNAME/RNAME, NS names): the labels before the zone apex
/// and whether the apex follows (then written as a compression pointer to the apex inside the
/// question, RFC 1035 §4.1.4) or the name is outside the zone (then written in full).
struct EncodedName: Sendable {
    /// Encoded labels without the root byte; when `underApex`, without the apex labels either.
    let prefix: [UInt8]
    let underApex: Bool

    init(_ name: [UInt8], apex: [UInt8]) {
        let body = Array(name.dropLast())  // wire names end with the root byte
        if name.count >= apex.count, isLabelSuffix(name, apex) {
            prefix = Array(name[0..<(name.count - apex.count)])
            underApex = true
        } else {
            prefix = body
            underApex = false
        }
    }
}

/// Whether `suffix` (a full encoded name) is `name` or a name `name` lies below, comparing
/// whole labels, case-insensitively.
func isLabelSuffix(_ name: [UInt8], _ suffix: [UInt8]) -> Bool {
    guard name.count >= suffix.count else { return false }
    var pos = 0
    while pos < name.count {
        if name.count - pos == suffix.count {
            return asciiEqualCI(name[pos...], suffix[...])
        }
        let len = Int(name[pos])
        if len == 0 { return false }
        pos += 1 + len
    }
    return false
}

@inline(__always)
func lowerASCII(_ b: UInt8) -> UInt8 { (b &- 0x41) < 26 ? b | 0x20 : b }

func asciiEqualCI(_ a: ArraySlice<UInt8>, _ b: ArraySlice<UInt8>) -> Bool {
    guard a.count == b.count else { return false }
    return zip(a, b).allSatisfy { lowerASCII($0) == lowerASCII($1) }
}

/// One zone of the serving snapshot: its apex, SOA, NS and datasets split by family, all
/// stores' datasets for the same apex united (SPEC §3.2).
final class ServingZone: Sendable {
    /// Apex, encoded, lower-cased.
    let apex: [UInt8]
    let soa: SOAData
    let mname: EncodedName
    let rname: EncodedName
    /// NS TTL in seconds.
    let nsTTL: UInt32
    let ns: [EncodedName]
    /// NS names strictly below the apex, encoded, lower-cased: they and their ancestors are
    /// answered NODATA, never NXDOMAIN (SPEC §5).
    let inZoneNS: [[UInt8]]
    let v4: [ServingDataset]
    let v6: [ServingDataset]

    init(apex: [UInt8], soa: SOAData, nsTTL: UInt32, ns: [[UInt8]], v4: [ServingDataset],
         v6: [ServingDataset]) {
        let apex = apex.map(lowerASCII)
        self.apex = apex
        self.soa = soa
        self.mname = EncodedName(soa.mname, apex: apex)
        self.rname = EncodedName(soa.rname, apex: apex)
        self.nsTTL = nsTTL
        self.ns = ns.map { EncodedName($0, apex: apex) }
        self.inZoneNS = ns.map { $0.map(lowerASCII) }.filter { $0.count > apex.count && isLabelSuffix($0, apex) }
        self.v4 = v4
        self.v6 = v6
    }

    /// TTL of negative answers in seconds: min(SOA TTL, SOA MINIMUM) (RFC 2308 §5).
    var negativeTTL: UInt32 { min(soa.ttl, soa.minimum) }
}

/// The zones of one serving snapshot, sorted most specific (longest apex) first.
struct ServingIndex: Sendable {
    let zones: [ServingZone]
    /// Bit n set when some apex is n bytes long: a quick filter before comparing names.
    let lengthMask: (UInt64, UInt64, UInt64, UInt64)
    /// Largest number of datasets in one zone (scratch size for per-query hits).
    let maxDatasets: Int

    init(stores: [Store], now: UInt64) {
        struct Acc {
            var apex: [UInt8]; var soa: SOAData; var nsTTL: UInt32; var ns: [[UInt8]]
            var v4: [ServingDataset] = []; var v6: [ServingDataset] = []
        }
        var accs: [Acc] = []
        for store in stores {
            for z in store.zones {
                let key = z.name.map(lowerASCII)
                var i = accs.firstIndex { $0.apex == key }
                if i == nil {
                    accs.append(Acc(apex: key, soa: z.soa, nsTTL: z.nsTTL, ns: z.ns))
                    i = accs.count - 1
                }
                for d in z.datasets {
                    // `$TIMESTAMP` expiry: an expired dataset is served as if absent.
                    if let e = d.expires, e < now { continue }
                    let s = ServingDataset(table: d.table, values: d.values, ttl: d.ttl)
                    if d.family == .ipv4 { accs[i!].v4.append(s) } else { accs[i!].v6.append(s) }
                }
            }
        }
        accs.sort { $0.apex.count > $1.apex.count }
        zones = accs.map { ServingZone(apex: $0.apex, soa: $0.soa, nsTTL: $0.nsTTL, ns: $0.ns, v4: $0.v4, v6: $0.v6) }
        var m: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        for z in zones {
            let n = z.apex.count
            switch n >> 6 {
            case 0: m.0 |= 1 << UInt64(n & 63)
            case 1: m.1 |= 1 << UInt64(n & 63)
            case 2: m.2 |= 1 << UInt64(n & 63)
            default: m.3 |= 1 << UInt64(n & 63)
            }
        }
        lengthMask = m
        maxDatasets = zones.map { $0.v4.count + $0.v6.count }.max() ?? 0
    }

    @inline(__always)
    func hasApexLength(_ n: Int) -> Bool {
        let bit = UInt64(1) << UInt64(n & 63)
        switch n >> 6 {
        case 0: return lengthMask.0 & bit != 0
        case 1: return lengthMask.1 & bit != 0
        case 2: return lengthMask.2 & bit != 0
        case 3: return lengthMask.3 & bit != 0
        default: return false
        }
    }

    /// Finds the most specific zone containing the QNAME at `qnameOffset` (encoded, validated by
    /// the reader, `qnameLength` bytes). Case-insensitive; allocates nothing. Walking labels
    /// from the left meets the longest suffixes first, so the first match is the most specific.
    /// - Returns: the zone, the number of labels left of its apex and the apex's offset.
    func match(_ q: UnsafeRawBufferPointer, qnameOffset: Int, qnameLength: Int)
        -> (zone: ServingZone, labels: Int, apexOffset: Int)?
    {
        let end = qnameOffset + qnameLength
        var pos = qnameOffset
        var labels = 0
        while true {
            let remaining = end - pos
            if hasApexLength(remaining) {
                for zi in zones.indices {
                    let z = zones[zi]
                    guard z.apex.count == remaining else { continue }
                    let same = z.apex.withUnsafeBufferPointer { a -> Bool in
                        var k = 0
                        while k < remaining {
                            if lowerASCII(q[pos + k]) != a[k] { return false }
                            k += 1
                        }
                        return true
                    }
                    if same { return (z, labels, pos) }
                }
            }
            let len = Int(q[pos])
            if len == 0 { return nil }
            pos += 1 + len
            labels += 1
        }
    }
}
