import DNSBL
import LDNSKit
import PrefixStore
import Testing
@testable import ZoneExport
import ZoneSource
import TestSupport

// dnset export: the master file, resolved by the RFC 4592 reference, answers every name as
// `serve` does (A and TXT, `$` = the entry's name); `dump` compiles back to the same answers.

@Suite("dnset export and dump")
struct DomainExportTests {
    /// Random dnset sources over a small alphabet (collisions, nesting, exclusions in random
    /// order), with the names to ask: every name, children, parents, random names.
    static func randomSource(_ g: inout SplitMix64) -> (text: String, names: [String]) {
        let alphabet = ["a", "b", "c", "xn--p1ai", "_x"]
        var lines = [":2:Listed $"]
        var names = Set<String>()
        for i in 0..<Int(g.next() % 20 + 2) {
            let n = (0..<Int(g.next() % 4 + 1)).map { _ in alphabet[Int(g.next() % UInt64(alphabet.count))] }.joined(separator: ".")
            let form = ["", ".", "*."][Int(g.next() % 3)]
            if g.next() % 4 == 0 { lines.append("!" + form + n) } else {
                lines.append(form + n + (g.next() % 2 == 0 ? " :\(3 + i % 3):v\(i) $" : ""))
            }
            let labels = n.split(separator: ".").map(String.init)
            names.insert(n); names.insert("zz." + n); names.insert("a.b." + n)
            for k in 1..<labels.count { names.insert(labels[k...].joined(separator: ".")) }
        }
        for _ in 0..<5 { names.insert(alphabet[Int(g.next() % 5)] + "." + alphabet[Int(g.next() % 5)]) }
        return (lines.joined(separator: "\n") + "\n", names.sorted())
    }

    @Test func exportAnswersAsServeDoes() throws {
        var g = SplitMix64(seed: 0xD0_5E7)
        var listed = 0
        for _ in 0..<25 {
            let (text, names) = Self.randomSource(&g)
            let dir = TempDir()
            let store = try compileStore([("bl.example", "dnset", soa + text)], dir: dir)
            let apex = wireName("bl.example")
            let qs = names.map { wireName($0 + ".bl.example") } + [apex]
            let r = try checkAgainstServe(store.zones, stores: [store], names: qs, dir: dir)
            listed += r.listed
        }
        #expect(listed > 100)
    }

    /// A literal `*` label never becomes a wildcard in the export: a line `*` does not list the
    /// whole zone, `*.*.x` does not make `*.x` an (empty) wildcard; the other names still
    /// answer as serve does, and the names left out are counted.
    @Test func literalStarLabelsAreLeftOut() throws {
        let dir = TempDir()
        let store = try compileStore([("bl.example", "dnset", soa + "*\nfoo.com\n*.*.x.com\na.*.y.com :3\n.y.com :4\n")], dir: dir)
        var owners: [[UInt8]] = []
        let stats = Exporter.export(store.zones) { owners.append($0.owner) }
        let star = wireName("*.bl.example")
        #expect(!owners.contains(star))
        // No owner has a `*` label other than a leading wildcard label over a star-free name.
        for o in owners {
            let tail = o.first == 1 && o[1] == 0x2A ? Array(o[2...]) : o
            #expect(!DomainExport.hasStarLabel(tail), "\(DomainName.text(wire: o))")
        }
        #expect(stats.literalStarNames == 4)  // *, *.x.com, *.y.com, a.*.y.com
        let names = ["random123", "foo.com", "x.com", "q.x.com", "a.b.x.com", "y.com", "q.y.com", "com"]
        try checkAgainstServe(store.zones, stores: [store], names: names.map { wireName($0 + ".bl.example") }, dir: dir)
    }

    @Test func dumpCompilesBackToTheSameAnswers() throws {
        var g = SplitMix64(seed: 0xD0_0D)
        for _ in 0..<15 {
            let (text, names) = Self.randomSource(&g)
            let dir = TempDir()
            let store = try compileStore([("bl.example", "dnset", soa + text)], dir: dir)
            let sections = SourceDump.sections(store)
            #expect(sections.map(\.type) == ["dnset"])
            let again = try compileStore([("bl.example", "dnset", String(decoding: sections[0].text, as: UTF8.self))], dir: dir)
            let a = Responder(stores: [store]), b = Responder(stores: [again])
            for n in names {
                for type: UInt16 in [1, 16] {
                    let q = wireName(n + ".bl.example")
                    #expect(try serveAnswer(a, q, type: type) == serveAnswer(b, q, type: type), "\(n) \(type)\n\(text)")
                }
            }
        }
    }
}
