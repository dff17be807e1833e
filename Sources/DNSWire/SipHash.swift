/// SipHash-2-4 (Aumasson & Bernstein, 2012): a keyed 64-bit PRF, used for DNS server cookies
/// (RFC 9018 §4.4) and to key the response-rate-limiting table. Allocates nothing.
public struct SipHash24: Sendable {
    @usableFromInline var v0: UInt64, v1: UInt64, v2: UInt64, v3: UInt64
    /// Pending bytes (little-endian) not yet forming a full 8-byte word.
    @usableFromInline var tail: UInt64 = 0
    /// Total bytes absorbed.
    @usableFromInline var length: Int = 0

    /// The 128-bit key as its 16 bytes split into two little-endian words, as the reference
    /// implementation reads them.
    /// - Parameters:
    ///   - k0: key bytes 0…7, little-endian.
    ///   - k1: key bytes 8…15, little-endian.
    @inlinable
    public init(k0: UInt64, k1: UInt64) {
        v0 = 0x736f6d6570736575 ^ k0
        v1 = 0x646f72616e646f6d ^ k1
        v2 = 0x6c7967656e657261 ^ k0
        v3 = 0x7465646279746573 ^ k1
    }

    /// Key from 16 bytes (`key.count` must be 16).
    @inlinable
    public init(key: UnsafeRawBufferPointer) {
        precondition(key.count == 16, "SipHash key is 16 bytes")
        var k0: UInt64 = 0, k1: UInt64 = 0
        for i in 0..<8 { k0 |= UInt64(key[i]) << UInt64(8 * i); k1 |= UInt64(key[8 + i]) << UInt64(8 * i) }
        self.init(k0: k0, k1: k1)
    }

    @inlinable @inline(__always)
    mutating func round() {
        v0 &+= v1; v1 = v1.rotl(13); v1 ^= v0; v0 = v0.rotl(32)
        v2 &+= v3; v3 = v3.rotl(16); v3 ^= v2
        v0 &+= v3; v3 = v3.rotl(21); v3 ^= v0
        v2 &+= v1; v1 = v1.rotl(17); v1 ^= v2; v2 = v2.rotl(32)
    }

    @inlinable @inline(__always)
    mutating func compress(_ m: UInt64) {
        v3 ^= m
        round(); round()
        v0 ^= m
    }

    /// Absorbs one byte.
    @inlinable
    public mutating func add(_ b: UInt8) {
        tail |= UInt64(b) << UInt64(8 * (length & 7))
        length += 1
        if length & 7 == 0 { compress(tail); tail = 0 }
    }

    /// Absorbs bytes.
    @inlinable
    public mutating func add(_ bytes: UnsafeRawBufferPointer) {
        for b in bytes { add(b) }
    }

    /// Absorbs a 32-bit value in network (big-endian) byte order.
    @inlinable
    public mutating func addBigEndian(_ v: UInt32) {
        add(UInt8(v >> 24)); add(UInt8(truncatingIfNeeded: v >> 16))
        add(UInt8(truncatingIfNeeded: v >> 8)); add(UInt8(truncatingIfNeeded: v))
    }

    /// The 64-bit result; its little-endian bytes are the reference implementation's output.
    @inlinable
    public consuming func finalize() -> UInt64 {
        let b = UInt64(truncatingIfNeeded: length) << 56 | tail
        compress(b)
        v2 ^= 0xff
        round(); round(); round(); round()
        return v0 ^ v1 ^ v2 ^ v3
    }
}

extension UInt64 {
    @inlinable @inline(__always)
    func rotl(_ n: UInt64) -> UInt64 { (self << n) | (self >> (64 - n)) }
}
