// Transition-aware lookups (issue 6, point 6): IPv6 addresses that embed an IPv4 address —
// Teredo (RFC 4380), NAT64 (RFC 6052) and 6rd (RFC 5969) — are answered from the zone's IPv4
// data for the embedded address united with the IPv6 data, the rule the answer rules give 6to4
// (DNSBL.docc/AnswerRules.md, "Transition mappings").
// Kept apart from QueryName.swift: the lookup calls in only after the name is parsed, and only
// for zones that configure a mapping.

/// An IPv6 transition mechanism whose addresses embed an IPv4 address, enabled per zone with
/// ``AnswerOptions/addTransition(_:zone:)``. Built only through the static members, which
/// refuse what the RFCs do not define, so every value is valid.
public struct TransitionMapping: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// Teredo, RFC 4380 §4: `2001:0::/32`; bits 32–63 the Teredo server's IPv4 address,
        /// 64–79 flags, 80–95 the obfuscated port, 96–127 the client's IPv4 address inverted.
        case teredo
        /// IPv4-embedded IPv6 addresses, RFC 6052 §2.2: the IPv4 address follows the prefix,
        /// skipping bits 64–71 (the "u" octet, which must be zero).
        case nat64
        /// 6rd, RFC 5969 §4: the IPv4 address less its ``TransitionMapping/ipv4MaskLength``
        /// common high-order bits follows the 6rd prefix.
        case sixRD
    }

    public let kind: Kind
    /// The IPv6 prefix, bits beyond ``prefixLength`` zero (a big-endian 128-bit integer).
    public let prefix: UInt128
    /// Prefix length in bits: 32 for Teredo; 32, 40, 48, 56, 64 or 96 for NAT64; 1–127 for 6rd.
    public let prefixLength: Int
    /// 6rd only: the high-order bits common to every IPv4 address of the domain (host order,
    /// 192.0.2.0 = 0xC000_0200, bits beyond ``ipv4MaskLength`` zero); 0 otherwise.
    public let ipv4Prefix: UInt32
    /// 6rd only: IPv4MaskLen of RFC 5969 §7.1.1, 0–32 bits; 0 otherwise.
    public let ipv4MaskLength: Int

    private init(_ kind: Kind, _ prefix: UInt128, _ length: Int, _ v4: UInt32 = 0, _ v4Length: Int = 0) {
        self.kind = kind; self.prefix = prefix; self.prefixLength = length
        self.ipv4Prefix = v4; self.ipv4MaskLength = v4Length
    }

    /// Teredo's `2001:0::/32` (RFC 4380 §2.6).
    public static let teredo = TransitionMapping(.teredo, 0x2001_0000 << 96, 32)

    /// The NAT64 well-known prefix `64:ff9b::/96` (RFC 6052 §2.1).
    public static let nat64WellKnown = TransitionMapping(.nat64, 0x64_ff9b << 96, 96)

    /// A network-specific NAT64 prefix (RFC 6052 §2.2).
    /// - Parameters:
    ///   - prefix: the IPv6 prefix as a big-endian 128-bit integer.
    ///   - length: 32, 40, 48, 56, 64 or 96 bits.
    /// - Throws: ``TransitionError`` when the length is not one of those, the prefix has bits
    ///   set beyond its length, or a /96 prefix has a non-zero u octet (bits 64–71).
    public static func nat64(prefix: UInt128, length: Int) throws(TransitionError) -> TransitionMapping {
        guard [32, 40, 48, 56, 64, 96].contains(length) else {
            throw TransitionError("NAT64 prefix length /\(length) is not one of /32, /40, /48, /56, /64, /96 (RFC 6052 §2.2)")
        }
        guard prefix & ~mask(length) == 0 else {
            throw TransitionError("NAT64 prefix has bits set beyond /\(length)")
        }
        guard (prefix >> 56) & 0xff == 0 else {
            throw TransitionError("NAT64 prefix has a non-zero u octet (bits 64-71 must be zero, RFC 6052 §2.2)")
        }
        return TransitionMapping(.nat64, prefix, length)
    }

    /// A 6rd domain (RFC 5969 §7.1.1: 6rdPrefix, 6rdPrefixLen, IPv4MaskLen; the common IPv4
    /// bits are given as an IPv4 prefix so the embedded address can be rebuilt whole).
    /// - Parameters:
    ///   - prefix: the 6rd prefix as a big-endian 128-bit integer.
    ///   - length: 6rdPrefixLen, 1–127 bits.
    ///   - ipv4Prefix: the common high-order IPv4 bits, host order.
    ///   - ipv4MaskLength: IPv4MaskLen, 0–32 bits.
    /// - Throws: ``TransitionError`` when a length is out of range, either prefix has bits set
    ///   beyond its length, or `length + (32 - ipv4MaskLength)` exceeds 128 bits.
    public static func sixRD(prefix: UInt128, length: Int, ipv4Prefix: UInt32,
                             ipv4MaskLength: Int) throws(TransitionError) -> TransitionMapping {
        guard (1...127).contains(length) else { throw TransitionError("6rd prefix length /\(length) is not 1...127") }
        guard (0...32).contains(ipv4MaskLength) else {
            throw TransitionError("6rd IPv4 mask length /\(ipv4MaskLength) is not 0...32 (RFC 5969 §7.1.1)")
        }
        guard prefix & ~mask(length) == 0 else { throw TransitionError("6rd prefix has bits set beyond /\(length)") }
        let v4Mask: UInt32 = ipv4MaskLength == 0 ? 0 : ~0 << UInt32(32 - ipv4MaskLength)
        guard ipv4Prefix & ~v4Mask == 0 else {
            throw TransitionError("6rd IPv4 prefix has bits set beyond /\(ipv4MaskLength)")
        }
        guard length + 32 - ipv4MaskLength <= 128 else {
            throw TransitionError("6rd prefix /\(length) plus \(32 - ipv4MaskLength) IPv4 bits exceeds 128 bits")
        }
        return TransitionMapping(.sixRD, prefix, length, ipv4Prefix, ipv4MaskLength)
    }

    /// First address of the prefix (``prefix``).
    public var first: UInt128 { prefix }
    /// Last address of the prefix: every bit beyond ``prefixLength`` set.
    public var last: UInt128 { prefix | ~TransitionMapping.mask(prefixLength) }

    /// The IPv4 address `address` stands for, host order; `nil` when the address lies outside
    /// the prefix or (NAT64 below /96) has a non-zero u octet: it is then a plain IPv6 address.
    public func embeddedIPv4(_ address: UInt128) -> UInt32? {
        TransitionRule(self).embedded(address)
    }

    /// `teredo 2001::/32`, `nat64 64:ff9b::/96`, `6rd 2001:db8:ab00::/40,198.51.100.0/24`
    /// (the flag syntax of `prefixbl serve`; zero groups at the end shortened to `::`).
    public var description: String {
        switch kind {
        case .teredo: return "teredo \(v6Text(prefix))/\(prefixLength)"
        case .nat64: return "nat64 \(v6Text(prefix))/\(prefixLength)"
        case .sixRD:
            let v4 = (0..<4).map { String((ipv4Prefix >> UInt32(24 - 8 * $0)) & 0xff) }.joined(separator: ".")
            return "6rd \(v6Text(prefix))/\(prefixLength),\(v4)/\(ipv4MaskLength)"
        }
    }

    /// Network mask of `length` bits.
    static func mask(_ length: Int) -> UInt128 {
        length == 0 ? 0 : UInt128.max << UInt128(128 - length)
    }

    /// Plain hex groups, zero runs not compressed (descriptions only).
    private func v6Text(_ a: UInt128) -> String {
        var groups = (0..<8).map { String(UInt16(truncatingIfNeeded: a >> UInt128(112 - 16 * $0)), radix: 16) }
        while groups.count > 1 && groups.last == "0" { groups.removeLast() }
        return groups.joined(separator: ":") + (groups.count < 8 ? "::" : "")
    }
}

/// A transition mapping that cannot be configured, with the reason.
public struct TransitionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong, naming the RFC rule where there is one.
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// IPv6 blocks that already carry an answer rule (<doc:AnswerRules#Reading-the-query-name>): a mapping may not overlap them.
private let reservedBlocks: [(first: UInt128, last: UInt128, name: String)] = [
    (mappedFirst, mappedLast, "the IPv4-mapped block ::ffff:0:0/96"),
    (sixToFourFirst, sixToFourLast, "the 6to4 block 2002::/16"),
]

extension AnswerOptions {
    /// Enables `mapping` for the zone named `zone` (text, case-insensitive, a trailing dot
    /// optional; a `combined` subzone by its full name). Full names inside the mapping's prefix
    /// are then answered from the zone's IPv6 data united with its IPv4 data for the embedded
    /// address, and partial names count that IPv4 data (RFC 8020). Adding a mapping twice is
    /// harmless.
    /// - Throws: ``TransitionError`` when the zone name is not a domain name, or the mapping's
    ///   prefix overlaps another mapping of the zone, ::ffff:0:0/96 or 2002::/16 (an address
    ///   must embed at most one IPv4 address).
    public mutating func addTransition(_ mapping: TransitionMapping, zone: String) throws(TransitionError) {
        let key = try TransitionZoneKey.normalise(zone)
        var list = transitions[key] ?? []
        if list.contains(mapping) { return }
        for r in reservedBlocks where mapping.first <= r.last && mapping.last >= r.first {
            throw TransitionError("\(mapping) overlaps \(r.name)")
        }
        for m in list where mapping.first <= m.last && mapping.last >= m.first {
            throw TransitionError("\(mapping) overlaps \(m) in zone \(key)")
        }
        list.append(mapping)
        transitions[key] = list
    }
}

enum TransitionZoneKey {
    /// Lower-cased, no trailing dot; the text ``ServingIndex`` matches apexes against.
    static func normalise(_ zone: String) throws(TransitionError) -> String {
        var t = zone.lowercased()
        if t.hasSuffix(".") { t.removeLast() }
        guard !t.isEmpty else { throw TransitionError("empty zone name") }
        let labels = t.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 63 }), t.utf8.count <= 253 else {
            throw TransitionError("'\(zone)' is not a zone name")
        }
        return t
    }

    /// Wire form of a normalised name (as the store keeps apexes, lower-cased).
    static func wire(_ key: String) -> [UInt8] {
        var out: [UInt8] = []
        for label in key.split(separator: ".") {
            out.append(UInt8(label.utf8.count))
            out.append(contentsOf: label.utf8)
        }
        out.append(0)
        return out
    }
}

/// A mapping as the answer path uses it: a plain value (no references), so reading one per
/// query retains nothing.
struct TransitionRule: Sendable {
    let kind: TransitionMapping.Kind
    let first: UInt128
    let last: UInt128
    let length: Int
    let v4Base: UInt32
    /// 6rd: IPv4 bits carried in the address (32 − IPv4MaskLen).
    let v4Bits: Int

    init(_ m: TransitionMapping) {
        kind = m.kind; first = m.first; last = m.last; length = m.prefixLength
        v4Base = m.ipv4Prefix; v4Bits = 32 - m.ipv4MaskLength
    }

    /// Whether `a` (inside the prefix) is an address of the mechanism: NAT64 below /96 needs a
    /// zero u octet (RFC 6052 §2.2); with one set, `a` is a plain IPv6 address.
    @inline(__always)
    func valid(_ a: UInt128) -> Bool {
        kind != .nat64 || length == 96 || (a >> 56) & 0xff == 0
    }

    /// The IPv4 bits of `a` (inside the prefix), validity aside. Each IPv4 bit is one fixed
    /// bit of the IPv6 address, in order (Teredo inverted), so the image of an aligned prefix
    /// runs from `raw(lo)` to `raw(hi)`.
    @inline(__always)
    func raw(_ a: UInt128) -> UInt32 {
        switch kind {
        case .teredo:
            return ~UInt32(truncatingIfNeeded: a)
        case .nat64:
            if length == 96 { return UInt32(truncatingIfNeeded: a) }
            // Drop the u octet: 120 bits, the IPv4 address right after the prefix.
            let squeezed = (a >> 64) << 56 | (a & ((1 << 56) - 1))
            return UInt32(truncatingIfNeeded: squeezed >> UInt128(88 - length))
        case .sixRD:
            if v4Bits == 0 { return v4Base }
            return v4Base | UInt32(truncatingIfNeeded: (a << UInt128(length)) >> UInt128(128 - v4Bits))
        }
    }

    @inline(__always)
    func embedded(_ a: UInt128) -> UInt32? {
        guard a >= first && a <= last && valid(a) else { return nil }
        return raw(a)
    }
}

extension ServingZone {
    /// The IPv4 address a full name's address embeds through one of the zone's mappings.
    /// Mappings are disjoint, so at most one applies.
    @inline(__always)
    func transitionIPv4(_ a: UInt128) -> UInt32? {
        transitions.withUnsafeBufferPointer { rules in
            for i in rules.indices {
                if let v = rules[i].embedded(a) { return v }
            }
            return nil
        }
    }

    /// Whether IPv4 data is listed for some full name below the IPv6 prefix `first...last`
    /// through a mapping (the IPv6 data there is counted by the caller, as for 6to4).
    func transitionPrefixHasData(_ first: UInt128, _ last: UInt128) -> Bool {
        transitions.withUnsafeBufferPointer { rules in
            for i in rules.indices {
                let r = rules[i]
                guard first <= r.last && last >= r.first else { continue }
                // Both are aligned prefixes: the overlap is the longer one, its free bits all 0
                // in `lo` and all 1 in `hi`. A fixed non-zero u-octet bit leaves only plain
                // IPv6 names below.
                let lo = max(first, r.first), hi = min(last, r.last)
                guard r.valid(lo) else { continue }
                let a = r.raw(lo), b = r.raw(hi)
                if anyV4(min(a, b), max(a, b)) { return true }
            }
            return false
        }
    }
}
