// Signatures per second on one core and the latency of the first signature, for both
// algorithms, through the DNSSEC module's signer (RRSIG over a one-RR A RRset at a nibble
// wildcard owner, the commonest RRset of a signed IPv6 DNSBL zone).
// Built and run by tools/dnssec-rate.sh against a release build of the module.
import DNSSEC
#if canImport(Glibc)
import Glibc
#endif

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

// Test keys written by ldns-keygen (also in Tests/DNSSECTests/Support.swift); not secret.
let pairs: [(String, String)] = [
    ("bl.example. IN DNSKEY 256 3 13 VNiqGBRJca9uaWGDuBGo5Y6mwagzSPbJGqxor4yPbMGxUtsMJ4gSxoV+k6jIMAf6LOLkImOEq9K9k6lERklVrg==",
     "Private-key-format: v1.2\nAlgorithm: 13 (ECDSAP256SHA256)\nPrivateKey: DwUGyXdQ0VxmF9RPyAydB8xQMIvxWVuONxMWCTwETFg=\n"),
    ("bl.example. IN DNSKEY 257 3 15 LIK4G2huMM5gJI4rn8dMo58jwV4Mo9Hmg1b8MdjLOdE=",
     "Private-key-format: v1.2\nAlgorithm: 15 (ED25519)\nPrivateKey: MutEC3rpllWCc8+99fwPeSmfc2nWcC1SNtRgZNqhpsI=\n"),
]
let seconds = CommandLine.arguments.count > 1 ? Double(CommandLine.arguments[1]) ?? 1 : 1
let owner = CanonicalName.parse("*.8.b.d.0.1.0.0.2.bl.example.")!
for (pub, priv) in pairs {
    let key = try SigningKey(publicFile: "K.key", publicText: pub, privateFile: "K.private", privateText: priv)
    let t0 = now()
    _ = try key.rrsig(owner: owner, type: 1, ttl: 2100, rdatas: [[127, 0, 0, 2]], inception: 1, expiration: 2)
    let first = now() - t0
    var rates: [Double] = []
    for _ in 0..<5 {
        var n = 0
        let start = now()
        var rd: [UInt8] = [127, 0, 0, 2]
        while now() - start < seconds / 5 {
            for _ in 0..<100 {
                rd[3] = UInt8(truncatingIfNeeded: n)
                _ = try key.rrsig(owner: owner, type: 1, ttl: 2100, rdatas: [rd], inception: 1, expiration: 2)
                n += 1
            }
        }
        rates.append(Double(n) / (now() - start))
    }
    rates.sort()
    print("\(key.dnskey.algorithm.mnemonic): median \(Int(rates[2])) signatures/s on one core (runs \(rates.map { Int($0) })), first signature \(Int(first * 1e6)) µs")
}
