#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// systemd's socket activation (`sd_listen_fds(3)`, the `LISTEN_FDS`/`LISTEN_PID` convention,
/// descriptors from 3), without libsystemd: the transport serves the sockets it is handed.
/// Readiness notification, the daemon's half of the protocol, lives in the DNSBLDaemon module.
public enum Systemd {
    /// First inherited descriptor (`SD_LISTEN_FDS_START`).
    public static let listenFDsStart: Int32 = 3

    /// An inherited listening socket and what it is.
    public struct InheritedSocket: Sendable, Hashable {
        public enum Kind: Sendable, Hashable { case udp, tcp }
        /// The descriptor (3, 4, …).
        public var fd: Int32
        public var kind: Kind
        public init(fd: Int32, kind: Kind) { self.fd = fd; self.kind = kind }
    }

    /// The sockets passed by socket activation: `LISTEN_FDS` descriptors from 3 when `LISTEN_PID`
    /// is this process. The variables are removed from the environment (children must not
    /// inherit them) and the descriptors get `FD_CLOEXEC`.
    /// - Throws: ``ServerError`` `.socket` when a passed descriptor is not an AF_INET/AF_INET6
    ///   datagram or stream socket (a unit passing a FIFO or a UNIX socket is a configuration error).
    public static func inheritedSockets(unsetEnvironment: Bool = true) throws(ServerError) -> [InheritedSocket] {
        guard let pidText = getenv("LISTEN_PID").map({ String(cString: $0) }),
              let fdsText = getenv("LISTEN_FDS").map({ String(cString: $0) }) else { return [] }
        if unsetEnvironment {
            unsetenv("LISTEN_PID"); unsetenv("LISTEN_FDS"); unsetenv("LISTEN_FDNAMES")
        }
        guard let pid = Int32(pidText), pid == getpid() else { return [] }
        guard let n = Int32(fdsText), n > 0 else { return [] }
        var out: [InheritedSocket] = []
        for fd in listenFDsStart..<(listenFDsStart + n) {
            let flags = fcntl(fd, F_GETFD)
            guard flags >= 0 else { throw ServerError(.socket, "LISTEN_FDS: descriptor \(fd) is not open") }
            _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC)
            var type: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 else {
                throw ServerError(.socket, "LISTEN_FDS: descriptor \(fd) is not a socket")
            }
            var ss = sockaddr_storage()
            var slen = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let rc = withUnsafeMutablePointer(to: &ss) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &slen) }
            }
            guard rc == 0, Int32(ss.ss_family) == AF_INET || Int32(ss.ss_family) == AF_INET6 else {
                throw ServerError(.socket, "LISTEN_FDS: descriptor \(fd) is not an IPv4/IPv6 socket")
            }
            #if canImport(Glibc)
            let dgram = Int32(SOCK_DGRAM.rawValue), stream = Int32(SOCK_STREAM.rawValue)
            #else
            let dgram = SOCK_DGRAM, stream = SOCK_STREAM
            #endif
            switch type {
            case dgram: out.append(InheritedSocket(fd: fd, kind: .udp))
            case stream: out.append(InheritedSocket(fd: fd, kind: .tcp))
            default: throw ServerError(.socket, "LISTEN_FDS: descriptor \(fd) has socket type \(type)")
            }
        }
        return out
    }
}

/// The local address of a bound socket (for logs and tests).
func localAddress(_ fd: Int32) -> ListenAddress? {
    var ss = sockaddr_storage()
    var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
    let rc = withUnsafeMutablePointer(to: &ss) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    guard rc == 0 else { return nil }
    var buf = [CChar](repeating: 0, count: 64)
    return withUnsafePointer(to: &ss) { p -> ListenAddress? in
        if Int32(p.pointee.ss_family) == AF_INET {
            return p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { s -> ListenAddress? in
                var a = s.pointee.sin_addr
                inet_ntop(AF_INET, &a, &buf, 64)
                return try? ListenAddress(host: String(cString: buf), port: UInt16(bigEndian: s.pointee.sin_port))
            }
        }
        return p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { s -> ListenAddress? in
            var a = s.pointee.sin6_addr
            inet_ntop(AF_INET6, &a, &buf, 64)
            return try? ListenAddress(host: String(cString: buf), port: UInt16(bigEndian: s.pointee.sin6_port))
        }
    }
}
