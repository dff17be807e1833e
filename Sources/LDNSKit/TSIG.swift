import CLDNS

/// TSIG (RFC 8945) as libldns computes it, to check another implementation's signatures in
/// tests (`ldns_pkt_tsig_verify_next`, `ldns_pkt_tsig_sign`). The serving side signs with its
/// own code; this is the independent reference.
public final class LDNSTSIG: @unchecked Sendable {
    /// Key name in presentation form (`xfr.bl.example.`).
    public let keyName: String
    /// The secret in base64, as libldns takes it.
    public let secret: String
    /// libldns's algorithm name (`hmac-sha256.`, `hmac-md5.sig-alg.reg.int.`).
    public let algorithm: String
    /// The MAC rdata (2-byte size + MAC) the next message's digest starts with; nil when
    /// verifying a request.
    private var prior: [UInt8]?
    private var count = 0

    /// - Parameters:
    ///   - keyName: the key's name in presentation form (`xfr.bl.example.`).
    ///   - secret: the shared secret in base64.
    ///   - algorithm: libldns's algorithm name (`hmac-sha256.` by default).
    ///   - requestMAC: the MAC of the request whose answer is verified; nil to verify
    ///     a request.
    public init(keyName: String, secret: String, algorithm: String = "hmac-sha256.", requestMAC: [UInt8]?) {
        self.keyName = keyName; self.secret = secret; self.algorithm = algorithm
        prior = requestMAC.map { [UInt8($0.count >> 8), UInt8($0.count & 0xFF)] + $0 }
    }

    /// Verifies the next message of an answer: the first with all TSIG variables, later ones
    /// with the timers only (RFC 8945 §5.3.1). False when libldns does not accept it.
    public func verifyNext(_ wire: [UInt8]) -> Bool {
        var p: UnsafeMutablePointer<ldns_pkt>? = nil
        guard wire.withUnsafeBufferPointer({ ldns_wire2pkt(&p, $0.baseAddress, $0.count) }) == LDNS_STATUS_OK,
              let pkt = p else { return false }
        defer { ldns_pkt_free(pkt) }
        let mac = prior.flatMap { p in
            p.withUnsafeBufferPointer { ldns_rdf_new_frm_data(LDNS_RDF_TYPE_INT16_DATA, $0.count, $0.baseAddress) }
        }
        defer { if let mac { ldns_rdf_deep_free(mac) } }
        let ok = wire.withUnsafeBufferPointer {
            ldns_pkt_tsig_verify_next(pkt, $0.baseAddress, $0.count, keyName, secret, mac, count > 0 ? 1 : 0)
        }
        guard ok, let tsig = ldns_pkt_tsig(pkt), let macField = ldns_rr_rdf(tsig, 3) else { return false }
        prior = Array(UnsafeBufferPointer(start: ldns_rdf_data(macField), count: ldns_rdf_size(macField)))
        count += 1
        return true
    }

    /// Signs a request message with libldns (time: now, fudge 300). Returns the signed wire
    /// and the MAC, or nil when libldns refuses.
    public func signRequest(_ wire: [UInt8]) -> (wire: [UInt8], mac: [UInt8])? {
        var p: UnsafeMutablePointer<ldns_pkt>? = nil
        guard wire.withUnsafeBufferPointer({ ldns_wire2pkt(&p, $0.baseAddress, $0.count) }) == LDNS_STATUS_OK,
              let pkt = p else { return nil }
        defer { ldns_pkt_free(pkt) }
        guard ldns_pkt_tsig_sign(pkt, keyName, secret, 300, algorithm, nil) == LDNS_STATUS_OK else { return nil }
        var out: UnsafeMutablePointer<UInt8>? = nil
        var size = 0
        guard ldns_pkt2wire(&out, pkt, &size) == LDNS_STATUS_OK, let out else { return nil }
        defer { cldns_free(out) }
        guard let tsig = ldns_pkt_tsig(pkt), let macField = ldns_rr_rdf(tsig, 3) else { return nil }
        let macBytes = Array(UnsafeBufferPointer(start: ldns_rdf_data(macField), count: ldns_rdf_size(macField)))
        return (Array(UnsafeBufferPointer(start: out, count: size)), Array(macBytes.dropFirst(2)))
    }
}
