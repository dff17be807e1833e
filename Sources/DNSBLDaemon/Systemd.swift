#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

import DNSBLServer

/// The daemon's half of systemd's service protocol, without libsystemd: readiness
/// notification (`sd_notify(3)`, the `NOTIFY_SOCKET` datagram protocol). Socket activation,
/// the transport's half, is `DNSBLServer/Systemd/inheritedSockets(unsetEnvironment:)`.
extension Systemd {
    /// Sends one state datagram (e.g. `"READY=1"`, `"RELOADING=1\nMONOTONIC_USEC=…"`,
    /// `"STOPPING=1"`, `"STATUS=…"`) to the socket named by `NOTIFY_SOCKET`. A path starting with
    /// `@` is in the Linux abstract namespace (the `@` becomes a NUL byte).
    /// - Returns: false when `NOTIFY_SOCKET` is unset or the send failed (not an error: the
    ///   process was simply not started by a service manager that listens).
    @discardableResult
    public static func notify(_ state: String, socketPath: String? = nil) -> Bool {
        guard let path = socketPath ?? getenv("NOTIFY_SOCKET").map({ String(cString: $0) }),
              !path.isEmpty else { return false }
        var bytes = Array(path.utf8)
        guard bytes.first == UInt8(ascii: "/") || bytes.first == UInt8(ascii: "@") else { return false }
        if bytes[0] == UInt8(ascii: "@") { bytes[0] = 0 }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: addr.sun_path)
        guard bytes.count < capacity else { return false }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        // The address length counts the path bytes only: an abstract name is not NUL-terminated.
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (bytes[0] == 0 ? 0 : 1))
        #if canImport(Glibc)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #else
        let fd = socket(AF_UNIX, SOCK_DGRAM, 0)
        #endif
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let message = Array(state.utf8)
        let sent = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                message.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), sa, length) }
            }
        }
        return sent == message.count
    }

    /// `RELOADING=1` with the `MONOTONIC_USEC` field systemd ≥ 253 asks for (`Type=notify-reload`).
    public static func reloadingMessage() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return "RELOADING=1\nMONOTONIC_USEC=\(UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000)"
    }
}
