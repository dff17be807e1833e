/// The fixed 12-byte header of a DNS message (RFC 1035 §4.1.1).
public struct DNSHeader: Sendable, Hashable {
    public var id: UInt16
    /// The whole flags word: QR, OPCODE, AA, TC, RD, RA, Z, AD, CD, RCODE.
    public var flags: UInt16
    public var qdCount: UInt16
    public var anCount: UInt16
    public var nsCount: UInt16
    public var arCount: UInt16

    public init(id: UInt16, flags: UInt16, qdCount: UInt16, anCount: UInt16, nsCount: UInt16,
                arCount: UInt16) {
        self.id = id; self.flags = flags; self.qdCount = qdCount
        self.anCount = anCount; self.nsCount = nsCount; self.arCount = arCount
    }

    /// Reads the header, or `nil` when `buffer` is shorter than 12 bytes (unreadable: the
    /// server sends nothing, as it cannot even address a reply).
    @inlinable
    public init?(reading buffer: UnsafeRawBufferPointer) {
        guard buffer.count >= DNSWire.headerSize else { return nil }
        id = buffer.readU16(at: 0)
        flags = buffer.readU16(at: 2)
        qdCount = buffer.readU16(at: 4)
        anCount = buffer.readU16(at: 6)
        nsCount = buffer.readU16(at: 8)
        arCount = buffer.readU16(at: 10)
    }

    /// QR: the message is a response.
    @inlinable public var isResponse: Bool { flags & DNSFlags.qr != 0 }
    /// OPCODE, 4 bits (0 = QUERY).
    @inlinable public var opcode: UInt8 { UInt8((flags & DNSFlags.opcodeMask) >> 11) }
}

/// What a query's OPT record said (RFC 6891 §6.1.2–§6.1.3, NSID RFC 5001 §2.1).
public struct EDNSInfo: Sendable, Hashable {
    /// Requestor's UDP payload size in bytes, as sent (values below 512 are kept as sent; the
    /// responder treats them as 512, RFC 6891 §6.2.5).
    public var udpPayloadSize: UInt16
    /// Upper 8 bits of the extended RCODE (should be 0 in a query).
    public var extendedRCode: UInt8
    /// EDNS version; anything above 0 gets BADVERS.
    public var version: UInt8
    /// DO bit (RFC 3225).
    public var dnssecOK: Bool
    /// The query carried an NSID option (RFC 5001 §2.1; its payload is empty in queries).
    public var nsidRequested: Bool

    public init(udpPayloadSize: UInt16, extendedRCode: UInt8, version: UInt8, dnssecOK: Bool,
                nsidRequested: Bool) {
        self.udpPayloadSize = udpPayloadSize; self.extendedRCode = extendedRCode
        self.version = version; self.dnssecOK = dnssecOK; self.nsidRequested = nsidRequested
    }
}

/// A parsed query: the header, the one question located in the caller's buffer, and the OPT.
/// Offsets are byte offsets into the buffer that was parsed.
public struct ParsedQuery: Sendable {
    public var header: DNSHeader
    /// Offset of QNAME's first length byte (always 12).
    public var qnameOffset: Int
    /// Encoded QNAME length in bytes including the root label (1…255).
    public var qnameLength: Int
    /// Number of labels in QNAME, root not counted (0 for the root name).
    public var labelCount: Int
    public var qtype: UInt16
    public var qclass: UInt16
    /// Offset just past the question (QNAME, QTYPE, QCLASS).
    public var questionEnd: Int
    /// The OPT record's content, or `nil` when the query had none.
    public var edns: EDNSInfo?
    /// Offset of the OPT record's owner name (its first byte), or -1 without an OPT.
    public var optOffset = -1
    /// Offset of the COOKIE option's data (the client cookie, RFC 7873 §4) inside the OPT, or
    /// -1 when the OPT carries none; its length is ``cookieLength``.
    public var cookieOffset = -1
    /// Length in bytes of the COOKIE option's data (8 = client cookie only; the answer path
    /// decides whether the length is valid, RFC 7873 §5.2.2).
    public var cookieLength = 0
    /// Offset of the Padding option's data (RFC 7830) inside the OPT, or -1 when none.
    public var paddingOffset = -1
    /// Offset of the TSIG record's owner name (RFC 8945, type 250), or -1 when the message has
    /// none: the server checks it and signs the answer. Noted here so unsigned queries cost no
    /// second walk, and a signed one is not searched for its TSIG again.
    public var tsigOffset = -1

    /// A TSIG record (RFC 8945, type 250) was among the records.
    @inlinable public var hasTSIG: Bool { tsigOffset >= 0 }
    /// The COOKIE option was present (whatever its length).
    @inlinable public var hasCookie: Bool { cookieOffset >= 0 }

    @inlinable
    public init(header: DNSHeader, qnameOffset: Int, qnameLength: Int, labelCount: Int,
                qtype: UInt16, qclass: UInt16, questionEnd: Int, edns: EDNSInfo?) {
        self.header = header; self.qnameOffset = qnameOffset; self.qnameLength = qnameLength
        self.labelCount = labelCount; self.qtype = qtype; self.qclass = qclass
        self.questionEnd = questionEnd; self.edns = edns
    }
}

/// Why a query could not be read; every case is answered FORMERR (RFC 1035 §4.1.1).
public struct WireError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// QDCOUNT is not 1.
        case questionCount
        /// The message ends inside a name, a record or an option.
        case truncated
        /// A label length byte with the top bits 01 or 10 (RFC 6891 §5: extended label types
        /// are not used), or a name longer than 255 bytes.
        case badName
        /// A compression pointer inside the QNAME. Queries carry one uncompressed question;
        /// refusing pointers there keeps the reader free of loops (decision documented in
        /// the DNSBL answer-rules article).
        case compressedQName
        /// More than one OPT, an OPT outside the additional section, an OPT whose owner is not
        /// the root, or options overrunning RDLENGTH (RFC 6891 §6.1.1, §7).
        case badOPT
    }
    public var code: Code
    /// Byte offset in the query where the problem was found.
    public var offset: Int
    public init(_ code: Code, at offset: Int) { self.code = code; self.offset = offset }
    public var description: String { "\(code.rawValue) at byte \(offset)" }
}

extension UnsafeRawBufferPointer {
    /// Big-endian 16-bit read; the caller has checked bounds.
    @inlinable
    public func readU16(at offset: Int) -> UInt16 {
        UInt16(self[offset]) << 8 | UInt16(self[offset + 1])
    }

    /// Big-endian 32-bit read; the caller has checked bounds.
    @inlinable
    public func readU32(at offset: Int) -> UInt32 {
        UInt32(self[offset]) << 24 | UInt32(self[offset + 1]) << 16
            | UInt32(self[offset + 2]) << 8 | UInt32(self[offset + 3])
    }
}

/// Receives the QNAME labels of ``DNSWire/readQuery(_:labels:)`` as the reader meets them.
public protocol QNameLabelVisitor {
    /// One label: its length byte at `offset` of `buffer`, `length` bytes (1…63) following
    /// it, all readable.
    mutating func label(_ buffer: UnsafeRawBufferPointer, offset: Int, length: Int)
    /// Four one-byte labels in a row starting at `offset`: `word` holds their 8 bytes as a
    /// little-endian integer (length bytes, all 1, in bytes 0, 2, 4, 6; the label bytes in 1,
    /// 3, 5, 7). The default hands them to ``label(_:offset:length:)`` one by one.
    mutating func fourOneByteLabels(_ buffer: UnsafeRawBufferPointer, offset: Int, word: UInt64)
}

extension QNameLabelVisitor {
    @inlinable
    public mutating func fourOneByteLabels(_ buffer: UnsafeRawBufferPointer, offset: Int, word: UInt64) {
        label(buffer, offset: offset, length: 1)
        label(buffer, offset: offset &+ 2, length: 1)
        label(buffer, offset: offset &+ 4, length: 1)
        label(buffer, offset: offset &+ 6, length: 1)
    }
}

/// A visitor that takes nothing (plain ``DNSWire/readQuery(_:)``).
public struct IgnoreLabels: QNameLabelVisitor {
    @inlinable public init() {}
    @inlinable public mutating func label(_ buffer: UnsafeRawBufferPointer, offset: Int, length: Int) {}
    @inlinable public mutating func fourOneByteLabels(_ buffer: UnsafeRawBufferPointer, offset: Int, word: UInt64) {}
}

extension DNSWire {
    /// Parses a query: header, exactly one question, and the OPT record of the additional
    /// section (RFC 1035 §4.1, RFC 6891 §6). Answer/authority records and non-OPT additional
    /// records are skipped with bounds checks (their names may be compressed; a pointer ends a
    /// name, so skipping cannot loop). Allocates nothing.
    ///
    /// The caller checks QR and OPCODE first; this reads the body of an OPCODE 0 message.
    /// - Throws: ``WireError`` for anything that must be answered FORMERR.
    @inlinable
    public static func parseQuery(_ buffer: UnsafeRawBufferPointer) throws(WireError) -> ParsedQuery {
        switch readQuery(buffer) {
        case .success(let q): return q
        case .failure(let e): throw e
        }
    }

    /// ``parseQuery(_:)`` returning a `Result`: the form the answer path uses, because a
    /// thrown error caught in an untyped context is boxed (a heap allocation per bad query).
    @inlinable
    public static func readQuery(_ buffer: UnsafeRawBufferPointer) -> Result<ParsedQuery, WireError> {
        var none = IgnoreLabels()
        return readQuery(buffer, labels: &none)
    }

    /// ``readQuery(_:)`` handing each QNAME label to `visitor` as the walk meets it, left to
    /// right, root label excluded. A caller that needs something from the name (the answer
    /// path: the zone apex and the address the labels spell) takes it in this one walk instead
    /// of walking the name again. Labels of a query that then fails are handed over too; the
    /// caller discards what it gathered on `.failure`. Generic rather than a closure so that
    /// the visitor is inlined into the loop.
    @inlinable
    public static func readQuery<V: QNameLabelVisitor>(_ buffer: UnsafeRawBufferPointer,
                                                       labels eachLabel: inout V) -> Result<ParsedQuery, WireError> {
        guard let header = DNSHeader(reading: buffer) else { return .failure(WireError(.truncated, at: 0)) }
        guard header.qdCount == 1 else { return .failure(WireError(.questionCount, at: 4)) }
        return readMessage(buffer, labels: &eachLabel)
    }

    /// The one walk over a query message: ``readQuery(_:labels:)`` that also takes a message
    /// without a question (QDCOUNT 0: RFC 7873 §5.4, a client asking only for a server
    /// cookie), returned with `qnameLength` 0, `qtype` and `qclass` 0 and `questionEnd` 12.
    /// Besides the header, the question and the OPT's content it notes where the OPT, the
    /// COOKIE and Padding options and a TSIG record are (``ParsedQuery/optOffset`` and the
    /// others), so that no later step walks the message again. Allocates nothing.
    /// - Returns: `.failure` for anything that must be answered FORMERR: QDCOUNT above 1
    ///   (`.questionCount`), a name or record cut short, a bad OPT (``WireError``).
    @inlinable
    public static func readMessage<V: QNameLabelVisitor>(_ buffer: UnsafeRawBufferPointer,
                                                         labels eachLabel: inout V) -> Result<ParsedQuery, WireError> {
        guard let header = DNSHeader(reading: buffer) else { return .failure(WireError(.truncated, at: 0)) }
        guard header.qdCount <= 1 else { return .failure(WireError(.questionCount, at: 4)) }
        var pos = headerSize
        var labels = 0
        var qtype: UInt16 = 0
        var qclass: UInt16 = 0
        if header.qdCount == 1 {
            while true {
                // Four one-byte labels in a row (reverse-DNS and DNSBL names: a nibble or a digit
                // each) are taken with one 8-byte load when the name stays under 255 bytes and the
                // next length byte is there; anything else goes through the label-by-label checks.
                while pos &+ 8 < buffer.count && pos &+ 8 &- headerSize < maxNameLength {
                    let w = UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: pos, as: UInt64.self))
                    guard w & 0x00FF_00FF_00FF_00FF == 0x0001_0001_0001_0001 else { break }
                    eachLabel.fourOneByteLabels(buffer, offset: pos, word: w)
                    pos &+= 8
                    labels &+= 4
                }
                guard pos < buffer.count else { return .failure(WireError(.truncated, at: pos)) }
                let len = Int(buffer[pos])
                if len == 0 { pos &+= 1; break }
                if len & 0xC0 == 0xC0 { return .failure(WireError(.compressedQName, at: pos)) }
                if len & 0xC0 != 0 { return .failure(WireError(.badName, at: pos)) }
                let next = pos &+ 1 &+ len
                guard next &- headerSize < maxNameLength else { return .failure(WireError(.badName, at: next)) }
                // The label's bytes and the next length byte must be there before the caller reads
                // the label: the error the next turn of the loop would report.
                guard next < buffer.count else { return .failure(WireError(.truncated, at: next)) }
                eachLabel.label(buffer, offset: pos, length: len)
                pos = next
                labels &+= 1
            }
            guard pos + 4 <= buffer.count else { return .failure(WireError(.truncated, at: pos)) }
            qtype = buffer.readU16(at: pos)
            qclass = buffer.readU16(at: pos + 2)
            pos += 4
        }
        let qnameLength = header.qdCount == 1 ? pos - 4 - headerSize : 0
        let questionEnd = pos

        var edns: EDNSInfo? = nil
        var optOffset = -1, cookieOffset = -1, cookieLength = 0, paddingOffset = -1, tsigOffset = -1
        let nonAdditional = Int(header.anCount) + Int(header.nsCount)
        let total = nonAdditional + Int(header.arCount)
        var index = 0
        while index < total {
            let ownerStart = pos
            switch nameEnd(buffer, at: pos) {
            case .success(let end): pos = end
            case .failure(let e): return .failure(e)
            }
            let ownerIsRoot = pos == ownerStart + 1
            guard pos + 10 <= buffer.count else { return .failure(WireError(.truncated, at: pos)) }
            let type = buffer.readU16(at: pos)
            let rrClass = buffer.readU16(at: pos + 2)
            let ttl = buffer.readU32(at: pos + 4)
            let rdLength = Int(buffer.readU16(at: pos + 8))
            let rdStart = pos + 10
            guard rdStart + rdLength <= buffer.count else { return .failure(WireError(.truncated, at: rdStart)) }
            if type == DNSType.opt {
                guard index >= nonAdditional, edns == nil, ownerIsRoot else {
                    return .failure(WireError(.badOPT, at: ownerStart))
                }
                var nsid = false
                var o = rdStart
                let end = rdStart + rdLength
                while o < end {
                    guard o + 4 <= end else { return .failure(WireError(.badOPT, at: o)) }
                    let code = buffer.readU16(at: o)
                    let len = Int(buffer.readU16(at: o + 2))
                    guard o + 4 + len <= end else { return .failure(WireError(.badOPT, at: o)) }
                    if code == EDNSOptionCode.nsid {
                        nsid = true
                    } else if code == EDNSOptionCode.cookie && cookieOffset < 0 {
                        cookieOffset = o + 4
                        cookieLength = len
                    } else if code == EDNSOptionCode.padding {
                        paddingOffset = o + 4
                    }
                    o += 4 + len
                }
                optOffset = ownerStart
                edns = EDNSInfo(udpPayloadSize: rrClass, extendedRCode: UInt8(ttl >> 24),
                                version: UInt8(truncatingIfNeeded: ttl >> 16),
                                dnssecOK: ttl & 0x8000 != 0, nsidRequested: nsid)
            }
            if type == DNSType.tsig && tsigOffset < 0 { tsigOffset = ownerStart }
            pos = rdStart + rdLength
            index += 1
        }
        var parsed = ParsedQuery(header: header, qnameOffset: headerSize, qnameLength: qnameLength,
                                 labelCount: labels, qtype: qtype, qclass: qclass,
                                 questionEnd: questionEnd, edns: edns)
        parsed.optOffset = optOffset
        parsed.cookieOffset = cookieOffset
        parsed.cookieLength = cookieLength
        parsed.paddingOffset = paddingOffset
        parsed.tsigOffset = tsigOffset
        return .success(parsed)
    }

    /// Skips an encoded name at `offset` and returns the offset after it. A compression
    /// pointer ends the name (two bytes) and is not followed, so this cannot loop.
    /// - Throws: ``WireError`` `.truncated` or `.badName`.
    @inlinable
    public static func skipName(_ buffer: UnsafeRawBufferPointer, at offset: Int) throws(WireError) -> Int {
        try nameEnd(buffer, at: offset).get()
    }

    /// ``skipName(_:at:)`` returning a `Result`.
    @inlinable
    public static func nameEnd(_ buffer: UnsafeRawBufferPointer, at offset: Int) -> Result<Int, WireError> {
        var pos = offset
        while true {
            // Four one-byte labels at a time, as in the question reader.
            while pos &+ 8 < buffer.count && pos &+ 8 &- offset < maxNameLength
                    && UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: pos, as: UInt64.self))
                        & 0x00FF_00FF_00FF_00FF == 0x0001_0001_0001_0001 {
                pos &+= 8
            }
            guard pos < buffer.count else { return .failure(WireError(.truncated, at: pos)) }
            let len = Int(buffer[pos])
            if len == 0 { return .success(pos + 1) }
            if len & 0xC0 == 0xC0 {
                guard pos + 2 <= buffer.count else { return .failure(WireError(.truncated, at: pos)) }
                return .success(pos + 2)
            }
            if len & 0xC0 != 0 { return .failure(WireError(.badName, at: pos)) }
            pos += 1 + len
            guard pos - offset < maxNameLength else { return .failure(WireError(.badName, at: pos)) }
        }
    }
}
