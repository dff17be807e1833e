/// The compile-side model: what the source parser hands the store builder.
///
/// Keys: IPv6 addresses are `UInt128` (network order read as a big-endian integer, so
/// `2001:db8::` is `0x2001_0db8_0000_…`); IPv4 addresses are `UInt32` the same way and travel in
/// the low 32 bits of a `UInt128` where one type serves both families.

/// The address family of a dataset's table. A dataset holds one family only.
public enum AddressFamily: UInt8, Sendable, Hashable, CustomStringConvertible {
    case ipv4 = 4
    case ipv6 = 6

    /// Address width in bits: 32 or 128.
    public var bits: Int { self == .ipv4 ? 32 : 128 }
    public var description: String { self == .ipv4 ? "IPv4" : "IPv6" }
}

/// What a listing answers: an A record (always inside 127.0.0.0/8 once validated) and an
/// optional TXT template.
///
/// The TXT template is raw bytes with rbldnsd's runtime substitution still in it: `$` stands for
/// the queried address and `$$` for a literal `$`. Compile-time substitutions (`$0`–`$9`, `$=`)
/// are already applied by the parser.
public struct ListingValue: Hashable, Sendable {
    /// The A record's address as a host-order integer: 127.0.0.2 is `0x7F00_0002`.
    public var a: UInt32
    /// TXT template bytes, or `nil` for no TXT.
    public var txt: [UInt8]?

    public init(a: UInt32, txt: [UInt8]?) {
        self.a = a
        self.txt = txt
    }
}

/// One CIDR entry of a dataset: a listing or an exclusion.
public struct PrefixEntry: Sendable, Hashable {
    /// The prefix's first address; IPv4 in the low 32 bits. Host bits are zero.
    public var address: UInt128
    /// Prefix length in bits: 0…32 for IPv4, 0…128 for IPv6.
    public var prefixLength: UInt8
    /// Index into ``DatasetInput/values``, or ``PrefixEntry/exclusion`` for an exclusion.
    public var value: Int32
    /// A tag the caller chooses (the parser uses an index into its table of file:line origins);
    /// returned in ``FlattenConflict`` so diagnostics can name the source line.
    public var origin: UInt32

    /// The `value` of an exclusion (`!prefix`): "not listed", punching a hole.
    public static let exclusion: Int32 = -1

    public init(address: UInt128, prefixLength: UInt8, value: Int32, origin: UInt32) {
        self.address = address
        self.prefixLength = prefixLength
        self.value = value
        self.origin = origin
    }

    public var isExclusion: Bool { value < 0 }
}

/// The zone's SOA record content, names in uncompressed wire form (lower-cased).
public struct SOAData: Sendable, Hashable {
    public var ttl: UInt32
    public var mname: [UInt8]
    public var rname: [UInt8]
    public var serial: UInt32
    public var refresh: UInt32
    public var retry: UInt32
    public var expire: UInt32
    public var minimum: UInt32

    public init(ttl: UInt32, mname: [UInt8], rname: [UInt8], serial: UInt32, refresh: UInt32,
                retry: UInt32, expire: UInt32, minimum: UInt32) {
        self.ttl = ttl; self.mname = mname; self.rname = rname; self.serial = serial
        self.refresh = refresh; self.retry = retry; self.expire = expire; self.minimum = minimum
    }
}

/// One dataset as compiled: a family, a TTL, a value table and CIDR entries in file order.
public struct DatasetInput: Sendable {
    /// Display name, e.g. `ip6trie:fullbogons-ipv6.txt`.
    public var name: String
    /// rbldnsd type name: `ip4set`, `ip4tset`, `ip4trie`, `ip6trie`, `ip6tset`.
    public var type: String
    public var family: AddressFamily
    /// TTL of answers from this dataset, seconds (`$TTL`, default 2100).
    public var ttl: UInt32
    /// Distinct values; entries refer to them by index.
    public var values: [ListingValue]
    /// Entries in source order (order matters: of two equal-specificity listings the first wins).
    public var entries: [PrefixEntry]
    /// `$TIMESTAMP`: creation time and optional expiry, Unix seconds.
    public var created: UInt64?
    public var expires: UInt64?
    /// Where the dataset is attached below the zone apex (rbldnsd `combined` subzones): encoded
    /// labels without the root byte and without the apex (`\x07proxies` for
    /// `proxies.bl.example`); empty = the apex itself.
    public var subzone: [UInt8]
    /// Source lines the compiler skipped for this dataset (malformed, wrong family or form,
    /// values out of range…, as rbldnsd skips them); kept in the store for metrics.
    public var skippedLines: Int = 0

    public init(name: String, type: String, family: AddressFamily, ttl: UInt32,
                values: [ListingValue], entries: [PrefixEntry],
                created: UInt64? = nil, expires: UInt64? = nil, subzone: [UInt8] = []) {
        self.name = name; self.type = type; self.family = family; self.ttl = ttl
        self.values = values; self.entries = entries; self.created = created; self.expires = expires
        self.subzone = subzone
    }

    /// Whether this is an access-control table, not listing data: rbldnsd `acl` (its entries
    /// match the *client* address, its values are ``ACLAction`` codes or policy answers) or
    /// `aclkey` (``isKeyACL``: its entries are hashed keys of the query name).
    public var isACL: Bool { type == "acl" || type == AclKey.type }  // aclkey
}

/// What an `acl` dataset's value means, encoded in ``ListingValue/a`` (ACL datasets only).
///
/// Codes 0–3 are the actions; any other `a` is a policy answer in 127.255.255.0/24 (answer
/// every query from the client with that A and the value's TXT, `$` = the client's address).
/// Listing values are always in 127.0.0.0/8, so the two ranges never meet.
public enum ACLAction: UInt32, Sendable, CaseIterable {
    /// Send no reply at all (rbldnsd's default action for a listed client).
    case ignore = 0
    /// Answer REFUSED.
    case refuse = 1
    /// Answer as if no IP dataset of the zone listed anything (SOA, NS, generic data still answer).
    case empty = 2
    /// Answer normally (a hole in a wider ACL entry).
    case pass = 3

    /// Whether `a` is a valid ACL value code: an action or a policy answer in 127.255.255.0/24.
    public static func isValid(_ a: UInt32) -> Bool { a <= 3 || a & 0xFFFF_FF00 == 0x7FFF_FF00 }
}

/// One record of a `generic` dataset: a name inside the zone with an A, AAAA, TXT or MX RR.
public struct GenericRecord: Sendable, Hashable {
    /// Owner name, uncompressed wire form, lower-cased, at or below the zone apex.
    public var owner: [UInt8]
    /// RR type: 1 (A), 28 (AAAA), 16 (TXT) or 15 (MX).
    public var type: UInt16
    /// TTL in seconds.
    public var ttl: UInt32
    /// RDATA in wire form (RFC 1035 §3.3): A 4 bytes, AAAA 16, TXT character-strings, MX a
    /// 16-bit preference then an uncompressed lower-cased name.
    public var rdata: [UInt8]

    public init(owner: [UInt8], type: UInt16, ttl: UInt32, rdata: [UInt8]) {
        self.owner = owner; self.type = type; self.ttl = ttl; self.rdata = rdata
    }

    /// RR types a generic record may have.
    public static let types: Set<UInt16> = [1, 28, 16, 15]

    /// Whether the RDATA is well-formed for the type (the store reader refuses others).
    public var hasValidRData: Bool { GenericRecord.validRData(type: type, rdata[...]) }

    static func validRData(type: UInt16, _ r: ArraySlice<UInt8>) -> Bool {
        switch type {
        case 1: return r.count == 4
        case 28: return r.count == 16
        case 15: return r.count >= 3 && isValidWireName(r.dropFirst(2))
        case 16:
            guard !r.isEmpty else { return false }
            var i = r.startIndex
            while i < r.endIndex { i += 1 + Int(r[i]) }
            return i == r.endIndex
        default: return false
        }
    }
}

/// One zone as compiled.
public struct ZoneInput: Sendable {
    /// Zone apex in uncompressed wire form, lower-cased (`\x02bl\x07example\x00`).
    public var name: [UInt8]
    public var soa: SOAData
    /// NS TTL in seconds and NS names in uncompressed wire form, lower-cased.
    public var nsTTL: UInt32
    public var ns: [[UInt8]]
    public var datasets: [DatasetInput]
    /// `generic` records of the zone (and of its subzones), owners at or below the apex.
    public var records: [GenericRecord]

    /// The zone named `.` (``globalACLZoneName``) is not served: it carries the global ACL
    /// (rbldnsd's `:acl:file` with an empty zone name) and may hold only `acl` datasets.
    public init(name: [UInt8], soa: SOAData, nsTTL: UInt32, ns: [[UInt8]], datasets: [DatasetInput],
                records: [GenericRecord] = []) {
        self.name = name; self.soa = soa; self.nsTTL = nsTTL; self.ns = ns; self.datasets = datasets
        self.records = records
    }

    /// Wire name of the pseudo-zone holding the global ACL: the root, `\x00`.
    public static let globalACLZoneName: [UInt8] = [0]
}

/// Two entries of equal prefix that disagree; the first in file order won (or the exclusion).
public struct FlattenConflict: Sendable, Hashable {
    public var winnerOrigin: UInt32
    public var loserOrigin: UInt32
    public init(winnerOrigin: UInt32, loserOrigin: UInt32) {
        self.winnerOrigin = winnerOrigin; self.loserOrigin = loserOrigin
    }
}
