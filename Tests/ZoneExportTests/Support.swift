import Foundation
import LDNSKit
import PrefixStore
import ZoneExport
import ZoneSource
import TestSupport

struct CompileFailure: Error, CustomStringConvertible { var description: String }

/// Compiles `(zone, type, text)` datasets into an in-memory store.
func compileStore(_ datasets: [(String, String, String)], dir: TempDir = TempDir()) throws -> Store {
    var specs: [ZoneSpec] = []
    for (i, (zone, type, text)) in datasets.enumerated() {
        specs.append(ZoneSpec(zone: zone, type: type, files: [dir.write("d\(i).txt", text)]))
    }
    var options = CompileOptions()
    options.force = true
    let r = Compiler.compile(specs, options: options)
    if r.hasErrors { throw CompileFailure(description: r.diagnostics.map { "\($0)" }.joined(separator: "\n")) }
    return try Store(zones: r.zones)
}

/// Writes the zone through libldns and reads it back with `ldns_zone_new_frm_fp`.
func roundTrip(_ zone: StoreZone, options: ExportOptions = ExportOptions(), dir: TempDir)
    throws -> (rrs: [WireRR], stats: ExportStats, text: String)
{
    var text = ""
    let stats = try MasterFile.write(zone, options: options) { text += $0 }
    let path = dir.write("zone.txt", text)
    return (try ZoneFile.load(path: path), stats, text)
}

/// A reference authoritative server over a static zone's records: exact match, empty
/// non-terminals, and wildcard synthesis by the closest-encloser rule of RFC 4592 §3.3.1.
struct ReferenceZone {
    enum Outcome: Equatable { case answer([WireRR]), nodata, nxdomain }
    var byOwner: [[UInt8]: [WireRR]] = [:]
    var existing: Set<[UInt8]> = []
    let apex: [UInt8]

    init(_ rrs: [WireRR], apex: [UInt8]) {
        self.apex = apex
        for r in rrs { byOwner[r.owner, default: []].append(r) }
        for owner in byOwner.keys {
            var n = owner
            while n.count >= apex.count {
                if !existing.insert(n).inserted { break }
                if n.count == apex.count { break }
                n = Array(n[(Int(n[0]) + 1)...])
            }
        }
    }

    func resolve(_ q: [UInt8], type: UInt16) -> Outcome {
        func pick(_ rs: [WireRR]) -> Outcome {
            let m = rs.filter { $0.type == type }
            return m.isEmpty ? .nodata : .answer(m)
        }
        if let rs = byOwner[q] { return pick(rs) }
        if existing.contains(q) { return .nodata }
        var ce = q
        while !existing.contains(ce) {
            if ce.count <= apex.count { return .nxdomain }
            ce = Array(ce[(Int(ce[0]) + 1)...])
        }
        if let rs = byOwner[[1, UInt8(ascii: "*")] + ce] { return pick(rs) }
        return .nxdomain
    }
}

/// The RFC 5782 query name of an address under `zone` (wire form).
func queryName(_ family: AddressFamily, _ key: UInt128, zone: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    if family == .ipv6 {
        for i in 0..<32 {
            let v = Int((key >> UInt128(4 * i)) & 0xF)
            out += [1, v < 10 ? UInt8(48 + v) : UInt8(87 + v)]
        }
    } else {
        for i in 0..<4 {
            let s = Array(String(Int((key >> UInt128(8 * i)) & 0xFF)).utf8)
            out.append(UInt8(s.count)); out += s
        }
    }
    return out + zone
}

/// Addresses worth asking about: every range edge and its neighbours, a midpoint, a few
/// random ones inside, and random ones anywhere.
/// With more than `maxRanges` ranges, an evenly spread subset of them.
func sampleAddresses(_ zone: StoreZone, family: AddressFamily, random: Int, seed: UInt64,
                     maxRanges: Int = .max) -> [UInt128] {
    var g = SplitMix64(seed: seed)
    let top: UInt128 = family == .ipv4 ? UInt128(UInt32.max) : .max
    var out: [UInt128] = []
    for d in zone.datasets where d.family == family {
        let all = d.table.ranges()
        let stride = max(1, all.count / max(1, maxRanges))
        for r in Swift.stride(from: 0, to: all.count, by: stride).map({ all[$0] }) {
            out += [r.first, r.last, r.first / 2 + r.last / 2]
            if r.first > 0 { out.append(r.first - 1) }
            if r.last < top { out.append(r.last + 1) }
            let span = r.last - r.first
            for _ in 0..<3 { out.append(r.first + (span == .max ? g.next128() : g.next128() % (span + 1))) }
        }
    }
    for _ in 0..<random { out.append(family == .ipv4 ? g.next128() & top : g.next128()) }
    return out
}

/// What the store answers for an address: A set and TXT set (templates with `$` left out).
func storeAnswer(_ zone: StoreZone, _ family: AddressFamily, _ key: UInt128) -> (a: Set<UInt32>, txt: Set<[UInt8]>, dollar: Bool) {
    var a = Set<UInt32>(), t = Set<[UInt8]>(), dollar = false
    for d in zone.datasets where d.family == family {
        let v = d.table.value(at: key)
        if v < 0 { continue }
        let sv = d.values[Int(v)]
        a.insert(sv.a)
        if let p = sv.txt {
            let bytes = Array(p)
            let text = bytes.replacingDollarDollar()
            if text.contains(0xFF) { dollar = true } else { t.insert(text) }
        }
    }
    return (a, t, dollar)
}

extension Array where Element == UInt8 {
    /// `$$` → `$`; a lone `$` (the queried address) becomes 0xFF so callers can spot it.
    func replacingDollarDollar() -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        while i < count {
            if self[i] == UInt8(ascii: "$") && i + 1 < count && self[i + 1] == UInt8(ascii: "$") {
                out.append(UInt8(ascii: "$")); i += 2; continue
            }
            if self[i] == UInt8(ascii: "$") { out.append(0xFF) } else { out.append(self[i]) }
            i += 1
        }
        return out
    }
}

/// TXT RDATA's character-strings joined.
func txtJoined(_ rdata: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    var i = 0
    while i < rdata.count {
        let n = Int(rdata[i])
        out += rdata[(i + 1)..<min(rdata.count, i + 1 + n)]
        i += 1 + n
    }
    return out
}
