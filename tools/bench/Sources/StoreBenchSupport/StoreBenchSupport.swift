// Data generators and timing helpers shared by the benchmark suite and the figures tool.

import PrefixStore
#if canImport(Glibc)
import Glibc
#endif

/// SplitMix64: reproducible data sets.
public struct BenchRNG: RandomNumberGenerator {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Kinds of generated prefix sets.
public enum Mix: String, CaseIterable, Sendable {
    /// Random IPv6 prefixes in 2000::/3: 35% /64, 15% /48, 10% /56, 10% /128, 10% /32–/47,
    /// 10% /65–/127, 10% /49–/63 (most not on a nibble boundary).
    case ipv6Mixed = "IPv6 mixed"
    /// Random IPv6 /64s in 2000::/3 (ip6tset style).
    case ipv6Slash64 = "IPv6 /64-only"
    /// Random IPv4 /32s.
    case ipv4Slash32 = "IPv4 /32s"

    public var family: AddressFamily { self == .ipv4Slash32 ? .ipv4 : .ipv6 }
}

/// `count` entries of `mix` over 4 values, in random (unsorted) order.
public func generate(_ mix: Mix, count: Int, seed: UInt64 = 42) -> [PrefixEntry] {
    var rng = BenchRNG(seed: seed)
    var out = [PrefixEntry]()
    out.reserveCapacity(count)
    for i in 0..<count {
        let value = Int32(rng.next() & 3)
        switch mix {
        case .ipv4Slash32:
            out.append(PrefixEntry(address: UInt128(UInt32(truncatingIfNeeded: rng.next())), prefixLength: 32,
                                   value: value, origin: UInt32(truncatingIfNeeded: i)))
        case .ipv6Slash64, .ipv6Mixed:
            let len: Int
            if mix == .ipv6Slash64 {
                len = 64
            } else {
                let r = rng.next() % 100
                let x = Int(rng.next() >> 1)
                switch r {
                case ..<35: len = 64
                case ..<50: len = 48
                case ..<60: len = 56
                case ..<70: len = 128
                case ..<80: len = 32 + x % 16
                case ..<90: len = 65 + x % 63
                default: len = 49 + x % 15
                }
            }
            let a = (UInt128(rng.next() >> 3 | (1 << 61)) << 64) | UInt128(rng.next())
            let mask = UInt128.max << UInt128(128 - len)
            out.append(PrefixEntry(address: a & mask, prefixLength: UInt8(len), value: value,
                                   origin: UInt32(truncatingIfNeeded: i)))
        }
    }
    return out
}

public let benchValues: [ListingValue] = (0..<4).map {
    ListingValue(a: 0x7F00_0002 + UInt32($0), txt: Array("Listed, see https://bl.example/q?$ (\($0))".utf8))
}

public func wireName(_ name: String) -> [UInt8] {
    var out: [UInt8] = []
    for label in name.split(separator: ".") { out.append(UInt8(label.utf8.count)); out += Array(label.utf8) }
    return out + [0]
}

/// One zone `bl.example` holding one dataset of `entries`.
public func benchZone(_ entries: [PrefixEntry], family: AddressFamily, values: [ListingValue] = benchValues,
                      name: String = "generated") -> [ZoneInput] {
    let ds = DatasetInput(name: name, type: family == .ipv4 ? "ip4trie" : "ip6trie", family: family, ttl: 2100,
                          values: values, entries: entries)
    return [ZoneInput(name: wireName("bl.example"),
                      soa: SOAData(ttl: 3600, mname: wireName("ns1.example.net"), rname: wireName("hostmaster.example.org"),
                                   serial: 1, refresh: 7200, retry: 900, expire: 604800, minimum: 300),
                      nsTTL: 86400, ns: [wireName("ns1.example.net")], datasets: [ds])]
}

/// Query keys: half inside listed ranges (uniform within the range), half uniform over the
/// data's space (2000::/3 for IPv6, all of IPv4).
public func queryKeys(for table: RangeTable, count: Int, seed: UInt64 = 7) -> [UInt128] {
    var rng = BenchRNG(seed: seed)
    let ranges = table.ranges()
    var keys = [UInt128]()
    keys.reserveCapacity(count)
    for i in 0..<count {
        if i & 1 == 0 && !ranges.isEmpty {
            let r = ranges[Int(rng.next() % UInt64(ranges.count))]
            let span = r.last - r.first
            let off = span == .max ? (UInt128(rng.next()) << 64 | UInt128(rng.next())) : (UInt128(rng.next()) << 64 | UInt128(rng.next())) % (span + 1)
            keys.append(r.first + off)
        } else if table.family == .ipv4 {
            keys.append(UInt128(UInt32(truncatingIfNeeded: rng.next())))
        } else {
            keys.append((UInt128(rng.next() >> 3 | (1 << 61)) << 64) | UInt128(rng.next()))
        }
    }
    return keys
}

/// Sums `value(at:)` over `keys` (the sum keeps the loop from being optimised away).
@inline(never)
public func lookupAll(_ table: RangeTable, _ keys: UnsafeBufferPointer<UInt128>) -> Int {
    var acc = 0
    for k in keys { acc &+= Int(table.value(at: k)) }
    return acc
}

/// Counts `intersects` hits of the /48 around each key.
@inline(never)
public func intersectAll(_ table: RangeTable, _ keys: UnsafeBufferPointer<UInt128>) -> Int {
    var acc = 0
    let host: UInt128 = table.family == .ipv4 ? 0xFF : (UInt128(1) << 80) - 1
    for k in keys where table.intersects(first: k & ~host, last: k | host) { acc &+= 1 }
    return acc
}

/// Monotonic clock, seconds.
public func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// CPU time of the calling thread, seconds: with other processes sharing the cores, rates are
/// computed from this rather than from wall time.
public func cpuNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

public func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.isEmpty ? .nan : s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// Parses a list of IPv6 CIDR prefixes (`addr/len` per line, `#` comments), as in fullbogons.
public func readIPv6Prefixes(_ path: String) -> [PrefixEntry]? {
    guard let f = fopen(path, "r") else { return nil }
    defer { fclose(f) }
    var out: [PrefixEntry] = []
    var line: UnsafeMutablePointer<CChar>? = nil
    var cap = 0
    while getline(&line, &cap, f) > 0 {
        let s = String(cString: line!).split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }).first.map(String.init) ?? ""
        if s.isEmpty || s.hasPrefix("#") { continue }
        let parts = s.split(separator: "/")
        var a = in6_addr()
        guard parts.count == 2, let len = UInt8(parts[1]), len <= 128, inet_pton(AF_INET6, String(parts[0]), &a) == 1 else { continue }
        var v: UInt128 = 0
        withUnsafeBytes(of: &a) { for b in $0 { v = v << 8 | UInt128(b) } }
        let mask: UInt128 = len == 0 ? 0 : UInt128.max << UInt128(128 - Int(len))
        if v & ~mask != 0 { continue }
        out.append(PrefixEntry(address: v, prefixLength: len, value: 0, origin: UInt32(out.count)))
    }
    free(line)
    return out
}
