import Foundation
import Testing
import TestSupport

// The module layering, checked against Package.swift as SwiftPM reads it (`swift package
// dump-package`) and against the imports in Sources/.

/// The layers, bottom up: a module may depend only on modules of a lower rank. The main stack is
/// wire → store → answer rules → transport/reload → daemon → CLI; the compiler and its kin sit
/// beside it (ranks between the answer rules and the transport: the query path never reaches
/// them, the top layers may). A new module is one line here.
let layers: [(module: String, rank: Double, role: String)] = [
    ("CZlib", 0, "system library: zlib"),
    ("CSystemShims", 0, "C shims: recvmmsg/sendmmsg"),
    ("CJail", 0, "C: open(2) interposer for the chroot, linked by the executable only"),
    ("DNSWire", 1, "wire: DNS messages read and written, no I/O"),
    ("PrefixStore", 2, "store: the mapped range tables"),
    ("DNSBL", 3, "answer rules"),
    ("CLDNS", 3.1, "beside: system library libldns"),
    ("LDNSKit", 3.2, "beside: libldns wrappers (zone text, the query client, tests)"),
    ("ZoneSource", 3.3, "beside: the compiler from rbldnsd data files"),
    ("ZoneExport", 3.4, "beside: stores back to zone text"),
    ("Aggregation", 3.4, "beside: evidence aggregated into listings"),
    ("DNSBLServer", 4, "transport and snapshot/reload"),
    ("ZoneTransfer", 5, "zone transfer: AXFR, IXFR history, NOTIFY, TSIG key files"),
    ("DNSBLDaemon", 5.5, "daemon: configuration, jail, reload loader, service group"),
    ("prefixbl", 6, "CLI"),
]

/// The transport must stay free of the compiler and of libldns (issue 11): these may not be
/// among its dependencies.
let transportModule = "DNSBLServer"
let keptFromTransport: Set<String> = ["ZoneSource", "ZoneExport", "LDNSKit", "CLDNS"]

/// Modules of the platform and the toolchain, importable from anywhere.
let systemModules: Set<String> = [
    "Swift", "_Concurrency", "Foundation", "FoundationEssentials", "FoundationNetworking", "Dispatch",
    "Synchronization", "Glibc", "Musl", "Darwin",
]

/// A target of the package manifest and what it declares it depends on.
struct DeclaredTarget {
    var name: String
    var type: String
    var path: String?
    /// Targets of this package (by name) and module names of products of other packages.
    var dependencies: [String]
}

/// The manifest as SwiftPM evaluates it, read once. `swift package` runs on a thread of its own
/// and the tests await it: a blocking wait would hold one of the few Swift concurrency threads
/// (two on a 2-core machine) and stall every other test while SwiftPM compiles the manifest.
let manifest = Task<Result<[DeclaredTarget], TestFailure>, Never> {
    await withCheckedContinuation { done in
        Thread { done.resume(returning: dumpPackage()) }.start()
    }
}

func dumpPackage() -> Result<[DeclaredTarget], TestFailure> {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    // Its own scratch path: the running `swift test` holds the lock on .build.
    let scratch = NSTemporaryDirectory() + "prefixbl-dump-" + UUID().uuidString
    p.arguments = ["swift", "package", "--package-path", repositoryRoot(), "--scratch-path", scratch, "dump-package"]
    // Output into a file, not a pipe: a pipe's end inherited by a server another test starts
    // meanwhile would hold back the end of file until that server exits.
    let outPath = scratch + ".json"
    guard FileManager.default.createFile(atPath: outPath, contents: nil),
          let out = FileHandle(forWritingAtPath: outPath) else {
        return .failure(TestFailure("cannot create \(outPath)"))
    }
    defer { try? FileManager.default.removeItem(atPath: outPath); try? FileManager.default.removeItem(atPath: scratch) }
    p.standardOutput = out; p.standardError = out
    do { try p.run() } catch { return .failure(TestFailure("cannot run swift package dump-package: \(error)")) }
    p.waitUntilExit()
    try? out.close()
    let data = FileManager.default.contents(atPath: outPath) ?? Data()
    // SwiftPM may print warnings before the JSON on the same file.
    let json = data.firstIndex(of: UInt8(ascii: "{")).map { data[$0...] } ?? data
    let errText = String(decoding: data.prefix(2000), as: UTF8.self)
    guard p.terminationStatus == 0,
          let object = try? JSONSerialization.jsonObject(with: json) as? [String: Any],
          let targets = object["targets"] as? [[String: Any]] else {
        return .failure(TestFailure("swift package dump-package failed (\(p.terminationStatus)): \(errText)"))
    }
    return .success(targets.map { t in
        let deps = (t["dependencies"] as? [[String: Any]] ?? []).compactMap { d -> String? in
            for key in ["byName", "target", "product"] {
                if let v = d[key] as? [Any], let name = v.first as? String { return name }
            }
            return nil
        }
        return DeclaredTarget(name: t["name"] as? String ?? "", type: t["type"] as? String ?? "",
                              path: t["path"] as? String, dependencies: deps)
    })
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// The targets under Sources/ (test targets and the shared test helpers left out).
func sourceTargets() async throws -> [DeclaredTarget] {
    try await manifest.value.get().filter { $0.type != "test" && $0.type != "plugin" && !($0.path ?? "").hasPrefix("Tests/") }
}

/// The modules `import`ed by the Swift files of Sources/`target` (any attribute or access level,
/// `import struct M.X` and `import M.Sub` count as M).
func importedModules(of target: String) -> [String: [String]] {
    let dir = repositoryRoot() + "/Sources/" + target
    var found: [String: [String]] = [:]
    let pattern = try! NSRegularExpression(
        pattern: #"^\s*(?:@[A-Za-z_]+(?:\([^)]*\))?\s+)*(?:(?:public|package|internal|fileprivate|private)\s+)?import\s+(?:(?:struct|class|enum|protocol|func|var|let|typealias)\s+)?([A-Za-z_][A-Za-z0-9_]*)"#,
        options: [.anchorsMatchLines])
    guard let files = FileManager.default.enumerator(atPath: dir) else { return [:] }
    for case let file as String in files where file.hasSuffix(".swift") {
        guard let text = try? String(contentsOfFile: dir + "/" + file, encoding: .utf8) else { continue }
        let range = NSRange(text.startIndex..., in: text)
        for m in pattern.matches(in: text, range: range) {
            let module = String(text[Range(m.range(at: 1), in: text)!])
            found[module, default: []].append(file)
        }
    }
    return found
}

@Suite("Module layering (Package.swift and the imports in Sources)")
struct LayeringTests {
    @Test("every import in Sources/T names a declared dependency of T, or a system module")
    func importsAreDeclared() async throws {
        let targets = try await sourceTargets()
        #expect(targets.count >= 10, "dump-package found the Sources targets")
        for t in targets where t.type != "system" {
            let allowed = Set(t.dependencies).union(systemModules).union([t.name])
            for (module, files) in importedModules(of: t.name).sorted(by: { $0.key < $1.key }) where !allowed.contains(module) {
                Issue.record("\(t.name) imports \(module) (\(files.sorted().joined(separator: ", "))) but does not declare it in Package.swift")
            }
        }
    }

    @Test("every Sources target has a row in the layer table, and the table names no missing target")
    func tableCoversThePackage() async throws {
        let declared = Set(try await sourceTargets().map(\.name))
        let table = Set(layers.map(\.module))
        #expect(declared.subtracting(table).isEmpty, "targets without a layer: \(declared.subtracting(table).sorted())")
        #expect(table.subtracting(declared).isEmpty, "layers naming no target: \(table.subtracting(declared).sorted())")
    }

    @Test("dependencies point down: each module depends only on modules of a lower rank")
    func dependenciesPointDown() async throws {
        let rank = Dictionary(uniqueKeysWithValues: layers.map { ($0.module, $0.rank) })
        for t in try await sourceTargets() {
            guard let own = rank[t.name] else { continue }  // reported by tableCoversThePackage
            for d in t.dependencies {
                guard let r = rank[d] else { continue }  // another package's product
                #expect(r < own, "\(t.name) (rank \(own)) depends on \(d) (rank \(r)): layers point down only")
            }
        }
    }

    @Test("the layer check itself: an upward or sideways dependency is caught")
    func checkCatchesViolations() {
        let rank = Dictionary(uniqueKeysWithValues: layers.map { ($0.module, $0.rank) })
        func allowed(_ from: String, _ to: String) -> Bool { rank[to]! < rank[from]! }
        #expect(allowed("DNSBL", "DNSWire") && allowed("DNSBL", "PrefixStore") && allowed("prefixbl", "DNSBLServer"))
        #expect(!allowed("DNSWire", "DNSBL"), "wire may not use the answer rules")
        #expect(!allowed("DNSBL", "LDNSKit") && !allowed("DNSBL", "ZoneSource"), "the answer rules never touch libldns")
        #expect(!allowed("PrefixStore", "ZoneSource") && !allowed("DNSBL", "DNSBLServer"))
        #expect(!allowed("ZoneSource", "ZoneExport") && !allowed("ZoneExport", "Aggregation"))
    }

    /// Issue 11, point 2: the transport imports neither the compiler, the exporter nor libldns.
    @Test("the transport module (DNSBLServer) depends on neither ZoneSource, ZoneExport nor LDNSKit")
    func transportStaysFreeOfTheCompiler() async throws {
        let transport = try #require(try await sourceTargets().first { $0.name == transportModule })
        let declared = keptFromTransport.intersection(transport.dependencies)
        #expect(declared.isEmpty, "\(transportModule) declares \(declared.sorted())")
        let imported = keptFromTransport.intersection(importedModules(of: transportModule).keys)
        #expect(imported.isEmpty, "\(transportModule) imports \(imported.sorted())")
    }
}
