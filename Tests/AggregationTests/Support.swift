import Foundation
import PrefixStore
import ZoneSource
@testable import Aggregation
import TestSupport

/// A prefix from text; crashes the test on a typo.
func cidr(_ text: String) -> CIDRPrefix {
    switch parseCIDR(text) {
    case .success(let c): return c
    case .failure(let e): fatalError("bad test prefix \(text): \(e)")
    }
}

func alloc(_ text: String, registry: String = "ripencc", status: String = "allocated", line: Int = 1) -> Allocation {
    Allocation(prefix: cidr(text), registry: registry, country: "ZZ", status: status, file: "delegated-test.txt", line: line)
}

func assign(_ text: String, _ size: Int, line: Int = 1) -> AssignmentSize {
    AssignmentSize(prefix: cidr(text), size: size, file: "ops.txt", line: line)
}

/// Runs listings over evidence text and returns the source lines of the result, each as
/// `prefix` for a listing or `!prefix` for a hole.
func listingPrefixes(_ evidence: String, allocations: [Allocation] = [], assignments: [AssignmentSize] = [],
                     whitelist: [String] = [], policy: AggregationPolicy = AggregationPolicy(),
                     now: Int64 = 1_700_000_000) -> [String] {
    aggregate(evidence, allocations: allocations, assignments: assignments, whitelist: whitelist,
              policy: policy, now: now).entries.map { ($0.kind == .hole ? "!" : "") + "\($0.prefix)" }
}

func aggregate(_ evidence: String, allocations: [Allocation] = [], assignments: [AssignmentSize] = [],
               whitelist: [String] = [], policy: AggregationPolicy = AggregationPolicy(),
               now: Int64 = 1_700_000_000, classes: Bool = false) -> AggregationResult {
    var wl = Whitelist()
    for w in whitelist { wl.add(cidr(w), file: "wl.txt", line: 1) }
    var agg = Aggregator(policy: policy, allocations: AllocationData(allocations: allocations, assignments: assignments),
                         whitelist: wl, now: now)
    agg.ingest(text: evidence)
    return classes ? agg.classes() : agg.listings()
}

/// Compiles ip6trie/ip4trie texts for zone bl.example into an in-memory store.
func compileStore(ip6: String, ip4: String, dir: TempDir) throws -> (Store, [Diagnostic]) {
    let f6 = dir.write("out.ip6", ip6), f4 = dir.write("out.ip4", ip4)
    let r = Compiler.compile([ZoneSpec(zone: "bl.example", type: "ip6trie", files: [f6]),
                              ZoneSpec(zone: "bl.example", type: "ip4trie", files: [f4])])
    let image = try StoreBuilder.encode(r.zones)
    return (try Store(bytes: image.bytes), r.diagnostics)
}

/// `["127.0.0.2 <txt>"]` for an address looked up offline in the store; empty when not listed.
func look(_ store: Store, _ address: String) -> [String] {
    guard let (fam, key) = parseAddress(address) else { fatalError("bad test address \(address)") }
    return OfflineLookup.lookup([store], family: fam, key: key).map { a in
        ipv4Text(a.a) + (a.txt.map { " " + String(decoding: $0, as: UTF8.self) } ?? "")
    }
}
