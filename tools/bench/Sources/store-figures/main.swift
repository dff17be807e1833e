// Prints the store figures table (see tools/store-figures.sh).
//   store-figures                   the table: bytes per range, lookups/s, open+validate, encode
//   store-figures lookups           lookups/s and intersects/s at 1k…10M only (layout tuning)
//   store-figures compile N PATH    generate N mixed IPv6 prefixes, encode, write (run under
//                                   /usr/bin/time -v for peak RSS), then open and look up once

import PrefixStore
import StoreBenchSupport
#if canImport(Glibc)
import Glibc
#endif

func out(_ s: String) { print(s); fflush(nil) }

func fmt(_ x: Double, _ digits: Int = 1) -> String {
    var p = 1.0
    for _ in 0..<digits { p *= 10 }
    let r = (x * p).rounded() / p
    return digits == 0 ? String(Int(r)) : String(r)
}

/// `PREFIXBL_REALDATA`, else the first `shared/realdata` found walking up from the current
/// directory (the repository's sibling `shared/`).
func realdataDir() -> String? {
    if let e = getenv("PREFIXBL_REALDATA") { return String(cString: e) }
    var parts = String(cString: getcwd(nil, 0)).split(separator: "/").map(String.init)
    while true {
        let cand = "/" + (parts + ["shared", "realdata"]).joined(separator: "/")
        if access(cand, R_OK) == 0 { return cand }
        if parts.isEmpty { return nil }
        parts.removeLast()
    }
}

/// Size stretch estimate: the table's entries (range starts plus the "not listed" terminators
/// the format needs) delta-coded in blocks of `block` keys — a block header with the first key in
/// full and a 4-byte payload offset, then each later key as the difference from its predecessor
/// in the block's byte width, then the tails (value index + size) — plus a radix over the block
/// headers at the current policy. Returns bytes per listed range.
func blockCompressedBytesPerRange(_ t: RangeTable, block: Int) -> Double {
    let ranges = t.ranges()
    if ranges.isEmpty { return .nan }
    var keys: [UInt128] = []
    let maxKey: UInt128 = t.family == .ipv4 ? UInt128(UInt32.max) : .max
    for (i, r) in ranges.enumerated() {
        keys.append(r.first)
        // The same rule as the store: sizes m·2^e with m < 256 need no end entry.
        let size = r.last &- r.first &+ 1
        let sized = size == 0 || (size >> UInt128(size.trailingZeroBitCount)) < 256
        let nextStart = i + 1 < ranges.count ? ranges[i + 1].first : nil
        if !sized && r.last != maxKey && nextStart != r.last + 1 { keys.append(r.last + 1) }
    }
    let aligned64 = t.family == .ipv6 && keys.allSatisfy { UInt64(truncatingIfNeeded: $0) == 0 }
        && ranges.allSatisfy { UInt64(truncatingIfNeeded: $0.last) == UInt64.max }
    if aligned64 { keys = keys.map { $0 >> 64 } }
    let keyWidth = t.family == .ipv4 ? 4 : aligned64 ? 8 : 16
    var bytes = 0
    var i = 0
    var blocks = 0
    while i < keys.count {
        let end = min(keys.count, i + block)
        var maxDelta: UInt128 = 0
        for j in (i + 1)..<max(i + 1, end) { maxDelta = max(maxDelta, keys[j] - keys[j - 1]) }
        let deltaBytes = (128 - maxDelta.leadingZeroBitCount + 7) / 8
        bytes += keyWidth + 4 + 1 + (end - i - 1) * deltaBytes
        blocks += 1
        i = end
    }
    bytes += keys.count * 3                      // value index (1 byte here) + size (e, m)
    let radixBits = max(0, Int.bitWidth - blocks.leadingZeroBitCount - 1 - 1)
    bytes += ((1 << radixBits) + 1) * 4
    return Double(bytes) / Double(ranges.count)
}

/// Lookups run on `Store(path:)` (the server's mmap path) when PREFIXBL_FIGURES_FROM_FILE is
/// set, else on `Store(bytes:)` (an owned buffer).
let fromFile = getenv("PREFIXBL_FIGURES_FROM_FILE") != nil

func build(_ entries: [PrefixEntry], _ family: AddressFamily) -> (Store, StoreImage) {
    let image = try! StoreBuilder.encode(benchZone(entries, family: family))
    if fromFile {
        let path = "/tmp/prefixbl-figures-\(getpid()).pfxbl"
        try! StoreBuilder.write(image, to: path)
        defer { unlink(path) }
        return (try! Store(path: path), image)
    }
    return (try! Store(bytes: image.bytes), image)
}

/// Lookups per second: median of `runs` passes over `n` keys.
func lookupRate(_ table: RangeTable, n: Int = 2_000_000, runs: Int = 5) -> (lookups: Double, intersects: Double) {
    let keys = queryKeys(for: table, count: n)
    var l: [Double] = [], x: [Double] = []
    var sink = 0
    keys.withUnsafeBufferPointer { kp in
        _ = lookupAll(table, kp)  // warm
        for _ in 0..<runs {
            var t = cpuNow(); sink &+= lookupAll(table, kp); l.append(Double(n) / (cpuNow() - t))
            t = cpuNow(); sink &+= intersectAll(table, kp); x.append(Double(n) / (cpuNow() - t))
        }
    }
    if sink == 42 { out("") }
    return (median(l), median(x))
}

let args = CommandLine.arguments
if args.count >= 2 && args[1] == "compile" {
    let n = args.count >= 3 ? Int(args[2])! : 100_000_000
    let path = args.count >= 4 ? args[3] : "/tmp/prefixbl-\(n).pfxbl"
    var t = now()
    let entries = generate(.ipv6Mixed, count: n, seed: 1)
    let gen = now() - t
    t = now()
    let image = try! StoreBuilder.encode(benchZone(entries, family: .ipv6))
    let enc = now() - t
    t = now()
    try! StoreBuilder.write(image, to: path)
    let wr = now() - t
    let bytes = image.bytes.count, ranges = image.summary.ranges
    out("generated \(n) prefixes in \(fmt(gen)) s; encoded in \(fmt(enc)) s (\(fmt(Double(n) / enc / 1e6, 2))M entries/s); wrote \(bytes) bytes in \(fmt(wr)) s")
    out("ranges \(ranges), \(fmt(Double(bytes) / Double(ranges), 2)) B/range")
    t = now()
    let c = cpuNow()
    let store = try! Store(path: path)
    let v = store.zones[0].datasets[0].table.value(at: entries[0].address)
    out("open+validate+first lookup: \(fmt((now() - t) * 1000)) ms wall, \(fmt((cpuNow() - c) * 1000)) ms thread CPU (value \(v))")
    exit(0)
}

if args.count >= 3 && args[1] == "profile" {
    // profile N: encode N mixed entries 3 times, then open+validate the image 10 times (for perf).
    let n = Int(args[2])!
    let e = generate(.ipv6Mixed, count: n)
    var image: StoreImage? = nil
    for _ in 0..<(args.count >= 4 ? Int(args[3])! : 3) { let t = now(); image = try! StoreBuilder.encode(benchZone(e, family: .ipv6)); out("encode \(fmt(now() - t, 3)) s") }
    try! StoreBuilder.write(image!, to: "/tmp/prefixbl-profile.pfxbl")
    for _ in 0..<10 {
        let t = now(), c = cpuNow()
        _ = try! Store(path: "/tmp/prefixbl-profile.pfxbl")
        out("open \(fmt((now() - t) * 1000, 1)) ms wall, \(fmt((cpuNow() - c) * 1000, 1)) ms CPU")
    }
    unlink("/tmp/prefixbl-profile.pfxbl")
    exit(0)
}

if args.count >= 2 && args[1] == "layouts" {
    out("## Layout comparison (IPv6 mixed; thread CPU time, median of 5 × 2M)")
    out("| ranges | layout | radix slack | B/range | value(at:) M/s | intersects M/s |")
    out("|---:|---|---:|---:|---:|---:|")
    let sizes = args.count >= 3 ? args[2].split(separator: ",").map { Int($0)! } : [1_000_000, 10_000_000]
    for n in sizes {
        let e = generate(.ipv6Mixed, count: n)
        for (inter, slack) in [(true, 0), (true, 1), (true, 2), (true, 3), (true, 4), (false, 2)] {
            let image = try! StoreBuilder.encode(benchZone(e, family: .ipv6), options: StoreLayoutOptions(interleaved: inter, radixSlack: slack))
            let store = try! Store(bytes: image.bytes)
            let t = store.zones[0].datasets[0].table
            let (l, x) = lookupRate(t)
            out("| \(t.rangeCount) | \(inter ? "interleaved" : "separate") | \(slack) | \(fmt(Double(image.bytes.count) / Double(image.summary.ranges), 2)) | \(fmt(l / 1e6, 2)) | \(fmt(x / 1e6, 2)) |")
        }
    }
    exit(0)
}

let onlyLookups = args.count >= 2 && args[1] == "lookups"
let onlySizes = args.count >= 2 && args[1] == "sizes"
let sizes = onlyLookups && args.count >= 3 ? args[2].split(separator: ",").map { Int($0)! } : [1_000, 100_000, 1_000_000, 10_000_000]

if !onlyLookups {
    out("## Store size: whole store bytes / listed ranges after flattening")
    var stretch: [(String, RangeTable, Double)] = []
    out("| data | entries | listed ranges | table entries | store bytes | B/range |")
    out("|---|---:|---:|---:|---:|---:|")
    for mix in Mix.allCases {
        let e = generate(mix, count: 1_000_000)
        let (store, image) = build(e, mix.family)
        let t = store.zones[0].datasets[0].table
            stretch.append((mix.rawValue + " (1M)", t, Double(image.bytes.count) / Double(image.summary.ranges)))
        out("| \(mix.rawValue) (1M generated) | \(e.count) | \(image.summary.ranges) | \(t.entryCount) | \(image.bytes.count) | \(fmt(Double(image.bytes.count) / Double(image.summary.ranges), 2)) |")
    }
    if let dir = realdataDir(), let e = readIPv6Prefixes(dir + "/fullbogons-ipv6.txt") {
        let (store, image) = build(e, .ipv6)
        let t = store.zones[0].datasets[0].table
        stretch.append(("fullbogons", t, Double(image.bytes.count) / Double(image.summary.ranges)))
        out("| fullbogons-ipv6.txt | \(e.count) | \(image.summary.ranges) | \(t.entryCount) | \(image.bytes.count) | \(fmt(Double(image.bytes.count) / Double(image.summary.ranges), 2)) |")
    } else {
        out("| fullbogons-ipv6.txt | not found (set PREFIXBL_REALDATA) | | | | |")
    }
    out("")
    out("## Size stretch (estimate): keys delta-coded in blocks, B/range")
    out("| data | now | blocks of 16 | blocks of 64 |")
    out("|---|---:|---:|---:|")
    for (name, t, now) in stretch {
        out("| \(name) | \(fmt(now, 2)) | \(fmt(blockCompressedBytesPerRange(t, block: 16), 2)) | \(fmt(blockCompressedBytesPerRange(t, block: 64), 2)) |")
    }
    out("")
}
if onlySizes { exit(0) }

out("## Lookups on one core (IPv6 mixed, half hits; thread CPU time, median of 5 × 2M; \(fromFile ? "Store(path:), mmap" : "Store(bytes:), owned buffer"))")
out("| ranges | store bytes | value(at:) M/s | ns/lookup | intersects(/48) M/s |")
out("|---:|---:|---:|---:|---:|")
var store10M: (Store, StoreImage)? = nil
var entries10M: [PrefixEntry] = []
for n in sizes {
    let e = generate(.ipv6Mixed, count: n)
    let (store, image) = build(e, .ipv6)
    let t = store.zones[0].datasets[0].table
    let (l, x) = lookupRate(t)
    out("| \(t.rangeCount) | \(image.bytes.count) | \(fmt(l / 1e6, 2)) | \(fmt(1e9 / l, 1)) | \(fmt(x / 1e6, 2)) |")
    if n == 10_000_000 { store10M = (store, image); entries10M = e }
}
out("")
if onlyLookups { exit(0) }

out("## Open + full validation, 10M-range IPv6 store in the page cache (median of 5)")
if let (_, image) = store10M {
    let path = "/tmp/prefixbl-figures-10M.pfxbl"
    try! StoreBuilder.write(image, to: path)
    var opens: [Double] = [], firsts: [Double] = [], cpus: [Double] = []
    for _ in 0..<5 {
        let t = now(), c = cpuNow()
        let s = try! Store(path: path)
        let mid = now()
        _ = s.zones[0].datasets[0].table.value(at: entries10M[0].address)
        let end = now()
        opens.append((mid - t) * 1000); firsts.append((end - t) * 1000); cpus.append((cpuNow() - c) * 1000)
    }
    out("| store bytes | open+validate+first lookup, thread CPU ms | same, wall ms (machine shared) |")
    out("|---:|---:|---:|")
    out("| \(image.bytes.count) | \(fmt(median(cpus))) | \(fmt(median(firsts))) |")
    unlink(path)
}
store10M = nil
out("")

out("## Encode (flatten + layout + checksum), generated IPv6 mixed, unsorted input; thread CPU time")
out("| entries | seconds (median of 3) | M entries/s |")
out("|---:|---:|---:|")
for n in [1_000_000, 10_000_000] {
    let e = n == 10_000_000 ? entries10M : generate(.ipv6Mixed, count: n)
    var ts: [Double] = []
    for _ in 0..<(n == 10_000_000 ? 1 : 3) {
        let t = cpuNow()
        _ = try! StoreBuilder.encode(benchZone(e, family: .ipv6))
        ts.append(cpuNow() - t)
    }
    out("| \(n) | \(fmt(median(ts), 2)) | \(fmt(Double(n) / median(ts) / 1e6, 2)) |")
}
let sortedE = generate(.ipv6Mixed, count: 1_000_000).sorted { ($0.address, $0.prefixLength) < ($1.address, $1.prefixLength) }
var ts: [Double] = []
for _ in 0..<3 { let t = cpuNow(); _ = try! StoreBuilder.encode(benchZone(sortedE, family: .ipv6)); ts.append(cpuNow() - t) }
out("| 1000000 (already sorted) | \(fmt(median(ts), 2)) | \(fmt(1e6 / median(ts) / 1e6, 2)) |")
