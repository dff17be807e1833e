import CLDNS

/// An error from libldns, with the ldns status text and the input that caused it.
public struct LDNSError: Error, Sendable, CustomStringConvertible {
    /// ldns status code (`ldns_status` raw value); 0 when the check was ours, not libldns's.
    public var status: Int32
    /// Human-readable reason, e.g. "Domain name label longer than 63 characters".
    public var reason: String
    /// The text that failed to parse.
    public var input: String

    public init(status: Int32, reason: String, input: String) {
        self.status = status; self.reason = reason; self.input = input
    }
    public var description: String { "\(reason): '\(input)'" }
}

/// Owns one `ldns_rdf` and frees it when released; never leaves this module.
final class OwnedRDF {
    let pointer: UnsafeMutablePointer<ldns_rdf>
    init(_ pointer: UnsafeMutablePointer<ldns_rdf>) { self.pointer = pointer }
    deinit { ldns_rdf_deep_free(pointer) }

    var bytes: [UInt8] {
        let n = ldns_rdf_size(pointer)
        guard n > 0, let data = ldns_rdf_data(pointer) else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: n))
    }
}

/// A domain name validated by libldns, held as uncompressed, lower-cased wire form
/// (RFC 1035 §3.1: length-prefixed labels ending in the root label).
public struct DomainName: Hashable, Sendable, CustomStringConvertible {
    /// Uncompressed wire form, lower-cased, ending in a zero byte (`\x02bl\x07example\x00`).
    public let wire: [UInt8]

    /// Parses presentation text with libldns (`ldns_str2rdf_dname`). A name without a trailing
    /// dot is taken as absolute (rbldnsd's rule for `$SOA`/`$NS` names and zone names).
    /// - Throws: ``LDNSError`` naming the ldns status (label over 63 bytes, name over 255
    ///   bytes, empty label, bad escape).
    public init(_ text: String) throws(LDNSError) {
        if text.isEmpty { throw LDNSError(status: 0, reason: "empty domain name", input: text) }
        let absolute = text.hasSuffix(".") ? text : text + "."
        var rdf: UnsafeMutablePointer<ldns_rdf>? = nil
        let status = ldns_str2rdf_dname(&rdf, absolute)
        guard status == LDNS_STATUS_OK, let p = rdf else {
            if let p = rdf { ldns_rdf_deep_free(p) }
            throw LDNSError(status: Int32(status.rawValue),
                            reason: String(cString: ldns_get_errorstr_by_id(status)), input: text)
        }
        let owned = OwnedRDF(p)
        ldns_dname2canonical(owned.pointer)
        wire = owned.bytes
    }

    /// Wraps wire form that is already lower-cased and uncompressed (no validation).
    public init(wire: [UInt8]) { self.wire = wire }

    /// Presentation form with a trailing dot, as libldns prints it (`bl.example.`).
    public var description: String { DomainName.text(wire: wire) }

    /// Presentation form of wire bytes with a trailing dot. Bytes outside letters, digits,
    /// `-` and `_` are escaped as `\DDD` (RFC 1035 §5.1).
    public static func text(wire: [UInt8]) -> String {
        if wire.count <= 1 { return "." }
        var out = ""
        var i = 0
        while i < wire.count {
            let n = Int(wire[i]); i += 1
            if n == 0 { break }
            for b in wire[i..<min(i + n, wire.count)] {
                switch b {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                     UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
                    out.unicodeScalars.append(Unicode.Scalar(b))
                default:
                    let d = String(b)
                    out += "\\" + String(repeating: "0", count: 3 - d.count) + d
                }
            }
            out += "."
            i += n
        }
        return out
    }

    /// Whether `self` equals `parent` or lies below it (compared label-wise on wire form).
    public func isSubdomain(of parent: DomainName) -> Bool {
        let a = wire, b = parent.wire
        if b.count > a.count { return false }
        // Walk labels of `a` until the remaining suffix has `b`'s length; labels must align.
        var i = 0
        while a.count - i > b.count { i += Int(a[i]) + 1 }
        return a.count - i == b.count && Array(a[i...]) == b
    }

    /// Number of labels, root excluded.
    public var labelCount: Int {
        var i = 0, n = 0
        while i < wire.count, wire[i] != 0 { i += Int(wire[i]) + 1; n += 1 }
        return n
    }
}

/// Time values in the forms zone files use, parsed by libldns.
public enum LDNSTime {
    /// Parses a time with optional unit suffixes `s m h d w` (case-insensitive, combinable as
    /// in `1w2d`) into seconds, with `ldns_str2period`.
    /// - Throws: ``LDNSError`` when the text is empty, has other characters, or exceeds
    ///   2^32−1 seconds.
    public static func seconds(_ text: String) throws(LDNSError) -> UInt32 {
        guard let first = text.utf8.first, first >= 0x30, first <= 0x39 else {
            throw LDNSError(status: 0, reason: "time must start with a digit", input: text)
        }
        // ldns_str2period does not detect overflow: bound the digits of every number first.
        var run = 0
        var total: UInt64 = 0, current: UInt64 = 0
        for c in text.utf8 {
            if c >= 0x30 && c <= 0x39 {
                run += 1; current = current * 10 + UInt64(c - 0x30)
                if run > 10 { throw LDNSError(status: 0, reason: "time value too large", input: text) }
            } else {
                let m: UInt64
                switch c | 0x20 {
                case UInt8(ascii: "s"): m = 1
                case UInt8(ascii: "m"): m = 60
                case UInt8(ascii: "h"): m = 3600
                case UInt8(ascii: "d"): m = 86400
                case UInt8(ascii: "w"): m = 604800
                default: throw LDNSError(status: 0, reason: "invalid time unit", input: text)
                }
                total += current * m; current = 0; run = 0
            }
        }
        total += current
        if total > UInt64(UInt32.max) { throw LDNSError(status: 0, reason: "time value too large", input: text) }
        var end: UnsafePointer<CChar>? = nil
        let value = text.withCString { p -> UInt32 in
            let v = ldns_str2period(p, &end)
            if let e = end, e.pointee != 0 { return UInt32.max }
            return v
        }
        if value != UInt32(total) {
            throw LDNSError(status: 0, reason: "invalid time", input: text)
        }
        return value
    }
}
