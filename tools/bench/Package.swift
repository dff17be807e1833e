// swift-tools-version:6.1
// Store benchmarks and the figures table, kept out of the main package so its build stays light.
//   swift package --package-path tools/bench benchmark      (package-benchmark suite)
//   tools/store-figures.sh                                   (the figures table)
import PackageDescription

let package = Package(
    name: "prefixbl-bench",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "prefixbl", path: "../.."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.0", traits: ["MallocInterposer"]),
    ],
    targets: [
        .target(
            name: "StoreBenchSupport",
            dependencies: [.product(name: "PrefixStore", package: "prefixbl")]),
        .executableTarget(
            name: "store-figures",
            dependencies: ["StoreBenchSupport", .product(name: "PrefixStore", package: "prefixbl")]),
        .executableTarget(
            name: "StoreBenchmarks",
            dependencies: [
                "StoreBenchSupport",
                .product(name: "PrefixStore", package: "prefixbl"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/StoreBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]),
    ],
    swiftLanguageModes: [.v6]
)
