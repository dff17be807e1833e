import DNSSEC
import Foundation
import Testing
import TestSupport

/// Keys made by the real tools, DS compared with what the real tools print for them.
struct RealToolTests {
    static let ldnsKeygen = which("ldns-keygen"), ldnsKey2ds = which("ldns-key2ds")
    static let bindKeygen = which("dnssec-keygen"), bindDS = which("dnssec-dsfromkey")
    static let binary = prefixblBinary()

    /// `ldns-key2ds -n -f -2` prints `owner<TAB>TTL?<TAB>IN<TAB>DS<TAB>tag alg 2 hex`: the fields
    /// after `DS`, digest upper-cased.
    static func dsFields(_ line: Substring) -> [String] {
        let t = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let i = t.firstIndex(of: "DS") else { return [] }
        return [t[0].lowercased()] + t[(i + 1)...].map { $0.uppercased() }
    }

    @Test(.enabled(if: ldnsKeygen != nil && ldnsKey2ds != nil, "ldns-keygen or ldns-key2ds (ldnsutils) is not installed"),
          arguments: [("ECDSAP256SHA256", false), ("ED25519", true), ("ECDSAP256SHA256", true)])
    func ldnsKeys(algorithm: String, ksk: Bool) throws {
        let dir = TempDir()
        let gen = try runTool(Self.ldnsKeygen!, ["-a", algorithm] + (ksk ? ["-k"] : []) + ["bl.example"], in: dir.path)
        #expect(gen.status == 0, "\(gen.stderr)")
        let base = dir.path + "/" + gen.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let key = try SigningKey.load(path: base)
        #expect(base.hasSuffix(String(format: "+%03d+%05d", Int(key.dnskey.algorithm.rawValue), Int(key.dnskey.keyTag))))
        #expect(key.dnskey.flags == (ksk ? 257 : 256))
        let ds = try runTool(Self.ldnsKey2ds!, ["-n", "-f", "-2", base + ".key"], in: dir.path)
        #expect(ds.status == 0, "\(ds.stderr)")
        let theirs = ds.stdout.split(separator: "\n").map(Self.dsFields)
        #expect(theirs == [Self.dsFields(Substring(key.dnskey.ds.description))], "\(ds.stdout)")
    }

    @Test(.enabled(if: bindKeygen != nil && bindDS != nil, "dnssec-keygen or dnssec-dsfromkey (bind9) is not installed"),
          arguments: [["-a", "ECDSAP256SHA256"], ["-a", "ECDSAP256SHA256", "-f", "KSK"], ["-a", "ED25519"]])
    func bindKeys(options: [String]) throws {
        let dir = TempDir()
        let gen = try runTool(Self.bindKeygen!, options + ["-n", "ZONE", "bl.example"], in: dir.path)
        #expect(gen.status == 0, "\(gen.stderr)")
        let base = dir.path + "/" + gen.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let key = try SigningKey.load(path: base + ".private")
        #expect(base.hasSuffix(String(format: "+%03d+%05d", Int(key.dnskey.algorithm.rawValue), Int(key.dnskey.keyTag))))
        let ds = try runTool(Self.bindDS!, ["-2", base + ".key"], in: dir.path)
        #expect(ds.status == 0, "\(ds.stderr)")
        // dnssec-dsfromkey prints exactly our presentation form.
        #expect(ds.stdout == key.dnskey.ds.description + "\n")
    }

    static let keymgr = which("keymgr")

    /// Knot's keymgr imports the pairs we load (`import-bind`) and its `ds` prints the same
    /// SHA-256 DS. (keymgr 3.2 keeps keys as PEM and writes no BIND-format files itself.)
    @Test(.enabled(if: ldnsKeygen != nil && keymgr != nil, "ldns-keygen (ldnsutils) or keymgr (knot) is not installed"),
          arguments: ["ECDSAP256SHA256", "ED25519"])
    func knotKeymgrAgrees(algorithm: String) throws {
        let dir = TempDir()
        let gen = try runTool(Self.ldnsKeygen!, ["-a", algorithm, "-k", "bl.example"], in: dir.path)
        #expect(gen.status == 0, "\(gen.stderr)")
        let base = dir.path + "/" + gen.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let key = try SigningKey.load(path: base)
        try FileManager.default.createDirectory(atPath: dir.path + "/kasp", withIntermediateDirectories: true)
        let imported = try runTool(Self.keymgr!, ["-D", dir.path + "/kasp", "bl.example.", "import-bind", base + ".key"])
        #expect(imported.status == 0, "\(imported.stdout) \(imported.stderr)")
        let ds = try runTool(Self.keymgr!, ["-D", dir.path + "/kasp", "bl.example.", "ds", String(key.dnskey.keyTag)])
        #expect(ds.status == 0, "\(ds.stderr)")
        let sha256 = ds.stdout.split(separator: "\n").map(Self.dsFields).filter { $0.count == 5 && $0[3] == "2" }
        #expect(sha256 == [Self.dsFields(Substring(key.dnskey.ds.description))], "\(ds.stdout)")
    }

    /// `prefixbl dnssec-ds` prints for keys of both tools what `dnssec-dsfromkey -2` prints.
    @Test(.enabled(if: ldnsKeygen != nil && bindKeygen != nil && bindDS != nil,
                   "ldns-keygen (ldnsutils) or dnssec-keygen/dnssec-dsfromkey (bind9) is not installed"))
    func dnssecDSCommand() throws {
        let binary = try #require(Self.binary, "prefixbl is built with the tests (swift build --build-tests)")
        let dir = TempDir()
        let a = try runTool(Self.ldnsKeygen!, ["-a", "ED25519", "-k", "bl.example"], in: dir.path)
        let b = try runTool(Self.bindKeygen!, ["-a", "ECDSAP256SHA256", "-f", "KSK", "-n", "ZONE", "bl.example"], in: dir.path)
        let bases = [a, b].map { dir.path + "/" + $0.stdout.trimmingCharacters(in: .whitespacesAndNewlines) }
        let ours = try runTool(binary, ["dnssec-ds", bases[0] + ".key", bases[1]])
        #expect(ours.status == 0, "\(ours.stderr)")
        // dnssec-dsfromkey takes one key per run.
        let theirs = try bases.map { try runTool(Self.bindDS!, ["-2", $0 + ".key"], in: dir.path) }
        #expect(theirs.allSatisfy { $0.status == 0 }, "\(theirs.map(\.stderr))")
        #expect(ours.stdout == theirs.map(\.stdout).joined())
        #expect(ours.stdout.split(separator: "\n").count == 2)

        // A bad pair: exit status 1, the file named, no usage text, no secret.
        let bad = Fixture.write(dir, base: "Kbl.example.+013+33812", key: Fixture.ecdsaKey, priv: Fixture.otherEcdsaPrivate)
        let failed = try runTool(binary, ["dnssec-ds", bad])
        #expect(failed.status != 0)
        #expect(failed.stdout.isEmpty)
        #expect(failed.stderr.contains(bad + ".key: the public key does not match"), "\(failed.stderr)")
        #expect(!failed.stderr.contains("USAGE"))
        #expect(!leaks(failed.stderr, secret: "8i2HX3zZS3rttlPylLuEanM8fAFBmGGrHvxu1eUdHzM="))
    }
}
