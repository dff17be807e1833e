#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

import DNSBL
import PrefixStore

// MERGE NOTE: the block from here to "END OF MERGE BLOCK" duplicates, with the same shape and
// names, the `ClientAddress` of DNSBL.swift and `init(sockaddr:)` of Snapshot.swift on the
// datasets branch. When that branch is present, delete this block; the rest of the file and
// every user of it compile unchanged against that definition.

/// A query's source address as a plain value: no allocation to make or compare.
public struct ClientAddress: Sendable, Hashable {
    /// `nil` when unknown.
    public var family: AddressFamily?
    /// IPv4 in the low 32 bits (host order); IPv6 as a big-endian 128-bit integer.
    public var address: UInt128
    /// No known client.
    public static let unknown = ClientAddress(family: nil, address: 0)
    public init(family: AddressFamily?, address: UInt128) { self.family = family; self.address = address }
    public init(ipv4: UInt32) { self.init(family: .ipv4, address: UInt128(ipv4)) }
    /// An IPv4-mapped IPv6 address is taken as the IPv4 client it stands for.
    public init(ipv6: UInt128) {
        if ipv6 >> 32 == 0xFFFF { self.init(family: .ipv4, address: ipv6 & 0xFFFF_FFFF) } else { self.init(family: .ipv6, address: ipv6) }
    }
}

extension ClientAddress {
    /// From a socket address (`AF_INET`, `AF_INET6`; anything else is ``unknown``).
    init(sockaddr sa: UnsafePointer<sockaddr>?) {
        guard let sa else { self = .unknown; return }
        switch Int32(sa.pointee.sa_family) {
        case AF_INET:
            let a = UnsafeRawPointer(sa).load(as: sockaddr_in.self).sin_addr.s_addr
            self.init(ipv4: UInt32(bigEndian: a))
        case AF_INET6:
            var sin6 = UnsafeRawPointer(sa).load(as: sockaddr_in6.self)
            let v = withUnsafeBytes(of: &sin6.sin6_addr) { b -> UInt128 in
                var x: UInt128 = 0
                for i in 0..<16 { x = x << 8 | UInt128(b[i]) }
                return x
            }
            self.init(ipv6: v)
        default:
            self = .unknown
        }
    }
}
// END OF MERGE BLOCK

extension ClientAddress {
    /// Calls `body` with the address in network byte order (4 or 16 bytes), as RFC 9018 §4.4
    /// hashes it.
    @inline(__always)
    public func withNetworkBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        if family == .ipv4 {
            var be = UInt32(truncatingIfNeeded: address).bigEndian
            return withUnsafeBytes(of: &be) { body($0) }
        }
        var be = address.bigEndian
        return withUnsafeBytes(of: &be) { body($0) }
    }

    /// The address with all but the first `v4` (IPv4) or `v6` (IPv6) prefix bits cleared.
    @inline(__always)
    public func prefix(v4: Int, v6: Int) -> UInt128 {
        if family == .ipv4 {
            let keep = max(0, min(32, v4))
            return keep == 0 ? 0 : address & (UInt128(UInt32.max << UInt32(32 - keep)))
        }
        let keep = max(0, min(128, v6))
        return keep == 0 ? 0 : address & (UInt128.max << UInt128(128 - keep))
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
    /// From a NIO channel's remote address (TCP); ``unknown`` for Unix sockets or none.
    init(remote: SocketAddress?) {
        guard let remote else { self = .unknown; return }
        self = remote.withSockAddr { sa, _ in ClientAddress(sockaddr: sa) }
    }
}
