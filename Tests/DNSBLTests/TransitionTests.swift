import Testing
import TestSupport
import DNSWire
import PrefixStore
@testable import DNSBL

// Transition-aware lookups (issue 6, point 6): Teredo (RFC 4380), NAT64 (RFC 6052) and 6rd
// (RFC 5969) addresses answered from the zone's IPv4 data united with its IPv6 data, as the
// answer rules do for 6to4. The worked examples are the RFCs' own.

func options(_ mappings: [TransitionMapping], zone: String = "bl.example") throws(TransitionError) -> AnswerOptions {
    var o = AnswerOptions()
    for m in mappings { try o.addTransition(m, zone: zone) }
    return o
}

func nat64(_ prefix: String) throws(TransitionError) -> TransitionMapping {
    let parts = prefix.split(separator: "/")
    return try .nat64(prefix: v6(String(parts[0])), length: Int(parts[1])!)
}

func sixRD(_ prefix: String, _ v4prefix: String) throws(TransitionError) -> TransitionMapping {
    let p = prefix.split(separator: "/"), q = v4prefix.split(separator: "/")
    return try .sixRD(prefix: v6(String(p[0])), length: Int(p[1])!, ipv4Prefix: v4(String(q[0])), ipv4MaskLength: Int(q[1])!)
}

@Suite("Transition mappings: Teredo, NAT64, 6rd")
struct TransitionTests {
    /// RFC 4380 §4's example: server 65.54.227.120, flags 0x8000 (cone), port 40000, client
    /// 192.0.2.45 (0x3ffffdd2 inverted).
    static let teredoExample = "2001:0000:4136:e378:8000:63bf:3fff:fdd2"

    @Test func rfc4380_4_teredoClientIsTheLast32BitsInverted() throws {
        #expect(TransitionMapping.teredo.embeddedIPv4(v6(Self.teredoExample)) == v4("192.0.2.45"))
        #expect(TransitionMapping.teredo.embeddedIPv4(v6("2001:1::3fff:fdd2")) == nil)  // outside 2001:0::/32
        let r = try responder([zone([try dataset(.ipv4, "192.0.2.45 :127.0.0.2:listed $")])],
                              options: options([.teredo]))
        expectA(try ask(r, name6(Self.teredoExample)), [code(2)])
        expectTXT(try ask(r, name6(Self.teredoExample), DNSType.txt), ["listed 192.0.2.45"])
        // Server, flags and port do not matter: only the client's address is looked up.
        expectA(try ask(r, name6("2001:0:c633:6401:0:0:3fff:fdd2")), [code(2)])
        expectA(try ask(r, name6("2001:0:ffff:ffff:ffff:ffff:3fff:fdd2")), [code(2)])
        expectNX(try ask(r, name6("2001:0:4136:e378:8000:63bf:3fff:fdd1")))  // client 192.0.2.46
        // The server's address is not the client's: listing 65.54.227.120 lists nothing here.
        let server = try responder([zone([try dataset(.ipv4, "65.54.227.120")])], options: options([.teredo]))
        expectNX(try ask(server, name6(Self.teredoExample)))
    }

    /// RFC 6052 §2.4's table: 192.0.2.33 under each prefix length.
    static let rfc6052Examples: [(prefix: String, address: String)] = [
        ("2001:db8::/32", "2001:db8:c000:221::"),
        ("2001:db8:100::/40", "2001:db8:1c0:2:21::"),
        ("2001:db8:122::/48", "2001:db8:122:c000:2:2100::"),
        ("2001:db8:122:300::/56", "2001:db8:122:3c0:0:221::"),
        ("2001:db8:122:344::/64", "2001:db8:122:344:c0:2:2100:0"),
        ("2001:db8:122:344::/96", "2001:db8:122:344::192.0.2.33"),
        ("64:ff9b::/96", "64:ff9b::192.0.2.33"),
    ]

    @Test(arguments: rfc6052Examples)
    func rfc6052_2_4_nat64ExampleTable(_ example: (prefix: String, address: String)) throws {
        let m = try nat64(example.prefix)
        #expect(m.embeddedIPv4(v6(example.address)) == v4("192.0.2.33"))
        let r = try responder([zone([try dataset(.ipv4, "192.0.2.33 :127.0.0.2:nat64 $")])], options: options([m]))
        expectA(try ask(r, name6(example.address)), [code(2)])
        expectTXT(try ask(r, name6(example.address), DNSType.txt), ["nat64 192.0.2.33"])
        // The suffix after the IPv4 address (RFC 6052 §2.2, reserved) is ignored.
        if m.prefixLength < 96 { expectA(try ask(r, name6(example.address) .replacingFirstNibble("1")), [code(2)]) }
        // Every ancestor is an empty non-terminal, so a QNAME-minimising resolver gets there.
        for depth in 1...31 { expectNODATA(try ask(r, nibbleName(v6(example.address), depth))) }
        // Not configured: the same name is a plain IPv6 address with no IPv6 data.
        let plain = try responder([zone([try dataset(.ipv4, "192.0.2.33")])])
        expectNX(try ask(plain, name6(example.address)))
    }

    @Test func rfc6052_2_1_wellKnownPrefix() throws {
        #expect(TransitionMapping.nat64WellKnown == (try nat64("64:ff9b::/96")))
        let r = try responder([zone([try dataset(.ipv4, "192.0.2.33")])], options: options([.nat64WellKnown]))
        expectA(try ask(r, name6("64:ff9b::c000:221")), [code(2)])
        expectNX(try ask(r, name6("64:ff9b::c000:222")))
        expectNX(try ask(r, name6("64:ff9b:1::c000:221")))  // RFC 8215's local-use prefix is not the WKP
    }

    @Test func rfc6052_2_2_nonZeroUOctetIsAPlainIPv6Address() throws {
        let m = try nat64("2001:db8:122::/48")
        let valid = "2001:db8:122:c000:2:2100::", uSet = "2001:db8:122:c000:ff02:2100::"
        #expect(m.embeddedIPv4(v6(uSet)) == nil)
        let v4only = try responder([zone([try dataset(.ipv4, "192.0.2.33")])], options: options([m]))
        expectA(try ask(v4only, name6(valid)), [code(2)])
        expectNX(try ask(v4only, name6(uSet)))
        // Partial names: a fixed non-zero u bit leaves only plain IPv6 names below.
        expectNODATA(try ask(v4only, nibbleName(v6(valid), 17)))
        expectNX(try ask(v4only, nibbleName(v6(uSet), 17)))
        expectNX(try ask(v4only, nibbleName(v6("2001:db8:122:c000:100::"), 18)))
        expectNODATA(try ask(v4only, nibbleName(v6(uSet), 16)))  // u free: 2001:db8:122:c000::/64 holds `valid`
        // With IPv6 data there, a u-set address is answered from it alone.
        let both = try responder([zone([try dataset(.ipv4, "192.0.2.33 :127.0.0.2"),
                                        try dataset(.ipv6, "2001:db8:122::/48 :127.0.0.6")])], options: options([m]))
        expectA(try ask(both, name6(uSet)), [code(6)])
        expectA(try ask(both, name6(valid)), [code(2), code(6)])
        // A /96 prefix carries the u octet itself: it must be zero.
        #expect(throws: TransitionError.self) { try nat64("2001:db8:122:344:100::/96") }
    }

    @Test func rfc5969_4_sixRDDomain() throws {
        // 6rd prefix 2001:db8:ab00::/40, the domain's CEs in 198.51.100.0/24 (IPv4MaskLen 24):
        // CE 198.51.100.7 delegates 2001:db8:ab07::/48.
        let m = try sixRD("2001:db8:ab00::/40", "198.51.100.0/24")
        #expect(m.embeddedIPv4(v6("2001:db8:ab07:1::1")) == v4("198.51.100.7"))
        let r = try responder([zone([try dataset(.ipv4, "198.51.100.7 :127.0.0.2:6rd CE $")])], options: options([m]))
        expectA(try ask(r, name6("2001:db8:ab07:1::1")), [code(2)])
        expectA(try ask(r, name6("2001:db8:ab07:ffff:1:2:3:4")), [code(2)])
        expectTXT(try ask(r, name6("2001:db8:ab07::1"), DNSType.txt), ["6rd CE 198.51.100.7"])
        expectNX(try ask(r, name6("2001:db8:ab08::1")))
        for depth in 1...31 { expectNODATA(try ask(r, nibbleName(v6("2001:db8:ab07::1"), depth))) }
        expectNX(try ask(r, nibbleName(v6("2001:db8:ab08::"), 12)))
        // Not octet-aligned (a vendor's worked example): 6rd prefix 2010:1234::/32, IPv4MaskLen
        // 8 under 10.0.0.0/8; WAN 10.168.200.2 delegates 2010:1234:a8c8:200::/56.
        let odd = try sixRD("2010:1234::/32", "10.0.0.0/8")
        #expect(odd.embeddedIPv4(v6("2010:1234:a8c8:2ff::1")) == v4("10.168.200.2"))
        // IPv4MaskLen 12: 20 bits follow 2001:db8:8000::/33 (192.0.2.45 → 0x0022d).
        let twelve = try sixRD("2001:db8:8000::/33", "192.0.0.0/12")
        let a = v6("2001:db8:8000::") | (UInt128(0x0022d) << UInt128(128 - 33 - 20))
        #expect(twelve.embeddedIPv4(a) == v4("192.0.2.45"))
        let r12 = try responder([zone([try dataset(.ipv4, "192.0.2.45")])], options: options([twelve]))
        expectA(try ask(r12, nibbleName(a, 32)), [code(2)])
        for depth in 1...31 { expectNODATA(try ask(r12, nibbleName(a, depth))) }
        expectNX(try ask(r12, nibbleName(a ^ (1 << 80), 12)))  // bit 47 = the IPv4 bit worth 0x20
    }

    @Test func spec3_3_mappingsUniteIPv4AndIPv6DataWithExclusions() throws {
        let r = try responder([zone([
            try dataset(.ipv4, """
                :127.0.0.2:four $
                192.0.2.0/24
                !192.0.2.45
                """),
            try dataset(.ipv6, """
                :127.0.0.6:six $
                2001::/32
                !2001:0:4136:e378::/64
                """),
        ])], options: options([.teredo]))
        // Client 192.0.2.46 (0x3ffffdd1): both families list it; `$` renders each its own way.
        let both = "2001:0:c633:6401:0:0:3fff:fdd1"
        expectA(try ask(r, name6(both)), [code(2), code(6)])
        expectTXT(try ask(r, name6(both), DNSType.txt), ["four 192.0.2.46", "six 2001:0:c633:6401::3fff:fdd1"])
        // Client 192.0.2.45 is excluded from the IPv4 data: the IPv6 data alone answers.
        expectA(try ask(r, name6("2001:0:c633:6401::3fff:fdd2")), [code(6)])
        // The IPv6 exclusion hides the IPv6 listing; the IPv4 data still lists 192.0.2.46.
        expectA(try ask(r, name6("2001:0:4136:e378:8000:63bf:3fff:fdd1")), [code(2)])
        // Excluded in both: NXDOMAIN.
        expectNX(try ask(r, name6(Self.teredoExample)))
    }

    @Test func rfc8020_partialTeredoNamesFollowTheClientBits() throws {
        let r = try responder([zone([try dataset(.ipv4, "192.0.2.45")])], options: options([.teredo]))
        for depth in 1...31 { expectNODATA(try ask(r, nibbleName(v6(Self.teredoExample), depth))) }
        // Down to 24 nibbles the client field is free: any listing makes it NODATA.
        expectNODATA(try ask(r, nibbleName(v6("2001:0:ffff:ffff:ffff:ffff::"), 24)))
        // 25 nibbles fix the client's top 4 bits (inverted): 0x3 → 0xc…, listed; 0x4 → 0xb…, not.
        expectNODATA(try ask(r, nibbleName(v6("2001:0:0:0:0:0:3000::"), 25)))
        expectNX(try ask(r, nibbleName(v6("2001:0:0:0:0:0:4000::"), 25)))
        expectNX(try ask(r, nibbleName(v6("2001:0:0:0:0:0:3fff:fde0"), 31)))  // clients 192.0.2.16-31
        // Outside 2001:0::/32 nothing changes.
        expectNX(try ask(r, nibbleName(v6("2001:1::"), 8)))
        expectNODATA(try ask(r, nibbleName(v6("2001::"), 4)))  // 2001::/16 contains 2001:0::/32
    }

    @Test func spec3_3_zonesWithoutMappingsAreUnchanged() throws {
        let sets = [try dataset(.ipv4, "192.0.2.45"), try dataset(.ipv6, "2001:db8::/32 :127.0.0.6")]
        var o = try options([.teredo, .nat64WellKnown], zone: "other.example")
        try o.addTransition(try sixRD("2001:db8:ab00::/40", "198.51.100.0/24"), zone: "Other.Example.")
        let r = try responder([zone(sets), zone([try dataset(.ipv4, "192.0.2.45")], apex: "other.example")], options: o)
        expectNX(try ask(r, name6(Self.teredoExample)))
        expectNX(try ask(r, name6("64:ff9b::c000:22d")))
        expectNX(try ask(r, nibbleName(v6("2001::"), 8)))
        expectA(try ask(r, name6("2001:db8::1")), [code(6)])
        expectA(try ask(r, name6(Self.teredoExample, "other.example")), [code(2)])
        expectA(try ask(r, name6("64:ff9b::c000:22d", "other.example")), [code(2)])
        // The zone's key is case-insensitive and the trailing dot optional.
        #expect(o.transitions["other.example"]?.count == 3)
        // A zone with mappings but no IPv4 data answers from its IPv6 data only.
        let v6only = try responder([zone([try dataset(.ipv6, "2001:db8::/32 :127.0.0.6")])], options: options([.teredo]))
        expectNX(try ask(v6only, name6(Self.teredoExample)))
    }

    @Test func configurationErrorsSayWhatIsWrong() throws {
        func reason(_ body: () throws -> Void) -> String {
            do { try body(); return "" } catch let e as TransitionError { return e.reason } catch { return "other error \(error)" }
        }
        #expect(reason { _ = try TransitionMapping.nat64(prefix: v6("2001:db8::"), length: 36) }.contains("/36 is not one of"))
        #expect(reason { _ = try TransitionMapping.nat64(prefix: v6("2001:db8::1"), length: 96) }.contains("bits set beyond /96"))
        #expect(reason { _ = try TransitionMapping.sixRD(prefix: v6("2001:db8::"), length: 32, ipv4Prefix: v4("198.51.100.1"), ipv4MaskLength: 24) }
            .contains("IPv4 prefix has bits set beyond /24"))
        #expect(reason { _ = try TransitionMapping.sixRD(prefix: v6("2001:db8::"), length: 120, ipv4Prefix: 0, ipv4MaskLength: 0) }
            .contains("exceeds 128 bits"))
        #expect(reason { _ = try TransitionMapping.sixRD(prefix: 0, length: 0, ipv4Prefix: 0, ipv4MaskLength: 0) }.contains("not 1...127"))
        var o = AnswerOptions()
        try o.addTransition(.teredo, zone: "bl.example")
        try o.addTransition(.teredo, zone: "bl.example")  // twice is harmless
        #expect(o.transitions["bl.example"] == [.teredo])
        #expect(reason { try o.addTransition(try nat64("2001::/32"), zone: "bl.example") }.contains("overlaps teredo 2001::/32"))
        #expect(reason { try o.addTransition(try sixRD("2002:c000::/24", "0.0.0.0/0"), zone: "bl.example") }.contains("6to4"))
        #expect(reason { try o.addTransition(try nat64("::/32"), zone: "bl.example") }.contains("::ffff:0:0/96"))
        #expect(reason { try o.addTransition(.teredo, zone: "bl..example") }.contains("not a zone name"))
        #expect(reason { try o.addTransition(.teredo, zone: ".") }.contains("empty zone name"))
        try o.addTransition(try nat64("2001::/32"), zone: "other.example")  // another zone: fine
    }

    @Test
    func respondWithMappingsAllocatesNothing() throws {
        let count = try #require(threadMallocCount, mallocCounterMissing)
        var o = try options([.teredo, .nat64WellKnown, try nat64("2001:db8:100::/40"),
                             try sixRD("2001:db8:ab00::/40", "198.51.100.0/24")])
        o.nsInAuthority = true
        let r = try responder([zone([try dataset(.ipv4, "192.0.2.0/24 :127.0.0.2:four $\n198.51.100.7"),
                                     try dataset(.ipv6, "2001::/32 :127.0.0.6:six $")])], options: o)
        let names = [name6(Self.teredoExample), name6("64:ff9b::192.0.2.33"), name6("2001:db8:1c0:2:21::"),
                     name6("2001:db8:ab07::1"), name6("2001:db8:ab08::1"), nibbleName(v6(Self.teredoExample), 25),
                     nibbleName(v6("2001:db8:100::"), 12), nibbleName(v6("2001:db8:1c0:2:ff00::"), 18)]
        let queries = names.flatMap { [query($0, DNSType.a), query($0, DNSType.txt)] }
        let response = UnsafeMutableRawBufferPointer.allocate(byteCount: 65535, alignment: 16)
        defer { response.deallocate() }
        var warm: [Int] = []
        for q in queries { warm.append(q.withUnsafeBytes { r.respond(to: $0, transport: .udp, into: response).length }) }
        #expect(warm.allSatisfy { $0 > 0 })
        for (i, q) in queries.enumerated() {
            let before = count()
            var sum = 0
            for _ in 0..<200 { sum &+= q.withUnsafeBytes { r.respond(to: $0, transport: .udp, into: response).length } }
            let after = count()
            #expect(sum == warm[i] &* 200)
            #expect(after - before == 0, "query \(i) (\(names[i / 2])): \(after - before) allocations in 200 answers")
        }
    }
}

extension String {
    /// The name with its leftmost nibble label replaced (the last 4 bits of the address).
    func replacingFirstNibble(_ nibble: String) -> String { nibble + dropFirst() }
}
