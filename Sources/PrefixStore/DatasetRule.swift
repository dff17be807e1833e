/// How a stored dataset is matched and what its values mean: the closed set of table kinds the
/// store builds and the answer rules serve.
///
/// The dataset *types* of the source language (rbldnsd's `ip4set`, `ip6trie`, `acl`, …) are open:
/// each is one file in ZoneSource, registered once, and names the rule it compiles to. Below the
/// compiler only the rule counts: the builder flattens by it, the reader validates by it, the
/// answer rules and the exporter switch on it (exhaustively, so a new rule is a compile error at
/// every place that must decide about it). See ZoneSource's "Adding a dataset type" article.
///
/// The store file records a dataset's type name, not its rule (<doc:StoreFormat>); the rule is
/// the one ``init(storedType:family:)`` gives that name, so files written before this enum
/// existed open unchanged. The builder refuses a ``DatasetInput`` whose ``DatasetInput/rule``
/// disagrees with its type name, so what is written is what is read back.
public enum DatasetRule: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Longest prefix wins, the first in file order at equal length, an exclusion punching a
    /// hole: the rule of `ip4trie`, `ip4tset`, `ip6trie`, `ip6tset`. Matched against the
    /// address in the QNAME; values are listings (A in 127.0.0.0/8 and a TXT template).
    case longestPrefix = 0
    /// rbldnsd's `ip4set` bucket rule (/32, /24, /16, /8 buckets; the most specific level with a
    /// hit decides, every listing there answers as a value run). IPv4 only. Matched against
    /// the address in the QNAME.
    case ip4Buckets = 1
    /// Access control (rbldnsd `acl`): longest prefix over the *client* address; values are
    /// ``ACLAction`` codes or policy answers in 127.255.255.0/24, never value runs.
    case clientACL = 2
    /// Domain lists (rbldnsd `dnset`): the QNAME's labels below the apex (or the subzone) are
    /// looked up in a name table (``DomainTable``), `name` matching the name itself and
    /// `*.name` its subdomains, the most specific entry deciding. Values are listings as for
    /// ``longestPrefix``, a TXT `$` rendering the matched name. Not a ``RangeTable``: the
    /// store keeps such a dataset in a name table (key kind 3, format version 3).
    case domainNames = 3
    /// Keys in the query name (the rspamd fork's `aclkey`): the right-most label below the
    /// base apex is the key, looked up as the /128 of its hash (`AclKey.hash(_:)`) in an IPv6
    /// ``RangeTable``; value 0 is the default (unknown keys), every key has a value of its
    /// own, an ``ACLAction`` code or a forced answer in 127.0.0.0/8. Access data: the key
    /// decides and is then removed from the QNAME before the other rules answer.
    case keyInQName = 4

    /// The rule of a dataset stored under the type name `storedType`: ``clientACL`` for `acl`,
    /// ``ip4Buckets`` for an IPv4 `ip4set`, ``longestPrefix`` for every other name. This table
    /// is part of the store format (the file keeps the type name); a type registered in
    /// ZoneSource with a rule other than ``longestPrefix`` adds its name here. ``domainNames``
    /// for `dnset` (whatever `family`: a name table has none), ``keyInQName`` for `aclkey`.
    public init(storedType: String, family: AddressFamily) {
        switch storedType {
        case "acl": self = .clientACL
        case "dnset": self = .domainNames
        case "aclkey": self = .keyInQName
        case "ip4set" where family == .ipv4: self = .ip4Buckets
        default: self = .longestPrefix
        }
    }

    /// Whether the table is matched against the client address (not the QNAME): such datasets
    /// decide access, not listings, and are never exported as zone data.
    public var matchesClient: Bool {
        switch self {
        case .clientACL: true
        case .longestPrefix, .ip4Buckets, .domainNames, .keyInQName: false
        }
    }

    /// Whether the dataset is access data, not listings (``clientACL``, ``keyInQName``): never
    /// exported as zone data, never consulted for the address or name in the QNAME, and
    /// the only datasets the global-ACL pseudo-zone may hold.
    public var isAccessControl: Bool {
        switch self {
        case .clientACL, .keyInQName: true
        case .longestPrefix, .ip4Buckets, .domainNames: false
        }
    }

    public var description: String {
        switch self {
        case .longestPrefix: "longest prefix"
        case .ip4Buckets: "ip4set buckets"
        case .clientACL: "client ACL"
        case .domainNames: "domain names"
        case .keyInQName: "key in the query name"
        }
    }
}
