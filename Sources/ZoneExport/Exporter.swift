import PrefixStore

/// One resource record of an exported zone, class IN, in uncompressed wire form.
public struct ExportRecord: Sendable, Hashable {
    /// Owner name, uncompressed wire form, lower-cased (`\x01*\x01a\x02bl\x07example\x00`).
    public var owner: [UInt8]
    /// RR type (1 A, 2 NS, 6 SOA, 13 HINFO, 16 TXT).
    public var type: UInt16
    /// Time to live, seconds.
    public var ttl: UInt32
    /// RDATA, wire form (names uncompressed).
    public var rdata: [UInt8]

    public init(owner: [UInt8], type: UInt16, ttl: UInt32, rdata: [UInt8]) {
        self.owner = owner; self.type = type; self.ttl = ttl; self.rdata = rdata
    }

    /// The whole RR in wire form: owner, type, class IN, TTL, RDLENGTH, RDATA (RFC 1035 §4.1.3).
    public var wire: [UInt8] {
        var out = owner
        out.reserveCapacity(owner.count + 10 + rdata.count)
        appendWire(to: &out)
        return out
    }

    /// Appends type, class, TTL, RDLENGTH and RDATA (everything after the owner).
    func appendWire(to out: inout [UInt8]) {
        out.append(UInt8(type >> 8)); out.append(UInt8(type & 0xFF))
        out.append(0); out.append(1)
        out.append(UInt8(ttl >> 24)); out.append(UInt8((ttl >> 16) & 0xFF))
        out.append(UInt8((ttl >> 8) & 0xFF)); out.append(UInt8(ttl & 0xFF))
        out.append(UInt8(rdata.count >> 8)); out.append(UInt8(rdata.count & 0xFF))
        out.append(contentsOf: rdata)
    }
}

/// RR type numbers the export writes.
public enum ExportType {
    public static let a: UInt16 = 1
    public static let ns: UInt16 = 2
    public static let soa: UInt16 = 6
    /// The type of an exclusion marker: HINFO (RFC 8482 §4.2 and RFC 1035 §3.3.2), a type no
    /// DNSBL client asks for, so a secondary answers NODATA where `serve` says NXDOMAIN.
    public static let marker: UInt16 = 13
    public static let txt: UInt16 = 16
}

/// How the export renders a TXT template's `$` (the queried address), which no static zone can
/// express.
public enum DollarText: Sendable, Hashable {
    /// `$` becomes the text of the block the record covers: the address for an exact name
    /// (`192.0.2.1`, `2001:db8::1`), the block in CIDR form for a wildcard (`192.0.2.0/24`,
    /// `2001:db8::/44`). The default.
    case block
    /// `$` becomes these bytes.
    case fixed([UInt8])
}

/// Export settings.
public struct ExportOptions: Sendable {
    /// What a TXT template's `$` becomes (`$$` always becomes `$`).
    public var dollar: DollarText = .block
    public init(dollar: DollarText = .block) { self.dollar = dollar }
}

/// Figures of one zone's export.
public struct ExportStats: Sendable, Hashable {
    /// Records written, SOA and NS included (the SOA once).
    public var records = 0
    /// Wildcard records (owner `*.…`).
    public var wildcards = 0
    /// Exclusion markers (HINFO at names `serve` answers NXDOMAIN for).
    public var markers = 0
    /// Listed ranges in the store (flattened, summed over datasets).
    public var ranges = 0
    /// Records whose TXT had a `$` rendered statically.
    public var dollarTexts = 0
    /// Top-level labels both an IPv4 and an IPv6 dataset use: in a zone with both families a
    /// wildcard of one family can match names of the other there (see "Running secondaries").
    public var familyCollisions: [String] = []
    /// Data records per listed range (records / ranges); 0 without ranges.
    public var expansion: Double { ranges == 0 ? 0 : Double(records) / Double(ranges) }
}

/// Turns a store zone into the records of an RFC 1035 zone that a standard authoritative
/// server answers like `prefixbl serve` for A (and TXT without `$`) at every full-length name.
///
/// Per address family, the flattened ranges of all datasets are united (an address in two
/// datasets carries both values, RFC 2181 §5.2: the smaller TTL) and walked as a label tree
/// (nibbles for IPv6, octets for IPv4, RFC 5782 §2). At each node that holds mixed data the
/// most common value among its uniform children becomes the node's wildcard `*.node`; children
/// whose uniform value differs get their own wildcard (or an exact name at /128 and /32), or,
/// when they are not listed under a listed wildcard, an exclusion marker: an existing name with
/// an HINFO record, so that the wildcard no longer matches there and a secondary answers NODATA.
/// Children with mixed data are nodes in their own right (they own records below), so by the
/// closest-encloser rule (RFC 4592 §3.3.1) the parent's wildcard never reaches into them and
/// each such child repeats the covering value as its own wildcard where needed. The apex never
/// gets a wildcard (it would answer for every other name of the zone).
public enum Exporter {
    /// The zone's records in the order a transfer sends them: SOA, NS, then data records. The
    /// closing SOA of a transfer is not included.
    public static func records(_ zone: StoreZone, options: ExportOptions = ExportOptions())
        -> (records: [ExportRecord], stats: ExportStats)
    {
        var out: [ExportRecord] = []
        let stats = export(zone, options: options) { out.append($0) }
        return (out, stats)
    }

    /// Streams the zone's records to `emit` in the order of ``records(_:options:)``.
    public static func export(_ zone: StoreZone, options: ExportOptions = ExportOptions(),
                              emit: (ExportRecord) -> Void) -> ExportStats {
        var stats = ExportStats()
        emit(soaRecord(zone))
        stats.records += 1
        for ns in zone.ns {
            emit(ExportRecord(owner: zone.name, type: ExportType.ns, ttl: zone.nsTTL, rdata: ns))
            stats.records += 1
        }
        var topLabels: [AddressFamily: Set<String>] = [:]
        for family in [AddressFamily.ipv6, .ipv4] {
            let datasets = zone.datasets.filter { $0.family == family }
            if datasets.isEmpty { continue }
            // The walker must not outlive `emit`: copy its counts out inside the closure.
            withoutActuallyEscaping(emit) { e in
                var w = TreeWalker(zone: zone, family: family, datasets: datasets, options: options, emit: e)
                w.run()
                stats.records += w.records
                stats.wildcards += w.wildcards
                stats.markers += w.markers
                stats.dollarTexts += w.dollarTexts
                topLabels[family] = w.topLabels
            }
            stats.ranges += datasets.reduce(0) { $0 + $1.table.rangeCount }
        }
        if let a = topLabels[.ipv4], let b = topLabels[.ipv6] {
            stats.familyCollisions = a.intersection(b).sorted()
        }
        return stats
    }

    /// The zone's SOA as a record.
    public static func soaRecord(_ zone: StoreZone) -> ExportRecord {
        let s = zone.soa
        var r = s.mname + s.rname
        for v in [s.serial, s.refresh, s.retry, s.expire, s.minimum] { appendU32(&r, v) }
        return ExportRecord(owner: zone.name, type: ExportType.soa, ttl: s.ttl, rdata: r)
    }
}

@inline(__always) func appendU32(_ out: inout [UInt8], _ v: UInt32) {
    out.append(UInt8(v >> 24)); out.append(UInt8((v >> 16) & 0xFF))
    out.append(UInt8((v >> 8) & 0xFF)); out.append(UInt8(v & 0xFF))
}

/// TXT RDATA: the text as character-strings of at most 255 bytes (RFC 1035 §3.3.14); an
/// empty text is one empty string.
func txtRData(_ text: [UInt8]) -> [UInt8] {
    var r: [UInt8] = []
    r.reserveCapacity(text.count + text.count / 255 + 1)
    var i = 0
    repeat {
        let n = min(255, text.count - i)
        r.append(UInt8(n))
        r.append(contentsOf: text[i..<(i + n)])
        i += n
    } while i < text.count
    return r
}

/// A TXT template with `$$` → `$` and `$` → `replacement`.
func expandDollar(_ template: [UInt8], _ replacement: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(template.count + replacement.count)
    var i = 0
    while i < template.count {
        let c = template[i]
        if c == UInt8(ascii: "$") {
            if i + 1 < template.count && template[i + 1] == UInt8(ascii: "$") {
                out.append(c); i += 2; continue
            }
            out.append(contentsOf: replacement)
        } else {
            out.append(c)
        }
        i += 1
    }
    return out
}

/// Whether a template has a `$` that stands for the queried address (not `$$`).
func hasDollar(_ template: [UInt8]) -> Bool {
    var i = 0
    while i < template.count {
        if template[i] == UInt8(ascii: "$") {
            if i + 1 < template.count && template[i + 1] == UInt8(ascii: "$") { i += 2; continue }
            return true
        }
        i += 1
    }
    return false
}
