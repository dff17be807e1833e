import Foundation

/// The directory holding this package's Package.swift, found by walking up from this file.
public func repositoryRoot() -> String {
    var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    while url.path != "/" {
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url.path }
        url = url.deletingLastPathComponent()
    }
    fatalError("no Package.swift above \(#filePath)")
}

/// The real data sets: `$PREFIXBL_REALDATA` when it names an existing path, else the
/// `shared/realdata` directory beside the repository root or beside one of its ancestors (a
/// worktree sits deeper than the main checkout); nil when there is none. The variable wins so
/// that a run can be pointed at other data from any checkout, as tools/soak.sh does.
public func realdataDirectory() -> String? {
    let fm = FileManager.default
    if let env = ProcessInfo.processInfo.environment["PREFIXBL_REALDATA"], fm.fileExists(atPath: env) { return env }
    var url = URL(fileURLWithPath: repositoryRoot())
    while url.path != "/" {
        let candidate = url.deletingLastPathComponent().appendingPathComponent("shared/realdata").path
        if fm.fileExists(atPath: candidate) { return candidate }
        url = url.deletingLastPathComponent()
    }
    return nil
}

/// `name` inside ``realdataDirectory()`` when that file is readable, else nil.
public func realdataFile(_ name: String) -> String? {
    guard let dir = realdataDirectory() else { return nil }
    let path = dir + "/" + name
    return FileManager.default.isReadableFile(atPath: path) ? path : nil
}

/// The built `prefixbl` executable: `$PREFIXBL_BIN` if set, else the one beside the running
/// test bundle (the same build configuration), else the SwiftPM build directory of this package
/// (`.build/debug/prefixbl`, `.build/<triple>/debug/prefixbl`, then the release ones); nil when
/// none is built. `swift build --build-tests` builds it along with the tests.
public func prefixblBinary() -> String? {
    let fm = FileManager.default
    if let env = ProcessInfo.processInfo.environment["PREFIXBL_BIN"], fm.isExecutableFile(atPath: env) { return env }
    let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    let build = URL(fileURLWithPath: repositoryRoot()).appendingPathComponent(".build")
    var candidates = [bundle.appendingPathComponent("prefixbl").path, build.appendingPathComponent("debug/prefixbl").path]
    if let triples = try? fm.contentsOfDirectory(atPath: build.path) {
        for t in triples.sorted() { candidates.append(build.appendingPathComponent("\(t)/debug/prefixbl").path) }
        for t in triples.sorted() { candidates.append(build.appendingPathComponent("\(t)/release/prefixbl").path) }
    }
    candidates.append(build.appendingPathComponent("release/prefixbl").path)
    return candidates.first { fm.isExecutableFile(atPath: $0) }
}

/// An executable `name` on PATH, else in /usr/sbin, /sbin or /usr/local/sbin (daemons such as
/// rbldnsd live there and PATH may not hold them); nil when there is none.
public func which(_ name: String) -> String? {
    let fm = FileManager.default
    let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
    for dir in path + ["/usr/sbin", "/sbin", "/usr/local/sbin"] where fm.isExecutableFile(atPath: "\(dir)/\(name)") {
        return "\(dir)/\(name)"
    }
    return nil
}
