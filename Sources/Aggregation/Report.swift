import PrefixStore
import ZoneSource

/// The run report: every default and every source used, and the figures of each stage.
public enum AggregationReport {
    /// Renders the report as text lines.
    /// - Parameters:
    ///   - mode: `listings`, `classes` or `allocation-zone`.
    ///   - policy: the policy the run used (its defaults and overrides are listed).
    ///   - allocations: the allocation data read (delegated files, assignment sizes).
    ///   - whitelist: the whitelist applied.
    ///   - now: the run's time in Unix seconds, or nil when none applies.
    ///   - nowSource: where `now` came from (`--now`, `newest event`, `current time`).
    ///   - evidence: nil in allocation-zone mode.
    ///   - result: the aggregation's figures per stage.
    ///   - outputs: files written, as `what: path`.
    /// - Returns: the report, one line per item, ending in a newline.
    public static func text(mode: String, policy: AggregationPolicy, allocations: AllocationData,
                            whitelist: Whitelist, now: Int64?, nowSource: String, evidence: EvidenceStats?,
                            result: AggregationResult, outputs: [String]) -> String {
        var s = "prefixbl aggregate report (\(mode))\n"
        if let now { s += "now: \(now) (\(nowSource))\n" }
        s += "policy:\n"
        for l in policy.reportLines { s += "  \(l)\n" }
        s += "allocation data:\n"
        if allocations.delegatedStats.isEmpty {
            s += "  RIR delegated files: none (no allocations known: no escalation unless escalate-outside-allocations)\n"
        }
        for d in allocations.delegatedStats {
            s += "  RIR delegated file \(d.file): \(d.allocations) allocations\n"
            for type in d.rows.keys.sorted() {
                let rows = d.rows[type]!
                let used = d.used[type] ?? 0
                let skipped = d.skipped.filter { $0.key.hasPrefix(type + ":") }
                var line = "    \(type): \(rows) rows"
                if let declared = d.declared[type] { line += " (summary line says \(declared)\(declared == rows ? "" : ": MISMATCH"))" }
                if type == "asn" { line += ", ignored" } else { line += ", \(used) used" }
                for (k, v) in skipped.sorted(by: { $0.key < $1.key }) { line += ", \(v) skipped (\(k.dropFirst(type.count + 2)))" }
                s += line + "\n"
            }
        }
        if allocations.assignmentFiles.isEmpty {
            s += "  operator assignment files: none\n"
        }
        for f in allocations.assignmentFiles { s += "  operator assignment file \(f.file): \(f.entries) lines\n" }
        s += "  default assignment size: /\(policy.defaultAssignment6) IPv6 (\(policy.origin(of: "default-assignment6"))), /\(policy.defaultAssignment4) IPv4 (\(policy.origin(of: "default-assignment4")))\n"
        for w in allocations.warnings { s += "  warning: \(w)\n" }
        if let evidence {
            s += "whitelist: \(whitelist.count) entries\(whitelist.count == 0 ? " (no whitelist file)" : "")\n"
            s += "evidence: \(evidence.files.isEmpty ? "-" : evidence.files.joined(separator: ", "))\n"
            s += "  lines \(evidence.lines), records \(evidence.records), malformed \(evidence.malformed)\n"
            s += "  events: \(evidence.badEvents) bad, \(evidence.goodEvents) good; not counted: \(evidence.beforeWindow) before the window, \(evidence.afterNow) after now\n"
            s += "  defaults used: count 1 on \(evidence.defaultedCount) lines, time = now on \(evidence.defaultedTime), verdict bad on \(evidence.defaultedVerdict)\n"
            for m in evidence.malformedSamples { s += "  malformed: \(m)\n" }
            if evidence.malformed > evidence.malformedSamples.count {
                s += "  (\(evidence.malformed - evidence.malformedSamples.count) more malformed lines)\n"
            }
        }
        s += "result:\n"
        for (k, v) in result.figures { s += "  \(k): \(v)\n" }
        for o in outputs { s += "wrote \(o)\n" }
        return s
    }
}
