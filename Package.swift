// swift-tools-version:6.1
import PackageDescription

// Layers (dependencies point down only):
//   prefixbl (CLI) → DNSBLServer → DNSBL → DNSWire, PrefixStore
//   prefixbl → ZoneSource → PrefixStore, LDNSKit → CLDNS
// DNSWire, PrefixStore and DNSBL do no I/O besides mapping the store file, never log and never
// touch libldns: libldns belongs to the compiler, the `query` client and the tests.
let package = Package(
    name: "prefixbl",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "prefixbl", targets: ["prefixbl"]),
        // For tools/bench (a separate package that depends on this one by path).
        .library(name: "PrefixStore", targets: ["PrefixStore"]),
        // For tools/fuzz (libFuzzer targets built with sanitizers, a separate package).
        .library(name: "DNSWire", targets: ["DNSWire"]),
        .library(name: "DNSBL", targets: ["DNSBL"]),
        .library(name: "ZoneSource", targets: ["ZoneSource"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.4.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        // HMAC for TSIG (RFC 8945) on the serving side, where libldns does not go.
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
    ],
    targets: [
        .systemLibrary(
            name: "CLDNS", pkgConfig: "ldns",
            providers: [.apt(["libldns-dev"])]),
        .systemLibrary(
            name: "CZlib", pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]),
        .target(name: "CSystemShims"),
        // Only the executable links it: it replaces open(2) for every library in the process
        // (libdispatch's /proc reads inside a chroot; see Sources/CJail/jail.c).
        .target(name: "CJail", linkerSettings: [.linkedLibrary("dl", .when(platforms: [.linux]))]),
        .target(name: "LDNSKit", dependencies: ["CLDNS"]),
        .target(name: "DNSWire"),
        .target(name: "PrefixStore", dependencies: ["CZlib"]),
        .target(name: "ZoneSource", dependencies: ["PrefixStore", "LDNSKit", "CZlib"]),
        .target(name: "DNSBL", dependencies: ["PrefixStore", "DNSWire"]),
        .target(name: "ZoneExport", dependencies: ["PrefixStore", "ZoneSource", "LDNSKit"]),
        .target(name: "Aggregation", dependencies: ["ZoneSource", "PrefixStore"]),
        .target(
            name: "DNSBLServer",
            dependencies: [
                "DNSBL", "DNSWire", "ZoneSource", "ZoneExport", "CSystemShims",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        .executableTarget(
            name: "prefixbl",
            dependencies: [
                "DNSBLServer", "ZoneSource", "PrefixStore", "LDNSKit", "Aggregation", "ZoneExport", "CJail",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            plugins: ["VersionStamp"]),
        // `prefixbl --version` from git describe (tools/version.sh), regenerated before each build.
        .plugin(name: "VersionStamp", capability: .buildTool(), path: "tools/version-stamp"),
        // Helpers every test target shares (seeded generator, real-data and binary locators,
        // temporary directories); only test targets depend on it.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "ZoneExportTests", dependencies: ["TestSupport", "ZoneExport", "ZoneSource", "PrefixStore", "LDNSKit", "DNSBL"]),
        .testTarget(name: "PrefixStoreTests", dependencies: ["TestSupport", "PrefixStore"]),
        .testTarget(name: "ZoneSourceTests", dependencies: ["TestSupport", "ZoneSource", "PrefixStore"], exclude: ["Fixtures"]),
        .testTarget(name: "DNSBLTests", dependencies: ["TestSupport", "DNSBL", "DNSWire", "PrefixStore", "ZoneSource", "LDNSKit"]),
        .testTarget(name: "AggregationTests", dependencies: ["TestSupport", "Aggregation", "ZoneSource", "PrefixStore"]),
        .testTarget(name: "ServerTests", dependencies: ["TestSupport", "DNSBLServer", "DNSBL", "DNSWire", "PrefixStore", "ZoneSource", "LDNSKit", "ZoneExport"]),
    ],
    swiftLanguageModes: [.v6]
)
