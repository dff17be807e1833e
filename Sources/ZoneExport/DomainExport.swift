import PrefixStore

// dnset: a domain list as static records (RunningSecondaries.md). rbldnsd's rule needs no
// wildcard tricks of DNS beyond `*.name`: every name the table knows (its entries and their
// ancestors below the apex) gets the records `serve` answers for it, and a `*.name` below it
// the records `serve` answers for its other children (the closest wildcard decision at the
// name or above). A name that exists in the zone then answers for itself, and any other name's
// closest encloser (RFC 4592 §3.3.1) is a known name whose `*.` carries the right answer.

enum DomainExport {
    /// Records of the dnset datasets `sets` attached at `apex` (wire form). `$` in TXT is the
    /// deciding entry's name. Returns (records, wildcards, left out) written.
    /// A name with a literal `*` label (a source line `*`, `a.*.b`, the `*.x` below a `*.*.x`
    /// entry) is left out, with every name below it: a master file has no escape for it
    /// (RFC 4592 §2.1.1), so a secondary would take it as a wildcard. `serve` answers those
    /// names; the count left out is the third figure (keys with a `*` label, entries and
    /// their ancestors).
    /// An excluded name whose parent's `*.` lists would be answered by that wildcard: it gets a
    /// HINFO marker (a type no DNSBL client asks for) so that it exists and answers NODATA.
    static func export(_ sets: [StoreDataset], apex: [UInt8], markerTTL: UInt32,
                       emit: (ExportRecord) -> Void) -> (Int, Int, Int) {
        // Every entry key and every ancestor key (prefixes ending at a label terminator).
        var owners = Set<[UInt8]>()
        for d in sets {
            guard let t = d.domains else { continue }
            for i in 0..<t.nameCount {
                let k = Array(t.entry(i).key)
                for p in k.indices where k[p] == 0 { owners.insert(Array(k[0...p])) }
            }
        }
        var records = 0, wildcards = 0, leftOut = 0
        for key in owners.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            let labels = key.withUnsafeBytes { DomainKey.labels(key: $0) }
            if hasStarLabel(labels) { leftOut += 1; continue }
            for wild in [false, true] {
                var hits: [(v: StoreValue, ttl: UInt32, name: [UInt8])] = []
                for d in sets {
                    guard let t = d.domains else { continue }
                    let m = key.withUnsafeBytes { k in wild ? t.childMatch(k.baseAddress!, k.count) : t.match(k.baseAddress!, k.count) }
                    guard let m else { continue }
                    let name = Array(DomainKey.text(key: t.entry(m.entry).key).utf8)
                    for v in StoreValue.run(d.values, at: Int(m.value)) { hits.append((v, d.ttl, name)) }
                }
                if hits.isEmpty {
                    // Not listed itself: stop the parent's wildcard from answering for it.
                    if !wild, let parentEnd = key.dropLast().lastIndex(of: 0) {
                        let parent = Array(key[...parentEnd])
                        let covered = sets.contains { d in
                            d.domains.map { t in parent.withUnsafeBytes { t.childMatch($0.baseAddress!, $0.count) != nil } } ?? false
                        }
                        if covered {
                            emit(ExportRecord(owner: labels + apex, type: ExportType.marker, ttl: markerTTL,
                                              rdata: Array("\u{8}excluded\u{8}prefixbl".utf8)))
                            records += 1
                        }
                    }
                    continue
                }
                let owner = (wild ? [1, 0x2A] : []) + labels + apex
                let aTTL = hits.map(\.ttl).min()!
                var seen = Set<[UInt8]>()
                for h in hits {
                    var rd: [UInt8] = []
                    appendU32(&rd, h.v.a)
                    if seen.insert([1] + rd).inserted {
                        emit(ExportRecord(owner: owner, type: ExportType.a, ttl: aTTL, rdata: rd)); records += 1
                    }
                }
                let withTXT = hits.filter { $0.v.txt != nil }
                let tTTL = withTXT.map(\.ttl).min() ?? 0
                for h in withTXT {
                    let rd = txtRData(expandDollar(Array(h.v.txt!), h.name))
                    if seen.insert([16] + rd).inserted {
                        emit(ExportRecord(owner: owner, type: ExportType.txt, ttl: tTTL, rdata: rd)); records += 1
                    }
                }
                if wild { wildcards += 1 }
            }
        }
        return (records, wildcards, leftOut)
    }

    /// Whether wire labels (no root byte needed) hold a label that is exactly `*`.
    static func hasStarLabel(_ labels: [UInt8]) -> Bool {
        var p = 0
        while p < labels.count, labels[p] != 0 {
            if labels[p] == 1 && p + 1 < labels.count && labels[p + 1] == 0x2A { return true }
            p += 1 + Int(labels[p])
        }
        return false
    }
}
