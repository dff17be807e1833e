import PrefixStore
import ZoneSource

/// Figures of the evidence read, for the report. Event counts are sums of the lines' counts.
public struct EvidenceStats: Sendable {
    public var files: [String] = []
    /// Every line read, comments and blank lines included.
    public var lines = 0
    /// Lines that carried an event record.
    public var records = 0
    public var badEvents: UInt64 = 0
    public var goodEvents: UInt64 = 0
    /// Events older than the window (time ≤ now − window) and events after `now`: not counted.
    public var beforeWindow: UInt64 = 0
    public var afterNow: UInt64 = 0
    /// Lines that used a default: no count (1), no time (`now`), no verdict (`bad`).
    public var defaultedCount = 0
    public var defaultedTime = 0
    public var defaultedVerdict = 0
    /// Malformed lines (skipped), and the first few as `file:line: reason`.
    public var malformed = 0
    public var malformedSamples: [String] = []
    /// Newest event time seen, Unix seconds.
    public var newest: Int64? = nil
}

@inline(__always) private func isBlank(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0D }

/// The next white-space separated token of `p[i..<e]`, advancing `i`.
@inline(__always) private func token(_ p: UnsafePointer<UInt8>, _ i: inout Int, _ e: Int) -> (Int, Int)? {
    while i < e && isBlank(p[i]) { i += 1 }
    guard i < e, p[i] != 0x23 else { return nil }  // '#' starts a comment
    let s = i
    while i < e && !isBlank(p[i]) { i += 1 }
    return (s, i)
}

@inline(__always) private func decimal(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int) -> UInt64? {
    guard e > s, e - s <= 19 else { return nil }
    var v: UInt64 = 0
    for k in s..<e {
        let d = p[k] &- 0x30
        guard d < 10 else { return nil }
        v = v * 10 + UInt64(d)
    }
    return v
}

extension Aggregator {
    /// The newest event time in the evidence files (the default `now`), or nil when no line
    /// carries a time. Reads only the time column.
    /// - Throws: ``AggregationError`` `.io` naming the file.
    public static func newestTime(files: [String]) throws(AggregationError) -> Int64? {
        var newest: Int64? = nil
        for f in files {
            do throws(Diagnostic) {
                try forEachLine(ofFile: f) { p, n in
                    var i = 0
                    guard token(p, &i, n) != nil, token(p, &i, n) != nil, let (s, e) = token(p, &i, n),
                          let t = decimal(p, s, e), t <= UInt64(Int64.max) else { return }
                    newest = max(newest ?? Int64(t), Int64(t))
                }
            } catch {
                throw AggregationError(.io, error.message, file: f, line: error.line)
            }
        }
        return newest
    }

    /// Reads an evidence file: lines `address<TAB>count<TAB>unix-time<TAB>verdict`, fields
    /// separated by tabs or spaces, trailing fields optional in that order (count 1, time
    /// `now`, verdict `bad`; `-` also means the default). `#` starts a comment. Verdict is
    /// `bad` or `good`. IPv4-mapped IPv6 addresses count as their IPv4 address. Malformed lines
    /// are counted and skipped (see ``EvidenceStats``). gzip input is read transparently.
    /// - Throws: ``AggregationError`` `.io` when the file cannot be read.
    public mutating func read(file path: String) throws(AggregationError) {
        evidence.files.append(path)
        var lineNo = 0
        do throws(Diagnostic) {
            try forEachLine(ofFile: path) { p, n in
                lineNo += 1
                ingest(p, n, file: path, line: lineNo)
            }
        } catch {
            throw AggregationError(.io, error.message, file: path, line: error.line)
        }
    }

    /// Reads evidence lines from a string (tests, small inputs); same rules as ``read(file:)``.
    public mutating func ingest(text: String, file: String = "-") {
        var lineNo = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNo += 1
            var bytes = Array(line.utf8)
            bytes.append(0)
            bytes.withUnsafeBufferPointer { b in ingest(b.baseAddress!, b.count - 1, file: file, line: lineNo) }
        }
    }

    mutating func ingest(_ p: UnsafePointer<UInt8>, _ n: Int, file: String, line: Int) {
        evidence.lines += 1
        var i = 0
        guard let (as_, ae) = token(p, &i, n) else { return }  // blank or comment
        func bad(_ why: String) {
            evidence.malformed += 1
            if evidence.malformedSamples.count < 10 { evidence.malformedSamples.append("\(file):\(line): \(why)") }
        }
        guard let (fam, addr) = parseAddress(p + as_, count: ae - as_) else {
            bad("'\(String(decoding: UnsafeBufferPointer(start: p + as_, count: ae - as_), as: UTF8.self))' is not an address")
            return
        }
        // An IPv4-mapped IPv6 address already is its IPv4 address in the shared space.
        let key: UInt128 = fam == .ipv4 ? mappedBase | addr : addr
        guard key != 0 else { bad("the unspecified address :: is not a source"); return }

        var count: UInt64 = 1, time = now, isGood = false
        if let (s, e) = token(p, &i, n), !(e - s == 1 && p[s] == 0x2D) {
            guard let c = decimal(p, s, e), c >= 1, c <= UInt64(UInt32.max) else { bad("count must be an integer 1…4294967295"); return }
            count = c
        } else { evidence.defaultedCount += 1 }
        let tt = token(p, &i, n)
        if let (s, e) = tt, !(e - s == 1 && p[s] == 0x2D) {
            guard let t = decimal(p, s, e), t <= UInt64(Int64.max) else { bad("time must be Unix seconds"); return }
            time = Int64(t)
        } else { evidence.defaultedTime += 1 }
        if let (s, e) = token(p, &i, n), !(e - s == 1 && p[s] == 0x2D) {
            let w = String(decoding: UnsafeBufferPointer(start: p + s, count: e - s), as: UTF8.self).lowercased()
            switch w {
            case "bad": isGood = false
            case "good": isGood = true
            default: bad("verdict must be bad or good, not '\(w)'"); return
            }
        } else { evidence.defaultedVerdict += 1 }
        if token(p, &i, n) != nil { bad("more than four fields"); return }

        evidence.records += 1
        if isGood { evidence.goodEvents += count } else { evidence.badEvents += count }
        evidence.newest = max(evidence.newest ?? time, time)
        if time > now { evidence.afterNow += count; return }
        // time ≤ now here and time ≥ 0, so now − time cannot overflow (now − window could).
        if policy.window > 0 && now - time >= policy.window { evidence.beforeWindow += count; return }
        let c32 = UInt32(count)
        counts.add(key, bad: isGood ? 0 : c32, good: isGood ? c32 : 0)
    }
}
