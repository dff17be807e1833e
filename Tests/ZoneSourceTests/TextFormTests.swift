import Testing
@testable import ZoneSource

/// RFC 5952 address text, range splitting (names and times through libldns: LDNSKitTests).
struct TextFormTests {
    @Test(arguments: [
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),   // first of two equal runs
        ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),         // the longest run
        ("2001:db8:0:1:0:0:0:abc", "2001:db8:0:1::abc"),
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"), // one zero group is not compressed
        ("0:0:0:0:0:0:0:0", "::"),
        ("0:0:0:0:0:0:0:1", "::1"),
        ("ffff:0:0:0:0:0:0:0", "ffff::"),
        ("2001:DB8::A", "2001:db8::a"),
    ])
    func rfc5952Text(_ input: String, _ text: String) throws {
        let (_, key) = try #require(parseAddress(input))
        #expect(ipv6Text(key) == text)
    }

    @Test func rangesSplitIntoTheFewestCIDRs() {
        var out: [String] = []
        rangeToCIDRs(first: 0xC000_0201, last: 0xC000_02FE, bits: 32) { a, l in out.append("\(ipv4Text(UInt32(a)))/\(l)") }
        #expect(out == ["192.0.2.1/32", "192.0.2.2/31", "192.0.2.4/30", "192.0.2.8/29", "192.0.2.16/28", "192.0.2.32/27",
                        "192.0.2.64/26", "192.0.2.128/26", "192.0.2.192/27", "192.0.2.224/28", "192.0.2.240/29",
                        "192.0.2.248/30", "192.0.2.252/31", "192.0.2.254/32"])
        var all: [String] = []
        rangeToCIDRs(first: 0, last: .max, bits: 128) { a, l in all.append("\(ipv6Text(a))/\(l)") }
        #expect(all == ["::/0"])
    }

    @Test func lookupAddressesMustBeWhole() {
        #expect(parseAddress("192.0.2") == nil)
        #expect(parseAddress("192.0.2.0/24") == nil)
        #expect(parseAddress("2001:db8:0:1") == nil)
        #expect(parseAddress("2001:db8::/32") == nil)
        #expect(parseAddress("192.0.2.1")?.1 == 0xC000_0201)
    }
}
