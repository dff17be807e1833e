import DNSSEC
import Foundation
import Testing
import TestSupport

/// Key timing metadata (`Publish:`/`Activate:`/`Inactive:`/`Delete:`) as BIND's tools write it.
struct KeyTimingTests {
    static let bindKeygen = which("dnssec-keygen"), settime = which("dnssec-settime")

    @Test("YYYYMMDDHHMMSS in UTC converts both ways; malformed times are refused")
    func timeText() {
        #expect(KeyTiming.parseTime("19700101000000") == 0)
        #expect(KeyTiming.parseTime("20261207143306") == 1_796_653_986)
        #expect(KeyTiming.parseTime("20000229235959") == 951_868_799)
        #expect(KeyTiming.parseTime("20380119031408") == 2_147_483_648)
        for t: Int64 in [0, 951_868_799, 1_796_654_186, 4_102_444_800] { #expect(KeyTiming.parseTime(KeyTiming.text(t)) == t) }
        for bad in ["2026120714330", "20261307143306", "20261200143306", "2026120714330x", "", "20261207246000"] {
            #expect(KeyTiming.parseTime(bad) == nil, "\(bad)")
        }
    }

    @Test("A bad time in a .private file is an error naming the file and the field")
    func badTimeField() throws {
        let dir = TempDir()
        let base = Fixture.write(dir, base: "Kbl.example.+013+33812", key: Fixture.ecdsaKey,
                                 priv: Fixture.ecdsaPrivate + "Activate: 2026-12-07\n")
        #expect {
            _ = try SigningKey.load(path: base)
        } throws: { e in
            let d = "\(e)"
            return d.contains(base + ".private") && d.contains("Activate:") && !d.contains(Fixture.ecdsaSecret)
        }
        let untimed = try SigningKey.load(path: Fixture.write(dir, base: "Kbl.example.+013+00001", key: Fixture.ecdsaKey, priv: Fixture.ecdsaPrivate))
        #expect(untimed.timing.isUntimed && untimed.timing.isActive(at: 0) && untimed.timing.isPublished(at: 0))
    }

    @Test("dnssec-keygen -P/-A/-I/-D, -G and dnssec-settime: the times read are those dnssec-settime -u -p all prints",
          .enabled(if: bindKeygen != nil && settime != nil, "dnssec-keygen or dnssec-settime (bind9) is not installed"))
    func bindTiming() throws {
        let dir = TempDir()
        func gen(_ options: [String]) throws -> String {
            let r = try runTool(Self.bindKeygen!, ["-q", "-a", "ECDSAP256SHA256"] + options + ["bl.example"], in: dir.path)
            #expect(r.status == 0, "\(r.stderr)")
            return dir.path + "/" + r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        func printed(_ base: String) throws -> [String: Int64] {
            let r = try runTool(Self.settime!, ["-u", "-p", "all", base], in: dir.path)
            var out: [String: Int64] = [:]
            for line in r.stdout.split(separator: "\n") {
                let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                if parts.count == 2, let v = Int64(parts[1]) { out[parts[0]] = v }
            }
            return out
        }
        let timed = try gen(["-P", "now", "-A", "now+30", "-I", "now+3600", "-D", "now+7200"])
        var key = try SigningKey.load(path: timed)
        var p = try printed(timed)
        #expect(key.timing == KeyTiming(created: p["Created"], publish: p["Publish"], activate: p["Activate"],
                                        inactive: p["Inactive"], delete: p["Delete"]), "\(p)")
        let t = key.timing.publish!
        #expect(key.timing.isPublished(at: t) && !key.timing.isActive(at: t), "pre-published")
        #expect(key.timing.isActive(at: t + 30) && !key.timing.isActive(at: t + 3600) && key.timing.isPublished(at: t + 3600))
        #expect(!key.timing.isPublished(at: t + 7200))
        #expect(key.timing.boundaries == [t, t + 30, t + 3600, t + 7200])
        // dnssec-settime moves the times; the file read again says so.
        let s = try runTool(Self.settime!, ["-I", "now+60", "-D", "now+120", timed], in: dir.path)
        #expect(s.status == 0, "\(s.stderr)")
        key = try SigningKey.load(path: timed)
        p = try printed(timed)
        #expect(key.timing.inactive == p["Inactive"] && key.timing.delete == p["Delete"] && key.timing.inactive! < t + 3600)
        // Default dnssec-keygen: published and active now.
        let plain = try SigningKey.load(path: try gen([]))
        #expect(plain.timing.publish != nil && plain.timing.publish == plain.timing.activate && plain.timing.isActive(at: plain.timing.activate!))
        // -G: timing Created only: neither published nor signing.
        let g = try SigningKey.load(path: try gen(["-G"]))
        #expect(g.timing.created != nil && g.timing.publish == nil && !g.timing.isPublished(at: g.timing.created! + 10))
    }

    @Test("A key directory reads every K*.private with its .key, in name order, naming a .private without it; an empty directory is an error naming it")
    func keyDirectory() throws {
        let dir = TempDir()
        #expect { _ = try SigningKey.loadAll(path: dir.path) } throws: { "\($0)".contains(dir.path) && "\($0)".contains("no key pair") }
        Fixture.write(dir, base: "Kbl.example.+015+11735", key: Fixture.edKey, priv: Fixture.edPrivate)
        Fixture.write(dir, base: "Kbl.example.+013+33812", key: Fixture.ecdsaKey, priv: Fixture.ecdsaPrivate)
        Fixture.write(dir, base: "Kbl.example.+013+00002", key: nil, priv: Fixture.ecdsaPrivate)  // half a pair: skipped
        dir.write("README", "not a key")
        var notes: [String] = []
        let keys = try SigningKey.loadAll(path: dir.path, notes: &notes)
        #expect(keys.map(\.dnskey.keyTag) == [Fixture.ecdsaTag, Fixture.edTag])
        #expect(notes == [dir.path + "/Kbl.example.+013+00002.private: no Kbl.example.+013+00002.key beside it: skipped"], "\(notes)")
        #expect(try SigningKey.loadAll(path: dir.path + "/Kbl.example.+015+11735").map(\.dnskey.keyTag) == [Fixture.edTag])
        Fixture.write(dir, base: "Kbl.example.+013+00003", key: Fixture.ecdsaKey, priv: "Private-key-format: v1.3\n")
        #expect { _ = try SigningKey.loadAll(path: dir.path) } throws: { "\($0)".contains("Kbl.example.+013+00003.private") }
    }
}
