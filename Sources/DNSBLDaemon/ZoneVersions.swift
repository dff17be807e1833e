import DNSBL
import DNSBLServer
import DNSSEC
import Logging
import PrefixStore
import Synchronization
import ZoneExport
import ZoneTransfer

/// The SOA serials of the signed zones as served, which may run ahead of the data's serials:
/// a signed zone gets new versions without a data change (``SignedZoneVersions``), and a
/// reload must not take the serial back below them (secondaries compare serials, RFC 1982).
///
/// At each load, per signed zone, with D the data's serial and S the serial served so far:
/// D unchanged since the last load → S stays; D ahead of S → D; else (the data changed under
/// a serial not ahead of S) → the next serial after S (``next(after:now:)``).
public final class SignedSerials: Sendable {
    struct Entry { var data: UInt32; var served: UInt32 }
    private let state = Mutex<[[UInt8]: Entry]>([:])

    public init() {}

    /// A new version's serial: the Unix time `now`, as a `$SOA` serial of 0 takes the newest
    /// source file's time, when that is ahead of `current` (RFC 1982); else `current` + 1.
    public static func next(after current: UInt32, now: UInt32) -> UInt32 {
        SerialNumber.isGreater(now, than: current) ? now : current &+ 1
    }

    /// The serial zone `apex` is served with now; nil before its first load.
    public func served(_ apex: [UInt8]) -> UInt32? { state.withLock { $0[apex]?.served } }

    /// `stores` as freshly loaded, with each zone of `apexes` (lower-case wire form) given the
    /// serial it is served with (the rule of the type comment).
    func apply(_ stores: [Store], apexes: [[UInt8]], now: UInt32) -> [Store] {
        var out = stores
        for apex in apexes {
            guard let data = stores.lazy.flatMap(\.zones).first(where: { $0.name == apex })?.soa.serial else { continue }
            let served = state.withLock { s -> UInt32 in
                var serial = data
                if let e = s[apex], e.data == data {
                    serial = e.served
                } else if let e = s[apex], !SerialNumber.isGreater(data, than: e.served) {
                    serial = Self.next(after: e.served, now: now)
                }
                s[apex] = Entry(data: data, served: serial)
                return serial
            }
            if served != data { out = out.map { $0.settingSerial(served, zone: apex) } }
        }
        return out
    }

    /// Records a new version of `apex` served with `serial` (the data unchanged).
    func raise(_ apex: [UInt8], to serial: UInt32) {
        state.withLock { s in if let e = s[apex] { s[apex] = Entry(data: e.data, served: serial) } }
    }
}

/// New versions of the signed zones for their secondaries without a data change. A
/// secondary serves the signatures of the version it transferred until the serial moves; so,
/// checked every second off the query path (by ``ResigningService``), a signed zone gets a new
/// SOA serial (``SignedSerials/next(after:now:)``), swapped in through
/// `DNSBLServer/Reloader/rebuild(_:)` like any reload, when the version last built for transfer
/// - was signed by other keys than sign now, or publishes other DNSKEYs (a key timing event
///   or a re-read key file);
/// - holds a signature that falls due: it expires within the refresh margin plus its RRset's
///   slack (`ZoneTransfer/SignatureCarry`: RRsets come due in four batches);
/// - is this process's first: secondaries may hold the previous process's signatures, which
///   this process cannot see, under the serials this process serves again (a restart loads the
///   data's serial; a date-style serial, `YYYYMMDDnn`, is ahead of the Unix time, so versions
///   count up from it by one and would reuse serials the previous process gave other content).
///   With `--notify` targets (`secondaries`) this version comes as soon as the start version
///   is built for transfer: each target is asked for the serial it holds
///   (`ZoneTransfer/NotifyService/heldSerials(zone:)`, off the query path, bounded waits), the
///   holdings are logged (a warning names a target that could not be asked) and the version's
///   serial is past the highest one held and past the data's, so no serial is ever reused with
///   other content (RFC 1982, RFC 1995 §1), and its NOTIFY reaches the targets at once. A
///   secondary that is not a `--notify` target is not asked: without targets the version
///   comes half the refresh margin after start, and a secondary that holds a serial past it
///   keeps the previous process's signatures until the serials pass it.
/// The transfer prebuild then signs the new version (re-signing only what is due), its IXFR
/// carries the changed RRSIGs, DNSKEYs and the SOA, and `ZoneTransfer/NotifyService` tells
/// the `--notify` targets. Logged at info level and counted
/// (`prefixbl_dnssec_zone_versions_total`).
public final class SignedZoneVersions: Sendable {
    let transfer: TransferResponder
    let serials: SignedSerials
    let reloader: Reloader
    let answer: AnswerOptions
    let logger: Logger
    let started: UInt32
    /// The `--notify` targets, asked what they hold before this process's first version.
    let secondaries: NotifyService?
    private let made = Mutex<Set<[UInt8]>>([])

    public init(transfer: TransferResponder, serials: SignedSerials, reloader: Reloader, answer: AnswerOptions,
                logger: Logger, started: UInt32? = nil, secondaries: NotifyService? = nil) {
        self.transfer = transfer; self.serials = serials; self.reloader = reloader; self.answer = answer
        self.secondaries = secondaries.flatMap { $0.targetCount == 0 ? nil : $0 }
        self.logger = logger; self.started = started ?? UInt32(truncatingIfNeeded: wallClock())
    }

    static let firstWhy = "first version since start: secondaries may hold the previous process's signatures"

    /// Why zone `signer.apex` needs a new version now, or nil.
    func reason(_ signer: ZoneSigner, serving serial: UInt32) -> String? {
        // Only once the serving serial's version is built (the prebuild after a swap): one
        // new version at a time.
        guard let v = transfer.signedVersion(apex: signer.apex), v.serial == serial else { return nil }
        let now = signer.clock()
        if signer.keyGeneration != v.generation { return "signing keys changed" }
        if Set(signer.dnskeyRData) != Set(v.dnskeys) { return "published DNSKEYs changed" }
        if let due = v.nextDue, Int32(bitPattern: now &- due) >= 0 { return "signatures due" }
        if !made.withLock({ $0.contains(signer.apex) }) {
            if secondaries != nil { return Self.firstWhy }
            if Int32(bitPattern: now &- (started &+ signer.validity.refreshMargin / 2)) >= 0 { return Self.firstWhy }
        }
        return nil
    }

    /// Makes a new version of `signer`'s zone when ``reason(_:serving:)`` finds one.
    func check(_ signer: ZoneSigner) async {
        let apex = signer.apex
        @Sendable func serial(_ s: Snapshot) -> UInt32? { s.responder.stores.lazy.flatMap(\.zones).first { $0.name == apex }?.soa.serial }
        guard let current = serial(reloader.holder.load()), let why = reason(signer, serving: current) else { return }
        var floor = current
        if !made.withLock({ $0.contains(apex) }), let secondaries {
            let zone = CanonicalName.text(apex)
            let held = (try? await Reloader.offThread { secondaries.heldSerials(zone: zone) }) ?? []
            for (target, answered, serial) in held {
                if let serial {
                    logger.info("DNSSEC: secondary holds", metadata: ["zone": "\(zone)", "target": "\(target)", "serial": "\(serial)"])
                    if SerialNumber.isGreater(serial, than: floor) { floor = serial }
                } else if answered {
                    logger.info("DNSSEC: secondary holds no version of the zone", metadata: ["zone": "\(zone)", "target": "\(target)"])
                } else {
                    logger.warning("DNSSEC: cannot ask a secondary which serial it holds; if it holds a serial past this process's, it keeps the previous process's signatures until the serials pass it",
                                   metadata: ["zone": "\(zone)", "target": "\(target)"])
                }
            }
        }
        let next = SignedSerials.next(after: floor, now: signer.clock())
        let answer = self.answer, serials = self.serials
        let installed = await reloader.rebuild { snapshot in
            // A reload in between made its own version.
            guard serial(snapshot) == current else { return nil }
            let stores = snapshot.responder.stores.map { $0.settingSerial(next, zone: apex) }
            let fresh = Snapshot.serving(stores, options: answer, now: wallClock())
            serials.raise(apex, to: next)
            return fresh
        }
        guard installed != nil else { return }
        made.withLock { _ = $0.insert(apex) }
        signer.noteResignVersion()
        logger.info("DNSSEC: new zone version for secondaries (no data change)", metadata: [
            "zone": "\(CanonicalName.text(apex))", "serial": "\(next)", "previous-serial": "\(current)", "why": "\(why)"])
        if floor != current {
            logger.info("DNSSEC: serial past what a secondary holds", metadata: ["zone": "\(CanonicalName.text(apex))", "held": "\(floor)"])
        }
    }
}
