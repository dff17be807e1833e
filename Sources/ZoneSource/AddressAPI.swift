import PrefixStore

// Public entry points over the source parser's address code and line reader, for modules that
// read address data of their own (the aggregator's evidence, allocation and whitelist files).
// They reuse the compiler's parsers so every module accepts exactly the same address text.

/// A CIDR prefix: family, first address (IPv4 in the low 32 bits) and length in bits
/// (0…32 for IPv4, 0…128 for IPv6). Host bits are zero.
public struct CIDRPrefix: Sendable, Hashable, CustomStringConvertible {
    public var family: AddressFamily
    public var address: UInt128
    public var length: Int

    public init(family: AddressFamily, address: UInt128, length: Int) {
        self.family = family; self.address = address; self.length = length
    }

    /// `192.0.2.0/24` or `2001:db8::/32` (RFC 5952 text for IPv6).
    public var description: String {
        (family == .ipv4 ? ipv4Text(UInt32(truncatingIfNeeded: address)) : ipv6Text(address)) + "/\(length)"
    }
}

/// Parses one address (no prefix length) from bytes: an IPv4 dotted quad or any RFC 4291 §2.2
/// IPv6 text form. Does not allocate.
/// - Returns: the family and the key (IPv4 in the low 32 bits), or `nil` when `p[0..<count]`
///   is not exactly one address.
public func parseAddress(_ p: UnsafePointer<UInt8>, count: Int) -> (AddressFamily, UInt128)? {
    guard count > 0 else { return nil }
    var colon = false
    for i in 0..<count where p[i] == 0x3A { colon = true; break }
    if colon {
        guard case .prefix(let a, 128) = parseIPv6(p, 0, count) else { return nil }
        return (.ipv6, a)
    }
    var form = IPv4Form()
    guard case .prefix(let a, 32) = parseIPv4(p, 0, count, form: &form), form.octets == 4,
          !form.hasLength else { return nil }
    return (.ipv4, a)
}

/// Parses a prefix in the source syntax's forms (<doc:SourceSyntax>): an address (IPv4 /32, IPv6 /128),
/// `address/len`, rbldnsd's short forms (`192.0.2` = /24, `2001:db8:0:1` = /64). Ranges are
/// not prefixes and are refused.
/// - Returns: the prefix, or a reason (`"host bits set beyond /32"`, `"invalid IPv6 address"`…).
public func parseCIDR(_ text: String) -> Result<CIDRPrefix, CIDRSyntaxError> {
    var bytes = Array(text.utf8)
    guard !bytes.isEmpty else { return .failure(CIDRSyntaxError(reason: "empty prefix")) }
    bytes.append(0)
    return bytes.withUnsafeBufferPointer { b -> Result<CIDRPrefix, CIDRSyntaxError> in
        let p = b.baseAddress!, n = b.count - 1
        let family: AddressFamily = bytes.contains(0x3A) ? .ipv6 : .ipv4
        let parsed: ParsedAddress
        if family == .ipv6 {
            parsed = parseIPv6(p, 0, n)
        } else {
            var form = IPv4Form()
            parsed = parseIPv4(p, 0, n, form: &form)
        }
        switch parsed {
        case .prefix(let a, let len):
            return .success(CIDRPrefix(family: family, address: a, length: len))
        case .range:
            return .failure(CIDRSyntaxError(reason: "a range is not a prefix"))
        case .hostBits(_, let len):
            return .failure(CIDRSyntaxError(reason: "host bits set beyond /\(len)"))
        case .invalid(let why):
            return .failure(CIDRSyntaxError(reason: why))
        }
    }
}

/// Why a text is not a prefix.
public struct CIDRSyntaxError: Error, Sendable, Hashable, CustomStringConvertible {
    public var reason: String
    public init(reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// Splits the inclusive range `first...last` of one family into the fewest CIDR prefixes, in
/// address order (the RIR delegated files give IPv4 blocks as a start and a count).
public func cidrsCovering(first: UInt128, last: UInt128, family: AddressFamily) -> [CIDRPrefix] {
    var out: [CIDRPrefix] = []
    rangeToCIDRs(first: first, last: last, bits: family.bits) { a, len in
        out.append(CIDRPrefix(family: family, address: a, length: len))
    }
    return out
}

/// Reads `path` line by line as raw bytes (gzip or plain), calling `body` with each line
/// without its `\n`; the pointer is valid only during the call. Lines cost no allocation.
/// - Returns: the number of (uncompressed) bytes read.
/// - Throws: ``Diagnostic`` with code `io` naming the file when it cannot be opened or read.
@discardableResult
public func forEachLine(ofFile path: String, _ body: (UnsafePointer<UInt8>, Int) -> Void) throws(Diagnostic) -> Int {
    do throws(LineReaderError) {
        var reader = try LineReader(path: path)
        try reader.forEachLine(body)
        return reader.bytesRead
    } catch {
        throw Diagnostic(.error, .io, "cannot read: \(error.reason)", file: path, line: error.line)
    }
}
