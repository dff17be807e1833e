// The background re-signing task's cost (DNSBL/ZoneSigner.resignDue): N cached RRsets, all
// served since signing, fall due; one round re-signs them. Prints RRsets per second and CPU
// microseconds per RRset (one thread), the per-round cost when nothing is due (what the
// once-a-second task costs between renewals), and how the jitter spreads N RRsets signed at
// once over the re-signing window. Built and run by tools/resign-bench.sh (release build).
import DNSBL
import DNSSEC
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

func cpu() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
func wall() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

// Test keys written by ldns-keygen (also in Tests/DNSSECTests/Support.swift); not secret.
let zsk = try SigningKey(publicFile: "K.key", publicText: "bl.example. IN DNSKEY 256 3 13 VNiqGBRJca9uaWGDuBGo5Y6mwagzSPbJGqxor4yPbMGxUtsMJ4gSxoV+k6jIMAf6LOLkImOEq9K9k6lERklVrg==",
                         privateFile: "K.private", privateText: "Private-key-format: v1.2\nAlgorithm: 13 (ECDSAP256SHA256)\nPrivateKey: DwUGyXdQ0VxmF9RPyAydB8xQMIvxWVuONxMWCTwETFg=\n")
let n = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1])! : 10_000
let start: UInt32 = 1_800_000_000
let clock = Mutex<UInt32>(start)
let validity = SignatureValidity()  // 14 days, margin 7 days
let signer = ZoneSigner(keys: [zsk], validity: validity, cacheCapacity: max(n, 1), clock: { clock.withLock { $0 } })
// N distinct A RRsets at nibble wildcards, each served twice (signed, then a cache hit).
func owner(_ i: Int) -> [UInt8] {
    var o: [UInt8] = [1, 42]
    for k in 0..<8 { let v = (i >> (4 * k)) & 0xF; o += [1, UInt8(v < 10 ? 48 + v : 87 + v)] }
    return o + [2, 98, 108, 7] + Array("example".utf8) + [0]
}
let owners = (0..<n).map(owner)
for o in owners { _ = signer.signatures(owner: o, type: 1, ttl: 2100, rdatas: [[127, 0, 0, 2]]) }
for o in owners { _ = signer.signatures(owner: o, type: 1, ttl: 2100, rdatas: [[127, 0, 0, 2]]) }

// Nothing due: the cost of the once-a-second round.
var t0 = cpu()
let idleRounds = 1000
for _ in 0..<idleRounds { _ = signer.resignDue() }
print("idle round, \(n) RRsets cached: \(String(format: "%.2f", (cpu() - t0) / Double(idleRounds) * 1e6)) µs CPU")

// The jitter: rounds of one hour across the window in which they fall due.
let bound = (validity.lifetime - validity.refreshMargin) / 4
let windowStart = start + validity.lifetime - validity.refreshMargin - bound
var perHour: [Int] = []
var totalCPU = 0.0, totalWall = 0.0
var hour: UInt32 = 0
while windowStart + hour * 3600 <= start + validity.lifetime - validity.refreshMargin + 3600 {
    clock.withLock { $0 = windowStart + hour * 3600 }
    let c = cpu(), w = wall()
    let r = signer.resignDue()
    totalCPU += cpu() - c; totalWall += wall() - w
    perHour.append(r.resigned)
    hour += 1
}
let resigned = perHour.reduce(0, +)
print("re-signed \(resigned) of \(n) RRsets over \(perHour.count) hourly rounds: most in one round \(perHour.max()!), fewest \(perHour.dropFirst().dropLast().min() ?? 0)")
print("re-signing: \(String(format: "%.0f", Double(resigned) / totalWall)) RRsets/s, \(String(format: "%.1f", totalCPU / Double(resigned) * 1e6)) µs CPU per RRset (one ECDSA P-256 signature each)")
