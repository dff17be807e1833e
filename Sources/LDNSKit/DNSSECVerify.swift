import CLDNS

/// libldns's DNSSEC checks, for tests that hold our signer to an independent implementation.
public enum DNSSECVerify {
    /// Verifies one RRSIG over an RRset with `ldns_verify_rrsig_keylist_time`.
    /// - Parameters:
    ///   - rrset: the signed RRs, each whole in uncompressed wire form (owner, TYPE, CLASS,
    ///     TTL, RDLENGTH, RDATA).
    ///   - rrsig: the RRSIG RR, in the same form.
    ///   - keys: DNSKEY RRs, in the same form.
    ///   - time: the moment to check the validity window against, seconds since 1970.
    /// - Returns: `nil` when the signature validates, else the ldns status text.
    /// - Throws: ``LDNSError`` when an RR does not parse.
    public static func verify(rrset: [[UInt8]], rrsig: [UInt8], keys: [[UInt8]], time: Int) throws(LDNSError) -> String? {
        let set = ldns_rr_list_new()!, keyList = ldns_rr_list_new()!, good = ldns_rr_list_new()!
        defer { ldns_rr_list_deep_free(set); ldns_rr_list_deep_free(keyList); ldns_rr_list_free(good) }
        for w in rrset { _ = ldns_rr_list_push_rr(set, try rr(w)) }
        for w in keys { _ = ldns_rr_list_push_rr(keyList, try rr(w)) }
        let sig = try rr(rrsig)
        defer { ldns_rr_free(sig) }
        let status = ldns_verify_rrsig_keylist_time(set, sig, keyList, time_t(time), good)
        return status == LDNS_STATUS_OK ? nil : String(cString: ldns_get_errorstr_by_id(status))
    }

    /// `ldns_dname_compare` on two uncompressed wire-form names: libldns's canonical order
    /// (RFC 4034 §6.1). Returns -1, 0 or 1.
    public static func compareNames(_ a: [UInt8], _ b: [UInt8]) -> Int {
        let x = a.withUnsafeBufferPointer { ldns_dname_new_frm_data(UInt16(a.count), $0.baseAddress) }!
        let y = b.withUnsafeBufferPointer { ldns_dname_new_frm_data(UInt16(b.count), $0.baseAddress) }!
        defer { ldns_rdf_deep_free(x); ldns_rdf_deep_free(y) }
        return Int(ldns_dname_compare(x, y))
    }

    static func rr(_ wire: [UInt8]) throws(LDNSError) -> UnsafeMutablePointer<ldns_rr> {
        try ZoneFile.rr(wire: wire, input: "RR wire form").rr
    }
}
