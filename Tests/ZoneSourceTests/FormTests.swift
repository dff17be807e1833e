import Testing
import PrefixStore
@testable import ZoneSource

/// The source syntax (ZoneSource.docc/SourceSyntax.md), form by form: source text → entries with their values.
struct FormTests {
    struct Row: CustomTestStringConvertible, Sendable {
        var type: String
        var text: String
        var expected: [String]
        var testDescription: String { "\(type): \(text.debugDescription)" }
        init(_ type: String, _ text: String, _ expected: [String]) {
            self.type = type; self.text = text; self.expected = expected
        }
    }

    static let rows: [Row] = [
        // IPv4 forms (ip4set)
        Row("ip4set", "192.0.2.1", ["192.0.2.1/32 127.0.0.2"]),
        Row("ip4set", "192.0.2.0/24", ["192.0.2.0/24 127.0.0.2"]),
        Row("ip4set", "192.0.2", ["192.0.2.0/24 127.0.0.2"]),
        Row("ip4set", "10.1", ["10.1.0.0/16 127.0.0.2"]),
        Row("ip4set", "10/8", ["10.0.0.0/8 127.0.0.2"]),
        Row("ip4set", "192.0.2.16/28", ["192.0.2.16/28 127.0.0.2"]),
        Row("ip4set", "192.0.2.10-192.0.2.20",
            ["192.0.2.10/31 127.0.0.2", "192.0.2.12/30 127.0.0.2", "192.0.2.16/30 127.0.0.2", "192.0.2.20/32 127.0.0.2"]),
        Row("ip4set", "192.0.2.10-20",
            ["192.0.2.10/31 127.0.0.2", "192.0.2.12/30 127.0.0.2", "192.0.2.16/30 127.0.0.2", "192.0.2.20/32 127.0.0.2"]),
        Row("ip4set", "192.0.2.0-192.0.2.255", ["192.0.2.0/24 127.0.0.2"]),
        Row("ip4set", "198.51.100-198.51.101", ["198.51.100.0/23 127.0.0.2"]),
        Row("ip4set", "10.16-31", ["10.16.0.0/12 127.0.0.2"]),
        Row("ip4set", "!192.0.2.128/25", ["!192.0.2.128/25"]),
        Row("ip4set", "! 192.0.2.7", ["!192.0.2.7/32"]),
        // comments, blanks, whitespace
        Row("ip4set", "# comment\n; comment\n\n   \n  192.0.2.1  \n", ["192.0.2.1/32 127.0.0.2"]),
        Row("ip4set", "192.0.2.1 # trailing comment", ["192.0.2.1/32 127.0.0.2"]),
        Row("ip4set", "192.0.2.1 ; SBL123", ["192.0.2.1/32 127.0.0.2"]),
        Row("ip4set", "192.0.2.1\t\r", ["192.0.2.1/32 127.0.0.2"]),
        Row("ip4set", "192.0.2.1", ["192.0.2.1/32 127.0.0.2"]),
        // values
        Row("ip4set", ":127.0.0.3:Listed $\n192.0.2.1", ["192.0.2.1/32 127.0.0.3 \"Listed $\""]),
        Row("ip4set", ":127.0.0.3:  Listed $   \n192.0.2.1", ["192.0.2.1/32 127.0.0.3 \"Listed $\""]),
        Row("ip4set", ":3:Listed\n192.0.2.1", ["192.0.2.1/32 127.0.0.3 \"Listed\""]),
        Row("ip4set", ":127.0.0.2:\n192.0.2.1", ["192.0.2.1/32 127.0.0.2"]),
        Row("ip4set", ":127.0.0.4\n192.0.2.1", ["192.0.2.1/32 127.0.0.4"]),
        Row("ip4set", ":127.0.0.2:dflt\n192.0.2.1 :5", ["192.0.2.1/32 127.0.0.5 \"dflt\""]),
        Row("ip4set", ":127.0.0.2:dflt\n192.0.2.1 :5:", ["192.0.2.1/32 127.0.0.5"]),
        Row("ip4set", ":127.0.0.2:dflt\n192.0.2.1 :127.0.0.5:own text", ["192.0.2.1/32 127.0.0.5 \"own text\""]),
        Row("ip4set", ":127.0.0.3:dflt\n192.0.2.1 own text ", ["192.0.2.1/32 127.0.0.3 \"own text\""]),
        Row("ip4set", "192.0.2.1 own text", ["192.0.2.1/32 127.0.0.2 \"own text\""]),
        Row("ip4set", "192.0.2.1:127.0.0.6:x", ["192.0.2.1/32 127.0.0.6 \"x\""]),
        Row("ip4set", ":2:a\n!192.0.2.1 :5:ignored", ["!192.0.2.1/32"]),
        Row("ip4set", "192.0.2.1 text # with hash", ["192.0.2.1/32 127.0.0.2 \"text # with hash\""]),
        Row("ip4set", "192.0.2.1\t10", ["192.0.2.1/32 127.0.0.2 \"10\""]),
        // TXT templates
        Row("ip4set", "192.0.2.1 cost $$5 for $", ["192.0.2.1/32 127.0.0.2 \"cost $$5 for $\""]),
        Row("ip4set", "$1 See https://bl.example/q\n$2 for details\n192.0.2.1 $1/spam/$ $2",
            ["192.0.2.1/32 127.0.0.2 \"See https://bl.example/q/spam/$ for details\""]),
        Row("ip4set", "192.0.2.1 $1 undefined\n$1 later wins? no: first", ["192.0.2.1/32 127.0.0.2 \"later wins? no: first undefined\""]),
        Row("ip4set", "$1 first\n$1 second\n192.0.2.1 $1", ["192.0.2.1/32 127.0.0.2 \"first\""]),
        Row("ip4set", "192.0.2.1 $7", ["192.0.2.1/32 127.0.0.2 \"$$7\""]),
        Row("ip4set", "$1 a$b\n192.0.2.1 $1", ["192.0.2.1/32 127.0.0.2 \"a$$b\""]),
        Row("ip4set", "$= See https://bl.example/q?$= ($) for details\n192.0.2.2 r123\n192.0.2.3\n192.0.2.4 =See other lists about $",
            ["192.0.2.2/32 127.0.0.2 \"See https://bl.example/q?r123 ($) for details\"",
             "192.0.2.3/32 127.0.0.2 \"See https://bl.example/q?$ ($) for details\"",
             "192.0.2.4/32 127.0.0.2 \"See other lists about $\""]),
        // specials with other spellings are not entries
        Row("ip4set", "#$TTL 60\n;$TTL 60\n:$TTL 60\n192.0.2.1", ["192.0.2.1/32 127.0.0.2"]),
        // ip4trie / ip4tset
        Row("ip4trie", "192.0.2.0/25\n!192.0.2.64/26\n198.51.100 :3:x", ["192.0.2.0/25 127.0.0.2", "!192.0.2.64/26", "198.51.100.0/24 127.0.0.3 \"x\""]),
        Row("ip4tset", ":127.0.0.4:t $\n192.0.2.1\n192.0.2.2/32", ["192.0.2.1/32 127.0.0.4 \"t $\"", "192.0.2.2/32 127.0.0.4 \"t $\""]),
        // IPv6 forms (ip6trie)
        Row("ip6trie", "2001:db8::/32", ["2001:db8::/32 127.0.0.2"]),
        Row("ip6trie", "2001:DB8::A", ["2001:db8::a/128 127.0.0.2"]),
        Row("ip6trie", "2001:db8:0:0:0:0:0:1", ["2001:db8::1/128 127.0.0.2"]),
        Row("ip6trie", "2001:db8:abcc::/47", ["2001:db8:abcc::/47 127.0.0.2"]),
        Row("ip6trie", "2001:db8:0:1", ["2001:db8:0:1::/64 127.0.0.2"]),
        Row("ip6trie", "2001:db8:c000/36", ["2001:db8:c000::/36 127.0.0.2"]),
        Row("ip6trie", "2001:db8/32", ["2001:db8::/32 127.0.0.2"]),
        Row("ip6trie", "2001:db8:1:2:3:4:5", ["2001:db8:1:2:3:4:5:0/112 127.0.0.2"]),
        Row("ip6trie", "::2", ["::2/128 127.0.0.2"]),
        Row("ip6trie", "::/127 :127.0.0.3:bogon", ["::/127 127.0.0.3 \"bogon\""]),
        Row("ip6trie", "::ffff:192.0.2.1", ["::ffff:c000:201/128 127.0.0.2"]),
        Row("ip6trie", "64:ff9b::192.0.2.0/120", ["64:ff9b::c000:200/120 127.0.0.2"]),
        Row("ip6trie", "2001:db8::1 # host", ["2001:db8::1/128 127.0.0.2"]),
        Row("ip6trie", "2001:db8::/48 ; SBL1", ["2001:db8::/48 127.0.0.2"]),
        Row("ip6trie", ":127.0.0.2:Listed $\n2001:db8::/32", ["2001:db8::/32 127.0.0.2 \"Listed $\""]),
        Row("ip6trie", "2001:db8::/32 :127.0.0.4:broad $", ["2001:db8::/32 127.0.0.4 \"broad $\""]),
        Row("ip6trie", "!2001:db8:1::/48", ["!2001:db8:1::/48"]),
        Row("ip6trie", "2001:db8::/128", ["2001:db8::/128 127.0.0.2"]),
        Row("ip6trie", "8000::/1", ["8000::/1 127.0.0.2"]),
        // A value right after a prefix length, no space: rbldnsd accepts it (it was an error).
        Row("ip6trie", "2001:db8::/48:5", ["2001:db8::/48 127.0.0.5"]),
        Row("ip6trie", "2001:db8:1::/48:127.0.0.4:text here", ["2001:db8:1::/48 127.0.0.4 \"text here\""]),
        Row("ip6trie", ":127.0.0.2:dflt\n2001:db8:3::/64:6:", ["2001:db8:3::/64 127.0.0.6"]),
        Row("ip6trie", "2001:db8:0:1/64:7", ["2001:db8:0:1::/64 127.0.0.7"]),
        // ip6tset
        Row("ip6tset", "2001:db8:0:1\n2001:db8:0:2::/64\n!2001:db8:0:1::25",
            ["2001:db8:0:1::/64 127.0.0.2", "2001:db8:0:2::/64 127.0.0.2", "!2001:db8:0:1::25/128"]),
    ]

    @Test(arguments: rows)
    func form(_ row: Row) {
        let (entries, diags) = parseOne(row.type, row.text)
        #expect(diags.isEmpty, "\(diags)")
        #expect(entries == row.expected)
    }

    @Test func defaultValueResetsAtEachFile() throws {
        let r = compileTexts([("bl.example", "ip4set", [":127.0.0.3:first $\n192.0.2.1", "192.0.2.2"])])
        let d = try #require(r.zones.first?.datasets.first)
        #expect(d.values[Int(d.entries[0].value)] == ListingValue(a: 0x7F00_0003, txt: Array("first $".utf8)))
        #expect(d.values[Int(d.entries[1].value)] == ListingValue(a: 0x7F00_0002, txt: nil))
    }

    @Test func doubleColonLineInIPv4DatasetIsWrongFamily() {
        let (_, diags) = parseOne("ip4set", "::ffff:192.0.2.1 :3:x\n")
        #expect(diags.map(\.message) == ["IPv6 entry '::ffff:192.0.2.1' in an IPv4 dataset (ip4set); line skipped"])
    }

    @Test func countAsValueReadsSecondColumnAsA() {
        var o = CompileOptions(); o.countAsValue = true
        let (entries, diags) = parseOne("ip4set", "192.0.2.1\t10\n192.0.2.2\t1\n192.0.2.3", options: o)
        #expect(diags.isEmpty)
        #expect(entries == ["192.0.2.1/32 127.0.0.10", "192.0.2.2/32 127.0.0.1", "192.0.2.3/32 127.0.0.2"])
    }

    @Test func latin1AndInvalidUTF8BytesAreBytes() throws {
        var bytes = Array("# \u{00}".utf8.prefix(2)) + [0xA9, 0xAE, 0xFF, 0x0A]
        bytes += Array("192.0.2.1 caf".utf8) + [0xE9, 0x20, 0x0A]
        let dir = TempDir()
        let f = dir.write("latin1.txt", bytes)
        let r = Compiler.compile([ZoneSpec(zone: "bl.example", type: "ip4set", files: [f])])
        #expect(!r.hasErrors)
        let d = try #require(r.zones.first?.datasets.first)
        #expect(d.entries.count == 1)
        #expect(d.values[0].txt == Array("caf".utf8) + [0xE9])
    }

    @Test func gzipInputIsReadTransparently() throws {
        let dir = TempDir()
        let plain = dir.write("list.txt", ":127.0.0.3:gz $\n2001:db8::/32\n!2001:db8:1::/48\n")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/gzip")
        p.arguments = ["-k", plain]
        try p.run(); p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let r = Compiler.compile([ZoneSpec(zone: "bl.example", type: "ip6trie", files: [plain + ".gz"])])
        #expect(!r.hasErrors, "\(r.diagnostics)")
        let d = try #require(r.zones.first?.datasets.first)
        #expect(d.entries.count == 2)
        #expect(d.values == [ListingValue(a: 0x7F00_0003, txt: Array("gz $".utf8))])
    }

    @Test func corruptGzipAndMissingFilesAreErrorsNamingTheFile() throws {
        let dir = TempDir()
        let gz = dir.write("broken.gz", [0x1F, 0x8B, 0x08, 0x00, 0, 0, 0, 0, 0, 3, 0xFF, 0xFF, 0xFF, 0x00, 0x12])
        let r = Compiler.compile([ZoneSpec(zone: "bl.example", type: "ip4set", files: [gz, dir.path + "/missing.txt"])])
        #expect(r.hasErrors && r.zones.isEmpty)
        let io = r.diagnostics.filter { $0.code == .io }
        #expect(io.map(\.file) == [gz, dir.path + "/missing.txt"])
        #expect(io.allSatisfy { $0.line == nil && $0.description.hasPrefix("\($0.file!): error: cannot read: ") })
    }

    @Test func specialsSetSOANSAndTTL() throws {
        let r = compileTexts([("bl.example", "ip4set", [
            "$SOA 1h ns1.bl.example hostmaster.example.org. 42 2h 10m 1w 5m\n$NS 0 ns1.example.net -ns2.example.net ns3.example.net.\n$TTL 1d\n192.0.2.1\n$SOA 1 a.example b.example 1 1 1 1 1",
        ])])
        #expect(!r.hasErrors, "\(r.diagnostics)")
        let z = try #require(r.zones.first)
        #expect(z.soa.ttl == 3600 && z.soa.serial == 42 && z.soa.refresh == 7200 && z.soa.retry == 600)
        #expect(z.soa.expire == 604800 && z.soa.minimum == 300)
        #expect(z.soa.mname == Array("\u{3}ns1\u{2}bl\u{7}example\u{0}".utf8))
        #expect(z.ns.count == 2)
        #expect(z.nsTTL == 2100)  // $NS ttl 0 = the dataset TTL at that point
        #expect(z.datasets[0].ttl == 86400)
    }

    @Test func firstSOAInCommandLineOrderWins() throws {
        let r = compileTexts([
            ("bl.example", "ip4set", ["$SOA 60 a.example b.example 7 1 1 1 1\n192.0.2.1"]),
            ("bl.example", "ip6trie", ["$SOA 60 c.example d.example 9 1 1 1 1\n2001:db8::/32"]),
        ])
        let z = try #require(r.zones.first)
        #expect(r.zones.count == 1 && z.datasets.count == 2)
        #expect(z.soa.serial == 7)
    }

    @Test func soaSerialZeroIsNewestFileTime() throws {
        let r = compileTexts([("bl.example", "ip4set", ["$SOA 60 a.example b.example 0 1 1 1 1\n192.0.2.1"])])
        let z = try #require(r.zones.first)
        let now = UInt32(Date().timeIntervalSince1970)
        #expect(z.soa.serial > now - 600 && z.soa.serial <= now + 5)
    }

    @Test func missingSOAIsSynthesisedWithAWarning() throws {
        let r = compileTexts([("bl.example", "ip4set", ["192.0.2.1"])])
        let z = try #require(r.zones.first)
        #expect(r.diagnostics.map(\.code) == [.noSOA])
        #expect(z.soa.minimum == 60 && z.soa.serial > 0)
    }

    @Test func unsupportedTypesAreRefused() {
        for t in ["dnhash"] {
            let r = compileTexts([("bl.example", t, ["x"])])
            #expect(r.diagnostics.first?.code == .unsupportedType)
            #expect(r.diagnostics.first?.message.contains("not supported") == true)
        }
    }

    @Test func specParsing() throws {
        let s = try ZoneSpec(parsing: "bl.example:ip6trie:a.txt,b.txt.gz")
        #expect(s.zone == "bl.example" && s.type == "ip6trie" && s.files == ["a.txt", "b.txt.gz"])
        #expect(throws: Diagnostic.self) { try ZoneSpec(parsing: "bl.example:ip6trie") }
        #expect(throws: Diagnostic.self) { try ZoneSpec(parsing: ":ip6trie:x") }
    }
}

import Foundation
import TestSupport
