/// One finding of the compiler about its input: a warning or an error, where it is, and why.
///
/// Rendered as `file:line: error: message` (the form compilers and editors understand); a
/// diagnostic about a whole file has no line, one about the command line has no file.
public struct Diagnostic: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Severity: String, Sendable, Hashable {
        case warning, error
    }

    /// What kind of problem this is; stable names for tests and tooling.
    public enum Code: String, Sendable, Hashable {
        /// The command-line spec `zone:type:file[,file…]` is malformed.
        case badSpec
        /// A dataset type this version does not compile (`dnset`, `combined`, `generic`, `acl`).
        case unsupportedType
        /// A file could not be opened or read.
        case io
        /// A line is not an entry, value or special this dataset type accepts.
        case syntax
        /// An IPv6 entry in an IPv4 dataset or the reverse.
        case wrongFamily
        /// An entry form the dataset type does not accept (a range in `ip4trie`, a /48 in `ip6tset`…).
        case wrongForm
        /// A prefix with bits set beyond its length; the entry is skipped (as rbldnsd).
        case hostBits
        /// An A value outside 127.0.0.0/8 or zero.
        case valueOutOfRange
        /// An A value in 127.255.255.0/24, reserved for policy answers (<doc:ZoneData#acl>).
        case reservedValue
        /// A listing of 0.0.0.0/0 or ::/0.
        case worldListing
        /// IPv4 data that lists 127.0.0.1, the RFC 5782 negative test point.
        case testPointListed
        /// IPv6 data covering ::ffff:127.0.0.1 in a zone without IPv4 data.
        case mappedTestPoint
        /// IPv6 entries inside ::ffff:0:0/96 in a zone with IPv4 data: never consulted (<doc:SourceSyntax#Guards>).
        case mappedUnreachable
        /// A `$` special line that is malformed, unknown or not allowed here.
        case special
        /// A zone without `$SOA`: an SOA was synthesised.
        case noSOA
        /// An NS name inside the zone that has no address record.
        case nsWithoutAddress
        /// Two entries with the same prefix and different decisions; the first (or the exclusion) won.
        case conflict
        /// An entry larger than `$MAXRANGE4` allows; skipped.
        case maxRange
        /// `$TIMESTAMP` in the future, expired, or malformed.
        case timestamp
        /// A per-entry value in a dataset type that has one value for all entries.
        case valueIgnored
        /// A TXT longer than 64,000 bytes: no DNS message could carry its answer.
        case txtTooLong
        /// A TTL of 2^31 seconds or more (`$TTL`, `$SOA`, `$NS`, a `generic` record, the default
        /// TTL); clamped to 2^31−1 = 2147483647. RFC 2181 §8 limits TTLs to 0…2^31−1 and
        /// resolvers take a value with the top bit set as 0, so the answers would never be cached.
        case ttlTooLarge
        /// dnset: a name with a literal `*` label (a line `*`, `a.*.b`, `*.*.b`). `serve` answers
        /// it as the exact name, as rbldnsd does; `export`, AXFR and IXFR leave it out (a master
        /// file has no escape for it, RFC 4592 §2.1.1). Stays a warning with `--strict`: the
        /// line is kept.
        case notExportable
        /// More lines of a file were skipped than get a warning each; this one counts the rest.
        case skippedLines
        /// Too many diagnostics; the rest were counted, not kept.
        case suppressed
    }

    public var severity: Severity
    /// The source file as named on the command line, when the finding is about a file.
    public var file: String?
    /// 1-based line number within `file`, when the finding is about a line.
    public var line: Int?
    public var message: String
    public var code: Code

    public init(_ severity: Severity, _ code: Code, _ message: String, file: String? = nil, line: Int? = nil) {
        self.severity = severity; self.code = code; self.message = message
        self.file = file; self.line = line
    }

    /// `file:line: severity: message`, `file: severity: message` or `severity: message`.
    public var description: String {
        var s = ""
        if let file { s += file; if let line { s += ":\(line)" }; s += ": " }
        return s + "\(severity.rawValue): \(message)"
    }
}

/// Collects diagnostics during one compile; `strict` turns warnings into errors.
struct DiagnosticSink {
    var strict: Bool
    /// Codes `strict` leaves as warnings (``CompileOptions/strictLinesOnly``).
    var notStrict: Set<Diagnostic.Code> = []
    var list: [Diagnostic] = []
    var warnings = 0
    var errors = 0
    /// Diagnostics kept in `list`; beyond it only counted (a file of garbage must not take the
    /// machine's memory with messages).
    static let keepLimit = 10_000
    var suppressed = 0
    /// Errors among the suppressed: the compile must still fail for them.
    var suppressedErrors = 0

    init(strict: Bool) { self.strict = strict }

    mutating func add(_ d: Diagnostic) {
        var d = d
        if strict && d.severity == .warning && !notStrict.contains(d.code) { d.severity = .error }
        if d.severity == .error { errors += 1 } else { warnings += 1 }
        if list.count < DiagnosticSink.keepLimit { list.append(d) } else {
            suppressed += 1
            if d.severity == .error { suppressedErrors += 1 }
        }
    }

    /// Whether a warning with `code` is made an error (`strict`, the code not exempt): the
    /// compile then fails.
    func refuses(_ code: Diagnostic.Code) -> Bool { strict && !notStrict.contains(code) }

    mutating func warning(_ code: Diagnostic.Code, _ message: String, file: String? = nil, line: Int? = nil) {
        add(Diagnostic(.warning, code, message, file: file, line: line))
    }

    mutating func error(_ code: Diagnostic.Code, _ message: String, file: String? = nil, line: Int? = nil) {
        add(Diagnostic(.error, code, message, file: file, line: line))
    }

    func finished() -> [Diagnostic] {
        guard suppressed > 0 else { return list }
        return list + [Diagnostic(suppressedErrors > 0 ? .error : .warning, .suppressed,
                                  "\(suppressed) more diagnostics not shown (\(suppressedErrors) of them errors)")]
    }
}
