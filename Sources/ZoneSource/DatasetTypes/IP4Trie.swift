import PrefixStore

/// rbldnsd `ip4trie`: IPv4 CIDR prefixes (no ranges), per-entry values, longest prefix.
struct IP4Trie: AddressListType {
    let syntax = AddressSyntax(name: "ip4trie", family: .ipv4, rule: .longestPrefix, perEntryValues: true) { form, text in
        form.isRange ? "ip4trie takes CIDR prefixes, not ranges: '\(text())' (use ip4set)" : nil
    }
}
