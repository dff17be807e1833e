import DNSSEC
import LDNSKit
import Testing
import TestSupport

struct CanonicalOrderTests {
    /// RFC 4034 §6.1's own example, in order.
    @Test func rfc4034Section6_1Example() {
        let ordered = ["example.", "a.example.", "yljkjljk.a.example.", "Z.a.example.", "zABC.a.EXAMPLE.",
                       "z.example.", "\\001.z.example.", "*.z.example.", "\\200.z.example."].map(name)
        for i in ordered.indices.dropLast() {
            #expect(CanonicalName.precedes(ordered[i], ordered[i + 1]), "\(i)")
            #expect(!CanonicalName.precedes(ordered[i + 1], ordered[i]), "\(i)")
        }
        #expect(CanonicalName.compare(name("Z.a.example."), name("z.A.example")) == 0)
    }

    /// Decimal octet labels sort as strings, and `*` (0x2A) before every digit.
    @Test func decimalAndNibbleLabels() {
        let ordered = ["bl.example", "*.bl.example", "0.bl.example", "1.bl.example", "*.1.bl.example", "10.1.bl.example",
                       "10.bl.example", "100.bl.example", "11.bl.example", "2.bl.example", "a.bl.example", "f.bl.example"].map(name)
        #expect(ordered.sorted(by: CanonicalName.precedes) == ordered)
    }

    /// The comparator agrees with libldns's `ldns_dname_compare` on random names built from
    /// the labels a DNSBL zone holds (digits, hex nibbles, `*`, letters of both cases, other
    /// bytes), reduced to the sign of the result.
    @Test func agreesWithLibldns() {
        let seed = testSeed()
        var rng = SplitMix64(seed: seed)
        let alphabet: [UInt8] = Array("0123456789abcdefABCDEF*-_z".utf8) + [0, 1, 0x7F, 0x80, 0xFF, UInt8(ascii: ".")]
        func randomName() -> [UInt8] {
            var wire: [UInt8] = []
            for _ in 0..<Int.random(in: 0...5, using: &rng) {
                let n = Int.random(in: 1...4, using: &rng)
                wire.append(UInt8(n))
                for _ in 0..<n { wire.append(alphabet.randomElement(using: &rng)!) }
            }
            return wire + name("bl.example")
        }
        var names = (0..<400).map { _ in randomName() }
        // Near neighbours: prefixes and extensions of names already drawn.
        for i in 0..<100 { names.append(Array(names[i].dropFirst(Int(names[i][0]) + 1))) }
        for _ in 0..<3000 {
            let a = names.randomElement(using: &rng)!, b = names.randomElement(using: &rng)!
            let ours = CanonicalName.compare(a, b).signum()
            let theirs = DNSSECVerify.compareNames(a, b).signum()
            #expect(ours == theirs, "seed \(seed): \(CanonicalName.text(a)) vs \(CanonicalName.text(b))")
            if ours != theirs { return }
        }
    }
}
