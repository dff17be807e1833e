import PrefixStore

/// TTL bounds, seconds: rbldnsd's `-t :MINTTL:MAXTTL` (`prefixbl serve --min-ttl/--max-ttl`).
/// A TTL below ``min`` is raised to it, one above ``max`` lowered to it; nil or 0 = no bound
/// (rbldnsd's rule). Applied alike to compiled sources and to mapped stores, so a bound never
/// depends on how the data reached the server.
public struct TTLBounds: Sendable, Hashable {
    public var min: UInt32?
    public var max: UInt32?

    public init(min: UInt32? = nil, max: UInt32? = nil) { self.min = min; self.max = max }

    /// Whether no bound is set.
    public var isEmpty: Bool { (min ?? 0) == 0 && (max ?? 0) == 0 }

    /// `ttl` within the bounds, seconds.
    public func clamp(_ ttl: UInt32) -> UInt32 {
        var t = ttl
        if let min, min > 0, t < min { t = min }
        if let max, max > 0, t > max { t = max }
        return t
    }

    /// Clamps the SOA, NS and every dataset TTL of `zones`.
    public func apply(to zones: inout [ZoneInput]) {
        guard !isEmpty else { return }
        for z in zones.indices {
            zones[z].soa.ttl = clamp(zones[z].soa.ttl)
            zones[z].nsTTL = clamp(zones[z].nsTTL)
            for d in zones[z].datasets.indices { zones[z].datasets[d].ttl = clamp(zones[z].datasets[d].ttl) }
        }
    }

    /// The same TTLs of a mapped store: `store` itself when there is no bound, else a store
    /// sharing its mapping with the TTLs clamped (`PrefixStore/Store/mappingTTLs(_:)`).
    public func apply(to store: Store) -> Store {
        isEmpty ? store : store.mappingTTLs(clamp)
    }
}

/// The one path from dataset specs to a store image, taken by `prefixbl compile`, `check` and
/// `serve` alike (NSD's checker is its loader): compile (``Compiler/compile(_:options:)``),
/// clamp the TTLs (``TTLBounds``), encode (`PrefixStore/StoreBuilder/encode(_:)`), and report
/// the equal-prefix conflicts the encoder found as diagnostics naming both lines. Every
/// consumer sees the same diagnostics, in the same order.
public struct SourceBuild: Sendable {
    /// The compiled zones (empty when there are errors).
    public var zones: [ZoneInput]
    /// The store image; nil when there are errors.
    public var image: StoreImage?
    /// Compiler diagnostics, then the conflicts, then an encoder failure if any.
    public var diagnostics: [Diagnostic]
    public var stats: CompileStats
    public var origins: OriginTable
    /// Lines skipped as rbldnsd skips them, per zone and dataset (``CompileResult/skipped``).
    public var skipped: [(zone: String, dataset: String, lines: Int)]
    /// All skipped lines.
    public var skippedLines: Int { skipped.reduce(0) { $0 + $1.lines } }

    /// Whether any diagnostic is an error (then nothing must be written or served).
    public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }

    /// Runs the path. Conflicts are errors under ``CompileOptions/strict``, warnings otherwise.
    /// Never throws: every problem is a ``Diagnostic``.
    /// - Parameters:
    ///   - specs: the dataset specs, in command-line order.
    ///   - options: compiler options (`--strict`, `--force`, TTL default, host bits…).
    ///   - ttl: TTL bounds applied to the compiled zones (`--min-ttl`, `--max-ttl`).
    ///   - encoding: called once parsing succeeded, before the (possibly long) encode;
    ///     for a progress display.
    public static func run(_ specs: [ZoneSpec], options: CompileOptions, ttl: TTLBounds = TTLBounds(),
                           encoding: (() -> Void)? = nil) -> SourceBuild {
        let result = Compiler.compile(specs, options: options)
        var build = SourceBuild(zones: result.zones, image: nil, diagnostics: result.diagnostics,
                                stats: result.stats, origins: result.origins, skipped: result.skipped)
        guard !result.hasErrors else { return build }
        encoding?()
        ttl.apply(to: &build.zones)
        do throws(StoreError) {
            let image = try StoreBuilder.encode(build.zones)
            build.diagnostics += Compiler.conflictDiagnostics(image.conflicts, origins: result.origins, strict: options.strict)
            // Strict conflicts are errors: the image must not be written or served.
            if !build.hasErrors { build.image = image }
        } catch {
            build.diagnostics.append(Diagnostic(.error, .io, "cannot build the store: \(error)"))
        }
        return build
    }
}
