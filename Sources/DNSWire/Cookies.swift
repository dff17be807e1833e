/// The COOKIE option of a response (RFC 7873 §4): the client's cookie echoed and our 16-byte
/// RFC 9018 server cookie, held as raw bytes (each `UInt64` is 8 bytes in wire order, loaded
/// without a byte swap). A plain value, so the answer writer puts it into the OPT in place.
public struct CookieOption: Sendable {
    /// The 8-byte client cookie as received.
    public var client: UInt64
    /// Server cookie bytes 0–7 (version, reserved, timestamp) and 8–15 (hash).
    public var server: (UInt64, UInt64)

    @inlinable
    public init(client: UInt64, server: (UInt64, UInt64)) { self.client = client; self.server = server }

    /// Encoded size in bytes of the option: code, length, client and server cookie (28).
    public static let size = 4 + DNSWire.clientCookieLength + DNSWire.serverCookieLength
}

extension EDNSOptionCode {
    /// DNS COOKIE (RFC 7873 §4).
    public static let cookie: UInt16 = 10
}

extension DNSRCode {
    /// BADCOOKIE (RFC 7873 §8), a 12-bit extended RCODE: header RCODE 7, OPT upper bits 1.
    public static let badCookie: UInt16 = 23
}

extension DNSWire {
    /// Client cookie length in bytes (RFC 7873 §4).
    public static let clientCookieLength = 8
    /// Server cookie length of RFC 9018 version 1 in bytes.
    public static let serverCookieLength = 16
}

/// RFC 9018 server cookies: Version 1 | Reserved (3 bytes, 0) | Timestamp (4 bytes, Unix
/// seconds in serial-number arithmetic) | Hash (8 bytes), where Hash is SipHash-2-4 keyed with
/// the 16-byte server secret over Client Cookie | Version | Reserved | Timestamp | Client IP
/// (4 bytes IPv4, 16 bytes IPv6). All servers of an anycast group sharing the secret agree.
public struct ServerCookieMaker: Sendable {
    public let k0: UInt64
    public let k1: UInt64
    /// A cookie is valid from this many seconds in the future (clock skew, RFC 9018 §4.3)…
    public static let maxFuture: UInt32 = 300
    /// …to this many seconds in the past (RFC 9018 §4.3: one hour).
    public static let maxAge: UInt32 = 3600

    /// - Parameter secret: 16 bytes.
    public init(secret: [UInt8]) {
        precondition(secret.count == 16, "cookie secret is 16 bytes")
        var k0: UInt64 = 0, k1: UInt64 = 0
        for i in 0..<8 { k0 |= UInt64(secret[i]) << UInt64(8 * i); k1 |= UInt64(secret[8 + i]) << UInt64(8 * i) }
        self.k0 = k0; self.k1 = k1
    }

    /// The hash of RFC 9018 §4.4 for `clientCookie` (8 bytes), `timestamp` and the client's
    /// address bytes (4 or 16).
    @inlinable
    public func hash(clientCookie: UnsafeRawBufferPointer, timestamp: UInt32,
                     clientIP: UnsafeRawBufferPointer) -> UInt64 {
        var h = SipHash24(k0: k0, k1: k1)
        h.add(clientCookie)
        h.add(1); h.add(0); h.add(0); h.add(0)
        h.addBigEndian(timestamp)
        h.add(clientIP)
        return h.finalize()
    }

    /// Writes the 16-byte server cookie into `out` (at least 16 bytes).
    @inlinable
    public func write(clientCookie: UnsafeRawBufferPointer, timestamp: UInt32,
                      clientIP: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) {
        let v = hash(clientCookie: clientCookie, timestamp: timestamp, clientIP: clientIP)
        out[0] = 1; out[1] = 0; out[2] = 0; out[3] = 0
        out[4] = UInt8(timestamp >> 24); out[5] = UInt8(truncatingIfNeeded: timestamp >> 16)
        out[6] = UInt8(truncatingIfNeeded: timestamp >> 8); out[7] = UInt8(truncatingIfNeeded: timestamp)
        for i in 0..<8 { out[8 + i] = UInt8(truncatingIfNeeded: v >> UInt64(8 * i)) }
    }

    /// The COOKIE option answering `clientCookie` (8 raw bytes) from `clientIP` (4 or 16
    /// bytes) at `timestamp` (Unix seconds).
    @inlinable
    public func option(clientCookie: UInt64, timestamp: UInt32, clientIP: UnsafeRawBufferPointer) -> CookieOption {
        var o = CookieOption(client: clientCookie, server: (0, 0))
        withUnsafeBytes(of: clientCookie) { cc in
            withUnsafeMutableBytes(of: &o.server) { out in
                write(clientCookie: cc, timestamp: timestamp, clientIP: clientIP, into: out)
            }
        }
        return o
    }

    /// Whether `serverCookie` (the bytes after the client cookie) is one of ours for this
    /// client, made at most ``maxAge`` seconds before `now` and at most ``maxFuture`` after
    /// (RFC 9018 §4.3, serial-number arithmetic so the 2106 wrap is harmless).
    @inlinable
    public func isValid(clientCookie: UnsafeRawBufferPointer, serverCookie: UnsafeRawBufferPointer,
                        clientIP: UnsafeRawBufferPointer, now: UInt32) -> Bool {
        guard serverCookie.count == DNSWire.serverCookieLength, serverCookie[0] == 1,
              serverCookie[1] == 0, serverCookie[2] == 0, serverCookie[3] == 0 else { return false }
        let ts = serverCookie.readU32(at: 4)
        let age = Int32(bitPattern: now &- ts)
        guard age <= Int32(Self.maxAge), age >= -Int32(Self.maxFuture) else { return false }
        let v = hash(clientCookie: clientCookie, timestamp: ts, clientIP: clientIP)
        var diff: UInt8 = 0
        for i in 0..<8 { diff |= serverCookie[8 + i] ^ UInt8(truncatingIfNeeded: v >> UInt64(8 * i)) }
        return diff == 0
    }
}

extension MessageWriter {
    /// Continues (or cuts) a message already in ``buffer``: the next append goes at byte
    /// `count` (≤ ``limit``). Used to extend or shorten a response another writer made.
    @inlinable
    public mutating func setCount(_ count: Int) {
        precondition(count >= 0 && count <= buffer.count, "count outside the buffer")
        written = count
    }
}
