import PrefixStore

// dnset: the lines of rbldnsd's `dnset` dataset (SourceSyntax.md, "dnset"), read by
// DatasetParser when its `domains` collector is set (DatasetTypes/DNSet.swift sets it).
// Specials, `:A:TXT` defaults, values, `$0`–`$9`, diagnostics and skipped-line counting are
// DatasetParser's own. `dnhash` (the rspamd fork's hashed variant) is refused
// (DatasetTypes.later; the migration guide says why).

extension DatasetParser {
    /// A dnset parser: an IPv4-kind parser (for specials and values) collecting names.
    /// - Parameter maxNameLength: the longest relative name in wire bytes without the root
    ///   byte (255 − apex − subzone); longer names can never be queried and are skipped.
    mutating func collectDomains(maxNameLength: Int) {
        domains = []
        domainMaxLength = maxNameLength
        sink.notStrict.insert(.notExportable)  // the line is kept: serve answers it
    }

    /// One dnset entry line (rbldnsd's syntax): `[!]name`, `[!].name`, `[!]*.name`, then for
    /// listings an optional `:A:TXT`, `:A` or bare TXT (the file's default otherwise). The
    /// name runs to the first white space; `\.`, `\\` and `\DDD` escapes as in zone files;
    /// empty labels are dropped (as rbldnsd); ASCII is lower-cased.
    mutating func domainEntry(_ p: UnsafePointer<UInt8>, _ s0: Int, _ e: Int) {
        var s = s0
        let exclusion = p[s] == 0x21  // '!'
        if exclusion {
            s += 1
            while s < e && isSpace(p[s]) { s += 1 }
        }
        var plain = true, wild = false
        if s < e && p[s] == 0x2E {  // ".name": the name and its subdomains
            wild = true; s += 1
        } else if s + 1 < e && p[s] == 0x2A && p[s + 1] == 0x2E {  // "*.name": subdomains only
            wild = true; plain = false; s += 2
        }
        var j = s
        while j < e && !isSpace(p[j]) { j += 1 }
        let labels: [UInt8]
        switch Self.domainLabels(p, s, j, maxLength: domainMaxLength) {
        case .success(let l): labels = l
        case .failure(let why):
            skip(.syntax, "invalid domain name '\(Self.text(p, s0, j))': \(why.reason)")
            return
        }
        if Self.hasStarLabel(labels) {
            warn(.notExportable, "'\(Self.text(p, s0, j))' has a literal '*' label: a literal '*' label cannot be exported or transferred; serve answers it")
        }
        var value: Int32 = PrefixEntry.exclusion
        if !exclusion {
            var r = j
            while r < e && isSpace(p[r]) { r += 1 }
            if r == e || isCommentStart(p[r]) {
                value = currentDefaultIndex()
            } else {
                guard let v = parseValue(p, r, e, fallbackText: defaultValue.text, entryValue: true) else { return }
                value = v == defaultValue ? currentDefaultIndex() : intern(v)
            }
        }
        if plain { domains?.append(DomainEntry(name: labels, wildcard: false, value: value, origin: origin)) }
        if wild { domains?.append(DomainEntry(name: labels, wildcard: true, value: value, origin: origin)) }
    }

    struct NameError: Error { var reason: String }

    /// Whether encoded labels hold a label that is exactly `*` (a name the export leaves out).
    static func hasStarLabel(_ labels: [UInt8]) -> Bool {
        var p = 0
        while p < labels.count {
            if labels[p] == 1 && p + 1 < labels.count && labels[p + 1] == 0x2A { return true }
            p += 1 + Int(labels[p])
        }
        return false
    }

    /// Encoded labels (no root byte) of the text name `p[s..<e]`, lower-cased.
    static func domainLabels(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int, maxLength: Int) -> Result<[UInt8], NameError> {
        var out: [UInt8] = [0]
        var labelStart = 0
        var i = s
        func close() -> NameError? {
            let l = out.count - labelStart - 1
            if l == 0 { return nil }
            if l > 63 { return NameError(reason: "a label is longer than 63 bytes") }
            out[labelStart] = UInt8(l)
            labelStart = out.count
            out.append(0)
            return nil
        }
        while i < e {
            var c = p[i]
            i += 1
            if c == 0x2E {
                if let err = close() { return .failure(err) }
                continue
            }
            if c == 0x5C {  // backslash
                guard i < e else { return .failure(NameError(reason: "it ends with a backslash")) }
                c = p[i]; i += 1
                if isDigit(c) {
                    var v = Int(c - 0x30)
                    if i < e && isDigit(p[i]) {
                        v = v * 10 + Int(p[i] - 0x30); i += 1
                        if i < e && isDigit(p[i]) { v = v * 10 + Int(p[i] - 0x30); i += 1 }
                    }
                    guard v <= 255 else { return .failure(NameError(reason: "escape \\\(v) is above 255")) }
                    c = UInt8(v)
                }
            }
            if c == 0 { return .failure(NameError(reason: "a label holds a zero byte")) }
            out.append(c &- 0x41 < 26 ? c | 0x20 : c)
        }
        if let err = close() { return .failure(err) }
        out.removeLast()  // the open, empty label
        if out.isEmpty { return .failure(NameError(reason: "the name is empty")) }
        if out.count > maxLength {
            return .failure(NameError(reason: "the name is \(out.count + 1) bytes in wire form, longer than the \(maxLength + 1) the zone leaves"))
        }
        return .success(out)
    }

    /// Renumbers the collected names' value indexes with the finished value table (the
    /// `map` ``finish()`` applied to address entries).
    mutating func remapDomains(_ map: [Int32]) {
        guard var d = domains else { return }
        for i in d.indices where d[i].value >= 0 { d[i].value = map[Int(d[i].value)] }
        domains = d
    }
}

extension DatasetInput {
    /// A dnset dataset from a finished parser (`parser.finish()` already called).
    static func domainSet(name: String, type: String, parser: DatasetParser, values: [ListingValue],
                          subzone: [UInt8] = []) -> DatasetInput {
        var d = DatasetInput(name: name, type: type, rule: .domainNames, family: .ipv4, ttl: parser.ttl, values: values, entries: [],
                             created: parser.created, expires: parser.expires, subzone: subzone)
        d.domains = parser.domains ?? []
        d.skippedLines = parser.skipped
        return d
    }
}

/// `dump` of a dnset dataset: one line per name and decision, `name`, `*.name` or `!`, each
/// value of a run on a line of its own (they all answer, as in the source).
enum DomainSetDump {
    static func lines(_ d: StoreDataset, _ t: DomainTable) -> [UInt8] {
        var out: [UInt8] = []
        func value(_ v: StoreValue) -> [UInt8] {
            Array(" :\(ipv4Text(v.a)):".utf8) + (v.txt.map { Array($0) } ?? [])
        }
        for i in 0..<t.nameCount {
            let e = t.entry(i)
            let name = Array(DomainKey.text(key: e.key).utf8)
            for (decision, prefix) in [(e.exact, [UInt8]()), (e.wildcard, Array("*.".utf8))] {
                switch decision {
                case .none: break
                case .excluded: out += [0x21] + prefix + name + [0x0A]
                case .value(let v):
                    for x in StoreValue.run(d.values, at: Int(v)) { out += prefix + name + value(x) + [0x0A] }
                }
            }
        }
        return out
    }
}
