import Foundation
import PrefixStore
@testable import ZoneSource
import TestSupport

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

/// Addresses to ask about, sorted and distinct: for `entries` entries of `d` picked by `rng`,
/// the entry's first and last address, one random address inside it, and the addresses just
/// before and after it.
func sampleKeys(_ d: DatasetInput, entries: Int, using rng: inout SplitMix64) -> [UInt128] {
    let bits = d.family.bits
    let maxKey: UInt128 = bits == 32 ? UInt128(UInt32.max) : .max
    var keys: [UInt128] = []
    for _ in 0..<entries {
        let e = d.entries[Int(rng.next() % UInt64(d.entries.count))]
        let host = bits - Int(e.prefixLength)
        let last = e.address | (host >= 128 ? .max : (UInt128(1) << UInt128(host)) - 1)
        let span = last - e.address
        keys += [e.address, last, e.address + (span == .max ? UInt128(rng.next()) : UInt128(rng.next()) % (span + 1))]
        if e.address > 0 { keys.append(e.address - 1) }
        if last < maxKey { keys.append(last + 1) }
    }
    return Set(keys).sorted()
}
