#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DNSBLServer

// Reading TSIG keys the way operators already have them: dig's `-y` argument and the key
// statements of BIND (`tsig-keygen` output), NSD and Knot configuration files. Errors name the
// key and the file:line, never the secret.

extension TSIGKey {
    /// Parses `--tsig-key`: dig's `-y` form `[ALGORITHM:]NAME:SECRET`, or `NAME:ALGORITHM:SECRET`.
    /// The secret is base64; without an algorithm the key is HMAC-SHA256.
    /// - Throws: `DNSBLServer/ServerError` `.config` naming the key (never the secret).
    public init(option text: String) throws(ServerError) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let name: String, algorithm: TSIGAlgorithm, secretText: String
        switch parts.count {
        case 2:
            (name, algorithm, secretText) = (parts[0], .hmacSHA256, parts[1])
        case 3:
            if let a = TSIGAlgorithm(name: parts[0]) {
                (name, algorithm, secretText) = (parts[1], a, parts[2])
            } else if let a = TSIGAlgorithm(name: parts[1]) {
                (name, algorithm, secretText) = (parts[0], a, parts[2])
            } else {
                throw ServerError(.config, "--tsig-key for \(parts[0]) / \(parts[1]): no known algorithm (hmac-sha256, hmac-sha384, hmac-sha512, hmac-sha1, hmac-md5)")
            }
        default:
            throw ServerError(.config, "--tsig-key takes [ALGORITHM:]NAME:SECRET (like dig -y)")
        }
        guard let secret = base64Decode(secretText) else {
            throw ServerError(.config, "--tsig-key \(name): the secret is not base64")
        }
        try self.init(name: name, algorithm: algorithm, secret: secret)
    }

    /// Reads every key defined in a key file, in any of these forms:
    ///
    /// ```
    /// key "xfr.bl.example" {            # BIND, tsig-keygen, ldns and Knot's keymgr -t
    ///     algorithm hmac-sha256;
    ///     secret "c2VjcmV0...";
    /// };
    /// key:                              # NSD (nsd.conf)
    ///     name: "xfr.bl.example"
    ///     algorithm: hmac-sha256
    ///     secret: "c2VjcmV0..."
    /// key:                              # Knot (knot.conf)
    ///   - id: xfr.bl.example
    ///     algorithm: hmac-sha256
    ///     secret: c2VjcmV0...
    /// ```
    ///
    /// Comments start with `#`, `//` or `/* */`; anything besides key definitions is skipped.
    /// - Throws: `DNSBLServer/ServerError` `.config` with file:line for an incomplete key, an unknown
    ///   algorithm or a secret that is not base64; `.io` when the file cannot be read.
    public static func read(keyFile path: String) throws(ServerError) -> [TSIGKey] {
        guard let text = readTextFile(path) else { throw ServerError(.io, "cannot read TSIG key file \(path)") }
        return try parse(keyFile: text, path: path)
    }

    /// ``read(keyFile:)`` on text already read; `path` only names it in errors.
    public static func parse(keyFile text: String, path: String) throws(ServerError) -> [TSIGKey] {
        var keys: [TSIGKey] = []
        // A key under construction: its fields and the line it starts on.
        var name: String? = nil, algorithm: String? = nil, secret: String? = nil
        var startLine = 0
        var inBlock = false  // BIND `key "name" { ... };`
        var inYAML = false   // NSD/Knot `key:` clause
        func finish() throws(ServerError) {
            defer { name = nil; algorithm = nil; secret = nil }
            guard name != nil || algorithm != nil || secret != nil else { return }
            let at = "\(path):\(startLine)"
            guard let n = name else { throw ServerError(.config, "\(at): TSIG key without a name") }
            guard let a = algorithm else { throw ServerError(.config, "\(at): TSIG key \(n) has no algorithm") }
            guard let alg = TSIGAlgorithm(name: a) else {
                throw ServerError(.config, "\(at): TSIG key \(n): unknown algorithm \(a)")
            }
            guard let s = secret, let bytes = base64Decode(s) else {
                throw ServerError(.config, "\(at): TSIG key \(n): missing or non-base64 secret")
            }
            do { keys.append(try TSIGKey(name: n, algorithm: alg, secret: bytes)) } catch {
                throw ServerError(.config, "\(at): \(error.reason)")
            }
        }
        func unquote(_ s: Substring) -> String {
            var t = s.trimmingCharacters(in: " \t;")
            if t.hasPrefix("\""), t.hasSuffix("\""), t.count >= 2 { t = String(t.dropFirst().dropLast()) }
            return t
        }
        var inComment = false
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = Substring(rawLine)
            // Comments: /* */ (possibly over lines), then # and // to the end of the line.
            if inComment {
                guard let end = line.range(of: "*/") else { continue }
                line = line[end.upperBound...]; inComment = false
            }
            while let open = line.range(of: "/*") {
                if let close = line[open.upperBound...].range(of: "*/") {
                    line = line[..<open.lowerBound] + line[close.upperBound...]
                } else { line = line[..<open.lowerBound]; inComment = true }
            }
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            // `//` starts a comment only outside quotes and after a blank: base64 may hold "//".
            var quoted = false
            var previous: Character = " "
            for i in line.indices {
                let c = line[i]
                if c == "\"" { quoted.toggle() }
                if !quoted, c == "/", previous == " " || previous == "\t",
                   line.index(after: i) < line.endIndex, line[line.index(after: i)] == "/" {
                    line = line[..<i]; break
                }
                previous = c
            }
            let trimmed = Substring(line.trimmingCharacters(in: " \t\r"))
            if trimmed.isEmpty { continue }
            let indented = line.first == " " || line.first == "\t"
            // BIND statements may share lines: split on ; { } while in or entering a block.
            // `key NAME;` inside another BIND block (an ACL) is a reference, not a definition.
            let opensKey = (trimmed.hasPrefix("key ") || trimmed.hasPrefix("key\t")) && trimmed.contains("{")
            if opensKey || inBlock {
                if !inBlock {
                    try finish()
                    inYAML = false
                    startLine = index + 1
                }
                var rest = trimmed
                if !inBlock {
                    rest = rest.dropFirst(3)
                    guard let brace = rest.firstIndex(of: "{") else {
                        throw ServerError(.config, "\(path):\(index + 1): expected key \"NAME\" {")
                    }
                    name = unquote(rest[..<brace])
                    rest = rest[rest.index(after: brace)...]
                    inBlock = true
                }
                for statement in rest.split(separator: ";") {
                    let s = statement.trimmingCharacters(in: " \t")
                    if s.hasPrefix("}") { inBlock = false; try finish(); continue }
                    let fields = s.split(maxSplits: 1, whereSeparator: { $0 == " " || $0 == "\t" })
                    guard fields.count == 2 else { continue }
                    switch fields[0] {
                    case "algorithm": algorithm = unquote(fields[1])
                    case "secret": secret = unquote(fields[1])
                    default: break
                    }
                }
                continue
            }
            if trimmed == "key:" && !indented {
                try finish()
                inYAML = true
                startLine = index + 1
                continue
            }
            if !indented && trimmed.hasSuffix(":") { try finish(); inYAML = false; continue }
            guard inYAML else { continue }
            var field = trimmed
            if field.hasPrefix("- ") {  // Knot: a new list item is a new key
                try finish()
                startLine = index + 1
                field = field.dropFirst(2)
            }
            guard let colon = field.firstIndex(of: ":") else { continue }
            let k = field[..<colon].trimmingCharacters(in: " \t")
            let v = unquote(field[field.index(after: colon)...])
            switch k {
            case "name", "id": if name != nil { try finish(); startLine = index + 1 }; name = v
            case "algorithm": algorithm = v
            case "secret": secret = v
            default: break
            }
        }
        if inBlock { throw ServerError(.config, "\(path):\(startLine): key statement not closed") }
        try finish()
        return keys
    }
}

extension Substring {
    func trimmingCharacters(in set: String) -> String {
        let chars = Set(set)
        var s = self
        while let f = s.first, chars.contains(f) { s = s.dropFirst() }
        while let l = s.last, chars.contains(l) { s = s.dropLast() }
        return String(s)
    }
}

/// Standard base64 (RFC 4648 §4), padding optional, whitespace ignored; nil for other bytes.
public func base64Decode(_ text: String) -> [UInt8]? {
    var out: [UInt8] = []
    var acc: UInt32 = 0, bits = 0
    var padding = 0
    for c in text.utf8 {
        let v: UInt32
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): v = UInt32(c - UInt8(ascii: "A"))
        case UInt8(ascii: "a")...UInt8(ascii: "z"): v = UInt32(c - UInt8(ascii: "a") + 26)
        case UInt8(ascii: "0")...UInt8(ascii: "9"): v = UInt32(c - UInt8(ascii: "0") + 52)
        case UInt8(ascii: "+"): v = 62
        case UInt8(ascii: "/"): v = 63
        case UInt8(ascii: "="): padding += 1; continue
        case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): continue
        default: return nil
        }
        guard padding == 0 else { return nil }
        acc = acc << 6 | v
        bits += 6
        if bits >= 8 {
            bits -= 8
            out.append(UInt8((acc >> UInt32(bits)) & 0xFF))
        }
    }
    guard padding <= 2, bits < 6 else { return nil }
    return out.isEmpty ? nil : out
}

/// Standard base64 with padding.
public func base64Encode(_ bytes: [UInt8]) -> String {
    let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    var out: [UInt8] = []
    var i = 0
    while i < bytes.count {
        let b0 = UInt32(bytes[i]), b1 = i + 1 < bytes.count ? UInt32(bytes[i + 1]) : 0
        let b2 = i + 2 < bytes.count ? UInt32(bytes[i + 2]) : 0
        let v = b0 << 16 | b1 << 8 | b2
        out.append(table[Int(v >> 18)]); out.append(table[Int((v >> 12) & 63)])
        out.append(i + 1 < bytes.count ? table[Int((v >> 6) & 63)] : UInt8(ascii: "="))
        out.append(i + 2 < bytes.count ? table[Int(v & 63)] : UInt8(ascii: "="))
        i += 3
    }
    return String(decoding: out, as: UTF8.self)
}

private func readTextFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 { return nil }
        if n == 0 { break }
        bytes += buf[0..<n]
        if bytes.count > 1 << 20 { return nil }
    }
    return String(decoding: bytes, as: UTF8.self)
}
