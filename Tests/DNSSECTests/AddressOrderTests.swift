import DNSSEC
import LDNSKit
import Testing
import TestSupport

/// The mapping the "Canonical order of address names" article works out, checked on random
/// names against slow references built from addresses, and against libldns.
struct AddressOrderTests {
    static let zone = name("bl.example")

    /// `[*.]n_k.….n_1.bl.example`: the first `k` nibbles of `address`, a wildcard on top when asked.
    static func ipv6Name(_ address: UInt128, nibbles k: Int, wildcard: Bool) -> [UInt8] {
        var wire: [UInt8] = wildcard ? [1, UInt8(ascii: "*")] : []
        for i in stride(from: k - 1, through: 0, by: -1) {
            let nibble = Int(address >> UInt128(124 - 4 * i) & 0xF)
            wire += [1, Array("0123456789abcdef".utf8)[nibble]]
        }
        return wire + zone
    }

    /// `[*.]o_k.….o_1.bl.example`, octets in decimal.
    static func ipv4Name(_ address: UInt32, octets k: Int, wildcard: Bool) -> [UInt8] {
        var wire: [UInt8] = wildcard ? [1, UInt8(ascii: "*")] : []
        for i in stride(from: k - 1, through: 0, by: -1) {
            let label = Array(String(address >> UInt32(24 - 8 * i) & 0xFF).utf8)
            wire += [UInt8(label.count)] + label
        }
        return wire + zone
    }

    /// The article's key for an IPv6 name: nibbles from the top, then −1 for a wildcard;
    /// compared lexicographically, a key that is a prefix of another first.
    static func ipv6Key(_ address: UInt128, nibbles k: Int, wildcard: Bool) -> [Int] {
        (0..<k).map { Int(address >> UInt128(124 - 4 * $0) & 0xF) } + (wildcard ? [-1] : [])
    }

    /// The rank of each octet value among the 256 decimal strings in byte order.
    static let octetRank: [Int] = {
        let sorted = (0...255).sorted { Array(String($0).utf8).lexicographicallyPrecedes(Array(String($1).utf8)) }
        var rank = [Int](repeating: 0, count: 256)
        for (r, v) in sorted.enumerated() { rank[v] = r }
        return rank
    }()

    static func ipv4Key(_ address: UInt32, octets k: Int, wildcard: Bool) -> [Int] {
        (0..<k).map { octetRank[Int(address >> UInt32(24 - 8 * $0) & 0xFF)] } + (wildcard ? [-1] : [])
    }

    @Test func ipv6NamesSortAsTheNibbleTriePreorder() {
        let seed = testSeed()
        var rng = SplitMix64(seed: seed)
        var items: [([UInt8], [Int])] = []
        let base = rng.next128()
        for _ in 0..<600 {
            // Near one another: a shared top so that names share ancestors.
            let a = base & ~(UInt128(1) << UInt128(Int.random(in: 0...127, using: &rng)) - 1) | rng.next128() >> UInt128(Int.random(in: 0...127, using: &rng))
            let k = Int.random(in: 0...32, using: &rng)
            let w = k < 32 && Bool.random(using: &rng)
            items.append((Self.ipv6Name(a, nibbles: k, wildcard: w), Self.ipv6Key(a, nibbles: k, wildcard: w)))
        }
        for _ in 0..<4000 {
            let x = items.randomElement(using: &rng)!, y = items.randomElement(using: &rng)!
            let want = x.1 == y.1 ? 0 : (x.1.lexicographicallyPrecedes(y.1) ? -1 : 1)
            let got = CanonicalName.compare(x.0, y.0).signum()
            #expect(got == want, "seed \(seed): \(CanonicalName.text(x.0)) vs \(CanonicalName.text(y.0))")
            if got != want { return }
        }
        // Full-length names: exactly address order.
        let full = (0..<200).map { _ in rng.next128() }
        let byName = full.sorted { CanonicalName.precedes(Self.ipv6Name($0, nibbles: 32, wildcard: false), Self.ipv6Name($1, nibbles: 32, wildcard: false)) }
        #expect(byName == full.sorted(), "seed \(seed)")
    }

    @Test func ipv4NamesSortByOctetsInStringOrder() {
        let seed = testSeed()
        var rng = SplitMix64(seed: seed)
        var items: [([UInt8], [Int])] = []
        for _ in 0..<600 {
            let a = UInt32(truncatingIfNeeded: rng.next()) & (Bool.random(using: &rng) ? 0xFFFF_FFFF : 0xC000_02FF)
            let k = Int.random(in: 0...4, using: &rng)
            let w = k < 4 && Bool.random(using: &rng)
            items.append((Self.ipv4Name(a, octets: k, wildcard: w), Self.ipv4Key(a, octets: k, wildcard: w)))
        }
        for _ in 0..<4000 {
            let x = items.randomElement(using: &rng)!, y = items.randomElement(using: &rng)!
            let want = x.1 == y.1 ? 0 : (x.1.lexicographicallyPrecedes(y.1) ? -1 : 1)
            let got = CanonicalName.compare(x.0, y.0).signum()
            #expect(got == want, "seed \(seed): \(CanonicalName.text(x.0)) vs \(CanonicalName.text(y.0))")
            if got != want { return }
        }
    }

    /// The article's examples: a /24 is one run of the chain; a /25 is not.
    @Test func octetAlignedRangesAreContiguousOthersAreNot() {
        var all = (0..<256).map { Self.ipv4Name(0xC000_0200 | UInt32($0), octets: 4, wildcard: false) }
        all += [Self.ipv4Name(0xC000_0300, octets: 4, wildcard: false), Self.ipv4Name(0xC000_0100, octets: 4, wildcard: false),
                Self.ipv4Name(0xC000_0200, octets: 3, wildcard: false), Self.ipv4Name(0xC000_0200, octets: 3, wildcard: true)]
        all.sort(by: CanonicalName.precedes)
        let in24 = all.indices.filter { CanonicalName.labels(all[$0]).count >= 5 && CanonicalName.text(all[$0]).hasSuffix(".2.0.192.bl.example.") || CanonicalName.text(all[$0]).hasPrefix("*.2.0.192") }
        #expect(in24 == Array(in24.first!...in24.last!))
        #expect(CanonicalName.text(all[in24.first! - 1]) == "2.0.192.bl.example.")
        let lowHalf = all.indices.filter { i in
            let l = CanonicalName.labels(all[i])
            guard l.count == 6, CanonicalName.text(all[i]).hasSuffix(".2.0.192.bl.example."),
                  let octet = Int(String(decoding: l[0], as: UTF8.self)) else { return false }
            return octet < 128
        }
        #expect(lowHalf != Array(lowHalf.first!...lowHalf.last!), "192.0.2.0/25 interleaves with /25's upper half")
    }

    /// IPv4 and IPv6 names in one zone: our order and libldns's agree, and the first labels
    /// below the apex come in string order whatever their family.
    @Test func bothFamiliesInOneZoneAgreeWithLibldns() {
        let seed = testSeed()
        var rng = SplitMix64(seed: seed)
        var names: [[UInt8]] = []
        for _ in 0..<300 {
            let k6 = Int.random(in: 0...32, using: &rng), k4 = Int.random(in: 0...4, using: &rng)
            names.append(Self.ipv6Name(rng.next128(), nibbles: k6, wildcard: k6 < 32 && Bool.random(using: &rng)))
            names.append(Self.ipv4Name(UInt32(truncatingIfNeeded: rng.next()), octets: k4, wildcard: k4 < 4 && Bool.random(using: &rng)))
        }
        let ours = names.sorted(by: CanonicalName.precedes)
        let theirs = names.sorted { DNSSECVerify.compareNames($0, $1) < 0 }
        #expect(ours.map(CanonicalName.text) == theirs.map(CanonicalName.text), "seed \(seed)")
        let firstLabels = ["*", "0", "1", "10", "100", "19", "190", "2", "9", "99", "a", "f"]
        let sorted = firstLabels.map { name($0 + ".bl.example") }.sorted(by: CanonicalName.precedes)
        #expect(sorted.map { String(CanonicalName.text($0).split(separator: ".")[0]) } == firstLabels)
    }
}
