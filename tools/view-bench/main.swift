// Cost of StoreZoneView.prove on a real store: time per proof (median of 5 rounds), heap
// allocations per proof (when tools/malloc-count.c is preloaded), and the build time of the view.
// Built and run by tools/view-bench.sh (release, whole-module, no SwiftPM).
import DNSBL
import PrefixStore
#if canImport(Glibc)
import Glibc
#endif

@inline(never) func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

struct Rng { var s: UInt64; mutating func next() -> UInt64 {
    s &+= 0x9E37_79B9_7F4A_7C15; var z = s
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9; z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31) } }

func wire(_ labels: [String], apex: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    for l in labels { out.append(UInt8(l.utf8.count)); out += Array(l.utf8) }
    return out + apex
}

func name(_ family: AddressFamily, _ a: UInt128, apex: [UInt8]) -> [UInt8] {
    if family == .ipv4 {
        return wire((0..<4).map { String((a >> UInt128(8 * $0)) & 0xff) }, apex: apex)
    }
    return wire((0..<32).map { String(Int((a >> UInt128(4 * $0)) & 0xf), radix: 16) }, apex: apex)
}

let args = CommandLine.arguments
guard args.count >= 2 else { print("usage: view-bench STORE [NAMES] [ROUNDS]"); exit(2) }
let count = args.count > 2 ? Int(args[2])! : 20000
let rounds = args.count > 3 ? Int(args[3])! : 5
let store = try Store(path: args[1])
let zone = store.zones[0]
let t0 = now()
guard let view = StoreZoneView.make(zone: zone) else { print("zone shape not covered"); exit(1) }
let built = now() - t0
// Half listed addresses (a random address of a random range), half random addresses, over
// the zone's families in proportion to their ranges.
var rng = Rng(s: 42)
var names: [[UInt8]] = []
let sets = zone.datasets.filter { $0.rule != .clientACL }
let tables = sets.map { ($0.family, $0.table.ranges()) }
while names.count < count {
    let (family, ranges) = tables[Int(rng.next() % UInt64(tables.count))]
    let mask: UInt128 = family == .ipv4 ? 0xffff_ffff : .max
    if names.count % 2 == 0, !ranges.isEmpty {
        let r = ranges[Int(rng.next() % UInt64(ranges.count))]
        let span = r.last - r.first
        let off = span == .max ? (UInt128(rng.next()) << 64 | UInt128(rng.next())) : (UInt128(rng.next()) << 64 | UInt128(rng.next())) % (span + 1)
        names.append(name(family, r.first + off, apex: zone.name))
    } else {
        names.append(name(family, (UInt128(rng.next()) << 64 | UInt128(rng.next())) & mask, apex: zone.name))
    }
}
typealias CountFn = @convention(c) () -> Int
let counter: CountFn? = dlsym(dlopen(nil, RTLD_NOW), "prefixbl_thread_malloc_count").map { unsafeBitCast($0, to: CountFn.self) }
var sink = 0
var times: [Double] = []
let m0 = counter?() ?? 0
for _ in 0..<rounds {
    let s = now()
    for q in names { sink &+= view.prove(q).nsec.next.count }
    times.append((now() - s) / Double(names.count))
}
let m1 = counter?() ?? 0
times.sort()
print("zone \(zone.datasets.count) datasets, \(sets.reduce(0) { $0 + $1.table.rangeCount }) ranges; view built in \(Int(built * 1000)) ms")
print("prove: median \(Int(times[times.count / 2] * 1e9)) ns per proof over \(names.count) names x \(rounds) rounds (min \(Int(times[0] * 1e9)) ns)")
if counter != nil { print("allocations per proof: \(Double(m1 - m0) / Double(rounds * names.count))") }
if sink == 42 { print("") }
