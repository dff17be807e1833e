import PrefixStore
import ZoneSource

/// An error of the aggregator: what went wrong, where (file and 1-based line when about a
/// line), and a stable code.
public struct AggregationError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// A file could not be opened or read.
        case io
        /// A line of a policy, allocation, assignment or whitelist file is malformed.
        case syntax
        /// A policy value is out of range or options contradict each other.
        case policy
    }
    public var code: Code
    public var reason: String
    public var file: String?
    public var line: Int?

    public init(_ code: Code, _ reason: String, file: String? = nil, line: Int? = nil) {
        self.code = code; self.reason = reason; self.file = file; self.line = line
    }

    /// `file:line: error: reason`, like the compiler's diagnostics.
    public var description: String {
        var s = ""
        if let file { s += file; if let line { s += ":\(line)" }; s += ": " }
        return s + "error: " + reason
    }
}

/// How evidence becomes listings. Every setting records where its value came from (`default`,
/// `file:line` of a policy file, or `--flag`) so the report can show it.
///
/// Units: times and windows in seconds; prefix lengths in bits of the address's own family
/// (an IPv4 /24 is 24).
public struct AggregationPolicy: Sendable {
    /// A unit is listed when it has at least this many bad events in the window. Default 3.
    public var minHits = 3
    /// Only events with `now − window < time ≤ now` count; 0 means no limit. Default 7 days.
    public var window: Int64 = 7 * 86400
    /// A containing block is listed instead of its units when at least this many of its units
    /// are listed; 0 disables escalation. Default 8.
    public var escalateUnits = 8
    /// No IPv6 listing is wider than this many bits. Default 48: one end site. Wider blocks
    /// (/40, /32, a whole allocation) hold thousands of customers; an operator opts in.
    public var maxPrefix6 = 48
    /// No IPv4 listing is wider than this many bits. Default 24.
    public var maxPrefix4 = 24
    /// Whether units outside every known allocation may be escalated (bounded only by the
    /// max-prefix settings and by allocations inside the block). Default false.
    public var escalateOutsideAllocations = false
    /// Assignment size where no operator line applies: /64 for IPv6 (the smallest end-site
    /// assignment: one LAN), /32 for IPv4 (one host).
    public var defaultAssignment6 = 64
    public var defaultAssignment4 = 32
    /// Reputation classes: a unit is `good` when bad ÷ (bad + good) ≤ this. Default 0.05.
    public var goodMaxBadShare = 0.05
    /// Reputation classes: a unit is `bad` when bad ÷ (bad + good) ≥ this and it has at least
    /// `minHits` bad events. Default 0.5.
    public var badMinBadShare = 0.5
    /// The A value of listings, host order. Default 127.0.0.2.
    public var listingA: UInt32 = 0x7F00_0002
    /// Files named in a policy file (`whitelist`, `allocations`, `assignments` lines), resolved
    /// relative to the policy file's directory.
    public var whitelistFiles: [String] = []
    public var allocationFiles: [String] = []
    public var assignmentFiles: [String] = []

    /// Where each setting's value came from, by setting name (`min-hits` → `policy.conf:3`).
    public private(set) var origins: [String: String] = [:]

    public init() {}

    /// Setting names a policy file or `set` accepts, in report order.
    public static let settingNames = [
        "min-hits", "window", "escalate-units", "max-prefix", "max-prefix4",
        "escalate-outside-allocations", "default-assignment6", "default-assignment4",
        "good-max-bad-share", "bad-min-bad-share", "listing-a",
    ]

    /// Sets one setting from text, recording `origin`.
    /// - Throws: ``AggregationError`` `.policy` for an unknown name or a bad value.
    public mutating func set(_ name: String, _ value: String, origin: String) throws(AggregationError) {
        func int(_ range: ClosedRange<Int>) throws(AggregationError) -> Int {
            guard let v = Int(value.hasPrefix("/") ? String(value.dropFirst()) : value), range.contains(v) else {
                throw AggregationError(.policy, "\(name) must be an integer in \(range.lowerBound)…\(range.upperBound), not '\(value)'")
            }
            return v
        }
        func share() throws(AggregationError) -> Double {
            guard let v = Double(value), v >= 0, v <= 1 else {
                throw AggregationError(.policy, "\(name) must be a number in 0…1, not '\(value)'")
            }
            return v
        }
        switch name {
        case "min-hits": minHits = try int(1...Int(UInt32.max))
        case "window":
            guard let w = parseDuration(value) else {
                throw AggregationError(.policy, "window must be a duration like 3600, 90m, 24h, 7d or 0 (no limit), not '\(value)'")
            }
            window = w
        case "escalate-units": escalateUnits = try int(0...Int(UInt32.max))
        case "max-prefix": maxPrefix6 = try int(1...128)
        case "max-prefix4": maxPrefix4 = try int(1...32)
        case "escalate-outside-allocations":
            switch value.lowercased() {
            case "yes", "true", "1", "on": escalateOutsideAllocations = true
            case "no", "false", "0", "off": escalateOutsideAllocations = false
            default: throw AggregationError(.policy, "\(name) must be yes or no, not '\(value)'")
            }
        case "default-assignment6": defaultAssignment6 = try int(1...128)
        case "default-assignment4": defaultAssignment4 = try int(1...32)
        case "good-max-bad-share": goodMaxBadShare = try share()
        case "bad-min-bad-share": badMinBadShare = try share()
        case "listing-a":
            guard case (.ipv4, let a)? = parseAddress(value), a >> 24 == 127, a >> 8 != 0x7FFFFF, a != 0x7F00_0001 else {
                throw AggregationError(.policy, "listing-a must be an address in 127.0.0.0/8 other than 127.0.0.1 and 127.255.255.0/24, not '\(value)'")
            }
            listingA = UInt32(a)
        default:
            throw AggregationError(.policy, "unknown policy setting '\(name)' (known: \(Self.settingNames.joined(separator: ", ")), whitelist, allocations, assignments)")
        }
        origins[name] = origin
    }

    /// Reads a policy file: `name value` lines (`#` comments, blank lines ignored), the names of
    /// ``settingNames`` plus `whitelist FILE`, `allocations FILE`, `assignments FILE` (repeatable;
    /// relative paths are taken from the policy file's directory).
    /// - Throws: ``AggregationError`` naming file:line.
    public mutating func load(file path: String) throws(AggregationError) {
        let lines = try readLines(ofFile: path)
        let dir = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) + "/" : ""
        for (i, raw) in lines.enumerated() {
            var line = Substring(raw)
            if let h = line.firstIndex(of: "#") { line = line[..<h] }
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "=" })
            if words.isEmpty { continue }
            guard words.count == 2 else {
                throw AggregationError(.syntax, "expected 'name value', got '\(raw.trimmingSpaces)'", file: path, line: i + 1)
            }
            let name = String(words[0]).lowercased(), value = String(words[1])
            let resolved = value.hasPrefix("/") ? value : dir + value
            switch name {
            case "whitelist": whitelistFiles.append(resolved)
            case "allocations": allocationFiles.append(resolved)
            case "assignments": assignmentFiles.append(resolved)
            default:
                do throws(AggregationError) { try set(name, value, origin: "\(path):\(i + 1)") } catch {
                    throw AggregationError(error.code, error.reason, file: path, line: i + 1)
                }
            }
        }
    }

    /// Where `name`'s value came from: `default`, a file:line, or a flag.
    public func origin(of name: String) -> String { origins[name] ?? "default" }

    /// `name value (origin)` lines for the report, in ``settingNames`` order.
    public var reportLines: [String] {
        Self.settingNames.map { n in
            let v: String
            switch n {
            case "min-hits": v = "\(minHits)"
            case "window": v = durationText(window)
            case "escalate-units": v = escalateUnits == 0 ? "0 (no escalation)" : "\(escalateUnits)"
            case "max-prefix": v = "/\(maxPrefix6)"
            case "max-prefix4": v = "/\(maxPrefix4)"
            case "escalate-outside-allocations": v = escalateOutsideAllocations ? "yes" : "no"
            case "default-assignment6": v = "/\(defaultAssignment6)"
            case "default-assignment4": v = "/\(defaultAssignment4)"
            case "good-max-bad-share": v = "\(goodMaxBadShare)"
            case "bad-min-bad-share": v = "\(badMinBadShare)"
            default: v = ipv4Text(listingA)
            }
            return "\(n) \(v) (\(origin(of: n)))"
        }
    }

    /// Widest listing for a family, in shared-space bits.
    func maxPrefixShared(_ f: AddressFamily) -> Int { f == .ipv4 ? maxPrefix4 + 96 : maxPrefix6 }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s = s.dropLast() }
        return String(s)
    }
}
