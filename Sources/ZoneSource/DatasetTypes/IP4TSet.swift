import PrefixStore

/// rbldnsd `ip4tset`: single IPv4 addresses sharing one value, no exclusions; longest prefix.
/// Dumped back as `ip4set` (flattening may have merged its entries into ranges).
struct IP4TSet: AddressListType {
    let syntax = AddressSyntax(name: "ip4tset", family: .ipv4, rule: .longestPrefix, perEntryValues: false) { form, text in
        if form.exclusion { return "ip4tset has no exclusions: '!\(text())' (use ip4set)" }
        if form.isRange || form.octets != 4 || form.length != 32 {
            return "ip4tset takes single IPv4 addresses: '\(text())' (use ip4set)"
        }
        return nil
    }
    var dumpName: String { IP4Set.syntax.name }
}
