import PrefixStore

/// rbldnsd `ip4set`: every IPv4 form (addresses, CIDR, short prefixes, ranges), per-entry
/// values, answered by rbldnsd's bucket rule (``PrefixStore/DatasetRule/ip4Buckets``).
struct IP4Set: AddressListType {
    static let syntax = AddressSyntax(name: "ip4set", family: .ipv4, rule: .ip4Buckets, perEntryValues: true,
                                      refuse: nil)
    var syntax: AddressSyntax { Self.syntax }
}
