import ArgumentParser
import PrefixStore
import ZoneSource
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Options shared by `compile` and `check`: the very same code path (NSD's `nsd-checkzone` habit).
struct SourceOptions: ParsableArguments {
    @Argument(help: ArgumentHelp(
        "Datasets in rbldnsd's spelling: zone:type:file[,file…] (types \(DatasetTypes.names.joined(separator: ", ")); an empty zone with acl, :acl:file, is the global ACL).",
        valueName: "zone:type:file"))
    var specs: [String]

    @Flag(help: "Treat every warning as an error.")
    var strict = false

    @Flag(help: "Allow listings the guards refuse: 0.0.0.0/0, ::/0, IPv4 data listing 127.0.0.1.")
    var force = false

    @Flag(help: "Read a numeric second column N as A 127.0.0.N instead of as TXT (ipsum's count of lists).")
    var countAsValue = false

    func validate() throws {
        for s in specs {
            do throws(Diagnostic) { _ = try ZoneSpec(parsing: s) } catch {
                throw ValidationError(error.message)
            }
        }
    }

    var compileOptions: CompileOptions {
        var o = CompileOptions(strict: strict, force: force, countAsValue: countAsValue)
        if isatty(2) != 0 {
            o.progress = { p in
                let mb = Double(p.bytesRead) / 1_048_576, total = Double(p.bytesTotal) / 1_048_576
                writeStderr("\r\u{1B}[K  \(p.lines) lines, \(format(mb)) of \(format(total)) MiB: \(p.file)")
            }
        }
        return o
    }
}

/// Writes to file descriptor 2 directly (unbuffered, so progress and diagnostics interleave
/// in order).
func writeStderr(_ s: String) {
    var s = s
    s.withUTF8 { b in
        var off = 0
        while off < b.count {
            let n = write(2, b.baseAddress! + off, b.count - off)
            if n <= 0 { break }
            off += n
        }
    }
}

func format(_ x: Double, _ digits: Int = 1) -> String {
    var p = 1.0
    for _ in 0..<digits { p *= 10 }
    let r = (x * p).rounded() / p
    return String(r)
}

/// Compiles, prints diagnostics and the summary, and writes `output` when given and clean.
/// Lines rbldnsd would skip are skipped with warnings (errors with `--strict`); `check`
/// (`output` nil) still fails when any line was skipped.
/// - Returns: the exit code (0 ok, 1 errors, or `check` with skipped lines).
func runCompile(_ source: SourceOptions, output: String?) -> Int32 {
    let specs = source.specs.compactMap { try? ZoneSpec(parsing: $0) }
    let options = source.compileOptions
    let started = ContinuousClock.now
    // The one path from specs to a store, the one `serve` loads with (SourceBuild).
    let showProgress = options.progress != nil
    let result = SourceBuild.run(specs, options: options) {
        if showProgress { writeStderr("\r\u{1B}[K  building the store…") }
    }
    if showProgress { writeStderr("\r\u{1B}[K") }
    let diagnostics = result.diagnostics
    let image = result.image
    for d in diagnostics { writeStderr(d.description + "\n") }
    let errors = diagnostics.filter { $0.severity == .error }.count
    let warnings = diagnostics.count - errors
    if errors > 0 {
        let s = result.stats
        writeStderr("\(s.lines) lines read, \(s.entries) entries in \(format(s.seconds, 3)) s\n")
        writeStderr("prefixbl: \(errors) error\(errors == 1 ? "" : "s"), \(warnings) warning\(warnings == 1 ? "" : "s"); \(output == nil ? "check failed" : "nothing written")\n")
        return 1
    }
    if let output, let img = image {
        do throws(StoreError) { try StoreBuilder.write(img, to: output) } catch {
            writeStderr("prefixbl: error: \(error)\n")
            return 1
        }
    }
    let seconds = Double((ContinuousClock.now - started).components.attoseconds) / 1e18
        + Double((ContinuousClock.now - started).components.seconds)
    // Encoding and writing: what the parse did not take.
    let building = max(0, seconds - result.stats.seconds)
    let s = result.stats
    let datasetCount = result.zones.reduce(0) { $0 + $1.datasets.count }
    var line = "\(result.zones.count) zone\(result.zones.count == 1 ? "" : "s"), \(datasetCount) dataset\(datasetCount == 1 ? "" : "s"): "
    let skipped = result.skippedLines
    line += "\(s.lines) lines read, \(s.entries) entries, \(skipped) line\(skipped == 1 ? "" : "s") skipped, \(image?.summary.ranges ?? 0) ranges, \(warnings) warning\(warnings == 1 ? "" : "s"), "
    line += output == nil ? "store not written (\(image?.summary.bytes ?? 0) bytes), " : "\(image?.summary.bytes ?? 0) store bytes, "
    line += "\(format(seconds, 3)) s (parse \(format(s.seconds, 3)) s, \(format(s.cpuSeconds, 3)) s CPU, \(Int(Double(s.lines) / max(s.cpuSeconds, 1e-9))) lines per CPU second; build \(format(building, 3)) s)\n"
    writeStderr(line)
    if output == nil && skipped > 0 {
        writeStderr("prefixbl: \(skipped) line\(skipped == 1 ? "" : "s") skipped (\(result.skipped.map { "\($0.zone) \($0.dataset): \($0.lines)" }.joined(separator: ", "))); check failed\n")
        return 1
    }
    return 0
}

struct Compile: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compile rbldnsd-syntax sources into a store file.",
        discussion: """
            Reads every dataset (several files of one dataset are read in order as one; .gz is \
            read transparently), checks it, and writes the store atomically: a failed compile \
            leaves an existing STORE untouched. Ends with a summary on stderr.
            Example: prefixbl compile bl.example:ip4set:zones/bl.example.ip4set \
            bl.example:ip6trie:zones/bl.example.ip6trie -o bl.example.pfxbl
            """)

    @OptionGroup var source: SourceOptions

    @Option(name: .shortAndLong, help: "The store file to write.")
    var output: String

    func run() throws {
        let code = runCompile(source, output: output)
        if code != 0 { throw ExitCode(code) }
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check sources exactly as compile does, writing nothing; exit 1 on errors or skipped lines.")

    @OptionGroup var source: SourceOptions

    func run() throws {
        let code = runCompile(source, output: nil)
        if code != 0 { throw ExitCode(code) }
    }
}
