import PrefixStore

/// rbldnsd `ip6trie`: IPv6 CIDR prefixes of any length, per-entry values, longest prefix.
struct IP6Trie: AddressListType {
    static let syntax = AddressSyntax(name: "ip6trie", family: .ipv6, rule: .longestPrefix, perEntryValues: true,
                                      refuse: nil)
    var syntax: AddressSyntax { Self.syntax }
}
