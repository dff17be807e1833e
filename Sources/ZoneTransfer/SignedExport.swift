import DNSBL
import DNSSEC
import PrefixStore
import Synchronization
import ZoneExport

/// A zone's export grouped by owner in canonical DNS order (RFC 4034 §6.1): the names and RR
/// types a signed zone holds, and with ``init(parts:apex:dnskeys:keepRRsets:emptyNonTerminalRecords:)``'s
/// `keepRRsets` the RRsets themselves. One definition of the signed zone's owners and NSEC
/// chain, shared by `DNSBLDaemon.ExportedZoneView` (the reference view DO=1 answers are proved
/// from) and ``signedRecords(signer:reuse:emit:)`` (AXFR/IXFR of a signed zone and
/// `prefixbl export --dnssec-key`), so a transferred zone's chain is the one answers prove.
///
/// The zone is the export with the options DO=1 answers use (``exportOptions``), its apex
/// owning SOA, NS (when the zone has NS names) and DNSKEY. The NSEC chain links the owners in
/// canonical order and closes on the apex; an empty non-terminal owns no NSEC (as
/// `ldns-signzone` signs the export), unless the zone gives each one an HINFO RRset
/// (`emptyNonTerminalRecords`). Every owner's types include NSEC and RRSIG.
/// Memory: O(records); built in O(n log n).
public struct CanonicalZone: Sendable {
    /// The export options a signed zone is exported with, whatever the transfer options say:
    /// `$` as the block, the IPv4 images in every zone (as `serve` answers DO=1 queries).
    public static let exportOptions = ExportOptions(dollar: .block, imagesWithoutIPv6Data: true)

    /// ``exportOptions`` with `ZoneExport/ExportOptions/emptyNonTerminalRecords` as a zone's signer says
    /// (`DNSBL/ZoneSigner/emptyNonTerminalRecords`, `--dnssec-ent-rrset`).
    public static func exportOptions(emptyNonTerminalRecords: Bool) -> ExportOptions {
        var o = exportOptions
        o.emptyNonTerminalRecords = emptyNonTerminalRecords
        return o
    }

    /// One RRset: type, TTL (seconds) and each RR's RDATA in canonical form (RFC 4034 §6.2:
    /// names lower-cased) and canonical order (§6.3).
    public struct RRset: Sendable {
        public var type: UInt16
        public var ttl: UInt32
        public var rdatas: [[UInt8]]
    }

    /// The apex, uncompressed lower-case wire form.
    public let apex: [UInt8]
    /// Owner names in canonical order, the apex first; lower case.
    public let names: [[UInt8]]
    /// Per owner: its RR types, NSEC and RRSIG included, ascending (the NSEC type bitmap).
    public let types: [[UInt16]]
    /// Per owner: its RRsets by type ascending (RRSIG and NSEC not included); empty arrays
    /// when built without `keepRRsets`.
    public let rrsets: [[RRset]]
    /// The SOA record of the zone (first part), nil for a zone with no parts.
    public let soa: ExportRecord?
    /// The figures of the export the zone was built from (nil for a zone with no parts).
    public let stats: ExportStats?
    /// The owners of the HINFO `emptyNonTerminalRecords` adds (names that would otherwise be
    /// empty non-terminals); empty without the option.
    public let emptyNonTerminalOwners: Set<[UInt8]>

    /// - Parameters:
    ///   - parts: the zone in every store that holds it (store order); may be empty (the apex
    ///     then owns SOA and DNSKEY only).
    ///   - apex: the zone apex, uncompressed lower-case wire form.
    ///   - dnskeys: the DNSKEY RDATA of the apex's DNSKEY RRset (only kept with `keepRRsets`).
    ///   - keepRRsets: keep the RRsets (for signing) or only names and types (for proofs).
    ///   - emptyNonTerminalRecords: an HINFO RRset at every empty non-terminal
    ///     (`ZoneExport/ExportOptions/emptyNonTerminalRecords`), so each owns an NSEC; the
    ///     zone then has no empty non-terminal left.
    public init(parts: [StoreZone], apex: [UInt8], dnskeys: [[UInt8]] = [], keepRRsets: Bool,
                emptyNonTerminalRecords: Bool = false) {
        self.apex = apex
        var byOwner: [[UInt8]: [UInt16: RRset]] = [:]
        var typesOnly: [[UInt8]: Set<UInt16>] = [apex: [ExportType.soa, DNSSECRecords.typeDNSKEY]]
        var soaRecord: ExportRecord? = nil
        var stats: ExportStats? = nil
        var ents = Set<[UInt8]>()
        if !parts.isEmpty {
            stats = Exporter.export(parts, options: Self.exportOptions(emptyNonTerminalRecords: emptyNonTerminalRecords)) { r in
                var owner = r.owner
                CanonicalName.canonicalize(&owner)
                if r.type == ExportType.soa { soaRecord = r }
                if emptyNonTerminalRecords && r.type == ExportType.marker && r.rdata == ExportType.emptyNonTerminalHINFO {
                    ents.insert(owner)
                }
                typesOnly[owner, default: []].insert(r.type)
                guard keepRRsets else { return }
                let rdata = Self.canonicalRData(type: r.type, r.rdata)
                if var set = byOwner[owner]?[r.type] {
                    set.rdatas.append(rdata)
                    set.ttl = min(set.ttl, r.ttl)  // RFC 2181 §5.2: one TTL per RRset
                    byOwner[owner]![r.type] = set
                } else {
                    byOwner[owner, default: [:]][r.type] = RRset(type: r.type, ttl: r.ttl, rdatas: [rdata])
                }
            }
        }
        if keepRRsets, let soaRecord, !dnskeys.isEmpty {
            byOwner[apex, default: [:]][DNSSECRecords.typeDNSKEY] = RRset(type: DNSSECRecords.typeDNSKEY, ttl: soaRecord.ttl, rdatas: dnskeys)
        }
        soa = soaRecord
        self.stats = stats
        emptyNonTerminalOwners = ents
        let sorted = typesOnly.keys.sorted { CanonicalName.compare($0, $1) < 0 }
        names = sorted
        types = sorted.map { typesOnly[$0]!.union([DNSSECRecords.typeRRSIG, DNSSECRecords.typeNSEC]).sorted() }
        rrsets = keepRRsets
            ? sorted.map { n in (byOwner[n] ?? [:]).values.sorted { $0.type < $1.type }
                .map { RRset(type: $0.type, ttl: $0.ttl, rdatas: DNSSECRecords.canonicalOrder($0.rdatas)) } }
            : []
    }

    /// Owners (names with an NSEC).
    public var count: Int { names.count }

    /// The NSEC RDATA of owner `i`: the next owner in canonical order (the apex after the
    /// last) and the owner's type bitmap (RFC 4034 §4.1).
    public func nsecRData(_ i: Int) -> [UInt8] {
        DNSSECRecords.nsecRData(next: names[(i + 1) % names.count], types: types[i])
    }

    /// RDATA with the domain names RFC 4034 §6.2 item 3 lists in lower case (NS, CNAME, PTR,
    /// MX, SOA — the types an export writes names in); other RDATA as it is.
    static func canonicalRData(type: UInt16, _ rdata: [UInt8]) -> [UInt8] {
        func lowerName(_ r: inout [UInt8], from start: Int) -> Int {
            var p = start
            while p < r.count {
                let n = Int(r[p])
                if n == 0 { return p + 1 }
                guard n < 64, p + n < r.count else { return r.count }
                for i in (p + 1)...(p + n) { r[i] = CanonicalName.lower(r[i]) }
                p += 1 + n
            }
            return p
        }
        var r = rdata
        switch type {
        case 2, 5, 12: _ = lowerName(&r, from: 0)
        case 15: if r.count > 2 { _ = lowerName(&r, from: 2) }
        case 6: _ = lowerName(&r, from: lowerName(&r, from: 0))
        default: break
        }
        return r
    }
}

/// RRSIGs of a signed zone's previous version, by RRset content, so a reload re-signs only
/// the RRsets that changed (or whose signatures come within the refresh margin) whatever
/// the size of `DNSBL/ZoneSigner`'s bounded cache: unchanged RRsets keep their signature
/// bytes, and an IXFR carries only the changed RRsets, their NSECs and signatures.
/// Memory: a 16-byte digest of each RRset's content and its RRSIG bytes (about 130 bytes an
/// RRset with one ECDSA key), not the content. Not thread-safe: one build at a time.
///
/// A carried signature is made anew when it expires within the refresh margin plus its
/// RRset's share of the spread (`spreadSlack(owner:type:spread:)`: one of four steps of a
/// quarter of the time a signature is served, by a hash of owner and type), so the RRsets
/// signed together at start come due in four batches and each new version's IXFR carries
/// about a quarter of the RRSIGs, not all of them.
public final class SignatureCarry: @unchecked Sendable {
    /// An RRset's content as a 16-byte digest (`DNSSEC/DNSSECRecords/rrsetDigest(owner:type:ttl:rdatas:)`).
    struct Key: Hashable { var hi: UInt64; var lo: UInt64 }
    /// Where an RRset's RRSIGs are in ``Table/arena``: byte offset and number of RRSIGs (each
    /// a 2-byte length and its RDATA).
    struct Span { var offset: Int; var count: Int }
    /// One version's signatures: per RRset digest its RRSIG bytes in one arena (about 32
    /// bytes of table and the RRSIG RDATA per RRset, no per-RRset allocation).
    struct Table {
        var spans: [Key: Span] = [:]
        var arena: [UInt8] = []
        var count: Int { spans.count }
        subscript(_ k: Key) -> [[UInt8]]? {
            guard let s = spans[k] else { return nil }
            var out: [[UInt8]] = []
            out.reserveCapacity(s.count)
            var p = s.offset
            for _ in 0..<s.count {
                let n = Int(arena[p]) << 8 | Int(arena[p + 1])
                out.append(Array(arena[(p + 2)..<(p + 2 + n)]))
                p += 2 + n
            }
            return out
        }
        mutating func insert(_ k: Key, _ sigs: [[UInt8]]) {
            let offset = arena.count
            for s in sigs { arena.append(UInt8(s.count >> 8)); arena.append(UInt8(s.count & 0xFF)); arena += s }
            spans[k] = Span(offset: offset, count: sigs.count)
        }
        mutating func reserve(_ n: Int, bytes: Int) { spans.reserveCapacity(n); arena.reserveCapacity(bytes) }
        /// Bytes held (table entries and arena), roughly.
        var memoryBytes: Int { spans.capacity * (MemoryLayout<Key>.stride + MemoryLayout<Span>.stride + 1) + arena.capacity }
    }
    var entries = Table()
    /// The signer the entries were made with: another signer starts afresh.
    var signer: ObjectIdentifier? = nil
    var dnskeys: [[UInt8]] = []
    /// The signer's ``ZoneSigner/keyGeneration`` then: signing keys changed, nothing is carried.
    var generation = -1
    private let built = Mutex<Version?>(nil)

    /// What the last signed build holds, for deciding when secondaries need a new version.
    public struct Version: Sendable, Equatable {
        /// The SOA serial of the version built.
        public var serial: UInt32
        /// The signing keys' `DNSBL.ZoneSigner.keyGeneration` it was signed with.
        public var generation: Int
        /// The DNSKEY RDATA it publishes.
        public var dnskeys: [[UInt8]]
        /// The soonest time (Unix seconds, serial arithmetic) one of its signatures is due to
        /// be made anew (its expiration less the refresh margin and its RRset's slack); nil
        /// when nothing is signed.
        public var nextDue: UInt32?
    }

    public init() {}

    /// RRsets whose signatures are kept.
    public var count: Int { entries.count }
    /// Bytes the kept signatures hold (digest table and RRSIG bytes), roughly.
    public var memoryBytes: Int { entries.memoryBytes }

    /// The version the last build made (nil before the first). Thread-safe.
    public var version: Version? { built.withLock { $0 } }

    func record(_ v: Version) { built.withLock { $0 = v } }

    /// The seconds an RRset's signatures are re-signed ahead of the refresh margin: one of 0,
    /// ¼, ½, ¾ of `spread`, by an FNV-1a hash of the owner and type (stable across versions
    /// and processes).
    static func spreadSlack(owner: [UInt8], type: UInt16, spread: UInt32) -> UInt32 {
        var h: UInt32 = 2_166_136_261
        for b in owner { h = (h ^ UInt32(b)) &* 16_777_619 }
        h = (h ^ UInt32(type >> 8)) &* 16_777_619
        h = (h ^ UInt32(type & 0xFF)) &* 16_777_619
        return (h >> 13) % 4 * (spread / 4)
    }
}

/// What one signed build did.
public struct SigningFigures: Sendable, Hashable {
    /// RRsets signed (each carries one RRSIG per signing key).
    public var rrsets = 0
    /// RRsets whose RRSIGs came from the previous version (``SignatureCarry``).
    public var reused = 0
    /// RRSIGs made for this build (the signer's counter moved by this much).
    public var signaturesMade = 0
    /// RRs written, RRSIG and NSEC included.
    public var records = 0
    public init() {}
    /// The soonest RRSIG expiration in the zone, Unix seconds (serial arithmetic); nil when
    /// nothing is signed.
    public var soonestExpiration: UInt32? = nil
}

/// Signs RRsets one at a time for a signed build, taking signatures from the previous
/// version's ``SignatureCarry`` where they are still good, and collecting this version's.
struct RRsetSigning {
    let signer: ZoneSigner
    let reuse: SignatureCarry?
    /// Store what is signed now in the signer's bounded cache (false: look it up there only,
    /// so a transfer does not fill the query path's cache and re-signing queue with the zone).
    let cacheResult: Bool
    let emit: (ExportRecord) -> Void
    var figures = SigningFigures()
    let madeBefore: Int
    let now: UInt32
    let margin: Int32
    let spread: UInt32
    let generation: Int
    let old: SignatureCarry.Table
    var kept = SignatureCarry.Table()
    var nextDue: UInt32? = nil

    init(signer: ZoneSigner, reuse: SignatureCarry?, cacheResult: Bool, emit: @escaping (ExportRecord) -> Void) {
        self.signer = signer; self.reuse = reuse; self.cacheResult = cacheResult; self.emit = emit
        madeBefore = signer.signaturesMade
        now = signer.clock()
        margin = Int32(clamping: signer.validity.refreshMargin)
        let validity = signer.validity
        spread = (validity.lifetime > validity.refreshMargin ? validity.lifetime - validity.refreshMargin : 0) / 4
        let g = signer.keyGeneration
        generation = g
        // Signatures by the same signing keys stay valid when only the published DNSKEYs
        // change (a pre-published key): the DNSKEY RRset's content changed, so it is re-signed.
        var prior = SignatureCarry.Table()
        if let reuse, reuse.signer == ObjectIdentifier(signer), reuse.generation == g { prior = reuse.entries }
        old = prior
        if reuse != nil { kept.reserve(prior.count, bytes: prior.arena.count) }
    }

    /// Emits the RRset's records, then its RRSIGs.
    mutating func sign(_ owner: [UInt8], _ set: CanonicalZone.RRset) {
        for rd in set.rdatas {
            emit(ExportRecord(owner: owner, type: set.type, ttl: set.ttl, rdata: rd))
            figures.records += 1
        }
        let d = DNSSECRecords.rrsetDigest(owner: owner, type: set.type, ttl: set.ttl, rdatas: set.rdatas)
        let key = SignatureCarry.Key(hi: d.0, lo: d.1)
        var sigs: [[UInt8]]
        let slack = SignatureCarry.spreadSlack(owner: owner, type: set.type, spread: spread)
        let ahead = margin &+ Int32(clamping: slack)
        let prior = old.count > 0 ? old[key] : nil
        if let prior, !prior.isEmpty,
           prior.allSatisfy({ Int32(bitPattern: CanonicalZone.expiration($0) &- now) > ahead }) {
            sigs = prior
            figures.reused += 1
        } else if let prior, !prior.isEmpty {
            // Due (within the margin and the RRset's slack): made anew, not the cached
            // signature the prior one may still be.
            let latest = prior.map(CanonicalZone.expiration).max { Int32(bitPattern: $0 &- $1) < 0 }!
            sigs = signer.signatures(owner: owner, type: set.type, ttl: set.ttl, rdatas: set.rdatas, expiringAfter: latest,
                                     cacheResult: cacheResult)
        } else {
            sigs = signer.signatures(owner: owner, type: set.type, ttl: set.ttl, rdatas: set.rdatas, cacheResult: cacheResult)
        }
        for s in sigs {
            let due = CanonicalZone.expiration(s) &- UInt32(bitPattern: ahead)
            if let n = nextDue { if Int32(bitPattern: due &- n) < 0 { nextDue = due } } else { nextDue = due }
        }
        if reuse != nil { kept.insert(key, sigs) }
        figures.rrsets += 1
        for s in sigs {
            emit(ExportRecord(owner: owner, type: DNSSECRecords.typeRRSIG, ttl: set.ttl, rdata: s))
            figures.records += 1
            let e = CanonicalZone.expiration(s)
            if let soonest = figures.soonestExpiration {
                if Int32(bitPattern: e &- soonest) < 0 { figures.soonestExpiration = e }
            } else {
                figures.soonestExpiration = e
            }
        }
    }

    /// Hands this version's signatures to the carry and returns the figures.
    mutating func finish(soa: ExportRecord?, published: [[UInt8]]) -> SigningFigures {
        if let reuse {
            reuse.entries = kept
            kept = SignatureCarry.Table()
            reuse.signer = ObjectIdentifier(signer)
            reuse.dnskeys = signer.dnskeyRData
            reuse.generation = generation
            let serial = soa.map { r in r.rdata.dropLast(16).suffix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) } } ?? 0
            reuse.record(SignatureCarry.Version(serial: serial, generation: generation, dnskeys: published, nextDue: nextDue))
        }
        figures.signaturesMade = signer.signaturesMade - madeBefore
        return figures
    }
}

/// The NSEC TTL of a zone with this SOA: min(SOA TTL, SOA MINIMUM) (RFC 9077 §3.2).
func nsecTTL(_ soa: ExportRecord?) -> UInt32 {
    soa.map { r -> UInt32 in
        // SOA MINIMUM: the RDATA's last 4 bytes.
        let m = r.rdata.suffix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        return min(r.ttl, m)
    } ?? 0
}

extension CanonicalZone {
    /// The signed zone's records (RFC 4035 §2): the apex SOA and its RRSIGs first, then per
    /// owner in canonical order each RRset followed by its RRSIGs (one per signing key, TTL
    /// the RRset's, RFC 4034 §3), then the owner's NSEC (TTL min(SOA TTL, SOA MINIMUM),
    /// RFC 9077 §3.2) and its RRSIGs. Signatures come from `reuse` when the same RRset was
    /// signed for the previous version by the same signer and expires more than the refresh
    /// margin from now, else from `signer` (its cache, else signed now); `reuse` then holds
    /// this version's signatures. Needs an instance built with `keepRRsets`.
    /// ``SignedZoneStream`` writes the same records without holding the zone.
    /// - Returns: what was signed and reused; `emit` gets every record (owner lower case).
    @discardableResult
    public func signedRecords(signer: ZoneSigner, reuse: SignatureCarry? = nil,
                              emit: (ExportRecord) -> Void) -> SigningFigures {
        withoutActuallyEscaping(emit) { emit in
            var s = RRsetSigning(signer: signer, reuse: reuse, cacheResult: true, emit: emit)
            let ttl = nsecTTL(soa)
            // AXFR starts with the SOA (RFC 5936 §2.2): the apex's SOA RRset goes first.
            if let i = rrsets.first?.firstIndex(where: { $0.type == ExportType.soa }) { s.sign(apex, rrsets[0][i]) }
            for (i, owner) in names.enumerated() {
                for set in rrsets[i] where !(i == 0 && set.type == ExportType.soa) { s.sign(owner, set) }
                s.sign(owner, RRset(type: DNSSECRecords.typeNSEC, ttl: ttl, rdatas: [nsecRData(i)]))
            }
            let published = rrsets.first?.first { $0.type == DNSSECRecords.typeDNSKEY }?.rdatas ?? []
            return s.finish(soa: soa, published: published)
        }
    }

    /// The expiration field of RRSIG RDATA (bytes 8–11, RFC 4034 §3.1.5).
    static func expiration(_ rrsig: [UInt8]) -> UInt32 {
        guard rrsig.count >= 12 else { return 0 }
        return UInt32(rrsig[8]) << 24 | UInt32(rrsig[9]) << 16 | UInt32(rrsig[10]) << 8 | UInt32(rrsig[11])
    }
}

/// The signed zone of ``CanonicalZone/signedRecords(signer:reuse:emit:)`` — the same records in
/// the same order — made as the zone is walked (`ZoneExport.CanonicalExport`: owners in
/// canonical order from a preorder walk of the label trees), each RRset signed (or its
/// signatures taken from the carry) as the walk reaches it and written at once. The NSEC of
/// an owner is written when the next owner is known (the apex's after the last).
///
/// Memory: the walk's interval tables, one owner's records and the carry (``SignatureCarry``:
/// a digest and the RRSIG bytes per RRset); not the zone. A first build signs every RRset
/// (tens of µs each); a later one with the carry only the changed ones.
public enum SignedZoneStream {
    /// - Parameters:
    ///   - parts: the zone in every store that holds it (store order).
    ///   - apex: the zone apex, uncompressed lower-case wire form.
    ///   - signer: the zone's signer.
    ///   - reuse: the previous version's signatures; left holding this version's.
    ///   - emptyNonTerminalRecords: an HINFO RRset at every empty non-terminal.
    ///   - cacheResult: store the signatures made in the signer's cache (the query path's);
    ///     false for a transfer of a large zone, which would fill it with the whole zone.
    ///   - emit: gets every record (owner lower case), SOA first.
    /// - Returns: what was signed and reused, the owners (names with an NSEC) and the export's
    ///   figures.
    @discardableResult
    public static func records(parts: [StoreZone], apex: [UInt8], signer: ZoneSigner, reuse: SignatureCarry? = nil,
                               emptyNonTerminalRecords: Bool = false, cacheResult: Bool = false,
                               emit: (ExportRecord) -> Void) -> (figures: SigningFigures, owners: Int, stats: ExportStats?) {
        guard !parts.isEmpty else {
            let z = CanonicalZone(parts: parts, apex: apex, dnskeys: signer.dnskeyRData, keepRRsets: true,
                                  emptyNonTerminalRecords: emptyNonTerminalRecords)
            return (z.signedRecords(signer: signer, reuse: reuse, emit: emit), z.count, z.stats)
        }
        var stream = CanonicalExport(parts, options: CanonicalZone.exportOptions(emptyNonTerminalRecords: emptyNonTerminalRecords))
        let dnskeys = signer.dnskeyRData
        return withoutActuallyEscaping(emit) { emit in
            var s = RRsetSigning(signer: signer, reuse: reuse, cacheResult: cacheResult, emit: emit)
            var soa: ExportRecord? = nil
            var published: [[UInt8]] = []
            var ttl: UInt32 = 0
            var first: [UInt8]? = nil
            var owners = 0

            typealias Owner = (owner: [UInt8], sets: [CanonicalZone.RRset], types: [UInt16])
            func prepare(_ g: CanonicalExport.Group) -> Owner {
                var byType: [UInt16: CanonicalZone.RRset] = [:]
                var types: Set<UInt16> = [DNSSECRecords.typeRRSIG, DNSSECRecords.typeNSEC]
                let isApex = g.owner == apex
                if isApex { types.insert(ExportType.soa); types.insert(DNSSECRecords.typeDNSKEY) }
                for r in g.records {
                    if r.type == ExportType.soa { soa = r }
                    types.insert(r.type)
                    let rdata = CanonicalZone.canonicalRData(type: r.type, r.rdata)
                    if var set = byType[r.type] {
                        set.rdatas.append(rdata)
                        set.ttl = min(set.ttl, r.ttl)  // RFC 2181 §5.2: one TTL per RRset
                        byType[r.type] = set
                    } else {
                        byType[r.type] = CanonicalZone.RRset(type: r.type, ttl: r.ttl, rdatas: [rdata])
                    }
                }
                if isApex, let soa, !dnskeys.isEmpty {
                    byType[DNSSECRecords.typeDNSKEY] = CanonicalZone.RRset(type: DNSSECRecords.typeDNSKEY, ttl: soa.ttl, rdatas: dnskeys)
                }
                let sets = byType.values.sorted { $0.type < $1.type }
                    .map { CanonicalZone.RRset(type: $0.type, ttl: $0.ttl, rdatas: DNSSECRecords.canonicalOrder($0.rdatas)) }
                if isApex { published = sets.first { $0.type == DNSSECRecords.typeDNSKEY }?.rdatas ?? [] }
                return (g.owner, sets, types.sorted())
            }
            func write(_ o: Owner, next: [UInt8], isFirst: Bool) {
                if isFirst {
                    // AXFR starts with the SOA (RFC 5936 §2.2): the first owner's SOA RRset first.
                    if let soaSet = o.sets.first(where: { $0.type == ExportType.soa }) { s.sign(o.owner, soaSet) }
                    for set in o.sets where set.type != ExportType.soa { s.sign(o.owner, set) }
                } else {
                    for set in o.sets { s.sign(o.owner, set) }
                }
                s.sign(o.owner, CanonicalZone.RRset(type: DNSSECRecords.typeNSEC, ttl: ttl,
                                                    rdatas: [DNSSECRecords.nsecRData(next: next, types: o.types)]))
            }

            var held: Owner? = nil
            var heldIsFirst = false
            while let g = stream.next() {
                let o = prepare(g)
                owners += 1
                if first == nil { first = o.owner; ttl = nsecTTL(soa) }
                if let h = held { write(h, next: o.owner, isFirst: heldIsFirst) }
                held = o
                heldIsFirst = owners == 1
            }
            if let h = held, let first { write(h, next: first, isFirst: heldIsFirst) }
            return (s.finish(soa: soa, published: published), owners, stream.stats)
        }
    }
}
