import Foundation
import Testing
import TestSupport

// tools/check-skips.sh, which tools/test.sh runs on the output of `swift test`, on recorded
// output (Fixtures/: Swift Testing 6.3.1's lines for skipped tests and suites).

/// Runs the checker on a fixture; its exit status and standard output.
func checkSkips(_ fixture: String) throws -> (status: Int32, output: String) {
    let root = repositoryRoot()
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/bash")
    p.arguments = [root + "/tools/check-skips.sh", root + "/Tests/RepositoryTests/Fixtures/" + fixture]
    // Output into a file, not a pipe, whose end another test's server could inherit.
    let dir = TempDir()
    let outPath = dir.write("out.txt", [])
    let out = try #require(FileHandle(forWritingAtPath: outPath))
    p.standardOutput = out
    p.standardError = out
    try p.run()
    p.waitUntilExit()
    try out.close()
    return (p.terminationStatus, String(decoding: FileManager.default.contents(atPath: outPath) ?? Data(), as: UTF8.self))
}

@Suite("The CI skip check (tools/check-skips.sh)")
struct SkipCheckTests {
    @Test("no skipped test: passes and says 0")
    func noSkips() throws {
        let r = try checkSkips("no-skips.txt")
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output.contains("skipped: 0 tests"), "\(r.output)")
    }

    @Test("skips for a missing optional tool named in the reason pass, and are counted (a skipped suite's tests too)")
    func missingToolsPass() throws {
        let r = try checkSkips("skips-allowed.txt")
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output.contains("skipped: 3 tests (3 for a missing optional tool)"), "\(r.output)")
    }

    @Test("a skip without a reason, or for any other reason, fails the run and is named")
    func otherReasonsFail() throws {
        let r = try checkSkips("skips-forbidden.txt")
        #expect(r.status == 1, "\(r.output)")
        #expect(r.output.contains("skipped: 5 tests (3 for a missing optional tool)"), "\(r.output)")
        #expect(r.output.contains("Test noReason() skipped."), "\(r.output)")
        #expect(r.output.contains("the answer engine is still"), "\(r.output)")
        #expect(!r.output.contains("digTest"), "an allowed skip is not listed: \(r.output)")
    }

    @Test("naming a tool is not enough: the reason must say it is missing")
    func toolNamedButNotMissing() throws {
        let r = try checkSkips("skips-tool-not-missing.txt")
        #expect(r.status == 1, "\(r.output)")
        #expect(r.output.contains("skipped: 3 tests (1 for a missing optional tool)"), "\(r.output)")
        #expect(r.output.contains("dig answers differ from ours") && r.output.contains("a file named zones.conf"), "\(r.output)")
    }

    @Test("no file: a usage error, not a pass")
    func usage() throws {
        let r = try checkSkips("no-such-fixture.txt")
        #expect(r.status == 2, "\(r.output)")
    }
}
