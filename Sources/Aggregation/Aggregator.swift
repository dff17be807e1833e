import PrefixStore
import ZoneSource

/// One line of aggregator output: a listing with its own A and TXT, or a hole.
public struct OutputEntry: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        /// A listing unit (the assignment-size prefix) listed on its own evidence.
        case unit
        /// A containing block listed because `escalate-units` of its units are.
        case block
        /// A whitelist entry inside a listing: `!prefix`.
        case hole
        /// A reputation class of a unit (``Aggregator/classes()``).
        case reputation
        /// An allocation or operator assignment prefix (``Aggregator/allocationZone(_:policy:)``).
        case assignmentSize
    }
    public var prefix: CIDRPrefix
    public var kind: Kind
    /// A value, host order (127.0.0.2 = 0x7F000002); nil for holes.
    public var a: UInt32?
    /// The TXT explaining the decision; nil for holes.
    public var txt: String?
    /// A comment written after the entry (the whitelist line a hole comes from).
    public var comment: String?

    /// The entry in the source syntax (ZoneSource.docc/SourceSyntax.md): `prefix :A:TXT` (a `$` in the TXT doubled) or
    /// `!prefix # comment`.
    public var sourceLine: String {
        if kind == .hole { return "!\(prefix)" + (comment.map { " # \($0)" } ?? "") }
        // `$` would be substituted at answer time (TXT templates): write it as `$$`.
        let text = (txt ?? "").split(separator: "$", omittingEmptySubsequences: false).joined(separator: "$$")
        return "\(prefix) :\(ipv4Text(a ?? 0x7F00_0002)):\(text)"
    }
}

/// What one aggregation produced: entries sorted by address (IPv6 first) and its figures.
public struct AggregationResult: Sendable {
    public var entries: [OutputEntry]
    /// `name value` lines for the report, in order.
    public var figures: [(String, String)]

    /// Entries of one family.
    public func entries(_ family: AddressFamily) -> [OutputEntry] { entries.filter { $0.prefix.family == family } }

    /// A data file for an `ip6trie` (IPv6) or `ip4trie` (IPv4) dataset: `header` lines as
    /// comments, then `specials` verbatim (`$SOA`, `$NS` lines), then one line per entry.
    public func sourceText(_ family: AddressFamily, header: [String], specials: String = "") -> String {
        var s = ""
        for h in header { s += "# \(h)\n" }
        s += specials
        for e in entries where e.prefix.family == family { s += e.sourceLine + "\n" }
        return s
    }
}

/// Turns per-address evidence into prefix listings (or reputation classes), sized by
/// assignment data and bounded by allocations (see the Aggregation article).
///
/// Memory: one 24-byte hash slot per distinct address (load ≤ 0.7) plus one dictionary entry
/// per unit; events themselves are not kept.
public struct Aggregator: Sendable {
    public let policy: AggregationPolicy
    public let allocations: AllocationData
    public let whitelist: Whitelist
    /// The reference time, Unix seconds: the window ends here.
    public let now: Int64
    public internal(set) var evidence = EvidenceStats()
    var counts: AddressCounts

    /// - Parameters:
    ///   - policy: windows, thresholds and listing lengths (AggregatingEvidence, "Policy").
    ///   - allocations: RIR allocations and assignment sizes the listings are bounded by.
    ///   - whitelist: addresses and prefixes never listed.
    ///   - now: Unix seconds; events after it are not counted. Use ``newestTime(files:)`` for
    ///     the reproducible default.
    ///   - expectedAddresses: a sizing hint for the address table.
    public init(policy: AggregationPolicy, allocations: AllocationData, whitelist: Whitelist = Whitelist(),
                now: Int64, expectedAddresses: Int = 1 << 16) {
        self.policy = policy; self.allocations = allocations; self.whitelist = whitelist; self.now = now
        counts = AddressCounts(capacity: expectedAddresses * 10 / 7 + 16)
    }

    /// Distinct addresses with at least one counted event.
    public var addressCount: Int { counts.count }

    struct Unit {
        var bad: UInt64 = 0
        var good: UInt64 = 0
        var addresses: UInt32 = 0
        var badAddresses: UInt32 = 0
        /// Index of the deciding operator line, or -1 for the default.
        var assign: Int32 = -1
        /// Index of the longest allocation containing the unit, or -1.
        var alloc: Int32 = -1
        /// Assignment size in shared-space bits (before widening to the allocation).
        var size: UInt8 = 0
    }

    struct Units {
        var map: [PrefixKey: Unit] = [:]
        var whitelistedAddresses = 0
        var whitelistedEvents: UInt64 = 0
        var defaultSized = 0
        var outsideAllocations = 0
        var widenedToAllocation = 0
    }

    /// Groups the counted addresses into units (whitelisted addresses dropped).
    func units() -> Units {
        var u = Units()
        u.map.reserveCapacity(counts.count / 2 + 16)
        counts.forEach { key, bad, good in
            if whitelist.index.lookup(key) != nil {
                u.whitelistedAddresses += 1
                u.whitelistedEvents += UInt64(bad) + UInt64(good)
                return
            }
            let fam: AddressFamily = isMapped(key) ? .ipv4 : .ipv6
            var size = fam == .ipv4 ? policy.defaultAssignment4 + 96 : policy.defaultAssignment6
            var assign: Int32 = -1
            if let i = allocations.assignmentAt(key), PrefixKey(allocations.assignments[Int(i)].prefix).family == fam {
                assign = i
                size = sharedLength(allocations.assignments[Int(i)].size, fam)
            }
            var alloc: Int32 = -1
            var length = size
            if let i = allocations.allocationAt(key), PrefixKey(allocations.allocations[Int(i)].prefix).family == fam {
                alloc = i
                length = max(size, PrefixKey(allocations.allocations[Int(i)].prefix).len)
            }
            let k = PrefixKey(key, length)
            var unit = u.map[k] ?? Unit(assign: assign, alloc: alloc, size: UInt8(size))
            if unit.addresses == 0 {
                if assign < 0 { u.defaultSized += 1 }
                if alloc < 0 { u.outsideAllocations += 1 }
                if length > size { u.widenedToAllocation += 1 }
            }
            unit.bad += UInt64(bad); unit.good += UInt64(good)
            unit.addresses += 1
            if bad > 0 { unit.badAddresses += 1 }
            u.map[k] = unit
        }
        return u
    }

    private var windowText: String { policy.window == 0 ? "" : " in \(durationText(policy.window))" }

    private func assignmentText(_ unit: Unit, _ key: PrefixKey) -> String {
        let fam = key.family
        let size = fam == .ipv4 ? Int(unit.size) - 96 : Int(unit.size)
        var s = "assignment size /\(size)"
        if unit.assign >= 0 {
            let a = allocations.assignments[Int(unit.assign)]
            s += " (operator file \(baseName(a.file)):\(a.line) for \(a.prefix))"
        } else {
            s += " (default)"
        }
        if key.len > Int(unit.size) { s += ", narrowed to the allocation" }
        return s
    }

    private func allocationText(_ index: Int32) -> String {
        guard index >= 0 else { return "allocation unknown" }
        let a = allocations.allocations[Int(index)]
        return "allocation \(a.prefix) (\(a.registryName) \(a.status))"
    }

    /// Shared-space block lengths a listed unit may escalate to, widest first: the allocation
    /// itself, /48, /40, /32 for IPv6, /24 for IPv4 — only wider than the unit, never wider than
    /// the allocation or max-prefix; none outside known allocations unless the policy allows.
    func candidateLengths(_ key: PrefixKey, _ unit: Unit) -> [Int] {
        let fam = key.family
        var lens = fam == .ipv6 ? [48, 40, 32] : [120]
        var floor: Int
        if unit.alloc >= 0 {
            let al = PrefixKey(allocations.allocations[Int(unit.alloc)].prefix).len
            if fam == .ipv6 { lens.append(al) }
            floor = al
        } else if policy.escalateOutsideAllocations {
            floor = fam == .ipv4 ? 96 : 0
        } else {
            return []
        }
        floor = max(floor, policy.maxPrefixShared(fam))
        return Set(lens.filter { $0 < key.len && $0 >= floor }).sorted()
    }

    /// The listings: units with at least `min-hits` bad events, escalated to containing blocks
    /// where `escalate-units` of their units are listed, plus whitelist holes inside them.
    public func listings() -> AggregationResult {
        let u = units()
        let listed = u.map.filter { $0.value.bad >= UInt64(policy.minHits) }

        // Count listed units per candidate block.
        var blockCount: [PrefixKey: Int] = [:]
        var eligible: [PrefixKey: Bool] = [:]
        var candidates: [PrefixKey: [PrefixKey]] = [:]
        if policy.escalateUnits > 0 {
            for (k, unit) in listed {
                var blocks: [PrefixKey] = []
                for len in candidateLengths(k, unit) {
                    let b = PrefixKey(k.address, len)
                    if eligible[b] == nil { eligible[b] = !allocations.allocationIndex.hasPrefix(strictlyInside: b) }
                    guard eligible[b]! else { continue }
                    blockCount[b, default: 0] += 1
                    blocks.append(b)
                }
                if !blocks.isEmpty { candidates[k] = blocks }
            }
        }
        struct Block { var units = 0; var bad: UInt64 = 0; var addresses: UInt32 = 0; var alloc: Int32 = -1; var unitLens: Set<Int> = [] }
        var blocks: [PrefixKey: Block] = [:]
        var entries: [OutputEntry] = []
        var unitsListed = 0
        for (k, unit) in listed {
            if let b = candidates[k]?.first(where: { blockCount[$0]! >= policy.escalateUnits }) {
                var blk = blocks[b] ?? Block(alloc: unit.alloc)
                blk.units += 1; blk.bad += unit.bad; blk.addresses += unit.badAddresses
                blk.unitLens.insert(k.family == .ipv4 ? k.len - 96 : k.len)
                blocks[b] = blk
                continue
            }
            unitsListed += 1
            let txt = "\(k.cidr) listed: \(counted(unit.bad, "bad event", "bad events")) from \(counted(unit.badAddresses, "address", "addresses"))\(windowText); "
                + assignmentText(unit, k) + "; " + allocationText(unit.alloc)
            entries.append(OutputEntry(prefix: k.cidr, kind: .unit, a: policy.listingA, txt: txt))
        }
        for (b, blk) in blocks {
            let sizes = blk.unitLens.sorted().map { "/\($0)" }.joined(separator: ", ")
            let txt = "\(b.cidr) listed: \(blk.units) of its \(sizes) units listed (escalate-units \(policy.escalateUnits)), "
                + "\(counted(blk.bad, "bad event", "bad events")) from \(counted(blk.addresses, "address", "addresses"))\(windowText); " + allocationText(blk.alloc)
            entries.append(OutputEntry(prefix: b.cidr, kind: .block, a: policy.listingA, txt: txt))
        }
        let holes = holesFor(entries)
        entries += holes.entries
        entries.sort(by: Self.order)

        let figures: [(String, String)] = [
            ("addresses", "\(counts.count) with counted events"),
            ("whitelisted", "\(u.whitelistedAddresses) addresses, \(u.whitelistedEvents) events dropped"),
            ("units", "\(u.map.count) (\(u.defaultSized) sized by default, \(u.map.count - u.defaultSized) by operator lines, \(u.outsideAllocations) outside known allocations, \(u.widenedToAllocation) narrowed to their allocation)"),
            ("units listed", "\(listed.count) with ≥ \(policy.minHits) bad events"),
            ("escalated blocks", "\(blocks.count), replacing \(listed.count - unitsListed) units"),
            ("listings written", "\(unitsListed + blocks.count) (\(entries.filter { $0.prefix.family == .ipv6 && $0.kind != .hole }.count) IPv6, \(entries.filter { $0.prefix.family == .ipv4 && $0.kind != .hole }.count) IPv4)"),
            ("holes written", "\(holes.entries.count) (whitelist entries inside listings; \(holes.unused) not inside any)"),
            ("compression", counts.count == 0 ? "-" : "\(counts.count) addresses → \(unitsListed + blocks.count) listings"),
        ]
        return AggregationResult(entries: entries, figures: figures)
    }

    /// The reputation classes of units with history in the window: A 127.0.0.1.1 good,
    /// 127.0.1.2 mixed, 127.0.1.3 bad (thresholds in ``AggregationPolicy``); units without
    /// history are not listed. Whitelist entries inside class entries become holes.
    public func classes() -> AggregationResult {
        let u = units()
        var entries: [OutputEntry] = []
        var tally = [0, 0, 0]
        for (k, unit) in u.map where unit.bad + unit.good > 0 {
            let share = Double(unit.bad) / Double(unit.bad + unit.good)
            let cls: Int
            if unit.bad >= UInt64(policy.minHits) && share >= policy.badMinBadShare { cls = 3 }
            else if share <= policy.goodMaxBadShare && unit.good > 0 { cls = 1 }
            else { cls = 2 }
            tally[cls - 1] += 1
            let name = ["good", "mixed", "bad"][cls - 1]
            let txt = "\(k.cidr) class \(name): \(unit.bad) bad and \(unit.good) good events from \(counted(unit.addresses, "address", "addresses"))\(windowText); "
                + assignmentText(unit, k) + "; " + allocationText(unit.alloc)
            entries.append(OutputEntry(prefix: k.cidr, kind: .reputation, a: 0x7F00_0100 | UInt32(cls), txt: txt))
        }
        let holes = holesFor(entries)
        entries += holes.entries
        entries.sort(by: Self.order)
        let figures: [(String, String)] = [
            ("addresses", "\(counts.count) with counted events"),
            ("whitelisted", "\(u.whitelistedAddresses) addresses, \(u.whitelistedEvents) events dropped"),
            ("units", "\(u.map.count)"),
            ("class good (127.0.1.1)", "\(tally[0])"),
            ("class mixed (127.0.1.2)", "\(tally[1])"),
            ("class bad (127.0.1.3)", "\(tally[2])"),
            ("holes written", "\(holes.entries.count)"),
        ]
        return AggregationResult(entries: entries, figures: figures)
    }

    /// Whitelist entries that lie inside an output entry, as holes.
    func holesFor(_ entries: [OutputEntry]) -> (entries: [OutputEntry], unused: Int) {
        guard whitelist.count > 0 else { return ([], 0) }
        let keys = entries.map { PrefixKey($0.prefix) }
        let index = PrefixIndex(keys)
        var out: [OutputEntry] = []
        var seen: Set<PrefixKey> = []
        var unused = 0
        for w in whitelist.entries {
            let wk = PrefixKey(w.prefix)
            guard !seen.contains(wk) else { continue }
            seen.insert(wk)
            if let i = index.lookup(wk.address), keys[Int(i)].len <= wk.len {
                out.append(OutputEntry(prefix: w.prefix, kind: .hole, a: nil, txt: nil,
                                       comment: "whitelist \(baseName(w.file)):\(w.line)"))
            } else {
                unused += 1
            }
        }
        return (out, unused)
    }

    /// IPv6 before IPv4, then address order; a listing before a hole of the same prefix.
    static func order(_ a: OutputEntry, _ b: OutputEntry) -> Bool {
        if a.prefix.family != b.prefix.family { return a.prefix.family == .ipv6 }
        let ka = PrefixKey(a.prefix), kb = PrefixKey(b.prefix)
        if ka != kb { return ka < kb }
        return a.kind != .hole && b.kind == .hole
    }

    /// The allocation-size zone: for every known allocation the assignment size its customers
    /// get (A 127.0.0.N meaning /N) and a TXT naming the assignment prefix, the allocation and
    /// their sources; every operator prefix inside a known allocation as its own entry (longest
    /// match decides). Operator prefixes outside every known allocation are left out, so
    /// addresses there get NXDOMAIN.
    public static func allocationZone(_ data: AllocationData, policy: AggregationPolicy) -> AggregationResult {
        var entries: [OutputEntry] = []
        func allocText(_ a: Allocation) -> String {
            "allocation \(a.prefix) (\(a.registryName) \(a.status), \(baseName(a.file)):\(a.line))"
        }
        var defaulted = 0, byOperator = 0, narrowed = 0
        for (key, index) in data.allocationIndex.sorted {
            let alloc = data.allocations[Int(index)]
            let fam = alloc.prefix.family
            var size = fam == .ipv4 ? policy.defaultAssignment4 : policy.defaultAssignment6
            var text = "\(alloc.prefix) assignment-size \(size) (default)"
            if let i = data.assignmentIndex.longestContaining(key), data.assignments[Int(i)].prefix.family == fam {
                let a = data.assignments[Int(i)]
                size = a.size
                text = "\(a.prefix) assignment-size \(size) (operator file \(baseName(a.file)):\(a.line))"
                byOperator += 1
            } else {
                defaulted += 1
            }
            if size < alloc.prefix.length {
                size = alloc.prefix.length
                text += ", narrowed to the allocation /\(size)"
                narrowed += 1
            }
            entries.append(OutputEntry(prefix: alloc.prefix, kind: .assignmentSize, a: 0x7F00_0000 | UInt32(size),
                                       txt: text + "; " + allocText(alloc)))
        }
        var inside = 0, outside = 0
        for (key, index) in data.assignmentIndex.sorted {
            let a = data.assignments[Int(index)]
            guard let ai = data.allocationIndex.longestContaining(key), data.allocations[Int(ai)].prefix.family == a.prefix.family else {
                outside += 1
                continue
            }
            let alloc = data.allocations[Int(ai)]
            if PrefixKey(alloc.prefix) == key { inside += 1; continue }  // the allocation's own entry says it
            inside += 1
            entries.append(OutputEntry(prefix: a.prefix, kind: .assignmentSize, a: 0x7F00_0000 | UInt32(a.size),
                                       txt: "\(a.prefix) assignment-size \(a.size) (operator file \(baseName(a.file)):\(a.line)); " + allocText(alloc)))
        }
        entries.sort(by: order)
        let figures: [(String, String)] = [
            ("allocations", "\(data.allocationIndex.sorted.count) distinct (\(defaulted) with the default size, \(byOperator) sized by an operator line, \(narrowed) narrowed to the allocation)"),
            ("operator prefixes", "\(inside) inside known allocations, \(outside) outside every known allocation (not listed)"),
            ("entries written", "\(entries.count) (\(entries.filter { $0.prefix.family == .ipv6 }.count) IPv6, \(entries.filter { $0.prefix.family == .ipv4 }.count) IPv4)"),
        ]
        return AggregationResult(entries: entries, figures: figures)
    }
}
