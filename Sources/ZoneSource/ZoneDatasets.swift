import PrefixStore
import LDNSKit

// The driver of one spec's files (``SpecParser``) and the line helpers the dataset types share.
// The types themselves are in DatasetTypes/.

/// What one spec compiled to.
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

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}

// MARK: the driver

/// Reads the files of one spec through its dataset type's parser (``DatasetType/makeParser(_:)``).
///
/// A container type (`combined`, ``SectionPlacement/container``): an optional common section
/// (specials: `$SOA`, `$NS` for the base zone; `$TTL` and `$0`–`$9` as defaults for the
/// sections), then sections started by `$DATASET type[:name] subzone...`, each running to the
/// next `$DATASET` or the end of the file, each read by its type's parser from the registry.
/// `@` attaches the section's dataset at the zone itself; other subzones are relative to the
/// zone. `$SOA`/`$NS` anywhere apply to the base zone (rbldnsd). Sections may not be
/// containers; an ``SectionPlacement/apexOnly`` type (`acl`) may attach at `@` only.
/// Any other type: one section, the spec's files, attached at the apex.
struct SpecParser {
    let type: any DatasetType
    let isContainer: Bool
    let zone: DomainName
    let specName: String
    let options: CompileOptions
    /// Position, common specials.
    var common: DatasetParser
    var section: (any DatasetSectionParser)? = nil
    /// A top-level address list (`ip4set`, `ip6trie`, …) is read straight through its
    /// ``DatasetParser``, not through ``section``: the compile hot path, one direct call per
    /// line (an existential call and the common position cost about 13% more instructions per
    /// line, measured with callgrind on 1M lines).
    var list: DatasetParser? = nil
    var sectionName = ""
    var subzones: [[UInt8]] = []
    var out = ZoneDatasetsOutput()
    var sinks: [DiagnosticSink] = []

    init(type: any DatasetType, zone: DomainName, specName: String, options: CompileOptions) {
        self.type = type; self.zone = zone; self.specName = specName; self.options = options
        isContainer = type.placement == .container
        common = DatasetParser(syntax: IP4Set.syntax, countAsValue: options.countAsValue, force: options.force,
                               strict: options.strict, now: options.now)
        common.ttl = options.defaultTTL
        common.defaultTTL = options.defaultTTL
        if !isContainer {
            let parser = type.makeParser(context(allowHostBits: options.allowHostBits))
            if let d = parser as? DatasetParser { list = d } else { section = parser }
            subzones = [[]]
            sectionName = specName
        }
    }

    var origin: UInt32 { list?.origin ?? common.origin }
    var linesRead: Int { list?.linesRead ?? common.linesRead }

    /// A section's start: a fresh meta parser with the common section's `$TTL`, `$0`–`$9`, `$=`.
    func context(allowHostBits: Bool) -> ParseContext {
        var d = DatasetParser(syntax: IP4Set.syntax, countAsValue: options.countAsValue, force: options.force,
                              strict: options.strict, now: options.now)
        d.ttl = common.ttl
        d.defaultTTL = common.defaultTTL
        d.vars = common.vars
        d.baseTemplate = common.baseTemplate
        d.fileName = common.fileName
        return ParseContext(meta: d, zone: zone, options: options, allowHostBits: allowHostBits, subzones: subzones)
    }

    mutating func beginFile(_ name: String, originBase: UInt32) {
        if isContainer { closeSection() }
        common.beginFile(name, originBase: originBase)
        section?.beginFile(name, originBase: originBase)
        list?.beginFile(name, originBase: originBase)
    }

    @inline(__always)
    mutating func line(_ p: UnsafePointer<UInt8>, _ n: Int) {
        if list != nil { list!.line(p, n); return }
        if isContainer, let (s, e) = trimmed(p, n), isSpecialLine(p, s, e) {
            let w = words(p, p[s] == 0x24 ? s + 1 : s + 2, e)
            if let f = w.first, DatasetParser.text(p, f.start, f.end).lowercased() == "dataset" {
                closeSection()
                common.advance()
                startSection(w.dropFirst().map { DatasetParser.text(p, $0.start, $0.end) })
                return
            }
        }
        guard section != nil else {
            // Common section of a container: specials only.
            if let (s, e) = trimmed(p, n), !isSpecialLine(p, s, e), !isCommentStart(p[s]) {
                common.advance()
                common.fail(.syntax, "data before the first $DATASET line of a combined dataset (rbldnsd refuses the file too)")
                return
            }
            common.line(p, n)
            return
        }
        // The section parser counts the line at the common position.
        section!.line(p, n, number: common.lineNumber, origin: common.origin)
        common.advance()
    }

    mutating func startSection(_ args: [String]) {
        guard let spec = args.first else {
            common.fail(.special, "$DATASET needs a type and at least one subzone")
            return
        }
        let parts = spec.split(separator: ":", maxSplits: 1)
        let typeName = parts.first.map { String($0).lowercased() } ?? ""
        sectionName = "\(typeName):\(parts.count > 1 ? String(parts[1]) : specName)"
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
        let context = context(allowHostBits: false)
        // A refused section is still read (its lines get their warnings) and then dropped.
        func refused() {
            section = Generic().makeParser(context)
            subzones = []
        }
        guard let t = DatasetTypes.named(typeName) else {
            common.fail(.unsupportedType, "$DATASET: unknown or unsupported dataset type '\(typeName)'")
            return refused()
        }
        switch t.placement {
        case .container:
            common.fail(.special, "\(t.name) datasets cannot be nested")
            return refused()
        case .apexOnly:
            if !subzones.isEmpty && subzones != [[]] { common.fail(.special, "an \(t.name) section applies to the whole zone: attach it at @ only") }
        case .anySubzone:
            break
        }
        section = t.makeParser(context)
    }

    mutating func takeMeta(_ d: DatasetParser) {
        var d = d
        d.endFile()
        if out.soa == nil { out.soa = d.soa }
        if out.ns == nil { out.ns = d.ns }
        sinks.append(d.sink)
    }

    mutating func closeSection() {
        guard var s = section else { return }
        section = nil
        takeMeta(s.finish(name: sectionName, subzones: subzones, into: &out))
    }

    mutating func finish() -> (ZoneDatasetsOutput, [DiagnosticSink]) {
        if let d = list { section = d; list = nil }
        closeSection()
        common.endFile()
        out.skippedOther += common.skipped
        // Common specials: $SOA/$NS of the common section come first in file order.
        if let s = common.soa { out.soa = s }
        if let n = common.ns { out.ns = n }
        return (out, [common.sink] + sinks)
    }
}
