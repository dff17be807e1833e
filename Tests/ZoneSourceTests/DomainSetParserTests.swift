import Testing
import TestSupport
import PrefixStore
@testable import ZoneSource

// dnset source lines: every form, values and defaults, bad lines skipped with file:line (or
// refused with --strict), combined sections, dnhash refused.

private func text(_ e: DomainEntry, _ values: [ListingValue]) -> String {
    var s = "", p = 0
    var parts: [String] = []
    while p < e.name.count {
        let l = Int(e.name[p]); parts.append(String(decoding: e.name[(p + 1)...(p + l)], as: UTF8.self)); p += 1 + l
    }
    s = (e.wildcard ? "*." : "") + parts.joined(separator: ".")
    if e.isExclusion { return "!" + s }
    let v = values[Int(e.value)]
    return s + " " + ipv4Text(v.a) + (v.txt.map { " " + String(decoding: $0, as: UTF8.self) } ?? "")
}

@Suite("dnset sources")
struct DomainSetParserTests {
    @Test func forms() throws {
        let r = compileTexts([("bl.example", "dnset", ["""
            :3:Listed $
            example.COM
            .sub.example.org :4:own text
            *.wild.example.net bare text
            ! .ex.example
            !plain.example
            xn--bcher-kva.example
            0123456789abcdef0123456789abcdef01234567.hash
            esc\\.aped.example :5
            """])])
        #expect(!r.hasErrors, "\(r.diagnostics)")
        let d = try #require(r.zones.first?.datasets.first)
        #expect(d.type == "dnset" && d.rule == .domainNames && d.domains != nil && d.name.hasPrefix("dnset:"))
        let got = (d.domains ?? []).map { text($0, d.values) }
        #expect(got == [
            "example.com 127.0.0.3 Listed $",
            "sub.example.org 127.0.0.4 own text", "*.sub.example.org 127.0.0.4 own text",
            "*.wild.example.net 127.0.0.3 bare text",
            "!ex.example", "!*.ex.example", "!plain.example",
            "xn--bcher-kva.example 127.0.0.3 Listed $",
            "0123456789abcdef0123456789abcdef01234567.hash 127.0.0.3 Listed $",
            "esc.aped.example 127.0.0.5 Listed $",
        ])
        // The escaped dot stays inside the label.
        #expect(d.domains?.last?.name.first == 8)
    }

    @Test func badLinesAreSkippedWithFileAndLine() throws {
        let source = """
            good.example
            .
            *.
            a..b.example
            \(String(repeating: "x", count: 64)).example
            z\\000.example
            bad.value :999
            out.of.range :10.0.0.1
            fine.example
            """
        let dir = TempDir()
        let r = compileTexts([("bl.example", "dnset", [source])], dir: dir)
        #expect(!r.hasErrors)
        let d = try #require(r.zones.first?.datasets.first)
        #expect((d.domains ?? []).map { text($0, d.values) } == ["good.example 127.0.0.2", "a.b.example 127.0.0.2", "fine.example 127.0.0.2"])
        #expect(d.skippedLines == 6 && r.skippedLines == 6)
        let lines = r.diagnostics.filter { $0.message.hasSuffix("line skipped") }.compactMap(\.line)
        #expect(lines == [2, 3, 5, 6, 7, 8])
        let strict = compileTexts([("bl.example", "dnset", [source])], options: CompileOptions(strict: true))
        #expect(strict.hasErrors && strict.zones.isEmpty)
    }

    /// A literal `*` label is kept (serve answers the exact name, as rbldnsd) with a warning
    /// naming file:line that the export leaves it out; `--strict` keeps it a warning.
    @Test func literalStarLabelsWarnAndStay() throws {
        let source = "$SOA 60 ns.example. h.example. 1 60 60 60 60\n$NS 60 ns.example.\n*\nfoo.example\n*.*.x.example\na.*.y.example :3\n!.*.z.example\nstar*.example\n"
        for strict in [false, true] {
            let dir = TempDir()
            let r = compileTexts([("bl.example", "dnset", [source])], options: CompileOptions(strict: strict), dir: dir)
            #expect(!r.hasErrors, "\(r.diagnostics)")
            let d = try #require(r.zones.first?.datasets.first)
            #expect((d.domains ?? []).count == 7 && d.skippedLines == 0)
            let w = r.diagnostics.filter { $0.code == .notExportable }
            #expect(w.compactMap(\.line) == [3, 5, 6, 7])
            #expect(w.allSatisfy { $0.severity == .warning && $0.file != nil && $0.message.contains("cannot be exported or transferred; serve answers it") })
        }
    }

    @Test func combinedSectionsAndDnhash() throws {
        let r = compileTexts([("bl.example", "combined", ["""
            $DATASET dnset:dbl @
            :2:Domain $ listed
            example.com
            $DATASET dnset:uri uri
            .example.net :3
            $DATASET ip4set:ip4 @
            192.0.2.0/24
            """])])
        #expect(!r.hasErrors, "\(r.diagnostics)")
        let ds = try #require(r.zones.first?.datasets)
        #expect(ds.map(\.type) == ["dnset", "dnset", "ip4set"])
        #expect(ds[1].subzone == [3] + Array("uri".utf8) && ds[1].domains?.count == 2)
        let store = try Store(zones: r.zones)
        #expect(store.zones[0].datasets.map { $0.domains?.nameCount ?? -1 } == [1, 1, -1])
        let h = compileTexts([("bl.example", "dnhash", ["x"])])
        #expect(h.diagnostics.first?.code == .unsupportedType)
    }
}
