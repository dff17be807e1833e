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

/// RR type numbers the export writes (`generic` records add AAAA 28 and MX 15).
public enum ExportType {
    public static let a: UInt16 = 1
    public static let ns: UInt16 = 2
    public static let soa: UInt16 = 6
    /// The type of an exclusion marker: HINFO (RFC 8482 §4.2 and RFC 1035 §3.3.2), a type no
    /// DNSBL client asks for, so a secondary answers NODATA where `serve` says NXDOMAIN.
    public static let marker: UInt16 = 13
    public static let txt: UInt16 = 16
    /// The HINFO RDATA ``ExportOptions/emptyNonTerminalRecords`` puts at every empty
    /// non-terminal: CPU `empty-non-terminal`, OS `prefixbl` (RFC 1035 §3.3.2), in the manner
    /// of RFC 8482 §4.2's HINFO — a record nobody asks for, which names what it is. The signed
    /// answers write the same bytes (`DNSBL`'s copy, checked equal by a test).
    public static let emptyNonTerminalHINFO: [UInt8] = [18] + Array("empty-non-terminal".utf8) + [8] + Array("prefixbl".utf8)
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
    /// Whether a serving zone with IPv4 data but no IPv6 data gets the IPv4 images under
    /// ::ffff:0:0/96 and 2002::/16 too (`serve` answers them there as well). Off by default:
    /// the images roughly quadruple an IPv4 list's records for names few clients ask; a
    /// zone with IPv6 data always gets them.
    public var imagesWithoutIPv6Data = false
    /// Whether every empty non-terminal of the zone (a name between an owner and the apex
    /// that owns no record, RFC 4592 §2.2.2) gets an HINFO record
    /// (``ExportType/emptyNonTerminalHINFO``, TTL min(SOA TTL, SOA MINIMUM)), so that once the
    /// zone is signed each such name owns an NSEC whose bitmap lists a real type. BIND 9.18's
    /// aggressive use of cached NSEC (RFC 8198) finds the covering NSEC through a tree of
    /// cached owner names and gives up at an empty node; with these records it synthesises the
    /// NXDOMAIN of unlisted names. Off by default: about 55% more names for a nibble zone.
    /// Costs memory: the export keeps every owner name until the end, where the records are
    /// written (after the data records, in canonical order).
    public var emptyNonTerminalRecords = false
    public init(dollar: DollarText = .block, imagesWithoutIPv6Data: Bool = false, emptyNonTerminalRecords: Bool = false) {
        self.dollar = dollar; self.imagesWithoutIPv6Data = imagesWithoutIPv6Data
        self.emptyNonTerminalRecords = emptyNonTerminalRecords
    }
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
    /// `generic` records written (distinct RRs).
    public var generic = 0
    /// IPv4 ranges walked a second and third time as their images under ::ffff:0:0/96 and
    /// 2002::/16 in the IPv6 tree (twice the IPv4 ranges of a zone with both families).
    public var imageRanges = 0
    /// Records whose TXT had a `$` rendered statically.
    public var dollarTexts = 0
    /// In a zone with both families: the top-level labels 0–9 under which either family has
    /// data. These labels are octets and nibbles alike, so there a wildcard of one family can
    /// answer names of the other, and names of one can stop wildcards of the other (see
    /// "Running secondaries"). Empty when the zone has one family.
    public var familyCollisions: [String] = []
    /// dnset: names with a literal `*` label left out of the export (a master file cannot
    /// write one without making it a wildcard, RFC 4592 §2.1.1); `serve` answers them.
    public var literalStarNames = 0
    /// HINFO records written at empty non-terminals (``ExportOptions/emptyNonTerminalRecords``).
    public var emptyNonTerminals = 0
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
        records([zone], options: options)
    }

    /// ``records(_:options:)`` for one zone split over several stores (`serve --store a
    /// --store b` with the same apex): the union `serve` answers, SOA and NS from the first.
    public static func records(_ parts: [StoreZone], options: ExportOptions = ExportOptions())
        -> (records: [ExportRecord], stats: ExportStats)
    {
        var out: [ExportRecord] = []
        let stats = export(parts, options: options) { out.append($0) }
        return (out, stats)
    }

    /// Streams the zone's records to `emit` in the order of ``records(_:options:)-(StoreZone,_)``.
    public static func export(_ zone: StoreZone, options: ExportOptions = ExportOptions(),
                              emit: (ExportRecord) -> Void) -> ExportStats {
        export([zone], options: options, emit: emit)
    }

    /// Streams the records of one zone whose datasets and `generic` records are spread over
    /// `parts` (the same apex in several stores, in store order) — the union, as `serve`
    /// answers it (DNSBL.docc/AnswerRules.md): the first part gives SOA and NS; `acl` datasets are not
    /// exported (they decide by client address, which a static zone cannot). `parts` must not
    /// be empty.
    ///
    /// Per serving zone (the apex and each `combined` subzone) and family, the ranges are
    /// walked as a label tree. In an IPv6 tree of a zone that also has IPv4 data the IPv4
    /// images are added as `serve` answers them (DNSBL.docc/AnswerRules.md): under ::ffff:0:0/96 the IPv4
    /// data alone (IPv6 data there is unreachable), under 2002::/16 the IPv4 data of the
    /// embedded address united with the IPv6 data. Names that exist for other reasons —
    /// `generic` owners, in-zone NS names, subzone apexes — and their ancestors stop
    /// wildcards like a more specific entry does, so the walk repeats the covering value
    /// below them; a `generic` owner at a full address name answers its own records only, as
    /// in `serve`.
    public static func export(_ parts: [StoreZone], options: ExportOptions = ExportOptions(),
                              emit: (ExportRecord) -> Void) -> ExportStats {
        precondition(!parts.isEmpty, "export of no zone")
        guard options.emptyNonTerminalRecords else { return exportRecords(parts, options: options, emit: emit) }
        // Every owner, then an HINFO at each name between an owner and the apex owning nothing.
        let apex = parts[0].name.map(lowerASCII)
        var owners = Set<[UInt8]>()
        var stats = exportRecords(parts, options: options) { r in
            owners.insert(r.owner.map(lowerASCII))
            emit(r)
        }
        var ents = Set<[UInt8]>()
        for owner in owners {
            var n = parentName(owner)
            while n.count > apex.count, !owners.contains(n), ents.insert(n).inserted { n = parentName(n) }
        }
        let ttl = min(parts[0].soa.ttl, parts[0].soa.minimum)
        for n in ents.sorted(by: canonicallyBefore) {
            emit(ExportRecord(owner: n, type: ExportType.marker, ttl: ttl, rdata: ExportType.emptyNonTerminalHINFO))
        }
        stats.records += ents.count
        stats.emptyNonTerminals = ents.count
        return stats
    }

    /// - Parameter deferWalk: when given, each label-tree walker is handed to it, not run
    ///   (its records are not emitted nor counted): ``CanonicalExport`` steps them itself.
    static func exportRecords(_ parts: [StoreZone], options: ExportOptions, emit: (ExportRecord) -> Void,
                              deferWalk: ((TreeWalker, _ top: Bool) -> Void)? = nil) -> ExportStats {
        let zone = parts[0]
        var stats = ExportStats()
        emit(soaRecord(zone))
        stats.records += 1
        for ns in zone.ns {
            emit(ExportRecord(owner: zone.name, type: ExportType.ns, ttl: zone.nsTTL, rdata: ns))
            stats.records += 1
        }
        // `generic` records of every part, each distinct RR once.
        var seen = Set<GenericRecord>()
        var owners: [[UInt8]] = []
        for p in parts {
            for r in p.records where seen.insert(r).inserted {
                emit(ExportRecord(owner: r.owner, type: r.type, ttl: r.ttl, rdata: r.rdata))
                stats.records += 1
                stats.generic += 1
                owners.append(r.owner)
            }
        }
        // Datasets by serving zone (subzone labels; [] = the apex), in first-seen order.
        var subs: [(sub: [UInt8], sets: [StoreDataset])] = []
        for p in parts {
            for d in p.datasets {
                // The store's rule decides what a dataset exports as, never its type name.
                switch d.rule {
                case .clientACL, .keyInQName: continue      // access control, not zone data
                case .longestPrefix, .ip4Buckets: break     // address tables: reversed-address names
                case .domainNames: break                    // name tables: the names (DomainExport)
                }
                if let i = subs.firstIndex(where: { $0.sub == d.subzone }) {
                    subs[i].sets.append(d)
                } else {
                    subs.append((d.subzone, [d]))
                }
            }
        }
        let subApexes = subs.map { $0.sub + zone.name }
        let existing = zone.ns + subApexes.filter { $0 != zone.name }
        var topLabels: [AddressFamily: Set<String>] = [:]
        for (k, sub) in subs.enumerated() {
            let apex = subApexes[k]
            let addressSets = sub.sets.filter { $0.rule != .domainNames }
            let v4 = addressSets.filter { $0.family == .ipv4 }
            let v6 = addressSets.filter { $0.family == .ipv6 }
            let domainSets = sub.sets.filter { $0.rule == .domainNames }
            if !domainSets.isEmpty {
                let (n, w, out) = DomainExport.export(domainSets, apex: apex, markerTTL: min(zone.soa.ttl, zone.soa.minimum), emit: emit)
                stats.records += n
                stats.wildcards += w
                stats.literalStarNames += out
            }
            for family in [AddressFamily.ipv6, .ipv4] {
                var sources: [TreeWalker.Source]
                switch family {
                case .ipv4:
                    if v4.isEmpty { continue }
                    sources = v4.map { TreeWalker.Source($0) }
                case .ipv6:
                    if v6.isEmpty && (v4.isEmpty || !options.imagesWithoutIPv6Data) { continue }
                    sources = v6.map { TreeWalker.Source($0, clippingMapped: !v4.isEmpty) }
                    sources += v4.map { TreeWalker.Source(mapped: $0) }
                    sources += v4.map { TreeWalker.Source(sixToFour: $0) }
                    stats.imageRanges += 2 * v4.reduce(0) { $0 + $1.table.rangeCount }
                }
                let forced = TreeWalker.forcedNodes(family: family, apex: apex, owners: owners, existing: existing)
                if let deferWalk {
                    deferWalk(TreeWalker(apex: apex, soa: zone.soa, family: family, sources: sources,
                                         forced: forced, options: options, emit: { _ in }), sub.sub.isEmpty)
                    continue
                }
                // The walker must not outlive `emit`: copy its counts out inside the closure.
                withoutActuallyEscaping(emit) { e in
                    var w = TreeWalker(apex: apex, soa: zone.soa, family: family, sources: sources,
                                       forced: forced, options: options, emit: e)
                    w.run()
                    stats.records += w.records
                    stats.wildcards += w.wildcards
                    stats.markers += w.markers
                    stats.dollarTexts += w.dollarTexts
                    if sub.sub.isEmpty { topLabels[family, default: []].formUnion(w.topLabels) }
                }
            }
            stats.ranges += sub.sets.reduce(0) { $0 + $1.table.rangeCount }
        }
        if let a = topLabels[.ipv4], let b = topLabels[.ipv6] {
            // Labels 0–9 are both octets and nibbles: data of either family under one of them
            // can give names of the other family an answer (a wildcard) or take one away (an
            // existing name stops a wildcard), whether or not the other family has data there.
            let digits = Set((0...9).map { String($0) })
            stats.familyCollisions = a.union(b).intersection(digits).sorted()
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

@inline(__always) func lowerASCII(_ b: UInt8) -> UInt8 { b >= 65 && b <= 90 ? b | 0x20 : b }

/// `name` (uncompressed wire form) without its first label; the root stays the root.
func parentName(_ name: [UInt8]) -> [UInt8] {
    guard let first = name.first, first > 0, name.count > 1 + Int(first) else { return name }
    return Array(name[(1 + Int(first))...])
}

/// Canonical DNS order of two lower-case uncompressed wire names (RFC 4034 §6.1): labels
/// compared from the root as byte strings.
func canonicallyBefore(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    func labels(_ n: [UInt8]) -> [ArraySlice<UInt8>] {
        var out: [ArraySlice<UInt8>] = [], p = 0
        while p < n.count && n[p] != 0 { out.append(n[(p + 1)..<min(n.count, p + 1 + Int(n[p]))]); p += 1 + Int(n[p]) }
        return out
    }
    let x = labels(a), y = labels(b)
    var i = x.count - 1, j = y.count - 1
    while i >= 0 && j >= 0 {
        if x[i] != y[j] { return x[i].lexicographicallyPrecedes(y[j]) }
        i -= 1; j -= 1
    }
    return x.count < y.count
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
