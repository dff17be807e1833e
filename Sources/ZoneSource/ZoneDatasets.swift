import PrefixStore
import LDNSKit

// The dataset types that are not IP lists: `generic` (records at names inside the zone), `acl`
// (client address → action) and `combined` (several datasets, each attached at subzones, in
// one file). Their files are small; none of this is on the IP parser's hot path.

/// What one non-IP spec compiled to.
struct ZoneDatasetsOutput {
    var datasets: [DatasetInput] = []
    /// Owners absolute (subzone and apex applied).
    var records: [GenericRecord] = []
    var soa: SOASource? = nil
    var ns: NSSource? = nil
    var entries = 0
    /// Lines skipped outside any dataset: `generic` records, the common section of `combined`.
    var skippedOther = 0
    /// Lines skipped per IP or acl section (its dataset name), once whatever its subzones.
    var skippedSections: [(name: String, lines: Int)] = []
}

/// Splits a trimmed line into white-space separated words (bytes → String, Latin-1 safe).
func words(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int) -> [(start: Int, end: Int)] {
    var out: [(Int, Int)] = []
    var i = s
    while i < e {
        while i < e && isSpace(p[i]) { i += 1 }
        if i == e { break }
        let w = i
        while i < e && !isSpace(p[i]) { i += 1 }
        out.append((w, i))
    }
    return out
}

/// Trims a line; nil for blank lines and comments.
@inline(__always)
func trimmed(_ p: UnsafePointer<UInt8>, _ n: Int) -> (Int, Int)? {
    var s = 0, e = n
    while s < e && isSpace(p[s]) { s += 1 }
    while e > s && isSpace(p[e - 1]) { e -= 1 }
    if s == e { return nil }
    return (s, e)
}

/// Whether the trimmed line is a special (`$…`, or `#$`, `;$`, `:$`).
@inline(__always)
func isSpecialLine(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int) -> Bool {
    let c = p[s]
    return c == 0x24 || ((c == 0x23 || c == 0x3B || c == 0x3A) && s + 1 < e && p[s + 1] == 0x24)
}

extension DatasetParser {
    /// Counts one line the caller parses itself (position for diagnostics and origins).
    mutating func advance() {
        lineNumber &+= 1
        origin &+= 1
        linesRead &+= 1
    }
}

// MARK: generic

/// rbldnsd `generic`: `name [ttl] TYPE value` per line, TYPE one of A, AAAA, TXT, MX. `@` is
/// the apex (or the subzone a `combined` section attaches the dataset at); a name without a
/// trailing dot is relative to it (as rbldnsd); a name with a trailing dot is absolute and must
/// lie inside the zone (rbldnsd ignores trailing dots; we give them their zone-file meaning).
/// RDATA is parsed and validated by libldns. `$TTL`, `$SOA`, `$NS` are read as in IP datasets.
struct GenericParser {
    /// Specials and position.
    var meta: DatasetParser
    let zone: DomainName
    /// Records with owners relative to the attachment point (`relative`: encoded labels, no
    /// root) or absolute (`absolute`: full wire name).
    var records: [(relative: [UInt8], absolute: [UInt8]?, record: GenericRecord)] = []

    init(meta: DatasetParser, zone: DomainName) {
        self.meta = meta
        self.zone = zone
    }

    mutating func line(_ p: UnsafePointer<UInt8>, _ n: Int) {
        guard let (s, e) = trimmed(p, n), !isCommentStart(p[s]) || isSpecialLine(p, s, e) else { meta.advance(); return }
        if isSpecialLine(p, s, e) { meta.line(p, n); return }
        meta.advance()
        let w = words(p, s, e)
        func text(_ i: Int) -> String { DatasetParser.text(p, w[i].start, w[i].end) }
        guard w.count >= 3 else {
            meta.skip(.syntax, "generic record needs 'name [ttl] TYPE value': '\(DatasetParser.text(p, s, e))'")
            return
        }
        let name = text(0)
        var k = 1
        var ttl = meta.ttl
        if let c = p[w[1].start] as UInt8?, isDigit(c) {
            do throws(LDNSError) { ttl = meta.bounded(try LDNSTime.seconds(text(1)), "record TTL") } catch {
                meta.skip(.syntax, "invalid TTL in generic record: \(error)")
                return
            }
            k = 2
        }
        guard k + 1 < w.count else {
            meta.skip(.syntax, "generic record needs a type and a value: '\(DatasetParser.text(p, s, e))'")
            return
        }
        let type = text(k).uppercased()
        guard ["A", "AAAA", "TXT", "MX"].contains(type) else {
            meta.skip(.syntax, "generic record type '\(text(k))' is not supported (A, AAAA, TXT, MX)")
            return
        }
        var value = DatasetParser.text(p, w[k + 1].start, e)
        if type == "TXT" && !value.hasPrefix("\"") {
            // rbldnsd: the rest of the line is one string.
            var q = "\""
            for c in value { if c == "\\" || c == "\"" { q.append("\\") }; q.append(c) }
            value = q + "\""
        }
        let rdata: [UInt8]
        let code: UInt16
        do throws(LDNSError) {
            (code, rdata) = try RData.parse(type: type, text: value)
        } catch {
            meta.skip(.syntax, "invalid \(type) value: \(error)")
            return
        }
        var relative: [UInt8] = []
        var absolute: [UInt8]? = nil
        if name == "@" {
            relative = []
        } else {
            do throws(LDNSError) {
                let dn = try DomainName(name)
                if name.hasSuffix(".") {
                    guard dn.isSubdomain(of: zone) else {
                        meta.skip(.syntax, "generic record name '\(name)' is outside zone \(zone)")
                        return
                    }
                    absolute = dn.wire
                } else {
                    relative = Array(dn.wire.dropLast())
                }
            } catch {
                meta.skip(.syntax, "invalid generic record name: \(error)")
                return
            }
        }
        records.append((relative, absolute, GenericRecord(owner: [], type: code, ttl: ttl, rdata: rdata)))
    }

    /// Records attached at each subzone (encoded labels, empty = apex) of the zone; an absolute
    /// owner is kept once.
    func finish(subzones: [[UInt8]]) -> [GenericRecord] {
        var out: [GenericRecord] = []
        var seen = Set<GenericRecord>()
        for sub in subzones {
            for r in records {
                var rec = r.record
                rec.owner = r.absolute ?? (r.relative + sub + zone.wire)
                if rec.owner.count <= 255, seen.insert(rec).inserted { out.append(rec) }
            }
        }
        return out
    }
}

// MARK: acl

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
            out.append(DatasetInput(name: name, type: "acl", family: .ipv4, ttl: meta.ttl, values: values, entries: v4, subzone: subzone))
        }
        if !v6.isEmpty {
            out.append(DatasetInput(name: name, type: "acl", family: .ipv6, ttl: meta.ttl, values: values, entries: v6, subzone: subzone))
        }
        // The skipped lines are the dataset's, whatever their family: counted once.
        if !out.isEmpty { out[0].skippedLines = meta.skipped }
        return out
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}

// MARK: combined and the driver for the three types

/// Parses the files of one `generic`, `acl` or `combined` spec.
///
/// `combined`: an optional common section (specials: `$SOA`, `$NS` for the base zone; `$TTL`
/// and `$0`–`$9` as defaults for the sections), then sections started by
/// `$DATASET type[:name] subzone...`, each running to the next `$DATASET` or the end of the
/// file. `@` attaches the section's dataset at the zone itself; other subzones are relative to
/// the zone. `$SOA`/`$NS` anywhere apply to the base zone (rbldnsd). Sections may not be
/// `combined`; an `acl` section may attach at `@` only.
struct ZoneDatasetsParser {
    enum Kind: String { case generic, acl, combined, aclkey }  // aclkey
    enum Section {
        case ip(DatasetParser, DatasetKind)
        case generic(GenericParser)
        case acl(ACLParser)
        case aclkey(AclKeyParser)  // aclkey
    }

    let kind: Kind
    let zone: DomainName
    let specName: String
    let options: CompileOptions
    /// Position, common specials.
    var common: DatasetParser
    var section: Section? = nil
    var sectionName = ""
    var subzones: [[UInt8]] = []
    var out = ZoneDatasetsOutput()
    var sinks: [DiagnosticSink] = []

    init(kind: Kind, zone: DomainName, specName: String, options: CompileOptions) {
        self.kind = kind; self.zone = zone; self.specName = specName; self.options = options
        common = DatasetParser(kind: .ip4set, countAsValue: options.countAsValue, force: options.force,
                               strict: options.strict, now: options.now)
        common.ttl = options.defaultTTL
        common.defaultTTL = options.defaultTTL
        switch kind {
        case .generic: section = .generic(GenericParser(meta: common, zone: zone)); subzones = [[]]; sectionName = specName
        case .acl: section = .acl(ACLParser(meta: common)); subzones = [[]]; sectionName = specName
        case .aclkey: section = .aclkey(AclKeyParser(meta: common)); subzones = [[]]; sectionName = specName  // aclkey
        case .combined: break
        }
    }

    var origin: UInt32 { common.origin }
    var linesRead: Int { common.linesRead }

    func freshParser(_ k: DatasetKind) -> DatasetParser {
        var d = DatasetParser(kind: k, countAsValue: options.countAsValue, force: options.force,
                              strict: options.strict, now: options.now)
        d.ttl = common.ttl
        d.defaultTTL = common.defaultTTL
        d.vars = common.vars
        d.baseTemplate = common.baseTemplate
        d.fileName = common.fileName
        return d
    }

    mutating func beginFile(_ name: String, originBase: UInt32) {
        if kind == .combined { closeSection() }
        common.beginFile(name, originBase: originBase)
        switch section {
        case .ip(var d, let k)?: d.beginFile(name, originBase: originBase); section = .ip(d, k)
        case .generic(var g)?: g.meta.beginFile(name, originBase: originBase); section = .generic(g)
        case .acl(var a)?: a.meta.beginFile(name, originBase: originBase); a.beginFile(); section = .acl(a)
        case .aclkey(var k)?: k.meta.beginFile(name, originBase: originBase); section = .aclkey(k)  // aclkey
        case nil: break
        }
    }

    mutating func line(_ p: UnsafePointer<UInt8>, _ n: Int) {
        if kind == .combined, let (s, e) = trimmed(p, n), isSpecialLine(p, s, e) {
            let w = words(p, p[s] == 0x24 ? s + 1 : s + 2, e)
            if let f = w.first, DatasetParser.text(p, f.start, f.end).lowercased() == "dataset" {
                closeSection()
                common.advance()
                startSection(w.dropFirst().map { DatasetParser.text(p, $0.start, $0.end) })
                return
            }
        }
        guard section != nil else {
            // Common section of a combined file: specials only.
            if let (s, e) = trimmed(p, n), !isSpecialLine(p, s, e), !isCommentStart(p[s]) {
                common.advance()
                common.fail(.syntax, "data before the first $DATASET line of a combined dataset (rbldnsd refuses the file too)")
                return
            }
            common.line(p, n)
            return
        }
        // The section parser counts the line at the common position.
        let ln = common.lineNumber, org = common.origin
        switch section! {
        case .ip(var d, let k):
            d.lineNumber = ln; d.origin = org
            d.line(p, n); section = .ip(d, k)
        case .generic(var g):
            g.meta.lineNumber = ln; g.meta.origin = org
            g.line(p, n); section = .generic(g)
        case .acl(var a):
            a.meta.lineNumber = ln; a.meta.origin = org
            a.line(p, n); section = .acl(a)
        case .aclkey(var k):  // aclkey
            k.meta.lineNumber = ln; k.meta.origin = org
            k.line(p, n); section = .aclkey(k)
        }
        common.advance()
    }

    mutating func startSection(_ args: [String]) {
        guard let spec = args.first else {
            common.fail(.special, "$DATASET needs a type and at least one subzone")
            return
        }
        let parts = spec.split(separator: ":", maxSplits: 1)
        let type = parts.first.map { String($0).lowercased() } ?? ""
        sectionName = "\(type):\(parts.count > 1 ? String(parts[1]) : specName)"
        subzones = []
        for sub in args.dropFirst() {
            if sub == "@" { subzones.append([]); continue }
            do throws(LDNSError) {
                let dn = try DomainName(sub.hasSuffix(".") ? String(sub.dropLast()) : sub)
                subzones.append(Array(dn.wire.dropLast()))
            } catch {
                common.fail(.special, "$DATASET: invalid subzone: \(error)")
            }
        }
        if subzones.isEmpty {
            // rbldnsd: "no subzone(s) specified for dataset, data will be ignored".
            common.skip(.special, "$DATASET \(spec) names no subzone (use @ for the zone itself); its data is ignored")
        }
        if let k = DatasetKind(rawValue: type) {
            section = .ip(freshParser(k), k)
        } else if type == "generic" {
            section = .generic(GenericParser(meta: freshParser(.ip4set), zone: zone))
        } else if type == "acl" {
            if !subzones.isEmpty && subzones != [[]] { common.fail(.special, "an acl section applies to the whole zone: attach it at @ only") }
            section = .acl(ACLParser(meta: freshParser(.ip4set)))
        } else if type == AclKey.type {  // aclkey
            if !subzones.isEmpty && subzones != [[]] { common.fail(.special, "an aclkey section applies to the whole zone: attach it at @ only") }
            section = .aclkey(AclKeyParser(meta: freshParser(.ip4set)))
        } else if type == "combined" {
            common.fail(.special, "combined datasets cannot be nested")
            section = .generic(GenericParser(meta: freshParser(.ip4set), zone: zone))
            subzones = []
        } else {
            common.fail(.unsupportedType, "$DATASET: unknown or unsupported dataset type '\(type)'")
            section = .generic(GenericParser(meta: freshParser(.ip4set), zone: zone))
            subzones = []
        }
    }

    mutating func takeMeta(_ d: DatasetParser) {
        var d = d
        d.endFile()
        if out.soa == nil { out.soa = d.soa }
        if out.ns == nil { out.ns = d.ns }
        sinks.append(d.sink)
    }

    mutating func closeSection() {
        guard let s = section else { return }
        section = nil
        switch s {
        case .ip(var d, let k):
            let values = d.finish()
            takeMeta(d)
            out.entries += d.entries.count
            for sub in subzones {
                var ds = DatasetInput(name: sectionName, type: k.rawValue, family: k.family, ttl: d.ttl,
                                      values: values, entries: d.entries, created: d.created,
                                      expires: d.expires, subzone: sub)
                ds.skippedLines = d.skipped
                out.datasets.append(ds)
            }
            if d.skipped > 0 { out.skippedSections.append((sectionName, d.skipped)) }
        case .generic(let g):
            takeMeta(g.meta)
            out.skippedOther += g.meta.skipped
            let recs = g.finish(subzones: subzones)
            out.entries += g.records.count
            out.records += recs
        case .acl(let a):
            takeMeta(a.meta)
            out.entries += a.v4.count + a.v6.count
            let acls = subzones.flatMap { a.finish(name: sectionName, subzone: $0) }
            if acls.isEmpty { out.skippedOther += a.meta.skipped }
            else if a.meta.skipped > 0 { out.skippedSections.append((sectionName, a.meta.skipped)) }
            out.datasets += acls
        case .aclkey(var k):  // aclkey
            let d = k.finish(name: sectionName)
            takeMeta(k.meta)
            out.entries += k.keys.count
            if subzones.isEmpty { out.skippedOther += k.meta.skipped; break }
            if k.meta.skipped > 0 { out.skippedSections.append((sectionName, k.meta.skipped)) }
            out.datasets.append(d)
        }
    }

    mutating func finish() -> (ZoneDatasetsOutput, [DiagnosticSink]) {
        closeSection()
        common.endFile()
        out.skippedOther += common.skipped
        // Common specials: $SOA/$NS of the common section come first in file order.
        if let s = common.soa { out.soa = s }
        if let n = common.ns { out.ns = n }
        return (out, [common.sink] + sinks)
    }
}
