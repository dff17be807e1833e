import Foundation
import PrefixStore
import Testing
@testable import ZoneSource

/// `dump` of generic records, acl tables (zone and global) and subzone datasets compiles back
/// to the same store content (STYLE: dump as a round-trip oracle).
@Test func genericACLAndCombinedDumpRoundTrip() throws {
    let combined = """
    $SOA 3600 ns1.bl.example hostmaster.example.org 1 7200 900 604800 300
    $NS 86400 ns1.bl.example ns2.example.net
    $TTL 900
    $DATASET ip4set:proxy proxies @
    :2:Open proxy $
    192.0.2.10
    $DATASET ip6trie:six v6
    2001:db8::/32 :4:v6 listed
    $DATASET generic:common proxies @
    @ A 192.0.2.80
    @ MX 10 mx.example.net
    www TXT "say \\"hi\\"" "second"
    ns1 AAAA 2001:db8::53
    """
    let acl = "192.0.2.0/24 :refuse\n2001:db8:1::/48 :127.255.255.3:blocked $\n198.51.100.0/24\n192.0.2.7 :pass\n"
    let first = compileTexts([("bl.example", "combined", [combined]), ("bl.example", "acl", [acl]),
                              ("", "acl", ["2001:db8:2::/48 :empty\n"])])
    #expect(!first.hasErrors, "\(first.diagnostics)")
    let store = try Store(zones: first.zones)
    #expect(store.zones.count == 2 && store.zones[1].isGlobalACL)
    #expect(store.zones[0].records.count == 8)   // 4 records at two attachment points
    let sections = SourceDump.sections(store)
    #expect(sections.map(\.type) == ["generic", "combined", "ip4set", "combined", "acl", "acl", "acl"])
    let again = compileTexts(sections.map { ($0.zone, $0.type, [String(decoding: $0.text, as: UTF8.self)]) })
    #expect(!again.hasErrors, "\(again.diagnostics)")
    func body(_ s: Store) -> [String] {
        SourceDump.sections(s).map { String(decoding: $0.text, as: UTF8.self).split(separator: "\n").filter { !$0.hasPrefix("#") }.joined(separator: "\n") }
    }
    #expect(body(try Store(zones: again.zones)) == body(store))
    let client = OfflineLookup.aclDecisions([store], family: .ipv6, key: 0x2001_0db8_0001 << 80 | 9)
    #expect(client.map(\.action) == ["A 127.255.255.3 \"blocked 2001:db8:1::9\""])
}
