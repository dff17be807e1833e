import DNSBL
import DNSSEC
import PrefixStore
import ZoneExport
import ZoneTransfer

/// The reference `DNSBL/SignedZoneView`: every name `prefixbl export` writes for the zone
/// (with the export options `serve` answers by: `$` as the block, the IPv4 images always)
/// sorted in canonical order (RFC 4034 §6.1, `DNSSEC/CanonicalName/compare(_:_:)`) once at
/// load, and the empty non-terminals between them and the apex in a set; a proof is a binary
/// search. The NSEC chain links the owners only: an empty non-terminal exists but owns no
/// NSEC, its proof carries the NSEC covering it (whose next owner is below it), as
/// `ldns-signzone` signs the export. Obviously correct and O(n) in memory and load time: the
/// daemon serves `DNSBL/StoreZoneView` where that covers the zone and this view elsewhere.
public struct ExportedZoneView: SignedZoneView {
    public let apex: [UInt8]
    /// Owner names (names with RRsets) in canonical order, the apex first.
    let names: [[UInt8]]
    /// The RR types at each owner (NSEC and RRSIG included), ascending.
    let types: [[UInt16]]
    let position: [[UInt8]: Int]
    /// The empty non-terminals: names between an owner and the apex that own nothing.
    let emptyNonTerminals: Set<[UInt8]>
    /// With `emptyNonTerminalRecords`: the names that would be empty non-terminals and own
    /// the HINFO `DNSBL/SignedViewRecords/emptyNonTerminalHINFO` instead.
    let entOwners: Set<[UInt8]>

    /// - Parameters:
    ///   - parts: the stores holding the zone (a zone in several stores unites their data).
    ///   - apex: the zone apex, uncompressed lower-case wire form.
    ///   - emptyNonTerminalRecords: every empty non-terminal owns an HINFO RRset and its NSEC
    ///     (`--dnssec-ent-rrset`, `ZoneTransfer/CanonicalZone`'s option of that name).
    public init(stores parts: [Store], apex: [UInt8], emptyNonTerminalRecords: Bool = false) {
        self.apex = apex
        let zones = parts.flatMap { $0.zones.filter { $0.name == apex } }
        // The owners and types of the signed zone, defined once for views and transfers.
        let zone = CanonicalZone(parts: zones, apex: apex, keepRRsets: false, emptyNonTerminalRecords: emptyNonTerminalRecords)
        entOwners = zone.emptyNonTerminalOwners
        // Empty non-terminals: every name between an owner and the apex exists (RFC 4592 §2.2.2).
        let owners = Set(zone.names)
        var ents = Set<[UInt8]>()
        for owner in zone.names {
            var n = Self.parent(owner)
            while n.count > apex.count, !owners.contains(n), ents.insert(n).inserted {
                n = Self.parent(n)
            }
        }
        emptyNonTerminals = ents
        let sorted = zone.names
        names = sorted
        types = zone.types
        var pos: [[UInt8]: Int] = [:]
        for (i, n) in sorted.enumerated() { pos[n] = i }
        position = pos
    }

    /// Owners in the view (names with an NSEC).
    public var count: Int { names.count }

    func nsec(_ i: Int) -> ViewNSEC {
        ViewNSEC(owner: names[i], next: names[(i + 1) % names.count], types: types[i])
    }

    /// The NSEC owned by `name` or covering it.
    func nsec(for name: [UInt8]) -> (ViewNSEC, owned: Bool) {
        if let i = position[name] { return (nsec(i), true) }
        var lo = 0, hi = names.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if CanonicalName.compare(names[mid], name) < 0 { lo = mid + 1 } else { hi = mid }
        }
        // The apex sorts before every name below it, so lo ≥ 1.
        return (nsec(max(0, lo - 1)), false)
    }

    func exists(_ name: [UInt8]) -> Bool { position[name] != nil || emptyNonTerminals.contains(name) }

    public func prove(_ qname: [UInt8]) -> ViewProof {
        let (n, owned) = nsec(for: qname)
        if owned || emptyNonTerminals.contains(qname) {
            return ViewProof(exists: true, nsec: n, closestEncloser: qname, wildcard: nil, wildcardExists: false)
        }
        var ce = Self.parent(qname)
        while ce.count > apex.count && !exists(ce) { ce = Self.parent(ce) }
        let (w, wildcardExists) = nsec(for: [1, UInt8(ascii: "*")] + ce)
        return ViewProof(exists: false, nsec: n, closestEncloser: ce, wildcard: w, wildcardExists: wildcardExists)
    }

    public func ownsEmptyNonTerminalRecord(_ qname: [UInt8]) -> Bool { entOwners.contains(qname) }

    /// `name` without its first label (the root stays the root).
    static func parent(_ name: [UInt8]) -> [UInt8] {
        guard let first = name.first, first > 0 else { return name }
        return Array(name[(1 + Int(first))...])
    }
}
