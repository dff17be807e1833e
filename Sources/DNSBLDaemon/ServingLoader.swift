#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DNSBL
import DNSBLServer
import Logging
import PrefixStore
import ZoneSource

/// What `serve` answers from: compiled stores and dataset specs, with the build settings of
/// the one source path (`ZoneSource/SourceBuild`) and the TTL bounds applied to both.
public struct DataSources: Sendable {
    /// Store files, mapped as they are (then TTL-bounded).
    public var stores: [String]
    /// Dataset specs compiled at start and at every reload.
    public var specs: [ZoneSpec]
    /// How specs compile (`--force`, `--default-ttl`, `--allow-host-bits`); `now` is set per load.
    public var compile: CompileOptions
    /// `--min-ttl`/`--max-ttl`, for stores and specs alike.
    public var ttl: TTLBounds

    public init(stores: [String], specs: [ZoneSpec], compile: CompileOptions = CompileOptions(), ttl: TTLBounds = TTLBounds()) {
        self.stores = stores; self.specs = specs; self.compile = compile; self.ttl = ttl
    }

    /// Every file whose change asks for a reload.
    public var files: [String] { stores + specs.flatMap(\.files) }

    /// The spec files of each zone, keyed by lower-case zone text without the trailing dot
    /// (`DNSBLServer.SnapshotLoader.zoneFiles`: a zone's data age comes from its own files).
    public var zoneFiles: [String: [String]] {
        var out: [String: [String]] = [:]
        for spec in specs {
            var zone = spec.zone.lowercased()
            while zone.count > 1 && zone.hasSuffix(".") { zone.removeLast() }
            out[zone, default: []] += spec.files
        }
        return out
    }

    /// Maps the stores and builds the specs (the path of `prefixbl compile`), TTL bounds applied.
    /// - Parameter now: Unix seconds for `$TIMESTAMP` checks.
    /// - Parameter warn: called with every warning the build reports (conflicts included), in order.
    /// - Throws: `StoreError` for a store that does not open; ``BuildFailed`` listing the first
    ///   errors with file:line when the specs do not build.
    public func load(now: UInt64, warn: (Diagnostic) -> Void) throws -> [Store] {
        var loaded: [Store] = []
        for path in stores { loaded.append(ttl.apply(to: try Store(path: path))) }
        if !specs.isEmpty {
            var options = compile
            options.now = now
            let build = SourceBuild.run(specs, options: options, ttl: ttl)
            for d in build.diagnostics where d.severity != .error { warn(d) }
            guard let image = build.image, !build.hasErrors else {
                let errors = build.diagnostics.filter { $0.severity == .error }
                throw BuildFailed(errors: errors)
            }
            loaded.append(try Store(bytes: image.bytes))
        }
        return loaded
    }
}

/// Dataset specs that did not build: nothing of them is served (a reload keeps the old data).
public struct BuildFailed: Error, Sendable, CustomStringConvertible {
    public var errors: [Diagnostic]
    public var description: String {
        "config: compile failed with \(errors.count) error(s): \(errors.prefix(5).map(\.description).joined(separator: "; "))"
    }
}

/// The reload side of the daemon: the loader the `DNSBLServer/Reloader` calls (it never calls
/// back into the command line) and the refresh that rebuilds the Responder for `$TIMESTAMP`
/// expiry.
public struct ServingLoader: Sendable {
    public let data: DataSources
    public let answer: AnswerOptions
    public let logger: Logger
    /// Re-reads the DNSSEC keys at each reload; nil = no signed zone.
    public let keys: KeyRereader?
    /// The serials the signed zones are served with (they may run ahead of the data's,
    /// ``SignedZoneVersions``); nil = the data's serials as they are.
    public let serials: SignedSerials?

    public init(data: DataSources, answer: AnswerOptions, logger: Logger, keys: KeyRereader? = nil, serials: SignedSerials? = nil) {
        self.data = data; self.answer = answer; self.logger = logger; self.keys = keys; self.serials = serials
    }

    /// The `DNSBLServer/SnapshotLoader` for the Reloader: the watched files and the builder.
    public var snapshotLoader: SnapshotLoader {
        SnapshotLoader(files: data.files, zoneFiles: data.zoneFiles) { [data, answer, logger, keys, serials] in
            let now = wallClock()
            var stores = try data.load(now: now) { logger.warning("\($0)") }
            if let signers = answer.dnssec?.signers {
                // What cannot be one signed zone is refused at a reload as at start.
                if let refusal = Daemon.signedRefusal(stores: stores, signers: signers) { throw refusal }
                keys?.reread(logger: logger)
                if let serials { stores = serials.apply(stores, apexes: signers.map(\.apex), now: UInt32(truncatingIfNeeded: now)) }
            }
            return Snapshot.serving(stores, options: answer, now: now)
        }
    }

    /// For `DNSBLServer/Reloader/refresh`: `$TIMESTAMP` expiry is judged when a Responder
    /// is built, so a snapshot with an expiring dataset is rebuilt (every minute) from the
    /// stores it already has; nil when no dataset expires.
    public var refresh: @Sendable (Snapshot) -> Snapshot? {
        { [answer] current in
            let responder = current.responder
            guard responder.stores.contains(where: { $0.zones.contains { $0.datasets.contains { $0.expires != nil } } })
            else { return nil }
            return Snapshot.serving(responder.stores, options: answer, now: wallClock())
        }
    }
}

/// Unix seconds now.
func wallClock() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return UInt64(ts.tv_sec)
}
