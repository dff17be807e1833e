import PrefixStore

// MARK: aclkey

/// The rspamd fork of rbldnsd's `aclkey`: keys in the query name (Spamhaus DQS and Abusix style,
/// `2.0.0.127.<key>.bl.example`). One key per line, then what queries carrying it get:
///
/// - `key` — the current default for keys (see below);
/// - `key :pass` (or `:accept`), `key :ignore` (or `:blackhole`), `key :refuse`, `key :empty`;
///   `=word` instead of `:word` takes the keywords only; the value may follow the key without
///   a space (`key:pass`, `key=pass`); a keyword ends at a `:`, a blank or a comment, and what
///   follows it is ignored (`key :refuse:text`, `key=ignore extra`), as the fork reads them;
/// - `key :A:TXT`, `key :A` or `key TXT` — a forced answer: every full address name queried
///   with the key is listed with that A (`N` = 127.0.0.N, or a dotted address in 127.0.0.0/8)
///   and TXT (`$` = the client's address).
///
/// A line starting with `:` or `=` holding only a value sets the default: the answer for
/// unknown keys and the value of bare `key` lines after it. Before any default line unknown
/// keys are ignored (no reply) and bare keys pass — the rspamd fork would answer both with a
/// forced 127.0.0.2, listing every name. Keys are single labels of 1–63 bytes without `.`,
/// matched case-insensitively; a repeated key takes its last value (as the fork). `$TTL` sets
/// the TTL of forced answers; `$SOA` and `$NS` are not allowed. Bad lines are skipped with a
/// file:line warning and counted (errors with `--strict`).
///
/// Compiled to one IPv6 dataset of type `aclkey`: value 0 the default, then one value per key
/// in file order, each key listed as the /128 of its hash (`AclKey.hash(_:)`).
struct AclKeyParser {
    var meta: DatasetParser
    /// Keys in first-seen order (lower-cased) with their values; a repeat overwrites.
    var keys: [(key: [UInt8], value: ListingValue, origin: UInt32)] = []
    var keyIndex: [[UInt8]: Int] = [:]
    /// The answer for unknown keys.
    var defaultValue = ListingValue(a: ACLAction.ignore.rawValue, txt: nil)
    /// The value of a bare `key` line: `:pass` until a default line, then the default.
    var bareValue = ListingValue(a: ACLAction.pass.rawValue, txt: nil)

    init(meta: DatasetParser) { self.meta = meta }

    static let keywords: [String: ACLAction] = [
        "ignore": .ignore, "blackhole": .ignore, "refuse": .refuse, "empty": .empty, "pass": .pass, "accept": .pass,
    ]

    /// Parses a value at `p[s..<e]`: `=keyword`, `:keyword`, `:A[:TXT]` or bare TXT.
    mutating func value(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int) -> ListingValue? {
        let t = DatasetParser.text(p, s, e)
        if p[s] == 0x3D || p[s] == 0x3A {
            let body = t.dropFirst()
            let word = body.prefix { $0 != " " && $0 != "\t" && $0 != ":" && $0 != "#" && $0 != ";" }.lowercased()
            if let k = Self.keywords[word] { return ListingValue(a: k.rawValue, txt: nil) }
            if p[s] == 0x3D {
                meta.skip(.syntax, "aclkey keyword must be ignore, blackhole, refuse, empty, pass or accept, not '\(t)'")
                return nil
            }
            let parts = body.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            let aText = String(parts[0]).trimmingSpaces()
            let octets = aText.split(separator: ".", omittingEmptySubsequences: false).map { UInt32($0) }
            guard octets.count == 1 || octets.count == 4, octets.allSatisfy({ $0 != nil && $0! <= 255 }) else {
                meta.skip(.syntax, "invalid aclkey value '\(t)': expected :pass, :ignore, :refuse, :empty or :A:TXT")
                return nil
            }
            let a = octets.count == 1 ? 0x7F00_0000 | octets[0]! : octets.reduce(0) { $0 << 8 | $1! }
            guard a != 0x7F00_0000, a != 0 else {
                // rbldnsd's "invalid A RR": `:0` (127.0.0.0) or `:0.0.0.0` is no answer.
                meta.skip(.valueOutOfRange, "invalid aclkey A value '\(aText)': \(ipv4Text(a)) is not an answer address")
                return nil
            }
            guard a >> 24 == 127 else {
                meta.skip(.valueOutOfRange, "aclkey answer \(ipv4Text(a)) is outside 127.0.0.0/8")
                return nil
            }
            var txt: [UInt8]? = nil
            if parts.count == 2 {
                let bytes = Array(parts[1].utf8)
                var i = 0
                while i < bytes.count && (bytes[i] == 0x20 || bytes[i] == 0x09) { i += 1 }
                if i < bytes.count { txt = Array(bytes[i...]) }
            } else if defaultValue.a > 3 {
                txt = defaultValue.txt  // `:A` alone: the default answer's TXT (rbldnsd)
            }
            if let x = txt, x.count > DatasetParser.maxTXTBytes {
                meta.skip(.txtTooLong, "TXT of \(x.count) bytes is longer than \(DatasetParser.maxTXTBytes)")
                return nil
            }
            return ListingValue(a: a, txt: txt)
        }
        // Bare text: a forced answer with the default answer's A (127.0.0.2 when the default is
        // an action), as rbldnsd's A+TXT values.
        let bytes = Array(UnsafeBufferPointer(start: p + s, count: e - s))
        guard bytes.count <= DatasetParser.maxTXTBytes else {
            meta.skip(.txtTooLong, "TXT of \(bytes.count) bytes is longer than \(DatasetParser.maxTXTBytes)")
            return nil
        }
        return ListingValue(a: defaultValue.a > 3 ? defaultValue.a : 0x7F00_0002, txt: bytes)
    }

    mutating func line(_ p: UnsafePointer<UInt8>, _ n: Int) {
        guard let (s0, e) = trimmed(p, n), !isCommentStart(p[s0]) || isSpecialLine(p, s0, e) else { meta.advance(); return }
        if isSpecialLine(p, s0, e) {
            let w = words(p, p[s0] == 0x24 ? s0 + 1 : s0 + 2, e)
            let kw = w.first.map { DatasetParser.text(p, $0.start, $0.end).lowercased() } ?? ""
            if kw == "soa" || kw == "ns" || kw == "nameserver" {
                meta.advance()
                meta.skip(.special, "$\(kw.uppercased()) is not allowed in an aclkey dataset")
                return
            }
            meta.line(p, n)
            return
        }
        meta.advance()
        if (p[s0] == 0x3A && !(s0 + 1 < e && p[s0 + 1] == 0x3A)) || p[s0] == 0x3D {
            if let v = value(p, s0, e) { defaultValue = v; bareValue = v }
            return
        }
        var j = s0
        while j < e && !isSpace(p[j]) && p[j] != 0x3A && p[j] != 0x3D { j += 1 }
        let key = (s0..<j).map { lowerASCII8(p[$0]) }
        guard key.count <= AclKey.maxLength else {
            meta.skip(.syntax, "aclkey key of \(key.count) bytes is longer than a DNS label (63)")
            return
        }
        guard !key.contains(0x2E) else {
            meta.skip(.syntax, "aclkey key '\(DatasetParser.text(p, s0, j))' holds a '.': a key is one label")
            return
        }
        guard !key.isEmpty else {
            meta.skip(.syntax, "aclkey line without a key")
            return
        }
        var r = j
        while r < e && isSpace(p[r]) { r += 1 }
        let v: ListingValue
        if r == e || isCommentStart(p[r]) {
            v = bareValue
        } else {
            guard let x = value(p, r, e) else { return }
            v = x
        }
        if let i = keyIndex[key] {
            keys[i].value = v  // a repeated key: the last value wins (the rspamd fork)
        } else {
            keyIndex[key] = keys.count
            keys.append((key, v, meta.origin))
        }
    }

    /// The dataset: value 0 the default, value i the i-th key's, each key at the /128 of its
    /// hash. Keys are never empty here; a file without keys still carries the default.
    mutating func finish(name: String) -> DatasetInput {
        var values = [defaultValue]
        var entries: [PrefixEntry] = []
        var seen: [UInt128: Int] = [:]
        for (i, k) in keys.enumerated() {
            let h = k.key.withUnsafeBytes { AclKey.hash($0) }
            if let other = seen[h] {
                // 2^-128 per pair: never seen in practice, refused rather than merged.
                meta.fail(.conflict, "aclkey keys '\(String(decoding: keys[other].key, as: UTF8.self))' and '\(String(decoding: k.key, as: UTF8.self))' have the same hash")
                continue
            }
            seen[h] = i
            values.append(k.value)
            entries.append(PrefixEntry(address: h, prefixLength: 128, value: Int32(values.count - 1), origin: k.origin))
        }
        var d = DatasetInput(name: name, type: AclKeyType().name, rule: .keyInQName, family: .ipv6, ttl: meta.ttl, values: values, entries: entries)
        d.skippedLines = meta.skipped
        return d
    }
}

@inline(__always)
func lowerASCII8(_ b: UInt8) -> UInt8 { (b &- 0x41) < 26 ? b | 0x20 : b }

/// What `dump` writes for an `aclkey` dataset: the store holds the keys' hashes only, so the
/// text keeps the TTL, the default and the values, with each key as a comment naming its hash.
enum AclKeyDump {
    static func valueText(_ v: StoreValue) -> String {
        switch v.a {
        case ACLAction.ignore.rawValue: return ":ignore"
        case ACLAction.refuse.rawValue: return ":refuse"
        case ACLAction.empty.rawValue: return ":empty"
        case ACLAction.pass.rawValue: return ":pass"
        default: return ":\(ipv4Text(v.a)):" + (v.txt.map { String(decoding: $0, as: UTF8.self) } ?? "")
        }
    }

    static func text(_ d: StoreDataset) -> [UInt8] {
        var s = "$TTL \(d.ttl)\n"
        if let def = d.values.first { s += valueText(def) + "\n" }
        s += "# \(d.table.ranges().count) keys, stored as hashes (the keys themselves are not in the store):\n"
        for r in d.table.ranges() where Int(r.value) < d.values.count {
            s += "# \(String(r.first, radix: 16)) \(valueText(d.values[Int(r.value)]))\n"
        }
        return Array(s.utf8)
    }
}
