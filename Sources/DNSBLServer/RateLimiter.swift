#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DNSWire
import DNSBL
import Synchronization

/// Response rate limiting settings (in the manner of NSD and Knot RRL). Off unless
/// ``OperationsConfiguration/rrl`` is set.
public struct RRLSettings: Sendable, Hashable {
    /// Identical responses per second allowed to one client prefix; also the burst size.
    public var rate: Int
    /// Every `slip`-th limited response is sent truncated (TC=1, no records) so a real client
    /// retries over TCP; the others are dropped. 0 = drop all, 1 = truncate all.
    public var slip: Int = 2
    /// Client prefix lengths in bits that share a bucket (IPv4 /24, IPv6 /56 by default).
    public var ipv4PrefixLength: Int = 24
    public var ipv6PrefixLength: Int = 56
    /// Buckets in the table (rounded up to a power of two); fixed at start, never grown.
    public var tableSize: Int = 1 << 16
    public init(rate: Int, slip: Int = 2) { self.rate = rate; self.slip = slip }
}

/// What RRL decided for one response.
public enum RRLVerdict: Sendable { case pass, slip, drop }

/// A fixed-size table of token buckets keyed by a 64-bit hash of (client prefix, response
/// class). A bucket whose slot is taken by another key starts afresh (full), as in NSD: a
/// collision can only let more through, never block a client. Locked in 64 shards, so UDP
/// threads rarely meet; nothing is allocated after `init`.
public final class ResponseRateLimiter: @unchecked Sendable {
    struct Bucket { var key: UInt64 = 0; var second: UInt32 = 0; var tokens: Int32 = 0; var limited: UInt32 = 0 }
    public let settings: RRLSettings
    private let table: UnsafeMutablePointer<Bucket>
    private let mask: Int
    private let locks: UnsafeMutablePointer<pthread_mutex_t>
    private static let shards = 64
    /// Keyed so that an attacker cannot aim collisions at a victim's bucket.
    let k0: UInt64
    let k1: UInt64
    private let passedCount = Atomic<Int>(0)
    private let slippedCount = Atomic<Int>(0)
    private let droppedCount = Atomic<Int>(0)

    public init(_ settings: RRLSettings) {
        self.settings = settings
        var size = 1
        while size < max(settings.tableSize, 64) { size <<= 1 }
        mask = size - 1
        table = .allocate(capacity: size)
        table.initialize(repeating: Bucket(), count: size)
        locks = .allocate(capacity: Self.shards)
        for i in 0..<Self.shards { pthread_mutex_init(locks + i, nil) }
        var g = SystemRandomNumberGenerator()
        k0 = g.next(); k1 = g.next()
    }

    deinit {
        for i in 0..<Self.shards { pthread_mutex_destroy(locks + i) }
        locks.deallocate()
        table.deallocate()
    }

    /// Responses that passed, were slipped (sent truncated) and were dropped since start.
    public var passed: Int { passedCount.load(ordering: .relaxed) }
    public var slipped: Int { slippedCount.load(ordering: .relaxed) }
    public var dropped: Int { droppedCount.load(ordering: .relaxed) }

    /// Takes a token for `key` at `now` (seconds, any monotonic origin).
    public func check(key: UInt64, now: UInt32) -> RRLVerdict {
        let index = Int(truncatingIfNeeded: key) & mask
        let lock = locks + (index & (Self.shards - 1))
        pthread_mutex_lock(lock)
        let rate = Int32(clamping: settings.rate)
        var b = table[index]
        if b.key != key {
            b = Bucket(key: key, second: now, tokens: rate, limited: 0)
        } else if now != b.second {
            let elapsed = Int64(now &- b.second)
            b.tokens = Int32(min(Int64(rate), Int64(b.tokens) + elapsed * Int64(rate)))
            b.second = now
        }
        var verdict = RRLVerdict.pass
        if b.tokens > 0 {
            b.tokens -= 1
        } else {
            b.limited &+= 1
            verdict = settings.slip > 0 && Int(b.limited) % settings.slip == 0 ? .slip : .drop
        }
        table[index] = b
        pthread_mutex_unlock(lock)
        switch verdict {
        case .pass: passedCount.add(1, ordering: .relaxed)
        case .slip: slippedCount.add(1, ordering: .relaxed)
        case .drop: droppedCount.add(1, ordering: .relaxed)
        }
        return verdict
    }

    /// The bucket key of one answer for `client`, from the answer's outcome and the query it
    /// answers (nothing is read from the response): the client's prefix plus the response
    /// class — for answers the QNAME (case-folded) and QTYPE, for NXDOMAIN and NODATA the zone
    /// that answered (`AnswerOutcome/zone`, so a flood of random names under one zone shares
    /// one bucket), for errors and answers without a question the RCODE.
    public func key(client: ClientAddress, outcome: AnswerOutcome, query: UnsafeRawBufferPointer) -> UInt64 {
        var h = SipHash24(k0: k0, k1: k1)
        let p = client.prefix(v4: settings.ipv4PrefixLength, v6: settings.ipv6PrefixLength)
        h.add(client.family == .ipv4 ? 4 : 6)
        var be = p.bigEndian
        withUnsafeBytes(of: &be) { h.add($0) }
        h.add(outcome.rcode)
        let n = outcome.qnameLength
        guard n > 0, DNSWire.headerSize + n <= query.count else { return h.finalize() }
        if outcome.answerCount == 0 && (outcome.rcode == 0 || outcome.rcode == 3) {
            h.add(1)
            var zone = UInt32(bitPattern: outcome.zone).bigEndian
            withUnsafeBytes(of: &zone) { h.add($0) }
        } else if outcome.rcode == 0 {
            h.add(2)
            // Length bytes are below 0x41, so folding every byte folds only the letters.
            for i in DNSWire.headerSize..<(DNSWire.headerSize + n) {
                let c = query[i]
                h.add(c >= 0x41 && c <= 0x5A ? c | 0x20 : c)
            }
            h.add(UInt8(outcome.qtype >> 8)); h.add(UInt8(truncatingIfNeeded: outcome.qtype))
        }
        return h.finalize()
    }
}
