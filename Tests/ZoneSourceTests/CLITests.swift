import Testing
import Foundation
import TestSupport

/// The `prefixbl` binary run as an operator runs it: compile, check, lookup, dump.
struct CLITests {
    /// The built `prefixbl` (SwiftPM builds it with the tests).
    static let binary: String? = prefixblBinary()

    struct Run { var status: Int32; var stdout: String; var stderr: String }

    static func run(_ args: [String]) throws -> Run {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try #require(binary))
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: BundledZoneTests.root)
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Run(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                   stderr: String(decoding: e, as: UTF8.self))
    }

    static let bundled = ["bl.example:ip4set:zones/bl.example.ip4set", "bl.example:ip6trie:zones/bl.example.ip6trie"]

    @Test
    func compileLookupDumpRoundTrip() throws {
        let dir = TempDir()
        let store = dir.path + "/bl.pfxbl"
        let c = try Self.run(["compile"] + Self.bundled + ["-o", store])
        #expect(c.status == 0, "\(c.stderr)")
        #expect(c.stderr.contains("lines read") && c.stderr.contains("ranges") && c.stderr.contains("store bytes"))
        let addresses = ["127.0.0.2", "127.0.0.1", "::ffff:7f00:2", "192.0.2.100", "2001:db8:abcd::5", "2001:db8:1:5::1"]
        let l = try Self.run(["lookup", store] + addresses)
        #expect(l.status == 0)
        let lines = l.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 6)
        #expect(lines[0].hasPrefix("127.0.0.2: bl.example A 127.0.0.2 TXT \"Test entry: 127.0.0.2 is always listed (RFC 5782)\""))
        #expect(lines[1] == "127.0.0.1: not listed")
        #expect(lines[3].hasPrefix("192.0.2.100: bl.example A 127.0.0.3 TXT \"Open proxy at 192.0.2.100\""))
        #expect(lines[4].hasPrefix("2001:db8:abcd::5: bl.example A 127.0.0.2 TXT \"Listed in bl.example, see https://bl.example/lookup?ip=2001:db8:abcd::5\""))
        #expect(lines[5] == "2001:db8:1:5::1: not listed")

        // dump → compile → the same answers.
        let d = try Self.run(["dump", store, "--directory", dir.path + "/dump"])
        #expect(d.status == 0)
        let specs = d.stdout.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
        #expect(specs.count == 2)
        let store2 = dir.path + "/again.pfxbl"
        let c2 = try Self.run(["compile"] + specs + ["-o", store2])
        #expect(c2.status == 0, "\(c2.stderr)")
        let l2 = try Self.run(["lookup", store2] + addresses)
        #expect(l2.stdout.replacingOccurrences(of: #"  \[[^\]]*\]"#, with: "", options: .regularExpression)
                == l.stdout.replacingOccurrences(of: #"  \[[^\]]*\]"#, with: "", options: .regularExpression))
    }

    @Test
    func failedCompileKeepsTheOldStoreAndCheckExitsOne() throws {
        let dir = TempDir()
        let store = dir.path + "/bl.pfxbl"
        #expect(try Self.run(["compile"] + Self.bundled + ["-o", store]).status == 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: store))
        let bad = dir.write("bad.txt", "192.0.2.1\n192.0.2.256\n")
        // A line rbldnsd skips is skipped (a warning) unless --strict, which refuses it.
        let c = try Self.run(["compile", "--strict", "bl.example:ip4set:" + bad, "-o", store])
        #expect(c.status == 1)
        // It says what happens: nothing is skipped, the compile fails.
        #expect(c.stderr.contains("\(bad):2: error: invalid IPv4 address: '192.0.2.256'; refused by --strict (the compile fails)"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: store)) == before)
        let k = try Self.run(["check", "bl.example:ip4set:" + bad])
        #expect(k.status == 1)
        #expect(k.stderr.contains("\(bad):2: warning: invalid IPv4 address: '192.0.2.256'; line skipped"))
        #expect(try Self.run(["check"] + Self.bundled).status == 0)
        #expect(try Self.run(["check", "--strict"] + Self.bundled).status == 1)  // the in-zone NS warning
        #expect(try Self.run(["check", "bl.example:dnhash:x"]).stderr.contains("not supported"))
        #expect(try Self.run(["check", "nonsense"]).status != 0)
    }

    /// As root, `compile -o /dev/full` replaced the device node with a store file (rename(2)
    /// replaces any directory entry) and `export -o /dev/null` removed the device before moving
    /// its temp file there. An existing output that is not a regular file is refused, untouched.
    @Test
    func outputsThatAreNotRegularFilesAreRefused() throws {
        let dir = TempDir()
        let fifo = dir.path + "/fifo"
        #expect(mkfifo(fifo, 0o600) == 0)
        let c = try Self.run(["compile"] + Self.bundled + ["-o", fifo])
        #expect(c.status == 1)
        #expect(c.stderr.contains("\(fifo): exists and is not a regular file"), "\(c.stderr)")
        let store = dir.path + "/bl.pfxbl"
        #expect(try Self.run(["compile"] + Self.bundled + ["-o", store]).status == 0)
        let e = try Self.run(["export", store, "-o", fifo])
        #expect(e.status != 0)
        #expect(e.stderr.contains("not a regular file"), "\(e.stderr)")
        var st = stat()
        #expect(lstat(fifo, &st) == 0 && (st.st_mode & S_IFMT) == S_IFIFO, "the FIFO was replaced")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["bl.pfxbl", "fifo"])
    }

    /// A missing or non-store file given to dump, lookup or export printed "Usage: prefixbl
    /// <subcommand>" and exited 64 (a usage error); `dump -d` into an impossible directory
    /// printed an NSCocoaErrorDomain dump. Now: `prefixbl: error: PATH: reason`, exit 1.
    @Test
    func unreadableStoresAreErrorsNamingThePath() throws {
        let dir = TempDir()
        let text = dir.write("v4.txt", "192.0.2.1\n")
        for args in [["dump", dir.path + "/missing.pfxbl"], ["lookup", text, "192.0.2.1"], ["export", dir.path]] {
            let r = try Self.run(args)
            #expect(r.status == 1, "\(args): \(r.stderr)")
            #expect(r.stderr.hasPrefix("prefixbl: error: \(args[1]): "), "\(args): \(r.stderr)")
            #expect(!r.stderr.contains("Usage:"), "\(args): \(r.stderr)")
        }
        let store = dir.path + "/bl.pfxbl"
        #expect(try Self.run(["compile"] + Self.bundled + ["-o", store]).status == 0)
        let d = try Self.run(["dump", store, "-d", text + "/sub"])
        #expect(d.status == 1 && d.stderr == "prefixbl: error: \(text)/sub: cannot create the directory\n", "\(d.stderr)")
    }
}
