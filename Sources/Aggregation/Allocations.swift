import PrefixStore
import ZoneSource

/// One block a Regional Internet Registry delegated to an organisation: the provider's whole
/// block, which bounds escalation. IPv4 rows whose size is not a power of two become several
/// allocations, one per CIDR, each naming the same row.
public struct Allocation: Sendable, Hashable {
    public var prefix: CIDRPrefix
    /// Registry as written in the file (`ripencc`, `arin`, `apnic`, `lacnic`, `afrinic`).
    public var registry: String
    /// Two-letter country code as written.
    public var country: String
    /// `allocated` or `assigned`.
    public var status: String
    /// Source file and 1-based line.
    public var file: String
    public var line: Int

    /// The registry's own name: `RIPE NCC`, `ARIN`, …
    public var registryName: String {
        switch registry.lowercased() {
        case "ripencc": "RIPE NCC"
        case "arin": "ARIN"
        case "apnic": "APNIC"
        case "lacnic": "LACNIC"
        case "afrinic": "AFRINIC"
        case "iana": "IANA"
        default: registry
        }
    }
}

/// One operator line `PREFIX assignment-size N` (RIPE-513 semantics: inside PREFIX every
/// customer is assigned a /N).
public struct AssignmentSize: Sendable, Hashable {
    public var prefix: CIDRPrefix
    /// Customer prefix length in bits of the prefix's family.
    public var size: Int
    public var file: String
    public var line: Int
}

/// What one RIR delegated-statistics file contributed: every row of each type accounted for.
public struct DelegatedFileStats: Sendable, Hashable {
    public var file: String
    /// Record rows per type (`ipv4`, `ipv6`, `asn`, other types by name).
    public var rows: [String: Int] = [:]
    /// Record counts the file's own summary lines declare, per type.
    public var declared: [String: Int] = [:]
    /// Rows that became allocations, per type (`ipv4`, `ipv6`).
    public var used: [String: Int] = [:]
    /// Rows skipped, by `type: reason` (`ipv6: status available`), with counts.
    public var skipped: [String: Int] = [:]
    /// Allocations made (IPv4 rows may split into several CIDRs).
    public var allocations = 0
    /// Comment, header and summary lines.
    public var otherLines = 0
}

/// Allocation data: RIR allocations (bounds for escalation) and operator assignment sizes
/// (the listing unit), with longest-match lookups.
public struct AllocationData: Sendable {
    public private(set) var allocations: [Allocation] = []
    public private(set) var assignments: [AssignmentSize] = []
    public private(set) var delegatedStats: [DelegatedFileStats] = []
    /// Names of operator assignment files read, with their line counts.
    public private(set) var assignmentFiles: [(file: String, entries: Int)] = []
    /// Findings that do not stop the run (duplicate prefixes, …), as `file:line: text`.
    public private(set) var warnings: [String] = []

    var allocationIndex = PrefixIndex()
    var assignmentIndex = PrefixIndex()

    public init() {}

    /// Builds from already parsed lists (tests).
    public init(allocations: [Allocation], assignments: [AssignmentSize]) {
        self.allocations = allocations
        self.assignments = assignments
        reindex()
    }

    mutating func reindex() {
        allocationIndex = PrefixIndex(allocations.map { PrefixKey($0.prefix) })
        assignmentIndex = PrefixIndex(assignments.map { PrefixKey($0.prefix) })
    }

    /// Reads an RIR delegated-statistics file (`registry|cc|type|start|value|date|status[|…]`,
    /// the NRO extended format included). `ipv6` rows give a prefix length in `value`; `ipv4`
    /// rows a start address and an address count, split into CIDRs. Rows of status `allocated`
    /// or `assigned` become allocations; `available`, `reserved` and malformed rows are
    /// counted as skipped with their reason; `asn` rows are counted and ignored.
    /// - Returns: the file's figures (also kept in ``delegatedStats``).
    /// - Throws: ``AggregationError`` `.io` when the file cannot be read.
    @discardableResult
    public mutating func loadDelegated(file path: String) throws(AggregationError) -> DelegatedFileStats {
        var stats = DelegatedFileStats(file: path)
        var added: [Allocation] = []
        var lineNo = 0
        var sawVersion = false
        do throws(Diagnostic) {
            try forEachLine(ofFile: path) { p, n in
                lineNo += 1
                var len = n
                while len > 0 && (p[len - 1] == 0x0D || p[len - 1] == 0x20) { len -= 1 }
                if len == 0 || p[0] == 0x23 { stats.otherLines += 1; return }
                let line = String(decoding: UnsafeBufferPointer(start: p, count: len), as: UTF8.self)
                let f = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
                if !sawVersion, let c = f.first?.first, c.isNumber {
                    sawVersion = true; stats.otherLines += 1; return
                }
                if f.count >= 6 && f[5] == "summary" {
                    stats.declared[f[2], default: 0] += Int(f[4]) ?? 0
                    stats.otherLines += 1
                    return
                }
                let type = f.count > 2 ? f[2] : "?"
                stats.rows[type, default: 0] += 1
                func skip(_ why: String) { stats.skipped["\(type): \(why)", default: 0] += 1 }
                guard f.count >= 7 else { skip("fewer than 7 fields"); return }
                guard type == "ipv4" || type == "ipv6" else {
                    if type != "asn" { skip("unknown type") }
                    return
                }
                let status = f[6].lowercased()
                guard status == "allocated" || status == "assigned" else { skip("status \(status)"); return }
                guard let (fam, start) = parseAddress(f[3]), (fam == .ipv4) == (type == "ipv4") else {
                    skip("bad start address"); return
                }
                guard let value = UInt64(f[4]), value > 0 else { skip("bad value"); return }
                let base = Allocation(prefix: CIDRPrefix(family: fam, address: start, length: 0), registry: f[0],
                                      country: f[1], status: status, file: path, line: lineNo)
                if fam == .ipv6 {
                    guard value <= 128, start & ~prefixMask(Int(value)) == 0 else { skip("bad prefix length or host bits"); return }
                    var a = base
                    a.prefix.length = Int(value)
                    added.append(a)
                } else {
                    guard UInt64(start) + value - 1 <= 0xFFFF_FFFF else { skip("block beyond 255.255.255.255"); return }
                    for c in cidrsCovering(first: start, last: start + UInt128(value) - 1, family: .ipv4) {
                        var a = base
                        a.prefix = c
                        added.append(a)
                    }
                }
                stats.used[type, default: 0] += 1
            }
        } catch {
            throw AggregationError(.io, error.message, file: path, line: error.line)
        }
        stats.allocations = added.count
        allocations += added
        delegatedStats.append(stats)
        reindex()
        for d in allocationIndex.duplicates.prefix(5) {
            let a = allocations[Int(d)]
            warnings.append("\(a.file):\(a.line): allocation \(a.prefix) given twice; the first wins")
        }
        return stats
    }

    /// Reads an operator file of `PREFIX assignment-size N` lines (`#` comments; the RIPE
    /// database spelling `assignment-size: N` is accepted too). N must lie between the
    /// prefix's length and the family's width.
    /// - Throws: ``AggregationError`` naming file:line for a malformed line.
    public mutating func loadAssignments(file path: String) throws(AggregationError) {
        let lines = try readLines(ofFile: path)
        var added = 0
        for (i, raw) in lines.enumerated() {
            var line = Substring(raw)
            if let h = line.firstIndex(where: { $0 == "#" || $0 == ";" }) { line = line[..<h] }
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            if words.isEmpty { continue }
            guard words.count == 3, words[1].lowercased() == "assignment-size" || words[1].lowercased() == "assignment-size:" else {
                throw AggregationError(.syntax, "expected 'PREFIX assignment-size N', got '\(raw.trimmingSpaces)'", file: path, line: i + 1)
            }
            let prefix: CIDRPrefix
            switch parseCIDR(String(words[0])) {
            case .success(let c): prefix = c
            case .failure(let e):
                throw AggregationError(.syntax, "'\(words[0])': \(e.reason)", file: path, line: i + 1)
            }
            guard let n = Int(words[2].hasPrefix("/") ? words[2].dropFirst() : words[2]),
                  n >= prefix.length, n <= prefix.family.bits, n >= 1 else {
                throw AggregationError(.syntax, "assignment size '\(words[2])' must be between the prefix length /\(prefix.length) and /\(prefix.family.bits)", file: path, line: i + 1)
            }
            assignments.append(AssignmentSize(prefix: prefix, size: n, file: path, line: i + 1))
            added += 1
        }
        assignmentFiles.append((path, added))
        reindex()
        for d in assignmentIndex.duplicates {
            let a = assignments[Int(d)]
            warnings.append("\(a.file):\(a.line): assignment size for \(a.prefix) given again; the first wins")
        }
    }

    /// The longest allocation containing the address (IPv4 in the low 32 bits), or nil.
    public func allocation(containing family: AddressFamily, _ address: UInt128) -> Allocation? {
        let k = family == .ipv4 ? mappedBase | address : address
        guard let i = allocationIndex.lookup(k) else { return nil }
        let a = allocations[Int(i)]
        return a.prefix.family == family ? a : nil
    }

    /// The operator line that decides the address's assignment size (longest match), or nil
    /// when the default applies.
    public func assignment(containing family: AddressFamily, _ address: UInt128) -> AssignmentSize? {
        let k = family == .ipv4 ? mappedBase | address : address
        guard let i = assignmentIndex.lookup(k) else { return nil }
        let a = assignments[Int(i)]
        return a.prefix.family == family ? a : nil
    }

    // Shared-space lookups for the aggregator (indices into the arrays).
    func allocationAt(_ key: UInt128) -> Int32? { allocationIndex.lookup(key) }
    func assignmentAt(_ key: UInt128) -> Int32? { assignmentIndex.lookup(key) }
}

/// Prefixes that are never listed: they survive aggregation as holes (`!prefix`).
public struct Whitelist: Sendable {
    public private(set) var entries: [(prefix: CIDRPrefix, file: String, line: Int)] = []
    var index = PrefixIndex()

    public init() {}

    /// Reads one prefix or address per line (`#`/`;` comments; text after the prefix ignored).
    /// - Throws: ``AggregationError`` naming file:line for a line that is not a prefix.
    public mutating func load(file path: String) throws(AggregationError) {
        let lines = try readLines(ofFile: path)
        for (i, raw) in lines.enumerated() {
            var line = Substring(raw)
            if let h = line.firstIndex(where: { $0 == "#" || $0 == ";" }) { line = line[..<h] }
            guard let word = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).first else { continue }
            switch parseCIDR(String(word)) {
            case .success(let c): entries.append((c, path, i + 1))
            case .failure(let e):
                throw AggregationError(.syntax, "'\(word)': \(e.reason)", file: path, line: i + 1)
            }
        }
        index = PrefixIndex(entries.map { PrefixKey($0.prefix) })
    }

    /// Adds prefixes directly (tests).
    public mutating func add(_ prefix: CIDRPrefix, file: String = "-", line: Int = 0) {
        entries.append((prefix, file, line))
        index = PrefixIndex(entries.map { PrefixKey($0.prefix) })
    }

    public var count: Int { entries.count }
}

/// The lines of a small text file (operator, policy and whitelist files), as strings without
/// their line ends.
/// - Throws: ``AggregationError`` `.io` naming the file (and line, for a line over the cap).
func readLines(ofFile path: String) throws(AggregationError) -> [String] {
    var lines: [String] = []
    do throws(Diagnostic) {
        try forEachLine(ofFile: path) { p, n in
            lines.append(String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self))
        }
    } catch {
        throw AggregationError(.io, error.message, file: path, line: error.line)
    }
    return lines
}
