import Testing
import PrefixStore
@testable import ZoneSource
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Random lines built from the characters the grammar cares about never crash the parser, and
/// every line is accounted for: an entry (or several, for a split range), a value or special
/// line, a comment, or a diagnostic naming that line.
struct RobustnessTests {
    static let alphabet = Array("0123456789abcdefABCDEF:./-!#;$= \t:127.0.0.2xyz\u{00}\u{FF}".utf8)

    @Test(arguments: ["ip4set", "ip4trie", "ip4tset", "ip6trie", "ip6tset"])
    func randomLinesNeverCrash(_ type: String) throws {
        let seed: UInt64 = 0xC0FF_EE00 ^ UInt64(type.utf8.reduce(0) { $0 &* 31 &+ Int($1) })
        var rng = SplitMix64(seed: seed)
        var lines: [[UInt8]] = []
        for _ in 0..<20_000 {
            let n = Int(rng.next() % 24)
            var l: [UInt8] = []
            for _ in 0..<n { l.append(Self.alphabet[Int(rng.next() % UInt64(Self.alphabet.count))]) }
            if l.contains(0x0A) { l.removeAll { $0 == 0x0A } }
            lines.append(l)
        }
        let dir = TempDir()
        let file = dir.write("random.txt", Array(lines.joined(separator: [0x0A])))
        var o = CompileOptions(); o.force = true; o.now = 1_800_000_000
        let r = Compiler.compile([ZoneSpec(zone: "bl.example", type: type, files: [file])], options: o)
        #expect(r.stats.lines == lines.count, "seed \(seed)")
        // Every diagnostic names a line of this file.
        for d in r.diagnostics where d.code != .noSOA && d.code != .suppressed && d.code != .testPointListed && d.code != .mappedTestPoint {
            if d.code == .skippedLines {
                // The count of skipped lines beyond the first ten names the file only.
                #expect(d.file == file && d.line == nil, "seed \(seed): \(d)")
                continue
            }
            #expect(d.file == file && (d.line ?? 0) >= 1 && (d.line ?? 0) <= lines.count, "seed \(seed): \(d)")
        }
    }
}

/// A file without line ends (binary data, `/dev/zero`, a generator that lost its newlines) was
/// buffered whole: `check` of /dev/zero grew by ~700 MB a second, and a reload of such a file
/// could take the serving process down. Lines are bounded; the error names file and line.
struct LineLengthTests {
    @Test func aLineWithoutEndIsAnErrorNotUnboundedMemory() throws {
        let dir = TempDir()
        let file = dir.write("noeol.txt", Array("192.0.2.1\n192.0.2.2\n".utf8) + [UInt8](repeating: 0, count: 3 << 20))
        let r = Compiler.compile([ZoneSpec(zone: "bl.example", type: "ip4set", files: [file])], options: CompileOptions())
        #expect(r.hasErrors)
        let d = r.diagnostics.first { $0.code == .io }
        #expect(d?.file == file && d?.line == 3, "\(r.diagnostics)")
        #expect(d?.message.contains("line longer than 1 MiB") == true)
        // The public line API used by `aggregate` says the same.
        #expect { try forEachLine(ofFile: file) { _, _ in } } throws: { ($0 as? Diagnostic)?.line == 3 }
    }

    /// A source replaced by a FIFO hung the compile in open(2) (and a serving process's reload,
    /// and SIGTERM behind it); /dev/zero never ended. Both are refused at once, naming the file.
    @Test(.timeLimit(.minutes(5)))
    func fifosAndDevicesAreRefused() throws {
        let dir = TempDir()
        let fifo = dir.path + "/list.txt"
        #expect(mkfifo(fifo, 0o600) == 0)
        for file in [fifo, "/dev/zero"] {
            let r = Compiler.compile([ZoneSpec(zone: "bl.example", type: "ip4set", files: [file])], options: CompileOptions())
            let d = r.diagnostics.first { $0.code == .io }
            #expect(d?.file == file && d?.message.contains("not a regular file") == true, "\(r.diagnostics)")
        }
    }

    @Test func longLinesBelowTheBoundStillRead() throws {
        let dir = TempDir()
        let comment = "# " + String(repeating: "x", count: 900_000) + "\n"
        let file = dir.write("long.txt", comment + "192.0.2.1 " + String(repeating: "t", count: 60_000) + "\n192.0.2.2\n")
        let r = Compiler.compile([ZoneSpec(zone: "bl.example", type: "ip4set", files: [file])], options: CompileOptions())
        #expect(!r.hasErrors, "\(r.diagnostics)")
        #expect(r.stats.lines == 3 && r.stats.entries == 2)
    }
}

/// Random prefixes written in every spelling the syntax allows parse back to the same prefix.
struct SpellingPropertyTests {
    @Test func ipv6SpellingsParseBack() {
        let seed: UInt64 = 0x6_5EED
        var rng = SplitMix64(seed: seed)
        var text = ""
        var want: [String] = []
        for _ in 0..<3_000 {
            let len = Int(rng.next() % 129)
            let a = (UInt128(rng.next()) << 64 | UInt128(rng.next())) & mask128(len)
            let canonical = "\(ipv6Text(a))/\(len)"
            var groups: [String] = []
            for k in 0..<8 {
                let g = UInt16(truncatingIfNeeded: a >> UInt128(112 - 16 * k))
                let h = String(g, radix: 16).uppercased()
                groups.append(String(repeating: "0", count: 4 - h.count) + h)
            }
            var spellings = [canonical, groups.joined(separator: ":") + "/\(len)"]
            if len == 128 { spellings.append(ipv6Text(a)) }
            // rbldnsd short form: only the groups the prefix needs, when that is two or more.
            let needed = max(2, (len + 15) / 16)
            if needed < 8 { spellings.append(groups.prefix(needed).joined(separator: ":") + "/\(len)") }
            if len == 64 { spellings.append(groups.prefix(4).joined(separator: ":")) }
            for s in spellings { text += s + "\n"; want.append("\(ipv6Text(a))/\(len) 127.0.0.2") }
        }
        var o = CompileOptions(); o.force = true
        let (entries, diags) = parseOne("ip6trie", text, options: o)
        #expect(diags.allSatisfy { $0.code == .worldListing || $0.code == .mappedTestPoint }, "seed \(seed): \(diags.prefix(3))")
        #expect(entries == want, "seed \(seed)")
    }

    @Test func ipv4SpellingsParseBack() {
        let seed: UInt64 = 0x4_5EED
        var rng = SplitMix64(seed: seed)
        var text = ""
        var want: [String] = []
        for _ in 0..<3_000 {
            let len = Int(rng.next() % 33)
            let a = UInt32(truncatingIfNeeded: rng.next()) & mask32(len)
            if a >> 24 == 127 { continue }  // keep clear of the 127.0.0.1 guard
            let last = a | ~mask32(len)
            var spellings = ["\(ipv4Text(a))/\(len)", "\(ipv4Text(a))-\(ipv4Text(last))"]
            if len == 32 { spellings.append(ipv4Text(a)) }
            if len == 24 { spellings.append("\(a >> 24).\(a >> 16 & 255).\(a >> 8 & 255)") }
            if len == 16 { spellings.append("\(a >> 24).\(a >> 16 & 255)") }
            for s in spellings { text += s + "\n"; want.append("\(ipv4Text(a))/\(len) 127.0.0.2") }
        }
        var o = CompileOptions(); o.force = true
        let (entries, diags) = parseOne("ip4set", text, options: o)
        #expect(diags.allSatisfy { $0.code == .worldListing || $0.code == .testPointListed }, "seed \(seed): \(diags.prefix(3))")
        #expect(entries == want, "seed \(seed)")
    }
}
