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
// `dnssec-rate SECONDS`: timed runs. `dnssec-rate --count N 13|15`: exactly N signatures with
// one algorithm and no timing, for instruction counts under callgrind (run N = 0 and N = 1000
// and divide the difference).
let owner = CanonicalName.parse("*.8.b.d.0.1.0.0.2.bl.example.")!
let args = CommandLine.arguments
if args.count == 4, args[1] == "--count", let n = Int(args[2]), let alg = UInt8(args[3]) {
    for (pub, priv) in pairs {
        let key = try SigningKey(publicFile: "K.key", publicText: pub, privateFile: "K.private", privateText: priv)
        guard key.dnskey.algorithm.rawValue == alg else { continue }
        var rd: [UInt8] = [127, 0, 0, 2]
        var total = 0
        for i in 0..<n {
            rd[3] = UInt8(truncatingIfNeeded: i)
            total += try key.rrsig(owner: owner, type: 1, ttl: 2100, rdatas: [rd], inception: 1, expiration: 2).count
        }
        print("\(key.dnskey.algorithm.mnemonic): \(n) signatures, \(total) RRSIG RDATA bytes")
    }
    exit(0)
}
let seconds = args.count > 1 ? Double(args[1]) ?? 1 : 1
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
