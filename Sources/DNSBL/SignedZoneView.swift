// The interface between the zone data and DNSSEC answers: what the signed view of a zone holds
// at and around one QNAME. Fixed by the lead; `StoreZoneView` implements it from the store.

/// One NSEC RRset of a zone's signed view (RFC 4034 §4): its owner, the next owner in canonical
/// order (RFC 4034 §6.1; the last one names the apex), and the exact types at the owner.
public struct ViewNSEC: Sendable, Hashable {
    /// Owner and next owner: uncompressed wire names, lower case, ending in the root label.
    public var owner: [UInt8]
    public var next: [UInt8]
    /// RR types present at `owner`, ascending, including NSEC (47) and RRSIG (46).
    public var types: [UInt16]
    public init(owner: [UInt8], next: [UInt8], types: [UInt16]) {
        self.owner = owner; self.next = next; self.types = types
    }
}

/// What the signed view holds at and around one QNAME: everything an RFC 4035 §3.1.3 answer needs.
public struct ViewProof: Sendable, Hashable {
    /// The QNAME is a node of the view (it owns records, or it is an empty non-terminal).
    public var exists: Bool
    /// The NSEC owned by the QNAME when `exists`, else the NSEC covering it (owner < QNAME < next).
    ///
    /// An empty non-terminal owns no NSEC (a chain links only names that own RRsets): for one,
    /// `exists` is true and this is the NSEC covering it, whose next owner is a name below it —
    /// the NODATA proof of RFC 4035 §3.1.3.1 for an empty non-terminal.
    public var nsec: ViewNSEC
    /// The closest encloser (RFC 4592 §3.3.1): the QNAME itself when `exists`.
    public var closestEncloser: [UInt8]
    /// When `!exists`: the NSEC owned by `*.closestEncloser` if that wildcard exists (the
    /// answer is synthesised from it; its label count goes into the RRSIG), else the NSEC
    /// covering `*.closestEncloser` (the second NSEC of an NXDOMAIN). Nil when `exists`.
    public var wildcard: ViewNSEC?
    public var wildcardExists: Bool
    public init(exists: Bool, nsec: ViewNSEC, closestEncloser: [UInt8], wildcard: ViewNSEC?,
                wildcardExists: Bool) {
        self.exists = exists; self.nsec = nsec; self.closestEncloser = closestEncloser
        self.wildcard = wildcard; self.wildcardExists = wildcardExists
    }
}

/// The signed view of one serving zone: the names and RRsets `prefixbl export` writes for it
/// (plus DNSKEY at the apex), in canonical order.
public protocol SignedZoneView: Sendable {
    /// The zone apex: uncompressed lower-case wire name ending in the root label.
    var apex: [UInt8] { get }
    /// The proof for `qname` (uncompressed lower-case wire name ending in the root label, at or
    /// below `apex`).
    func prove(_ qname: [UInt8]) -> ViewProof
    /// Whether `qname` (as for ``prove(_:)``) is an empty non-terminal given the HINFO RRset
    /// ``SignedViewRecords/emptyNonTerminalHINFO`` (`--dnssec-ent-rrset`): a name that would
    /// own nothing and owns that HINFO and its NSEC. False in a view without those RRsets.
    func ownsEmptyNonTerminalRecord(_ qname: [UInt8]) -> Bool
}

extension SignedZoneView {
    public func ownsEmptyNonTerminalRecord(_ qname: [UInt8]) -> Bool { false }
}

/// Records only the signed view of a zone holds.
public enum SignedViewRecords {
    /// RR type HINFO (RFC 1035 §3.3.2).
    public static let typeHINFO: UInt16 = 13
    /// The HINFO RDATA at every empty non-terminal of a zone signed with
    /// `--dnssec-ent-rrset`: CPU `empty-non-terminal`, OS `prefixbl`, in the manner of RFC 8482
    /// §4.2's HINFO. The same bytes as `ZoneExport`'s `ExportType.emptyNonTerminalHINFO`.
    public static let emptyNonTerminalHINFO: [UInt8] = [18] + Array("empty-non-terminal".utf8) + [8] + Array("prefixbl".utf8)
    /// The HINFO RDATA of an exclusion marker (an excluded block under a listed wildcard):
    /// CPU `excluded`, OS `prefixbl`. The same bytes the export writes for the marker.
    public static let exclusionMarkerHINFO: [UInt8] = [8] + Array("excluded".utf8) + [8] + Array("prefixbl".utf8)
}
