// swift-tools-version:6.1
// libFuzzer targets, kept out of the main package: they are built with
// `-sanitize=fuzzer,address`; each main.swift hands its test function to libFuzzer's driver.
//   tools/fuzz.sh wire 300        build and run one target for 300 s (see Robustness.md)
import PackageDescription

let package = Package(
    name: "prefixbl-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "prefixbl", path: "../.."),
    ],
    targets: [
        .target(name: "CFuzzDriver"),
        .target(
            name: "FuzzSupport",
            dependencies: [
                .product(name: "DNSWire", package: "prefixbl"),
                .product(name: "DNSBL", package: "prefixbl"),
                .product(name: "PrefixStore", package: "prefixbl"),
            ]),
        .executableTarget(
            name: "FuzzWire",
            dependencies: [
                "FuzzSupport", "CFuzzDriver",
                .product(name: "DNSWire", package: "prefixbl"),
                .product(name: "DNSBL", package: "prefixbl"),
                .product(name: "PrefixStore", package: "prefixbl"),
            ]),
        .executableTarget(
            name: "FuzzSource",
            dependencies: [
                "FuzzSupport", "CFuzzDriver",
                .product(name: "ZoneSource", package: "prefixbl"),
                .product(name: "PrefixStore", package: "prefixbl"),
            ]),
        .executableTarget(
            name: "FuzzStore",
            dependencies: [
                "FuzzSupport", "CFuzzDriver",
                .product(name: "DNSWire", package: "prefixbl"),
                .product(name: "DNSBL", package: "prefixbl"),
                .product(name: "PrefixStore", package: "prefixbl"),
            ]),
    ],
    swiftLanguageModes: [.v6]
)
