// rbldnsd's `ip4set` rule, compiled into the same sorted, disjoint range table as every other
// type. rbldnsd widens each entry to the /32, /24, /16 or /8 buckets at or above its length (a
// /21 is eight /24 entries, a /12 sixteen /16s, a /25 128 /32s; a range is split into CIDRs
// first), looks the address up in the /32 buckets, then /24, /16, /8, and the first level with
// a hit decides: an exclusion there means "not listed", else every listing there answers, each
// with its A and TXT (identical records once). Measured against rbldnsd 1.0pre (see the
// migration guide). Longest prefix is `ip4trie`'s rule.
//
// The sweep below visits the boundaries of the entries in address order with, per bucket
// level, the entries covering the current address; each elementary interval gets its decision.
// A decision of several values becomes a *value run*: consecutive value records of which all
// but the last carry the "continues" flag (StoreFormat.md), and the table entry points at the
// first. The answer path follows the run; lookups stay one table search.

/// What the ip4set sweep produced: ranges in ascending order with a value id (< `plain` = a
/// value index of the dataset; else group `id - plain`), and the groups (sorted value indices).
struct BucketPlan {
    var ranges: [(first: UInt32, last: UInt32, id: UInt32)] = []
    var groups: [[Int32]] = []
}

enum BucketFlattener {
    /// Bucket level of a prefix length: 0 = /32 buckets (lengths 25–32), 1 = /24 (17–24),
    /// 2 = /16 (9–16), 3 = /8 (0–8). Lower levels are more specific and are consulted first.
    @inline(__always)
    static func level(_ length: UInt8) -> Int {
        length > 24 ? 0 : length > 16 ? 1 : length > 8 ? 2 : 3
    }


    /// Runs the sweep. O(n log n + Σ active entries per boundary); entries are checked as
    /// ``Flattener/check(_:family:valueCount:)`` checks them.
    static func plan(_ entries: [PrefixEntry], valueCount: Int) throws(StoreError) -> BucketPlan {
        struct Item { var first: UInt32; var last: UInt32; var level: UInt8; var value: Int32 }
        var items: [Item] = []
        items.reserveCapacity(entries.count)
        var sorted = true
        for e in entries {
            try Flattener.check(e, family: .ipv4, valueCount: valueCount)
            let first = UInt32(truncatingIfNeeded: e.address)
            let last = UInt32(truncatingIfNeeded: Flattener.lastAddress(e.address, e.prefixLength, bits: 32))
            if let p = items.last, p.first > first { sorted = false }
            items.append(Item(first: first, last: last, level: UInt8(level(e.prefixLength)),
                              value: e.isExclusion ? -1 : e.value))
        }
        if !sorted { items.sort { $0.first < $1.first } }

        var plan = BucketPlan()
        plan.ranges.reserveCapacity(items.count + items.count / 8 + 1)
        var groupIndex: [[Int32]: UInt32] = [:]
        let plain = UInt32(valueCount)
        // Entries covering the cursor, per level: (last address, value or -1).
        var active: [[(last: UInt32, value: Int32)]] = [[], [], [], []]
        var activeCount = 0
        var i = 0
        var cursor: UInt64 = 0
        let end: UInt64 = 1 << 32
        var scratch: [Int32] = []
        // Pending merged run.
        var runFirst: UInt32 = 0, runLast: UInt32 = 0, runID: UInt32 = 0, hasRun = false

        func emit(_ first: UInt32, _ last: UInt32, _ id: UInt32) {
            if hasRun && runID == id && UInt64(runLast) + 1 == UInt64(first) { runLast = last; return }
            if hasRun { plan.ranges.append((runFirst, runLast, runID)) }
            runFirst = first; runLast = last; runID = id; hasRun = true
        }

        while cursor < end {
            if activeCount == 0 {
                guard i < items.count else { break }
                cursor = UInt64(items[i].first)
            }
            while i < items.count && UInt64(items[i].first) == cursor {
                active[Int(items[i].level)].append((items[i].last, items[i].value))
                activeCount += 1
                i += 1
            }
            // The interval [cursor, next - 1] has one decision.
            var next: UInt64 = i < items.count ? UInt64(items[i].first) : end
            for l in 0..<4 { for a in active[l] where UInt64(a.last) + 1 < next { next = UInt64(a.last) + 1 } }
            for l in 0..<4 where !active[l].isEmpty {
                let level = active[l]
                if level.contains(where: { $0.value < 0 }) { break }
                scratch.removeAll(keepingCapacity: true)
                for a in level where !scratch.contains(a.value) { scratch.append(a.value) }
                let id: UInt32
                if scratch.count == 1 {
                    id = UInt32(scratch[0])
                } else {
                    scratch.sort()
                    if let g = groupIndex[scratch] { id = g } else {
                        id = plain + UInt32(plan.groups.count)
                        groupIndex[scratch] = id
                        plan.groups.append(scratch)
                    }
                }
                emit(UInt32(truncatingIfNeeded: cursor), UInt32(truncatingIfNeeded: next - 1), id)
                break
            }
            cursor = next
            if cursor < end {
                for l in 0..<4 where !active[l].isEmpty {
                    let before = active[l].count
                    active[l].removeAll { UInt64($0.last) < cursor }
                    activeCount -= before - active[l].count
                }
            }
        }
        if hasRun { plan.ranges.append((runFirst, runLast, runID)) }
        return plan
    }

    /// The slow reference: the value indices that answer `key` by the bucket rule (sorted,
    /// distinct; empty when not listed). Linear in the entries.
    static func reference(_ entries: [PrefixEntry], key: UInt32) -> [Int32] {
        var byLevel: [[PrefixEntry]] = [[], [], [], []]
        for e in entries {
            let last = UInt32(truncatingIfNeeded: Flattener.lastAddress(e.address, e.prefixLength, bits: 32))
            let first = UInt32(truncatingIfNeeded: e.address)
            if first <= key && key <= last { byLevel[level(e.prefixLength)].append(e) }
        }
        for hits in byLevel where !hits.isEmpty {
            if hits.contains(where: \.isExclusion) { return [] }
            return Array(Set(hits.map(\.value))).sorted()
        }
        return []
    }
}

extension StoreBuilder {
    /// rbldnsd `ip4set` semantics for one address, slowly (for guards and tests): the value
    /// indices of `entries` (an IPv4 dataset) that answer `key`, sorted and distinct; empty
    /// when the address is not listed. See the migration guide for the rule.
    public static func ip4setValues(_ entries: [PrefixEntry], at key: UInt32) -> [Int32] {
        BucketFlattener.reference(entries, key: key)
    }
}
