import Testing
import DNSWire
import TestSupport

// What MessageWriter writes, parseQuery and MessageCheck read back: random questions and OPTs
// written with the writer, read with the reader, compared field by field.

@Suite("Write, then read back")
struct RoundTripTests {
    /// A random name of 0–8 labels of 1–20 letters and digits, mixed case (DNS 0x20).
    static func randomName(_ rng: inout SplitMix64) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")
        let labels = (0..<Int(rng.next() % 9)).map { _ in
            String((0..<Int(1 + rng.next() % 20)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] })
        }
        return labels.isEmpty ? "." : labels.joined(separator: ".")
    }

    @Test("RFC 1035 §4.1, RFC 6891 §6.1.2: a query written with MessageWriter parses to the same fields")
    func writerThenReader() throws {
        let seed = testSeed()
        var rng = SplitMix64(seed: seed)
        var storage = [UInt8](repeating: 0, count: 512)
        for _ in 0..<500 {
            let name = Self.randomName(&rng)
            let id = UInt16(truncatingIfNeeded: rng.next())
            let flags = UInt16(truncatingIfNeeded: rng.next()) & (DNSFlags.rd | DNSFlags.cd | DNSFlags.ad)
            let qtype = UInt16(truncatingIfNeeded: rng.next()), qclass = [DNSClass.in, DNSClass.ch, DNSClass.any][Int(rng.next() % 3)]
            let withOPT = rng.next() % 2 == 0
            let size = UInt16(truncatingIfNeeded: rng.next()), dnssecOK = rng.next() % 2 == 0
            let nsid: [UInt8]? = rng.next() % 2 == 0 ? [] : nil
            let length = storage.withUnsafeMutableBytes { buf -> Int in
                var w = MessageWriter(buffer: buf, limit: 512)
                var ok = w.header(id: id, flags: flags, qd: 1, ar: withOPT ? 1 : 0)
                let labels = Array(wireName(name).dropLast())
                ok = ok && labels.withUnsafeBytes { w.name(prefix: $0, pointerTarget: nil) }
                ok = ok && w.u16(qtype) && w.u16(qclass)
                if withOPT {
                    ok = ok && (nsid.map { n in n.withUnsafeBytes { w.opt(udpPayloadSize: size, extendedRCode: 0, dnssecOK: dnssecOK, nsid: $0) } }
                                ?? w.opt(udpPayloadSize: size, extendedRCode: 0, dnssecOK: dnssecOK, nsid: nil))
                }
                return ok ? w.count : -1
            }
            try #require(length > 0, "writer refused '\(name)' (seed \(seed))")
            let message = Array(storage[0..<length])
            let p = try message.withUnsafeBytes { b throws(WireError) in try DNSWire.parseQuery(b) }
            #expect(p.header.id == id && p.header.flags == flags && p.header.qdCount == 1, "seed \(seed)")
            #expect(p.qnameOffset == 12 && p.qnameLength == wireName(name).count, "'\(name)' seed \(seed)")
            #expect(Array(message[p.qnameOffset..<p.qnameOffset + p.qnameLength]) == wireName(name), "case kept, seed \(seed)")
            #expect(p.labelCount == (name == "." ? 0 : name.split(separator: ".").count), "seed \(seed)")
            #expect(p.qtype == qtype && p.qclass == qclass && p.questionEnd == 12 + wireName(name).count + 4, "seed \(seed)")
            if withOPT {
                #expect(p.edns == EDNSInfo(udpPayloadSize: size, extendedRCode: 0, version: 0, dnssecOK: dnssecOK,
                                           nsidRequested: nsid != nil), "seed \(seed)")
            } else {
                #expect(p.edns == nil, "seed \(seed)")
            }
            // The independent walker agrees: one question, the same bytes, one OPT or none.
            let summary = try message.withUnsafeBytes { MessageCheck.walk($0) }.get()
            #expect(summary.questions == [Array(message[12..<p.questionEnd])], "seed \(seed)")
            #expect(summary.types == (withOPT ? [DNSType.opt] : []) && summary.optClass == (withOPT ? size : nil), "seed \(seed)")
        }
    }

    @Test("RFC 1035 §4.1.4: an answer owner written as a pointer to the question reads back as that name")
    func compressionPointerToQuestion() throws {
        var storage = [UInt8](repeating: 0, count: 128)
        let question = wireName("1.2.0.192.bl.example")
        let length = storage.withUnsafeMutableBytes { buf -> Int in
            var w = MessageWriter(buffer: buf, limit: 128)
            _ = w.header(id: 7, flags: DNSFlags.qr | DNSFlags.aa, qd: 1, an: 1)
            _ = w.bytes(question); _ = w.u16(DNSType.a); _ = w.u16(DNSClass.in)
            _ = [UInt8]().withUnsafeBytes { w.name(prefix: $0, pointerTarget: 12) }
            guard let at = w.rrFixed(type: DNSType.a, rrClass: DNSClass.in, ttl: 2100) else { return -1 }
            _ = w.bytes([127, 0, 0, 2])
            w.finishRData(lengthAt: at)
            return w.count
        }
        let m = Array(storage[0..<length])
        let s = try m.withUnsafeBytes { MessageCheck.walk($0) }.get()
        #expect(s.header.anCount == 1 && s.types == [DNSType.a])
        let answerOwner = 12 + question.count + 4
        #expect(Array(m[answerOwner..<answerOwner + 2]) == [0xC0, 12])
        #expect(m.withUnsafeBytes { MessageCheck.nameEnd($0, at: answerOwner) } == answerOwner + 2)
        #expect(Array(m[(answerOwner + 10)..<(answerOwner + 12)]) == [0, 4], "RDLENGTH patched")
    }

    @Test("MessageCheck.walk refuses what the reader must never be handed back")
    func walkerRejects() {
        func fails(_ m: [UInt8]) -> Bool { if case .failure = m.withUnsafeBytes({ MessageCheck.walk($0) }) { return true }; return false }
        let good = query("bl.example", DNSType.txt)
        #expect(!fails(good))
        #expect(fails(Array(good[0..<11])), "shorter than a header")
        #expect(fails(good + [0]), "a byte after the last section")
        #expect(fails(Array(good.dropLast())), "question cut short")
        var forward = good; forward[12] = 0xC0; forward[13] = 20
        #expect(fails(forward), "a forward compression pointer")
        var long = query("bl.example", DNSType.a); long[12] = 64
        #expect(fails(long), "a 64-byte label")
    }
}
