import PrefixStore

/// rbldnsd `ip6tset`: IPv6 /64 listings and /128 exclusions sharing one value; longest prefix.
/// Dumped back as `ip6trie`.
struct IP6TSet: AddressListType {
    let syntax = AddressSyntax(name: "ip6tset", family: .ipv6, rule: .longestPrefix, perEntryValues: false) { form, text in
        if !form.exclusion && form.length != 64 {
            return "ip6tset lists /64 prefixes only: '\(text())' is /\(form.length) (use ip6trie)"
        }
        if form.exclusion && form.length != 128 {
            return "ip6tset excludes single addresses (/128) only: '\(text())' is /\(form.length) (use ip6trie)"
        }
        return nil
    }
    var dumpName: String { IP6Trie.syntax.name }
}
