// package-benchmark suite for the store: lookups at 1k…10M ranges (with an allocation gate),
// open + full validation of a 10M-range store, encode throughput.
//   cd tools/bench && swift package benchmark

import Benchmark
import PrefixStore
import StoreBenchSupport
#if canImport(Glibc)
import Glibc
#endif

/// Lookups per benchmark iteration (scaledIterations): one iteration = this many lookups.
let lookupsPerIteration = 1_000

nonisolated(unsafe) var tables: [Int: (RangeTable, [UInt128])] = [:]

func table(_ n: Int) -> (RangeTable, [UInt128]) {
    if let t = tables[n] { return t }
    let image = try! StoreBuilder.encode(benchZone(generate(.ipv6Mixed, count: n), family: .ipv6))
    let store = try! Store(bytes: image.bytes)
    let t = store.zones[0].datasets[0].table
    let r = (t, queryKeys(for: t, count: 1 << 20))
    tables[n] = r
    return r
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal, .peakMemoryResident],
        maxDuration: .seconds(3), maxIterations: 1_000_000)

    for n in [1_000, 100_000, 1_000_000, 10_000_000] {
        Benchmark("lookup value(at:) \(n) ranges (×\(lookupsPerIteration))",
                  configuration: .init(
                    metrics: [.wallClock, .throughput, .mallocCountTotal],
                    scalingFactor: .kilo,
                    thresholds: [.mallocCountTotal: .init(absolute: [.p100: 0])],
                    setup: { _ = table(n) })) { benchmark in
            let (t, keys) = table(n)
            var i = Int.random(in: 0..<(keys.count - lookupsPerIteration * benchmark.scaledIterations.count - 1))
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                var acc: Int32 = 0
                for _ in 0..<lookupsPerIteration {
                    acc &+= t.value(at: keys[i])
                    i &+= 1
                }
                blackHole(acc)
            }
        }
        Benchmark("lookup intersects(/48) \(n) ranges (×\(lookupsPerIteration))",
                  configuration: .init(
                    metrics: [.wallClock, .throughput, .mallocCountTotal],
                    scalingFactor: .kilo,
                    thresholds: [.mallocCountTotal: .init(absolute: [.p100: 0])],
                    setup: { _ = table(n) })) { benchmark in
            let (t, keys) = table(n)
            let host: UInt128 = (UInt128(1) << 80) - 1
            var i = Int.random(in: 0..<(keys.count - lookupsPerIteration * benchmark.scaledIterations.count - 1))
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                var acc = 0
                for _ in 0..<lookupsPerIteration {
                    if t.intersects(first: keys[i] & ~host, last: keys[i] | host) { acc &+= 1 }
                    i &+= 1
                }
                blackHole(acc)
            }
        }
    }

    Benchmark("open + validate 10M-range store",
              configuration: .init(metrics: [.wallClock, .mallocCountTotal, .peakMemoryResident],
                                   maxDuration: .seconds(10), maxIterations: 20,
                                   setup: {
                                       let image = try! StoreBuilder.encode(benchZone(generate(.ipv6Mixed, count: 10_000_000), family: .ipv6))
                                       try! StoreBuilder.write(image, to: "/tmp/prefixbl-bench-10M.pfxbl")
                                   },
                                   teardown: { unlink("/tmp/prefixbl-bench-10M.pfxbl") })) { benchmark in
        for _ in benchmark.scaledIterations {
            let s = try! Store(path: "/tmp/prefixbl-bench-10M.pfxbl")
            blackHole(s.zones[0].datasets[0].table.value(at: 0x2001_0db8 << 96))
        }
    }

    let encodeInput = generate(.ipv6Mixed, count: 1_000_000)
    Benchmark("encode 1M mixed IPv6 entries",
              configuration: .init(metrics: [.wallClock, .throughput, .peakMemoryResident],
                                   maxDuration: .seconds(10), maxIterations: 10)) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try! StoreBuilder.encode(benchZone(encodeInput, family: .ipv6)).bytes.count)
        }
    }
}
