#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A query's source address as a plain value: no allocation to make or compare. IPv4 lives in
/// the low 32 bits of ``bits``. Built from the `recvmmsg` peer address (UDP) or the NIO
/// channel's remote address (TCP).
public struct ClientAddress: Sendable, Hashable {
    public enum Family: UInt8, Sendable { case ipv4 = 4, ipv6 = 6 }
    public var family: Family
    /// The address, host order: IPv4 in the low 32 bits, IPv6 as a 128-bit number.
    public var bits: UInt128

    public init(family: Family, bits: UInt128) { self.family = family; self.bits = bits }

    /// From a socket address; `nil` for families other than AF_INET/AF_INET6.
    public init?(_ sa: UnsafePointer<sockaddr>?) {
        guard let sa else { return nil }
        switch Int32(sa.pointee.sa_family) {
        case AF_INET:
            let a = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt32(bigEndian: $0.pointee.sin_addr.s_addr) }
            self.init(family: .ipv4, bits: UInt128(a))
        case AF_INET6:
            let v = sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p -> UInt128 in
                var x: UInt128 = 0
                withUnsafeBytes(of: p.pointee.sin6_addr) { b in for byte in b { x = x << 8 | UInt128(byte) } }
                return x
            }
            self.init(family: .ipv6, bits: v)
        default:
            return nil
        }
    }

    /// Calls `body` with the address in network byte order (4 or 16 bytes), as RFC 9018 §4.4
    /// hashes it.
    @inline(__always)
    public func withNetworkBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        if family == .ipv4 {
            var be = UInt32(truncatingIfNeeded: bits).bigEndian
            return withUnsafeBytes(of: &be) { body($0) }
        }
        var be = bits.bigEndian
        return withUnsafeBytes(of: &be) { body($0) }
    }

    /// The address with all but the first `v4` (IPv4) or `v6` (IPv6) prefix bits cleared.
    @inline(__always)
    public func prefix(v4: Int, v6: Int) -> UInt128 {
        if family == .ipv4 {
            let keep = max(0, min(32, v4))
            return keep == 0 ? 0 : bits & (UInt128(UInt32.max << UInt32(32 - keep)))
        }
        let keep = max(0, min(128, v6))
        return keep == 0 ? 0 : bits & (UInt128.max << UInt128(128 - keep))
    }
}

/// Wall-clock Unix seconds (cookie timestamps are wall time, RFC 9018 §4.3), truncated to 32
/// bits as RFC 9018 serial arithmetic expects.
@inline(__always)
func wallClockSeconds() -> UInt32 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME_COARSE, &ts)
    return UInt32(truncatingIfNeeded: ts.tv_sec)
}

import NIOCore

extension ClientAddress {
    /// From a NIO channel's remote address (TCP); `nil` for Unix sockets or none.
    public init?(_ address: SocketAddress?) {
        guard let address else { return nil }
        guard let v = address.withSockAddr({ sa, _ in ClientAddress(sa) }) else { return nil }
        self = v
    }
}
