#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CoreMetrics
import DNSBL
import DNSWire
import Logging
import Prometheus
import PrefixStore
import Synchronization

/// Per-thread query counters: plain 64-bit slots written by one thread only (a UDP worker or
/// one TCP event loop), read by the aggregator once a second. Aligned 64-bit loads and stores
/// do not tear on the platforms we run on; a read that misses the latest increment sees it at
/// the next aggregation. Nothing is allocated per query.
public final class QueryCounters: @unchecked Sendable {
    /// Slot layout.
    enum Slot {
        static let rcodes = 24                 // RCODE 0…23 (BADCOOKIE is 23)
        static let queries = 0                 // [transport 0 udp, 1 tcp][rcode]
        static let qtypes = queries + 2 * rcodes  // [QTYPE bucket]
        static let qtypeBuckets = 8
        static let listed = qtypes + qtypeBuckets
        static let notListed = listed + 1
        static let truncated = notListed + 1
        static let rrlSlipped = truncated + 1
        static let rrlDropped = rrlSlipped + 1
        static let badCookie = rrlDropped + 1
        static let staleRefused = badCookie + 1
        /// UDP datagrams larger than the receive slot (MSG_TRUNC).
        static let oversized = staleRefused + 1
        /// Answered queries with the DO bit (RFC 3225).
        static let dnssecOK = oversized + 1
        static let latency = dnssecOK + 1  // [bucket]
        static let latencySumNanos = latency + ServerMetrics.latencyBounds.count + 1
        /// [zone slot][transport][rcode]; zone slot 0 = no zone, 1…maxZones = named zones in
        /// the order first seen, maxZones + 1 = every further zone.
        static let zones = latencySumNanos + 1
        static let zoneSlots = ZoneSlots.maxZones + 2
        static let count = zones + zoneSlots * 2 * rcodes
    }
    /// QTYPE label per bucket.
    static let qtypeNames = ["A", "AAAA", "TXT", "ANY", "SOA", "NS", "PTR", "other"]
    /// Responder zone indexes above this many count as "other".
    static let mappedZones = 1024
    let slots: UnsafeMutablePointer<UInt64>
    /// Responder zone index → zone slot, for the snapshot last seen by ``use(_:)``.
    let zoneMap: UnsafeMutablePointer<UInt8>
    let zoneSlots: ZoneSlots
    private var mappedSnapshot: ObjectIdentifier? = nil
    private var mappedGeneration = -1
    /// Per-key counts (aclkey, KeyMetrics.swift).
    let keys: KeyCounters  // aclkey

    init(zoneSlots: ZoneSlots = ZoneSlots(), keySlots: KeySlots = KeySlots()) {
        keys = KeyCounters(keySlots)  // aclkey
        slots = .allocate(capacity: Slot.count)
        slots.initialize(repeating: 0, count: Slot.count)
        zoneMap = .allocate(capacity: Self.mappedZones)
        zoneMap.initialize(repeating: 0, count: Self.mappedZones)
        self.zoneSlots = zoneSlots
    }
    deinit { slots.deallocate(); zoneMap.deallocate() }

    /// Points the per-zone counts at the zones of `snapshot`. Call with the snapshot each
    /// query (or batch) is answered from; only the owning thread calls it. Costs a comparison
    /// unless the snapshot changed; then the zone names are looked up (allocates, once per
    /// reload per thread).
    @inline(__always)
    public func use(_ snapshot: Snapshot) {
        if snapshot.generation == mappedGeneration && ObjectIdentifier(snapshot) == mappedSnapshot { return }
        remap(snapshot)
    }

    private func remap(_ snapshot: Snapshot) {
        mappedSnapshot = ObjectIdentifier(snapshot)
        mappedGeneration = snapshot.generation
        let names = snapshot.responder.zoneNames
        keys.reset(keyCount: snapshot.responder.keyCount)  // aclkey
        let other = UInt8(Slot.zoneSlots - 1)
        for i in 0..<Self.mappedZones {
            zoneMap[i] = i < names.count ? UInt8(zoneSlots.slot(for: zoneText(names[i]))) : other
        }
    }

    @inline(__always)
    static func qtypeBucket(_ t: UInt16) -> Int {
        switch t {
        case DNSType.a: return 0
        case DNSType.aaaa: return 1
        case DNSType.txt: return 2
        case DNSType.any: return 3
        case DNSType.soa: return 4
        case DNSType.ns: return 5
        case DNSType.ptr: return 6
        default: return 7
        }
    }

    /// Counts one query and what became of it.
    @inline(__always)
    public func record(_ o: AnswerOutcome, _ action: QueryGuard.Action, transport: Transport) {
        switch action {
        case .rrlSlipped: slots[Slot.rrlSlipped] &+= 1
        case .rrlDropped: slots[Slot.rrlDropped] &+= 1; return
        case .badCookie: slots[Slot.badCookie] &+= 1
        case .staleRefused: slots[Slot.staleRefused] &+= 1
        case .answered: break
        }
        guard o.length > 0 else { return }
        let rc = Int(min(o.rcode, UInt8(Slot.rcodes - 1)))
        let t = transport == .udp ? 0 : 1
        slots[Slot.queries + t * Slot.rcodes + rc] &+= 1
        let z = o.zone < 0 ? 0 : Int(zoneMap[min(Int(o.zone), Self.mappedZones - 1)])
        slots[Slot.zones + (z * 2 + t) * Slot.rcodes + rc] &+= 1
        slots[Slot.qtypes + Self.qtypeBucket(o.qtype)] &+= 1
        if o.listed { slots[Slot.listed] &+= 1 } else { slots[Slot.notListed] &+= 1 }
        if o.truncated { slots[Slot.truncated] &+= 1 }
        if o.dnssecOK { slots[Slot.dnssecOK] &+= 1 }
    }

    /// Counts `n` answers that took `nanos` each (a UDP batch's mean, or one TCP answer).
    @inline(__always)
    public func recordLatency(nanos: UInt64, count n: Int) {
        var b = 0
        let bounds = ServerMetrics.latencyBoundsNanos
        while b < bounds.count && nanos > bounds[b] { b += 1 }
        slots[Slot.latency + b] &+= UInt64(n)
        slots[Slot.latencySumNanos] &+= nanos &* UInt64(n)
    }

    /// Counts a UDP datagram larger than the receive slot (answered FORMERR or dropped).
    @inline(__always)
    public func recordOversized() { slots[Slot.oversized] &+= 1 }

    @inline(__always) func value(_ i: Int) -> UInt64 { slots[i] }
}

/// Stable zone slots for per-zone counters, shared by every counter block of a server: a zone
/// name keeps its slot across reloads, so counts never move between zones. At most
/// ``maxZones`` names get a slot of their own (label `zone="<name>"`); later zones share the
/// slot labelled `other`; answers from no zone count under `none`. This bounds the series at
/// (maxZones + 2) × 2 transports × the RCODEs seen.
public final class ZoneSlots: Sendable {
    /// Zones counted under their own name.
    public static let maxZones = 64
    private let names = Mutex<[String]>([])
    public init() {}

    /// The slot of `name` (1…maxZones), assigning the next free one; maxZones + 1 when full.
    func slot(for name: String) -> Int {
        names.withLock { n in
            if let i = n.firstIndex(of: name) { return i + 1 }
            guard n.count < Self.maxZones else { return Self.maxZones + 1 }
            n.append(name)
            return n.count
        }
    }

    /// The label value of slot `i`.
    func label(_ i: Int) -> String {
        if i == 0 { return "none" }
        return names.withLock { n in i - 1 < n.count ? n[i - 1] : "other" }
    }
}

/// RCODE names used as label values.
func rcodeName(_ rc: Int) -> String {
    switch rc {
    case 0: return "NOERROR"
    case 1: return "FORMERR"
    case 2: return "SERVFAIL"
    case 3: return "NXDOMAIN"
    case 4: return "NOTIMP"
    case 5: return "REFUSED"
    case 16: return "BADVERS"
    case 23: return "BADCOOKIE"
    default: return "RCODE\(rc)"
    }
}

/// Server metrics: per-thread ``QueryCounters`` summed once a second into swift-metrics
/// counters and gauges backed by a Prometheus registry of our own (no global bootstrap), and
/// the answer-latency histogram written straight into the exposition. Also the `--stats` log
/// line and the `--max-age` check. See the Operations article for every metric.
public final class ServerMetrics: @unchecked Sendable {
    /// Latency histogram bucket upper bounds, seconds.
    public static let latencyBounds: [Double] = [1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 1e-2]
    static let latencyBoundsNanos: [UInt64] = latencyBounds.map { UInt64($0 * 1e9) }

    public let registry = PrometheusCollectorRegistry()
    let factory: PrometheusMetricsFactory
    let logger: Logger
    private let blocks = Mutex<[QueryCounters]>([])
    private let tcpBlocks = Mutex<[ObjectIdentifier: QueryCounters]>([:])
    /// Totals already pushed, per slot, so each aggregation adds the difference.
    private var pushed: [UInt64] = Array(repeating: 0, count: QueryCounters.Slot.count)
    private var counters: [Int: CoreMetrics.Counter] = [:]
    private var gauges: [String: CoreMetrics.Gauge] = [:]
    private let latencyText = Mutex<String>("")
    private let aggregateLock = Mutex<Void>(())
    private var lastRRL = (slipped: 0, dropped: 0)
    private var lastReloads = (ok: 0, failed: 0)
    private var lastTCPClosed = (evicted: 0, timedOut: 0)
    private var staleLogged: [String: UInt64] = [:]
    private var lastSigning: [String: (Int, Int, Int, Int)] = [:]
    private var lastKeyReloadFailures: [String: Int] = [:]
    private var lastZoneVersions: [String: Int] = [:]
    private var namedCounters: [String: CoreMetrics.Counter] = [:]

    /// What the metrics read besides counters; set before ``run(interval:)``.
    public weak var server: DNSServer? = nil
    public var reloader: Reloader? = nil
    /// `--max-age` in seconds; `nil` = no check.
    public var maxAge: UInt64? = nil
    /// With `--max-age-action refuse`: queries for a zone older than ``maxAge`` get REFUSED.
    public var refuseStale = false
    /// `--stats` seconds between log lines; `nil` = none.
    public var statsInterval: Double? = nil

    /// Per-key counter slots (aclkey): `keyLimit` keys by name (`--aclkey-metrics-keys`).
    public let keySlots: KeySlots  // aclkey
    private var pushedKeys: [UInt64] = []  // aclkey

    public init(logger: Logger, keyLimit: Int = KeySlots.defaultLimit) {
        self.logger = logger
        keySlots = KeySlots(limit: keyLimit)  // aclkey
        var f = PrometheusMetricsFactory(registry: registry)
        f.defaultDurationHistogramBuckets = ServerMetrics.latencyBounds.map { .nanoseconds(Int64($0 * 1e9)) }
        factory = f
    }

    /// Per-zone slots shared by every counter block.
    let zoneSlots = ZoneSlots()

    /// A counter block for one UDP worker thread.
    public func makeBlock() -> QueryCounters {
        let b = QueryCounters(zoneSlots: zoneSlots, keySlots: keySlots)  // aclkey
        blocks.withLock { $0.append(b) }
        return b
    }

    /// The counter block of a TCP event loop (made on first use).
    func block(forLoop id: ObjectIdentifier) -> QueryCounters {
        if let b = tcpBlocks.withLock({ $0[id] }) { return b }
        let b = makeBlock()
        return tcpBlocks.withLock { d in
            if let existing = d[id] { return existing }
            d[id] = b
            return b
        }
    }

    private func counter(_ slot: Int, _ name: String, _ dims: [(String, String)]) -> CoreMetrics.Counter {
        if let c = counters[slot] { return c }
        let c = CoreMetrics.Counter(label: name, dimensions: dims, factory: factory)
        counters[slot] = c
        return c
    }

    private func gauge(_ name: String, _ dims: [(String, String)]) -> CoreMetrics.Gauge {
        let key = name + dims.map { "\($0.0)=\($0.1)" }.joined(separator: ",")
        if let g = gauges[key] { return g }
        let g = CoreMetrics.Gauge(label: name, dimensions: dims, factory: factory)
        gauges[key] = g
        return g
    }

    /// Sums every block and pushes the differences; refreshes gauges. Called once a second
    /// by ``run(interval:)``, and by the HTTP handler before each scrape.
    public func aggregate() {
        aggregateLock.withLock { _ in aggregateLocked() }
    }

    private func aggregateLocked() {
        typealias S = QueryCounters.Slot
        var totals = [UInt64](repeating: 0, count: S.count)
        for b in blocks.withLock({ $0 }) {
            for i in 0..<S.count { totals[i] &+= b.value(i) }
        }
        for i in 0..<S.count where totals[i] != pushed[i] {
            let delta = Int64(bitPattern: totals[i] &- pushed[i])
            pushed[i] = totals[i]
            guard delta > 0 else { continue }
            let c: CoreMetrics.Counter?
            switch i {
            case S.queries..<(S.queries + 2 * S.rcodes):
                let t = (i - S.queries) / S.rcodes, rc = (i - S.queries) % S.rcodes
                c = counter(i, "prefixbl_responses_total", [("transport", t == 0 ? "udp" : "tcp"), ("rcode", rcodeName(rc))])
            case S.qtypes..<(S.qtypes + S.qtypeBuckets):
                c = counter(i, "prefixbl_responses_by_qtype_total", [("qtype", QueryCounters.qtypeNames[i - S.qtypes])])
            case S.listed: c = counter(i, "prefixbl_lookups_total", [("result", "listed")])
            case S.notListed: c = counter(i, "prefixbl_lookups_total", [("result", "not_listed")])
            case S.truncated: c = counter(i, "prefixbl_truncated_total", [])
            case S.badCookie: c = counter(i, "prefixbl_badcookie_total", [])
            case S.staleRefused: c = counter(i, "prefixbl_stale_refused_total", [])
            case S.oversized: c = counter(i, "prefixbl_udp_oversized_total", [])
            case S.dnssecOK: c = counter(i, "prefixbl_dnssec_ok_queries_total", [])
            case S.zones..<S.count:
                let k = i - S.zones, z = k / (2 * S.rcodes), t = (k / S.rcodes) % 2, rc = k % S.rcodes
                c = counter(i, "prefixbl_zone_responses_total", [
                    ("zone", zoneSlots.label(z)), ("transport", t == 0 ? "udp" : "tcp"), ("rcode", rcodeName(rc))])
            default: c = nil  // RRL comes from the limiter; latency is emitted directly
            }
            c?.increment(by: delta)
        }
        // aclkey: per-key counts, slot by slot.
        let kn = keySlots.count
        var keyTotals = [UInt64](repeating: 0, count: kn)
        for b in blocks.withLock({ $0 }) { for i in 0..<kn { keyTotals[i] &+= b.keys.counts[i] } }
        if pushedKeys.count != kn { pushedKeys = Array(repeating: 0, count: kn) }
        for i in 0..<kn where keyTotals[i] > pushedKeys[i] {
            let (result, key) = keySlots.labels(i)
            counter(-1000 - i, "prefixbl_aclkey_queries_total", [("result", result), ("key", key)])
                .increment(by: Int64(keyTotals[i] - pushedKeys[i]))
            pushedKeys[i] = keyTotals[i]
        }
        // Latency histogram (Prometheus cumulative buckets, seconds).
        var text = "# HELP prefixbl_answer_latency_seconds Time to answer a query (UDP: mean over a recvmmsg batch).\n"
        text += "# TYPE prefixbl_answer_latency_seconds histogram\n"
        var cumulative: UInt64 = 0
        for (k, bound) in Self.latencyBounds.enumerated() {
            cumulative &+= totals[S.latency + k]
            text += "prefixbl_answer_latency_seconds_bucket{le=\"\(bound)\"} \(cumulative)\n"
        }
        cumulative &+= totals[S.latency + Self.latencyBounds.count]
        text += "prefixbl_answer_latency_seconds_bucket{le=\"+Inf\"} \(cumulative)\n"
        text += "prefixbl_answer_latency_seconds_sum \(Double(totals[S.latencySumNanos]) / 1e9)\n"
        text += "prefixbl_answer_latency_seconds_count \(cumulative)\n"
        latencyText.withLock { $0 = text }

        if let server {
            gauge("prefixbl_tcp_connections_open", []).record(server.tcpConnectionCount)
            let ev = server.tcpEvictions, to = server.tcpMessageTimeouts
            if ev > lastTCPClosed.evicted {
                counter(-5, "prefixbl_tcp_closed_total", [("reason", "evicted")]).increment(by: Int64(ev - lastTCPClosed.evicted))
            }
            if to > lastTCPClosed.timedOut {
                counter(-6, "prefixbl_tcp_closed_total", [("reason", "message_timeout")]).increment(by: Int64(to - lastTCPClosed.timedOut))
            }
            lastTCPClosed = (ev, to)
            if let rrl = server.queryGuard.rrl {
                let s = rrl.slipped, d = rrl.dropped
                if s > lastRRL.slipped { counter(-1, "prefixbl_rrl_total", [("action", "slip")]).increment(by: Int64(s - lastRRL.slipped)) }
                if d > lastRRL.dropped { counter(-2, "prefixbl_rrl_total", [("action", "drop")]).increment(by: Int64(d - lastRRL.dropped)) }
                lastRRL = (s, d)
            }
            dataGauges(server.holder.load())
            signingMetrics(server.holder.load())
        }
        if let reloader {
            let ok = max(0, reloader.holder.load().generation - 1), failed = reloader.refusals
            if ok > lastReloads.ok { counter(-3, "prefixbl_reloads_total", [("result", "ok")]).increment(by: Int64(ok - lastReloads.ok)) }
            if failed > lastReloads.failed { counter(-4, "prefixbl_reloads_total", [("result", "failed")]).increment(by: Int64(failed - lastReloads.failed)) }
            lastReloads = (ok, failed)
        }
    }

    /// Per signed zone: signatures made, signature cache hits and misses, RRsets re-signed by
    /// the background task, failed key re-reads at reload, new zone versions made for the
    /// secondaries without a data change (counters); whether the last keys
    /// are held over because timing left none published or active (gauge 0/1), and the
    /// seconds until the soonest expiry of a cached signature (gauge; absent before the first).
    private func signingMetrics(_ snapshot: Snapshot) {
        for signer in snapshot.responder.signers {
            let zone = zoneText(signer.apex)
            let now = (signer.signaturesMade, signer.cacheHits, signer.cacheMisses, signer.backgroundResigned)
            let last = lastSigning[zone] ?? (0, 0, 0, 0)
            if now.0 > last.0 { counter(zone, "prefixbl_dnssec_signatures_made_total", []).increment(by: Int64(now.0 - last.0)) }
            if now.1 > last.1 { counter(zone, "prefixbl_dnssec_signature_cache_total", [("result", "hit")]).increment(by: Int64(now.1 - last.1)) }
            if now.2 > last.2 { counter(zone, "prefixbl_dnssec_signature_cache_total", [("result", "miss")]).increment(by: Int64(now.2 - last.2)) }
            if now.3 > last.3 { counter(zone, "prefixbl_dnssec_background_resigned_total", []).increment(by: Int64(now.3 - last.3)) }
            lastSigning[zone] = now
            let failed = signer.keyReloadsFailed, lastFailed = lastKeyReloadFailures[zone] ?? 0
            if failed > lastFailed {
                counter(zone, "prefixbl_dnssec_key_reload_failures_total", []).increment(by: Int64(failed - lastFailed))
            }
            lastKeyReloadFailures[zone] = failed
            let versions = signer.resignVersions, lastVersions = lastZoneVersions[zone] ?? 0
            if versions > lastVersions {
                counter(zone, "prefixbl_dnssec_zone_versions_total", []).increment(by: Int64(versions - lastVersions))
            }
            lastZoneVersions[zone] = versions
            gauge("prefixbl_dnssec_keys_held_over", [("zone", zone)]).record(signer.keysHeldOver ? 1 : 0)
            gauge("prefixbl_dnssec_signature_cache_rrsets", [("zone", zone)]).record(signer.cachedRRsets)
            if let left = signer.secondsUntilSoonestExpiry {
                gauge("prefixbl_dnssec_soonest_signature_expiry_seconds", [("zone", zone)]).record(left)
            }
        }
    }

    private func counter(_ zone: String, _ name: String, _ dims: [(String, String)]) -> CoreMetrics.Counter {
        let key = name + "|" + zone + dims.map { "|\($0.1)" }.joined()
        if let c = namedCounters[key] { return c }
        let c = CoreMetrics.Counter(label: name, dimensions: [("zone", zone)] + dims, factory: factory)
        namedCounters[key] = c
        return c
    }

    /// Serial, age and size gauges of the serving data; the `--max-age` check.
    private func dataGauges(_ snapshot: Snapshot) {
        let now = UInt64(wallClockSeconds())
        gauge("prefixbl_snapshot_generation", []).record(snapshot.generation)
        var stale: [[UInt8]] = []
        let responder = snapshot.responder
        let fileTime = reloader.map { r in r.loader.files.map(fileMTime).max() ?? 0 } ?? 0
        for store in responder.stores {
            for zone in store.zones {
                let name = zoneText(zone.name)
                gauge("prefixbl_zone_serial", [("zone", name)]).record(Int64(zone.soa.serial))
                var newest: UInt64 = 0
                for d in zone.datasets {
                    gauge("prefixbl_dataset_entries", [("zone", name), ("dataset", d.name)]).record(d.entryCount)
                    gauge("prefixbl_dataset_ranges", [("zone", name), ("dataset", d.name)]).record(d.table.rangeCount)
                    gauge("prefixbl_dataset_skipped_lines", [("zone", name), ("dataset", d.name), ("type", d.type)]).record(d.skippedLines)
                    newest = max(newest, d.created ?? 0)
                }
                if newest == 0 {
                    newest = reloader?.loader.zoneFiles[name.lowercased()].map { $0.map(fileMTime).max() ?? 0 } ?? fileTime
                }
                guard newest > 0 else { continue }
                let age = now > newest ? now - newest : 0
                gauge("prefixbl_zone_data_age_seconds", [("zone", name)]).record(Int64(age))
                let isStale = maxAge.map { age > $0 } ?? false
                gauge("prefixbl_zone_stale", [("zone", name)]).record(isStale ? 1 : 0)
                if isStale {
                    stale.append(zone.name)
                    if now >= (staleLogged[name] ?? 0) + 60 {
                        staleLogged[name] = now
                        logger.error("ZONE DATA TOO OLD", metadata: [
                            "zone": "\(name)", "age-seconds": "\(age)", "max-age": "\(maxAge ?? 0)",
                            "action": "\(refuseStale ? "refusing queries for this zone (REFUSED)" : "still serving")"])
                    }
                }
            }
        }
        server?.queryGuard.setStaleZones(refuseStale ? stale : [])
    }

    /// The Prometheus text exposition (format 0.0.4).
    public func exposition() -> String {
        aggregate()
        return registry.emitToString() + latencyText.withLock { $0 }
    }

    /// One `--stats` log line from the current totals.
    public func statsLine() -> [String: Logger.MetadataValue] {
        typealias S = QueryCounters.Slot
        var totals = [UInt64](repeating: 0, count: S.count)
        for b in blocks.withLock({ $0 }) { for i in 0..<S.count { totals[i] &+= b.value(i) } }
        let udp = (0..<S.rcodes).reduce(UInt64(0)) { $0 + totals[S.queries + $1] }
        let tcp = (0..<S.rcodes).reduce(UInt64(0)) { $0 + totals[S.queries + S.rcodes + $1] }
        var m: [String: Logger.MetadataValue] = [
            "udp": "\(udp)", "tcp": "\(tcp)", "listed": "\(totals[S.listed])",
            "nxdomain": "\(totals[S.queries + 3] + totals[S.queries + S.rcodes + 3])",
            "truncated": "\(totals[S.truncated])"]
        // Per zone: answers over both transports, every RCODE.
        var perZone: [String] = []
        for z in 0..<S.zoneSlots {
            let base = S.zones + z * 2 * S.rcodes
            let n = (0..<(2 * S.rcodes)).reduce(UInt64(0)) { $0 + totals[base + $1] }
            if n > 0 { perZone.append("\(zoneSlots.label(z))=\(n)") }
        }
        m["zones"] = "\(perZone.joined(separator: " "))"
        if totals[S.oversized] > 0 { m["udp-oversized"] = "\(totals[S.oversized])" }
        if let server {
            m["tcp-open"] = "\(server.tcpConnectionCount)"
            if server.tcpEvictions > 0 { m["tcp-evicted"] = "\(server.tcpEvictions)" }
            if server.tcpMessageTimeouts > 0 { m["tcp-message-timeouts"] = "\(server.tcpMessageTimeouts)" }
            if let rrl = server.queryGuard.rrl { m["rrl-slipped"] = "\(rrl.slipped)"; m["rrl-dropped"] = "\(rrl.dropped)" }
            m["generation"] = "\(server.holder.load().generation)"
        }
        if let reloader { m["reload-refusals"] = "\(reloader.refusals)" }
        return m
    }

    /// Aggregates every `interval` seconds (and logs `--stats` lines) until cancelled.
    public func run(interval: Double = 1) async {
        var sinceStats = 0.0
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(Int(interval * 1000)))
            aggregate()
            if let s = statsInterval {
                sinceStats += interval
                if sinceStats >= s {
                    sinceStats = 0
                    logger.info("stats", metadata: statsLine())
                }
            }
        }
    }
}

func fileMTime(_ path: String) -> UInt64 {
    var st = stat()
    guard stat(path, &st) == 0 else { return 0 }
    return UInt64(st.st_mtim.tv_sec)
}
