import DNSBLServer
import Logging
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Sends DNS NOTIFY (RFC 1996) to secondaries at start and when a reload changes a zone's
/// SOA serial.
///
/// It subscribes to the `DNSBLServer/SnapshotHolder`'s swaps: for each zone whose serial
/// differs from the snapshot replaced, every target gets a NOTIFY (opcode 4, QUESTION = the
/// zone's SOA, AA) over UDP, retried ``attempts`` times ``timeout`` seconds apart until the
/// target acknowledges with the same ID (RFC 1996 §3.6). A reload that keeps a zone's serial
/// logs a warning instead: secondaries compare serials and would never transfer the new data
/// (serial 0 in `$SOA` takes the newest source file's time and avoids it). A target given with
/// a TSIG key gets the NOTIFY signed (RFC 8945 §5.1), and only an answer whose TSIG verifies
/// counts as the acknowledgement.
public final class NotifyService: Service, Sendable {
    let holder: SnapshotHolder
    let targets: [ListenAddress]
    /// Per target, the key its NOTIFY is signed with (nil: unsigned).
    let keys: [TSIGKey?]
    let logger: Logger
    public let attempts: Int
    /// How many targets get NOTIFY.
    public var targetCount: Int { targets.count }
    /// Seconds to wait for each acknowledgement.
    public let timeout: Double

    /// - Parameters:
    ///   - holder: the snapshot holder whose new generations are announced.
    ///   - targets: secondaries as `HOST:PORT` or `[V6HOST]:PORT` (numeric addresses;
    ///     default port 53), each optionally followed by whitespace and the name of a key in
    ///     `keyring` to sign with (`NOKEY` = unsigned), as NSD's `notify:` takes them.
    ///   - keyring: the TSIG keys targets may name; nil when none is configured.
    ///   - logger: for acknowledgements, failures and unchanged serials.
    ///   - attempts: sends per target and new serial before giving up.
    ///   - timeout: seconds to wait for each acknowledgement.
    /// - Throws: `DNSBLServer/ServerError` `.config` for a target that does not parse or names an unknown key.
    public init(holder: SnapshotHolder, targets: [String], keyring: TSIGKeyring? = nil, logger: Logger,
                attempts: Int = 3, timeout: Double = 1) throws(ServerError) {
        self.holder = holder
        var parsed: [ListenAddress] = []
        var keys: [TSIGKey?] = []
        for t in targets {
            let words = t.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let address = words.first, words.count <= 2 else {
                throw ServerError(.config, "--notify \(t): expected HOST:PORT [KEYNAME|NOKEY]")
            }
            parsed.append(try ListenAddress(parsing: address, defaultPort: 53))
            if words.count == 2, words[1].uppercased() != "NOKEY" {
                guard let key = keyring?.key(named: words[1]) else {
                    throw ServerError(.config, "--notify \(t): no TSIG key named \(words[1])")
                }
                keys.append(key)
            } else {
                keys.append(nil)
            }
        }
        self.targets = parsed
        self.keys = keys
        self.logger = logger
        self.attempts = attempts; self.timeout = timeout
    }

    public func run() async throws {
        // At start every target hears of every zone (RFC 1996 §3: a primary may notify at any
        // time), so a secondary holding older data transfers at once instead of at its SOA
        // refresh. Signed zones excepted: the daemon's first version of each comes right after
        // the start build (`DNSBLDaemon/SignedZoneVersions`) and its swap notifies.
        let first = holder.load()
        let signed = Set(first.responder.signers.map { zoneText($0.apex).lowercased() })
        for zone in first.zones where !signed.contains(zone.name.lowercased()) && zone.name != "(global acl)" {
            for (target, key) in zip(targets, keys) {
                notify(zone: zone.name, serial: zone.serial, to: target, key: key)
            }
        }
        await holder.watch { seen, now in
            let before = Dictionary(seen.zones.map { ($0.name, $0.serial) }, uniquingKeysWith: { a, _ in a })
            let reloaded = now.generation != seen.generation
            for zone in now.zones {
                guard let old = before[zone.name] else { continue }
                if old != zone.serial {
                    for (target, key) in zip(targets, keys) {
                        notify(zone: zone.name, serial: zone.serial, to: target, key: key)
                    }
                } else if reloaded {
                    logger.warning("zone reloaded with an unchanged SOA serial: secondaries will not transfer it",
                                   metadata: ["zone": "\(zone.name)", "serial": "\(zone.serial)"])
                }
            }
        }
    }

    /// Sends one NOTIFY on a background thread, retrying until acknowledged.
    func notify(zone: String, serial: UInt32, to target: ListenAddress, key: TSIGKey? = nil) {
        let logger = self.logger, attempts = self.attempts, timeout = self.timeout
        ThreadJob {
            let id = UInt16.random(in: 0...UInt16.max)
            for attempt in 1...attempts {
                var message = NotifyService.message(zone: zone, id: id)
                // Signed afresh per attempt: the time in the TSIG must be within the fudge.
                let session = key.map { $0.signRequest(&message, now: UInt64(time(nil))) }
                guard let answer = NotifyService.exchange(message, id: id, target: target, timeout: timeout) else { continue }
                if var s = session {
                    let verdict = s.verify(answer, now: UInt64(time(nil)))
                    guard verdict == .valid else {
                        logger.warning("NOTIFY answer fails TSIG", metadata: [
                            "zone": "\(zone)", "target": "\(target)", "key": "\(s.key)", "verdict": "\(verdict)"])
                        continue
                    }
                }
                logger.info("NOTIFY acknowledged", metadata: [
                    "zone": "\(zone)", "serial": "\(serial)", "target": "\(target)", "attempt": "\(attempt)",
                    "tsig": "\(key.map(\.description) ?? "none")"])
                return
            }
            logger.warning("NOTIFY not acknowledged", metadata: [
                "zone": "\(zone)", "serial": "\(serial)", "target": "\(target)", "attempts": "\(attempts)"])
        }.start()
    }

    /// The SOA serial each target holds for `zone` (text, trailing dot optional): an SOA query
    /// (RFC 1035 §4.1, RD clear) over UDP, signed with the target's key as its NOTIFY is
    /// (RFC 8945 §5.1), ``timeout`` seconds per attempt, two attempts. `answered` is false for
    /// a target that did not answer (or whose answers fail TSIG); `serial` is nil for one that
    /// answered with an error RCODE or no SOA (it holds no version of the zone).
    /// An answer truncated over UDP (TC) is asked again over TCP. Blocking: call it off the
    /// query path (at most targets × 2 × 2 × ``timeout`` seconds).
    public func heldSerials(zone: String) -> [(target: String, answered: Bool, serial: UInt32?)] {
        zip(targets, keys).map { (target, key) -> (target: String, answered: Bool, serial: UInt32?) in
            for _ in 1...2 {
                let id = UInt16.random(in: 0...UInt16.max)
                var message = NotifyService.message(zone: zone, id: id)
                message[2] = 0  // QUERY, not NOTIFY
                let session = key.map { $0.signRequest(&message, now: UInt64(time(nil))) }
                guard var answer = NotifyService.exchange(message, id: id, target: target, timeout: timeout) else { continue }
                if answer[2] & 0x02 != 0 {  // TC: ask again over TCP (RFC 1035 §4.2.1)
                    guard let whole = NotifyService.exchangeTCP(message, id: id, target: target, timeout: timeout) else { continue }
                    answer = whole
                }
                if var s = session, s.verify(answer, now: UInt64(time(nil))) != .valid { continue }
                return ("\(target)", true, NotifyService.soaSerial(answer))
            }
            return ("\(target)", false, nil)
        }
    }

    /// The SERIAL of the first SOA record in the answer section of `m`, when RCODE is 0.
    static func soaSerial(_ m: [UInt8]) -> UInt32? {
        guard m.count >= 12, m[3] & 0x0F == 0 else { return nil }
        let qd = Int(m[4]) << 8 | Int(m[5]), an = Int(m[6]) << 8 | Int(m[7])
        func skipName(_ start: Int) -> Int? {
            var p = start
            while p < m.count {
                let n = Int(m[p])
                if n == 0 { return p + 1 }
                if n & 0xC0 == 0xC0 { return p + 2 <= m.count ? p + 2 : nil }
                guard n < 64 else { return nil }
                p += 1 + n
            }
            return nil
        }
        var p = 12
        for _ in 0..<qd {
            guard let q = skipName(p) else { return nil }
            p = q + 4
        }
        for _ in 0..<an {
            guard let o = skipName(p), o + 10 <= m.count else { return nil }
            let type = Int(m[o]) << 8 | Int(m[o + 1])
            let rdlength = Int(m[o + 8]) << 8 | Int(m[o + 9])
            let rdata = o + 10
            guard rdata + rdlength <= m.count else { return nil }
            if type == 6, let mname = skipName(rdata), let r = skipName(mname), r + 4 <= rdata + rdlength {
                return UInt32(m[r]) << 24 | UInt32(m[r + 1]) << 16 | UInt32(m[r + 2]) << 8 | UInt32(m[r + 3])
            }
            p = rdata + rdlength
        }
        return nil
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

    /// One exchange over TCP (two-byte length prefix, RFC 1035 §4.2.2); the response with our
    /// ID and QR=1 when it arrived within `timeout` seconds per socket operation.
    static func exchangeTCP(_ message: [UInt8], id: UInt16, target: ListenAddress, timeout: Double) -> [UInt8]? {
        let fd = socket(target.family == .ipv4 ? AF_INET : AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let framed = [UInt8(message.count >> 8), UInt8(message.count & 0xFF)] + message
        let sent = target.withSockaddr { sa, len in
            framed.withUnsafeBytes { connect(fd, sa, len) == 0 ? send(fd, $0.baseAddress, $0.count, 0) : -1 }
        }
        guard sent == framed.count else { return nil }
        func read(_ count: Int) -> [UInt8]? {
            var out: [UInt8] = []
            var buf = [UInt8](repeating: 0, count: count)
            while out.count < count {
                let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, count - out.count, 0) }
                if n <= 0 { return nil }
                out += buf[0..<n]
            }
            return out
        }
        guard let length = read(2), let m = read(Int(length[0]) << 8 | Int(length[1])), m.count >= 12,
              UInt16(m[0]) << 8 | UInt16(m[1]) == id, m[2] & 0x80 != 0 else { return nil }
        return m
    }

    /// One send and wait; the response with our ID and QR=1 when one arrived in time.
    static func exchange(_ message: [UInt8], id: UInt16, target: ListenAddress, timeout: Double) -> [UInt8]? {
        let fd = socket(target.family == .ipv4 ? AF_INET : AF_INET6, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let sent = target.withSockaddr { sa, len in
            message.withUnsafeBytes { connect(fd, sa, len) == 0 ? send(fd, $0.baseAddress, $0.count, 0) : -1 }
        }
        guard sent == message.count else { return nil }
        var buf = [UInt8](repeating: 0, count: 512)
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while ContinuousClock.now < deadline {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 { return nil }
            if n >= 12 && UInt16(buf[0]) << 8 | UInt16(buf[1]) == id && buf[2] & 0x80 != 0 { return Array(buf[0..<n]) }
        }
        return nil
    }
}
