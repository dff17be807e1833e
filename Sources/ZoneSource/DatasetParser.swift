import PrefixStore
import LDNSKit

/// The line syntax of one address-list dataset type (`ip4set`, `ip6trie`, …), as its type file
/// in `DatasetTypes/` declares it: ``DatasetParser`` reads every address-list type with it.
struct AddressSyntax: Sendable {
    /// The type's name, for messages.
    let name: String
    let family: AddressFamily
    /// The store rule its tables are answered by.
    let rule: DatasetRule
    /// Whether entries may carry their own `:A:TXT` or TXT (not the `tset` types).
    let perEntryValues: Bool
    /// The type's own restrictions on the forms the family's parser reads: the message of a
    /// refused entry (`text` gives the entry as written), or nil to take it. nil = every form.
    let refuse: (@Sendable (_ form: EntryForm, _ text: () -> String) -> String?)?
}

/// An address-list entry's form, for ``AddressSyntax/refuse``.
struct EntryForm {
    /// `first-last` (IPv4 only).
    var isRange: Bool
    /// `!prefix`.
    var exclusion: Bool
    /// IPv4 octets written (a short prefix such as `10.1` has 2).
    var octets: Int
    /// Prefix length in bits (0 for a range).
    var length: Int
}

/// A listing value as written, before `$0`–`$9` and `$=` are applied (they apply to the whole
/// dataset, wherever in it they are defined, as in rbldnsd).
struct RawValue: Hashable {
    var a: UInt32
    var text: [UInt8]
}

/// `$SOA` as read, with where it was read.
struct SOASource {
    var soa: SOAData
    var file: String
    var line: Int
}

/// `$NS` as read.
struct NSSource {
    var ttl: UInt32
    var names: [DomainName]
    var file: String
    var line: Int
}

/// Parses the files of one dataset, line by line, into entries and values.
///
/// The hot path (an address line without value) touches only bytes and appends one
/// ``PrefixEntry``; everything that allocates (values, specials, diagnostics) is off it.
struct DatasetParser {
    let syntax: AddressSyntax
    let family: AddressFamily
    let countAsValue: Bool
    let force: Bool
    let now: UInt64

    var sink: DiagnosticSink
    var entries: [PrefixEntry] = []
    var rawValues: [RawValue] = []
    var rawIndex: [RawValue: Int32] = [:]

    /// The file's default (`:A:TXT` line); rbldnsd resets it at every file.
    var defaultValue = RawValue(a: 0x7F00_0002, text: [])
    var defaultIndex: Int32 = -1

    var vars: [[UInt8]?] = Array(repeating: nil, count: 10)
    var baseTemplate: [UInt8]? = nil
    /// `$TTL` (seconds); the last one read applies to the dataset.
    var ttl: UInt32 = 2100
    /// TTL when the file gives none or `$TTL 0` (CompileOptions.defaultTTL).
    var defaultTTL: UInt32 = 2100
    /// Take a prefix with host bits set as its network (CompileOptions.allowHostBits, rbldnsd -e).
    var allowHostBits = false
    var soa: SOASource? = nil
    var ns: NSSource? = nil
    /// `$MAXRANGE4` in addresses; 0 = no limit. Can only shrink.
    var maxRange4: UInt64 = 0
    var created: UInt64? = nil
    var expires: UInt64? = nil

    // Position.
    var fileName = ""
    var lineNumber = 0
    /// Origin tag of the current line: a line number counted across every file of the compile.
    var origin: UInt32 = 0
    var linesRead = 0
    /// Listing entries at /0 (with --force), for the guard summary.
    var worldListings = 0
    /// Lines skipped (``skip(_:_:)``), over every file, and in the current file.
    var skipped = 0
    var skippedInFile = 0
    /// dnset: names collected instead of address entries (DomainSetParser.swift); nil for
    /// the address types.
    var domains: [DomainEntry]? = nil
    var domainMaxLength = 254

    init(syntax: AddressSyntax, countAsValue: Bool, force: Bool, strict: Bool, now: UInt64) {
        self.syntax = syntax
        self.family = syntax.family
        self.countAsValue = countAsValue
        self.force = force
        self.now = now
        self.sink = DiagnosticSink(strict: strict)
    }

    /// Starts a new file: the default value resets (rbldnsd scopes it to its file).
    mutating func beginFile(_ name: String, originBase: UInt32) {
        endFile()
        fileName = name
        lineNumber = 0
        origin = originBase
        defaultValue = RawValue(a: 0x7F00_0002, text: [])
        defaultIndex = -1
    }

    // MARK: diagnostics

    mutating func warn(_ code: Diagnostic.Code, _ message: String) {
        sink.warning(code, message, file: fileName, line: lineNumber)
    }

    /// A line rbldnsd skips (malformed, wrong family or form, a value out of range, host bits
    /// set, a bad special…): it is left out, counted in ``skipped``, and the first
    /// ``shownSkipsPerFile`` of each file get a warning naming file:line (the rest are counted
    /// in one warning at the end of the file). With `--strict` the warnings are errors and say
    /// so: nothing is skipped, the compile fails.
    mutating func skip(_ code: Diagnostic.Code, _ message: String) {
        skipped &+= 1
        skippedInFile &+= 1
        if skippedInFile <= Self.shownSkipsPerFile {
            let outcome = sink.refuses(code) ? "; refused by --strict (the compile fails)" : "; line skipped"
            sink.warning(code, message + outcome, file: fileName, line: lineNumber)
        }
    }

    /// A problem that refuses the whole compile (not a line rbldnsd would skip).
    mutating func fail(_ code: Diagnostic.Code, _ message: String) {
        sink.error(code, message, file: fileName, line: lineNumber)
    }

    /// Warnings naming file:line per file for skipped lines; the rest are only counted.
    static let shownSkipsPerFile = 10

    /// Ends the current file: one warning counting the skipped lines not shown.
    mutating func endFile() {
        if skippedInFile > Self.shownSkipsPerFile {
            let more = skippedInFile - Self.shownSkipsPerFile
            let what = sink.refuses(.skippedLines) ? "refused by --strict" : "skipped"
            sink.warning(.skippedLines, "\(more) more line\(more == 1 ? "" : "s") \(what) in this file (\(skippedInFile) in all; only the first \(Self.shownSkipsPerFile) are shown)", file: fileName)
        }
        skippedInFile = 0
    }

    static let maxTTL = CompileOptions.maxTTL

    /// `ttl` when it is at most ``maxTTL``; else a ``Diagnostic/Code/ttlTooLarge`` warning for
    /// this line (`what` names the field) and ``maxTTL``. rbldnsd serves such a value as given,
    /// and resolvers then read it as 0 (RFC 2181 §8): the list would be effectively uncached.
    mutating func bounded(_ ttl: UInt32, _ what: String) -> UInt32 {
        guard ttl > Self.maxTTL else { return ttl }
        warn(.ttlTooLarge, "\(what) \(ttl) is 2^31 or more; clamped to \(Self.maxTTL) (RFC 2181 §8: resolvers take a TTL with the top bit set as 0, so the answers would not be cached)")
        return Self.maxTTL
    }

    static func text(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int) -> String {
        String(decoding: UnsafeBufferPointer(start: p + s, count: max(0, e - s)), as: UTF8.self)
    }

    // MARK: lines

    /// Consumes one line (without its newline).
    mutating func line(_ p: UnsafePointer<UInt8>, _ n: Int) {
        lineNumber &+= 1
        origin &+= 1
        linesRead &+= 1
        var s = 0, e = n
        while s < e && isSpace(p[s]) { s += 1 }
        while e > s && isSpace(p[e - 1]) { e -= 1 }
        if s == e { return }
        // Said plainly: the mark is invisible in the "invalid entry" message it caused.
        if lineNumber == 1 && e - s >= 3 && p[s] == 0xEF && p[s + 1] == 0xBB && p[s + 2] == 0xBF {
            skip(.syntax, "the file starts with a UTF-8 byte order mark (EF BB BF); save it without one")
            return
        }
        let c = p[s]
        if c == 0x24 || ((c == 0x23 || c == 0x3B || c == 0x3A) && s + 1 < e && p[s + 1] == 0x24) {
            special(p, c == 0x24 ? s + 1 : s + 2, e)
            return
        }
        if isCommentStart(c) { return }
        if domains != nil {  // dnset
            if c == 0x3A { defaultLine(p, s, e) } else { domainEntry(p, s, e) }
            return
        }
        if c == 0x3A && s + 1 < e && p[s + 1] == 0x3A && family == .ipv4 {
            var k = s
            while k < e && !isSpace(p[k]) && !isCommentStart(p[k]) { k += 1 }
            skip(.wrongFamily, "IPv6 entry '\(Self.text(p, s, k))' in an IPv4 dataset (\(syntax.name))")
            return
        }
        if c == 0x3A && (family == .ipv4 || !(s + 1 < e && p[s + 1] == 0x3A)) {
            defaultLine(p, s, e)
            return
        }
        entry(p, s, e)
    }

    mutating func defaultLine(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int) {
        guard let v = parseValue(p, s, e, fallbackText: []) else { return }
        defaultValue = v
        defaultIndex = -1
    }

    @inline(__always)
    mutating func currentDefaultIndex() -> Int32 {
        if defaultIndex < 0 { defaultIndex = intern(defaultValue) }
        return defaultIndex
    }

    mutating func intern(_ v: RawValue) -> Int32 {
        if let i = rawIndex[v] { return i }
        let i = Int32(rawValues.count)
        rawValues.append(v)
        rawIndex[v] = i
        return i
    }

    mutating func entry(_ p: UnsafePointer<UInt8>, _ s0: Int, _ e: Int) {
        var s = s0
        let exclusion = p[s] == 0x21  // '!'
        if exclusion {
            s += 1
            while s < e && isSpace(p[s]) { s += 1 }
        }
        // The address token ends at white space or a comment; an IPv4 token also at ':' (a value
        // written right after it).
        var j = s
        if family == .ipv4 {
            while j < e, isDigit(p[j]) || p[j] == 0x2E || p[j] == 0x2F || p[j] == 0x2D { j += 1 }
        } else {
            while j < e, !isSpace(p[j]), !isCommentStart(p[j]) { j += 1 }
            // rbldnsd reads `2001:db8::/48:5` as the /48 with value `:5`: after a prefix length
            // a ':' cannot be a group separator, so it starts the value.
            if let slash = (s..<j).first(where: { p[$0] == 0x2F }) {
                var k = slash + 1
                while k < j, isDigit(p[k]) { k += 1 }
                if k > slash + 1 && k < j && p[k] == 0x3A { j = k }
            }
        }
        if family == .ipv4 && j < e && (p[j] == 0x3A || hexValue(p[j]) != nil) {
            var k = j
            while k < e && !isSpace(p[k]) && !isCommentStart(p[k]) { k += 1 }
            switch parseIPv6(p, s, k) {
            case .prefix, .hostBits:
                skip(.wrongFamily, "IPv6 entry '\(Self.text(p, s, k))' in an IPv4 dataset (\(syntax.name))")
                return
            default: break
            }
        }
        if j < e && !isSpace(p[j]) && !isCommentStart(p[j]) && !(p[j] == 0x3A && j > s) {
            var k = j
            while k < e && !isSpace(p[k]) && !isCommentStart(p[k]) { k += 1 }
            skip(.syntax, "invalid entry '\(Self.text(p, s, k))'")
            return
        }
        if j == s {
            skip(.syntax, "invalid entry '\(Self.text(p, s0, e))'")
            return
        }
        var form = IPv4Form()
        let parsed: ParsedAddress
        if family == .ipv4 {
            parsed = parseIPv4(p, s, j, form: &form)
        } else {
            var hasColon = false, hasDot = false
            for k in s..<j { if p[k] == 0x3A { hasColon = true } else if p[k] == 0x2E { hasDot = true } }
            if !hasColon && hasDot {
                skip(.wrongFamily, "IPv4 entry '\(Self.text(p, s, j))' in an IPv6 dataset (\(syntax.name))")
                return
            }
            parsed = parseIPv6(p, s, j)
        }
        var first: UInt128 = 0, last: UInt128 = 0, length = 0, isRange = false
        switch parsed {
        case .invalid(let why):
            skip(.syntax, "\(why): '\(Self.text(p, s, j))'")
            return
        case .hostBits(let a, let len) where allowHostBits:
            first = family == .ipv4 ? UInt128(UInt32(truncatingIfNeeded: a) & mask32(len)) : a & mask128(len)
            length = len
        case .hostBits(_, let len):
            skip(.hostBits, "'\(Self.text(p, s, j))' has host bits set beyond /\(len)")
            return
        case .prefix(let a, let len):
            first = a; length = len
        case .range(let a, let b):
            first = UInt128(a); last = UInt128(b); isRange = true
        }
        // Per-type forms (the type's file decides).
        if let refuse = syntax.refuse,
           let why = refuse(EntryForm(isRange: isRange, exclusion: exclusion, octets: form.octets, length: length),
                            { Self.text(p, s, j) }) {
            skip(.wrongForm, why)
            return
        }
        if maxRange4 > 0 && family == .ipv4 {
            let size = isRange ? UInt64(last - first) + 1 : UInt64(1) << UInt64(32 - length)
            if size > maxRange4 {
                skip(.maxRange, "'\(Self.text(p, s, j))' covers \(size) addresses, more than $MAXRANGE4 \(maxRange4)")
                return
            }
        }
        // Value.
        var value: Int32 = PrefixEntry.exclusion
        if !exclusion {
            var r = j
            while r < e && isSpace(p[r]) { r += 1 }
            if r == e || isCommentStart(p[r]) {
                value = currentDefaultIndex()
            } else if !syntax.perEntryValues {
                warn(.valueIgnored, "\(syntax.name) has one value for all entries; '\(Self.text(p, r, e))' ignored")
                value = currentDefaultIndex()
            } else {
                guard let v = parseValue(p, r, e, fallbackText: defaultValue.text, entryValue: true) else { return }
                value = v == defaultValue ? currentDefaultIndex() : intern(v)
            }
            let isWorld = isRange ? (first == 0 && last == UInt128(UInt32.max)) : length == 0
            if isWorld {
                if force {
                    warn(.worldListing, "'\(Self.text(p, s, j))' lists every \(family) address (forced)")
                    worldListings += 1
                } else {
                    skip(.worldListing, "'\(Self.text(p, s, j))' lists every \(family) address (use --force to list it)")
                    return
                }
            }
        }
        if isRange {
            rangeToCIDRs(first: first, last: last, bits: 32) { a, len in
                entries.append(PrefixEntry(address: a, prefixLength: UInt8(len), value: value, origin: origin))
            }
        } else {
            entries.append(PrefixEntry(address: first, prefixLength: UInt8(length), value: value, origin: origin))
        }
    }

    /// The longest TXT accepted, bytes as written. Its RDATA (one length byte per 255) with the
    /// header, a 255-byte QNAME and an OPT still fits the 65,535 bytes of a TCP message, with
    /// room for `$` expansions; a longer one was compiled and then answered TC=1 even over TCP.
    static let maxTXTBytes = 64_000

    /// Parses a value: `:A`, `:A:`, `:A:TXT` or (for entries) bare `TXT`, or with
    /// `countAsValue` a bare number N meaning A 127.0.0.N. `A` is `N` (= 127.0.0.N) or a dotted
    /// address; it must lie in 127.0.0.0/8 and outside 127.255.255.0/24.
    /// - Parameter fallbackText: TXT when only an A is given (the file's default TXT for an
    ///   entry; none for a default line, as rbldnsd).
    mutating func parseValue(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int, fallbackText: [UInt8],
                             entryValue: Bool = false) -> RawValue? {
        var a: UInt32
        var text: [UInt8]
        if p[s] == 0x3A {
            var i = s + 1
            var octets: [UInt32] = []
            while i < e && octets.count < 4 {
                guard isDigit(p[i]) else { break }
                var o: UInt32 = 0, digits = 0
                while i < e, isDigit(p[i]) { o = o * 10 + UInt32(p[i] &- 0x30); i += 1; digits += 1; if digits > 3 { break } }
                if o > 255 || digits > 3 { octets = []; break }
                octets.append(o)
                if i < e && p[i] == 0x2E { i += 1 } else { break }
            }
            switch octets.count {
            case 1: a = 0x7F00_0000 | octets[0]
            case 2: a = octets[0] << 24 | octets[1]
            case 3: a = octets[0] << 24 | octets[1] << 16 | octets[2]
            case 4: a = octets[0] << 24 | octets[1] << 16 | octets[2] << 8 | octets[3]
            default:
                skip(.syntax, "invalid A value in '\(Self.text(p, s, e))'")
                return nil
            }
            while i < e && isSpace(p[i]) { i += 1 }
            if i < e && p[i] == 0x3A {
                i += 1
                while i < e && isSpace(p[i]) { i += 1 }
                text = Array(UnsafeBufferPointer(start: p + i, count: e - i))
            } else if i == e || isCommentStart(p[i]) {
                text = fallbackText
            } else {
                skip(.syntax, "unrecognized value '\(Self.text(p, s, e))'")
                return nil
            }
        } else if countAsValue && entryValue && isDigit(p[s]) {
            var i = s, n: UInt32 = 0
            while i < e, isDigit(p[i]) { n = n &* 10 &+ UInt32(p[i] &- 0x30); i += 1; if n > 1000 { break } }
            var k = i
            while k < e && isSpace(p[k]) { k += 1 }
            if k < e && !isCommentStart(p[k]) || i - s > 3 || n > 255 {
                skip(.syntax, "--count-as-value needs a count 0–255 after the address, not '\(Self.text(p, s, e))'")
                return nil
            }
            a = 0x7F00_0000 | n
            text = fallbackText
        } else {
            a = defaultValue.a
            text = Array(UnsafeBufferPointer(start: p + s, count: e - s))
        }
        if a >> 24 != 127 || a == 0 {
            skip(.valueOutOfRange, "A value \(ipv4Text(a)) is outside 127.0.0.0/8")
            return nil
        }
        if a & 0xFFFF_FF00 == 0x7FFF_FF00 {
            skip(.reservedValue, "A value \(ipv4Text(a)) is in 127.255.255.0/24, reserved for policy answers")
            return nil
        }
        if text.count > Self.maxTXTBytes {
            skip(.txtTooLong, "TXT of \(text.count) bytes is longer than \(Self.maxTXTBytes): no DNS message (at most 65,535 bytes, RFC 1035 §4.2.2) could carry the answer")
            return nil
        }
        return RawValue(a: a, text: text)
    }

    // MARK: specials

    mutating func special(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int) {
        let body = Self.text(p, s, e)
        let words = body.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let keyword = words.first else {
            skip(.special, "empty special entry")
            return
        }
        // `$N text` and `$= text`: the first definition in a dataset wins (rbldnsd).
        if keyword.utf8.count == 1, let k = keyword.utf8.first, isDigit(k) || k == 0x3D {
            var i = s + 1
            while i < e && isSpace(p[i]) { i += 1 }
            guard i < e else {
                skip(.special, "substitution variable $\(keyword) has no text")
                return
            }
            let value = Array(UnsafeBufferPointer(start: p + i, count: e - i))
            if k == 0x3D {
                if baseTemplate == nil { baseTemplate = value }
            } else if vars[Int(k - 0x30)] == nil {
                vars[Int(k - 0x30)] = value
            }
            return
        }
        let args = Array(words.dropFirst())
        switch keyword.lowercased() {
        case "soa": specialSOA(args)
        case "ns", "nameserver": specialNS(args)
        case "ttl":
            guard args.count == 1 else { skip(.special, "$TTL takes one time value"); return }
            do throws(LDNSError) { ttl = bounded(try LDNSTime.seconds(args[0]), "$TTL") }
            catch { skip(.special, "$TTL: \(error)") }
            if ttl == 0 { ttl = defaultTTL }
        case "maxrange4":
            guard args.count == 1 else { skip(.special, "$MAXRANGE4 takes one size (e.g. 256 or /24)"); return }
            var t = Substring(args[0])
            let cidr = t.hasPrefix("/")
            if cidr { t = t.dropFirst() }
            guard let n = UInt64(t), n > 0, !cidr || n <= 32 else {
                skip(.special, "$MAXRANGE4: invalid size '\(args[0])'"); return
            }
            let r: UInt64 = cidr ? UInt64(1) << (32 - n) : n
            if maxRange4 != 0 && maxRange4 < r {
                warn(.special, "ignoring attempt to increase $MAXRANGE4 from \(maxRange4) to \(r)")
            } else {
                maxRange4 = r
            }
        case "timestamp": specialTimestamp(args)
        case "dataset":
            skip(.special, "$DATASET is only allowed in a combined dataset")
        default:
            skip(.special, "unrecognized special entry '$\(keyword)'")
        }
    }

    mutating func specialSOA(_ args: [String]) {
        if soa != nil { return }  // rbldnsd: only the first $SOA of a dataset counts
        guard args.count == 8 else {
            skip(.special, "$SOA needs 8 fields: ttl mname rname serial refresh retry expire minimum (got \(args.count))")
            return
        }
        do throws(LDNSError) {
            var soaTTL = bounded(try LDNSTime.seconds(args[0]), "$SOA TTL")
            if soaTTL == 0 { soaTTL = ttl }
            let mname = try DomainName(args[1])
            let rname = try DomainName(args[2])
            guard let serial = UInt32(args[3]) else {
                skip(.special, "$SOA serial '\(args[3])' is not a number 0–4294967295")
                return
            }
            let refresh = try LDNSTime.seconds(args[4])
            let retry = try LDNSTime.seconds(args[5])
            let expire = try LDNSTime.seconds(args[6])
            let minimum = try LDNSTime.seconds(args[7])
            soa = SOASource(
                soa: SOAData(ttl: soaTTL, mname: mname.wire, rname: rname.wire, serial: serial,
                             refresh: refresh, retry: retry, expire: expire, minimum: minimum),
                file: fileName, line: lineNumber)
        } catch {
            skip(.special, "$SOA: \(error)")
        }
    }

    mutating func specialNS(_ args: [String]) {
        if ns != nil { return }  // rbldnsd: only the first $NS of a dataset counts
        guard args.count >= 2 else { skip(.special, "$NS needs a ttl and at least one name"); return }
        do throws(LDNSError) {
            var t = bounded(try LDNSTime.seconds(args[0]), "$NS TTL")
            if t == 0 { t = ttl }
            var names: [DomainName] = []
            for a in args.dropFirst() where !a.hasPrefix("-") {
                names.append(try DomainName(a))
            }
            ns = NSSource(ttl: t, names: names, file: fileName, line: lineNumber)
        } catch {
            skip(.special, "$NS: \(error)")
        }
    }

    mutating func specialTimestamp(_ args: [String]) {
        guard args.count == 1 || args.count == 2, let stamp = parseTimestamp(args[0]) else {
            skip(.timestamp, "$TIMESTAMP needs 'yyyy:mm:dd[:hh[:mi[:ss]]] [expires|+time]'")
            return
        }
        var exp: UInt64? = nil
        if args.count == 2 {
            if args[1].hasPrefix("+") {
                guard stamp > 0, let rel = try? LDNSTime.seconds(String(args[1].dropFirst())), rel > 0 else {
                    skip(.timestamp, "$TIMESTAMP: invalid relative expiry '\(args[1])'"); return
                }
                exp = stamp + UInt64(rel)
            } else {
                guard let x = parseTimestamp(args[1]) else {
                    skip(.timestamp, "$TIMESTAMP: invalid expiry '\(args[1])'"); return
                }
                exp = x == 0 ? nil : x
            }
        }
        if stamp > now {
            fail(.timestamp, "data timestamp is \(stamp - now) s in the future; refused")
            return
        }
        if stamp > 0 { created = max(created ?? 0, stamp) }
        if let x = exp {
            expires = min(expires ?? .max, x)
            if x <= now { warn(.timestamp, "data expired \(now - x) s ago; it will not be served") }
        }
    }

    /// rbldnsd's `yyyy:mm:dd[:hh[:mi[:ss]]]` (delimiters `:` or `-`, optional), or `0`/`-`
    /// for "not given" (returned as 0). Unix seconds, UTC.
    func parseTimestamp(_ s: String) -> UInt64? {
        if s == "0" || s == "-" || s == ":" { return 0 }
        let b = Array(s.utf8)
        var i = 0
        func field(_ width: Int, _ lo: Int, _ hi: Int) -> Int? {
            var n = 0, d = 0
            while i < b.count, isDigit(b[i]), d < width { n = n * 10 + Int(b[i] - 0x30); i += 1; d += 1 }
            guard d > 0, n >= lo, n <= hi else { return nil }
            if i < b.count && (b[i] == 0x3A || b[i] == 0x2D) { i += 1 }
            return n
        }
        guard let year = field(4, 1970, 2099), let mon = field(2, 1, 12) else { return nil }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let mdays = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard let day = field(2, 1, mdays[mon - 1]) else { return nil }
        var hh = 0, mi = 0, ss = 0
        if i < b.count { guard let v = field(2, 0, 23) else { return nil }; hh = v }
        if i < b.count { guard let v = field(2, 0, 59) else { return nil }; mi = v }
        if i < b.count { guard let v = field(2, 0, 59) else { return nil }; ss = v }
        guard i == b.count else { return nil }
        var days = 0
        for y in 1970..<year { days += (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) ? 366 : 365 }
        for m in 0..<(mon - 1) { days += mdays[m] }
        days += day - 1
        return UInt64(((days * 24 + hh) * 60 + mi) * 60 + ss)
    }

    // MARK: finishing

    /// Applies `$0`–`$9` and `$=` to every value (rbldnsd applies them at answer time with the
    /// dataset's final definitions, so order of definition does not matter) and returns the
    /// dataset's value table with entries re-indexed into it.
    mutating func finish() -> [ListingValue] {
        endFile()
        var values: [ListingValue] = []
        var index: [ListingValue: Int32] = [:]
        var map: [Int32] = []
        map.reserveCapacity(rawValues.count)
        var identity = true
        for (i, raw) in rawValues.enumerated() {
            let v = ListingValue(a: raw.a, txt: resolveTemplate(raw.text))
            let k: Int32
            if let existing = index[v] { k = existing } else {
                k = Int32(values.count); values.append(v); index[v] = k
            }
            if k != Int32(i) { identity = false }
            map.append(k)
        }
        if !identity {
            for i in entries.indices where entries[i].value >= 0 {
                entries[i].value = map[Int(entries[i].value)]
            }
            remapDomains(map)  // dnset
        }
        return values
    }

    /// rbldnsd's `txtsubst` at compile time, leaving the address for answer time: the result
    /// uses `$` for the queried address and `$$` for a literal `$`. Returns `nil` (no TXT)
    /// when the result is empty.
    func resolveTemplate(_ text: [UInt8]) -> [UInt8]? {
        var template = text
        /// What `$=` inserts: literal text, or (nil) the queried address.
        var inner: [UInt8]? = text
        if let f = text.first, f == 0x3D {
            template = Array(text.dropFirst())
            inner = template
        } else if let base = baseTemplate, !base.isEmpty {
            inner = text.isEmpty ? nil : text
            template = base
        }
        var out: [UInt8] = []
        out.reserveCapacity(template.count + 16)
        func literal(_ bytes: [UInt8]) {
            for b in bytes { out.append(b); if b == 0x24 { out.append(0x24) } }
        }
        var i = 0
        while i < template.count {
            let c = template[i]
            if c != 0x24 { out.append(c); i += 1; continue }
            i += 1
            if i < template.count && template[i] == 0x24 {
                out.append(0x24); out.append(0x24); i += 1
            } else if i < template.count && isDigit(template[i]) {
                if let v = vars[Int(template[i] - 0x30)] { literal(v) } else { literal([0x24, template[i]]) }
                i += 1
            } else if i < template.count && template[i] == 0x3D {
                if let inner { literal(inner) } else { out.append(0x24) }
                i += 1
            } else {
                out.append(0x24)
            }
        }
        return out.isEmpty ? nil : out
    }
}
