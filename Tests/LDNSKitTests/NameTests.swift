import Testing
import LDNSKit
import TestSupport

/// Names and times through libldns.
struct NameTests {
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

    @Test("RFC 1035 §5.1: bytes outside letters, digits, '-' and '_' print as \\DDD")
    func presentationEscapes() throws {
        #expect(DomainName.text(wire: [0]) == ".")
        #expect(DomainName.text(wire: [3, 0x61, 0x2E, 0x62, 2, 0x62, 0x6C, 0]) == "a\\046b.bl.")
        #expect(DomainName.text(wire: [2, 0x5F, 0x20, 0]) == "_\\032.")
        #expect(try DomainName("a\\046b.bl").wire == [3, 0x61, 0x2E, 0x62, 2, 0x62, 0x6C, 0], "libldns reads the escape back")
    }

    @Test("labels count without the root; the longest name is 255 bytes (RFC 1035 §2.3.4)")
    func labelCountAndLength() throws {
        #expect(try DomainName("1.2.0.192.bl.example").labelCount == 6)
        #expect(DomainName(wire: [0]).labelCount == 0)
        let label63 = String(repeating: "a", count: 63)
        let longest = [label63, label63, label63, String(repeating: "b", count: 61)].joined(separator: ".")
        #expect(try DomainName(longest).wire.count == 255)
        #expect(throws: LDNSError.self) { try DomainName(longest + "b") }
    }
}
