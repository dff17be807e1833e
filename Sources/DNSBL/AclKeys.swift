import DNSWire
import PrefixStore

// aclkey: keys in the query name (<doc:ZoneDataAnswers#Keys-in-the-query-name>).

/// What the key of a query was, for the query log and the per-key counters.
public enum KeyState: UInt8, Sendable {
    /// The zone has no keys, or the query was exempt (the apex, QTYPE NS or SOA without a
    /// listed key, or a query answered before the zone match).
    case none = 0
    /// The label in the key position is a listed key: its value applied and it was removed.
    case known = 1
    /// The label in the key position (or the name's only label below the apex) is not a listed
    /// key: the default applied and the name was looked up as it is.
    case unknown = 2
}

/// The keys of one zone: its `aclkey` datasets, in the order the stores give them. A key
/// listed in several answers with the first dataset's value; the default is the first
/// dataset's. Shared by the zone's `combined` subzones (the key sits below the base apex).
struct ServingKeys: Sendable {
    var sets: [ServingDataset] = []
    /// The snapshot-wide ordinal of value 0 of each set (``AnswerOutcome/keyOrdinal`` =
    /// base + value index).
    var bases: [Int32] = []
    /// The base zone has `combined` subzones: a query with a known key is matched again
    /// against them once the key is removed.
    var hasSubzones = false
    var isEmpty: Bool { sets.isEmpty }

    /// The value for the key `label` (its bytes, no length byte): (value, TTL, ordinal) for a
    /// listed key, the default with ordinal -1 otherwise. Hashes once; allocates nothing.
    @inline(__always)
    func decide(_ label: UnsafeRawBufferPointer) -> (value: StoreValue, ttl: UInt32, ordinal: Int32) {
        let h = AclKey.hash(label)
        for i in sets.indices {
            let v = sets[i].table.value(at: h)
            if v > 0 { return (sets[i].valuePointer[Int(v)], sets[i].ttl, bases[i] &+ v) }
        }
        return (sets[0].valuePointer[0], sets[0].ttl, -1)
    }
}

extension QNameScan {
    /// QNAME offset of the start of the last label starting before `rel` (which must be
    /// preceded by at least one label start).
    @inline(__always)
    func labelStart(before rel: Int) -> Int {
        var w = rel >> 6
        var mask = (UInt64(1) << UInt64(rel & 63)) &- 1
        while w >= 0 {
            let bits: UInt64
            switch w {
            case 0: bits = starts.0
            case 1: bits = starts.1
            case 2: bits = starts.2
            default: bits = starts.3
            }
            let m = bits & mask
            if m != 0 { return w * 64 + 63 - m.leadingZeroBitCount }
            w -= 1
            mask = .max
        }
        return 0
    }
}

extension Responder {
    /// The zone's keys applied to one query (class IN, after the client ACLs): the label just
    /// below the base zone's apex is the key. A listed key's value applies and the key is
    /// removed — `zone`, `apexAt` and `labels` then describe the name without it (matched
    /// again against the `combined` subzones); an unknown key (or a name with one label below
    /// the apex) gets the default and the name stays as it is. The apex is exempt, and QTYPE
    /// NS and SOA get no action (a known key is still removed). The value folds into `acl`
    /// (the more severe decision wins); a forced answer taken from the key answers every name
    /// below the apex (``Reply/keyForced``). Allocates nothing.
    @inline(__always)
    func applyKey(_ query: UnsafeRawBufferPointer, _ q: ParsedQuery, _ scan: QNameScan, baseAt: Int,
                  _ zone: inout ServingZone, _ apexAt: inout Int, _ labels: inout Int, _ acl: inout ACLDecision,
                  _ r: inout Reply) {
        let keys = zone.keys
        guard labels + zone.subLabels > 0 else { return }  // the apex: exempt
        let keyAt = q.qnameOffset + scan.labelStart(before: baseAt - q.qnameOffset)
        let len = Int(query[keyAt])
        let d = keys.decide(UnsafeRawBufferPointer(rebasing: query[(keyAt + 1)..<(keyAt + 1 + len)]))
        r.keyAt = keyAt
        if d.ordinal >= 0 {
            r.keyState = .known
            r.keyOrdinal = d.ordinal
            // Remove the key: the name is what precedes it, below the base apex.
            let left = keyAt - q.qnameOffset
            var found = false
            if keys.hasSubzones {
                for zi in index.zones.indices {
                    let z = index.zones[zi]
                    guard z.zoneIndex == zone.zoneIndex, z.subLabels > 0 else { continue }
                    let n = z.apex.count - index.zoneNames[Int(z.zoneIndex)].count
                    guard n <= left, scan.startsLabel(at: left - n) else { continue }
                    let pos = keyAt - n
                    var same = true
                    for k in 0..<n where lowerASCII(query[pos + k]) != z.apex[k] { same = false; break }
                    if same {
                        zone = z
                        apexAt = pos
                        labels = scan.labels(before: pos - q.qnameOffset)
                        found = true
                        break
                    }
                }
            }
            if !found {
                zone = index.bases[Int(zone.zoneIndex)]
                apexAt = keyAt
                labels = scan.labels(before: left)
            }
        } else {
            r.keyState = .unknown
        }
        if q.qtype == DNSType.ns || q.qtype == DNSType.soa { return }
        let before = acl.kind
        acl.add(d.value, ttl: d.ttl)
        // A key's forced answer answers every name below the apex (the rspamd fork's
        // "always listed"), not only full address names as a client ACL's policy answer.
        if before == .none && acl.kind == .answer { r.keyForced = true }
    }
}
