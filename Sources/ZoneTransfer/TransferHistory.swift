import DNSBL
import DNSBLServer
import Logging
import ServiceLifecycle
import PrefixStore
import Synchronization
import ZoneExport

/// Bounds of the IXFR history (`--ixfr-versions`, `--ixfr-memory`).
public struct IXFRLimits: Sendable {
    /// Versions kept per zone, the current one included; 0 = no history (IXFR always gets a
    /// full transfer). Default 4.
    public var versions: Int = 4
    /// Bytes all kept versions of all zones may hold together (wire size plus 16 bytes per
    /// record each); the oldest versions go first. Default 1 GiB.
    public var memoryBytes: Int = 1 << 30
    public init(versions: Int = 4, memoryBytes: Int = 1 << 30) {
        self.versions = versions; self.memoryBytes = memoryBytes
    }
}

/// The exports a zone had when they were transferred, so an IXFR (RFC 1995) from a secondary
/// holding one of them is answered with the difference.
///
/// A version enters the history when a transfer of it is built (a secondary can only hold a
/// serial it was sent, or that another primary sent it: then it is not here and the answer is
/// a full transfer). A newer version with the same serial replaces the older (data changed
/// without a serial change: secondaries cannot see it, see ``NotifyService``). Differences are
/// computed on the transfer's background thread and cached for the current snapshot.
public final class TransferHistory: Sendable {
    public let limits: IXFRLimits
    private struct State {
        /// Per zone apex: kept versions, oldest first.
        var versions: [[UInt8]: [ZoneVersion]] = [:]
        /// Order versions were added in, for eviction across zones: (zone, serial).
        var order: [([UInt8], UInt32)] = []
        var bytes = 0
        /// Built IXFR answers of the current snapshots: (zone, client serial) → chunks. The
        /// snapshot is held weakly (a freed snapshot's address may be reused by a new one).
        var answers: [Key: Answer] = [:]
    }
    struct Answer: @unchecked Sendable { weak var snapshot: Snapshot?; var chunks: [TransferResponder.Chunk] }
    struct Key: Hashable { var zone: [UInt8]; var from: UInt32 }
    private let state = Mutex(State())

    public init(limits: IXFRLimits = IXFRLimits()) { self.limits = limits }

    /// Bytes the kept versions hold now.
    public var memoryBytes: Int { state.withLock { $0.bytes } }
    /// Serials kept for `zone` (wire name), oldest first.
    public func serials(zone: [UInt8]) -> [UInt32] { state.withLock { $0.versions[zone]?.map(\.serial) ?? [] } }

    /// Keeps `version` of `zone`, evicting the oldest versions beyond the limits.
    func keep(_ version: ZoneVersion, zone: [UInt8]) {
        guard limits.versions > 0 else { return }
        state.withLock { s in
            var list = s.versions[zone] ?? []
            if let i = list.firstIndex(where: { $0.serial == version.serial }) {
                s.bytes -= list[i].memoryBytes
                list.remove(at: i)
                s.order.removeAll { $0.0 == zone && $0.1 == version.serial }
            }
            list.append(version)
            s.bytes += version.memoryBytes
            s.order.append((zone, version.serial))
            s.versions[zone] = list
            while let first = s.versions[zone], first.count > limits.versions {
                s.bytes -= first[0].memoryBytes
                s.versions[zone]!.removeFirst()
                s.order.removeAll { $0.0 == zone && $0.1 == first[0].serial }
            }
            while s.bytes > limits.memoryBytes, !s.order.isEmpty {
                let (z, serial) = s.order.removeFirst()
                if let i = s.versions[z]?.firstIndex(where: { $0.serial == serial }) {
                    s.bytes -= s.versions[z]![i].memoryBytes
                    s.versions[z]!.remove(at: i)
                }
            }
        }
    }

    func version(zone: [UInt8], serial: UInt32) -> ZoneVersion? {
        state.withLock { $0.versions[zone]?.last { $0.serial == serial } }
    }

    func cachedAnswer(zone: [UInt8], from: UInt32, snapshot: Snapshot) -> [TransferResponder.Chunk]? {
        state.withLock { s in
            guard let hit = s.answers[Key(zone: zone, from: from)], hit.snapshot === snapshot else { return nil }
            return hit.chunks
        }
    }

    /// Drops the IXFR answers built for snapshots other than `current`.
    func forgetAnswers(except current: Snapshot) {
        state.withLock { s in s.answers = s.answers.filter { $0.value.snapshot === current } }
    }

    func cache(_ chunks: [TransferResponder.Chunk], zone: [UInt8], from: UInt32, snapshot: Snapshot) {
        state.withLock { s in
            s.answers = s.answers.filter { $0.value.snapshot === snapshot }
            s.answers[Key(zone: zone, from: from)] = Answer(snapshot: snapshot, chunks: chunks)
        }
    }
}

extension TransferACL {
    /// Whether a client (as the answer path sees it: IPv4-mapped peers already IPv4) may
    /// transfer; the UDP IXFR check (`DNSBL.AnswerOptions.udpIXFR`).
    public func allows(_ client: ClientAddress) -> Bool {
        guard let family = client.family else { return false }
        return entries.contains { e in
            guard e.family == family else { return false }
            let shift = family.bits - e.length
            return shift >= family.bits || (client.address >> UInt128(shift)) << UInt128(shift) == e.network
        }
    }
}

/// Builds the transfer of every zone a secondary has transferred before as soon as a reload
/// installs a snapshot with a new serial for it, on a background thread, so the IXFR (or AXFR) that follows the
/// NOTIFY finds it ready instead of waiting for the export (seconds for a million prefixes).
/// Zones nobody transferred cost nothing.
public final class TransferPrebuildService: Service, Sendable {
    let holder: SnapshotHolder
    let transfer: TransferResponder

    public init(holder: SnapshotHolder, transfer: TransferResponder) {
        self.holder = holder; self.transfer = transfer
    }

    /// Prebuilds the signed zones at start (signing a large zone takes long enough for a
    /// secondary's first AXFR to time out), then after every swap until graceful shutdown.
    public func run() async throws {
        transfer.prebuildSigned(holder.load())
        await holder.watch { _, now in
            transfer.forget(except: now)
            transfer.prebuild(now)
        }
    }
}

extension TransferResponder {
    /// Drops the transfer bodies built for snapshots other than `current` (a swap made them
    /// unreachable: the cache only answers for the snapshot a body was built from). The
    /// versions kept for IXFR stay in ``history``.
    public func forget(except current: Snapshot) {
        cache.withLock { c in c = c.filter { $0.value.snapshot === current } }
        history.forgetAnswers(except: current)
    }

    /// Transfer bodies cached now (tests).
    var cachedBodies: Int { cache.withLock { $0.count } }

    /// Builds, on a background thread, the transfer of every zone `snapshot` signs, so the first
    /// AXFR after a start finds it ready.
    func prebuildSigned(_ snapshot: Snapshot) {
        let responder = snapshot.responder
        let apexes = Set(responder.signers.map(\.apex))
        var names: [[UInt8]] = []
        for z in responder.stores.flatMap(\.zones) {
            let apex = z.name.map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 }
            if apexes.contains(apex) && !names.contains(z.name) { names.append(z.name) }
        }
        if names.isEmpty { return }
        ThreadJob { [self, names] in
            for name in names {
                let parts = responder.stores.flatMap(\.zones).filter { $0.name == name }
                let started = ContinuousClock.now
                _ = build(parts, snapshot: snapshot, prebuild: true)
                logger.info("transfer prebuilt", metadata: [
                    "zone": "\(zoneText(name))", "serial": "\(parts[0].soa.serial)",
                    "took": "\(ContinuousClock.now - started)", "why": "signed zone at start"])
            }
        }.start()
    }

    /// Builds, on a background thread, the bodies of `snapshot`'s zones that have versions in
    /// the history and a serial the newest of them does not have.
    func prebuild(_ snapshot: Snapshot) {
        guard history.limits.versions > 0 else { return }
        let responder = snapshot.responder
        // Zones a secondary holds (a kept version) whose serial moved on: secondaries will ask.
        var names = Set<[UInt8]>()
        for z in responder.stores.flatMap(\.zones) where !names.contains(z.name) {
            let kept = history.serials(zone: z.name)
            if !kept.isEmpty && kept.last != z.soa.serial { names.insert(z.name) }
        }
        if names.isEmpty { return }
        ThreadJob { [self, names] in
            for name in names.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
                let parts = responder.stores.flatMap(\.zones).filter { $0.name == name }
                let started = ContinuousClock.now
                _ = build(parts, snapshot: snapshot, prebuild: true)
                logger.info("transfer prebuilt", metadata: [
                    "zone": "\(zoneText(name))", "serial": "\(parts[0].soa.serial)",
                    "took": "\(ContinuousClock.now - started)"])
            }
        }.start()
    }
}

/// How an IXFR was answered, for the log and tests.
enum IXFRKind: String { case current = "up to date", incremental, full }

extension TransferResponder {
    /// The records answering `request` (AXFR, or IXFR as ``ixfrChunks(_:clientSerial:snapshot:)``
    /// decides) in chunks, logged with what was sent.
    func records(for request: TransferRequest, parts: [StoreZone], peer: String?, snapshot: Snapshot) -> [Chunk] {
        let zone = parts[0]
        var chunks: [Chunk]
        var carried = true
        var metadata: Logger.Metadata = ["qtype": "AXFR"]
        if request.qtype == 251 {
            metadata["qtype"] = "IXFR"
            metadata["client_serial"] = "\(request.clientSerial.map { "\($0)" } ?? "none")"
            if let serial = request.clientSerial, let ixfr = ixfrChunks(parts, clientSerial: serial, peer: peer, snapshot: snapshot) {
                chunks = ixfr.chunks
                carried = ixfr.kind != .current
                metadata["ixfr"] = "\(ixfr.kind.rawValue)"
            } else {
                chunks = body(parts, snapshot: snapshot)
                metadata["ixfr"] = "\(IXFRKind.full.rawValue)"
            }
        } else {
            chunks = body(parts, snapshot: snapshot)
        }
        if let peer, carried, isSigned(zone, snapshot: snapshot) {
            // The peer now holds this version (as this process signed it): an IXFR base for it.
            let kept = Set(history.serials(zone: zone.name))
            sent.withLock { s in
                var serials = s[zone.name]?[peer] ?? []
                serials.insert(zone.soa.serial)
                s[zone.name, default: [:]][peer] = serials.filter { $0 == zone.soa.serial || kept.contains($0) }
            }
        }
        metadata["peer"] = "\(peer ?? "?")"
        metadata["zone"] = "\(zoneText(request.zone))"
        metadata["serial"] = "\(zone.soa.serial)"
        metadata["messages"] = "\(chunks.count)"
        metadata["bytes"] = "\(chunks.reduce(0) { $0 + $1.bytes.count })"
        logger.info("zone transfer", metadata: metadata)
        return chunks
    }

    /// Whether `snapshot` signs `zone` (a signer for its apex).
    func isSigned(_ zone: StoreZone, snapshot: Snapshot) -> Bool {
        let apex = zone.name.map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 }
        return snapshot.responder.signers.contains { $0.apex == apex }
    }

    /// The zone's transfer records in chunks, from the cache when built for this snapshot.
    /// Building them also keeps the version in ``history``.
    func body(_ parts: [StoreZone], snapshot: Snapshot) -> [Chunk] {
        build(parts, snapshot: snapshot).chunks
    }

    /// The current snapshot's version of the zone (built with the body when not cached).
    func currentVersion(_ parts: [StoreZone], snapshot: Snapshot) -> ZoneVersion? {
        build(parts, snapshot: snapshot).version
    }

    /// - Parameter prebuild: a prebuild (nobody waits for the body).
    func build(_ parts: [StoreZone], snapshot: Snapshot, prebuild: Bool = false) -> (chunks: [Chunk], version: ZoneVersion?) {
        let zone = parts[0]
        if let hit = cache.withLock({ $0[zone.name] }), hit.snapshot === snapshot { return (hit.chunks, hit.version) }
        // One build at a time (background threads only): a request arriving while the same
        // body is built (the prebuild after a reload, another secondary) waits for it instead
        // of building it again.
        return building.withLock { _ in
            if let hit = cache.withLock({ $0[zone.name] }), hit.snapshot === snapshot { return (hit.chunks, hit.version) }
            buildsRunning.add(1, ordering: .relaxed)
            defer { buildsRunning.subtract(1, ordering: .relaxed) }
            return buildUncached(parts, snapshot: snapshot, prebuild: prebuild)
        }
    }

    /// What a transfer of the zone holds, SOA first: the export with ``options``; for a zone
    /// the snapshot signs (`DNSBL/ZoneSigner`), the signed zone of ``CanonicalZone`` —
    /// DNSKEY, RRSIG and NSEC, the chain DO=1 answers prove, exported as those answers are
    /// (``CanonicalZone/exportOptions``, whatever ``options`` say) — re-signing only RRsets
    /// the previous version did not hold (``SignatureCarry``).
    /// - Parameter carried: sign with the zone's carry (and leave this version's signatures in
    ///   it); false signs every RRset anew (or from the signer's cache) and keeps nothing.
    func recordSource(_ parts: [StoreZone], snapshot: Snapshot, carried: Bool = true) -> ((ExportRecord) -> Void) -> Void {
        let zone = parts[0]
        let apex = zone.name.map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 }
        guard let signer = snapshot.responder.signers.first(where: { $0.apex == apex }) else {
            return { [options] emit in _ = Exporter.export(parts, options: options, emit: emit) }
        }
        let carry: SignatureCarry? = !carried ? nil : carries.withLock { c in
            if let k = c[apex] { return k }
            let k = SignatureCarry(); c[apex] = k; return k
        }
        return { [logger] emit in
            let started = ContinuousClock.now
            // Signed as the zone is walked, owner by owner (SignedZoneStream): the zone's
            // records are not held, and the query path's signature cache is not filled.
            let signed = SignedZoneStream.records(parts: parts, apex: apex, signer: signer, reuse: carry,
                                                  emptyNonTerminalRecords: signer.emptyNonTerminalRecords,
                                                  cacheResult: false, emit: emit)
            let f = signed.figures
            let left = f.soonestExpiration.map { Int(Int32(bitPattern: $0 &- signer.clock())) }
            logger.info("signed zone built for transfer", metadata: [
                "zone": "\(zoneText(apex))", "serial": "\(zone.soa.serial)", "owners": "\(signed.owners)",
                "rrsets": "\(f.rrsets)", "rrsets_reused": "\(f.reused)", "signatures_made": "\(f.signaturesMade)",
                "records": "\(f.records)", "soonest_expiry_seconds": "\(left.map { "\($0)" } ?? "none")",
                "took": "\(ContinuousClock.now - started)"])
        }
    }

    /// An AXFR of a signed zone, its messages made on a thread of its own as the zone is signed
    /// (``SignedZoneStream``) and handed to the connection through a queue (bounded without an
    /// IXFR history, see ``DNSBLServer/TransferStream``): the first
    /// message goes out as soon as the walk reaches it, and what the transfer holds is the
    /// carry, the queue and (with an IXFR history) the version kept for IXFR. The messages
    /// are those of ``build(_:snapshot:)``'s body (SOA alone first and last); the version and
    /// body are kept as a build keeps them. A connection that goes away stops the sending,
    /// not the build (its carry and version serve the next transfer).
    func streamSigned(_ request: TransferRequest, parts: [StoreZone], peer: String?, snapshot: Snapshot) -> TransferMessages {
        // With an IXFR history the build keeps the version (about the AXFR's bytes) anyway, and
        // every transfer of the zone waits for it: the queue is not bounded, so a slow reader
        // does not hold the shared build back. Without one, 8 messages (memory bounded by the
        // carry); a reader that stalls for 30 s is given up.
        let stream = TransferStream(capacity: history.limits.versions > 0 ? nil : 8)
        let id = request.id, question = request.question
        let zone = parts[0]
        ThreadJob { [self] in
            var messages = 0, bytes = 0
            var alive = true
            let started = ContinuousClock.now
            var firstAfter: Duration? = nil
            func send(_ c: Chunk) {
                messages += 1; bytes += c.bytes.count
                guard alive else { return }
                if firstAfter == nil { firstAfter = ContinuousClock.now - started }
                alive = stream.put(Self.message(id: id, question: question, index: messages - 1, chunk: c))
            }
            // Without an IXFR history, while another build runs (the one at start, or after a
            // reload, signing the whole zone), this AXFR does not wait minutes for it: it signs
            // on its own, without the carry, and keeps nothing (the peer is not recorded as
            // holding a version: its signatures are not the build's). With a history it waits,
            // so the version it sends is the one kept for IXFR.
            let alone = history.limits.versions == 0 && buildsRunning.load(ordering: .relaxed) > 0
            // The records into messages: the SOA alone first (and again last, ``sendRest``),
            // then up to chunkBytes of records a message.
            var current = Chunk(count: 0, bytes: [])
            var soa: Chunk? = nil
            func add(_ r: ExportRecord) {
                if r.type == ExportType.soa && soa == nil {
                    let c = Chunk(count: 1, bytes: r.wire)
                    soa = c
                    send(c)
                    return
                }
                let w = r.wire
                if current.count > 0 && current.bytes.count + w.count > Self.chunkBytes {
                    send(current)
                    current = Chunk(count: 0, bytes: [])
                    current.bytes.reserveCapacity(Self.chunkBytes)
                }
                current.bytes += w
                current.count += 1
            }
            func sendRest() {
                if current.count > 0 { send(current) }
                current = Chunk(count: 0, bytes: [])
                if let soa { send(soa) }
            }
            if alone {
                let unCarried = recordSource(parts, snapshot: snapshot, carried: false)
                unCarried { add($0) }
                sendRest()
            }
            if !alone { building.withLock { _ in
                if let hit = cache.withLock({ $0[zone.name] }), hit.snapshot === snapshot {
                    for c in hit.chunks { send(c) }  // built meanwhile
                    return
                }
                buildsRunning.add(1, ordering: .relaxed)
                defer { buildsRunning.subtract(1, ordering: .relaxed) }
                let records = recordSource(parts, snapshot: snapshot)
                var version: ZoneVersion.Builder? = history.limits.versions > 0 ? ZoneVersion.Builder(segmentBytes: Self.chunkBytes) : nil
                records { r in
                    version?.add(r)
                    add(r)
                }
                sendRest()
                if var v = version, let built = v.finish() {
                    let s = Chunk(count: 1, bytes: built.soa.wire)
                    history.keep(built, zone: zone.name)
                    let chunks = [s] + built.segments.map { Chunk(count: $0.count, bytes: $0.bytes) } + [s]
                    cache.withLock { $0[zone.name] = CachedBody(snapshot: snapshot, chunks: chunks, version: built) }
                }
            } }
            stream.finish()
            if let peer, alive, !alone {
                // The peer now holds this version (as this process signed it): an IXFR base for it.
                let kept = Set(history.serials(zone: zone.name))
                sent.withLock { s in
                    var serials = s[zone.name]?[peer] ?? []
                    serials.insert(zone.soa.serial)
                    s[zone.name, default: [:]][peer] = serials.filter { $0 == zone.soa.serial || kept.contains($0) }
                }
            }
            logger.info("zone transfer", metadata: [
                "qtype": "AXFR", "streamed": "\(alone ? "alone" : "true")", "peer": "\(peer ?? "?")", "zone": "\(zoneText(request.zone))",
                "serial": "\(zone.soa.serial)", "messages": "\(messages)", "bytes": "\(bytes)",
                "first_message_after": "\(firstAfter.map { "\($0)" } ?? "none")",
                "took": "\(ContinuousClock.now - started)", "complete": "\(alive)"])
        }.start()
        return TransferMessages(stream: stream)
    }

    private func buildUncached(_ parts: [StoreZone], snapshot: Snapshot, prebuild: Bool) -> (chunks: [Chunk], version: ZoneVersion?) {
        let zone = parts[0]
        var chunks: [Chunk] = []
        var built: ZoneVersion? = nil
        let records = recordSource(parts, snapshot: snapshot)
        if history.limits.versions == 0 && isSigned(zone, snapshot: snapshot) && prebuild {
            // A prebuild of a signed zone without a history: it only fills the carry (an AXFR
            // streams the zone, signing only what the carry lacks); no body is kept.
            records { _ in }
            return ([], nil)
        }
        if history.limits.versions > 0 {
            // The version's segments are the messages' record sections (shared, not copied),
            // the SOA alone in the first and last message.
            var version = ZoneVersion.Builder(segmentBytes: Self.chunkBytes)
            records { version.add($0) }
            built = version.finish()
        }
        if let built {
            let soa = Chunk(count: 1, bytes: built.soa.wire)
            chunks = [soa] + built.segments.map { Chunk(count: $0.count, bytes: $0.bytes) } + [soa]
            history.keep(built, zone: zone.name)
        } else {
            var current = Chunk(count: 0, bytes: [])
            func add(_ r: ExportRecord) {
                let w = r.wire
                if current.bytes.count + w.count > Self.chunkBytes && current.count > 0 {
                    chunks.append(current)
                    current = Chunk(count: 0, bytes: [])
                }
                current.bytes += w
                current.count += 1
            }
            records(add)
            add(Exporter.soaRecord(zone))
            chunks.append(current)
        }
        // A signed zone without a history keeps no body: its AXFR is streamed (memory bounded
        // by the carry), and the body built for an IXFR answer goes with that answer.
        if built != nil || !isSigned(zone, snapshot: snapshot) {
            cache.withLock { $0[zone.name] = CachedBody(snapshot: snapshot, chunks: chunks, version: built) }
        }
        return (chunks, built)
    }

    /// The records answering an IXFR from a client at `clientSerial` (RFC 1995 §4), in chunks:
    /// the current SOA alone when the client is current or ahead (RFC 1982 comparison); the
    /// condensed difference (SOA new; SOA old, deleted RRs; SOA new, added RRs; SOA new) when
    /// the history holds the client's version (for a signed zone, one this process sent `peer`)
    /// and the difference is smaller than the zone;
    /// otherwise nil (the caller sends a full, AXFR-style transfer).
    func ixfrChunks(_ parts: [StoreZone], clientSerial: UInt32, peer: String? = nil, snapshot: Snapshot) -> (chunks: [Chunk], kind: IXFRKind)? {
        let zone = parts[0]
        let current = zone.soa.serial
        let soa = Exporter.soaRecord(zone)
        // A signed zone's versions hold this process's signatures under serials a secondary may
        // hold with a previous process's: one serial, two contents (RFC 1995 §1). Only a
        // version this process sent that peer is a base for a difference or "up to date"; from
        // any other the peer gets the whole zone (``sent``).
        let signed = isSigned(zone, snapshot: snapshot)
        let sentToPeer = peer.map { p in sent.withLock { $0[zone.name]?[p]?.contains(clientSerial) ?? false } } ?? false
        // Current or ahead: the SOA alone, for any peer — a client compares the first SOA's
        // serial with its own and stops there, whole zone or not (a serial it holds with other
        // content can only be passed by a new serial: `DNSBLDaemon/SignedZoneVersions`). Such
        // an answer carries no version: the peer is not recorded as holding this one.
        if clientSerial == current || SerialNumber.isGreater(clientSerial, than: current) {
            return (packChunks([soa.wire]), .current)
        }
        guard let old = history.version(zone: zone.name, serial: clientSerial) else { return nil }
        if signed && !sentToPeer { return nil }
        if let hit = history.cachedAnswer(zone: zone.name, from: clientSerial, snapshot: snapshot) {
            return (hit, .incremental)
        }
        guard let new = currentVersion(parts, snapshot: snapshot) else { return nil }
        let (deleted, added) = ZoneVersion.difference(from: old, to: new)
        // A difference as large as the zone saves nothing: send the zone.
        if deleted.count + added.count >= new.count { return nil }
        var records: [ArraySlice<UInt8>] = []
        records.reserveCapacity(deleted.count + added.count + 4)
        let newSOA = soa.wire[...]
        records.append(newSOA)
        records.append(old.soa.wire[...])
        records += deleted
        records.append(newSOA)
        records += added
        records.append(newSOA)
        let chunks = packChunks(records)
        history.cache(chunks, zone: zone.name, from: clientSerial, snapshot: snapshot)
        return (chunks, .incremental)
    }

    /// Records (whole RR wire form) packed into messages of at most ``chunkBytes`` bytes.
    func packChunks<S: Collection>(_ records: [S]) -> [Chunk] where S.Element == UInt8 {
        var chunks: [Chunk] = []
        var current = Chunk(count: 0, bytes: [])
        for w in records {
            if current.bytes.count + w.count > Self.chunkBytes && current.count > 0 {
                chunks.append(current)
                current = Chunk(count: 0, bytes: [])
            }
            current.bytes += w
            current.count += 1
        }
        chunks.append(current)
        return chunks
    }
}

/// The client's serial of an IXFR query: the SERIAL of the SOA in its authority section
/// (RFC 1995 §3), the message starting at `query` and its question ending at `questionEnd`.
/// Names may be compressed. nil when the section or the SOA is missing or malformed.
func ixfrClientSerial(_ query: UnsafeRawBufferPointer, questionEnd: Int) -> UInt32? {
    guard query.count >= 12, query[6] == 0, query[7] == 0, query[8] == 0, query[9] >= 1 else { return nil }
    // Skips a possibly compressed name; returns the offset after it.
    func skipName(_ start: Int) -> Int? {
        var p = start
        while p < query.count {
            let n = Int(query[p])
            if n == 0 { return p + 1 }
            if n & 0xC0 == 0xC0 { return p + 2 <= query.count ? p + 2 : nil }
            guard n < 64 else { return nil }
            p += 1 + n
        }
        return nil
    }
    guard var p = skipName(questionEnd), p + 10 <= query.count else { return nil }
    let type = UInt16(query[p]) << 8 | UInt16(query[p + 1])
    guard type == 6 else { return nil }
    let rdlength = Int(query[p + 8]) << 8 | Int(query[p + 9])
    p += 10
    let end = p + rdlength
    guard end <= query.count, let m = skipName(p), let r = skipName(m), r + 20 <= end else { return nil }
    return UInt32(query[r]) << 24 | UInt32(query[r + 1]) << 16 | UInt32(query[r + 2]) << 8 | UInt32(query[r + 3])
}
