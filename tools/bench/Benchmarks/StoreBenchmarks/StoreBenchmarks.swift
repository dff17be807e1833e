// package-benchmark suite for the store: lookups at 1k…10M ranges (allocation gate: no malloc
// per lookup), open + full validation of a 10M-range store, encode throughput.
//   cd tools/bench && swift package --disable-sandbox benchmark
// One benchmark iteration = one lookup (scalingFactor .kilo: 1000 per measured sample).

import Benchmark
import PrefixStore
import StoreBenchSupport
#if canImport(Glibc)
import Glibc
#endif

/// Tables by range count, built once per process (setup), with 2^20 query keys each.
nonisolated(unsafe) var tables: [Int: (Store, RangeTable, [UInt128])] = [:]

func table(_ n: Int) -> (RangeTable, [UInt128]) {
    if let t = tables[n] { return (t.1, t.2) }
    let image = try! StoreBuilder.encode(benchZone(generate(.ipv6Mixed, count: n), family: .ipv6))
    let store = try! Store(bytes: image.bytes)
    let t = store.zones[0].datasets[0].table
    let keys = queryKeys(for: t, count: 1 << 20)
    tables[n] = (store, t, keys)
    return (t, keys)
}

let storePath = "/tmp/prefixbl-bench-10M.pfxbl"

let benchmarks: @Sendable () -> Void = {
    let noMalloc: [BenchmarkMetric: BenchmarkThresholds] = [.mallocCountTotal: .init(absolute: [.p100: 0])]

    for n in [1_000, 100_000, 1_000_000, 10_000_000] {
        Benchmark("value(at:) \(n) ranges",
                  configuration: .init(metrics: [.wallClock, .cpuTotal, .throughput, .mallocCountTotal],
                                       scalingFactor: .kilo, maxDuration: .seconds(2), maxIterations: 1_000_000,
                                       thresholds: noMalloc, setup: { _ = table(n) })) { benchmark in
            let (t, keys) = table(n)
            var i = Int.random(in: 0..<keys.count)
            var acc: Int32 = 0
            for _ in benchmark.scaledIterations {
                acc &+= t.value(at: keys[i & (keys.count - 1)])
                i &+= 1
            }
            blackHole(acc)
        }
        Benchmark("intersects(/48) \(n) ranges",
                  configuration: .init(metrics: [.wallClock, .cpuTotal, .throughput, .mallocCountTotal],
                                       scalingFactor: .kilo, maxDuration: .seconds(2), maxIterations: 1_000_000,
                                       thresholds: noMalloc, setup: { _ = table(n) })) { benchmark in
            let (t, keys) = table(n)
            let host: UInt128 = (UInt128(1) << 80) - 1
            var i = Int.random(in: 0..<keys.count)
            var acc = 0
            for _ in benchmark.scaledIterations {
                let k = keys[i & (keys.count - 1)]
                if t.intersects(first: k & ~host, last: k | host) { acc &+= 1 }
                i &+= 1
            }
            blackHole(acc)
        }
    }

    Benchmark("open + validate 10M-range store",
              configuration: .init(metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .peakMemoryResident],
                                   maxDuration: .seconds(10), maxIterations: 20,
                                   setup: {
                                       let image = try StoreBuilder.encode(benchZone(generate(.ipv6Mixed, count: 10_000_000), family: .ipv6))
                                       try StoreBuilder.write(image, to: storePath)
                                   },
                                   teardown: { unlink(storePath) })) { benchmark in
        for _ in benchmark.scaledIterations {
            let s = try! Store(path: storePath)
            blackHole(s.zones[0].datasets[0].table.value(at: 0x2001_0db8 << 96))
        }
    }

    Benchmark("encode 1M mixed IPv6 entries",
              configuration: .init(metrics: [.wallClock, .cpuTotal, .peakMemoryResident],
                                   maxDuration: .seconds(10), maxIterations: 10)) { benchmark in
        let input = generate(.ipv6Mixed, count: 1_000_000)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try! StoreBuilder.encode(benchZone(input, family: .ipv6)).bytes.count)
        }
    }
}
