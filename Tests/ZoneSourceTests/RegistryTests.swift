import Testing
import Foundation
import PrefixStore
@testable import ZoneSource
import TestSupport

/// The dataset-type registry (DatasetTypes/): one entry per type, each type's rule the one the
/// store reads back for its name, and every type compiling to what it declares.
struct RegistryTests {
    @Test func namesAreUniqueLowerCaseAndInTheDocumentedOrder() {
        let names = DatasetTypes.all.flatMap { [$0.name] + $0.aliases }
        #expect(Set(names).count == names.count)
        #expect(names.allSatisfy { $0 == $0.lowercased() && !$0.isEmpty })
        // The order of messages and help (the "not supported" message lists them so).
        #expect(DatasetTypes.names == ["ip4set", "ip4trie", "ip4tset", "ip6trie", "ip6tset", "dnset", "generic", "acl", "aclkey", "combined"])
        #expect(DatasetTypes.later.isDisjoint(with: names))
        for t in DatasetTypes.all { #expect(DatasetTypes.named(t.name)?.name == t.name) }
        #expect(DatasetTypes.named("ip5set") == nil)
    }

    /// The store records a dataset's type name and reads its rule back from it: a registered
    /// type whose declared rule the store would not give its name would be served by another
    /// rule after a reload from the file. The builder refuses such input too (checked below).
    @Test func everyTypesRuleIsTheOneTheStoreReadsBack() {
        for t in DatasetTypes.all {
            guard let rule = t.rule else { continue }
            let families: [AddressFamily] = t.family.map { [$0] } ?? [.ipv4, .ipv6]
            for f in families {
                #expect(DatasetRule(storedType: t.name, family: f) == rule, "\(t.name) \(f)")
            }
        }
        // The dump name of a type with a table is a type with the same family.
        for t in DatasetTypes.all where t.rule != nil {
            let back = DatasetTypes.named(t.dumpName)
            #expect(back != nil && back?.family == t.family, "\(t.name) dumps as \(t.dumpName)")
        }
    }

    /// Every type with a table compiles, as a top-level spec, to datasets of its name, family and
    /// rule; the store opens them with the same rule.
    @Test func everyTypeCompilesToItsDeclaredRule() throws {
        let sample: [AddressFamily: String] = [.ipv4: "192.0.2.1\n", .ipv6: "2001:db8::/64\n"]
        for t in DatasetTypes.all {
            guard let rule = t.rule else { continue }
            let text: String
            switch rule {
            case .domainNames: text = "example.com\n"
            case .keyInQName: text = "customerkey1 :pass\n"
            case .clientACL: text = "192.0.2.0/24 :refuse\n2001:db8::/32 :refuse\n"
            case .longestPrefix, .ip4Buckets: text = sample[t.family!]!
            }
            let r = compileTexts([("bl.example", t.name, [text])])
            #expect(!r.hasErrors, "\(t.name): \(r.diagnostics)")
            let datasets = r.zones.flatMap(\.datasets)
            #expect(!datasets.isEmpty, "\(t.name)")
            for d in datasets {
                #expect(d.type == t.name && d.rule == rule && (t.family == nil || d.family == t.family))
            }
            let store = try Store(zones: r.zones)
            for d in store.zones.flatMap(\.datasets) { #expect(d.rule == rule, "\(t.name)") }
        }
    }

    /// A dataset whose rule disagrees with its type name is refused by the builder: what the
    /// store writes is what it reads back.
    @Test func builderRefusesARuleItsTypeNameWouldNotReadBack() {
        let d = DatasetInput(name: "x", type: "ip4trie", rule: .ip4Buckets, family: .ipv4, ttl: 60,
                             values: [ListingValue(a: 0x7F00_0002, txt: nil)],
                             entries: [PrefixEntry(address: 0xC000_0200, prefixLength: 24, value: 0, origin: 0)])
        let soa = SOAData(ttl: 60, mname: [0], rname: [0], serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 1)
        let z = ZoneInput(name: [2, 0x62, 0x6C, 0], soa: soa, nsTTL: 60, ns: [], datasets: [d])
        #expect(throws: StoreError.self) { try Store(zones: [z]) }
    }

    /// `$DATASET` finds its section's type in the registry: a container cannot be a section, an
    /// apex-only type attaches at `@` only, an unknown type is refused.
    @Test func sectionsFollowTheTypesPlacement() {
        func errors(_ text: String) -> [String] {
            compileTexts([("bl.example", "combined", [text])]).diagnostics.filter { $0.severity == .error }.map(\.message)
        }
        #expect(errors("$DATASET combined @\n").contains("combined datasets cannot be nested"))
        #expect(errors("$DATASET acl sub\n192.0.2.1 :refuse\n").contains("an acl section applies to the whole zone: attach it at @ only"))
        #expect(errors("$DATASET ip5set @\n").contains("$DATASET: unknown or unsupported dataset type 'ip5set'"))
        #expect(errors("$DATASET ip4trie sub\n192.0.2.0/24\n$DATASET acl @\n192.0.2.1 :refuse\n").isEmpty)
    }
}
