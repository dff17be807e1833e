#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import DNSBL
import DNSBLDaemon
@testable import DNSBLServer
import TestSupport
import ServerTestSupport

/// Issue 6 point 6 from the command line: the `--teredo`, `--nat64` and `--6rd` flags of
/// `prefixbl serve`, their errors, and one `dig` through a served zone with all of them.
@Suite("Transition flags of prefixbl serve", .serialized)
struct TransitionServeTests {
    func reason(teredo: [String] = [], nat64: [String] = [], sixRD: [String] = []) -> String {
        var o = AnswerOptions()
        do {
            try TransitionFlags.apply(teredo: teredo, nat64: nat64, sixRD: sixRD, to: &o)
            return ""
        } catch {
            return error.description
        }
    }

    @Test func flagsParseIntoPerZoneMappings() throws {
        var o = AnswerOptions()
        try TransitionFlags.apply(teredo: ["bl.example"],
                                  nat64: ["bl.example", "BL.example.=2001:db8:100::/40", "other.example=2001:db8::/32"],
                                  sixRD: ["bl.example=2001:db8:ab00::/40,198.51.100.0/24"], to: &o)
        #expect(o.transitions["bl.example"]?.map(\.description) == [
            "teredo 2001::/32", "nat64 64:ff9b::/96", "nat64 2001:db8:100::/40", "6rd 2001:db8:ab00::/40,198.51.100.0/24",
        ])
        #expect(o.transitions["other.example"]?.map(\.description) == ["nat64 2001:db8::/32"])
    }

    @Test func flagErrorsNameTheFlagAndTheProblem() {
        #expect(reason(nat64: ["bl.example=2001:db8::/36"]) ==
                "config: --nat64 bl.example=2001:db8::/36: NAT64 prefix length /36 is not one of /32, /40, /48, /56, /64, /96 (RFC 6052 §2.2)")
        #expect(reason(nat64: ["bl.example=2001:db8::"]).contains("--nat64 bl.example=2001:db8::: NAT64 prefix '2001:db8::' needs a /length"))
        #expect(reason(nat64: ["bl.example=192.0.2.0/24"]).contains("is not an IPv6 prefix"))
        #expect(reason(nat64: ["bl.example=2001:db8::1/32"]).contains("host bits set"))
        #expect(reason(teredo: ["bl.example=2001::/32"]).contains("--teredo bl.example=2001::/32: takes only a zone name"))
        #expect(reason(sixRD: ["bl.example"]).contains("--6rd bl.example: expected ZONE=PREFIX/LEN,IPV4PREFIX/MASKLEN"))
        #expect(reason(sixRD: ["bl.example=2001:db8:ab00::/40"]).contains("expected ZONE=PREFIX/LEN,IPV4PREFIX/MASKLEN"))
        #expect(reason(sixRD: ["bl.example=2001:db8:ab00::/40,198.51.100.7/24"]).contains("6rd IPv4 prefix '198.51.100.7/24'"))
        #expect(reason(sixRD: ["bl.example=2001:db8:ab00::/40,2001:db8::/32"]).contains("is not an IPv4 prefix"))
        #expect(reason(teredo: ["bl.example"], nat64: ["bl.example=2001::/32"]).contains("overlaps teredo 2001::/32 in zone bl.example"))
        #expect(reason(nat64: ["=2001:db8::/32"]).contains("empty zone name"))
    }

    @Test("a bad flag stops prefixbl serve before it binds")
    func badFlagExits() throws {
        let r = try run(try #require(prefixblBinary()), ["serve", "--listen", "127.0.0.1:0", "--6rd", "bl.example=2002::/16,0.0.0.0/0",
                                            "bl.example:ip4set:/dev/null"])
        #expect(r.status != 0)
        #expect(r.output.contains("--6rd bl.example=2002::/16,0.0.0.0/0: 6rd 2002::/16,0.0.0.0/0 overlaps the 6to4 block 2002::/16"), "\(r.output)")
    }

    @Test("dig: Teredo, NAT64 and 6rd names answered from IPv4 data through prefixbl serve",
          .enabled(if: which("dig") != nil, "dig (dnsutils) is not installed"))
    func digThroughServe() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try ":127.0.0.2:IPv4 $\n192.0.2.45\n192.0.2.33\n198.51.100.7\n".write(toFile: dir + "/v4.txt", atomically: true, encoding: .utf8)
        try ":127.0.0.6:IPv6 $\n2001:db8:ab07::/48\n".write(toFile: dir + "/v6.txt", atomically: true, encoding: .utf8)
        let server = try ServeProcess([
            "--teredo", "bl.example", "--nat64", "bl.example", "--nat64", "bl.example=2001:db8:100::/40",
            "--6rd", "bl.example=2001:db8:ab00::/40,198.51.100.0/24",
            "bl.example:ip4set:v4.txt", "bl.example:ip6trie:v6.txt", "plain.example:ip4set:v4.txt",
        ], directory: dir, ipv6: false)
        defer { server.child.signal(SIGKILL); _ = server.child.waitExit() }
        func ask(_ name: String, _ type: String = "A") throws -> String {
            let r = try run(which("dig")!, ["@\(server.v4.host)", "-p", "\(server.v4.port)", "+tries=2", "+time=2", name, type])
            #expect(r.status == 0, "dig \(name) \(type): \(r.output)")
            return r.output
        }
        func short(_ name: String, _ type: String = "A") throws -> [String] {
            let r = try run(which("dig")!, ["@\(server.v4.host)", "-p", "\(server.v4.port)", "+tries=2", "+time=2", "+short", name, type])
            return r.output.split(separator: "\n").map(String.init).sorted()
        }
        // RFC 4380 §4's example: client 192.0.2.45.
        let teredo = nibbleName("2001:0:4136:e378:8000:63bf:3fff:fdd2")
        #expect(try short(teredo) == ["127.0.0.2"])
        #expect(try short(teredo, "TXT") == ["\"IPv4 192.0.2.45\""])
        #expect(try short(nibbleName("64:ff9b::192.0.2.33")) == ["127.0.0.2"])
        #expect(try short(nibbleName("2001:db8:1c0:2:21::")) == ["127.0.0.2"])  // RFC 6052 §2.4, /40
        #expect(try ask(nibbleName("2001:db8:1c0:2:ff21::")).contains("status: NXDOMAIN"))  // u octet set
        // 6rd CE 198.51.100.7 with IPv6 data for its /48: both answer.
        #expect(try short(nibbleName("2001:db8:ab07:1::1")) == ["127.0.0.2", "127.0.0.6"])
        #expect(try short(nibbleName("2001:db8:ab07:1::1"), "TXT") == ["\"IPv4 198.51.100.7\"", "\"IPv6 2001:db8:ab07:1::1\""])
        // Partial names: NODATA above listed data, NXDOMAIN elsewhere (RFC 8020).
        let partial = try ask(String(teredo.split(separator: ".").dropFirst(8).joined(separator: ".")))
        #expect(partial.contains("status: NOERROR") && partial.contains("ANSWER: 0"))
        #expect(try ask(nibbleName("2001:0:4136:e378:8000:63bf:4fff:fdd2").split(separator: ".").dropFirst(7).joined(separator: "."))
            .contains("status: NXDOMAIN"))
        // A zone without the flags is unchanged.
        #expect(try ask(nibbleName("2001:0:4136:e378:8000:63bf:3fff:fdd2", zone: "plain.example")).contains("status: NXDOMAIN"))
        #expect(server.child.text.contains("transition mappings"))
    }
}
