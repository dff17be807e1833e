import Foundation
import Testing
@testable import DNSBL
import DNSWire
import PrefixStore
import LDNSKit
import ZoneSource
import TestSupport

// Table tests for the dataset types that are not IP lists (DNSBL.docc/ZoneDataAnswers.md; rbldnsd's
// `generic`, `acl`, `combined`): source text compiled by ZoneSource, answered by the
// Responder, every response parsed by libldns.

/// Source files in a fresh directory, compiled, served.
struct Served {
    let responder: Responder
    let diagnostics: [Diagnostic]

    /// `specs`: (zone, type, file text); the zone "" is the global ACL.
    init(_ specs: [(String, String, String)], options: AnswerOptions = AnswerOptions()) throws {
        let r = compileSpecs(specs)
        diagnostics = r.diagnostics
        guard !r.hasErrors else { throw TestError.bad(r.diagnostics.map(\.description).joined(separator: "\n")) }
        responder = Responder(stores: [try Store(zones: r.zones)], options: options)
    }

    /// The response to `name`/`type` from `client`; nil when nothing is sent.
    func ask(_ name: String, _ type: UInt16 = DNSType.a, from client: ClientAddress = .unknown,
             transport: Transport = .udp) throws -> Packet? {
        let q = query(name, type)
        var buf = [UInt8](repeating: 0, count: 65535)
        let out = q.withUnsafeBytes { qp in
            buf.withUnsafeMutableBytes { responder.respond(to: qp, transport: transport, client: client, into: $0) }
        }
        if out.length == 0 { return nil }
        return try Packet(wire: Array(buf[0..<out.length]))
    }

    func must(_ name: String, _ type: UInt16 = DNSType.a, from client: ClientAddress = .unknown) throws -> Packet {
        guard let p = try ask(name, type, from: client) else { throw TestError.bad("no response for \(name)") }
        return p
    }
}

/// Compiles `specs`, (zone, type, file text), each text written to a file of a temporary
/// directory; the zone "" is the global ACL.
func compileSpecs(_ specs: [(String, String, String)]) -> CompileResult {
    let dir = TempDir()
    let list = specs.enumerated().map { i, s in ZoneSpec(zone: s.0, type: s.1, files: [dir.write("f\(i).txt", s.2)]) }
    // The files must exist until the compile has read them.
    return withExtendedLifetime(dir) { Compiler.compile(list) }
}

/// Compile diagnostics of source text (errors expected).
func compileErrors(_ specs: [(String, String, String)]) throws -> [Diagnostic] {
    compileSpecs(specs).diagnostics.filter { $0.severity == .error }
}

/// The warnings of lines skipped as rbldnsd skips them (the compile still succeeds).
func compileSkips(_ specs: [(String, String, String)]) throws -> [Diagnostic] {
    let r = compileSpecs(specs)
    #expect(!r.hasErrors, "\(r.diagnostics)")
    return r.diagnostics.filter { $0.severity == .warning && $0.message.hasSuffix("; line skipped") }
}

let soaLines = """
$SOA 3600 ns1.bl.example hostmaster.example.org 1 7200 900 604800 300
$NS 86400 ns1.bl.example ns2.example.net

"""

// MARK: generic

@Suite struct GenericTests {
    static let generic = soaLines + """
    # apex records, TTL given or the dataset's (2100)
    @ A 192.0.2.80
    @ 600 MX 10 mx.example.net
    @ TXT "bl.example test list"
    www 1200 A 192.0.2.81
    www AAAA 2001:db8::81
    ns1 A 192.0.2.53
    ns1 AAAA 2001:db8::53
    info.bl.example. TXT see https://bl.example/
    deep.sub TXT deep
    """
    static let list = "192.0.2.1 :2:listed $\n"

    let s: Served
    init() throws { s = try Served([("bl.example", "generic", Self.generic), ("bl.example", "ip4set", Self.list)]) }

    @Test func apexCarriesGenericTypesAndStillSOAAndNS() throws {
        expectA(try s.must("bl.example"), [v4("192.0.2.80")], ttl: 2100)
        let mx = try s.must("bl.example", DNSType.mx)
        #expect(mx.rcode == 0 && mx.aa && mx.ancount == 1)
        #expect(mx.answer.first?.type == DNSType.mx && mx.answer.first?.ttl == 600)
        #expect(mx.answer.first?.rdataText == ["10", "mx.example.net."])
        expectTXT(try s.must("bl.example", DNSType.txt), ["bl.example test list"])
        let soa = try s.must("bl.example", DNSType.soa)
        #expect(soa.ancount == 1 && soa.answer.first?.type == DNSType.soa)
        #expect(try s.must("bl.example", DNSType.ns).ancount == 2)
        // ANY: SOA, two NS, A, MX, TXT.
        let any = try s.must("bl.example", DNSType.any)
        #expect(any.ancount == 6, "\(any.text)")
        expectNODATA(try s.must("bl.example", DNSType.aaaa))
    }

    @Test func namesInsideTheZone() throws {
        expectA(try s.must("www.bl.example"), [v4("192.0.2.81")], ttl: 1200)
        expectA(try s.must("WWW.Bl.Example"), [v4("192.0.2.81")])
        let aaaa = try s.must("www.bl.example", DNSType.aaaa)
        #expect(aaaa.ancount == 1 && aaaa.answer.first?.rdataText == ["2001:db8::81"])
        // A name generic data defines exists: other types NODATA, never NXDOMAIN.
        expectNODATA(try s.must("www.bl.example", DNSType.txt))
        expectNODATA(try s.must("www.bl.example", DNSType.mx))
        // Absolute owner (trailing dot) and a two-label relative owner.
        expectTXT(try s.must("info.bl.example", DNSType.txt), ["see https://bl.example/"])
        expectTXT(try s.must("deep.sub.bl.example", DNSType.txt), ["deep"])
        // The ancestor of a generic name is an empty non-terminal; other names NXDOMAIN.
        expectNODATA(try s.must("sub.bl.example", DNSType.txt))
        expectNX(try s.must("nope.bl.example"))
        expectNX(try s.must("x.www.bl.example"))
    }

    @Test func inZoneNSNamesAnswerTheirAddresses() throws {
        expectA(try s.must("ns1.bl.example"), [v4("192.0.2.53")])
        let aaaa = try s.must("ns1.bl.example", DNSType.aaaa)
        #expect(aaaa.ancount == 1 && aaaa.answer.first?.rdataText == ["2001:db8::53"])
        expectNODATA(try s.must("ns1.bl.example", DNSType.txt))
        // The compiler no longer warns: ns1 has an address.
        #expect(!s.diagnostics.contains { $0.code == .nsWithoutAddress })
    }

    @Test func listingsStillAnswer() throws {
        expectA(try s.must(name4("192.0.2.1")), [code(2)])
        expectTXT(try s.must(name4("192.0.2.1"), DNSType.txt), ["listed 192.0.2.1"])
        expectNX(try s.must(name4("192.0.2.2")))
    }

    @Test func badGenericLinesAreSkippedWithFileAndLine() throws {
        let cases = [
            "@ NS ns1.example.net\n",              // type not supported
            "www A 192.0.2\n",                     // bad A
            "www AAAA 192.0.2.1\n",                // bad AAAA
            "www.example.org. A 192.0.2.1\n",      // outside the zone
            "www A\n",                             // no value
        ]
        for c in cases {
            let e = try compileSkips([("bl.example", "generic", c + "ok A 192.0.2.9\n")])
            #expect(e.count == 1 && e.first?.line == 1 && e.first?.file != nil, "\(c): \(e)")
        }
    }
}

// MARK: acl

@Suite struct ACLTests {
    static let zoneACL = """
    192.0.2.0/24 :refuse
    192.0.2.7 :pass
    198.51.100.0/24 :empty
    203.0.113.0/24
    2001:db8:1::/48 :127.255.255.3:blocked, your resolver $ sends too many queries
    2001:db8:2::/48 :refuse
    10.0.0.0/8 :127.255.255.2:open resolver $
    192.0.2.9 :refuse
    """
    static let globalACL = """
    2001:db8:2:1::/64 :ignore
    10.1.0.0/16 :127.255.255.4:global $
    192.0.2.9 :empty
    2001:db8:3::/48 :refuse
    """
    static let list = "192.0.2.1 :2:listed $\n"
    static let generic = soaLines + "www A 192.0.2.81\n"

    let s: Served
    init() throws {
        s = try Served([("bl.example", "ip4set", Self.list), ("bl.example", "generic", Self.generic),
                        ("bl.example", "acl", Self.zoneACL), ("", "acl", Self.globalACL),
                        ("other.example", "ip4set", Self.list)])
    }

    @Test func unknownClientMatchesNoEntry() throws {
        expectA(try s.must(name4("192.0.2.1")), [code(2)])
    }

    @Test func eachAction() throws {
        // refuse
        #expect(try s.must(name4("192.0.2.1"), from: ClientAddress(ipv4: v4("192.0.2.5"))).rcode == 5)
        // pass: a hole in the wider refuse entry
        expectA(try s.must(name4("192.0.2.1"), from: ClientAddress(ipv4: v4("192.0.2.7"))), [code(2)])
        // empty: listings hidden, metadata and generic data still answered
        let empty = ClientAddress(ipv4: v4("198.51.100.1"))
        expectNX(try s.must(name4("192.0.2.1"), from: empty))
        expectA(try s.must("www.bl.example", from: empty), [v4("192.0.2.81")])
        #expect(try s.must("bl.example", DNSType.soa, from: empty).ancount == 1)
        // ignore (the default action of a listed client): no reply at all
        #expect(try s.ask(name4("192.0.2.1"), from: ClientAddress(ipv4: v4("203.0.113.9"))) == nil)
        #expect(try s.ask("bl.example", DNSType.soa, from: ClientAddress(ipv4: v4("203.0.113.9"))) == nil)
        // The zone ACL applies to its zone only.
        expectA(try s.must(name4("192.0.2.1", "other.example"), from: ClientAddress(ipv4: v4("192.0.2.5"))), [code(2)])
    }

    @Test func policyAnswersRenderTheClientAddress() throws {
        let c6 = ClientAddress(ipv6: v6("2001:db8:1::5"))
        // Every full address name is "listed" with the policy value, listed or not.
        expectA(try s.must(name4("192.0.2.1"), from: c6), [0x7FFF_FF03])
        expectA(try s.must(name4("192.0.2.200"), from: c6), [0x7FFF_FF03])
        expectA(try s.must(name6("2001:db8::1"), from: c6), [0x7FFF_FF03])
        expectTXT(try s.must(name4("192.0.2.1"), DNSType.txt, from: c6),
                  ["blocked, your resolver 2001:db8:1::5 sends too many queries"])
        // Metadata still answers; partial names are answered as for `empty`.
        #expect(try s.must("bl.example", DNSType.soa, from: c6).ancount == 1)
        expectNX(try s.must("2.0.192.bl.example", from: c6))
        let c4 = ClientAddress(ipv4: v4("10.2.3.4"))
        expectA(try s.must(name4("198.51.100.7"), from: c4), [0x7FFF_FF02])
        expectTXT(try s.must(name4("198.51.100.7"), DNSType.txt, from: c4), ["open resolver 10.2.3.4"])
    }

    @Test func ipv6ClientPrefixes() throws {
        #expect(try s.must(name4("192.0.2.1"), from: ClientAddress(ipv6: v6("2001:db8:2:2::1"))).rcode == 5)
        expectA(try s.must(name4("192.0.2.1"), from: ClientAddress(ipv6: v6("2001:db8:4::1"))), [code(2)])
        // An IPv4-mapped peer (dual-stack socket) is the IPv4 client.
        #expect(try s.must(name4("192.0.2.1"), from: ClientAddress(ipv6: v6("::ffff:192.0.2.5"))).rcode == 5)
    }

    @Test func zoneACLVersusGlobalACL() throws {
        // global ignore beats zone refuse
        #expect(try s.ask(name4("192.0.2.1"), from: ClientAddress(ipv6: v6("2001:db8:2:1::1"))) == nil)
        // zone refuse beats global empty
        #expect(try s.must(name4("192.0.2.1"), from: ClientAddress(ipv4: v4("192.0.2.9"))).rcode == 5)
        // two policy answers: the global one
        let c = ClientAddress(ipv4: v4("10.1.2.3"))
        expectA(try s.must(name4("192.0.2.1"), from: c), [0x7FFF_FF04])
        expectTXT(try s.must(name4("192.0.2.1"), DNSType.txt, from: c), ["global 10.1.2.3"])
        // The global ACL applies to every zone, and to names outside every zone.
        let g = ClientAddress(ipv6: v6("2001:db8:3::1"))
        #expect(try s.must(name4("192.0.2.1", "other.example"), from: g).rcode == 5)
        #expect(try s.must("www.example.org", from: g).rcode == 5)
        #expect(try s.ask("www.example.org", from: ClientAddress(ipv6: v6("2001:db8:2:1::9"))) == nil)
    }

    @Test func policyValuesOutside127_255_255AreSkippedAtCompile() throws {
        for bad in ["192.0.2.0/24 :127.0.0.2:looks like a listing\n", "192.0.2.0/24 :2:x\n",
                    "192.0.2.0/24 :192.0.2.1:x\n", "192.0.2.0/24 :deny\n", "192.0.2.1-192.0.2.5 :refuse\n"] {
            let e = try compileSkips([("bl.example", "acl", bad), ("bl.example", "ip4set", Self.list)])
            #expect(e.count == 1 && e.first?.line == 1, "\(bad): \(e)")
        }
        // A listing value in 127.255.255.0/24 is skipped too (policy values must never be confused with listings).
        let e = try compileSkips([("bl.example", "ip4set", "192.0.2.1 :127.255.255.2:x\n192.0.2.2\n")])
        #expect(e.first?.code == .reservedValue)
        // $SOA and $NS are not allowed in an acl.
        #expect(try compileSkips([("bl.example", "acl", soaLines + "192.0.2.0/24 :refuse\n"), ("bl.example", "ip4set", Self.list)]).count == 2)
    }

    @Test func clientAddressValues() {
        #expect(ClientAddress(ipv6: v6("::ffff:192.0.2.1")) == ClientAddress(ipv4: v4("192.0.2.1")))
        #expect(ClientAddress(ipv6: v6("2001:db8::1")).family == .ipv6)
        #expect(ClientAddress.unknown.family == nil)
    }
}

// MARK: combined

@Suite struct CombinedTests {
    static let combined = """
    # common section
    $SOA 3600 ns1.example.net hostmaster.example.org 1 7200 900 604800 300
    $NS 86400 ns1.example.net
    $TTL 900
    $DATASET ip4set:proxy proxies @
    :2:Open proxy $
    192.0.2.10
    $DATASET ip4set:relay relays @
    :3:Open relay $
    192.0.2.20
    192.0.2.10
    $DATASET ip6trie:six v6
    2001:db8::/32 :4:v6 listed
    $DATASET generic:common proxies relays @
    @ A 192.0.2.80
    www A 192.0.2.81
    """

    let s: Served
    init() throws { s = try Served([("bl.example", "combined", Self.combined)]) }

    @Test func datasetsAttachAtTheirSubzonesAndAt() throws {
        expectA(try s.must(name4("192.0.2.10")), [code(2), code(3)], ttl: 900)
        expectA(try s.must(name4("192.0.2.10", "proxies.bl.example")), [code(2)])
        expectTXT(try s.must(name4("192.0.2.10", "proxies.bl.example"), DNSType.txt), ["Open proxy 192.0.2.10"])
        expectA(try s.must(name4("192.0.2.20", "relays.bl.example")), [code(3)])
        // Negative answers carry the base zone's SOA.
        expectNX(try s.must(name4("192.0.2.20", "proxies.bl.example")))
        expectA(try s.must(name6("2001:db8::1", "v6.bl.example")), [code(4)])
        expectNX(try s.must(name6("2001:db8::1")))
    }

    @Test func genericRecordsAtEverySubzone() throws {
        expectA(try s.must("bl.example"), [v4("192.0.2.80")])
        expectA(try s.must("proxies.bl.example"), [v4("192.0.2.80")])
        expectA(try s.must("www.relays.bl.example"), [v4("192.0.2.81")])
        expectA(try s.must("www.bl.example"), [v4("192.0.2.81")])
        // A subzone's apex is not the zone's apex: SOA there is NODATA, never NXDOMAIN.
        expectNODATA(try s.must("proxies.bl.example", DNSType.soa))
        expectNODATA(try s.must("v6.bl.example"))
        #expect(try s.must("bl.example", DNSType.soa).ancount == 1)
        expectNX(try s.must("multihop.bl.example"))
    }

    @Test func combinedErrors() throws {
        #expect(try compileErrors([("bl.example", "combined", "192.0.2.1\n")]).count == 1)
        #expect(try compileErrors([("bl.example", "combined", "$DATASET combined x @\n")]).count == 1)
        #expect(try compileErrors([("bl.example", "combined", "$DATASET nosuch x @\n")]).count == 1)
        // rbldnsd: "no subzone(s) specified for dataset, data will be ignored": skipped.
        #expect(try compileErrors([("bl.example", "combined", "$DATASET ip4set\n192.0.2.1\n$DATASET ip4set @\n192.0.2.2\n")]).isEmpty)
        #expect(try compileSkips([("bl.example", "combined", "$DATASET ip4set\n192.0.2.1\n$DATASET ip4set @\n192.0.2.2\n")]).count == 1)
        // An acl section applies to the whole zone: attached at @ only.
        #expect(try compileErrors([("bl.example", "combined", "$DATASET acl sub\n192.0.2.0/24 :refuse\n")]).count == 1)
    }

    @Test func anACLSectionInACombinedFileIsTheZonesACL() throws {
        let s = try Served([("bl.example", "combined", Self.combined + "\n$DATASET acl @\n192.0.2.0/24 :refuse\n")])
        #expect(try s.must(name4("192.0.2.10"), from: ClientAddress(ipv4: v4("192.0.2.5"))).rcode == 5)
        expectA(try s.must(name4("192.0.2.10", "proxies.bl.example"), from: ClientAddress(ipv4: v4("198.51.100.5"))), [code(2)])
        // The zone's ACL covers its subzones too.
        #expect(try s.must(name4("192.0.2.10", "proxies.bl.example"), from: ClientAddress(ipv4: v4("192.0.2.5"))).rcode == 5)
    }

    @Test func aZoneNamedSeveralTimesUnitesItsDatasets() throws {
        let s = try Served([("bl.example", "ip4set", soaLines + "192.0.2.1 :2\n"),
                            ("bl.example", "ip6trie", "2001:db8::/32 :3\n"),
                            ("bl.example", "generic", "www A 192.0.2.81\n"),
                            ("bl.example", "combined", "$DATASET ip4set sub @\n192.0.2.1 :4\n")])
        expectA(try s.must(name4("192.0.2.1")), [code(2), code(4)])
        expectA(try s.must(name6("2001:db8::5")), [code(3)])
        expectA(try s.must("www.bl.example"), [v4("192.0.2.81")])
        expectA(try s.must(name4("192.0.2.1", "sub.bl.example")), [code(4)])
    }
}
