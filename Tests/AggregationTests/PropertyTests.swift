import Testing
import PrefixStore
import ZoneSource
@testable import Aggregation
import TestSupport

/// Properties of random scenarios: allocations (/32s with nested /40 and /48 assignments),
/// operator assignment sizes, a whitelist, clustered evidence and a random policy.
struct PropertyTests {
    @Test(arguments: 1...40)
    func listingsCoverEvidenceStayInsideAllocationsAndNeverGrow(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let base: UInt128 = 0x2001_0db8 << 96
        func sub(_ bits: Int, _ at: Int, _ value: UInt64) -> UInt128 { UInt128(value) << UInt128(128 - at - bits) }

        var allocations: [Allocation] = []
        var assignments: [AssignmentSize] = []
        for _ in 0..<Int.random(in: 1...3, using: &rng) {
            let a32 = base | sub(8, 32, .random(in: 0..<4, using: &rng))  // 2001:db8:XX00::/40-ish space
            allocations.append(Allocation(prefix: CIDRPrefix(family: .ipv6, address: a32, length: 40), registry: "ripencc",
                                          country: "ZZ", status: "allocated", file: "t", line: allocations.count + 1))
            if Bool.random(using: &rng) {
                let nested = a32 | sub(8, 40, .random(in: 0..<4, using: &rng))
                allocations.append(Allocation(prefix: CIDRPrefix(family: .ipv6, address: nested, length: 48), registry: "ripencc",
                                              country: "ZZ", status: "assigned", file: "t", line: allocations.count + 1))
            }
            if Bool.random(using: &rng) {
                let op = a32 | sub(8, 40, .random(in: 0..<4, using: &rng))
                assignments.append(AssignmentSize(prefix: CIDRPrefix(family: .ipv6, address: op, length: 48),
                                                  size: [48, 52, 56, 60, 64].randomElement(using: &rng)!, file: "o", line: assignments.count + 1))
            }
        }
        allocations.append(Allocation(prefix: CIDRPrefix(family: .ipv4, address: 0xC000_0200, length: 24), registry: "ripencc",
                                      country: "ZZ", status: "allocated", file: "t", line: 99))

        var policy = AggregationPolicy()
        try policy.set("min-hits", "\(Int.random(in: 1...4, using: &rng))", origin: "t")
        try policy.set("escalate-units", "\(Int.random(in: 0...6, using: &rng))", origin: "t")
        try policy.set("max-prefix", "\([32, 40, 48].randomElement(using: &rng)!)", origin: "t")
        if Bool.random(using: &rng) { try policy.set("escalate-outside-allocations", "yes", origin: "t") }

        // Evidence clustered in a handful of /56s and /64s, some outside every allocation.
        var lines: [String] = []
        var events: [UInt128: Int] = [:]
        var addresses: [UInt128] = []
        for _ in 0..<Int.random(in: 5...25, using: &rng) {
            let cluster = base | sub(16, 32, .random(in: 0..<0x0500, using: &rng)) | sub(16, 48, .random(in: 0..<4, using: &rng))
            for _ in 0..<Int.random(in: 1...12, using: &rng) {
                let a = cluster | sub(8, 56, .random(in: 0..<3, using: &rng)) | UInt128(UInt64.random(in: 1...20, using: &rng))
                addresses.append(a)
            }
        }
        for _ in 0..<Int.random(in: 0...12, using: &rng) { addresses.append(0xFFFF_C000_0200 | UInt128(UInt64.random(in: 0...255, using: &rng))) }
        for a in addresses {
            let n = Int.random(in: 1...3, using: &rng)
            events[a, default: 0] += n
            let text = isMapped(a) ? ipv4Text(UInt32(a & 0xFFFF_FFFF)) : ipv6Text(a)
            lines.append("\(text)\t\(n)")
        }
        var wl = Whitelist()
        for a in addresses.shuffled(using: &rng).prefix(2) {
            let len = isMapped(a) ? 32 : [64, 128].randomElement(using: &rng)!
            let p = PrefixKey(a, isMapped(a) ? 128 : len).cidr
            wl.add(p)
        }

        let data = AllocationData(allocations: allocations, assignments: assignments)
        var agg = Aggregator(policy: policy, allocations: data, whitelist: wl, now: T)
        agg.ingest(text: lines.joined(separator: "\n"))
        let result = agg.listings()
        let listings = result.entries.filter { $0.kind != .hole }
        let keys = result.entries.map { PrefixKey($0.prefix) }

        func decides(_ a: UInt128) -> OutputEntry? {
            var best: (Int, OutputEntry)? = nil
            for (k, e) in zip(keys, result.entries) where k.contains(address: a) {
                if best == nil || k.len > best!.0 || (k.len == best!.0 && e.kind == .hole) { best = (k.len, e) }
            }
            return best?.1
        }
        let wlIndex = PrefixIndex(wl.entries.map { PrefixKey($0.prefix) })

        // 1. Every address with min-hits bad events is listed, unless whitelisted.
        for (a, n) in events where n >= policy.minHits {
            if wlIndex.lookup(a) != nil {
                #expect(decides(a)?.kind != .unit && decides(a)?.kind != .block, "whitelisted \(ipv6Text(a)) listed (seed \(seed))")
            } else {
                let d = decides(a)
                #expect(d != nil && d!.kind != .hole, "\(ipv6Text(a)) with \(n) events not covered (seed \(seed))")
            }
        }
        // 2. No listing is wider than the allocation of the addresses it covers.
        let allocKeys = allocations.map { PrefixKey($0.prefix) }
        for e in listings {
            let k = PrefixKey(e.prefix)
            if let longest = allocKeys.filter({ $0.contains(address: k.address) }).max(by: { $0.len < $1.len }) {
                #expect(longest.len <= k.len, "\(e.prefix) wider than \(longest.cidr) (seed \(seed))")
            } else if e.kind == .block {
                #expect(policy.escalateOutsideAllocations, "\(e.prefix) escalated outside every allocation (seed \(seed))")
            }
            if e.kind == .block {
                #expect(!allocKeys.contains { $0.len > k.len && k.contains($0) }, "\(e.prefix) covers the smaller allocation (seed \(seed))")
                #expect(k.len >= policy.maxPrefixShared(k.family), "\(e.prefix) wider than max-prefix (seed \(seed))")
            }
        }
        // 3. Never more listings than units.
        var units: Set<PrefixKey> = []
        for a in events.keys where wlIndex.lookup(a) == nil {
            let fam: AddressFamily = isMapped(a) ? .ipv4 : .ipv6
            var size = fam == .ipv4 ? 128 : 64
            if let i = data.assignmentAt(a) { size = sharedLength(assignments[Int(i)].size, fam) }
            if let i = data.allocationAt(a) { size = max(size, PrefixKey(allocations[Int(i)].prefix).len) }
            units.insert(PrefixKey(a, size))
        }
        #expect(listings.count <= units.count, "seed \(seed)")
    }
}
