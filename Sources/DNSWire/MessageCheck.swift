/// Structural checks of DNS messages, written without libldns so the fuzz targets (which are
/// built with sanitizers and link nothing but this package) and the hostile-packet tests share
/// one oracle. Not on the query path: these functions allocate.
public enum MessageCheck {
    /// What a structurally valid message holds.
    public struct Summary: Sendable, Hashable {
        public var header: DNSHeader
        /// The 4-bit RCODE of the header (without an OPT's extended bits).
        public var rcode: UInt8 { UInt8(header.flags & DNSFlags.rcodeMask) }
        /// Bytes of the question section (QNAME, QTYPE, QCLASS) for each question.
        public var questions: [[UInt8]]
        /// TYPE of every record, in order: answer, authority, additional.
        public var types: [UInt16]
        /// Index into ``types`` of each OPT record.
        public var optIndices: [Int]
        /// The OPT's CLASS (UDP payload size) and TTL, when there is exactly one.
        public var optClass: UInt16?
        public var optTTL: UInt32?
    }

    /// Walks a whole message: every name of every section (compression pointers must point
    /// strictly backwards, RFC 1035 §4.1.4; labels ≤ 63 bytes; names ≤ 255 bytes), every
    /// RDLENGTH inside the message, and the sections must end exactly at the message's end.
    /// - Returns: the summary, or a reason why the message is malformed.
    public static func walk(_ m: UnsafeRawBufferPointer) -> Result<Summary, CheckFailure> {
        guard let h = DNSHeader(reading: m) else { return .failure(CheckFailure("shorter than a header")) }
        var pos = DNSWire.headerSize
        var questions: [[UInt8]] = []
        for _ in 0..<Int(h.qdCount) {
            let start = pos
            guard let end = nameEnd(m, at: pos) else { return .failure(CheckFailure("bad QNAME at \(pos)")) }
            pos = end
            guard pos + 4 <= m.count else { return .failure(CheckFailure("question truncated at \(pos)")) }
            pos += 4
            questions.append(Array(m[start..<pos]))
        }
        var types: [UInt16] = []
        var opts: [Int] = []
        var optClass: UInt16? = nil
        var optTTL: UInt32? = nil
        let records = Int(h.anCount) + Int(h.nsCount) + Int(h.arCount)
        for i in 0..<records {
            let owner = pos
            guard let end = nameEnd(m, at: pos) else { return .failure(CheckFailure("bad owner name of RR \(i) at \(pos)")) }
            pos = end
            guard pos + 10 <= m.count else { return .failure(CheckFailure("RR \(i) fixed part truncated at \(pos)")) }
            let type = m.readU16(at: pos)
            let rdLength = Int(m.readU16(at: pos + 8))
            if type == DNSType.opt {
                opts.append(i)
                guard end == owner + 1 else { return .failure(CheckFailure("OPT owner is not the root")) }
                optClass = m.readU16(at: pos + 2)
                optTTL = m.readU32(at: pos + 4)
            }
            types.append(type)
            pos += 10
            guard pos + rdLength <= m.count else { return .failure(CheckFailure("RDATA of RR \(i) runs past the end")) }
            // Names inside RDATA of the types we write must be well formed too.
            if type == DNSType.ns || type == DNSType.soa {
                guard let e1 = nameEnd(m, at: pos), e1 <= pos + rdLength else {
                    return .failure(CheckFailure("bad name in RDATA of RR \(i)"))
                }
                if type == DNSType.soa {
                    guard let e2 = nameEnd(m, at: e1), e2 + 20 == pos + rdLength else {
                        return .failure(CheckFailure("bad SOA RDATA of RR \(i)"))
                    }
                } else {
                    guard e1 == pos + rdLength else { return .failure(CheckFailure("bad NS RDATA of RR \(i)")) }
                }
            } else if type == DNSType.txt {
                var t = pos
                while t < pos + rdLength { t += 1 + Int(m[t]) }
                guard t == pos + rdLength, rdLength > 0 else { return .failure(CheckFailure("TXT strings do not fill RDATA of RR \(i)")) }
            } else if type == DNSType.a {
                guard rdLength == 4 else { return .failure(CheckFailure("A RDATA of \(rdLength) bytes")) }
            }
            pos += rdLength
        }
        guard pos == m.count else { return .failure(CheckFailure("\(m.count - pos) bytes after the last section")) }
        if opts.count != 1 { optClass = nil; optTTL = nil }
        return .success(Summary(header: h, questions: questions, types: types, optIndices: opts,
                                optClass: optClass, optTTL: optTTL))
    }

    /// Why a message failed a check.
    public struct CheckFailure: Error, Sendable, Hashable, CustomStringConvertible {
        public var reason: String
        public init(_ reason: String) { self.reason = reason }
        public var description: String { reason }
    }

    /// The offset after the name at `offset` (a pointer ends it), or `nil` when the name is
    /// malformed: a pointer not strictly backwards or out of bounds, a label type 01/10, a label
    /// over 63 bytes, more than 255 bytes once expanded, or the message ending inside it.
    public static func nameEnd(_ m: UnsafeRawBufferPointer, at offset: Int) -> Int? {
        var pos = offset
        var end: Int? = nil
        var expanded = 0
        var hops = 0
        while true {
            guard pos < m.count else { return nil }
            let len = Int(m[pos])
            if len & 0xC0 == 0xC0 {
                guard pos + 2 <= m.count else { return nil }
                let target = Int(m.readU16(at: pos) & 0x3FFF)
                guard target < pos, hops < 128 else { return nil }
                if end == nil { end = pos + 2 }
                pos = target
                hops += 1
                continue
            }
            guard len & 0xC0 == 0, len <= DNSWire.maxLabelLength else { return nil }
            expanded += 1 + len
            guard expanded <= DNSWire.maxNameLength else { return nil }
            if len == 0 { return end ?? pos + 1 }
            pos += 1 + len
        }
    }

    /// Checks `response` as the answer to `query` over `transport`-like limits
    /// (`sizeLimit` bytes: 512 or the negotiated EDNS size for UDP, 65535 for TCP):
    /// - nothing for a QR=1 query or one shorter than a header, something for everything else;
    /// - ID echoed, QR set, OPCODE and RD echoed;
    /// - OPCODE ≠ 0: NOTIMP, header only; unreadable body: FORMERR, header only;
    /// - otherwise exactly one question, byte-identical to the query's (0x20 case kept), one OPT
    ///   last in the additional section exactly when the query had one, TC=1 only with empty
    ///   answer and authority sections (RFC 2181 §9), the whole message well formed.
    /// - Returns: `nil` when all hold, else the first broken rule.
    public static func response(_ r: UnsafeRawBufferPointer, to q: UnsafeRawBufferPointer,
                                sizeLimit: Int) -> String? {
        guard let qh = DNSHeader(reading: q), !qh.isResponse else {
            return r.count == 0 ? nil : "answered a message that must get no reply"
        }
        guard r.count > 0 else { return "no reply to a query with a readable header" }
        guard r.count <= sizeLimit else { return "reply of \(r.count) bytes over the limit \(sizeLimit)" }
        let s: Summary
        switch walk(r) {
        case .success(let x): s = x
        case .failure(let f): return "malformed reply: \(f.reason)"
        }
        let h = s.header
        guard h.id == qh.id else { return "ID not echoed" }
        guard h.isResponse else { return "QR not set" }
        guard h.opcode == qh.opcode else { return "OPCODE not echoed" }
        guard h.flags & DNSFlags.rd == qh.flags & DNSFlags.rd else { return "RD not echoed" }
        if qh.opcode != 0 {
            guard s.rcode == UInt8(DNSRCode.notImp), r.count == DNSWire.headerSize else { return "OPCODE \(qh.opcode) not NOTIMP" }
            return nil
        }
        let parsed: ParsedQuery
        do {
            parsed = try DNSWire.parseQuery(q)
        } catch {
            guard s.rcode == UInt8(DNSRCode.formErr), r.count == DNSWire.headerSize else {
                return "unreadable query (\(error)) not answered FORMERR"
            }
            return nil
        }
        guard s.questions.count == 1, s.questions[0] == Array(q[parsed.qnameOffset..<parsed.questionEnd]) else {
            return "QUESTION not echoed byte for byte"
        }
        if parsed.edns != nil {
            guard s.optIndices.count == 1, s.optIndices[0] == s.types.count - 1,
                  s.optIndices[0] >= Int(h.anCount) + Int(h.nsCount) else { return "OPT missing or misplaced" }
        } else {
            guard s.optIndices.isEmpty else { return "OPT in a reply to a query without one" }
        }
        if h.flags & DNSFlags.tc != 0 {
            guard h.anCount == 0, h.nsCount == 0 else { return "TC=1 with records (partial RRset)" }
        }
        let rcode = s.rcode
        if rcode == UInt8(DNSRCode.nxDomain) && h.anCount != 0 { return "NXDOMAIN with answers" }
        return nil
    }

    /// Re-encodes what ``DNSWire/parseQuery(_:)`` read from a query: the same header flags and
    /// ID, the question bytes, and an OPT with the same payload size, extended RCODE, version,
    /// DO bit and (empty) NSID option. Answer, authority and other additional records are left
    /// out: the responder ignores them, so the canonical query must get the very same reply.
    public static func canonicalQuery(_ p: ParsedQuery, from q: UnsafeRawBufferPointer) -> [UInt8] {
        var out: [UInt8] = []
        func u16(_ v: UInt16) { out.append(UInt8(v >> 8)); out.append(UInt8(truncatingIfNeeded: v)) }
        u16(p.header.id); u16(p.header.flags); u16(1); u16(0); u16(0); u16(p.edns == nil ? 0 : 1)
        out.append(contentsOf: q[p.qnameOffset..<p.questionEnd])
        if let e = p.edns {
            out.append(0)
            u16(DNSType.opt); u16(e.udpPayloadSize)
            let ttl = UInt32(e.extendedRCode) << 24 | UInt32(e.version) << 16 | (e.dnssecOK ? 0x8000 : 0)
            u16(UInt16(ttl >> 16)); u16(UInt16(truncatingIfNeeded: ttl))
            if e.nsidRequested { u16(4); u16(EDNSOptionCode.nsid); u16(0) } else { u16(0) }
        }
        return out
    }
}

extension ParsedQuery: Equatable {
    public static func == (a: ParsedQuery, b: ParsedQuery) -> Bool {
        a.header.id == b.header.id && a.header.flags == b.header.flags && a.qnameOffset == b.qnameOffset
            && a.qnameLength == b.qnameLength && a.labelCount == b.labelCount && a.qtype == b.qtype
            && a.qclass == b.qclass && a.edns == b.edns
    }
}
