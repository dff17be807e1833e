import ArgumentParser
import Aggregation
import PrefixStore
import ZoneSource
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `prefixbl aggregate`: per-address evidence → prefix listings sized by assignment data and
/// bounded by allocations; or reputation classes; or the allocation-size zone.
struct Aggregate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Aggregate per-address evidence into prefix listings sized by allocation data.",
        discussion: """
            Evidence lines: address<TAB>count<TAB>unix-time<TAB>verdict (trailing fields optional: \
            count 1, time = --now, verdict bad; verdict is bad or good). Writes BASE.ip6 and BASE.ip4, \
            data files for ip6trie and ip4trie datasets, and a report (stderr or --report). With -o, \
            also compiles them into a store for --zone.

            Modes: listings (default); --classes writes reputation classes (127.0.1.1 good, \
            127.0.1.2 mixed, 127.0.1.3 bad); --allocation-zone writes the allocation-size zone \
            (A 127.0.0.N = customers get a /N) from the allocation data alone.
            """)

    @Argument(help: "Evidence files (.gz read transparently); '-' is standard input (needs --now).")
    var evidence: [String] = []

    @Option(name: .customLong("allocations"), help: "RIR delegated-statistics file (repeatable).")
    var allocationFiles: [String] = []

    @Option(name: .customLong("assignments"), help: "Operator file of 'PREFIX assignment-size N' lines (repeatable).")
    var assignmentFiles: [String] = []

    @Option(name: .customLong("whitelist"), help: "File of prefixes never listed; they stay holes (repeatable).")
    var whitelistFiles: [String] = []

    @Option(help: "Policy file of 'name value' lines; flags override it.")
    var policy: String?

    @Option(help: "Bad events a unit needs in the window to be listed (default 3).")
    var minHits: Int?

    @Option(help: "Window before --now in which events count: 3600, 90m, 24h, 7d; 0 = no limit (default 7d).")
    var window: String?

    @Option(help: "Listed units inside a block that list the block instead; 0 = never (default 8).")
    var escalateUnits: Int?

    @Option(help: "Widest IPv6 listing, in bits (default 48).")
    var maxPrefix: Int?

    @Option(name: .customLong("max-prefix4"), help: "Widest IPv4 listing, in bits (default 24).")
    var maxPrefix4: Int?

    @Flag(help: "Allow escalation of units outside every known allocation.")
    var escalateOutsideAllocations = false

    @Option(help: "Reference time, Unix seconds (default: the newest event's time).")
    var now: Int64?

    @Flag(help: "Write reputation classes instead of listings.")
    var classes = false

    @Flag(help: "Write the allocation-size zone from the allocation data (no evidence).")
    var allocationZone = false

    @Option(name: .customLong("data"), help: "Output base name: writes BASE.ip6 and BASE.ip4.")
    var dataBase: String

    @Option(help: "Write the report here instead of standard error.")
    var report: String?

    @Option(name: [.customShort("o"), .customLong("store")], help: "Also compile the data into this store file.")
    var store: String?

    @Option(help: "Zone name for -o (e.g. bl.example).")
    var zone: String?

    @Option(help: "Write '$SOA TEXT' into BASE.ip6 ('ttl mname rname serial refresh retry expire minimum').")
    var soa: String?

    @Option(help: "Write '$NS TEXT' into BASE.ip6 ('ttl name…').")
    var ns: String?

    func validate() throws {
        if classes && allocationZone { throw ValidationError("--classes and --allocation-zone are different modes; give one") }
        if allocationZone && !evidence.isEmpty { throw ValidationError("--allocation-zone reads no evidence; drop the evidence files") }
        if !allocationZone && evidence.isEmpty { throw ValidationError("give at least one evidence file (or --allocation-zone)") }
        if let now, now < 0 { throw ValidationError("--now must be Unix seconds (0 or more)") }
        if store != nil && zone == nil { throw ValidationError("-o needs --zone (the zone the store serves)") }
        if evidence.contains("-") && now == nil {
            throw ValidationError("evidence from standard input needs --now (the default, the newest event's time, needs a first pass)")
        }
    }

    func run() throws {
        var pol = AggregationPolicy()
        do {
            if let policy { try pol.load(file: policy) }
            if let minHits { try pol.set("min-hits", "\(minHits)", origin: "--min-hits") }
            if let window { try pol.set("window", window, origin: "--window") }
            if let escalateUnits { try pol.set("escalate-units", "\(escalateUnits)", origin: "--escalate-units") }
            if let maxPrefix { try pol.set("max-prefix", "\(maxPrefix)", origin: "--max-prefix") }
            if let maxPrefix4 { try pol.set("max-prefix4", "\(maxPrefix4)", origin: "--max-prefix4") }
            if escalateOutsideAllocations { try pol.set("escalate-outside-allocations", "yes", origin: "--escalate-outside-allocations") }

            var data = AllocationData()
            for f in pol.allocationFiles + allocationFiles { try data.loadDelegated(file: f) }
            for f in pol.assignmentFiles + assignmentFiles { try data.loadAssignments(file: f) }
            var wl = Whitelist()
            for f in pol.whitelistFiles + whitelistFiles { try wl.load(file: f) }

            let mode: String
            let result: AggregationResult
            var evidenceStats: EvidenceStats? = nil
            var nowValue: Int64? = nil
            var nowSource = ""
            var header: [String]
            if allocationZone {
                mode = "allocation-zone"
                result = Aggregator.allocationZone(data, policy: pol)
                header = ["prefixbl aggregate --allocation-zone: A 127.0.0.N means customers here get a /N"]
            } else {
                let files = evidence.map { $0 == "-" ? "/dev/stdin" : $0 }
                if let now { nowValue = now; nowSource = "--now" }
                else if let t = try Aggregator.newestTime(files: files) { nowValue = t; nowSource = "newest event" }
                else { nowValue = Int64(time(nil)); nowSource = "current time: no event carries a time" }
                // The address table starts small and doubles: small runs stay small.
                var agg = Aggregator(policy: pol, allocations: data, whitelist: wl, now: nowValue!)
                for f in files { try agg.read(file: f) }
                evidenceStats = agg.evidence
                mode = classes ? "classes" : "listings"
                result = classes ? agg.classes() : agg.listings()
                header = ["prefixbl aggregate (\(mode)); now \(nowValue!) (\(nowSource))"]
                header += pol.reportLines.map { "policy: \($0)" }
            }

            // Specials go after the comment header; the .ip6 spec comes first, so its $SOA/$NS win.
            var specials = ""
            if let soa { specials += "$SOA \(soa)\n" }
            if let ns { specials += "$NS \(ns)\n" }
            var outputs: [String] = []
            let v6 = dataBase + ".ip6", v4 = dataBase + ".ip4"
            try writeFile(v6, result.sourceText(.ipv6, header: header + ["ip6trie data: \(result.entries(.ipv6).count) entries"], specials: specials))
            try writeFile(v4, result.sourceText(.ipv4, header: header + ["ip4trie data: \(result.entries(.ipv4).count) entries"]))
            outputs += ["ip6trie data: \(v6)", "ip4trie data: \(v4)"]

            var compileNotes: [String] = []
            var failed = false
            if let store, let zone {
                let specs = [ZoneSpec(zone: zone, type: "ip6trie", files: [v6]), ZoneSpec(zone: zone, type: "ip4trie", files: [v4])]
                var options = CompileOptions()
                if let nowValue, nowValue > 0 { options.now = UInt64(nowValue) }
                let compiled = Compiler.compile(specs, options: options)
                compileNotes = compiled.diagnostics.map(\.description)
                if compiled.hasErrors {
                    failed = true
                } else {
                    let image = try StoreBuilder.encode(compiled.zones)
                    compileNotes += Compiler.conflictDiagnostics(image.conflicts, origins: compiled.origins, strict: false).map(\.description)
                    try StoreBuilder.write(image, to: store)
                    outputs.append("store: \(store) (\(image.summary.ranges) ranges, \(image.summary.bytes) bytes, zone \(zone))")
                }
            }
            var text = AggregationReport.text(mode: mode, policy: pol, allocations: data, whitelist: wl, now: nowValue,
                                              nowSource: nowSource, evidence: evidenceStats, result: result, outputs: outputs)
            for n in compileNotes { text += "compile: \(n)\n" }
            if let report { try writeFile(report, text) } else { writeStandardError(text) }
            if failed { throw ExitCode(1) }
        } catch let e as AggregationError {
            writeStandardError("\(e)\n")
            throw ExitCode(1)
        } catch let e as StoreError {
            writeStandardError("error: \(e)\n")
            throw ExitCode(1)
        }
    }

    private func writeFile(_ path: String, _ text: String) throws(AggregationError) {
        guard let f = fopen(path, "w") else {
            throw AggregationError(.io, "cannot write: \(String(cString: strerror(errno)))", file: path)
        }
        let bytes = Array(text.utf8)
        let ok = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) == $0.count }
        if fclose(f) != 0 || !ok {
            throw AggregationError(.io, "cannot write: \(String(cString: strerror(errno)))", file: path)
        }
    }
}

/// Unbuffered write to standard error.
private func writeStandardError(_ s: String) {
    var s = s
    s.withUTF8 { b in _ = write(2, b.baseAddress, b.count) }
}
