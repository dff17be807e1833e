import Crypto
import DNSSEC
import Foundation
import Testing
import TestSupport

struct KeyTests {
    /// ldns-keygen writes an ECDSA private key as an integer without leading zero bytes, so one
    /// key in 256 has a 31-byte PrivateKey (CI met one: "PrivateKey is 31 bytes").
    @Test func ecdsaPrivateKeyWithoutItsLeadingZeroByte() throws {
        let scalar = [UInt8(0)] + [UInt8](repeating: 0x11, count: 31)
        let full = try P256.Signing.PrivateKey(rawRepresentation: scalar)
        let publicKey = [UInt8](full.publicKey.rawRepresentation)
        let key = "bl.example. IN DNSKEY 256 3 13 \(Data(publicKey).base64EncodedString())\n"
        let priv = "Private-key-format: v1.2\nAlgorithm: 13 (ECDSAP256SHA256)\nPrivateKey: \(Data(scalar.dropFirst()).base64EncodedString())\n"
        let k = try SigningKey(publicFile: "K.key", publicText: key, privateFile: "K.private", privateText: priv)
        #expect(k.dnskey.publicKey == publicKey)
        // It signs, and the signature verifies with the public key.
        let owner = wireName("bl.example")
        let rdata = try k.rrsig(owner: owner, type: 1, rrClass: 1, ttl: 60, rdatas: [[127, 0, 0, 2]],
                                inception: 1_000_000, expiration: 2_000_000)
        let prefix = DNSSECRecords.rrsigPrefix(type: 1, owner: owner, ttl: 60, inception: 1_000_000,
                                               expiration: 2_000_000, key: k.dnskey)
        let data = DNSSECRecords.signedData(owner: owner, type: 1, rrClass: 1, ttl: 60, rdatas: [[127, 0, 0, 2]],
                                            rrsigPrefix: prefix)
        #expect(Array(rdata.prefix(prefix.count)) == prefix)
        let signature = try P256.Signing.ECDSASignature(rawRepresentation: rdata.suffix(64))
        #expect(full.publicKey.isValidSignature(signature, for: data))
    }

    @Test func ldnsECDSAKeyParses() throws {
        let k = try Fixture.ecdsa()
        #expect(k.dnskey.algorithm == .ecdsaP256SHA256)
        #expect(k.dnskey.flags == 256 && !k.dnskey.isSEP)
        #expect(k.dnskey.keyTag == Fixture.ecdsaTag)
        #expect(CanonicalName.text(k.dnskey.owner) == "bl.example.")
        #expect(k.dnskey.publicKey.count == 64)
    }

    @Test func ldnsEd25519KeyAndItsDS() throws {
        let k = try Fixture.ed25519()
        #expect(k.dnskey.flags == 257 && k.dnskey.isSEP)
        #expect(k.dnskey.keyTag == Fixture.edTag)
        let ds = k.dnskey.ds
        #expect(ds.digestType == 2 && ds.algorithm == 15 && ds.keyTag == Fixture.edTag)
        let want = Fixture.edDS.split(separator: " ").last.map { String($0).uppercased() }
        #expect(DNSSECText.hex(ds.digest) == want)
        #expect(ds.description == "bl.example. IN DS 11735 15 2 \(want!)")
    }

    /// RFC 6605 §6.1 (P-256) and RFC 8080 §6.1 (Ed25519) examples: the published private key
    /// gives the published DNSKEY, key tag and SHA-256 DS.
    @Test func rfcExampleKeys() throws {
        let p256 = try SigningKey(
            publicFile: "rfc6605.key",
            publicText: "example.net. 3600 IN DNSKEY 257 3 13 ( GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edb krSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA== )",
            privateFile: "rfc6605.private",
            privateText: "Private-key-format: v1.2\nAlgorithm: 13 (ECDSAP256SHA256)\nPrivateKey: GU6SnQ/Ou+xC5RumuIUIuJZteXT2z0O/ok1s38Et6mQ=\n")
        #expect(p256.dnskey.keyTag == 55648)
        #expect(DNSSECText.hex(p256.dnskey.ds.digest) == "b4c8c1fe2e7477127b27115656ad6256f424625bf5c1e2770ce6d6e37df61d17".uppercased())

        let ed = try SigningKey(
            publicFile: "rfc8080.key",
            publicText: "example.com. 3600 IN DNSKEY 257 3 15 ( l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4= )",
            privateFile: "rfc8080.private",
            privateText: "Private-key-format: v1.2\nAlgorithm: 15 (ED25519)\nPrivateKey: ODIyNjAzODQ2MjgwODAxMjI2NDUxOTAyMDQxNDIyNjI=\n")
        #expect(ed.dnskey.keyTag == 3613)
        #expect(DNSSECText.hex(ed.dnskey.ds.digest) == "3aa5ab37efce57f737fc1627013fee07bdf241bd10f3b1964ab55c78e79a304b".uppercased())
    }

    @Test(arguments: ["", ".key", ".private"])
    func loadByBaseNameOrEitherFile(suffix: String) throws {
        let dir = TempDir()
        let base = Fixture.write(dir, base: "Kbl.example.+013+33812", key: Fixture.ecdsaKey, priv: Fixture.ecdsaPrivate)
        let k = try SigningKey.load(path: base + suffix)
        #expect(k.dnskey.keyTag == Fixture.ecdsaTag)
        #expect(k.source == base)
    }

    /// One bad key pair per row: what is wrong, the file the message must name, and a phrase
    /// it must contain.
    struct BadPair: Sendable, CustomTestStringConvertible {
        var name: String
        var key: String?
        var priv: String?
        var code: DNSSECKeyError.Code
        var file: String
        var phrase: String
        var testDescription: String { name }
    }

    static let rsaKey = "bl.example. IN DNSKEY 256 3 8 AwEAAbCZ3cs8eQpR9gC0Nz0kWb2jF1Wlk3Yfh0mK1+vUGd0Tr6m7Nq0QwKx1Y2Q1bWc2oQ==\n"
    static let rsaPrivate = "Private-key-format: v1.3\nAlgorithm: 8 (RSASHA256)\nModulus: sJndyzx5ClH2ALQ3PSRZvaMXVaWTdh+HSYrX69QZ3ROvqbs2rRDArHVjZDVtZzahAA==\nPublicExponent: AQAB\n"

    static let badPairs: [BadPair] = [
        BadPair(name: "missing .private", key: Fixture.ecdsaKey, priv: nil, code: .unreadable, file: ".private", phrase: "No such file"),
        BadPair(name: "missing .key", key: nil, priv: Fixture.ecdsaPrivate, code: .unreadable, file: ".key", phrase: "No such file"),
        BadPair(name: "RSASHA256", key: rsaKey, priv: rsaPrivate, code: .unsupportedAlgorithm, file: ".key", phrase: "unsupported algorithm 8"),
        BadPair(name: "corrupt base64 in .private", key: Fixture.ecdsaKey,
                priv: Fixture.ecdsaPrivate.replacingOccurrences(of: "DwUGyXdQ", with: "Dw!GyX*Q"),
                code: .badPrivateKey, file: ".private", phrase: "not valid base64"),
        // An ECDSA key shorter than 32 bytes is read as an integer without its leading zeros
        // (ldns-keygen writes one in 256 that way): a cut one no longer matches its public key.
        BadPair(name: "truncated ECDSA private key", key: Fixture.ecdsaKey,
                priv: "Private-key-format: v1.2\nAlgorithm: 13 (ECDSAP256SHA256)\nPrivateKey: DwUGyXdQ0VxmF9RPyAydB8xQ\n",
                code: .mismatch, file: ".key", phrase: "does not match the private key"),
        BadPair(name: "truncated Ed25519 seed", key: Fixture.edKey,
                priv: "Private-key-format: v1.2\nAlgorithm: 15 (ED25519)\nPrivateKey: MutEC3rpllWCc8+99fwPeSmfc2nWcC1S\n",
                code: .badPrivateKey, file: ".private", phrase: "needs 32"),
        BadPair(name: "ECDSA private key longer than 32 bytes", key: Fixture.ecdsaKey,
                priv: "Private-key-format: v1.2\nAlgorithm: 13 (ECDSAP256SHA256)\nPrivateKey: \(Data([1] + Data(base64Encoded: Fixture.ecdsaSecret)!).base64EncodedString())\n",
                code: .badPrivateKey, file: ".private", phrase: "needs 32"),
        BadPair(name: "corrupt base64 in .key", key: Fixture.ecdsaKey.replacingOccurrences(of: "VNiq", with: "V%iq"),
                priv: Fixture.ecdsaPrivate, code: .badPublicKey, file: ".key", phrase: "not valid base64"),
        BadPair(name: "public/private mismatch", key: Fixture.ecdsaKey, priv: Fixture.otherEcdsaPrivate,
                code: .mismatch, file: ".key", phrase: "does not match the private key"),
        BadPair(name: "algorithms differ", key: Fixture.ecdsaKey, priv: Fixture.edPrivate,
                code: .mismatch, file: ".private", phrase: "differs"),
        BadPair(name: "owner with an empty label", key: Fixture.ecdsaKey.replacingOccurrences(of: "bl.example.", with: "bl..example."),
                priv: Fixture.ecdsaPrivate, code: .badOwner, file: ".key", phrase: "not a valid absolute domain name"),
        BadPair(name: "owner label over 63 bytes", key: Fixture.ecdsaKey.replacingOccurrences(of: "bl.example.", with: String(repeating: "a", count: 64) + ".example."),
                priv: Fixture.ecdsaPrivate, code: .badOwner, file: ".key", phrase: "not a valid absolute domain name"),
        BadPair(name: "not a zone key", key: Fixture.ecdsaKey.replacingOccurrences(of: "DNSKEY\t256", with: "DNSKEY\t0"),
                priv: Fixture.ecdsaPrivate, code: .badFlags, file: ".key", phrase: "not those of a zone key"),
        BadPair(name: "no DNSKEY", key: "; nothing here\n", priv: Fixture.ecdsaPrivate, code: .badPublicKey, file: ".key", phrase: "no DNSKEY"),
        BadPair(name: "no Private-key-format", key: Fixture.ecdsaKey, priv: "PrivateKey: \(Fixture.ecdsaSecret)\n",
                code: .badPrivateKey, file: ".private", phrase: "Private-key-format"),
    ]

    @Test(arguments: badPairs)
    func badKeyFile(_ bad: BadPair) throws {
        let dir = TempDir()
        let base = Fixture.write(dir, base: "Kbl.example.+013+33812", key: bad.key, priv: bad.priv)
        do {
            _ = try SigningKey.load(path: base)
            Issue.record("\(bad.name): loaded")
        } catch {
            #expect(error.code == bad.code, "\(error)")
            #expect(error.file == base + bad.file, "\(error)")
            #expect(error.description.hasPrefix(base + bad.file + ": "), "\(error)")
            #expect(error.description.contains(bad.phrase), "\(error)")
            for secret in [Fixture.ecdsaSecret, Fixture.edSecret, "8i2HX3zZS3rttlPylLuEanM8fAFBmGGrHvxu1eUdHzM="] {
                #expect(!leaks(error.description, secret: secret), "\(error)")
                #expect(!leaks(String(reflecting: error), secret: secret))
            }
        }
    }

    /// The key's printed forms (description, debug description, `dump`) show the public part
    /// only.
    @Test func keyNeverPrintsItsSecret() throws {
        for (k, secret) in [(try Fixture.ecdsa(), Fixture.ecdsaSecret), (try Fixture.ed25519(), Fixture.edSecret)] {
            var dumped = ""
            dump(k, to: &dumped)
            let hexSecret = DNSSECText.hex(DNSSECText.decodeBase64(Substring(secret).utf8)!)
            for text in [String(describing: k), String(reflecting: k), dumped, "\(k)"] {
                #expect(!leaks(text, secret: secret), "\(text)")
                #expect(!text.uppercased().contains(hexSecret.prefix(16)), "\(text)")
                #expect(text.contains("tag \(k.dnskey.keyTag)") || text.contains("\(k.dnskey.keyTag)"))
            }
        }
    }

    @Test func canonicalNameParsing() {
        #expect(CanonicalName.parse("BL.Example") == [2, 98, 108, 7] + Array("example".utf8) + [0])
        #expect(CanonicalName.parse("bl.example.") == CanonicalName.parse("bl.example"))
        #expect(CanonicalName.parse(".") == [0])
        #expect(CanonicalName.parse("a\\.b.example.") == [3, 97, 46, 98, 7] + Array("example".utf8) + [0])
        #expect(CanonicalName.parse("\\065.example.") == [1, 97, 7] + Array("example".utf8) + [0])
        #expect(CanonicalName.parse("a..b") == nil)
        #expect(CanonicalName.parse("") == nil)
        #expect(CanonicalName.parse(String(repeating: "a", count: 64) + ".b") == nil)
        #expect(CanonicalName.parse(Array(repeating: String(repeating: "a", count: 63), count: 4).joined(separator: ".")) == nil)
        #expect(CanonicalName.text(CanonicalName.parse("*.X.bl.example")!) == "*.x.bl.example.")
    }

    @Test func base64RoundTrip() {
        var rng = SplitMix64(seed: 12)
        for n in 0..<70 {
            let bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let text = DNSSECText.base64(bytes)
            #expect(text == Data(bytes).base64EncodedString())
            #expect(DNSSECText.decodeBase64(Substring(text).utf8) == bytes)
        }
        #expect(DNSSECText.decodeBase64(Substring("QUJD=").utf8) == nil)
        #expect(DNSSECText.decodeBase64(Substring("QU=J").utf8) == nil)
        #expect(DNSSECText.decodeBase64(Substring("Q").utf8) == nil)
    }
}
