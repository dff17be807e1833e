import Testing
import DNSWire
@testable import DNSBL
import TestSupport

// The one-walk QNAME scan (reader + label starts + address) against the label-by-label
// readings it replaced: the original reader loop (kept here as the reference) and
// `QueryAddress(_:start:end:)`.

/// The QNAME loop of the reader before the scan existed: error code and offset, or the
/// offsets of the labels and the name's end.
func referenceQName(_ m: [UInt8]) -> Result<(starts: [Int], end: Int), WireError> {
    var pos = 12
    var starts: [Int] = []
    while true {
        guard pos < m.count else { return .failure(WireError(.truncated, at: pos)) }
        let len = Int(m[pos])
        if len == 0 { pos += 1; break }
        if len & 0xC0 == 0xC0 { return .failure(WireError(.compressedQName, at: pos)) }
        if len & 0xC0 != 0 { return .failure(WireError(.badName, at: pos)) }
        starts.append(pos)
        pos += 1 + len
        guard pos - 12 < 255 else { return .failure(WireError(.badName, at: pos)) }
    }
    guard pos + 4 <= m.count else { return .failure(WireError(.truncated, at: pos)) }
    return .success((starts, pos))
}

/// `DNSWire.nameEnd` before runs of one-byte labels were skipped eight bytes at a time.
func referenceNameEnd(_ m: [UInt8], at offset: Int) -> Result<Int, WireError> {
    var pos = offset
    while true {
        guard pos < m.count else { return .failure(WireError(.truncated, at: pos)) }
        let len = Int(m[pos])
        if len == 0 { return .success(pos + 1) }
        if len & 0xC0 == 0xC0 {
            guard pos + 2 <= m.count else { return .failure(WireError(.truncated, at: pos)) }
            return .success(pos + 2)
        }
        if len & 0xC0 != 0 { return .failure(WireError(.badName, at: pos)) }
        pos += 1 + len
        guard pos - offset < 255 else { return .failure(WireError(.badName, at: pos)) }
    }
}

@Suite("One walk over QNAME")
struct QNameScanTests {
    /// A random label: mostly the shapes DNSBL names have (one hex digit either case, decimal
    /// octets with and without leading zeros, values over 255), some that look almost like them.
    func randomLabel(_ g: inout SplitMix64) -> [UInt8] {
        let hex = Array("0123456789abcdefABCDEF".utf8)
        switch Int.random(in: 0..<10, using: &g) {
        case 0...4: return [hex[Int.random(in: 0..<hex.count, using: &g)]]
        case 5: return [[UInt8(ascii: "g"), UInt8(ascii: "-"), 0x2F, 0x3A, 0x40, 0x47, 0x60, 0x67, 0, 0xFF, 0x30 | 0x80][Int.random(in: 0..<11, using: &g)]]
        case 6, 7:
            let digits = Int.random(in: 1...4, using: &g)
            return (0..<digits).map { _ in UInt8(ascii: "0") + UInt8.random(in: 0...9, using: &g) }
        case 8: return Array("bl".utf8)
        default:
            return (0..<Int.random(in: 1...63, using: &g)).map { _ in UInt8.random(in: 0...255, using: &g) }
        }
    }

    func message(_ labels: [[UInt8]]) -> [UInt8] {
        var m: [UInt8] = [0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
        for l in labels { m.append(UInt8(l.count)); m += l }
        m += [0, 0, 1, 0, 1]
        return m
    }

    func scan(_ m: [UInt8]) -> (Result<ParsedQuery, WireError>, QNameScan) {
        var s = QNameScan()
        let r = m.withUnsafeBytes { DNSWire.readQuery($0, labels: &s) }
        if case .success(let q) = r { s.finish(qnameLength: q.qnameLength) }
        return (r, s)
    }

    func expectSameAddress(_ a: QueryAddress, _ b: QueryAddress, _ note: Comment) {
        #expect(a.labels == b.labels && a.v4 == b.v4 && a.v6 == b.v6, note)
        if a.v4 && b.v4 { #expect(a.v4Key == b.v4Key, note) }
        if a.v6 && b.v6 { #expect(a.v6Key == b.v6Key, note) }
    }

    @Test func scanMatchesLabelByLabelReading() {
        for seed in UInt64(1)...1000 {
            var g = SplitMix64(seed: seed)
            let n = Int.random(in: 0...40, using: &g)
            // Every other name is a run of one-byte labels (the shape of IPv6 names), shifted
            // by a few other labels in front so that runs start at every alignment.
            var labels: [[UInt8]] = []
            if seed % 2 == 0 {
                for _ in 0..<Int.random(in: 0...3, using: &g) { labels.append(randomLabel(&g)) }
                let hex = Array("0123456789abcdef".utf8)
                for _ in 0..<n { labels.append([hex[Int.random(in: 0..<16, using: &g)]]) }
                labels += [Array("bl".utf8), Array("example".utf8)]
            } else {
                labels = (0..<n).map { _ in randomLabel(&g) }
            }
            let m = message(labels)
            // The name skipper takes the same shortcut: same end or same error, on the whole
            // message and on every cut of it, also with a compression pointer after the labels.
            var pointer = Array(m[0..<(m.count - 5)]); pointer[pointer.count - 1] = 0xC0; pointer.append(12)
            for whole in [m, pointer] {
                for cut in stride(from: 12, through: whole.count, by: 3) {
                    let part = Array(whole[0..<cut])
                    let got = part.withUnsafeBytes { DNSWire.nameEnd($0, at: 12) }
                    #expect(got == referenceNameEnd(part, at: 12), "seed \(seed) cut \(cut)")
                }
            }
            let (r, s) = scan(m)
            switch (r, referenceQName(m)) {
            case (.success(let q), .success(let ref)):
                #expect(q.labelCount == ref.starts.count && q.qnameLength == ref.end - 12, "seed \(seed)")
                #expect(s.labels == ref.starts.count, "seed \(seed)")
                let starts = Set(ref.starts.map { $0 - 12 } + [q.qnameLength - 1])
                for rel in 0..<q.qnameLength {
                    #expect(s.startsLabel(at: rel) == starts.contains(rel), "seed \(seed) offset \(rel)")
                }
                m.withUnsafeBytes { p in
                    for k in 0...ref.starts.count {
                        let end = k < ref.starts.count ? ref.starts[k] : ref.end - 1
                        #expect(s.labels(before: end - 12) == k, "seed \(seed) k \(k)")
                        expectSameAddress(QueryAddress(s, labels: k), QueryAddress(p, start: 12, end: end),
                                          "seed \(seed) k \(k) labels \(labels.map { String(decoding: $0, as: UTF8.self) })")
                    }
                }
            case (.failure(let e), .failure(let ref)):
                #expect(e == ref, "seed \(seed)")
            case (let got, let ref):
                Issue.record("seed \(seed): scan \(got), reference \(ref)")
            }
        }
    }

    @Test func rfc1035_2_3_4_errorsOfOneByteLabelRunsAsLabelByLabel() {
        // 128 one-byte labels make a 257-byte name with the root, over the 255-byte limit; 127
        // make exactly 255. Every cut of them and of a 32-nibble name reports what the
        // label-by-label reader reported.
        let long = message(Array(repeating: Array("a".utf8), count: 128))
        let longest = message(Array(repeating: Array("a".utf8), count: 127))
        let v6 = message(Array(repeating: Array("f".utf8), count: 32) + [Array("bl".utf8), Array("example".utf8)])
        let fits = message(Array(repeating: Array("0".utf8), count: 126))
        for m in [long, longest, v6, fits] {
            for cut in 12...m.count {
                let part = Array(m[0..<cut])
                let (r, _) = scan(part)
                switch (r, referenceQName(part)) {
                case (.success, .success): break
                case (.failure(let e), .failure(let ref)): #expect(e == ref, "cut \(cut) of \(m.count)")
                case (let got, let ref): Issue.record("cut \(cut) of \(m.count): scan \(got), reference \(ref)")
                }
            }
        }
        if case .failure(let e) = scan(long).0 { #expect(e.code == .badName) } else { Issue.record("255-byte QNAME accepted") }
        if case .success(let q) = scan(fits).0 { #expect(q.qnameLength == 253 && q.labelCount == 126) } else { Issue.record("253-byte QNAME refused") }
        if case .success(let q) = scan(longest).0 { #expect(q.qnameLength == 255) } else { Issue.record("255-byte QNAME refused") }
    }
}
