import PrefixStore
import DNSWire

/// One dataset as the responder serves it: its table, values and answer TTL.
struct ServingDataset: @unchecked Sendable {
    let table: RangeTable
    let values: [StoreValue]
    /// Answer TTL in seconds.
    let ttl: UInt32
    /// The values in memory of their own, so that a hit can point at a value run
    /// (``StoreValue/continues``) while the snapshot lives.
    let valueStorage: ValueStorage
    var valuePointer: UnsafePointer<StoreValue> { UnsafePointer(valueStorage.base) }

    init(table: RangeTable, values: [StoreValue], ttl: UInt32) {
        self.table = table; self.values = values; self.ttl = ttl
        valueStorage = ValueStorage(values)
    }
}

/// An immutable copy of a dataset's values at a stable address.
final class ValueStorage: @unchecked Sendable {
    let base: UnsafeMutablePointer<StoreValue>
    let count: Int
    init(_ values: [StoreValue]) {
        count = values.count
        base = .allocate(capacity: max(count, 1))
        base.initialize(from: values, count: count)
    }
    deinit {
        base.deinitialize(count: count)
        base.deallocate()
    }
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

/// One `generic` record as served: owner labels left of the serving zone's apex.
struct ServingRecord: Sendable {
    /// Encoded labels of the owner before the serving apex, lower-cased, no root; empty = the
    /// serving apex itself.
    let prefix: [UInt8]
    let type: UInt16
    /// TTL in seconds.
    let ttl: UInt32
    let rdata: [UInt8]
}

/// An access-control list: its datasets per family (longest prefix within each; several
/// datasets combine like two ACLs, the most severe action winning).
struct ServingACL: Sendable {
    var v4: [ServingDataset] = []
    var v6: [ServingDataset] = []
    var isEmpty: Bool { v4.isEmpty && v6.isEmpty }
}

/// One zone of the serving snapshot: its apex, SOA, NS and datasets split by family, all
/// stores' datasets for the same apex united (<doc:AnswerRules#Which-entries-answer>). A `combined` subzone is served as a
/// zone of its own whose SOA, NS and negative answers are the base zone's.
final class ServingZone: Sendable {
    /// Apex, encoded, lower-cased (for a subzone: the subzone's full name).
    let apex: [UInt8]
    /// Labels between this apex and the base zone's apex (0 for the base zone itself).
    let subLabels: Int
    let soa: SOAData
    let mname: EncodedName
    let rname: EncodedName
    /// NS TTL in seconds.
    let nsTTL: UInt32
    let ns: [EncodedName]
    /// Names strictly below this apex that exist without IP data: in-zone NS names, generic
    /// owners and subzone apexes, encoded, lower-cased. They and their ancestors are answered
    /// NODATA, never NXDOMAIN (RFC 8020; <doc:ZoneDataAnswers#Generic-names>).
    let existing: [[UInt8]]
    let v4: [ServingDataset]
    let v6: [ServingDataset]
    /// `generic` records whose most specific serving zone this is.
    let records: [ServingRecord]
    /// The zone's own ACL (rbldnsd `acl` dataset of this zone).
    let acl: ServingACL
    /// Transition mappings enabled for this zone (Transition.swift), disjoint; usually none.
    let transitions: [TransitionRule]
    /// Index of the base zone in ``ServingIndex/zoneNames`` (what ``AnswerOutcome/zone``
    /// reports): a `combined` subzone counts as its base zone.
    let zoneIndex: Int32
    /// dnset datasets attached at this apex (DomainAnswers.swift).
    let names: [ServingNames]
    /// The base zone's keys (`aclkey` datasets, AclKeys.swift); usually none.
    let keys: ServingKeys

    init(apex: [UInt8], subLabels: Int, baseApex: [UInt8], soa: SOAData, nsTTL: UInt32, ns: [[UInt8]],
         existing: [[UInt8]], v4: [ServingDataset], v6: [ServingDataset], records: [ServingRecord],
         acl: ServingACL, transitions: [TransitionRule] = [], zoneIndex: Int32 = -1, names: [ServingNames] = [],
         keys: ServingKeys = ServingKeys()) {
        self.names = names
        let apex = apex.map(lowerASCII)
        let base = baseApex.map(lowerASCII)
        self.apex = apex
        self.subLabels = subLabels
        self.soa = soa
        self.mname = EncodedName(soa.mname, apex: base)
        self.rname = EncodedName(soa.rname, apex: base)
        self.nsTTL = nsTTL
        self.ns = ns.map { EncodedName($0, apex: base) }
        self.existing = existing.map { $0.map(lowerASCII) }.filter { $0.count > apex.count && isLabelSuffix($0, apex) }
        self.v4 = v4
        self.v6 = v6
        self.records = records
        self.acl = acl
        self.transitions = transitions
        self.zoneIndex = zoneIndex
        self.keys = keys
    }

    /// TTL of negative answers in seconds: min(SOA TTL, SOA MINIMUM) (RFC 2308 §5).
    var negativeTTL: UInt32 { min(soa.ttl, soa.minimum) }
}

/// The zones of one serving snapshot, sorted most specific (longest apex) first.
struct ServingIndex: Sendable {
    let zones: [ServingZone]
    /// Largest number of datasets in one zone (scratch size for per-query hits; a value run
    /// is one hit).
    let maxDatasets: Int
    /// The global ACL (rbldnsd `:acl:file`, stored as the zone `.`).
    let globalACL: ServingACL
    /// Base zone apexes (lower-case wire names) in first-seen order; indexed by
    /// ``ServingZone/zoneIndex``.
    let zoneNames: [[UInt8]]
    /// The base zone of each ``zoneNames`` entry (a query whose key is removed may fall back
    /// from a subzone to its base zone) and how many keys the snapshot lists (aclkey).
    let bases: [ServingZone]  // aclkey
    let keyCount: Int  // aclkey

    /// - Parameter transitions: mappings by normalised zone name (``AnswerOptions/transitions``).
    init(stores: [Store], now: UInt64, transitions: [String: [TransitionMapping]] = [:]) {
        struct Acc {
            var apex: [UInt8]; var soa: SOAData; var nsTTL: UInt32; var ns: [[UInt8]]
            /// Datasets by subzone (encoded labels; [] = the apex), in first-seen order.
            var subs: [(sub: [UInt8], v4: [ServingDataset], v6: [ServingDataset])] = [([], [], [])]
            /// dnset datasets, parallel to `subs`.
            var names: [[ServingNames]] = [[]]
            var records: [GenericRecord] = []
            var acl = ServingACL()
            var keys = ServingKeys()  // aclkey
        }
        var keyCount: Int32 = 0  // aclkey
        var accs: [Acc] = []
        var global = ServingACL()
        for store in stores {
            for z in store.zones {
                if z.isGlobalACL {
                    // Client ACLs only: keys (aclkey) belong to a zone, there is no global key list.
                    for d in z.datasets where d.rule.matchesClient {
                        if let e = d.expires, e < now { continue }
                        let s = ServingDataset(table: d.table, values: d.values, ttl: d.ttl)
                        if d.family == .ipv4 { global.v4.append(s) } else { global.v6.append(s) }
                    }
                    continue
                }
                let key = z.name.map(lowerASCII)
                var i = accs.firstIndex { $0.apex == key }
                if i == nil {
                    accs.append(Acc(apex: key, soa: z.soa, nsTTL: z.nsTTL, ns: z.ns))
                    i = accs.count - 1
                }
                accs[i!].records += z.records
                for d in z.datasets {
                    // `$TIMESTAMP` expiry: an expired dataset is served as if absent.
                    if let e = d.expires, e < now { continue }
                    let s = ServingDataset(table: d.table, values: d.values, ttl: d.ttl)
                    // The store's rule decides what a dataset means, never its type name.
                    switch d.rule {
                    case .keyInQName:
                        // The key below the base apex decides first (AclKeys.swift).
                        if !d.values.isEmpty {
                            accs[i!].keys.sets.append(s)
                            accs[i!].keys.bases.append(keyCount)
                            keyCount += Int32(d.values.count)
                        }
                        continue
                    case .clientACL:
                        if d.family == .ipv4 { accs[i!].acl.v4.append(s) } else { accs[i!].acl.v6.append(s) }
                        continue
                    case .longestPrefix, .ip4Buckets, .domainNames:
                        // Address tables are one table search on the QNAME's address; an ip4set
                        // value run is followed by the answer writer (StoreValue.continues).
                        // Name tables go to the zone's `names` (DomainAnswers.swift).
                        break
                    }
                    let sub = d.subzone.map(lowerASCII)
                    var j = accs[i!].subs.firstIndex { $0.sub == sub }
                    if j == nil { accs[i!].subs.append((sub, [], [])); accs[i!].names.append([]); j = accs[i!].subs.count - 1 }
                    if d.rule == .domainNames {
                        if let t = d.domains { accs[i!].names[j!].append(ServingNames(table: t, values: d.values, ttl: d.ttl)) }
                        continue
                    }
                    if d.family == .ipv4 { accs[i!].subs[j!].v4.append(s) } else { accs[i!].subs[j!].v6.append(s) }
                }
            }
        }
        var built: [ServingZone] = []
        for (ai, a) in accs.enumerated() {
            let apexes = a.subs.map { $0.sub + a.apex }
            // Every generic owner goes to the most specific serving zone containing it.
            var recs = Array(repeating: [ServingRecord](), count: a.subs.count)
            for r in a.records {
                let owner = r.owner.map(lowerASCII)
                var best = -1
                for (k, ap) in apexes.enumerated() where isLabelSuffix(owner, ap) {
                    if best < 0 || ap.count > apexes[best].count { best = k }
                }
                guard best >= 0 else { continue }
                recs[best].append(ServingRecord(prefix: Array(owner[0..<(owner.count - apexes[best].count)]),
                                                type: r.type, ttl: r.ttl, rdata: r.rdata))
            }
            let existing = a.ns + a.records.map(\.owner) + apexes
            var keys = a.keys  // aclkey
            keys.hasSubzones = a.subs.count > 1
            for (k, sub) in a.subs.enumerated() {
                var labels = 0, p = 0
                while p < sub.sub.count { p += 1 + Int(sub.sub[p]); labels += 1 }
                built.append(ServingZone(apex: apexes[k], subLabels: labels, baseApex: a.apex, soa: a.soa,
                                         nsTTL: a.nsTTL, ns: a.ns, existing: existing, v4: sub.v4, v6: sub.v6,
                                         records: recs[k], acl: a.acl,
                                         transitions: Self.rules(transitions, apexes[k]),
                                         zoneIndex: Int32(ai), names: a.names[k], keys: keys))
            }
        }
        built.sort { $0.apex.count > $1.apex.count }
        zones = built
        globalACL = global
        zoneNames = accs.map(\.apex)
        bases = built.filter { $0.subLabels == 0 }.sorted { $0.zoneIndex < $1.zoneIndex }
        self.keyCount = Int(keyCount)
        maxDatasets = zones.map { $0.v4.count + $0.v6.count + $0.names.count }.max() ?? 0
    }

    /// The mappings configured for the serving apex `apex` (wire form).
    static func rules(_ transitions: [String: [TransitionMapping]], _ apex: [UInt8]) -> [TransitionRule] {
        if transitions.isEmpty { return [] }
        let lower = apex.map(lowerASCII)
        for (zone, mappings) in transitions where TransitionZoneKey.wire(zone) == lower {
            return mappings.map(TransitionRule.init)
        }
        return []
    }

    /// Finds the most specific zone containing the QNAME at `qnameOffset` (encoded, validated by
    /// the reader, `qnameLength` bytes) without walking the name again: `scan` knows where its
    /// labels start. Case-insensitive; allocates nothing. Zones are tried longest apex first, so
    /// the first apex that is a label-aligned suffix of QNAME is the most specific zone.
    /// - Returns: the zone, the number of labels left of its apex and the apex's offset.
    @inline(__always)
    func match(_ q: UnsafeRawBufferPointer, qnameOffset: Int, qnameLength: Int, scan: QNameScan)
        -> (zone: ServingZone, labels: Int, apexOffset: Int)?
    {
        for zi in zones.indices {
            let z = zones[zi]
            let n = z.apex.count
            guard n <= qnameLength else { continue }
            let rel = qnameLength - n
            guard scan.startsLabel(at: rel) else { continue }
            let pos = qnameOffset + rel
            let same = z.apex.withUnsafeBufferPointer { a -> Bool in
                var k = 0
                while k < n {
                    if lowerASCII(q[pos + k]) != a[k] { return false }
                    k += 1
                }
                return true
            }
            if same { return (z, scan.labels(before: rel), pos) }
        }
        return nil
    }
}
