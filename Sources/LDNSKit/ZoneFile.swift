import CLDNS
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One resource record in wire parts, as libldns read it.
public struct WireRR: Sendable, Hashable {
    /// Owner, uncompressed wire form, lower-cased.
    public var owner: [UInt8]
    public var type: UInt16
    public var rrClass: UInt16
    /// Seconds.
    public var ttl: UInt32
    /// RDATA, wire form.
    public var rdata: [UInt8]
}

/// Master-file (RFC 1035 §5) formatting and parsing through libldns.
public enum ZoneFile {
    /// One RR parsed from its uncompressed wire form with `ldns_wire2rr`, and the bytes it took;
    /// the caller frees it (`ldns_rr_free`). `input` names the RR in the error.
    static func rr(wire: [UInt8], input: String) throws(LDNSError) -> (rr: UnsafeMutablePointer<ldns_rr>, end: Int) {
        var rr: UnsafeMutablePointer<ldns_rr>? = nil
        var pos = 0
        let status = wire.withUnsafeBufferPointer { p in
            ldns_wire2rr(&rr, p.baseAddress, p.count, &pos, LDNS_SECTION_ANSWER)
        }
        guard status == LDNS_STATUS_OK, let p = rr else {
            throw LDNSError(status: Int32(status.rawValue),
                            reason: String(cString: ldns_get_errorstr_by_id(status)), input: input)
        }
        return (p, pos)
    }

    /// Presentation text of one RR given in wire form (owner, type, class, TTL, RDLENGTH,
    /// RDATA, no compression), as `ldns_rr2str` prints it, without the trailing newline.
    /// libldns parses the RDATA by the type's field layout first, so a malformed record fails
    /// here rather than in a secondary.
    /// - Throws: ``LDNSError`` with the ldns status when the wire form does not parse or
    ///   does not fill exactly `wire.count` bytes.
    public static func presentation(wire: [UInt8]) throws(LDNSError) -> String {
        let (p, pos) = try rr(wire: wire, input: "\(wire)")
        defer { ldns_rr_free(p) }
        guard pos == wire.count else {
            throw LDNSError(status: 0, reason: "RR wire form has \(wire.count - pos) trailing bytes",
                            input: "\(wire)")
        }
        guard let c = ldns_rr2str(p) else {
            throw LDNSError(status: 0, reason: "ldns_rr2str failed", input: "\(wire)")
        }
        defer { free(c) }
        var s = String(cString: c)
        while s.last == "\n" { s.removeLast() }
        return s
    }

    /// Parses one RR from presentation text (absolute names).
    /// - Throws: ``LDNSError`` with the ldns status and the text.
    public static func parse(_ text: String) throws(LDNSError) -> WireRR {
        var rr: UnsafeMutablePointer<ldns_rr>? = nil
        let status = ldns_rr_new_frm_str(&rr, text, 0, nil, nil)
        guard status == LDNS_STATUS_OK, let p = rr else {
            throw LDNSError(status: Int32(status.rawValue),
                            reason: String(cString: ldns_get_errorstr_by_id(status)), input: text)
        }
        defer { ldns_rr_free(p) }
        return try wireParts(p, input: text)
    }

    /// Reads a master file with `ldns_zone_new_frm_fp`: the SOA first, then every other RR.
    /// - Throws: ``LDNSError`` naming the path and line libldns stopped at.
    public static func load(path: String) throws(LDNSError) -> [WireRR] {
        guard let fp = fopen(path, "r") else {
            throw LDNSError(status: 0, reason: "cannot open", input: path)
        }
        defer { fclose(fp) }
        var zone: UnsafeMutablePointer<ldns_zone>? = nil
        var line: Int32 = 0
        let status = ldns_zone_new_frm_fp_l(&zone, fp, nil, 3600, LDNS_RR_CLASS_IN, &line)
        guard status == LDNS_STATUS_OK, let z = zone else {
            throw LDNSError(status: Int32(status.rawValue),
                            reason: String(cString: ldns_get_errorstr_by_id(status)) + " at line \(line)",
                            input: path)
        }
        defer { ldns_zone_deep_free(z) }
        var out: [WireRR] = []
        if let soa = ldns_zone_soa(z) { out.append(try wireParts(soa, input: path)) }
        let list = ldns_zone_rrs(z)
        for i in 0..<ldns_rr_list_rr_count(list) {
            out.append(try wireParts(ldns_rr_list_rr(list, i), input: path))
        }
        return out
    }

    static func wireParts(_ rr: UnsafeMutablePointer<ldns_rr>?, input: String) throws(LDNSError) -> WireRR {
        var buf: UnsafeMutablePointer<UInt8>? = nil
        var size = 0
        let status = ldns_rr2wire(&buf, rr, Int32(LDNS_SECTION_ANSWER.rawValue), &size)
        guard status == LDNS_STATUS_OK, let b = buf else {
            throw LDNSError(status: Int32(status.rawValue),
                            reason: String(cString: ldns_get_errorstr_by_id(status)), input: input)
        }
        defer { free(b) }
        let w = Array(UnsafeBufferPointer(start: b, count: size))
        var i = 0
        while i < w.count && w[i] != 0 { i += 1 + Int(w[i]) }
        i += 1
        guard i + 10 <= w.count else { throw LDNSError(status: 0, reason: "short RR wire", input: input) }
        // Lower-case label bytes, never length bytes.
        var lowered = Array(w[0..<i])
        var j = 0
        while j < i && w[j] != 0 {
            let n = Int(w[j])
            for k in (j + 1)..<min(i, j + 1 + n) where lowered[k] >= 65 && lowered[k] <= 90 { lowered[k] |= 0x20 }
            j += 1 + n
        }
        func u16(_ o: Int) -> UInt16 { UInt16(w[o]) << 8 | UInt16(w[o + 1]) }
        let ttl = UInt32(u16(i + 4)) << 16 | UInt32(u16(i + 6))
        let n = Int(u16(i + 8))
        return WireRR(owner: lowered, type: u16(i), rrClass: u16(i + 2), ttl: ttl,
                      rdata: Array(w[(i + 10)..<min(w.count, i + 10 + n)]))
    }
}
