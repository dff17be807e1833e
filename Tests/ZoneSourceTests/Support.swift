import Foundation
import PrefixStore
@testable import ZoneSource

/// A fresh temporary directory for one test's source files.
final class TempDir {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "prefixbl-zs-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `bytes` to `name` and returns its path.
    @discardableResult
    func write(_ name: String, _ bytes: [UInt8]) -> String {
        let p = path + "/" + name
        _ = FileManager.default.createFile(atPath: p, contents: Data(bytes))
        return p
    }
    @discardableResult
    func write(_ name: String, _ text: String) -> String { write(name, Array(text.utf8)) }
}

/// Compiles datasets given as text: `[(zone, type, [file texts])]`.
func compileTexts(_ datasets: [(String, String, [String])], options: CompileOptions = CompileOptions(),
                  dir: TempDir = TempDir()) -> CompileResult {
    var specs: [ZoneSpec] = []
    var n = 0
    for (zone, type, texts) in datasets {
        var files: [String] = []
        for t in texts { n += 1; files.append(dir.write("f\(n).txt", t)) }
        specs.append(ZoneSpec(zone: zone, type: type, files: files))
    }
    return Compiler.compile(specs, options: options)
}

/// Parses one dataset's text and returns its entries as `(text of prefix, value)` pairs, the
/// value as `A` dotted and TXT (nil for an exclusion), plus diagnostics.
func parseOne(_ type: String, _ text: String, options: CompileOptions = CompileOptions())
    -> (entries: [String], diagnostics: [Diagnostic])
{
    let r = compileTexts([("bl.example", type, [text])], options: options)
    var out: [String] = []
    for z in r.zones {
        for d in z.datasets {
            for e in d.entries {
                let p = d.family == .ipv4 ? ipv4Text(UInt32(e.address)) : ipv6Text(e.address)
                if e.isExclusion { out.append("!\(p)/\(e.prefixLength)"); continue }
                let v = d.values[Int(e.value)]
                let txt = v.txt.map { " \"" + String(decoding: $0, as: UTF8.self) + "\"" } ?? ""
                out.append("\(p)/\(e.prefixLength) \(ipv4Text(v.a))\(txt)")
            }
        }
    }
    return (out, r.diagnostics.filter { $0.code != .noSOA })
}

/// The same compiled zones opened two ways: built in memory (`Store(zones:)`) and written to a
/// store file and mapped (`StoreBuilder.encode` + `write` + `Store(path:)`).
struct StorePair {
    var memory: Store
    var file: Store
}

/// Offline lookup of one address: `["127.0.0.2 Listed 192.0.2.1", …]`, empty when not listed.
/// Both stores of the pair must agree; a disagreement is returned as a single `MISMATCH` line.
func look(_ pair: StorePair, _ address: String) -> [String] {
    let a = look(pair.memory, address), b = look(pair.file, address)
    return a == b ? a : ["MISMATCH memory=\(a) file=\(b)"]
}

func look(_ store: Store, _ address: String) -> [String] {
    guard let (fam, key) = parseAddress(address) else { return ["unparseable \(address)"] }
    return OfflineLookup.lookup([store], family: fam, key: key).map { a in
        ipv4Text(a.a) + (a.txt.map { " " + String(decoding: $0, as: UTF8.self) } ?? "")
    }
}

/// Compiles and opens both ways; throws the diagnostics when the compile has errors.
func storeFor(_ datasets: [(String, String, [String])], options: CompileOptions = CompileOptions()) throws -> StorePair {
    let dir = TempDir()
    let r = compileTexts(datasets, options: options, dir: dir)
    if r.hasErrors { throw CompileFailed(diagnostics: r.diagnostics) }
    let image = try StoreBuilder.encode(r.zones)
    let path = dir.path + "/test.pfxbl"
    try StoreBuilder.write(image, to: path)
    // The mapping outlives the file's removal with the temporary directory.
    return StorePair(memory: try Store(zones: r.zones), file: try Store(path: path))
}

struct CompileFailed: Error, CustomStringConvertible {
    var diagnostics: [Diagnostic]
    var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

/// `shared/realdata` beside the repository root (found by walking up from this file to
/// Package.swift; a worktree nested deeper finds it beside an ancestor), or
/// `$PREFIXBL_REALDATA`.
func realdataDirectory(file: String = #filePath) -> String? {
    if let env = ProcessInfo.processInfo.environment["PREFIXBL_REALDATA"],
       FileManager.default.fileExists(atPath: env) { return env }
    var url = URL(fileURLWithPath: file).deletingLastPathComponent()
    var foundRoot = false
    while url.path != "/" {
        if !foundRoot {
            foundRoot = FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path)
        }
        if foundRoot {
            let candidate = url.deletingLastPathComponent().appendingPathComponent("shared/realdata").path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
        }
        url = url.deletingLastPathComponent()
    }
    return nil
}
