import CLDNS
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Error of a ``Resolver`` query: what failed and the ldns status text where there is one.
public struct ResolverError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The server address is not an IPv4/IPv6 literal.
        case badServer
        /// The query name is not a valid domain name.
        case badName
        /// Sending or receiving failed (timeout, connection refused, network error).
        case network
    }
    public var code: Code
    public var reason: String
    public init(_ code: Code, _ reason: String) { self.code = code; self.reason = reason }
    public var description: String { reason }
}

/// One record of an answer section, as plain values.
public struct ResolverRecord: Sendable, Hashable {
    /// Owner name in presentation form.
    public var owner: String
    public var type: UInt16
    /// TTL in seconds.
    public var ttl: UInt32
    /// For A: the address, dotted; for AAAA: RFC 5952 text; otherwise nil.
    public var address: String?
    /// For TXT: the character-strings concatenated (how mail software reads a TXT); else nil.
    public var text: String?
}

/// A response as the `query` command needs it.
public struct ResolverResponse: Sendable {
    /// RCODE (0 NOERROR, 3 NXDOMAIN, …).
    public var rcode: UInt8
    /// RCODE mnemonic from libldns (`NOERROR`, `NXDOMAIN`, …).
    public var rcodeText: String
    /// TC bit of the response that was finally used.
    public var truncated: Bool
    /// The answer came over TCP (asked for, or after a truncated UDP answer).
    public var overTCP: Bool
    public var answers: [ResolverRecord]
    /// The whole response in dig-like presentation form (`ldns_pkt2str`).
    public var text: String
}

/// A stub resolver talking to one server with libldns: UDP with an EDNS0 payload size of
/// 1232 bytes, retried over TCP when the answer is truncated (RFC 7766 §5), or TCP only.
/// Owns its `ldns_resolver`; ldns types never leave this file.
public final class Resolver {
    private let resolver: OpaquePointer
    private let server: String
    private let port: UInt16
    private let forceTCP: Bool

    /// - Parameters:
    ///   - server: IPv4 or IPv6 literal.
    ///   - port: server port.
    ///   - timeout: seconds per attempt.
    ///   - retries: attempts per transport (at least 1).
    ///   - tcp: use TCP only.
    ///   - recursionDesired: set RD (needed when the server is a recursive resolver).
    /// - Throws: ``ResolverError`` `.badServer`.
    public init(server: String, port: UInt16, timeout: Double = 2, retries: Int = 2, tcp: Bool = false,
                recursionDesired: Bool = true) throws(ResolverError) {
        let type = server.contains(":") ? LDNS_RDF_TYPE_AAAA : LDNS_RDF_TYPE_A
        guard let ns = ldns_rdf_new_frm_str(type, server) else {
            throw ResolverError(.badServer, "'\(server)' is not an IPv4 or IPv6 address")
        }
        defer { ldns_rdf_deep_free(ns) }
        guard let r = ldns_resolver_new() else { throw ResolverError(.network, "ldns_resolver_new failed") }
        guard ldns_resolver_push_nameserver(r, ns) == LDNS_STATUS_OK else {
            ldns_resolver_deep_free(r)
            throw ResolverError(.badServer, "cannot use server '\(server)'")
        }
        ldns_resolver_set_port(r, port)
        ldns_resolver_set_recursive(r, recursionDesired)
        ldns_resolver_set_retry(r, UInt8(max(1, min(retries, 255))))
        ldns_resolver_set_timeout(r, timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1e6)))
        ldns_resolver_set_edns_udp_size(r, 1232)
        ldns_resolver_set_fallback(r, false)  // done by hand below, so we can report it
        ldns_resolver_set_usevc(r, tcp)
        resolver = OpaquePointer(r)
        self.server = server
        self.port = port
        self.forceTCP = tcp
    }

    deinit { ldns_resolver_deep_free(UnsafeMutablePointer(resolver)) }

    /// Sends one query for `name` (presentation form) and `type` (class IN).
    /// - Throws: ``ResolverError`` `.badName`, `.network` (with ldns's reason, e.g. timeout).
    public func query(name: String, type: UInt16) throws(ResolverError) -> ResolverResponse {
        let absolute = name.hasSuffix(".") ? name : name + "."
        guard let dname = ldns_dname_new_frm_str(absolute) else {
            throw ResolverError(.badName, "'\(name)' is not a valid domain name")
        }
        defer { ldns_rdf_deep_free(dname) }
        let r = UnsafeMutablePointer<ldns_resolver>(resolver)
        var usedTCP = forceTCP
        var packet = try send(r, dname, type)
        if ldns_pkt_tc(packet) && !usedTCP {
            ldns_pkt_free(packet)
            ldns_resolver_set_usevc(r, true)
            defer { ldns_resolver_set_usevc(r, false) }
            usedTCP = true
            packet = try send(r, dname, type)
        }
        defer { ldns_pkt_free(packet) }
        return response(packet, overTCP: usedTCP)
    }

    private func send(_ r: UnsafeMutablePointer<ldns_resolver>, _ name: UnsafeMutablePointer<ldns_rdf>,
                      _ type: UInt16) throws(ResolverError) -> UnsafeMutablePointer<ldns_pkt> {
        var packet: UnsafeMutablePointer<ldns_pkt>? = nil
        let status = ldns_resolver_send(&packet, r, name, ldns_rr_type(rawValue: UInt32(type)), LDNS_RR_CLASS_IN,
                                        ldns_resolver_recursive(r) ? UInt16(LDNS_RD) : 0)
        guard status == LDNS_STATUS_OK, let packet else {
            if let packet { ldns_pkt_free(packet) }
            let where_ = server.contains(":") ? "[\(server)]:\(port)" : "\(server):\(port)"
            throw ResolverError(.network, "\(where_): \(String(cString: ldns_get_errorstr_by_id(status)))")
        }
        return packet
    }

    private func response(_ p: UnsafeMutablePointer<ldns_pkt>, overTCP: Bool) -> ResolverResponse {
        let rcode = ldns_pkt_get_rcode(p)
        var answers: [ResolverRecord] = []
        if let list = ldns_pkt_answer(p) {
            for i in 0..<ldns_rr_list_rr_count(list) {
                guard let rr = ldns_rr_list_rr(list, i) else { continue }
                let type = UInt16(ldns_rr_get_type(rr).rawValue)
                var record = ResolverRecord(owner: Resolver.text(ldns_rr_owner(rr)), type: type,
                                            ttl: ldns_rr_ttl(rr), address: nil, text: nil)
                if type == 1 || type == 28, ldns_rr_rd_count(rr) == 1 {
                    record.address = Resolver.text(ldns_rr_rdf(rr, 0))
                } else if type == 16 {
                    var bytes: [UInt8] = []
                    for j in 0..<ldns_rr_rd_count(rr) {
                        guard let f = ldns_rr_rdf(rr, j), let d = ldns_rdf_data(f) else { continue }
                        let n = ldns_rdf_size(f)
                        if n > 1 { bytes += UnsafeBufferPointer(start: d + 1, count: n - 1) }
                    }
                    record.text = String(decoding: bytes, as: UTF8.self)
                }
                answers.append(record)
            }
        }
        var text = ""
        if let s = ldns_pkt2str(p) { text = String(cString: s); cldns_free(s) }
        var rcodeText = "RCODE\(rcode.rawValue)"
        if let s = ldns_pkt_rcode2str(rcode) { rcodeText = String(cString: s); cldns_free(s) }
        return ResolverResponse(rcode: UInt8(truncatingIfNeeded: rcode.rawValue), rcodeText: rcodeText,
                                truncated: ldns_pkt_tc(p), overTCP: overTCP, answers: answers, text: text)
    }

    private static func text(_ rdf: UnsafeMutablePointer<ldns_rdf>?) -> String {
        guard let rdf, let s = ldns_rdf2str(rdf) else { return "" }
        defer { cldns_free(s) }
        return String(cString: s)
    }
}
