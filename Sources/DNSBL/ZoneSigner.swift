#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DNSSEC
import PrefixStore
import DNSWire
import Synchronization

/// The validity window of the RRSIGs `serve` makes and when a cached one is made anew.
public struct SignatureValidity: Sendable, Hashable {
    /// Seconds before now the inception lies (clock skew of validators); default 3600.
    public var inceptionOffset: UInt32 = 3600
    /// Seconds after now the expiration lies; default 14 days (1,209,600).
    public var lifetime: UInt32 = 14 * 86_400
    /// A cached signature expiring within this many seconds is made anew before it is served
    /// again; default half the lifetime (7 days for the default window).
    public var refreshMargin: UInt32 = 7 * 86_400
    public init(inceptionOffset: UInt32 = 3600, lifetime: UInt32 = 14 * 86_400, refreshMargin: UInt32? = nil) {
        self.inceptionOffset = inceptionOffset; self.lifetime = lifetime
        self.refreshMargin = refreshMargin ?? lifetime / 2
    }
}

/// The signing side of one signed zone: its keys, its DNSKEY RRset and a bounded cache of
/// RRSIG RDATA keyed by owner, type, TTL and RRset content (RFC 4034 §3), so that each RRset
/// is signed once per validity window however many names share it (a wildcard, the NSEC of a
/// gap). Thread-safe: the cache sits behind a mutex; counters are atomics.
///
/// Keys: when the set holds keys with the SEP flag (257) and keys without it, the SEP keys
/// sign the DNSKEY RRset and the others everything else; otherwise (one key, a CSK, or keys
/// all of one kind) every key signs every RRset.
public final class ZoneSigner: Sendable {
    /// The zone apex the keys' owner names: uncompressed lower-case wire form.
    public let apex: [UInt8]
    /// The keys, public halves only in any description.
    public let keys: [SigningKey]
    /// DNSKEY RDATA of every key (RFC 4034 §2.1), the apex's DNSKEY RRset.
    public let dnskeyRData: [[UInt8]]
    public let validity: SignatureValidity
    /// Largest number of RRsets whose signatures are kept.
    public let cacheCapacity: Int
    let dnskeySigners: [SigningKey]
    let dataSigners: [SigningKey]
    /// Unix seconds now, as this signer reads it (signatures and their refresh use it).
    public let clock: @Sendable () -> UInt32
    private let cache: Mutex<[CacheKey: CacheEntry]>
    private let made = Atomic<Int>(0)
    private let hits = Atomic<Int>(0)
    private let misses = Atomic<Int>(0)

    struct CacheKey: Hashable {
        var owner: [UInt8]
        var type: UInt16
        var ttl: UInt32
        var rdatas: [[UInt8]]
    }

    struct CacheEntry {
        var rrsigs: [[UInt8]]
        var expiration: UInt32
    }

    /// - Parameters:
    ///   - keys: at least one key; all owned by the same name, which becomes ``apex``.
    ///   - validity: the window (``SignatureValidity``).
    ///   - cacheCapacity: RRsets whose signatures are kept (at least 1); when full an
    ///     arbitrary entry is dropped for a new one.
    ///   - clock: Unix seconds now (tests move it); default the system's real-time clock.
    public init(keys: [SigningKey], validity: SignatureValidity = SignatureValidity(), cacheCapacity: Int = 100_000,
                clock: @escaping @Sendable () -> UInt32 = { UInt32(truncatingIfNeeded: time(nil)) }) {
        precondition(!keys.isEmpty, "a signed zone needs a key")
        var owner = keys[0].dnskey.owner
        CanonicalName.canonicalize(&owner)
        self.apex = owner
        self.keys = keys
        self.dnskeyRData = keys.map(\.dnskey.rdata)
        self.validity = validity
        self.cacheCapacity = max(1, cacheCapacity)
        self.clock = clock
        let sep = keys.filter { $0.dnskey.isSEP }, other = keys.filter { !$0.dnskey.isSEP }
        if sep.isEmpty || other.isEmpty {
            dnskeySigners = keys; dataSigners = keys
        } else {
            dnskeySigners = sep; dataSigners = other
        }
        cache = Mutex([:])
    }

    /// Signatures made since start (one per key per RRset signed).
    public var signaturesMade: Int { made.load(ordering: .relaxed) }
    /// RRsets whose signatures came from the cache.
    public var cacheHits: Int { hits.load(ordering: .relaxed) }
    /// RRsets that had to be signed (not cached, or cached too close to expiry).
    public var cacheMisses: Int { misses.load(ordering: .relaxed) }
    /// RRsets in the cache.
    public var cachedRRsets: Int { cache.withLock { $0.count } }

    /// Seconds until the soonest expiration of a cached signature (negative: one has
    /// expired in the cache; it is never served, see ``signatures(owner:type:ttl:rdatas:)``);
    /// nil when nothing is cached.
    public var secondsUntilSoonestExpiry: Int? {
        let now = clock()
        return cache.withLock { c -> Int? in
            var soonest: Int? = nil
            for e in c.values {
                let left = Int(Int32(bitPattern: e.expiration &- now))
                soonest = min(soonest ?? left, left)
            }
            return soonest
        }
    }

    /// RRSIG RDATA for one RRset, one per signing key (RFC 4034 §3.1): from the cache when a
    /// signature of exactly this RRset expires more than the refresh margin from now, else
    /// made now and cached. Signing failures (the crypto library refusing) leave the RRset
    /// unsigned (an empty array), which validators treat as bogus rather than wrong data.
    /// - Parameters:
    ///   - owner: uncompressed lower-case wire owner; a wildcard (`*.…`) for a wildcard
    ///     expansion (the Labels field then excludes the `*`, RFC 4034 §3.1.3).
    ///   - type: the RRset's type; DNSKEY is signed by the SEP keys (see the class comment).
    ///   - ttl: the original TTL, seconds.
    ///   - rdatas: each RR's RDATA, uncompressed, names lower-cased where RFC 4034 §6.2 asks.
    public func signatures(owner: [UInt8], type: UInt16, ttl: UInt32, rdatas: [[UInt8]]) -> [[UInt8]] {
        let key = CacheKey(owner: owner, type: type, ttl: ttl, rdatas: DNSSECRecords.canonicalOrder(rdatas))
        let now = clock()
        if let cached = cache.withLock({ $0[key] }),
           Int32(bitPattern: cached.expiration &- now) > Int32(clamping: validity.refreshMargin) {
            hits.add(1, ordering: .relaxed)
            return cached.rrsigs
        }
        misses.add(1, ordering: .relaxed)
        let inception = now &- validity.inceptionOffset, expiration = now &+ validity.lifetime
        var out: [[UInt8]] = []
        for k in type == DNSSECRecords.typeDNSKEY ? dnskeySigners : dataSigners {
            if let sig = try? k.rrsig(owner: owner, type: type, ttl: ttl, rdatas: key.rdatas,
                                      inception: inception, expiration: expiration) {
                out.append(sig)
                made.add(1, ordering: .relaxed)
            }
        }
        cache.withLock { c in
            if c[key] == nil, c.count >= cacheCapacity, let victim = c.keys.first { c[victim] = nil }
            c[key] = CacheEntry(rrsigs: out, expiration: expiration)
        }
        return out
    }
}

/// DNSSEC for `serve`: the zones to sign and how their signed views are made.
public struct DNSSECServing: Sendable {
    /// One signer per signed zone (by ``ZoneSigner/apex``).
    public var signers: [ZoneSigner]
    /// Makes the signed view of a zone from the stores of one snapshot (every part of the
    /// zone, in store order); called when a Responder is built. The daemon supplies it.
    public var makeView: @Sendable (_ stores: [Store], _ signer: ZoneSigner) -> any SignedZoneView

    public init(signers: [ZoneSigner], makeView: @escaping @Sendable (_ stores: [Store], _ signer: ZoneSigner) -> any SignedZoneView) {
        self.signers = signers; self.makeView = makeView
    }
}
