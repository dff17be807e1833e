import DNSSEC
import Foundation
import TestSupport

/// Key pairs written by ldns-keygen 1.8.3 (kept as text so the error tests need no tool).
enum Fixture {
    static let ecdsaKey = "bl.example.\tIN\tDNSKEY\t256 3 13 VNiqGBRJca9uaWGDuBGo5Y6mwagzSPbJGqxor4yPbMGxUtsMJ4gSxoV+k6jIMAf6LOLkImOEq9K9k6lERklVrg== ;{id = 33812 (zsk), size = 256b}\n"
    static let ecdsaSecret = "DwUGyXdQ0VxmF9RPyAydB8xQMIvxWVuONxMWCTwETFg="
    static let ecdsaPrivate = "Private-key-format: v1.2\nAlgorithm: 13 (ECDSAP256SHA256)\nPrivateKey: \(ecdsaSecret)\n"
    static let ecdsaTag: UInt16 = 33812

    static let edKey = "bl.example.\tIN\tDNSKEY\t257 3 15 LIK4G2huMM5gJI4rn8dMo58jwV4Mo9Hmg1b8MdjLOdE= ;{id = 11735 (ksk), size = 256b}\n"
    static let edSecret = "MutEC3rpllWCc8+99fwPeSmfc2nWcC1SNtRgZNqhpsI="
    // ldns-keygen writes no final newline here.
    static let edPrivate = "Private-key-format: v1.2\nAlgorithm: 15 (ED25519)\nPrivateKey: \(edSecret)"
    static let edTag: UInt16 = 11735
    /// The .ds file ldns-keygen wrote beside it.
    static let edDS = "bl.example.\tIN\tDS\t11735 15 2 b63566db8e081181f0a5d36598e773972dcd0dbe58de00c7358824604d9d5460"

    /// A second ECDSA private key (dnssec-keygen 9.18), not the pair of ``ecdsaKey``.
    static let otherEcdsaPrivate = "Private-key-format: v1.3\nAlgorithm: 13 (ECDSAP256SHA256)\nPrivateKey: 8i2HX3zZS3rttlPylLuEanM8fAFBmGGrHvxu1eUdHzM=\nCreated: 20261207093517\n"

    /// Writes a pair as `K<zone>+<alg>+<tag>.key/.private` into `dir`; returns the base path.
    @discardableResult
    static func write(_ dir: TempDir, base: String, key: String?, priv: String?) -> String {
        if let key { dir.write(base + ".key", key) }
        if let priv { dir.write(base + ".private", priv) }
        return dir.path + "/" + base
    }

    static func ecdsa() throws -> SigningKey {
        try SigningKey(publicFile: "K.key", publicText: ecdsaKey, privateFile: "K.private", privateText: ecdsaPrivate)
    }
    static func ed25519() throws -> SigningKey {
        try SigningKey(publicFile: "K.key", publicText: edKey, privateFile: "K.private", privateText: edPrivate)
    }
}

struct ToolRun { var status: Int32; var stdout: String; var stderr: String }

/// Runs `tool` (a full path) with `args` in `directory`; waits for it.
func runTool(_ tool: String, _ args: [String], in directory: String? = nil) throws -> ToolRun {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: tool)
    p.arguments = args
    if let directory { p.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out; p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return ToolRun(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                   stderr: String(decoding: e, as: UTF8.self))
}

/// Every 8-character window of `secret` (a base64 private key): none may appear in text we
/// print, log or throw.
func leaks(_ text: String, secret: String) -> Bool {
    let s = Array(secret)
    for i in 0...(s.count - 8) where text.contains(String(s[i..<(i + 8)])) { return true }
    return false
}
