import Testing
import Foundation
import PrefixStore
@testable import ZoneSource
import TestSupport

/// zones/: the bundled example zone compiles and answers as its comments promise.
struct BundledZoneTests {
    static let root = repositoryRoot()

    static func compileBundled() -> CompileResult {
        Compiler.compile([
            ZoneSpec(zone: "bl.example", type: "ip4set", files: [root + "/zones/bl.example.ip4set"]),
            ZoneSpec(zone: "bl.example", type: "ip6trie", files: [root + "/zones/bl.example.ip6trie"]),
        ])
    }

    @Test func compilesWithOnlyTheInZoneNSWarning() {
        let r = Self.compileBundled()
        #expect(r.diagnostics.map(\.code) == [.nsWithoutAddress])
        #expect(r.zones.count == 1 && r.zones[0].datasets.count == 2)
        #expect(r.zones[0].soa.serial > 1_600_000_000)  // serial 0 → file time
    }

    @Test func answersAsDocumented() throws {
        let r = Self.compileBundled()
        let dir = TempDir()
        try StoreBuilder.write(try StoreBuilder.encode(r.zones), to: dir.path + "/bl.example.pfxbl")
        let store = StorePair(memory: try Store(zones: r.zones), file: try Store(path: dir.path + "/bl.example.pfxbl"))
        let dflt = "Listed in bl.example, see https://bl.example/lookup?ip="
        let table: [(String, [String])] = [
            ("127.0.0.2", ["127.0.0.2 Test entry: 127.0.0.2 is always listed (RFC 5782)"]),
            ("127.0.0.1", []),
            ("::ffff:7f00:2", ["127.0.0.2 Test entry: 127.0.0.2 is always listed (RFC 5782)"]),
            ("::ffff:7f00:1", []),
            ("::2", ["127.0.0.2 Test entry: ::2 is always listed (RFC 5782)"]),
            ("192.0.2.5", ["127.0.0.2 \(dflt)192.0.2.5"]),
            ("192.0.2.130", []),
            ("192.0.2.100", ["127.0.0.3 Open proxy at 192.0.2.100"]),
            ("192.0.2.200", []),
            ("198.51.100.7", ["127.0.0.4 \(dflt)198.51.100.7"]),
            ("198.51.100.23", ["127.0.0.2 \(dflt)198.51.100.23"]),
            ("198.51.100.24", []),
            ("198.51.100.70", ["127.0.0.5"]),
            ("203.0.113.5", ["127.0.0.2 Spam source in network 203.0.113.0/26 (203.0.113.5)"]),
            ("203.0.113.99", ["127.0.0.2 \(dflt)203.0.113.99"]),
            ("2001:db8:abcd::5", ["127.0.0.2 \(dflt)2001:db8:abcd::5"]),
            ("2001:db8:abce::1", []),
            ("2001:db8:1:4::1", ["127.0.0.3 Hosting network, see https://bl.example/lookup?ip=2001:db8:1:4::1"]),
            ("2001:db8:1:5::1", []),
            ("2001:db8:1:5::25", ["127.0.0.4 Known spam source 2001:db8:1:5::25"]),
            ("2001:db8:2::b", ["127.0.0.5 \(dflt)2001:db8:2::b"]),
            ("2001:db8:0:1:ffff::1", ["127.0.0.2 \(dflt)2001:db8:0:1:ffff::1"]),
            ("2001:db8:cfff::1", ["127.0.0.5"]),
            ("3fff:0:aff::1", ["127.0.0.2 Example listing in 3fff::/20 (3fff:0:aff::1)"]),
        ]
        for (address, want) in table {
            #expect(look(store, address) == want, "\(address)")
        }
    }
}
