/// Appends a DNS message into a caller-owned buffer without allocating.
///
/// Every append checks against ``limit`` (bytes: the negotiated UDP size, 65535 for TCP, never
/// more than the buffer) and returns `false` without writing when it would not fit. Callers
/// take a ``mark`` before an RRset and ``rollback(to:)`` when any RR of it failed, so a message
/// never holds a partial RRset (RFC 2181 §9).
///
/// Names are written either copied (already-encoded bytes) or as a prefix of labels followed by
/// a compression pointer (RFC 1035 §4.1.4) to a name already in the message — the question's
/// QNAME or the zone apex inside it.
public struct MessageWriter {
    public let buffer: UnsafeMutableRawBufferPointer
    /// Current size limit in bytes; at most `buffer.count`.
    public var limit: Int
    /// Bytes written so far.
    @inlinable public var count: Int { written }
    @usableFromInline var written: Int

    /// - Parameters:
    ///   - buffer: where the message goes; its first `limit` bytes may be written.
    ///   - limit: size limit in bytes; clamped to `buffer.count`.
    @inlinable
    public init(buffer: UnsafeMutableRawBufferPointer, limit: Int) {
        self.buffer = buffer
        self.limit = min(limit, buffer.count)
        self.written = 0
    }

    /// A position to roll back to.
    public struct Mark: Sendable {
        public let count: Int
        @inlinable init(count: Int) { self.count = count }
    }

    @inlinable public var mark: Mark { Mark(count: count) }

    /// Forgets everything written after `mark`.
    @inlinable public mutating func rollback(to mark: Mark) { written = mark.count }

    /// Bytes still available under ``limit``.
    @inlinable public var remaining: Int { limit - count }

    @inlinable
    public mutating func u8(_ v: UInt8) -> Bool {
        guard count + 1 <= limit else { return false }
        buffer[count] = v
        written += 1
        return true
    }

    @inlinable
    public mutating func u16(_ v: UInt16) -> Bool {
        guard count + 2 <= limit else { return false }
        buffer[count] = UInt8(v >> 8)
        buffer[count + 1] = UInt8(truncatingIfNeeded: v)
        written += 2
        return true
    }

    @inlinable
    public mutating func u32(_ v: UInt32) -> Bool {
        guard count + 4 <= limit else { return false }
        buffer[count] = UInt8(v >> 24)
        buffer[count + 1] = UInt8(truncatingIfNeeded: v >> 16)
        buffer[count + 2] = UInt8(truncatingIfNeeded: v >> 8)
        buffer[count + 3] = UInt8(truncatingIfNeeded: v)
        written += 4
        return true
    }

    @inlinable
    public mutating func bytes(_ src: UnsafeRawBufferPointer) -> Bool {
        guard count + src.count <= limit else { return false }
        if src.count > 0 {
            UnsafeMutableRawBufferPointer(rebasing: buffer[count..<count + src.count]).copyMemory(from: src)
        }
        written += src.count
        return true
    }

    @inlinable
    public mutating func bytes(_ src: [UInt8]) -> Bool {
        src.withUnsafeBytes { p in bytes(p) }
    }

    /// Writes a name as `prefix` (encoded labels, no root byte) followed by a compression
    /// pointer to `pointerTarget` (a byte offset < 0x4000 of a name already written), or, when
    /// `pointerTarget` is `nil`, as `prefix` followed by the root byte.
    @inlinable
    public mutating func name(prefix: UnsafeRawBufferPointer, pointerTarget: Int?) -> Bool {
        let tail = pointerTarget == nil ? 1 : 2
        guard count + prefix.count + tail <= limit else { return false }
        _ = bytes(prefix)
        if let t = pointerTarget { return u16(0xC000 | UInt16(t)) }
        return u8(0)
    }

    /// Overwrites a big-endian 16-bit field at `offset` (< ``count``), e.g. a section count
    /// or an RDLENGTH written before its RDATA was known.
    @inlinable
    public mutating func set16(_ v: UInt16, at offset: Int) {
        buffer[offset] = UInt8(v >> 8)
        buffer[offset + 1] = UInt8(truncatingIfNeeded: v)
    }

    /// Overwrites one byte at `offset` (< ``count``).
    @inlinable
    public mutating func set8(_ v: UInt8, at offset: Int) { buffer[offset] = v }

    /// Reads back a big-endian 16-bit value already written.
    @inlinable
    public func get16(at offset: Int) -> UInt16 {
        UInt16(buffer[offset]) << 8 | UInt16(buffer[offset + 1])
    }

    /// Writes the 12-byte header (RFC 1035 §4.1.1).
    @inlinable
    public mutating func header(id: UInt16, flags: UInt16, qd: UInt16 = 0, an: UInt16 = 0,
                                ns: UInt16 = 0, ar: UInt16 = 0) -> Bool {
        guard count + DNSWire.headerSize <= limit else { return false }
        _ = u16(id); _ = u16(flags); _ = u16(qd); _ = u16(an); _ = u16(ns); _ = u16(ar)
        return true
    }

    /// Writes the fixed part of an RR after its owner name: TYPE, CLASS, TTL and a placeholder
    /// RDLENGTH. Returns the RDLENGTH offset for ``finishRData(lengthAt:)``, or `nil` when it
    /// does not fit.
    @inlinable
    public mutating func rrFixed(type: UInt16, rrClass: UInt16, ttl: UInt32) -> Int? {
        guard count + 10 <= limit else { return nil }
        _ = u16(type); _ = u16(rrClass); _ = u32(ttl)
        let at = count
        _ = u16(0)
        return at
    }

    /// Patches RDLENGTH at `offset` to the bytes written since.
    @inlinable
    public mutating func finishRData(lengthAt offset: Int) {
        set16(UInt16(count - offset - 2), at: offset)
    }

    /// Appends an OPT pseudo-RR (RFC 6891 §6.1.2): owner root, CLASS = our UDP payload size,
    /// TTL = extended RCODE (upper 8 bits) | version | DO, an NSID option when `nsid` is
    /// given (RFC 5001 §2.3) and a COOKIE option when `cookie` is (RFC 7873 §4), written in
    /// that order in one pass. Returns `false` without writing when the
    /// ``DNSWire/optSize(nsidLength:cookie:)`` bytes do not fit.
    @inlinable
    public mutating func opt(udpPayloadSize: UInt16, extendedRCode: UInt8, dnssecOK: Bool,
                             nsid: UnsafeRawBufferPointer?, cookie: CookieOption? = nil) -> Bool {
        let size = DNSWire.optSize(nsidLength: nsid?.count, cookie: cookie != nil)
        guard count + size <= limit else { return false }
        _ = u8(0)
        let ttl = UInt32(extendedRCode) << 24 | (dnssecOK ? 0x8000 : 0)
        let rdLength = size - 11
        guard let _ = rrFixed(type: DNSType.opt, rrClass: udpPayloadSize, ttl: ttl) else { return false }
        written -= 2
        _ = u16(UInt16(rdLength))
        if let n = nsid {
            _ = u16(EDNSOptionCode.nsid)
            _ = u16(UInt16(n.count))
            _ = bytes(n)
        }
        if let c = cookie {
            _ = u16(EDNSOptionCode.cookie)
            _ = u16(UInt16(DNSWire.clientCookieLength + DNSWire.serverCookieLength))
            withUnsafeBytes(of: c.client) { _ = bytes($0) }
            withUnsafeBytes(of: c.server) { _ = bytes($0) }
        }
        return true
    }
}

extension DNSWire {
    /// Encoded size in bytes of an OPT RR with an optional NSID option of `nsidLength` bytes
    /// and, when `cookie`, a COOKIE option (``CookieOption/size``).
    @inlinable
    public static func optSize(nsidLength: Int?, cookie: Bool = false) -> Int {
        11 + (nsidLength.map { 4 + $0 } ?? 0) + (cookie ? CookieOption.size : 0)
    }
}
