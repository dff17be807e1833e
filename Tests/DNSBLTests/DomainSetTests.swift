import Testing
import TestSupport
import DNSWire
import PrefixStore
import DNSBL

// dnset answers: rbldnsd's dnset matching against a slow, obviously-correct reference, RFC 8020
// NODATA above listed names, `$` in TXT, several values, subzones, and the allocation gate.

/// One dnset line for the reference: labels (left to right), plain/wildcard arrays, value.
struct RefLine {
    var labels: [String]
    var plain: Bool   // the name itself
    var wild: Bool    // names strictly below it
    var value: Int32  // -1: exclusion
}

/// rbldnsd's dnset rule, written the slow way: the plain lines naming Q decide if there are
/// any (an exclusion among them wins); otherwise the nearest ancestor (one label removed or
/// more) with wildcard lines decides (an exclusion among them wins). Returns the values.
func referenceMatch(_ lines: [RefLine], _ q: [String]) -> Set<Int32>? {
    let plain = lines.filter { $0.plain && $0.labels == q }
    if !plain.isEmpty { return plain.contains { $0.value < 0 } ? nil : Set(plain.map(\.value)) }
    if q.count < 2 { return nil }
    for k in 1..<q.count {
        let a = Array(q[k...])
        let w = lines.filter { $0.wild && $0.labels == a }
        if !w.isEmpty { return w.contains { $0.value < 0 } ? nil : Set(w.map(\.value)) }
    }
    return nil
}

/// Whether some name strictly below Q is listed (then Q is NODATA, RFC 8020): candidates are
/// every line's name below Q, a fresh child of each, and a fresh child of Q.
func referenceListedBelow(_ lines: [RefLine], _ q: [String]) -> Bool {
    var candidates: [[String]] = [["zz-fresh"] + q]
    for l in lines where l.labels.count > q.count && Array(l.labels.suffix(q.count)) == q {
        candidates.append(l.labels)
        candidates.append(["zz-fresh"] + l.labels)
    }
    return candidates.contains { referenceMatch(lines, $0) != nil }
}

func labelsWire(_ labels: [String]) -> [UInt8] {
    var out: [UInt8] = []
    for l in labels { out.append(UInt8(l.utf8.count)); out += Array(l.utf8) }
    return out
}

func domainDataset(_ lines: [RefLine], values: [ListingValue], name: String = "dnset:test",
                   subzone: [UInt8] = []) -> DatasetInput {
    var d = DatasetInput(name: name, type: "dnset", family: .ipv4, ttl: 2100, values: values, entries: [], subzone: subzone)
    var doms: [DomainEntry] = []
    for (i, l) in lines.enumerated() {
        let w = labelsWire(l.labels.map { $0.lowercased() })
        if l.plain { doms.append(DomainEntry(name: w, wildcard: false, value: l.value, origin: UInt32(i))) }
        if l.wild { doms.append(DomainEntry(name: w, wildcard: true, value: l.value, origin: UInt32(i))) }
    }
    d.domains = doms
    return d
}

@Suite("dnset answers")
struct DomainSetTests {
    static let values = (0..<4).map { ListingValue(a: 0x7F00_0002 + UInt32($0), txt: Array("v\($0) $".utf8)) }

    @Test func matchesTheReferenceOnRandomLists() throws {
        var rng = SplitMix64(seed: 0xD45E7)
        let alphabet = ["a", "b", "c", "xn--bcher-kva", "0123456789abcdef0123456789abcdef01234567", "_dmarc"]
        for round in 0..<60 {
            var lines: [RefLine] = []
            for _ in 0..<Int(rng.next() % 25 + 1) {
                let depth = Int(rng.next() % 4) + 1
                let labels = (0..<depth).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
                let form = rng.next() % 3  // name, .name, *.name
                let value: Int32 = rng.next() % 4 == 0 ? -1 : Int32(rng.next() % 4)
                lines.append(RefLine(labels: labels, plain: form != 2, wild: form != 0, value: value))
            }
            let r = try responder([zone([domainDataset(lines, values: Self.values)])])
            // Queries: every line's name, its children and parents, and random names.
            var queries: Set<[String]> = []
            for l in lines {
                queries.insert(l.labels)
                queries.insert(["x"] + l.labels)
                queries.insert(["a", "b"] + l.labels)
                for k in 1..<l.labels.count { queries.insert(Array(l.labels[k...])) }
            }
            for _ in 0..<20 {
                queries.insert((0..<Int(rng.next() % 5 + 1)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] })
            }
            for q in queries {
                // Random case: matching is case-insensitive.
                let text = q.map { l in String(l.map { rng.next() % 2 == 0 ? Character($0.uppercased()) : $0 }) }.joined(separator: ".")
                let p = try ask(r, text + ".bl.example", DNSType.a)
                let want = referenceMatch(lines, q)
                let got = Set(p.answer.compactMap(\.aValue))
                if let want {
                    #expect(p.rcode == 0 && got == Set(want.map { 0x7F00_0002 + UInt32($0) }),
                            "round \(round) \(text): want \(want.sorted()), got rcode \(p.rcode) \(got.sorted()); lines \(lines)")
                } else {
                    let nodata = referenceListedBelow(lines, q)
                    #expect(p.answer.isEmpty && p.rcode == (nodata ? 0 : 3),
                            "round \(round) \(text): want \(nodata ? "NODATA" : "NXDOMAIN"), got rcode \(p.rcode) \(got.sorted()); lines \(lines)")
                }
            }
        }
    }

    static func lines(_ text: String) -> [RefLine] {
        text.split(separator: "\n").map { raw in
            var s = Substring(raw)
            var value: Int32 = 0
            if let sp = s.firstIndex(of: " ") { value = Int32(s[s.index(after: sp)...])!; s = s[..<sp] }
            let ex = s.hasPrefix("!")
            if ex { s = s.dropFirst(); value = -1 }
            var plain = true, wild = false
            if s.hasPrefix(".") { wild = true; s = s.dropFirst() } else if s.hasPrefix("*.") { wild = true; plain = false; s = s.dropFirst(2) }
            return RefLine(labels: s.split(separator: ".").map(String.init), plain: plain, wild: wild, value: value)
        }
    }

    @Test func rbldnsdRules() throws {
        let r = try responder([zone([domainDataset(Self.lines("""
            example.com 0
            .sub.example.org 1
            *.wild.example.net 0
            !bad.sub.example.org
            multi.example 0
            multi.example 2
            !.ok.sub.example.org
            .ex.example 0
            !ex.example
            """), values: Self.values)])])
        func a(_ n: String) throws -> (UInt8, [UInt32]) {
            let p = try ask(r, n + ".bl.example", DNSType.a)
            return (p.rcode, p.answer.compactMap(\.aValue).sorted())
        }
        #expect(try a("example.com") == (0, [0x7F00_0002]))
        #expect(try a("www.example.com") == (3, []))
        #expect(try a("sub.example.org") == (0, [0x7F00_0003]))
        #expect(try a("a.b.sub.example.org") == (0, [0x7F00_0003]))
        #expect(try a("bad.sub.example.org") == (0, []))      // excluded, but x.bad… is listed: NODATA
        #expect(try a("x.bad.sub.example.org") == (0, [0x7F00_0003]))
        #expect(try a("y.ok.sub.example.org") == (3, []))
        #expect(try a("wild.example.net") == (0, []))         // NODATA: names below are listed
        #expect(try a("x.wild.example.net") == (0, [0x7F00_0002]))
        #expect(try a("multi.example") == (0, [0x7F00_0002, 0x7F00_0004]))
        #expect(try a("ex.example") == (0, []))               // the exclusion wins wherever it stands
        #expect(try a("com") == (0, []))                      // empty non-terminal (RFC 8020)
        #expect(try a("example.org") == (0, []))
        #expect(try a("org.example.com") == (3, []))
        #expect(try a("EXAMPLE.Com") == (0, [0x7F00_0002]))
        // TXT: `$` is the matched entry's name (for a wildcard match, the wildcard's base name).
        let t = try ask(r, "a.b.sub.example.org.bl.example", DNSType.txt)
        #expect(t.answer.map(\.txtJoined) == ["v1 sub.example.org"])
        let m = try ask(r, "multi.example.bl.example", DNSType.txt)
        #expect(Set(m.answer.map(\.txtJoined)) == ["v0 multi.example", "v2 multi.example"])
        let any = try ask(r, "multi.example.bl.example", DNSType.any)
        #expect(any.answer.count == 4)
        let mx = try ask(r, "example.com.bl.example", DNSType.mx)
        #expect(mx.rcode == 0 && mx.answer.isEmpty && mx.nscount == 1)
    }

    @Test func subzoneAndIPDataTogether() throws {
        var ip = try dataset(.ipv4, "192.0.2.0/24")
        ip.name = "ip4"
        let dn = domainDataset(Self.lines("example.com 1"), values: Self.values, subzone: labelsWire(["dbl"]))
        let r = try responder([zone([ip, dn])])
        #expect(try ask(r, "example.com.dbl.bl.example", DNSType.a).answer.compactMap(\.aValue) == [0x7F00_0003])
        #expect(try ask(r, "example.com.bl.example", DNSType.a).rcode == 3)
        #expect(try ask(r, "1.2.0.192.bl.example", DNSType.a).answer.compactMap(\.aValue) == [0x7F00_0002])
        #expect(try ask(r, "com.dbl.bl.example", DNSType.a).rcode == 0)
    }

    @Test(.enabled(if: threadMallocCount != nil,
                   "needs the malloc interposer: LD_PRELOAD=libcount.so exporting prefixbl_thread_malloc_count"))
    func dnsetAnswersAllocateNothing() throws {
        let count = try #require(threadMallocCount)
        let r = try responder([zone([domainDataset(Self.lines("""
            example.com 0
            .sub.example.org 1
            multi.example 0
            multi.example 2
            !bad.sub.example.org
            """), values: Self.values)])])
        let queries: [([UInt8], Transport)] = [
            (query("example.com.bl.example", DNSType.a), .udp),
            (query("x.y.sub.example.org.bl.example", DNSType.txt), .udp),
            (query("multi.example.bl.example", DNSType.any), .tcp),
            (query("bad.sub.example.org.bl.example", DNSType.a), .udp),   // NODATA
            (query("com.bl.example", DNSType.a), .udp),                   // NODATA
            (query("nothing.example.bl.example", DNSType.a), .udp),       // NXDOMAIN
        ]
        try AllocationTests().expectNoAllocations(r, queries, count)
    }
}
