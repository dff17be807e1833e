import CLDNS

/// RDATA of one resource record, parsed from presentation text by libldns.
public enum RData {
    /// Parses `text` as the RDATA of an RR of type `type` (a mnemonic such as `A`, `AAAA`,
    /// `TXT`, `MX`), by handing libldns (`ldns_rr_new_frm_str`) the line `. 0 IN type text`.
    /// Domain names in the RDATA are absolute (a trailing dot is optional) and lower-cased.
    /// - Returns: the RR type code and the RDATA in uncompressed wire form (RFC 1035 §3.3).
    /// - Throws: ``LDNSError`` with the ldns status when the text is not valid for the type.
    public static func parse(type: String, text: String) throws(LDNSError) -> (type: UInt16, rdata: [UInt8]) {
        let line = ". 0 IN \(type) \(text)"
        var rr: UnsafeMutablePointer<ldns_rr>? = nil
        let status = ldns_rr_new_frm_str(&rr, line, 0, nil, nil)
        guard status == LDNS_STATUS_OK, let p = rr else {
            if let p = rr { ldns_rr_free(p) }
            throw LDNSError(status: Int32(status.rawValue),
                            reason: String(cString: ldns_get_errorstr_by_id(status)), input: "\(type) \(text)")
        }
        defer { ldns_rr_free(p) }
        var out: [UInt8] = []
        for i in 0..<ldns_rr_rd_count(p) {
            guard let f = ldns_rr_rdf(p, i) else { continue }
            if ldns_rdf_get_type(f) == LDNS_RDF_TYPE_DNAME { ldns_dname2canonical(f) }
            let n = ldns_rdf_size(f)
            if n > 0, let d = ldns_rdf_data(f) { out.append(contentsOf: UnsafeBufferPointer(start: d, count: n)) }
        }
        return (UInt16(ldns_rr_get_type(p).rawValue), out)
    }
}
