import DNSBLServer
import ServerTestSupport
import Testing
import ZoneTransfer

/// TSIG keys as operators have them (RFC 8945 keys in dig, BIND, NSD and Knot spellings).
struct TSIGKeyFileTests {
    @Test("Keys: dig -y forms, BIND/tsig-keygen, NSD and Knot key files; errors give file:line and never the secret")
    func keyParsing() throws {
        let a = try TSIGKey(option: "hmac-sha512:xfr.bl.example.:\(tsigSecret)")
        #expect(a.name == "xfr.bl.example" && a.algorithm == .hmacSHA512)
        let b = try TSIGKey(option: "Xfr.Bl.Example:hmac-sha1:\(tsigSecret)")
        #expect(b.name == "xfr.bl.example" && b.algorithm == .hmacSHA1)
        let c = try TSIGKey(option: "xfr.bl.example:\(tsigSecret)")
        #expect(c.algorithm == .hmacSHA256 && c.mac([1]) == testKey().mac([1]))
        #expect(throws: ServerError.self) { try TSIGKey(option: "hmac-sha999:x:\(tsigSecret)") }
        #expect(throws: ServerError.self) { try TSIGKey(option: "x.example:hmac-sha256:not*base64") }
        #expect(!"\(a)".contains(tsigSecret) && "\(a)".contains("xfr.bl.example"))

        let bind = """
            // tsig-keygen -a hmac-sha256 xfr.bl.example
            key "xfr.bl.example" {
            \talgorithm hmac-sha256;
            \tsecret "\(tsigSecret)";
            };
            key "md5.bl.example" { algorithm hmac-md5; secret "\(tsigSecret)"; };
            key "slash.bl.example" { algorithm hmac-sha256; secret "ab//cdef"; }; // "//" inside base64
            zone "bl.example" {
                allow-notify {
                    key xfr.bl.example;
                };
            };
            """
        let bk = try TSIGKey.parse(keyFile: bind, path: "bind.key")
        #expect(bk.map(\.name) == ["xfr.bl.example", "md5.bl.example", "slash.bl.example"])
        #expect(bk.map(\.algorithm) == [.hmacSHA256, .hmacMD5, .hmacSHA256])
        #expect(bk.last?.mac([1]) == (try TSIGKey(name: "s", algorithm: .hmacSHA256, secret: base64Decode("ab//cdef")!)).mac([1]))
        let nsd = """
            server:
                port: 53
            key:
                name: "xfr.bl.example"   # the transfer key
                algorithm: hmac-sha384
                secret: "\(tsigSecret)"
            zone:
                name: bl.example
            """
        let nk = try TSIGKey.parse(keyFile: nsd, path: "nsd.conf")
        #expect(nk.count == 1 && nk[0].algorithm == .hmacSHA384)
        let knot = """
            key:
              - id: a.bl.example
                algorithm: hmac-sha256
                secret: \(tsigSecret)
              - id: b.bl.example
                algorithm: hmac-sha512
                secret: \(tsigSecret)
            remote:
              - id: primary
            """
        #expect(try TSIGKey.parse(keyFile: knot, path: "knot.conf").map(\.name) == ["a.bl.example", "b.bl.example"])
        let broken = "key \"x.bl.example\" {\n algorithm hmac-sha256;\n secret \"\(tsigSecret)*\";\n};\n"
        do {
            _ = try TSIGKey.parse(keyFile: broken, path: "broken.key")
            Issue.record("a bad secret was accepted")
        } catch {
            #expect(error.reason.contains("broken.key:1") && !error.reason.contains(tsigSecret))
        }
        #expect(throws: ServerError.self) { try TSIGKeyring([testKey(), testKey(.hmacSHA1)]) }
    }
}
