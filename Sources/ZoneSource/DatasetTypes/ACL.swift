import PrefixStore
import LDNSKit

/// rbldnsd `acl`: client address → action. Both families in one file (one dataset per family
/// present); the global ACL when the zone is empty; in a `combined` file at `@` only.
struct ACL: DatasetType {
    let name = "acl"
    var family: AddressFamily? { nil }
    var rule: DatasetRule? { .clientACL }
    var allowsEmptyZone: Bool { true }
    var placement: SectionPlacement { .apexOnly }

    func makeParser(_ context: ParseContext) -> any DatasetSectionParser {
        ACLParser(meta: context.meta)
    }
}

extension ACLParser: DatasetSectionParser {
    mutating func beginFile(_ name: String, originBase: UInt32) {
        meta.beginFile(name, originBase: originBase)
        beginFile()
    }

    mutating func line(_ p: UnsafePointer<UInt8>, _ n: Int, number: Int, origin: UInt32) {
        meta.lineNumber = number; meta.origin = origin
        line(p, n)
    }

    mutating func finish(name: String, subzones: [[UInt8]], into out: inout ZoneDatasetsOutput) -> DatasetParser {
        out.entries += v4.count + v6.count
        let acls = subzones.flatMap { finish(name: name, subzone: $0) }
        if acls.isEmpty { out.skippedOther += meta.skipped }
        else if meta.skipped > 0 { out.skippedSections.append((name, meta.skipped)) }
        out.datasets += acls
        return meta
    }
}

/// rbldnsd `acl`: client IPv4/IPv6 CIDR (ip4trie/ip6trie syntax, both families in one file),
/// then an action: `:ignore` (the default), `:refuse`, `:empty`, `:pass`, or a policy answer
/// `:127.255.255.N:text` (`$` in the text = the client's address). A line holding only a
/// value sets the default for the rest of the file. `!prefix` punches a hole (no ACL match).
struct ACLParser {
    var meta: DatasetParser
    var v4: [PrefixEntry] = []
    var v6: [PrefixEntry] = []
    var values: [ListingValue] = []
    var index: [ListingValue: Int32] = [:]
    var defaultValue = ListingValue(a: ACLAction.ignore.rawValue, txt: nil)

    init(meta: DatasetParser) { self.meta = meta }

    mutating func beginFile() { defaultValue = ListingValue(a: ACLAction.ignore.rawValue, txt: nil) }

    mutating func intern(_ v: ListingValue) -> Int32 {
        if let i = index[v] { return i }
        let i = Int32(values.count)
        values.append(v); index[v] = i
        return i
    }

    /// Parses `:action` or `:A:TXT` at `p[s..<e]`.
    mutating func value(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int) -> ListingValue? {
        let t = DatasetParser.text(p, s, e)
        guard t.hasPrefix(":") else {
            meta.skip(.syntax, "acl action must be :ignore, :refuse, :empty, :pass or :127.255.255.N:text, not '\(t)'")
            return nil
        }
        let body = t.dropFirst()
        let word = body.prefix { $0 != " " && $0 != "\t" && $0 != ":" && $0 != "#" && $0 != ";" }.lowercased()
        switch word {
        case "ignore": return ListingValue(a: ACLAction.ignore.rawValue, txt: nil)
        case "refuse": return ListingValue(a: ACLAction.refuse.rawValue, txt: nil)
        case "empty": return ListingValue(a: ACLAction.empty.rawValue, txt: nil)
        case "pass": return ListingValue(a: ACLAction.pass.rawValue, txt: nil)
        default: break
        }
        let parts = body.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        let aText = String(parts[0]).trimmingSpaces()
        let octets = aText.split(separator: ".", omittingEmptySubsequences: false).map { UInt32($0) }
        guard !octets.isEmpty, octets.count == 1 || octets.count == 4, octets.allSatisfy({ $0 != nil && $0! <= 255 }) else {
            meta.skip(.syntax, "invalid acl value '\(t)'")
            return nil
        }
        let a = octets.count == 1 ? 0x7F00_0000 | octets[0]! : octets.reduce(0) { $0 << 8 | $1! }
        guard a & 0xFFFF_FF00 == 0x7FFF_FF00 else {
            meta.skip(.valueOutOfRange, "acl policy answer \(ipv4Text(a)) is outside 127.255.255.0/24 (policy answers must never look like listings)")
            return nil
        }
        var txt: [UInt8]? = nil
        if parts.count == 2 {
            let bytes = Array(parts[1].utf8)
            var i = 0
            while i < bytes.count && (bytes[i] == 0x20 || bytes[i] == 0x09) { i += 1 }
            if i < bytes.count { txt = Array(bytes[i...]) }
        }
        return ListingValue(a: a, txt: txt)
    }

    mutating func line(_ p: UnsafePointer<UInt8>, _ n: Int) {
        guard let (s0, e) = trimmed(p, n), !isCommentStart(p[s0]) || isSpecialLine(p, s0, e) else { meta.advance(); return }
        if isSpecialLine(p, s0, e) {
            let w = words(p, p[s0] == 0x24 ? s0 + 1 : s0 + 2, e)
            let kw = w.first.map { DatasetParser.text(p, $0.start, $0.end).lowercased() } ?? ""
            if kw == "soa" || kw == "ns" || kw == "nameserver" {
                meta.advance()
                meta.skip(.special, "$\(kw.uppercased()) is not allowed in an acl dataset")
                return
            }
            meta.line(p, n)
            return
        }
        meta.advance()
        if p[s0] == 0x3A && !(s0 + 1 < e && p[s0 + 1] == 0x3A) {
            if let v = value(p, s0, e) { defaultValue = v }
            return
        }
        var s = s0
        let exclusion = p[s] == 0x21
        if exclusion { s += 1; while s < e && isSpace(p[s]) { s += 1 } }
        var j = s
        while j < e && !isSpace(p[j]) && !isCommentStart(p[j]) { j += 1 }
        // IPv4 unless the token has `::` or a colon not preceded by a dotted part; an IPv4
        // token may carry its value right after it (`192.0.2.1:refuse`).
        var firstColon = s
        while firstColon < j && p[firstColon] != 0x3A { firstColon += 1 }
        var doubleColon = false
        for k in s..<max(s, j - 1) where p[k] == 0x3A && p[k + 1] == 0x3A { doubleColon = true; break }
        var dotBefore = false
        for k in s..<firstColon where p[k] == 0x2E { dotBefore = true; break }
        let colon = !(firstColon == j || (!doubleColon && dotBefore))
        if !colon { j = firstColon }
        let family: AddressFamily = colon ? .ipv6 : .ipv4
        var form = IPv4Form()
        let parsed = family == .ipv4 ? parseIPv4(p, s, j, form: &form) : parseIPv6(p, s, j)
        let addr: UInt128, len: Int
        switch parsed {
        case .prefix(let a, let l): addr = a; len = l
        case .hostBits(_, let l):
            meta.skip(.hostBits, "'\(DatasetParser.text(p, s, j))' has host bits set beyond /\(l)")
            return
        case .range:
            meta.skip(.wrongForm, "acl takes CIDR prefixes, not ranges: '\(DatasetParser.text(p, s, j))'")
            return
        case .invalid(let why):
            meta.skip(.syntax, "\(why): '\(DatasetParser.text(p, s, j))'")
            return
        }
        var v = PrefixEntry.exclusion
        if !exclusion {
            var r = j
            while r < e && isSpace(p[r]) { r += 1 }
            if r == e || isCommentStart(p[r]) {
                v = intern(defaultValue)
            } else {
                guard let val = value(p, r, e) else { return }
                v = intern(val)
            }
        }
        let entry = PrefixEntry(address: addr, prefixLength: UInt8(len), value: v, origin: meta.origin)
        if family == .ipv4 { v4.append(entry) } else { v6.append(entry) }
    }

    /// One acl dataset per family present.
    func finish(name: String, subzone: [UInt8]) -> [DatasetInput] {
        var out: [DatasetInput] = []
        if !v4.isEmpty {
            out.append(DatasetInput(name: name, type: ACL().name, rule: .clientACL, family: .ipv4, ttl: meta.ttl, values: values, entries: v4, subzone: subzone))
        }
        if !v6.isEmpty {
            out.append(DatasetInput(name: name, type: ACL().name, rule: .clientACL, family: .ipv6, ttl: meta.ttl, values: values, entries: v6, subzone: subzone))
        }
        // The skipped lines are the dataset's, whatever their family: counted once.
        if !out.isEmpty { out[0].skippedLines = meta.skipped }
        return out
    }
}
