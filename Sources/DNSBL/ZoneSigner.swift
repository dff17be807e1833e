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
/// gap). Thread-safe: the cache and the key state sit behind mutexes; counters are atomics.
///
/// Keys: each key's `KeyTiming` says when it is published (in the DNSKEY RRset) and when
/// it signs; the state is worked out again whenever a timing boundary has passed, so a
/// rollover step takes effect without a reload. Among the keys active now: when there are
/// keys with the SEP flag (257) and keys without it, the SEP keys sign the DNSKEY RRset and
/// the others everything else; otherwise (one key, a CSK, or keys all of one kind) every
/// active key signs every RRset. A key published but not active (ZSK pre-publication) is in
/// the DNSKEY RRset and signs nothing. ``replaceKeys(_:)`` installs a re-read key set.
/// When timing leaves no key published or none active (every Delete passed while serving),
/// the keys published last stay published and the keys active last sign on
/// (``KeyState/noPublishedKey``, ``KeyState/noActiveKey``): a key that signs is always in
/// the DNSKEY RRset, and the DNSKEY RRset is never empty.
///
/// Re-signing: a signature is served from the cache while it expires more than the refresh
/// margin from now; ``resignDue(limit:)`` (the daemon's background task) re-signs, before they
/// reach the margin, the cached RRsets that were served since they were signed, each at its
/// own jittered time, and drops the others. The query that finds a signature inside the
/// margin (the background task late or absent) still re-signs it: none expired is served.
public final class ZoneSigner: Sendable {
    /// The zone apex the keys' owner names: uncompressed lower-case wire form.
    public let apex: [UInt8]
    public let validity: SignatureValidity
    /// Largest number of RRsets whose signatures are kept.
    public let cacheCapacity: Int
    /// Whether the signed zone gives every empty non-terminal an HINFO RRset
    /// (``SignedViewRecords/emptyNonTerminalHINFO``) and so an NSEC of its own
    /// (`--dnssec-ent-rrset`): the views, the answers, the transfers and the signed export of
    /// this zone all follow it.
    public let emptyNonTerminalRecords: Bool
    /// Unix seconds now, as this signer reads it (signatures and their refresh use it).
    public let clock: @Sendable () -> UInt32
    let jitter: @Sendable (UInt32) -> UInt32
    private let keyState: Mutex<KeyState>
    /// Mirrors of the key state for the query path's lock-free check.
    private let generation = Atomic<Int>(0)
    private let nextBoundary = Atomic<Int64>(.max)
    private let cache: Mutex<SignatureTable>
    /// Re-signing times of the cached RRsets, soonest first (items whose RRset was re-signed or
    /// dropped since are skipped when they come up), so a round touches only what is due.
    private let dueQueue = Mutex(DueQueue())
    /// The key generation the last round scanned the whole cache for.
    private let scannedGeneration = Atomic<Int>(0)
    private let made = Atomic<Int>(0)
    private let hits = Atomic<Int>(0)
    private let misses = Atomic<Int>(0)
    private let resigned = Atomic<Int>(0)
    private let dropped = Atomic<Int>(0)
    private let versions = Atomic<Int>(0)

    struct CacheKey: Hashable {
        var owner: [UInt8]
        var type: UInt16
        var ttl: UInt32
        var rdatas: [[UInt8]]
    }

    /// The signature cache: the entries, and the order they came in (a ring of ``cacheCapacity``
    /// slots) for eviction. When full, the oldest entry goes (first in, first out), in O(1):
    /// dropping `keys.first` of a full Dictionary instead made every insertion after a few
    /// hundred thousand evictions scan a growing run of occupied buckets (measured: 50,000
    /// insertions into a full 100,000-entry table took 0.15–0.8 s in the first rounds, then 46 s).
    struct SignatureTable {
        var entries: [CacheKey: CacheEntry] = [:]
        private var ring: [CacheKey] = []
        private var next = 0

        /// Stores `entry` for `key`; a key not held takes the next ring slot, and the key that
        /// held that slot (the oldest insertion) is dropped when `capacity` slots are in use.
        mutating func insert(_ key: CacheKey, _ entry: CacheEntry, capacity: Int) {
            if entries.updateValue(entry, forKey: key) != nil { return }
            if ring.count < capacity {
                ring.append(key)
                return
            }
            let old = ring[next]
            ring[next] = key
            next = next + 1 == ring.count ? 0 : next + 1
            if old != key { entries[old] = nil }
        }
    }

    struct CacheEntry {
        var rrsigs: [[UInt8]]
        var expiration: UInt32
        /// When the background task re-signs it: before the refresh margin, jittered.
        var refreshAt: UInt32
        /// The key generation that signed it (a change of signing keys makes it stale).
        var generation: Int
        /// Set when it is served (from this cache or a responder's copy) after it was signed.
        var use: UseMark
        var used: Bool { use.used.load(ordering: .relaxed) }
    }

    /// Whether the signatures of one cached RRset were served since they were made: shared
    /// with the responders' copies (`RRSIGWireCache`), which set it on their hits without a
    /// lock or an allocation, so the background round re-signs the RRsets in use.
    final class UseMark: Sendable {
        let used = Atomic<Bool>(false)
        func note() { if !used.load(ordering: .relaxed) { used.store(true, ordering: .relaxed) } }
    }

    /// One RRset's signatures as a responder keeps a copy of them.
    struct SignaturesForCopy {
        var rrsigs: [[UInt8]]
        /// The copy is served until then (Unix seconds): the background re-signing time, so
        /// after it the responder takes the re-made signatures from here.
        var refreshAt: UInt32
        var generation: Int
        var use: UseMark
    }

    /// The keys as of one moment.
    public struct KeyState: Sendable {
        /// Every key given (published or not).
        public var keys: [SigningKey]
        /// DNSKEY RDATA of the published keys (RFC 4034 §2.1): the apex's DNSKEY RRset.
        public var published: [[UInt8]]
        public var dnskeySigners: [SigningKey]
        public var dataSigners: [SigningKey]
        /// Bumped whenever the signing keys change: older signatures are made anew.
        public var generation: Int
        /// The next timing boundary of any key (Unix seconds), `Int64.max` if none.
        public var nextBoundary: Int64
        /// No key is active now: the last active keys sign on (logged by the daemon).
        public var noActiveKey: Bool
        /// No key is published now: the last published keys stay published (logged by the
        /// daemon). The zone never serves an empty DNSKEY RRset.
        public var noPublishedKey = false
        /// Bumped whenever the published keys, the signing keys or ``noActiveKey`` change
        /// (for whoever logs the changes: any caller may be the one that works them out).
        public var version: Int
        /// The last change came from ``replaceKeys(_:)`` (a reload), not from the clock.
        public var reloaded = false
    }

    /// - Parameters:
    ///   - keys: at least one key; all owned by the same name, which becomes ``apex``.
    ///   - validity: the window (``SignatureValidity``).
    ///   - cacheCapacity: RRsets whose signatures are kept (at least 1); when full the
    ///     oldest entry is dropped for a new one (O(1), `SignatureTable`).
    ///   - clock: Unix seconds now (tests move it); default the system's real-time clock.
    ///   - emptyNonTerminalRecords: ``emptyNonTerminalRecords``.
    ///   - jitter: a number in `0...bound` (default uniformly random), subtracted from each
    ///     background re-signing time so RRsets signed together do not fall due together.
    public init(keys: [SigningKey], validity: SignatureValidity = SignatureValidity(), cacheCapacity: Int = 100_000,
                clock: @escaping @Sendable () -> UInt32 = { UInt32(truncatingIfNeeded: time(nil)) },
                jitter: @escaping @Sendable (UInt32) -> UInt32 = { $0 == 0 ? 0 : UInt32.random(in: 0...$0) },
                emptyNonTerminalRecords: Bool = false) {
        self.emptyNonTerminalRecords = emptyNonTerminalRecords
        precondition(!keys.isEmpty, "a signed zone needs a key")
        var owner = keys[0].dnskey.owner
        CanonicalName.canonicalize(&owner)
        self.apex = owner
        self.validity = validity
        self.cacheCapacity = max(1, cacheCapacity)
        self.clock = clock
        self.jitter = jitter
        let state = Self.state(keys: keys, at: Int64(clock()), previous: nil)
        keyState = Mutex(state)
        nextBoundary.store(state.nextBoundary, ordering: .relaxed)
        cache = Mutex(SignatureTable())
    }

    /// Why `keys` cannot sign zone `apex` at Unix time `now`, or nil: no key is active (its
    /// `Activate` passed, its `Inactive` and `Delete` not), or a key belongs to another zone.
    public static func problem(keys: [SigningKey], apex: [UInt8], at now: Int64) -> String? {
        for k in keys {
            var o = k.dnskey.owner
            CanonicalName.canonicalize(&o)
            if o != apex { return "key \(k.source) belongs to zone \(CanonicalName.text(o)), not \(CanonicalName.text(apex))" }
        }
        if !keys.contains(where: { $0.timing.isActive(at: now) }) {
            let list = keys.map { k in "\(k.source) (tag \(k.dnskey.keyTag))" }.joined(separator: ", ")
            return "no key of zone \(CanonicalName.text(apex)) is active for signing at \(KeyTiming.text(now)) UTC (Activate passed, Inactive and Delete not): \(list)"
        }
        return nil
    }

    /// The key state of `keys` at Unix time `now` (seconds), `previous` the state before
    /// (its keys sign on, or stay published, when timing leaves none active or published).
    public static func state(keys: [SigningKey], at now: Int64, previous: KeyState?) -> KeyState {
        var published = keys.filter { $0.timing.isPublished(at: now) }.map(\.dnskey.rdata)
        let noPublished = published.isEmpty
        if noPublished {
            // Never an empty DNSKEY RRset (a validator fails the whole zone): the keys published
            // last stay published until a key is published again.
            published = previous.map(\.published).flatMap { $0.isEmpty ? nil : $0 } ?? keys.map(\.dnskey.rdata)
        }
        var active = keys.filter { $0.timing.isActive(at: now) }
        let noActive = active.isEmpty
        if noActive {
            // Never sign nothing: the keys that signed last sign on until a key is active.
            if let p = previous {
                active = p.dataSigners
                for k in p.dnskeySigners where !active.contains(where: { $0.dnskey == k.dnskey }) { active.append(k) }
            } else {
                active = keys
            }
        }
        var sepHeld = false
        if !noActive, let p = previous, !active.contains(where: { $0.dnskey.isSEP }) {
            // The chain of trust enters through the SEP keys the parent's DS names: a boundary
            // that leaves no SEP key active (keys' Delete or Inactive a second apart) keeps the
            // SEP keys that signed the DNSKEY RRset signing it until an SEP key is active again.
            let held = p.dnskeySigners.filter { k in k.dnskey.isSEP && !active.contains { $0.dnskey == k.dnskey } }
            if !held.isEmpty { active += held; sepHeld = true }
        }
        let sep = active.filter { $0.dnskey.isSEP }, other = active.filter { !$0.dnskey.isSEP }
        let (dnskeySigners, dataSigners) = sep.isEmpty || other.isEmpty ? (active, active) : (sep, other)
        // A key that signs is published (else its signatures cannot be validated): the last
        // active keys signing on after their Delete stay in the DNSKEY RRset.
        for k in dnskeySigners + dataSigners where !published.contains(k.dnskey.rdata) { published.append(k.dnskey.rdata) }
        var generation = previous?.generation ?? 0
        if let p = previous, p.dnskeySigners.map(\.dnskey) != dnskeySigners.map(\.dnskey) || p.dataSigners.map(\.dnskey) != dataSigners.map(\.dnskey) {
            generation += 1
        }
        let next = keys.flatMap(\.timing.boundaries).filter { $0 > now }.min() ?? .max
        var version = previous?.version ?? 0
        if let p = previous, p.published != published || p.generation != generation || p.noActiveKey != (noActive || sepHeld)
            || p.noPublishedKey != noPublished || p.keys.map(\.dnskey) != keys.map(\.dnskey) {
            version += 1
        }
        return KeyState(keys: keys, published: published, dnskeySigners: dnskeySigners, dataSigners: dataSigners,
                        generation: generation, nextBoundary: next, noActiveKey: noActive || sepHeld, noPublishedKey: noPublished,
                        version: version)
    }

    /// The key state now, worked out again when a timing boundary has passed.
    /// - Returns: the state and whether it changed (a boundary passed) in this call.
    @discardableResult
    public func keysNow() -> (state: KeyState, changed: Bool) {
        let now = Int64(clock())
        return keyState.withLock { s in
            guard now >= s.nextBoundary else { return (s, false) }
            let before = s
            s = Self.state(keys: s.keys, at: now, previous: s)
            generation.store(s.generation, ordering: .releasing)
            nextBoundary.store(s.nextBoundary, ordering: .releasing)
            return (s, before.version != s.version)
        }
    }

    /// The generation of the signing keys at `now`, without a lock unless a boundary passed: it
    /// changes whenever the keys that sign change (timing boundary or reload), so copies of
    /// signatures kept elsewhere (`RRSIGWireCache`) know they are stale.
    func generationNow(_ now: UInt32) -> Int {
        if Int64(now) >= nextBoundary.load(ordering: .acquiring) { return keysNow().state.generation }
        return generation.load(ordering: .acquiring)
    }

    /// Installs a re-read key set (a reload): signatures by keys that no longer sign are made
    /// anew (by the background task, or by the query that needs them).
    /// - Throws: ``InvalidKeySet`` when ``problem(keys:apex:at:)`` finds one; the old keys stay.
    public func replaceKeys(_ keys: [SigningKey]) throws(InvalidKeySet) {
        let now = Int64(clock())
        if keys.isEmpty { throw InvalidKeySet(reason: "no key for zone \(CanonicalName.text(apex))") }
        if let why = Self.problem(keys: keys, apex: apex, at: now) { throw InvalidKeySet(reason: why) }
        keyState.withLock { s in
            let before = s.version
            s = Self.state(keys: keys, at: now, previous: s)
            s.reloaded = s.version != before
            generation.store(s.generation, ordering: .releasing)
            nextBoundary.store(s.nextBoundary, ordering: .releasing)
        }
    }

    /// Every key given, published or not.
    public var keys: [SigningKey] { keysNow().state.keys }
    /// DNSKEY RDATA of the keys published now (RFC 4034 §2.1), the apex's DNSKEY RRset.
    public var dnskeyRData: [[UInt8]] { keysNow().state.published }
    /// Changes whenever the keys that sign change (a timing boundary passed, a reload): keepers
    /// of signatures made earlier (a transfer's carried RRSIGs) start afresh when it moves.
    public var keyGeneration: Int { generationNow(clock()) }

    /// New versions of the zone made for its secondaries without a data change (signatures
    /// due, key timing), counted by whoever makes them (``noteResignVersion()``).
    public var resignVersions: Int { versions.load(ordering: .relaxed) }
    /// Counts one version for ``resignVersions``.
    public func noteResignVersion() { versions.add(1, ordering: .relaxed) }

    /// Signatures made since start (one per key per RRset signed), background ones included.
    public var signaturesMade: Int { made.load(ordering: .relaxed) }
    /// RRsets whose signatures came from the cache.
    public var cacheHits: Int { hits.load(ordering: .relaxed) }
    /// Counts a cache hit served from a Responder's own copy (`RRSIGWireCache`).
    func noteCacheHit() { hits.add(1, ordering: .relaxed) }
    /// RRsets that had to be signed by a query (not cached, or cached too close to expiry).
    public var cacheMisses: Int { misses.load(ordering: .relaxed) }
    /// RRsets re-signed by ``resignDue(limit:)``.
    public var backgroundResigned: Int { resigned.load(ordering: .relaxed) }
    /// RRsets ``resignDue(limit:)`` dropped because nothing asked for them since they were signed.
    public var backgroundDropped: Int { dropped.load(ordering: .relaxed) }
    /// RRsets in the cache.
    public var cachedRRsets: Int { cache.withLock { $0.entries.count } }
    /// Whether timing left no key published or none active now, so the last ones are held
    /// over (``KeyState/noPublishedKey``, ``KeyState/noActiveKey``).
    public var keysHeldOver: Bool { let s = keysNow().state; return s.noActiveKey || s.noPublishedKey }

    private let keyReloadFailures = Atomic<Int>(0)
    /// Key re-reads at reload that failed for this zone (the files unreadable, or the new set
    /// refused): the previous keys kept signing. Counted by whoever re-reads the keys.
    public var keyReloadsFailed: Int { keyReloadFailures.load(ordering: .relaxed) }
    /// Counts one failed key re-read (``keyReloadsFailed``).
    public func noteKeyReloadFailure() { keyReloadFailures.add(1, ordering: .relaxed) }

    /// Seconds until the soonest expiration of a cached signature that has not expired yet;
    /// nil when none is cached. A signature that expired in the cache (its RRset asked for by
    /// nobody, the background round late or absent) is left out: it is never served (a query
    /// signs its RRset anew, see ``signatures(owner:type:ttl:rdatas:expiringAfter:cacheResult:)``), so it would only make
    /// the figure negative.
    public var secondsUntilSoonestExpiry: Int? {
        let now = clock()
        return cache.withLock { c -> Int? in
            var soonest: Int? = nil
            for e in c.entries.values {
                let left = Int(Int32(bitPattern: e.expiration &- now))
                if left <= 0 { continue }
                soonest = min(soonest ?? left, left)
            }
            return soonest
        }
    }

    /// RRSIG RDATA for one RRset, one per signing key (RFC 4034 §3.1): from the cache when a
    /// signature of exactly this RRset by the current signing keys expires more than the
    /// refresh margin from now, else made now and cached. Signing failures (the crypto
    /// library refusing) leave the RRset unsigned (an empty array), which validators treat as
    /// bogus rather than wrong data.
    /// - Parameters:
    ///   - owner: uncompressed lower-case wire owner; a wildcard (`*.…`) for a wildcard
    ///     expansion (the Labels field then excludes the `*`, RFC 4034 §3.1.3).
    ///   - type: the RRset's type; DNSKEY is signed by the SEP keys (see the class comment).
    ///   - ttl: the original TTL, seconds.
    ///   - rdatas: each RR's RDATA, uncompressed, names lower-cased where RFC 4034 §6.2 asks.
    ///   - expiringAfter: when given, a cached signature expiring at or before this time (Unix
    ///     seconds, serial arithmetic) is made anew too (a transfer re-signing an RRset ahead
    ///     of the margin, `ZoneTransfer.SignatureCarry`).
    ///   - cacheResult: store signatures made now in the cache (false: a transfer signing a
    ///     whole zone looks the cache up but does not fill it, nor the re-signing queue).
    public func signatures(owner: [UInt8], type: UInt16, ttl: UInt32, rdatas: [[UInt8]], expiringAfter: UInt32? = nil,
                           cacheResult: Bool = true) -> [[UInt8]] {
        // No RRSIG without its RRset (RFC 4035 §2.2 signs RRsets; an empty one is none).
        if rdatas.isEmpty { return [] }
        let key = CacheKey(owner: owner, type: type, ttl: ttl, rdatas: DNSSECRecords.canonicalOrder(rdatas))
        let now = clock()
        let current = generationNow(now)
        let margin = Int32(clamping: validity.refreshMargin)
        let cached = cache.withLock { c -> [[UInt8]]? in
            guard let i = c.entries.index(forKey: key) else { return nil }
            let e = c.entries.values[i]
            guard e.generation == current, Int32(bitPattern: e.expiration &- now) > margin else { return nil }
            if let after = expiringAfter, Int32(bitPattern: e.expiration &- after) <= 0 { return nil }
            e.use.note()
            return e.rrsigs
        }
        if let cached {
            hits.add(1, ordering: .relaxed)
            return cached
        }
        misses.add(1, ordering: .relaxed)
        let entry = sign(key, now: now, state: keysNow().state, used: false)
        if cacheResult { store(key, entry) }
        return entry.rrsigs
    }

    /// ``signatures(owner:type:ttl:rdatas:expiringAfter:cacheResult:)`` for a responder that keeps a copy: also when the
    /// copy must be given up and the mark its hits set.
    func signaturesForCopy(owner: [UInt8], type: UInt16, ttl: UInt32, rdatas: [[UInt8]]) -> SignaturesForCopy {
        let key = CacheKey(owner: owner, type: type, ttl: ttl, rdatas: DNSSECRecords.canonicalOrder(rdatas))
        let now = clock()
        let current = generationNow(now)
        let margin = Int32(clamping: validity.refreshMargin)
        let cached = cache.withLock { c -> CacheEntry? in
            guard let e = c.entries[key], e.generation == current, Int32(bitPattern: e.expiration &- now) > margin else { return nil }
            e.use.note()
            return e
        }
        let entry: CacheEntry
        if let cached {
            hits.add(1, ordering: .relaxed)
            entry = cached
        } else {
            misses.add(1, ordering: .relaxed)
            entry = sign(key, now: now, state: keysNow().state, used: false)
            store(key, entry)
        }
        // A signature made by a query inside its own margin (refreshAt already past) is kept
        // by the responder until the margin, as before.
        let until = Int32(bitPattern: entry.refreshAt &- now) > 0 ? entry.refreshAt : entry.expiration &- validity.refreshMargin
        return SignaturesForCopy(rrsigs: entry.rrsigs, refreshAt: until, generation: entry.generation, use: entry.use)
    }

    private func sign(_ key: CacheKey, now: UInt32, state: KeyState, used: Bool) -> CacheEntry {
        let inception = now &- validity.inceptionOffset, expiration = now &+ validity.lifetime
        var out: [[UInt8]] = []
        for k in key.type == DNSSECRecords.typeDNSKEY ? state.dnskeySigners : state.dataSigners {
            if let sig = try? k.rrsig(owner: key.owner, type: key.type, ttl: key.ttl, rdatas: key.rdatas,
                                      inception: inception, expiration: expiration) {
                out.append(sig)
                made.add(1, ordering: .relaxed)
            }
        }
        // Background re-signing falls due before the margin, by up to a quarter of the time
        // the signature is served from the cache.
        let served = validity.lifetime > validity.refreshMargin ? validity.lifetime - validity.refreshMargin : 0
        let refreshAt = expiration &- validity.refreshMargin &- jitter(served / 4)
        return CacheEntry(rrsigs: out, expiration: expiration, refreshAt: refreshAt, generation: state.generation, use: { let m = UseMark(); if used { m.note() }; return m }())
    }

    private func store(_ key: CacheKey, _ entry: CacheEntry) {
        cache.withLock { c in
            c.insert(key, entry, capacity: cacheCapacity)
        }
        dueQueue.withLock { $0.push(entry.refreshAt, key) }
    }

    /// A binary min-heap of (re-signing time, RRset), times compared as serial numbers.
    struct DueQueue {
        var items: [(at: UInt32, key: CacheKey)] = []
        static func before(_ a: UInt32, _ b: UInt32) -> Bool { Int32(bitPattern: a &- b) < 0 }
        var top: UInt32? { items.first?.at }
        mutating func push(_ at: UInt32, _ key: CacheKey) {
            items.append((at, key))
            var i = items.count - 1
            while i > 0 {
                let p = (i - 1) / 2
                guard Self.before(items[i].at, items[p].at) else { break }
                items.swapAt(i, p); i = p
            }
        }
        /// Removes and returns every item due at `now`.
        mutating func popDue(_ now: UInt32) -> [(at: UInt32, key: CacheKey)] {
            var out: [(at: UInt32, key: CacheKey)] = []
            while let t = top, !Self.before(now, t) {
                out.append(items[0])
                let last = items.removeLast()
                guard !items.isEmpty else { break }
                items[0] = last
                var i = 0
                while true {
                    let l = 2 * i + 1, r = l + 1
                    var m = i
                    if l < items.count, Self.before(items[l].at, items[m].at) { m = l }
                    if r < items.count, Self.before(items[r].at, items[m].at) { m = r }
                    if m == i { break }
                    items.swapAt(i, m); i = m
                }
            }
            return out
        }
    }

    /// Whether ``resignDue(limit:)`` has anything to do now: an RRset's re-signing time has
    /// come, or the signing keys changed since the last round. Cheap (no cache scan).
    public var hasDue: Bool {
        let now = clock()
        if keysNow().state.generation != scannedGeneration.load(ordering: .acquiring) { return true }
        return dueQueue.withLock { q in q.top.map { !DueQueue.before(now, $0) } ?? false }
    }

    /// What one ``resignDue(limit:)`` round did.
    public struct ResigningRound: Sendable, Equatable {
        /// RRsets re-signed.
        public var resigned = 0
        /// RRsets dropped: due, but not served since they were signed.
        public var dropped = 0
        /// The soonest re-signing time queued (Unix seconds; the RRset may have been re-signed or
        /// dropped since), nil if none.
        public var nextDue: UInt32? = nil
    }

    /// The background re-signing round (call it off the query path, every second or so):
    /// every cached RRset whose jittered re-signing time has come, or that was signed by keys
    /// that no longer sign, is signed anew if it was served since its last signing, else
    /// dropped from the cache (a query that wants it again signs it). Queries go on meanwhile:
    /// the cache lock is held only to pick the RRsets and to store each new signature.
    /// - Parameter limit: at most this many RRsets are re-signed in one round (the rest stay
    ///   due for the next).
    public func resignDue(limit: Int = .max) -> ResigningRound {
        let now = clock()
        let state = keysNow().state
        var round = ResigningRound()
        var due: [(CacheKey, UInt32)] = []
        // Normally only the items that came due are looked at; after a change of signing keys
        // the whole cache once (every RRset's signatures are then stale).
        let fullScan = scannedGeneration.exchange(state.generation, ordering: .acquiringAndReleasing) != state.generation
        let popped = fullScan ? [] : dueQueue.withLock { $0.popDue(now) }
        cache.withLock { c in
            var gone: [CacheKey] = []
            func consider(_ k: CacheKey, _ e: CacheEntry) {
                guard e.generation != state.generation || Int32(bitPattern: e.refreshAt &- now) <= 0 else { return }
                if e.used { due.append((k, e.refreshAt)) } else { gone.append(k) }
            }
            if fullScan {
                for (k, e) in c.entries { consider(k, e) }
            } else {
                // An item whose RRset was re-signed (another time) or dropped meanwhile is stale.
                for item in popped { if let e = c.entries[item.key], e.refreshAt == item.at { consider(item.key, e) } }
            }
            for k in gone { c.entries[k] = nil }
            round.dropped = gone.count
        }
        // Stale items (RRsets re-signed by queries, dropped for room) are rebuilt away when
        // they outnumber the cache.
        if dueQueue.withLock({ $0.items.count }) > 2 * cacheCapacity + 1024 {
            let live = cache.withLock { c in c.entries.map { (at: $0.value.refreshAt, key: $0.key) } }
            dueQueue.withLock { q in q = DueQueue(); for item in live { q.push(item.at, item.key) } }
        }
        due.sort { Int32(bitPattern: $0.1 &- $1.1) < 0 }
        if due.count > max(0, limit) {
            // Not re-signed in this round: due again at the next.
            dueQueue.withLock { q in for (k, at) in due[max(0, limit)...] { q.push(at, k) } }
        }
        for (k, _) in due.prefix(max(0, limit)) {
            let entry = sign(k, now: now, state: state, used: false)
            cache.withLock { c in
                // A query may have re-signed it meanwhile: keep the later signature.
                if let old = c.entries[k], old.generation == state.generation, Int32(bitPattern: old.expiration &- entry.expiration) >= 0 { return }
                c.insert(k, entry, capacity: cacheCapacity)
            }
            dueQueue.withLock { $0.push(entry.refreshAt, k) }
            round.resigned += 1
        }
        resigned.add(round.resigned, ordering: .relaxed)
        dropped.add(round.dropped, ordering: .relaxed)
        round.nextDue = dueQueue.withLock { $0.top }
        return round
    }
}

/// A re-read key set that cannot sign its zone (``ZoneSigner/replaceKeys(_:)``).
public struct InvalidKeySet: Error, Sendable, CustomStringConvertible {
    public var reason: String
    public var description: String { reason }
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
