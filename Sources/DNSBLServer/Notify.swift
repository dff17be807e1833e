import Logging
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Sends DNS NOTIFY (RFC 1996) to secondaries when a reload changes a zone's SOA serial.
///
/// It watches the ``SnapshotHolder`` (every ``interval`` seconds): for each zone whose serial
/// differs from the last snapshot seen, every target gets a NOTIFY (opcode 4, QUESTION = the
/// zone's SOA, AA) over UDP, retried ``attempts`` times ``timeout`` seconds apart until the
/// target acknowledges with the same ID (RFC 1996 §3.6). A reload that keeps a zone's serial
/// logs a warning instead: secondaries compare serials and would never transfer the new data
/// (serial 0 in `$SOA` takes the newest source file's time and avoids it).
public final class NotifyService: Service, Sendable {
    let holder: SnapshotHolder
    let targets: [ListenAddress]
    let logger: Logger
    /// Seconds between looks at the holder.
    public let interval: Double
    public let attempts: Int
    /// Seconds to wait for each acknowledgement.
    public let timeout: Double

    /// - Parameter targets: secondaries as `HOST:PORT` or `[V6HOST]:PORT` (numeric addresses;
    ///   default port 53).
    /// - Throws: ``ServerError`` `.config` for a target that does not parse.
    public init(holder: SnapshotHolder, targets: [String], logger: Logger, interval: Double = 0.2,
                attempts: Int = 3, timeout: Double = 1) throws(ServerError) {
        self.holder = holder
        var parsed: [ListenAddress] = []
        for t in targets { parsed.append(try ListenAddress(parsing: t, defaultPort: 53)) }
        self.targets = parsed
        self.logger = logger
        self.interval = interval; self.attempts = attempts; self.timeout = timeout
    }

    public func run() async throws {
        var seen = holder.load()
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: .milliseconds(Int(interval * 1000)))
            let now = holder.load()
            if now === seen { continue }
            let before = Dictionary(seen.zones.map { ($0.name, $0.serial) }, uniquingKeysWith: { a, _ in a })
            let reloaded = now.generation != seen.generation
            seen = now
            for zone in now.zones {
                guard let old = before[zone.name] else { continue }
                if old != zone.serial {
                    for target in targets { notify(zone: zone.name, serial: zone.serial, to: target) }
                } else if reloaded {
                    logger.warning("zone reloaded with an unchanged SOA serial: secondaries will not transfer it",
                                   metadata: ["zone": "\(zone.name)", "serial": "\(zone.serial)"])
                }
            }
        }
    }

    /// Sends one NOTIFY on a background thread, retrying until acknowledged.
    func notify(zone: String, serial: UInt32, to target: ListenAddress) {
        let logger = self.logger, attempts = self.attempts, timeout = self.timeout
        ThreadJob {
            let id = UInt16.random(in: 0...UInt16.max)
            let message = NotifyService.message(zone: zone, id: id)
            for attempt in 1...attempts {
                if NotifyService.exchange(message, id: id, target: target, timeout: timeout) {
                    logger.info("NOTIFY acknowledged", metadata: [
                        "zone": "\(zone)", "serial": "\(serial)", "target": "\(target)", "attempt": "\(attempt)"])
                    return
                }
            }
            logger.warning("NOTIFY not acknowledged", metadata: [
                "zone": "\(zone)", "serial": "\(serial)", "target": "\(target)", "attempts": "\(attempts)"])
        }.start()
    }

    /// A NOTIFY query: opcode 4, AA, one question `zone IN SOA` (RFC 1996 §3.7).
    static func message(zone: String, id: UInt16) -> [UInt8] {
        var m: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0x24, 0, 0, 1, 0, 0, 0, 0, 0, 0]
        for label in zone.split(separator: ".") where zone != "." {
            m.append(UInt8(label.utf8.count)); m += Array(label.utf8)
        }
        m += [0, 0, 6, 0, 1]
        return m
    }

    /// One send and wait; true when a response with our ID and QR=1 arrived in time.
    static func exchange(_ message: [UInt8], id: UInt16, target: ListenAddress, timeout: Double) -> Bool {
        let fd = socket(target.family == .ipv4 ? AF_INET : AF_INET6, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let sent = target.withSockaddr { sa, len in
            message.withUnsafeBytes { connect(fd, sa, len) == 0 ? send(fd, $0.baseAddress, $0.count, 0) : -1 }
        }
        guard sent == message.count else { return false }
        var buf = [UInt8](repeating: 0, count: 512)
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while ContinuousClock.now < deadline {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 { return false }
            if n >= 12 && UInt16(buf[0]) << 8 | UInt16(buf[1]) == id && buf[2] & 0x80 != 0 { return true }
        }
        return false
    }
}
