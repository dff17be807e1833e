import PrefixStore

/// Address text in rbldnsd's forms, parsed from bytes without allocating, and printed back.

@inline(__always) func isDigit(_ c: UInt8) -> Bool { c &- 0x30 < 10 }
@inline(__always) func hexValue(_ c: UInt8) -> UInt32? {
    if c &- 0x30 < 10 { return UInt32(c &- 0x30) }
    let l = c | 0x20
    if l &- 0x61 < 6 { return UInt32(l &- 0x61 &+ 10) }
    return nil
}
@inline(__always) func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0D }
@inline(__always) func isCommentStart(_ c: UInt8) -> Bool { c == 0x23 || c == 0x3B }  // # ;

/// The outcome of parsing one address token.
enum ParsedAddress {
    /// A CIDR prefix (host bits zero) or, for IPv4, a short prefix: `length` is in bits.
    case prefix(address: UInt128, length: Int)
    /// An inclusive IPv4 range `first-last` that may need splitting into CIDRs.
    case range(first: UInt32, last: UInt32)
    /// A prefix whose address has bits set beyond `length` (rbldnsd skips it with a warning).
    case hostBits(address: UInt128, length: Int)
    case invalid(String)
}

/// How an IPv4 token was written, for per-type form rules.
struct IPv4Form {
    /// Octets written in the first (or only) part: 1…4.
    var octets = 0
    var hasLength = false
    var isRange = false
}

/// Parses `p[i..<end]` as rbldnsd IPv4 text: `a.b.c.d`, `a.b.c` (/24), `a.b` (/16), `a/8`,
/// any of them with `/len`, and ranges `a.b.c.d-e.f.g.h`, `a.b.c.10-20` (last boundary's
/// missing octets are all-ones; a one-octet last boundary replaces the first's last octet).
func parseIPv4(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int, form: inout IPv4Form) -> ParsedAddress {
    var i = start
    func prefix(_ i: inout Int) -> (UInt32, Int)? {
        var a: UInt32 = 0
        var n = 0
        while true {
            guard i < end, isDigit(p[i]) else { return nil }
            var o: UInt32 = 0
            var digits = 0
            while i < end, isDigit(p[i]) {
                o = o * 10 + UInt32(p[i] &- 0x30); i += 1; digits += 1
                if o > 255 || digits > 3 { return nil }
            }
            a |= o << UInt32(24 - 8 * n)
            n += 1
            if n == 4 || i >= end || p[i] != 0x2E { break }
            i += 1
        }
        return (a, n * 8)
    }
    guard let (a, bits) = prefix(&i) else { return .invalid("invalid IPv4 address") }
    form.octets = bits / 8
    if i < end && p[i] == 0x2D {  // '-'
        form.isRange = true
        i += 1
        guard var (b, bbits) = prefix(&i), i == end else { return .invalid("invalid IPv4 range") }
        if bbits == 8 && bits != 8 {
            // 192.0.2.10-20: the single octet replaces the last octet given in the first part.
            b = (b >> UInt32(bits - 8)) | (a & mask32(bits - 8))
            bbits = bits
        } else if bbits != bits {
            return .invalid("invalid IPv4 range: both ends must have the same number of octets")
        }
        b |= ~mask32(bbits)
        if a > b { return .invalid("invalid IPv4 range: first address above last") }
        return .range(first: a, last: b)
    }
    var len = bits
    if i < end && p[i] == 0x2F {  // '/'
        form.hasLength = true
        i += 1
        guard i < end else { return .invalid("missing prefix length") }
        var l = 0
        while i < end, isDigit(p[i]) { l = l * 10 + Int(p[i] &- 0x30); i += 1; if l > 32 { break } }
        guard i == end, l <= 32 else { return .invalid("invalid IPv4 prefix length") }
        len = l
    } else if bits == 8 {
        return .invalid("a bare number is not an address (write /8 for a /8)")
    }
    guard i == end else { return .invalid("invalid IPv4 address") }
    if a & ~mask32(len) != 0 { return .hostBits(address: UInt128(a), length: len) }
    return .prefix(address: UInt128(a), length: len)
}

@inline(__always) func mask32(_ bits: Int) -> UInt32 { bits <= 0 ? 0 : bits >= 32 ? .max : ~(UInt32.max >> UInt32(bits)) }
@inline(__always) func mask128(_ bits: Int) -> UInt128 { bits <= 0 ? 0 : bits >= 128 ? .max : ~(UInt128.max >> UInt128(bits)) }

/// Parses `p[i..<end]` as IPv6 text: any RFC 4291 §2.2 form (with `::` and a trailing dotted
/// IPv4), optional `/len` (0…128), a bare full address meaning /128, hex in either case, and
/// rbldnsd's short forms without `::` (`2001:db8:0:1` = four groups = /64;
/// `2001:db8:c000/36` = missing groups are zero). One group alone needs a `/len`.
func parseIPv6(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> ParsedAddress {
    var i = start
    var head: UInt128 = 0, headN = 0, tail: UInt128 = 0, tailN = 0
    var compressed = false
    if i + 1 < end && p[i] == 0x3A && p[i + 1] == 0x3A { compressed = true; i += 2 }
    else if i < end && p[i] == 0x3A { return .invalid("invalid IPv6 address") }
    while i < end && p[i] != 0x2F {
        let groupStart = i
        var v: UInt32 = 0
        var digits = 0
        while i < end, let h = hexValue(p[i]) { v = v << 4 | h; i += 1; digits += 1 }
        if digits == 0 { return .invalid("invalid IPv6 address") }
        if digits > 4 { return .invalid("invalid IPv6 address: a group has more than 4 hex digits") }
        if i < end && p[i] == 0x2E {
            // Dotted IPv4 in the last 32 bits (RFC 4291 §2.2 form 3).
            var form = IPv4Form()
            var j = groupStart
            while j < end && p[j] != 0x2F { j += 1 }
            guard case .prefix(let a4, 32) = parseIPv4(p, groupStart, j, form: &form), form.octets == 4
            else { return .invalid("invalid IPv4 part in IPv6 address") }
            if compressed { tail = tail << 32 | a4; tailN += 2 } else { head = head << 32 | a4; headN += 2 }
            i = j
            break
        }
        if compressed { tail = tail << 16 | UInt128(v); tailN += 1 } else { head = head << 16 | UInt128(v); headN += 1 }
        if headN + tailN > 8 { return .invalid("invalid IPv6 address: more than 8 groups") }
        if i < end && p[i] == 0x3A {
            if i + 1 < end && p[i + 1] == 0x3A {
                if compressed { return .invalid("invalid IPv6 address: '::' twice") }
                compressed = true; i += 2
                if i < end && p[i] == 0x3A { return .invalid("invalid IPv6 address") }
            } else {
                i += 1
                if i >= end || hexValue(p[i]) == nil { return .invalid("invalid IPv6 address") }
            }
        } else if i < end && p[i] != 0x2F {
            return .invalid("invalid IPv6 address")
        }
    }
    let groups = headN + tailN
    var address: UInt128
    var natural: Int
    if compressed {
        guard groups <= 7 else { return .invalid("invalid IPv6 address: '::' with 8 groups") }
        address = (headN == 0 ? 0 : head << UInt128(16 * (8 - headN))) | tail
        natural = 128
    } else {
        guard groups >= 1 && groups <= 8 else { return .invalid("invalid IPv6 address") }
        address = head << UInt128(16 * (8 - groups))
        natural = 16 * groups
    }
    var len = natural
    if i < end && p[i] == 0x2F {
        i += 1
        guard i < end else { return .invalid("missing prefix length") }
        var l = 0
        while i < end, isDigit(p[i]) { l = l * 10 + Int(p[i] &- 0x30); i += 1; if l > 128 { break } }
        guard i == end, l <= 128 else { return .invalid("invalid IPv6 prefix length") }
        len = l
    } else if !compressed && groups == 1 {
        return .invalid("a bare number is not an address (write /16 for a /16)")
    }
    if address & ~mask128(len) != 0 { return .hostBits(address: address, length: len) }
    return .prefix(address: address, length: len)
}

/// Splits the inclusive range `first...last` into the fewest CIDR prefixes, in order.
func rangeToCIDRs(first: UInt128, last: UInt128, bits: Int, _ body: (UInt128, Int) -> Void) {
    var a = first
    while true {
        // Largest block aligned at `a` that does not pass `last`.
        var host = a == 0 ? bits : min(bits, a.trailingZeroBitCount)
        while host > 0 {
            let size = host >= 128 ? UInt128.max : (UInt128(1) << UInt128(host)) - 1
            if a <= last && last - a >= size { break }
            host -= 1
        }
        body(a, bits - host)
        let span = host >= 128 ? UInt128.max : (UInt128(1) << UInt128(host)) - 1
        if last - a == span { return }
        a += span + 1
    }
}

/// Dotted-quad text of a host-order IPv4 address.
public func ipv4Text(_ a: UInt32) -> String {
    "\(a >> 24).\(a >> 16 & 255).\(a >> 8 & 255).\(a & 255)"
}

/// RFC 5952 §4 text of an IPv6 address: lower-case hex, leading zeros dropped, the longest run
/// of two or more zero groups (the first of equal runs) compressed to `::`.
public func ipv6Text(_ a: UInt128) -> String {
    var g = [UInt16](repeating: 0, count: 8)
    for k in 0..<8 { g[k] = UInt16(truncatingIfNeeded: a >> UInt128(112 - 16 * k)) }
    var bestStart = -1, bestLen = 0, k = 0
    while k < 8 {
        if g[k] == 0 {
            var e = k
            while e < 8 && g[e] == 0 { e += 1 }
            if e - k > bestLen && e - k >= 2 { bestStart = k; bestLen = e - k }
            k = e
        } else { k += 1 }
    }
    var s = ""
    k = 0
    while k < 8 {
        if k == bestStart {
            s += "::"; k += bestLen; continue
        }
        if !s.isEmpty && !s.hasSuffix(":") { s += ":" }
        s += String(g[k], radix: 16)
        k += 1
    }
    return s
}

/// Parses an address for lookups: IPv4 dotted quad or any RFC 4291 IPv6 text, no prefix length.
/// - Returns: the family and the key (IPv4 in the low 32 bits), or `nil`.
public func parseAddress(_ text: String) -> (AddressFamily, UInt128)? {
    var bytes = Array(text.utf8)
    if bytes.isEmpty { return nil }
    bytes.append(0)
    return bytes.withUnsafeBufferPointer { b -> (AddressFamily, UInt128)? in
        let p = b.baseAddress!, n = b.count - 1
        if bytes.contains(0x3A) {
            guard case .prefix(let a, 128) = parseIPv6(p, 0, n) else { return nil }
            return (.ipv6, a)
        }
        var form = IPv4Form()
        guard case .prefix(let a, 32) = parseIPv4(p, 0, n, form: &form), form.octets == 4 else { return nil }
        return (.ipv4, a)
    }
}

