import CLDNS

/// One resource record of a parsed packet, as Swift values.
public struct PacketRecord: Sendable, Hashable, CustomStringConvertible {
    /// Owner in presentation form with the case as received, e.g. `A.0.…bl.example.`.
    public var owner: String
    /// Owner in uncompressed wire form, case as received.
    public var ownerWire: [UInt8]
    public var type: UInt16
    public var rrClass: UInt16
    /// TTL in seconds (0 for question entries).
    public var ttl: UInt32
    /// RDATA fields as libldns splits them (a TXT field is one character-string *with* its
    /// length byte; a domain name field is its uncompressed wire form).
    public var rdataFields: [[UInt8]]
    /// RDATA fields in presentation form (ldns_rdf2str), e.g. `"127.0.0.2"`, `"\"text\""`.
    public var rdataText: [String]

    /// For A: the address as a host-order integer.
    public var aValue: UInt32? {
        guard type == 1, rdataFields.count == 1, rdataFields[0].count == 4 else { return nil }
        return rdataFields[0].reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// For TXT: the character-strings without their length bytes.
    public var txtStrings: [[UInt8]] {
        rdataFields.map { Array($0.dropFirst()) }
    }

    /// For TXT: all character-strings concatenated (how mail software reads a TXT).
    public var txtJoined: String {
        String(decoding: txtStrings.joined(), as: UTF8.self)
    }

    public var description: String {
        "\(owner) \(ttl) \(rrClass) \(type) \(rdataText.joined(separator: " "))"
    }
}

/// A DNS message parsed by libldns (`ldns_wire2pkt`), for checking our wire output in tests
/// and in the `query` client. Owns its `ldns_pkt`; values are copied out on init so nothing of
/// libldns escapes.
public final class Packet: @unchecked Sendable {
    private let pkt: UnsafeMutablePointer<ldns_pkt>
    /// The bytes parsed.
    public let wire: [UInt8]

    /// Parses `wire` with `ldns_wire2pkt`.
    /// - Throws: ``LDNSError`` when libldns rejects the message.
    public init(wire: [UInt8]) throws(LDNSError) {
        var p: UnsafeMutablePointer<ldns_pkt>? = nil
        let status = wire.withUnsafeBufferPointer { ldns_wire2pkt(&p, $0.baseAddress, $0.count) }
        guard status == LDNS_STATUS_OK, let pkt = p else {
            throw LDNSError(status: Int32(status.rawValue),
                            reason: String(cString: ldns_get_errorstr_by_id(status)), input: "wire message")
        }
        self.pkt = pkt
        self.wire = wire
    }

    deinit { ldns_pkt_free(pkt) }

    public var id: UInt16 { ldns_pkt_id(pkt) }
    public var qr: Bool { ldns_pkt_qr(pkt) }
    public var aa: Bool { ldns_pkt_aa(pkt) }
    public var tc: Bool { ldns_pkt_tc(pkt) }
    public var rd: Bool { ldns_pkt_rd(pkt) }
    public var ra: Bool { ldns_pkt_ra(pkt) }
    public var ad: Bool { ldns_pkt_ad(pkt) }
    public var cd: Bool { ldns_pkt_cd(pkt) }
    /// OPCODE, 4 bits.
    public var opcode: UInt8 { UInt8(ldns_pkt_get_opcode(pkt).rawValue) }
    /// The header's 4-bit RCODE.
    public var rcode: UInt8 { UInt8(ldns_pkt_get_rcode(pkt).rawValue) }
    /// The full 12-bit RCODE: OPT's extended bits above the header's (RFC 6891 §6.1.3).
    public var extendedRCode: UInt16 {
        UInt16(rcode) | (hasOPT ? UInt16(ldns_pkt_edns_extended_rcode(pkt)) << 4 : 0)
    }

    /// Section counts as written in the header on the wire (ARCOUNT includes the OPT).
    public var qdcount: Int { Int(wireU16(4)) }
    public var ancount: Int { Int(wireU16(6)) }
    public var nscount: Int { Int(wireU16(8)) }
    public var arcount: Int { Int(wireU16(10)) }

    private func wireU16(_ o: Int) -> UInt16 {
        wire.count >= o + 2 ? UInt16(wire[o]) << 8 | UInt16(wire[o + 1]) : 0
    }

    public var question: [PacketRecord] { Self.records(ldns_pkt_question(pkt)) }
    public var answer: [PacketRecord] { Self.records(ldns_pkt_answer(pkt)) }
    public var authority: [PacketRecord] { Self.records(ldns_pkt_authority(pkt)) }
    /// The additional section without the OPT (libldns takes it out into the EDNS fields).
    public var additional: [PacketRecord] { Self.records(ldns_pkt_additional(pkt)) }

    /// Whether the message carries an OPT RR: ARCOUNT on the wire exceeds the non-OPT records.
    public var hasOPT: Bool { arcount > additional.count }
    /// OPT CLASS: the sender's UDP payload size in bytes.
    public var ednsUDPSize: UInt16 { ldns_pkt_edns_udp_size(pkt) }
    public var ednsVersion: UInt8 { ldns_pkt_edns_version(pkt) }
    public var ednsDO: Bool { ldns_pkt_edns_do(pkt) }
    /// OPT options as (code, data), in order.
    public var ednsOptions: [(code: UInt16, data: [UInt8])] {
        guard let rdf = ldns_pkt_edns_data(pkt) else { return [] }
        let d = Array(UnsafeBufferPointer(start: ldns_rdf_data(rdf), count: ldns_rdf_size(rdf)))
        var out: [(UInt16, [UInt8])] = []
        var i = 0
        while i + 4 <= d.count {
            let code = UInt16(d[i]) << 8 | UInt16(d[i + 1])
            let len = Int(UInt16(d[i + 2]) << 8 | UInt16(d[i + 3]))
            guard i + 4 + len <= d.count else { break }
            out.append((code, Array(d[(i + 4)..<(i + 4 + len)])))
            i += 4 + len
        }
        return out
    }

    /// The whole packet in dig-like presentation form (`ldns_pkt2str`).
    public var text: String {
        guard let s = ldns_pkt2str(pkt) else { return "" }
        defer { cldns_free(s) }
        return String(cString: s)
    }

    private static func rdfString(_ rdf: UnsafeMutablePointer<ldns_rdf>?) -> String {
        guard let rdf, let s = ldns_rdf2str(rdf) else { return "" }
        defer { cldns_free(s) }
        return String(cString: s)
    }

    private static func records(_ list: UnsafeMutablePointer<ldns_rr_list>?) -> [PacketRecord] {
        guard let list else { return [] }
        var out: [PacketRecord] = []
        for i in 0..<ldns_rr_list_rr_count(list) {
            guard let rr = ldns_rr_list_rr(list, i) else { continue }
            let owner = ldns_rr_owner(rr)
            let ownerWire = owner.map { Array(UnsafeBufferPointer(start: ldns_rdf_data($0), count: ldns_rdf_size($0))) } ?? []
            var fields: [[UInt8]] = []
            var texts: [String] = []
            for k in 0..<ldns_rr_rd_count(rr) {
                guard let f = ldns_rr_rdf(rr, k) else { continue }
                fields.append(Array(UnsafeBufferPointer(start: ldns_rdf_data(f), count: ldns_rdf_size(f))))
                texts.append(rdfString(f))
            }
            out.append(PacketRecord(owner: rdfString(owner), ownerWire: ownerWire,
                                    type: UInt16(ldns_rr_get_type(rr).rawValue),
                                    rrClass: UInt16(ldns_rr_get_class(rr).rawValue),
                                    ttl: ldns_rr_ttl(rr), rdataFields: fields, rdataText: texts))
        }
        return out
    }
}
