import DNSBL
import DNSBLDaemon
import PrefixStore
import Testing
import TestSupport
import ZoneSource

/// The daemon loads through the one build path: the diagnostics `compile`/`check` print are
/// the warnings `serve` logs, and the TTL bounds apply to stores as to sources.
struct DataSourcesTests {
    @Test func serveWarnsWhatCompileReportsEqualPrefixConflictsIncluded() throws {
        let dir = TempDir()
        let file = dir.write("v4.txt", "192.0.2.0/24 :2:first\n198.51.100.7\n192.0.2.0/24 :3:second\n192.0.2.7/24\n")
        let spec = ZoneSpec(zone: "bl.example", type: "ip4trie", files: [file])
        let compiled = SourceBuild.run([spec], options: CompileOptions())
        #expect(!compiled.hasErrors)
        #expect(compiled.diagnostics.contains { $0.code == .conflict && $0.line == 3 }, "\(compiled.diagnostics)")

        var warned: [String] = []
        let stores = try DataSources(stores: [], specs: [spec]).load(now: 0) { warned.append($0.description) }
        #expect(warned == compiled.diagnostics.map(\.description))
        #expect(stores.count == 1)
        #expect(stores[0].zones.first?.datasets.first?.entryCount == compiled.zones.first?.datasets.first?.entries.count)
    }

    @Test func strictConflictsAreErrorsAndNothingIsBuilt() throws {
        let dir = TempDir()
        let soa = "$SOA 3600 ns1.bl.example hostmaster.example.org 1 3600 600 604800 300\n"
        let file = dir.write("v4.txt", soa + "192.0.2.0/24 :2:first\n192.0.2.0/24 :3:second\n")
        var options = CompileOptions()
        options.strict = true
        let build = SourceBuild.run([ZoneSpec(zone: "bl.example", type: "ip4trie", files: [file])], options: options)
        #expect(build.hasErrors && build.image == nil)
        #expect(build.diagnostics.contains { $0.code == .conflict && $0.severity == .error })
    }

    @Test func ttlBoundsApplyToStoresAndSourcesAlike() throws {
        let dir = TempDir()
        let file = dir.write("v4.txt", "$SOA 100 ns1.bl.example hostmaster.example.org 1 3600 600 604800 300\n$NS 200 ns1.bl.example\n$TTL 600\n192.0.2.1\n")
        let spec = ZoneSpec(zone: "bl.example", type: "ip4set", files: [file])
        let image = try #require(SourceBuild.run([spec], options: CompileOptions()).image)
        let path = dir.path + "/bl.pfxbl"
        try StoreBuilder.write(image, to: path)

        func ttls(_ s: Store) -> [UInt32] {
            let z = s.zones[0]
            return [z.soa.ttl, z.nsTTL, z.datasets[0].ttl]
        }
        for (bounds, expected) in [(TTLBounds(), [UInt32(100), 200, 600]), (TTLBounds(min: 300), [300, 300, 600]),
                                   (TTLBounds(max: 150), [100, 150, 150]), (TTLBounds(min: 150, max: 250), [150, 200, 250])] {
            let data = DataSources(stores: [path], specs: [spec], ttl: bounds)
            let loaded = try data.load(now: 0) { _ in }
            #expect(loaded.map(ttls) == [expected, expected], "\(bounds)")
        }
        // The store file itself is not touched.
        #expect(ttls(try Store(path: path)) == [100, 200, 600])
    }

    @Test func aBadLineIsSkippedAndStrictRefusesIt() throws {
        let dir = TempDir()
        let file = dir.write("v4.txt", "192.0.2.1\n192.0.2.256\n")
        let spec = ZoneSpec(zone: "bl.example", type: "ip4set", files: [file])
        // As rbldnsd: the line is skipped with a warning naming it, the rest served.
        var warnings: [String] = []
        let loaded = try DataSources(stores: [], specs: [spec]).load(now: 0) { warnings.append("\($0)") }
        #expect(loaded.flatMap(\.zones).flatMap(\.datasets).map(\.skippedLines) == [1])
        #expect(warnings.contains { $0.contains("\(file):2") }, "\(warnings)")
        // --strict: the same line refuses the build, and the error names it.
        let strict = DataSources(stores: [], specs: [spec], compile: CompileOptions(strict: true))
        #expect {
            _ = try strict.load(now: 0) { _ in }
        } throws: { error in
            "\(error)".contains("\(file):2") && "\(error)".contains("192.0.2.256")
        }
    }

    /// `serve --strict` refuses the lines rbldnsd would skip, as its help says, and nothing
    /// else: before, every warning refused, so a zone without `$SOA` (most rbldnsd data) or
    /// with an in-zone NS without an address (the bundled zones/) could not be served at all.
    @Test func serveStrictRefusesBadLinesNotZoneAdvisories() throws {
        let dir = TempDir()
        let good = dir.write("good.txt", "$NS 3600 ns1.bl.example\n192.0.2.1\n")
        let bad = dir.write("bad.txt", "192.0.2.1\n192.0.2.256\n")
        func configuration(_ file: String) throws -> DaemonConfiguration {
            var o = DaemonOptions()
            o.specs = ["bl.example:ip4set:" + file]
            o.strict = true
            return try DaemonConfiguration(o)
        }
        var warnings: [String] = []
        let loaded = try configuration(good).data.load(now: 0) { warnings.append("\($0)") }
        #expect(loaded.flatMap(\.zones).count == 1)
        #expect(warnings.contains { $0.contains("no $SOA") } && warnings.contains { $0.contains("ns1.bl.example") }, "\(warnings)")
        #expect {
            _ = try configuration(bad).data.load(now: 0) { _ in }
        } throws: { error in
            "\(error)".contains("\(bad):2") && !"\(error)".contains("no $SOA")
        }
    }
}
