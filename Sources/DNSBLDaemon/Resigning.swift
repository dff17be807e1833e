import DNSBL
import DNSBLServer
import DNSSEC
import Logging
import ServiceLifecycle
import Synchronization

/// The background side of signing: once a second, off the query path, every signed zone's
/// key timing is checked (a `Publish`, `Activate`, `Inactive` or `Delete` time that passed
/// takes effect now, logged) and the cached RRsets falling due are re-signed before they
/// reach the refresh margin (`ZoneSigner.resignDue(limit:)`), on a thread of their own so
/// neither a serving thread nor the cooperative pool waits for the signing. With zone
/// transfers, each round also gives a signed zone a new version for its secondaries when its
/// transferred signatures fall due or key timing changed its signers (``SignedZoneVersions``).
public final class ResigningService: Service, Sendable {
    public let signers: [ZoneSigner]
    public let logger: Logger
    /// Seconds between rounds.
    public let interval: Double
    /// The key state version last logged, per signer.
    private let logged: Mutex<[Int]>

    /// New zone versions for secondaries (signatures due, key timing); nil without transfers.
    public let versions: SignedZoneVersions?

    public init(signers: [ZoneSigner], logger: Logger, interval: Double = 1, versions: SignedZoneVersions? = nil) {
        self.signers = signers; self.logger = logger; self.interval = interval; self.versions = versions
        logged = Mutex(signers.map { $0.keysNow().state.version })
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: .milliseconds(Int64(interval * 1000)))
            if Task.isCancelled || Task.isShuttingDownGracefully { break }
            await round()
        }
    }

    /// One round over every signed zone.
    public func round() async {
        for (i, signer) in signers.enumerated() {
            // A query may have been the one to work the change out: compare versions.
            let state = signer.keysNow().state
            let last = logged.withLock { v in defer { v[i] = state.version }; return v[i] }
            if state.version != last {
                Self.logKeys(signer, state, logger: logger, why: state.reloaded ? "keys re-read at reload" : "a key timing boundary passed")
            }
            await versions?.check(signer)
            guard signer.hasDue else { continue }
            let r = try? await Reloader.offThread { signer.resignDue() }
            if let r, r.resigned > 0 || r.dropped > 0 {
                logger.debug("DNSSEC background re-signing", metadata: [
                    "zone": "\(CanonicalName.text(signer.apex))", "resigned": "\(r.resigned)", "dropped": "\(r.dropped)"])
            }
        }
    }

    /// Logs which keys of a zone are published and which sign (public material only).
    static func logKeys(_ signer: ZoneSigner, _ state: ZoneSigner.KeyState, logger: Logger, why: String) {
        func tags(_ keys: [SigningKey]) -> String { keys.map { "\($0.dnskey.keyTag)" }.joined(separator: " ") }
        let published = state.keys.filter { k in state.published.contains(k.dnskey.rdata) }
        let metadata: Logger.Metadata = [
            "zone": "\(CanonicalName.text(signer.apex))", "why": "\(why)", "published": "\(tags(published))",
            "signing-dnskey": "\(tags(state.dnskeySigners))", "signing-data": "\(tags(state.dataSigners))"]
        if state.noPublishedKey {
            logger.error("DNSSEC: no key is published; the last published keys stay published and the last active keys keep signing",
                         metadata: metadata)
        } else if state.noActiveKey {
            logger.error("DNSSEC: no key (or no SEP key) is active; the last active keys (SEP keys) keep signing (and stay published)", metadata: metadata)
        } else {
            logger.info("DNSSEC keys", metadata: metadata)
        }
    }
}

/// Re-reads the `--dnssec-key` files and key directories at every reload (SIGHUP or a data
/// change), so an operator adds, re-times (`dnssec-settime`) or removes keys without a
/// restart. A zone's new key set replaces the old one only when it reads well and has a key
/// active now (`ZoneSigner.replaceKeys(_:)`); otherwise the error is logged, counted
/// (`ZoneSigner.keyReloadsFailed`) and the old keys keep signing (the data reload itself
/// goes on). A key file for a zone not signed since start is logged (warning) and ignored;
/// keys of other zones in a key directory are skipped with a notice. After a chroot or a
/// privilege drop the paths must still be reachable and readable there.
public final class KeyRereader: Sendable {
    public let paths: [String]
    private let served: Mutex<[ZoneSigner]>
    private let armed = Atomic<Bool>(false)
    private let failures = Atomic<Int>(0)

    public init(paths: [String], signers: [ZoneSigner]) { self.paths = paths; served = Mutex(signers) }

    /// The signers whose keys are re-read: those of the zones served.
    public var signers: [ZoneSigner] { served.withLock { $0 } }

    /// From now on ``reread(logger:)`` reads (the first load at start uses the keys the
    /// configuration read before the chroot), for the zones of `signers` only (the zones
    /// served: keys of other zones in a key directory are skipped).
    public func arm(signers: [ZoneSigner]? = nil) {
        if let signers { served.withLock { $0 = signers } }
        armed.store(true, ordering: .releasing)
    }

    /// Re-reads that failed or were refused so far.
    public var failed: Int { failures.load(ordering: .relaxed) }

    /// Reads the keys again and installs each zone's set; logs what changed.
    public func reread(logger: Logger) {
        let signers = self.signers
        guard armed.load(ordering: .acquiring), !signers.isEmpty else { return }
        let read: (order: [[UInt8]], byZone: [[UInt8]: [SigningKey]], files: [(zone: [UInt8], file: String)], notes: [String])
        do { read = try DaemonConfiguration.readKeys(paths) } catch {
            failures.add(1, ordering: .relaxed)
            for signer in signers { signer.noteKeyReloadFailure() }
            logger.error("DNSSEC keys not re-read; the previous keys keep signing", metadata: ["reason": "\(error)"])
            return
        }
        for note in read.notes { logger.warning("DNSSEC key directory", metadata: ["note": "\(note)"]) }
        for zone in read.order where !signers.contains(where: { $0.apex == zone }) {
            // A key directory may be shared by several zones: its keys of other zones are
            // skipped with a notice, as at start. A key named as a file is the operator's mistake.
            if let file = read.files.first(where: { $0.zone == zone })?.file {
                logger.warning("DNSSEC key for a zone not signed since start: ignored (restart to sign a new zone)",
                               metadata: ["zone": "\(CanonicalName.text(zone))", "file": "\(file)"])
            } else {
                logger.notice("DNSSEC keys in a key directory for a zone not served: skipped",
                              metadata: ["zone": "\(CanonicalName.text(zone))"])
            }
        }
        for signer in signers {
            let keys = read.byZone[signer.apex] ?? []
            let before = signer.keysNow().state
            do throws(InvalidKeySet) { try signer.replaceKeys(keys) } catch {
                failures.add(1, ordering: .relaxed)
                signer.noteKeyReloadFailure()
                logger.error("DNSSEC keys of a zone not replaced; the previous keys keep signing",
                             metadata: ["zone": "\(CanonicalName.text(signer.apex))", "reason": "\(error)"])
                continue
            }
            let after = signer.keysNow().state
            if after.version == before.version, before.keys.map(\.timing) != after.keys.map(\.timing) {
                // Only future times moved: nothing changes now (the background task logs
                // what does change, within a second).
                logger.info("DNSSEC key timing re-read at reload", metadata: ["zone": "\(CanonicalName.text(signer.apex))"])
            }
        }
    }
}
