#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DNSBLServer
import Logging
import Synchronization

/// The `--stats-file` line, written at every interval:
/// `UNIXTIME udp:RECEIVED:ANSWERED:DROPPED tcp:RECEIVED:ANSWERED:DROPPED *:RECEIVED:ANSWERED:DROPPED`
/// (query counts since start, or since the previous line with `--stats-incremental`); a bare
/// `UNIXTIME` line at start and at shutdown marks where the counters restart, as rbldnsd does.
public final class StatsWriter: Sendable {
    let path: String
    let incremental: Bool
    let server: DNSServer
    let logger: Logger
    private let last = Mutex<[Int]>([0, 0, 0, 0, 0, 0])

    public init(path: String, incremental: Bool, server: DNSServer, logger: Logger) {
        self.path = path; self.incremental = incremental; self.server = server; self.logger = logger
    }

    public func mark() { append("\(time(nil))\n") }

    public func write() {
        let u = server.udpStats, t = server.tcpStats
        let now = [u.received, u.answered, u.dropped, t.received, t.answered, t.dropped]
        let v: [Int] = last.withLock { last in
            defer { last = now }
            return incremental ? zip(now, last).map { $0 - $1 } : now
        }
        let line = "\(time(nil)) udp:\(v[0]):\(v[1]):\(v[2]) tcp:\(v[3]):\(v[4]):\(v[5]) *:\(v[0] + v[3]):\(v[1] + v[4]):\(v[2] + v[5])\n"
        logger.info("stats", metadata: ["line": "\(line.dropLast())"])
        append(line)
    }

    private func append(_ text: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            logger.warning("cannot write the stats file", metadata: ["path": "\(path)", "errno": "\(errno)"])
            return
        }
        _ = text.utf8CString.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count - 1) }
        close(fd)
    }
}
