// aclkey: keys in the query name (the rspamd fork of rbldnsd's `aclkey` dataset).
//
// An `aclkey` dataset is stored as an ordinary IPv6 range-table dataset of type "aclkey", so the
// store format does not change: each key is hashed to a 128-bit value (`AclKey.hash(_:)`) and
// listed as that /128; its value says what queries carrying the key get. Value 0 of the dataset
// is the default (unknown keys); every key has a value of its own (index ≥ 1, in file order), so
// the value index a lookup returns identifies the key for per-key counters.

/// The key hash and the value rules of `aclkey` datasets (<doc:StoreFormat>).
///
/// Its datasets are answered by ``DatasetRule/keyInQName`` (the store names it by the type
/// name `aclkey`, ``DatasetRule/init(storedType:family:)``).
public enum AclKey {
    /// Longest key in bytes: a key is one DNS label (RFC 1035 §2.3.4).
    public static let maxLength = 63

    /// Whether `a` is a valid aclkey value code: an ``ACLAction`` (0–3) or a forced answer's A
    /// record in 127.0.0.0/8 (a listing value or a policy answer in 127.255.255.0/24).
    public static func isValid(_ a: UInt32) -> Bool { a <= 3 || a >> 24 == 127 }

    /// The 128-bit key of `label` (the key's bytes, without a length byte) in the dataset's
    /// table: SipHash-2-4 with 128-bit output (the reference implementation's `siphash128`
    /// variant) under a fixed all-zero key, over the label's bytes lower-cased (ASCII), so keys
    /// match case-insensitively. The store holds only these hashes, never the keys themselves.
    /// Allocates nothing.
    @inline(__always)
    public static func hash(_ label: UnsafeRawBufferPointer) -> UInt128 { hash(label, k0: 0, k1: 0) }

    /// `hash(_:)` under the SipHash key (`k0`, `k1`) (the key's bytes 0…7 and 8…15 read
    /// little-endian), its first 8 output bytes (little-endian) in the high half: the
    /// reference implementation's test vectors hold for it on lower-case input.
    @inline(__always)
    public static func hash(_ label: UnsafeRawBufferPointer, k0: UInt64, k1: UInt64) -> UInt128 {
        // A struct, not nested functions over local variables: captured variables would be
        // boxed on the heap in unoptimised builds (the allocation gates run those).
        var s = SipState(k0: k0, k1: k1)
        let n = label.count
        var i = 0
        if let base = label.baseAddress {
            while i + 8 <= n {
                s.compress(lower8(UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt64.self))))
                i += 8
            }
        }
        var last = UInt64(truncatingIfNeeded: n) << 56
        var k = 0
        while i + k < n { last |= UInt64(lower(label[i + k])) << UInt64(8 * k); k += 1 }
        s.compress(last)
        s.v2 ^= 0xee
        s.round(); s.round(); s.round(); s.round()
        let h0 = s.v0 ^ s.v1 ^ s.v2 ^ s.v3
        s.v1 ^= 0xdd
        s.round(); s.round(); s.round(); s.round()
        let h1 = s.v0 ^ s.v1 ^ s.v2 ^ s.v3
        return UInt128(h0) << 64 | UInt128(h1)
    }

    /// `hash(_:)` of a key given as text.
    public static func hash(_ key: String) -> UInt128 {
        var k = key
        return k.withUTF8 { hash(UnsafeRawBufferPointer($0)) }
    }

    @inline(__always)
    static func lower(_ b: UInt8) -> UInt8 { (b &- 0x41) < 26 ? b | 0x20 : b }

    /// ``lower(_:)`` on the 8 bytes of `w` at once: per byte, bit 7 of (b & 0x7F) + 0x3F is set
    /// iff b & 0x7F ≥ 0x41, of (b & 0x7F) + 0x25 iff b & 0x7F ≥ 0x5B; a byte with bit 7 set
    /// is never an ASCII capital. No carry crosses a byte (each sum is below 0x100).
    @inline(__always)
    static func lower8(_ w: UInt64) -> UInt64 {
        let lanes: UInt64 = 0x0101_0101_0101_0101
        let low7 = w & (lanes &* 0x7F)
        let atLeastA = low7 &+ lanes &* 0x3F
        let pastZ = low7 &+ lanes &* 0x25
        let upper = atLeastA & ~pastZ & ~w & (lanes &* 0x80)
        return w | (upper >> 2)
    }

    /// SipHash's four state words, 128-bit output variant (v1 starts xored with 0xee).
    struct SipState {
        var v0: UInt64, v1: UInt64, v2: UInt64, v3: UInt64

        @inline(__always)
        init(k0: UInt64, k1: UInt64) {
            v0 = 0x736f6d6570736575 ^ k0
            v1 = 0x646f72616e646f6d ^ k1 ^ 0xee
            v2 = 0x6c7967656e657261 ^ k0
            v3 = 0x7465646279746573 ^ k1
        }

        @inline(__always)
        static func rotl(_ x: UInt64, _ b: UInt64) -> UInt64 { (x << b) | (x >> (64 - b)) }

        @inline(__always)
        mutating func round() {
            v0 &+= v1; v1 = Self.rotl(v1, 13); v1 ^= v0; v0 = Self.rotl(v0, 32)
            v2 &+= v3; v3 = Self.rotl(v3, 16); v3 ^= v2
            v0 &+= v3; v3 = Self.rotl(v3, 21); v3 ^= v0
            v2 &+= v1; v1 = Self.rotl(v1, 17); v1 ^= v2; v2 = Self.rotl(v2, 32)
        }

        @inline(__always)
        mutating func compress(_ m: UInt64) {
            v3 ^= m; round(); round(); v0 ^= m
        }
    }
}
