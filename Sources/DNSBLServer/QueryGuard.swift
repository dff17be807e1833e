#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DNSBL
import DNSWire
import Synchronization

/// Operations settings of a ``DNSServer``: DNS Cookies, response rate limiting, data age.
public struct OperationsConfiguration: Sendable {
    /// The 16-byte server secret for RFC 9018 server cookies; `nil` = a random secret made at
    /// start (cookies then change at each restart; anycast nodes need a shared secret).
    public var cookieSecret: [UInt8]? = nil
    /// Response rate limiting; `nil` = off (the default).
    public var rrl: RRLSettings? = nil
    /// Largest UDP answer in bytes for a query carrying a valid server cookie (RFC 7873 §5.2:
    /// the cookie proves the source address, so a large answer cannot be reflected to a
    /// spoofed victim); still capped by the client's EDNS payload size. Default 4096; values
    /// below the server's UDP payload size act as that size (`--cookie-udp-payload`).
    public var cookieUDPPayloadSize: Int = 4096
    public init() {}
}

/// The state the query pipeline's guard decisions read: the DNS Cookie secret (RFC 7873
/// with RFC 9018 server cookies), response rate limiting (UDP only), the zones refused as
/// stale, and the UDP size ceilings. Holds no per-query state; the decisions themselves are
/// made in one place, the query pipeline (see the Query path article).
///
/// Cookie rules (RFC 7873 §5.2): no COOKIE option → normal answer; a malformed option (length
/// not 8 or 16…40) → FORMERR; a client cookie alone, or with a server cookie that is not
/// valid (not ours, not for this client address, older than an hour or more than five
/// minutes ahead) → the normal answer with a fresh server cookie, subject to RRL; a valid
/// server cookie → the normal answer with a fresh server cookie, exempt from RRL. When RRL
/// would slip a response to a query that carried a client cookie, the slip is BADCOOKIE with a
/// fresh server cookie instead of TC=1: the client retries over UDP with the cookie and is
/// then exempt (§5.2.3 leaves the choice to server policy "including rate limiting").
/// A query with QDCOUNT 0 carrying only a COOKIE option gets NOERROR with a server cookie and
/// no question (§5.4); every other QDCOUNT 0 query stays FORMERR.
public final class QueryGuard: Sendable {
    public let cookies: ServerCookieMaker
    public let rrl: ResponseRateLimiter?
    /// Our EDNS UDP payload size in bytes (512…65535): the UDP ceiling without a valid cookie.
    public let udpPayloadSize: Int
    /// UDP answer ceiling in bytes for queries with a valid server cookie (at least
    /// ``udpPayloadSize``); see ``OperationsConfiguration/cookieUDPPayloadSize``.
    public let cookieUDPPayloadSize: Int

    public init(_ configuration: OperationsConfiguration, udpPayloadSize: Int) {
        var secret = configuration.cookieSecret ?? []
        if secret.count != 16 {
            var g = SystemRandomNumberGenerator()
            secret = (0..<16).map { _ in UInt8.random(in: 0...255, using: &g) }
        }
        cookies = ServerCookieMaker(secret: secret)
        rrl = configuration.rrl.map { ResponseRateLimiter($0) }
        self.udpPayloadSize = min(max(udpPayloadSize, DNSWire.classicUDPLimit), DNSWire.maxTCPMessage)
        self.cookieUDPPayloadSize = min(max(configuration.cookieUDPPayloadSize, self.udpPayloadSize), DNSWire.maxTCPMessage)
    }

    /// What the guard did besides answering, for counters.
    public enum Action: Sendable { case answered, rrlSlipped, rrlDropped, badCookie, staleRefused }

    /// Zones (uncompressed lower-case wire names) refused because their data is older than
    /// `--max-age` with `--max-age-action refuse`. Checked per query only while non-empty.
    private let staleZones = Mutex<[[UInt8]]>([])
    private let hasStale = Atomic<Bool>(false)

    /// Replaces the set of refused stale zones.
    public func setStaleZones(_ zones: [[UInt8]]) {
        staleZones.withLock { $0 = zones }
        hasStale.store(!zones.isEmpty, ordering: .releasing)
    }

    /// Whether the QNAME of `query` (read as `read`) is at or below a refused zone. One atomic
    /// load while no zone is refused.
    @inline(__always)
    func isStale(_ read: ReadQuery, _ query: UnsafeRawBufferPointer) -> Bool {
        guard hasStale.load(ordering: .acquiring), read.parsed.header.qdCount == 1 else { return false }
        return isInStaleZone(read, query)
    }

    private func isInStaleZone(_ read: ReadQuery, _ query: UnsafeRawBufferPointer) -> Bool {
        staleZones.withLock { zones in zones.contains { read.isAtOrBelow($0, in: query) } }
    }
}
