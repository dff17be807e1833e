import Testing
import DNSWire
import TestSupport

// SipHash-2-4 and RFC 9018 server cookies, on their own (the query guard's use of them is
// tested in ServerTests).

/// The client address as the cookie hash takes it: 4 or 16 network-order bytes.
private func addressBytes(_ text: String) -> [UInt8] {
    if text.contains(":") {
        let halves = text.components(separatedBy: "::")
        func groups(_ s: String) -> [UInt16] { s.isEmpty ? [] : s.split(separator: ":").map { UInt16($0, radix: 16)! } }
        let head = groups(halves[0]), tail = halves.count > 1 ? groups(halves[1]) : []
        let all = head + [UInt16](repeating: 0, count: 8 - head.count - tail.count) + tail
        return all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }
    return text.split(separator: ".").map { UInt8($0)! }
}

private func serverCookie(secret: String, client: String, ip: String, timestamp: UInt32) -> [UInt8] {
    let maker = ServerCookieMaker(secret: hexBytes(secret))
    var out = [UInt8](repeating: 0, count: 16)
    hexBytes(client).withUnsafeBytes { c in
        addressBytes(ip).withUnsafeBytes { a in
            out.withUnsafeMutableBytes { maker.write(clientCookie: c, timestamp: timestamp, clientIP: a, into: $0) }
        }
    }
    return out
}

private func isValid(secret: String, client: String, server: [UInt8], ip: String, now: UInt32) -> Bool {
    hexBytes(client).withUnsafeBytes { c in
        server.withUnsafeBytes { s in
            addressBytes(ip).withUnsafeBytes {
                ServerCookieMaker(secret: hexBytes(secret)).isValid(clientCookie: c, serverCookie: s, clientIP: $0, now: now)
            }
        }
    }
}

@Suite("SipHash-2-4 and RFC 9018 server cookies")
struct CookieTests {
    @Test("SipHash-2-4 reference vectors (key 00..0f, message 00..n-1)")
    func sipHashVectors() {
        let expected: [Int: UInt64] = [
            0: 0x726fdb47dd0e0e31, 1: 0x74f839c593dc67fd, 2: 0x0d6c8009d9a94f5a, 3: 0x85676696d7fb7e2d,
            4: 0xcf2794e0277187b7, 5: 0x18765564cd99a68d, 6: 0xcbc9466e58fee3ce, 7: 0xab0200f58b01d137,
            8: 0x93f5f5799a932462, 9: 0x9e0082df0ba9e4b0, 15: 0xa129ca6149be45e5]
        let key = [UInt8](0..<16)
        for (n, want) in expected.sorted(by: { $0.key < $1.key }) {
            let msg = [UInt8](0..<UInt8(n))
            let got = key.withUnsafeBytes { k in
                var h = SipHash24(key: k)
                msg.withUnsafeBytes { h.add($0) }
                return h.finalize()
            }
            #expect(got == want, "length \(n)")
        }
    }

    @Test("SipHash-2-4: byte-wise, buffer-wise and big-endian word input hash alike")
    func sipHashInputForms() {
        let bytes: [UInt8] = [0xDE, 0xAD, 0xBE, 0xEF, 1, 2, 3]
        func whole() -> UInt64 { var h = SipHash24(k0: 7, k1: 9); bytes.withUnsafeBytes { h.add($0) }; return h.finalize() }
        func oneByOne() -> UInt64 { var h = SipHash24(k0: 7, k1: 9); for b in bytes { h.add(b) }; return h.finalize() }
        func word() -> UInt64 {
            var h = SipHash24(k0: 7, k1: 9); h.addBigEndian(0xDEAD_BEEF); h.add(1); h.add(2); h.add(3); return h.finalize()
        }
        #expect(whole() == oneByOne())
        #expect(whole() == word())
        var other = SipHash24(k0: 7, k1: 10)
        bytes.withUnsafeBytes { other.add($0) }
        #expect(other.finalize() != whole(), "the key matters")
    }

    /// RFC 9018 Appendix A: A.1 (first cookie), A.2 (renewed), A.3 (another client), A.4 (IPv6,
    /// after a secret rollover).
    @Test("RFC 9018 Appendix A server cookies are reproduced", arguments: [
        ("e5e973e5a6b2a43f48e7dc849e37bfcf", "2464c4abcf10c957", "198.51.100.100", UInt32(1559731985),
         "010000005cf79f111f8130c3eee29480"),
        ("e5e973e5a6b2a43f48e7dc849e37bfcf", "2464c4abcf10c957", "198.51.100.100", UInt32(1559734385),
         "010000005cf7a871d4a564a1442aca77"),
        ("e5e973e5a6b2a43f48e7dc849e37bfcf", "fc93fc62807ddb86", "203.0.113.203", UInt32(1559734700),
         "010000005cf7a9acf73a7810aca2381e"),
        ("445536bcd2513298075a5d379663c962", "22681ab97d52c298", "2001:db8:220:1:59de:d0f4:8769:82b8", UInt32(1559741961),
         "010000005cf7c609a6bb79d16625507a"),
    ])
    func rfc9018AppendixA(_ secret: String, _ client: String, _ ip: String, _ timestamp: UInt32, _ want: String) {
        let cookie = serverCookie(secret: secret, client: client, ip: ip, timestamp: timestamp)
        #expect(hexString(cookie) == want)
        #expect(isValid(secret: secret, client: client, server: cookie, ip: ip, now: timestamp))
    }

    @Test("RFC 9018 §4.3: valid from 5 minutes ahead to one hour old, for this client and secret only")
    func validityWindow() {
        let secret = "e5e973e5a6b2a43f48e7dc849e37bfcf", client = "2464c4abcf10c957", ip = "198.51.100.100"
        let t: UInt32 = 1559731985
        let c = serverCookie(secret: secret, client: client, ip: ip, timestamp: t)
        #expect(isValid(secret: secret, client: client, server: c, ip: ip, now: t + ServerCookieMaker.maxAge))
        #expect(!isValid(secret: secret, client: client, server: c, ip: ip, now: t + ServerCookieMaker.maxAge + 1))
        #expect(isValid(secret: secret, client: client, server: c, ip: ip, now: t - ServerCookieMaker.maxFuture))
        #expect(!isValid(secret: secret, client: client, server: c, ip: ip, now: t - ServerCookieMaker.maxFuture - 1))
        #expect(!isValid(secret: secret, client: client, server: c, ip: "198.51.100.101", now: t), "another address")
        #expect(!isValid(secret: secret, client: "2464c4abcf10c958", server: c, ip: ip, now: t), "another client cookie")
        #expect(!isValid(secret: "445536bcd2513298075a5d379663c962", client: client, server: c, ip: ip, now: t),
                "another secret")
        var tampered = c; tampered[15] ^= 1
        #expect(!isValid(secret: secret, client: client, server: tampered, ip: ip, now: t), "hash altered")
        var version2 = c; version2[0] = 2
        #expect(!isValid(secret: secret, client: client, server: version2, ip: ip, now: t), "version other than 1")
        #expect(!isValid(secret: secret, client: client, server: Array(c[0..<15]), ip: ip, now: t), "15 bytes")
        // Serial-number arithmetic (RFC 1982): a cookie made just before the 32-bit wrap is
        // still valid just after it.
        let late = serverCookie(secret: secret, client: client, ip: ip, timestamp: UInt32.max - 10)
        #expect(isValid(secret: secret, client: client, server: late, ip: ip, now: 20))
    }
}

@Suite("TCP framing (RFC 1035 §4.2.2, RFC 7766 §8)")
struct TCPFramingTests {
    @Test("nextTCPFrame: short prefix and short body are incomplete, zero length is empty, else the message")
    func framing() {
        func frame(_ b: [UInt8]) -> TCPFrame { b.withUnsafeBytes { DNSWire.nextTCPFrame($0) } }
        #expect(frame([]) == .incomplete)
        #expect(frame([0]) == .incomplete)
        #expect(frame([0, 0, 9]) == .empty)
        #expect(frame([0, 3, 1, 2]) == .incomplete)
        #expect(frame([0, 3, 1, 2, 3]) == .message(length: 3))
        #expect(frame([0, 3, 1, 2, 3, 0, 0]) == .message(length: 3))
        #expect(frame([0xFF, 0xFF] + [UInt8](repeating: 0, count: 65535)) == .message(length: 65535))
    }
}
