import PrefixStore
import LDNSKit
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One dataset named on the command line, in rbldnsd's spelling `zone:type:file[,file…]`.
public struct ZoneSpec: Sendable, Hashable, CustomStringConvertible {
    /// Zone name as written (`bl.example`).
    public var zone: String
    /// rbldnsd dataset type name (`ip4set`, `ip6trie`, …).
    public var type: String
    /// Source files in order; read as one dataset.
    public var files: [String]

    public init(zone: String, type: String, files: [String]) {
        self.zone = zone; self.type = type; self.files = files
    }

    /// Parses `zone:type:file[,file…]`. Files are separated by `,` (rbldnsd also accepts `:`).
    /// - Throws: ``Diagnostic`` (code `badSpec`) when a part is missing.
    public init(parsing text: String) throws(Diagnostic) {
        let parts = text.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else {
            throw Diagnostic(.error, .badSpec, "invalid dataset spec '\(text)': expected zone:type:file[,file…]")
        }
        zone = String(parts[0])
        type = String(parts[1]).lowercased()
        files = parts[2].split(whereSeparator: { $0 == "," || $0 == ":" }).map(String.init)
        // rbldnsd: an empty zone name is allowed for `acl` only and names the global ACL.
        guard !zone.isEmpty || DatasetTypes.named(type)?.allowsEmptyZone == true else {
            throw Diagnostic(.error, .badSpec, "invalid dataset spec '\(text)': missing zone name (only an acl may omit it, as the global ACL)")
        }
        guard !files.isEmpty else {
            throw Diagnostic(.error, .badSpec, "invalid dataset spec '\(text)': missing file names")
        }
    }

    public var description: String { "\(zone):\(type):\(files.joined(separator: ","))" }
}

/// How to compile.
public struct CompileOptions: Sendable {
    /// Every warning becomes an error (`--strict`).
    public var strict = false
    /// With ``strict``, the warnings about a zone as a whole stay warnings: a synthesised SOA
    /// (no `$SOA`, as in most rbldnsd data) and an in-zone NS name without an address. What
    /// `serve --strict` refuses is data rbldnsd would skip, not a zone rbldnsd serves as it is.
    public var strictLinesOnly = false
    /// Allow listings the guards refuse: 0.0.0.0/0, ::/0, IPv4 data listing 127.0.0.1 (`--force`).
    public var force = false
    /// Read a numeric second column N as A 127.0.0.N instead of as TXT (`--count-as-value`).
    public var countAsValue = false
    /// Unix seconds used for `$TIMESTAMP` checks; defaults to the current time.
    public var now: UInt64 = UInt64(time(nil))
    /// Answer TTL of a dataset without `$TTL` (and of `$TTL 0`), seconds: rbldnsd's `-t DEFTTL`.
    /// Above ``maxTTL`` it is clamped to it with a ``Diagnostic/Code/ttlTooLarge`` warning.
    public var defaultTTL: UInt32 = 2100
    /// The largest TTL a record may carry, seconds: 2^31−1 = 2147483647 (RFC 2181 §8). The
    /// compiler clamps every TTL of the source to it.
    public static let maxTTL: UInt32 = 0x7FFF_FFFF
    /// Accept CIDR prefixes with host bits set (`192.0.2.7/24`) as their network
    /// (`192.0.2.0/24`) instead of skipping them with a warning: rbldnsd's `-e`.
    public var allowHostBits = false
    /// Called about every million lines with the running totals (for a progress display).
    public var progress: (@Sendable (CompileProgress) -> Void)? = nil

    public init(strict: Bool = false, force: Bool = false, countAsValue: Bool = false) {
        self.strict = strict; self.force = force; self.countAsValue = countAsValue
    }
}

/// Running totals passed to ``CompileOptions/progress``.
public struct CompileProgress: Sendable {
    public var file: String
    public var lines: Int
    /// Bytes read of all input (uncompressed), and the total size of the input files on disk.
    public var bytesRead: Int
    public var bytesTotal: Int
}

/// Figures of one compile.
public struct CompileStats: Sendable {
    public var files = 0
    /// Lines read, comments and blank lines included.
    public var lines = 0
    /// Entries kept (listings and exclusions; a range counts once per CIDR it splits into).
    public var entries = 0
    /// Input bytes read (uncompressed).
    public var bytes = 0
    /// Wall-clock seconds spent parsing.
    public var seconds = 0.0
    /// CPU seconds (user + system) the process spent parsing: the figure to compare on a
    /// shared machine, where wall time measures the neighbours too.
    public var cpuSeconds = 0.0
}

/// CPU time of the whole process so far, seconds.
func processCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

/// What a compile produced.
public struct CompileResult: Sendable {
    /// The zones, ready for `PrefixStore.StoreBuilder.encode(_:)` (empty when there are errors).
    public var zones: [ZoneInput]
    public var diagnostics: [Diagnostic]
    public var stats: CompileStats
    /// Maps an entry's `origin` tag back to file:line.
    public var origins: OriginTable
    /// Lines skipped as rbldnsd skips them (malformed, wrong family or form, values out of
    /// range, host bits set, bad specials…), per zone (text, `.` for the global ACL) and
    /// dataset name (`ip4set:file`; `generic` records and the common part of a `combined`
    /// file under the spec's own name), in command-line order; only those with skipped lines.
    public var skipped: [(zone: String, dataset: String, lines: Int)] = []

    /// Lines skipped in all, over every dataset.
    public var skippedLines: Int { skipped.reduce(0) { $0 + $1.lines } }

    /// Whether any diagnostic is an error (then nothing must be written).
    public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }
    public var warningCount: Int { diagnostics.filter { $0.severity == .warning }.count }
}

/// Maps origin tags (a line number counted across every file of a compile) to file:line.
public struct OriginTable: Sendable {
    /// Per file in reading order: the origin tag of its line 0, and its name.
    var files: [(base: UInt32, name: String)] = []

    /// The file and 1-based line of `origin`, or nil for a tag not from this compile.
    public func location(_ origin: UInt32) -> (file: String, line: Int)? {
        var lo = 0, hi = files.count
        while lo < hi { let m = (lo + hi) / 2; if files[m].base < origin { lo = m + 1 } else { hi = m } }
        guard lo > 0 else { return nil }
        let f = files[lo - 1]
        return (f.name, Int(origin - f.base))
    }
}

/// The compile driver: specs in, zones and diagnostics out (<doc:SourceSyntax>).
public enum Compiler {
    /// Parses every spec's files and assembles zones: datasets in command-line order, a zone
    /// named several times unites its datasets, the first `$SOA`/`$NS` in command-line order
    /// wins, a zone without `$SOA` gets a synthesised one. Applies the guards of
    /// <doc:SourceSyntax#Guards>.
    /// Never throws: every problem is a ``Diagnostic``; with any error `zones` is empty.
    public static func compile(_ specs: [ZoneSpec], options: CompileOptions = CompileOptions()) -> CompileResult {
        let clock = ContinuousClock.now
        let cpuStart = processCPUSeconds()
        var sink = DiagnosticSink(strict: options.strict)
        if options.strictLinesOnly { sink.notStrict = [.noSOA, .nsWithoutAddress] }
        sink.notStrict.insert(.notExportable)  // dnset: a literal '*' label is kept and served
        var options = options
        if options.defaultTTL > DatasetParser.maxTTL {
            sink.warning(.ttlTooLarge, "default TTL \(options.defaultTTL) is 2^31 or more; clamped to \(DatasetParser.maxTTL) (RFC 2181 §8: resolvers take a TTL with the top bit set as 0)")
            options.defaultTTL = DatasetParser.maxTTL
        }
        var stats = CompileStats()
        var skipped: [(zone: String, dataset: String, lines: Int)] = []
        var origins = OriginTable()
        var nextOrigin: UInt32 = 0

        struct ZoneBuild {
            var name: DomainName
            var text: String
            var datasets: [DatasetInput] = []
            var soa: SOASource? = nil
            var ns: NSSource? = nil
            var newestMTime: UInt64 = 0
            var records: [GenericRecord] = []
        }
        var zones: [ZoneBuild] = []
        var zoneIndex: [DomainName: Int] = [:]

        var bytesTotal = 0
        for spec in specs { for f in spec.files { var st = stat(); if stat(f, &st) == 0 { bytesTotal += Int(st.st_size) } } }
        var bytesBefore = 0

        for spec in specs {
            let zoneName: DomainName
            if spec.zone.isEmpty {
                zoneName = DomainName(wire: ZoneInput.globalACLZoneName)
            } else {
                do throws(LDNSError) { zoneName = try DomainName(spec.zone) } catch {
                    sink.error(.badSpec, "invalid zone name in '\(spec)': \(error.reason)")
                    continue
                }
            }
            guard let type = DatasetTypes.named(spec.type) else {
                if DatasetTypes.later.contains(spec.type) {
                    sink.error(.unsupportedType, "dataset type '\(spec.type)' in '\(spec)' is not supported (\(DatasetTypes.names.joined(separator: ", ")) are)")
                } else {
                    sink.error(.unsupportedType, "unknown dataset type '\(spec.type)' in '\(spec)'")
                }
                continue
            }
            let specName = "\(spec.type):\(spec.files.joined(separator: ","))"
            let zoneText = spec.zone.isEmpty ? "." : spec.zone
            var parser = SpecParser(type: type, zone: zoneName, specName: spec.files.joined(separator: ","), options: options)
            var newest: UInt64 = 0
            for file in spec.files {
                stats.files += 1
                var st = stat()
                if stat(file, &st) == 0 { newest = max(newest, UInt64(st.st_mtim.tv_sec)) }
                origins.files.append((nextOrigin, file))
                parser.beginFile(file, originBase: nextOrigin)
                do throws(LineReaderError) {
                    var reader = try LineReader(path: file)
                    if let progress = options.progress {
                        var sinceReport = 0
                        var consumed = bytesBefore
                        try reader.forEachLine { p, n in
                            parser.line(p, n)
                            sinceReport &+= 1
                            consumed &+= n &+ 1
                            if sinceReport == 1 << 20 {
                                sinceReport = 0
                                progress(CompileProgress(file: file, lines: stats.lines + parser.linesRead,
                                                         bytesRead: consumed, bytesTotal: bytesTotal))
                            }
                        }
                    } else {
                        try reader.forEachLine { p, n in parser.line(p, n) }
                    }
                    bytesBefore += reader.bytesRead
                    stats.bytes += reader.bytesRead
                } catch {
                    sink.error(.io, "cannot read: \(error.reason)", file: file, line: error.line)
                }
                nextOrigin = parser.origin &+ 1
            }
            stats.lines += parser.linesRead
            let (o, sinks) = parser.finish()
            for s in sinks {
                for d in s.list { sink.add(d) }
                sink.suppressed += s.suppressed
                sink.suppressedErrors += s.suppressedErrors
            }
            stats.entries += o.entries
            let zi: Int
            if let i = zoneIndex[zoneName] { zi = i } else {
                zi = zones.count
                zoneIndex[zoneName] = zi
                zones.append(ZoneBuild(name: zoneName, text: zoneText))
            }
            if zones[zi].soa == nil { zones[zi].soa = o.soa }
            if zones[zi].ns == nil { zones[zi].ns = o.ns }
            zones[zi].newestMTime = max(zones[zi].newestMTime, newest)
            // A container's datasets keep their section names; any other spec's is the spec's.
            zones[zi].datasets += o.datasets.map { d in
                var d = d
                if !parser.isContainer { d.name = specName }
                return d
            }
            for sec in o.skippedSections {
                skipped.append((zoneText, parser.isContainer ? sec.name : specName, sec.lines))
            }
            if o.skippedOther > 0 {
                skipped.append((zoneText, specName, o.skippedOther))
            }
            zones[zi].records += o.records
        }

        var out: [ZoneInput] = []
        for z in zones {
            if z.name.wire == ZoneInput.globalACLZoneName {
                // The global ACL: not served, so it needs no SOA or NS.
                out.append(ZoneInput(name: z.name.wire,
                                     soa: SOAData(ttl: 0, mname: [0], rname: [0], serial: 0, refresh: 0, retry: 0, expire: 0, minimum: 0),
                                     nsTTL: 0, ns: [], datasets: z.datasets))
                continue
            }
            guards(z.datasets.filter { !$0.rule.isAccessControl }, zone: z.text, options: options, origins: origins, sink: &sink)
            let soa: SOAData
            if var s = z.soa?.soa {
                if s.serial == 0 { s.serial = UInt32(truncatingIfNeeded: z.newestMTime) }
                soa = s
            } else {
                let mname = z.ns?.names.first?.wire ?? z.name.wire
                let rname = (try? DomainName("hostmaster." + z.text))?.wire ?? z.name.wire
                soa = SOAData(ttl: 2100, mname: mname, rname: rname,
                              serial: UInt32(truncatingIfNeeded: z.newestMTime),
                              refresh: 3600, retry: 600, expire: 604800, minimum: 60)
                sink.warning(.noSOA, "zone \(z.text) has no $SOA; synthesised '\(DomainName.text(wire: mname)) \(DomainName.text(wire: rname)) \(soa.serial) 3600 600 604800 60' with TTL 2100")
            }
            if let ns = z.ns {
                for n in ns.names where n.isSubdomain(of: z.name)
                    && !z.records.contains(where: { $0.owner == n.wire && ($0.type == 1 || $0.type == 28) }) {
                    sink.warning(.nsWithoutAddress, "NS \(n) is inside zone \(z.text) but no data gives it an address; it will answer NODATA", file: ns.file, line: ns.line)
                }
            }
            out.append(ZoneInput(name: z.name.wire, soa: soa, nsTTL: z.ns?.ttl ?? 2100,
                                 ns: z.ns?.names.map(\.wire) ?? [], datasets: z.datasets, records: z.records))
        }
        stats.seconds = Double((ContinuousClock.now - clock).components.attoseconds) / 1e18
            + Double((ContinuousClock.now - clock).components.seconds)
        stats.cpuSeconds = processCPUSeconds() - cpuStart
        let diags = sink.finished()
        let failed = diags.contains { $0.severity == .error }
        return CompileResult(zones: failed ? [] : out, diagnostics: diags, stats: stats, origins: origins,
                             skipped: skipped)
    }

    /// The entry that decides `key` within one dataset, by the flattening rule (longest prefix;
    /// at equal length an exclusion beats a listing, then the first in file order). Linear.
    static func decidingEntry(_ entries: [PrefixEntry], key: UInt128, bits: Int) -> PrefixEntry? {
        var best: PrefixEntry? = nil
        for e in entries {
            let len = Int(e.prefixLength)
            let host = bits - len
            let covers = host >= 128 ? true : (key >> UInt128(host)) == (e.address >> UInt128(host))
            guard covers else { continue }
            if let b = best {
                if len > Int(b.prefixLength) || (len == Int(b.prefixLength) && e.isExclusion && !b.isExclusion) { best = e }
            } else { best = e }
        }
        return best
    }

    static func covers(_ e: PrefixEntry, _ key: UInt32) -> Bool {
        let host = 32 - Int(e.prefixLength)
        return host >= 32 || (UInt128(key) >> UInt128(host)) == (e.address >> UInt128(host))
    }

    static func guards(_ datasets: [DatasetInput], zone: String, options: CompileOptions,
                       origins: OriginTable, sink: inout DiagnosticSink) {
        func place(_ origin: UInt32) -> (String?, Int?) {
            guard let l = origins.location(origin) else { return (nil, nil) }
            return (l.file, l.line)
        }
        let hasIPv4 = datasets.contains { $0.family == .ipv4 && $0.entries.contains { !$0.isExclusion } }
        for d in datasets {
            if d.family == .ipv4 {
                // ip4set answers by rbldnsd's bucket rule; name a listing entry that covers it.
                let listing: PrefixEntry?
                switch d.rule {
                case .ip4Buckets:
                    listing = StoreBuilder.ip4setValues(d.entries, at: 0x7F00_0001).isEmpty ? nil
                        : d.entries.first { !$0.isExclusion && covers($0, 0x7F00_0001) }
                case .longestPrefix, .clientACL, .keyInQName:
                    listing = decidingEntry(d.entries, key: 0x7F00_0001, bits: 32).flatMap { $0.isExclusion ? nil : $0 }
                case .domainNames:
                    listing = nil  // names, no addresses
                }
                if let e = listing {
                    let (f, l) = place(e.origin)
                    if options.force {
                        sink.warning(.testPointListed, "IPv4 data lists 127.0.0.1, the RFC 5782 negative test point (forced)", file: f, line: l)
                    } else {
                        sink.error(.testPointListed, "IPv4 data lists 127.0.0.1, the RFC 5782 negative test point; refused (exclude it with !127.0.0.1, or use --force)", file: f, line: l)
                    }
                }
            } else if !hasIPv4 {
                let mapped: UInt128 = 0xFFFF_7F00_0001
                if let e = decidingEntry(d.entries, key: mapped, bits: 128), !e.isExclusion {
                    let (f, l) = place(e.origin)
                    sink.warning(.mappedTestPoint, "IPv6 data covers ::ffff:127.0.0.1 (the RFC 5782 negative test point seen through IPv4-mapped addresses) in zone \(zone), which has no IPv4 data", file: f, line: l)
                }
            } else {
                var shown = 0, more = 0
                for e in d.entries where !e.isExclusion && e.prefixLength >= 96 && e.address >> 32 == 0xFFFF {
                    if shown < 5 {
                        let (f, l) = place(e.origin)
                        sink.warning(.mappedUnreachable, "\(ipv6Text(e.address))/\(e.prefixLength) lies in ::ffff:0:0/96, which zone \(zone) answers from its IPv4 data; this entry is never consulted", file: f, line: l)
                        shown += 1
                    } else { more += 1 }
                }
                if more > 0 {
                    sink.warning(.mappedUnreachable, "\(more) more entries of \(d.name) in ::ffff:0:0/96 are never consulted")
                }
            }
        }
    }

    /// Turns the equal-prefix conflicts the store builder reports into warnings naming both
    /// lines (the winner first), in the shape `PrefixStore.StoreImage.conflicts` has.
    public static func conflictDiagnostics(_ conflicts: [[[FlattenConflict]]], origins: OriginTable,
                                           strict: Bool) -> [Diagnostic] {
        var out: [Diagnostic] = []
        for zone in conflicts {
            for ds in zone {
                for c in ds {
                    let w = origins.location(c.winnerOrigin), l = origins.location(c.loserOrigin)
                    let wText = w.map { "\($0.file):\($0.line)" } ?? "?"
                    out.append(Diagnostic(strict ? .error : .warning, .conflict,
                                          "same prefix as \(wText) with a different decision; \(wText) wins",
                                          file: l?.file, line: l?.line))
                }
            }
        }
        return out
    }
}
