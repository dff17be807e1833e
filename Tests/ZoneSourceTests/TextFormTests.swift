import Testing
import LDNSKit
@testable import ZoneSource

/// Names and times through libldns, RFC 5952 address text, range splitting.
struct TextFormTests {
    @Test func domainNamesAreLowerCasedWireFormAndAbsolute() throws {
        let n = try DomainName("NS1.BL.Example")
        #expect(n.wire == Array("\u{3}ns1\u{2}bl\u{7}example\u{0}".utf8))
        #expect(try DomainName("ns1.bl.example.") == n)
        #expect(n.description == "ns1.bl.example.")
        #expect(n.isSubdomain(of: try DomainName("bl.example")))
        #expect(!n.isSubdomain(of: try DomainName("l.example")))
        #expect(!(try DomainName("bl.example")).isSubdomain(of: n))
        #expect(throws: LDNSError.self) { try DomainName(String(repeating: "a", count: 64) + ".example") }
        #expect(throws: LDNSError.self) { try DomainName("a..example") }
        #expect(throws: LDNSError.self) { try DomainName("") }
    }

    @Test(arguments: [("0", 0), ("3600", 3600), ("1h", 3600), ("35m", 2100), ("1w2d", 777_600), ("2H30M", 9000),
                      ("1d", 86400), ("4294967295", 4_294_967_295)] as [(String, UInt32)])
    func timesWithUnits(_ text: String, _ seconds: UInt32) throws {
        #expect(try LDNSTime.seconds(text) == seconds)
    }

    @Test(arguments: ["", "x", "5x", "-1", "4294967296", "99999999999"])
    func badTimes(_ text: String) {
        #expect(throws: LDNSError.self) { try LDNSTime.seconds(text) }
    }

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
