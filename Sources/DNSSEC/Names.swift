/// Domain names as DNSSEC needs them: uncompressed wire form (RFC 1035 §3.1), lower-cased
/// (the canonical form of RFC 4034 §6.2), ending in the root label.
public enum CanonicalName {
    /// Parses presentation text (`bl.example.`; a missing trailing dot is taken as absolute)
    /// into lower-cased uncompressed wire form. Accepts `\DDD` and `\X` escapes
    /// (RFC 1035 §5.1).
    /// - Returns: the wire bytes ending in 0, or `nil` when a label is empty or longer than 63
    ///   bytes, the name is longer than 255 bytes, or an escape is malformed.
    public static func parse(_ text: String) -> [UInt8]? {
        let s = Array(text.utf8)
        if s == [UInt8(ascii: ".")] { return [0] }
        if s.isEmpty { return nil }
        var out: [UInt8] = []
        var label: [UInt8] = []
        var i = 0
        var ended = false
        func flush() -> Bool {
            guard !label.isEmpty, label.count <= 63 else { return false }
            out.append(UInt8(label.count)); out.append(contentsOf: label); label.removeAll()
            return true
        }
        while i < s.count {
            let c = s[i]
            if ended { return nil }
            if c == UInt8(ascii: ".") {
                guard flush() else { return nil }
                i += 1
                if i == s.count { ended = true }
                continue
            }
            if c == UInt8(ascii: "\\") {
                guard i + 1 < s.count else { return nil }
                let d = s[i + 1]
                if d >= 0x30 && d <= 0x39 {
                    guard i + 3 < s.count else { return nil }
                    var v = 0
                    for k in 1...3 {
                        let x = s[i + k]
                        guard x >= 0x30 && x <= 0x39 else { return nil }
                        v = v * 10 + Int(x - 0x30)
                    }
                    guard v <= 255 else { return nil }
                    label.append(lower(UInt8(v))); i += 4
                } else {
                    label.append(lower(d)); i += 2
                }
                continue
            }
            label.append(lower(c)); i += 1
        }
        if !label.isEmpty { guard flush() else { return nil } }
        out.append(0)
        return out.count <= 255 ? out : nil
    }

    /// Lower-cases one byte of a label (ASCII letters only, RFC 4343 §3).
    @inlinable
    public static func lower(_ b: UInt8) -> UInt8 {
        b >= 0x41 && b <= 0x5A ? b | 0x20 : b
    }

    /// Lower-cases a wire-form name (uncompressed) in place.
    public static func canonicalize(_ wire: inout [UInt8]) {
        var i = 0
        while i < wire.count, wire[i] != 0 {
            let n = Int(wire[i])
            for k in (i + 1)..<min(i + 1 + n, wire.count) { wire[k] = lower(wire[k]) }
            i += n + 1
        }
    }

    /// Presentation text of a wire-form name with a trailing dot (`bl.example.`); bytes other
    /// than letters, digits, `-`, `_` and `*` are written as `\DDD`.
    public static func text(_ wire: [UInt8]) -> String {
        if wire.count <= 1 { return "." }
        var out = ""
        var i = 0
        while i < wire.count, wire[i] != 0 {
            let n = Int(wire[i]); i += 1
            for b in wire[i..<min(i + n, wire.count)] {
                switch b {
                case 0x61...0x7A, 0x41...0x5A, 0x30...0x39, UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "*"):
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

    /// The labels of a wire-form name, leftmost first, without the root label.
    public static func labels(_ wire: [UInt8]) -> [ArraySlice<UInt8>] {
        var out: [ArraySlice<UInt8>] = []
        var i = 0
        while i < wire.count, wire[i] != 0 {
            let n = Int(wire[i])
            out.append(wire[(i + 1)..<min(i + 1 + n, wire.count)])
            i += n + 1
        }
        return out
    }

    /// The RRSIG Labels field of an owner (RFC 4034 §3.1.3): the label count, root excluded,
    /// not counting a leftmost `*` label (a wildcard owner).
    public static func rrsigLabelCount(_ wire: [UInt8]) -> UInt8 {
        let l = labels(wire)
        if let first = l.first, first.count == 1, first.first == UInt8(ascii: "*") { return UInt8(l.count - 1) }
        return UInt8(l.count)
    }
}

/// Base64 (RFC 4648 §4) and hexadecimal text, as DNSSEC presentation formats use them.
public enum DNSSECText {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Base64 with padding.
    public static func base64(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i + 3 <= bytes.count {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out += [alphabet[Int(v >> 18 & 63)], alphabet[Int(v >> 12 & 63)], alphabet[Int(v >> 6 & 63)], alphabet[Int(v & 63)]]
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let v = UInt32(bytes[i]) << 16
            out += [alphabet[Int(v >> 18 & 63)], alphabet[Int(v >> 12 & 63)], UInt8(ascii: "="), UInt8(ascii: "=")]
        } else if rest == 2 {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out += [alphabet[Int(v >> 18 & 63)], alphabet[Int(v >> 12 & 63)], alphabet[Int(v >> 6 & 63)], UInt8(ascii: "=")]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes base64 (RFC 4648 §4), ignoring spaces and tabs between groups.
    /// - Returns: the bytes, or `nil` for any other character, a bad length or bad padding.
    public static func decodeBase64(_ text: Substring.UTF8View) -> [UInt8]? {
        var vals: [UInt8] = []
        var pad = 0
        for c in text {
            let v: UInt8
            switch c {
            case 0x41...0x5A: v = c - 0x41
            case 0x61...0x7A: v = c - 0x61 + 26
            case 0x30...0x39: v = c - 0x30 + 52
            case UInt8(ascii: "+"): v = 62
            case UInt8(ascii: "/"): v = 63
            case UInt8(ascii: "="): pad += 1; continue
            case UInt8(ascii: " "), UInt8(ascii: "\t"): continue
            default: return nil
            }
            if pad > 0 { return nil }
            vals.append(v)
        }
        guard (vals.count + pad) % 4 == 0, pad <= 2, vals.count % 4 != 1 else { return nil }
        if pad > 0 && (vals.count + pad) % 4 != 0 { return nil }
        var out: [UInt8] = []
        var i = 0
        while i + 4 <= vals.count {
            let v = UInt32(vals[i]) << 18 | UInt32(vals[i + 1]) << 12 | UInt32(vals[i + 2]) << 6 | UInt32(vals[i + 3])
            out += [UInt8(v >> 16 & 255), UInt8(v >> 8 & 255), UInt8(v & 255)]
            i += 4
        }
        let rest = vals.count - i
        if rest == 2 {
            let v = UInt32(vals[i]) << 18 | UInt32(vals[i + 1]) << 12
            out.append(UInt8(v >> 16 & 255))
        } else if rest == 3 {
            let v = UInt32(vals[i]) << 18 | UInt32(vals[i + 1]) << 12 | UInt32(vals[i + 2]) << 6
            out += [UInt8(v >> 16 & 255), UInt8(v >> 8 & 255)]
        }
        return out
    }

    /// Upper-case hexadecimal, as `dnssec-dsfromkey` writes a DS digest.
    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }
}
