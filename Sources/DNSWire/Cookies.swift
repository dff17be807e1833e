/// Where a query's DNS COOKIE option is (RFC 7873 §4), found by ``DNSWire/scanCookie(_:)``.
public struct CookieScan: Sendable, Hashable {
    public enum Status: Sendable, Hashable {
        /// No OPT record, or an OPT without a COOKIE option (RFC 7873 §5.2.1).
        case absent
        /// A COOKIE option of a length other than 8 or 16…40 bytes (RFC 7873 §5.2.2: FORMERR).
        case malformed
        /// A client cookie only (8 bytes, §5.2.3).
        case clientOnly
        /// A client cookie and a server cookie of 8…32 bytes (§5.2.4).
        case clientAndServer
    }
    public var status: Status
    /// Offset of the option data (the client cookie) in the query; meaningful unless `.absent`.
    public var dataOffset: Int
    /// Option data length in bytes (8 = client cookie only).
    public var dataLength: Int
    /// The query had an OPT record; its CLASS (the requestor's UDP payload size, bytes).
    public var hasOPT: Bool
    public var udpPayloadSize: UInt16
    /// The query's EDNS version (anything above 0 gets BADVERS, without cookie processing).
    public var ednsVersion: UInt8

    @inlinable
    public init(status: Status, dataOffset: Int = 0, dataLength: Int = 0, hasOPT: Bool = false,
                udpPayloadSize: UInt16 = 0, ednsVersion: UInt8 = 0) {
        self.status = status; self.dataOffset = dataOffset; self.dataLength = dataLength
        self.hasOPT = hasOPT; self.udpPayloadSize = udpPayloadSize; self.ednsVersion = ednsVersion
    }
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

    /// Finds the COOKIE option of a message's OPT record without building anything. Unlike
    /// ``readQuery(_:)`` it accepts any QDCOUNT (RFC 7873 §5.4: a query with QDCOUNT 0 and a
    /// COOKIE option asks for a server cookie). A message the walk cannot read is `.absent`:
    /// the normal answer path then decides FORMERR.
    @inlinable
    public static func scanCookie(_ buffer: UnsafeRawBufferPointer) -> CookieScan {
        guard let h = DNSHeader(reading: buffer) else { return CookieScan(status: .absent) }
        // No additional record, no OPT: skip the walk (most queries without EDNS).
        guard h.arCount > 0 else { return CookieScan(status: .absent) }
        var pos = headerSize
        var q = 0
        while q < Int(h.qdCount) {
            guard case .success(let end) = nameEnd(buffer, at: pos), end + 4 <= buffer.count else {
                return CookieScan(status: .absent)
            }
            pos = end + 4
            q += 1
        }
        let nonAdditional = Int(h.anCount) + Int(h.nsCount)
        let total = nonAdditional + Int(h.arCount)
        var index = 0
        while index < total {
            guard case .success(let end) = nameEnd(buffer, at: pos), end + 10 <= buffer.count else {
                return CookieScan(status: .absent)
            }
            let type = buffer.readU16(at: end)
            let rdLength = Int(buffer.readU16(at: end + 8))
            let rdStart = end + 10
            guard rdStart + rdLength <= buffer.count else { return CookieScan(status: .absent) }
            if type == DNSType.opt && index >= nonAdditional {
                var scan = CookieScan(status: .absent, hasOPT: true,
                                      udpPayloadSize: buffer.readU16(at: end + 2),
                                      ednsVersion: buffer[end + 5])
                var o = rdStart
                let stop = rdStart + rdLength
                while o + 4 <= stop {
                    let code = buffer.readU16(at: o)
                    let len = Int(buffer.readU16(at: o + 2))
                    guard o + 4 + len <= stop else { return scan }
                    if code == EDNSOptionCode.cookie {
                        scan.dataOffset = o + 4
                        scan.dataLength = len
                        if len == clientCookieLength {
                            scan.status = .clientOnly
                        } else if len >= clientCookieLength + 8 && len <= clientCookieLength + 32 {
                            scan.status = .clientAndServer
                        } else {
                            scan.status = .malformed
                        }
                        return scan
                    }
                    o += 4 + len
                }
                return scan
            }
            pos = rdStart + rdLength
            index += 1
        }
        return CookieScan(status: .absent)
    }
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
