import DNSBL
import DNSBLServer
import PrefixStore
import ZoneSource

/// The `prefixbl serve` transition flags, parsed into `DNSBL.AnswerOptions` (each repeatable):
///
/// - `--teredo ZONE`: Teredo, 2001:0::/32 (RFC 4380).
/// - `--nat64 ZONE` or `--nat64 ZONE=PREFIX/LEN`: NAT64, the well-known prefix 64:ff9b::/96
///   or a network-specific prefix of length 32, 40, 48, 56, 64 or 96 (RFC 6052).
/// - `--6rd ZONE=PREFIX/LEN,IPV4PREFIX/MASKLEN`: a 6rd domain (RFC 5969): the 6rd prefix and
///   the IPv4 bits common to the domain as an IPv4 prefix (its length is IPv4MaskLen).
public enum TransitionFlags {
    /// Adds every flag's mapping to `options`.
    /// - Throws: `DNSBLServer/ServerError` `.config` naming the flag, its value and what is wrong.
    public static func apply(teredo: [String], nat64: [String], sixRD: [String],
                             to options: inout AnswerOptions) throws(ServerError) {
        for value in teredo {
            try add("--teredo", value, options: &options) { () throws(TransitionError) in
                guard !value.contains("=") else {
                    throw TransitionError("takes only a zone name (Teredo's prefix is always 2001:0::/32)")
                }
                return (value, .teredo)
            }
        }
        for value in nat64 {
            try add("--nat64", value, options: &options) { () throws(TransitionError) in
                guard let eq = value.firstIndex(of: "=") else { return (value, .nat64WellKnown) }
                let zone = String(value[..<eq])
                let p = try prefix(String(value[value.index(after: eq)...]), .ipv6, what: "NAT64 prefix")
                return (zone, try .nat64(prefix: p.address, length: p.length))
            }
        }
        for value in sixRD {
            try add("--6rd", value, options: &options) { () throws(TransitionError) in
                guard let eq = value.firstIndex(of: "=") else {
                    throw TransitionError("expected ZONE=PREFIX/LEN,IPV4PREFIX/MASKLEN")
                }
                let zone = String(value[..<eq])
                let parts = value[value.index(after: eq)...].split(separator: ",", omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw TransitionError("expected ZONE=PREFIX/LEN,IPV4PREFIX/MASKLEN") }
                let p6 = try prefix(String(parts[0]), .ipv6, what: "6rd prefix")
                let p4 = try prefix(String(parts[1]), .ipv4, what: "6rd IPv4 prefix")
                return (zone, try .sixRD(prefix: p6.address, length: p6.length,
                                         ipv4Prefix: UInt32(truncatingIfNeeded: p4.address), ipv4MaskLength: p4.length))
            }
        }
    }

    private static func add(_ flag: String, _ value: String, options: inout AnswerOptions,
                            _ parse: () throws(TransitionError) -> (String, TransitionMapping)) throws(ServerError) {
        do {
            let (zone, mapping) = try parse()
            try options.addTransition(mapping, zone: zone)
        } catch {
            throw ServerError(.config, "\(flag) \(value): \(error.reason)")
        }
    }

    private static func prefix(_ text: String, _ family: AddressFamily, what: String) throws(TransitionError) -> CIDRPrefix {
        guard text.contains("/") else { throw TransitionError("\(what) '\(text)' needs a /length") }
        switch parseCIDR(text) {
        case .success(let p):
            guard p.family == family else {
                throw TransitionError("\(what) '\(text)' is not an \(family == .ipv6 ? "IPv6" : "IPv4") prefix")
            }
            return p
        case .failure(let e):
            throw TransitionError("\(what) '\(text)': \(e.reason)")
        }
    }
}
