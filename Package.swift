// swift-tools-version:6.1
import PackageDescription

// Layers (dependencies point down only; each line uses the ones below it):
//   prefixbl       CLI: ArgumentParser commands only (flags → DaemonConfiguration → Daemon.run)
//   DNSBLDaemon    the daemon: validated configuration, jail and privileges, systemd notify,
//                  stats file, the reload loader, the service group, rbldnsd argv translation
//   ZoneTransfer   AXFR, IXFR history, NOTIFY, TSIG key files and signed transfers
//   DNSBLServer    transport (UDP, TCP), snapshots and reload, query guard, metrics, TSIG messages
//   DNSBL          answer rules (the Responder)
//   PrefixStore    the store file
//   DNSSEC         zone keys, DS, RRSIG and NSEC RDATA, canonical order (reads key files only)
//   DNSWire        wire format, no I/O
// Beside them: ZoneSource (source parsing, the one build path from specs to a store image),
// ZoneExport (a zone's records), Aggregation, and LDNSKit → CLDNS (libldns). The transport and
// everything under it import none of these: libldns belongs to the compiler, the exporter,
// the `query` client and the tests. DNSWire, PrefixStore and DNSBL do no I/O besides mapping
// the store file and never log.
// Tests/RepositoryTests/LayeringTests.swift checks this: its layer table, one row per module.
let package = Package(
    name: "prefixbl",
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
        // `swift package generate-documentation` for tools/docs.sh (DocC, warnings as errors).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
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
        // DNSSEC keys, DS, RRSIG and NSEC RDATA, canonical order: no I/O besides reading a key
        // pair (KeyFiles.swift), no logging.
        .target(name: "DNSSEC", dependencies: ["DNSWire", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "PrefixStore", dependencies: ["CZlib"]),
        .target(name: "ZoneSource", dependencies: ["PrefixStore", "LDNSKit", "CZlib"]),
        .target(name: "DNSBL", dependencies: ["PrefixStore", "DNSWire", "DNSSEC"]),
        .target(name: "ZoneExport", dependencies: ["PrefixStore", "ZoneSource", "LDNSKit"]),
        .target(name: "Aggregation", dependencies: ["ZoneSource", "PrefixStore"]),
        .target(
            name: "DNSBLServer",
            dependencies: [
                "DNSBL", "DNSWire", "PrefixStore", "CSystemShims",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        .target(
            name: "ZoneTransfer",
            dependencies: [
                "DNSBLServer", "DNSBL", "PrefixStore", "ZoneSource", "ZoneExport", "DNSSEC",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        .target(
            name: "DNSBLDaemon",
            dependencies: [
                "DNSBLServer", "ZoneTransfer", "DNSBL", "PrefixStore", "ZoneSource", "ZoneExport", "CJail", "DNSSEC",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]),
        .executableTarget(
            name: "prefixbl",
            dependencies: [
                "DNSBLDaemon", "DNSBL", "ZoneSource", "PrefixStore", "LDNSKit", "Aggregation", "ZoneExport", "DNSSEC", "ZoneTransfer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            plugins: ["VersionStamp"]),
        // `prefixbl --version` from git describe (tools/version.sh), regenerated before each build.
        .plugin(name: "VersionStamp", capability: .buildTool(), path: "tools/version-stamp"),
        // Helpers every test target shares (seeded generator, real-data and binary locators,
        // temporary directories); only test targets depend on it.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        // Loopback clients, server processes and TSIG fixtures for the transport, transfer and
        // daemon test targets.
        .target(
            name: "ServerTestSupport",
            dependencies: ["TestSupport", "DNSBLServer", "DNSBL", "PrefixStore", "ZoneSource",
                           .product(name: "Logging", package: "swift-log")],
            path: "Tests/ServerTestSupport"),
        .testTarget(name: "DNSWireTests", dependencies: ["TestSupport", "DNSWire"]),
        .testTarget(name: "LDNSKitTests", dependencies: ["TestSupport", "LDNSKit"]),
        // The repository itself: module layering against this file, the CI skip check.
        .testTarget(name: "RepositoryTests", dependencies: ["TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "ZoneExportTests", dependencies: ["TestSupport", "ZoneExport", "ZoneSource", "PrefixStore", "LDNSKit", "DNSBL"]),
        .testTarget(name: "PrefixStoreTests", dependencies: ["TestSupport", "PrefixStore"]),
        .testTarget(name: "ZoneSourceTests", dependencies: ["TestSupport", "ZoneSource", "PrefixStore"], exclude: ["Fixtures"]),
        .testTarget(name: "DNSBLTests", dependencies: ["TestSupport", "DNSBL", "DNSWire", "PrefixStore", "ZoneSource", "ZoneExport", "LDNSKit"]),
        .testTarget(name: "AggregationTests", dependencies: ["TestSupport", "Aggregation", "ZoneSource", "PrefixStore"]),
        .testTarget(name: "ZoneTransferTests", dependencies: ["TestSupport", "ServerTestSupport", "ZoneTransfer", "DNSBLServer", "DNSBL", "PrefixStore", "ZoneSource", "ZoneExport", "LDNSKit", "DNSSEC"]),
        .testTarget(name: "DNSBLDaemonTests", dependencies: ["TestSupport", "DNSBLDaemon", "DNSBLServer", "DNSBL", "ZoneSource", "PrefixStore",
                                                         "DNSSEC", "DNSWire", "LDNSKit", "ZoneExport"]),
        .testTarget(name: "DNSSECTests", dependencies: ["TestSupport", "DNSSEC", "DNSWire", "LDNSKit",
                                                      .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "ServerTests", dependencies: ["TestSupport", "ServerTestSupport", "DNSBLServer", "DNSBLDaemon", "DNSBL", "DNSWire", "PrefixStore", "ZoneSource", "LDNSKit"]),
    ],
    swiftLanguageModes: [.v6]
)
