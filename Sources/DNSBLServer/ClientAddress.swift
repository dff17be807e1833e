#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

import DNSBL
import PrefixStore


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
