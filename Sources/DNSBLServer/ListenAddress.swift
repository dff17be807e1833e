#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Error in server configuration or while binding sockets.
public struct ServerError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case badAddress, socket, bind, privileges, config, io
    }
    public var code: Code
    public var reason: String
    public init(_ code: Code, _ reason: String) { self.code = code; self.reason = reason }
    public var description: String { "\(code.rawValue): \(reason)" }

    /// EADDRINUSE on `address` for `transport` ("UDP" or "TCP"): another socket holds the port.
    static func portInUse(_ transport: String, _ address: ListenAddress) -> ServerError {
        ServerError(.bind, "\(transport) bind \(address): address \(address.host) port \(address.port) is already in use by another process (is another server running?)")
    }
}

/// An address to serve on: IPv4 or IPv6 literal plus port.
///
/// Text forms: `192.0.2.1`, `192.0.2.1:53`, `[2001:db8::1]:53`, `[2001:db8::1]` and a bare
/// IPv6 literal `2001:db8::1` (then the default port applies). Port 0 asks the kernel for an
/// ephemeral port; the bound port is reported by ``DNSServer/udpAddresses`` and
/// ``DNSServer/tcpAddresses``.
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    public enum Family: Sendable, Hashable { case ipv4, ipv6 }
    public var host: String
    public var port: UInt16
    public var family: Family

    /// Default port of `prefixbl serve`: unprivileged, and not 5353 (mDNS).
    public static let defaultPort: UInt16 = 5300

    public init(host: String, port: UInt16) throws(ServerError) {
        if ListenAddress.parse4(host) != nil {
            family = .ipv4
        } else if ListenAddress.parse6(host) != nil {
            family = .ipv6
        } else {
            throw ServerError(.badAddress, "'\(host)' is not an IPv4 or IPv6 address literal")
        }
        self.host = host
        self.port = port
    }

    /// Parses `ADDR[:PORT]` / `[V6]:PORT` / bare IPv6.
    public init(parsing text: String, defaultPort: UInt16 = ListenAddress.defaultPort) throws(ServerError) {
        var host = text
        var port = defaultPort
        func parsePort(_ s: Substring) throws(ServerError) -> UInt16 {
            guard let p = UInt16(s) else { throw ServerError(.badAddress, "bad port '\(s)' in '\(text)'") }
            return p
        }
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                throw ServerError(.badAddress, "missing ']' in '\(text)'")
            }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { throw ServerError(.badAddress, "expected ':PORT' after ']' in '\(text)'") }
                port = try parsePort(rest.dropFirst())
            }
            guard ListenAddress.parse6(host) != nil else {
                throw ServerError(.badAddress, "'\(host)' in '\(text)' is not an IPv6 address")
            }
        } else if text.filter({ $0 == ":" }).count == 1 {
            let colon = text.firstIndex(of: ":")!
            host = String(text[..<colon])
            port = try parsePort(text[text.index(after: colon)...])
        }
        try self.init(host: host, port: port)
    }

    public var description: String {
        family == .ipv6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Whether a UDP socket can be bound to this address on an ephemeral port right now (false
    /// on hosts without IPv6, or without this address configured).
    public var isAvailable: Bool {
        let fd = socket(family == .ipv4 ? AF_INET : AF_INET6, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var probe = self
        probe.port = 0
        return probe.withSockaddr { bind(fd, $0, $1) } == 0
    }

    static func parse4(_ s: String) -> in_addr? {
        var a = in_addr()
        return inet_pton(AF_INET, s, &a) == 1 ? a : nil
    }
    static func parse6(_ s: String) -> in6_addr? {
        var a = in6_addr()
        return inet_pton(AF_INET6, s, &a) == 1 ? a : nil
    }

    /// Calls `body` with this address as a sockaddr.
    package func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        switch family {
        case .ipv4:
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port.bigEndian
            sin.sin_addr = ListenAddress.parse4(host)!
            return withUnsafePointer(to: &sin) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        case .ipv6:
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = port.bigEndian
            sin6.sin6_addr = ListenAddress.parse6(host)!
            return withUnsafePointer(to: &sin6) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
    }
}

package func errnoText(_ e: Int32 = errno) -> String { String(cString: strerror(e)) }
