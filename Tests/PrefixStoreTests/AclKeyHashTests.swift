import Testing
import PrefixStore

/// The aclkey hash is SipHash-2-4 with 128-bit output: the reference implementation's
/// `vectors_sip128` (key 00 01 … 0f, message 00 01 … of length 0, 1, 2, 8, 15).
@Suite struct AclKeyHashTests {
    static func expected(_ bytes: [UInt8]) -> UInt128 {
        var h0: UInt64 = 0, h1: UInt64 = 0
        for i in 0..<8 { h0 |= UInt64(bytes[i]) << UInt64(8 * i); h1 |= UInt64(bytes[8 + i]) << UInt64(8 * i) }
        return UInt128(h0) << 64 | UInt128(h1)
    }

    @Test func referenceVectors() {
        let k0: UInt64 = 0x0706_0504_0302_0100, k1: UInt64 = 0x0f0e_0d0c_0b0a_0908
        let vectors: [[UInt8]] = [
            [0xa3, 0x81, 0x7f, 0x04, 0xba, 0x25, 0xa8, 0xe6, 0x6d, 0xf6, 0x72, 0x14, 0xc7, 0x55, 0x02, 0x93],
            [0xda, 0x87, 0xc1, 0xd8, 0x6b, 0x99, 0xaf, 0x44, 0x34, 0x76, 0x59, 0x11, 0x9b, 0x22, 0xfc, 0x45],
            [0x81, 0x77, 0x22, 0x8d, 0xa4, 0xa4, 0x5d, 0xc7, 0xfc, 0xa3, 0x8b, 0xde, 0xf6, 0x0a, 0xff, 0xe4],
        ]
        for (n, v) in vectors.enumerated() {
            let message = (0..<n).map { UInt8($0) }
            let h = message.withUnsafeBytes { AclKey.hash($0, k0: k0, k1: k1) }
            #expect(h == Self.expected(v), "length \(n)")
        }
    }

    @Test func lowerCasedBeforeHashing() {
        #expect(AclKey.hash("DQS-Key_01") == AclKey.hash("dqs-key_01"))
        #expect(AclKey.hash("abc") != AclKey.hash("abd"))
        #expect(AclKey.isValid(3) && AclKey.isValid(0x7F00_0002) && AclKey.isValid(0x7FFF_FFFE))
        #expect(!AclKey.isValid(4) && !AclKey.isValid(0x0A00_0001))
    }
}

extension AclKeyHashTests {
    /// The 8-bytes-at-a-time lower-casing against a byte-by-byte reference, over random
    /// labels rich in the bytes around `A`–`Z` (and bytes with bit 7 set).
    @Test func wordLowerCasingMatchesBytewise() {
        var rng = SystemRandomNumberGenerator()
        let pool: [UInt8] = [0x00, 0x3F, 0x40, 0x41, 0x4D, 0x5A, 0x5B, 0x60, 0x61, 0x7A, 0x7B, 0x7F, 0x80, 0xC1, 0xDA, 0xFF, 0x2D, 0x5F, 0x30]
        for _ in 0..<2000 {
            let n = Int.random(in: 0...63, using: &rng)
            let label = (0..<n).map { _ in pool.randomElement(using: &rng)! }
            let lowered = label.map { ($0 &- 0x41) < 26 ? $0 | 0x20 : $0 }
            let h1 = label.withUnsafeBytes { AclKey.hash($0) }
            let h2 = lowered.withUnsafeBytes { AclKey.hash($0) }
            #expect(h1 == h2, "\(label)")
        }
        let k0: UInt64 = 0x0706_0504_0302_0100, k1: UInt64 = 0x0f0e_0d0c_0b0a_0908
        // Capitals in a full 8-byte block hash as their lower case; `@ [ ` {` (next to the
        // capitals) are not capitals.
        #expect(Array("ABCDEFGHij".utf8).withUnsafeBytes { AclKey.hash($0, k0: k0, k1: k1) }
                == Array("abcdefghij".utf8).withUnsafeBytes { AclKey.hash($0, k0: k0, k1: k1) })
        #expect(Array("@[`{abcde".utf8).withUnsafeBytes { AclKey.hash($0) }
                != Array("`{`{abcde".utf8).withUnsafeBytes { AclKey.hash($0) })
    }
}
