import Foundation

/// SplitMix64 (Steele, Lea and Flood, 2014): a small seeded generator, so a failing random test
/// reproduces from the seed it names. Every test target uses this one; a given seed gives the
/// same sequence as the per-target copies it replaced.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// 128 random bits: the first draw is the high half, the second the low half.
    public mutating func next128() -> UInt128 { UInt128(next()) << 64 | UInt128(next()) }
}

/// The run's seed: `PREFIXBL_SEED` when set (to replay a failure), else the clock in
/// microseconds. Tests that use it name it in every failing expectation.
public func testSeed() -> UInt64 {
    if let s = ProcessInfo.processInfo.environment["PREFIXBL_SEED"], let v = UInt64(s) { return v }
    return UInt64(Date().timeIntervalSince1970 * 1_000_000)
}
