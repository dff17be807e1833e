import DNSWire
import ServerTestSupport

/// What the server must do with a hostile message (the answer table of DNSBL.docc/AnswerRules.md:
/// rows "malformed", "QR = 1", OPCODE).
enum HostileOutcome: Equatable, CustomStringConvertible {
    /// FORMERR, header only, ID echoed.
    case formErr
    /// A reply with this full RCODE (BADVERS = 16 included) that passes MessageCheck.
    case answer(UInt16)
    /// No reply at all.
    case silence

    var description: String {
        switch self {
        case .formErr: "FORMERR"
        case .silence: "silence"
        case .answer(let r): ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"].indices.contains(Int(r))
            ? ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"][Int(r)] : r == 16 ? "BADVERS" : "RCODE \(r)"
        }
    }
}

/// One message of the hostile corpus, with its expected outcome over UDP and TCP.
struct HostileCase: CustomStringConvertible, Sendable {
    var name: String
    var bytes: [UInt8]
    var expected: HostileOutcome
    var description: String { name }
}

/// Builders for hand-made messages (big-endian, no compression unless written out).
enum Msg {
    static func u16(_ v: Int) -> [UInt8] { [UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }
    static func u32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }
    static func header(id: Int, flags: Int = 0x0100, qd: Int = 1, an: Int = 0, ns: Int = 0, ar: Int = 0) -> [UInt8] {
        u16(id) + u16(flags) + u16(qd) + u16(an) + u16(ns) + u16(ar)
    }
    static func name(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        for label in text.split(separator: ".") { out.append(UInt8(label.utf8.count)); out += Array(label.utf8) }
        return out + [0]
    }
    static func question(_ n: String, _ type: Int = 1, _ cls: Int = 1) -> [UInt8] { name(n) + u16(type) + u16(cls) }
    static func rr(owner: [UInt8] = [0], type: Int, cls: Int = 1, ttl: UInt32 = 0, rdata: [UInt8], rdLength: Int? = nil) -> [UInt8] {
        owner + u16(type) + u16(cls) + u32(ttl) + u16(rdLength ?? rdata.count) + rdata
    }
    static func opt(size: Int = 1232, ttl: UInt32 = 0, rdata: [UInt8] = [], rdLength: Int? = nil) -> [UInt8] {
        rr(type: 41, cls: size, ttl: ttl, rdata: rdata, rdLength: rdLength)
    }
}

/// The hostile-packet corpus (issue 5, point 2). IDs are unique (0x5000 + index) so replies can
/// be matched; the bundled zone `bl.example` is served (127.0.0.2 listed, RFC 5782).
enum HostileCorpus {
    static let listed = "2.0.0.127.bl.example"

    static let cases: [HostileCase] = {
        var out: [HostileCase] = []
        func add(_ name: String, _ expected: HostileOutcome, _ build: (Int) -> [UInt8]) {
            out.append(HostileCase(name: name, bytes: build(0x5000 + out.count), expected: expected))
        }
        let q = Msg.question(listed)
        let qt = Msg.u16(1) + Msg.u16(1)
        let zone = Msg.name("bl.example")
        add("control: a normal query for a listed name", .answer(0)) { Msg.header(id: $0) + q }
        // Compression pointers.
        add("QNAME is a pointer to itself (loop)", .formErr) { Msg.header(id: $0) + [0xC0, 0x0C] + qt }
        add("QNAME: a label, then a pointer back to the QNAME start (loop of two)", .formErr) { Msg.header(id: $0) + [1, 0x61, 0xC0, 0x0C] + qt }
        add("QNAME: a forward pointer", .formErr) { Msg.header(id: $0) + [0xC0, 0x12] + qt + [1, 0x61, 0] }
        add("QNAME: a pointer out of bounds (0x3FFF)", .formErr) { Msg.header(id: $0) + [0xFF, 0xFF] + qt }
        add("answer-section owner is a pointer to itself (skipped, never followed)", .answer(0)) { id in
            let at = 12 + q.count
            return Msg.header(id: id, an: 1) + q + Msg.rr(owner: [0xC0 | UInt8(at >> 8), UInt8(at & 0xFF)], type: 1, rdata: [192, 0, 2, 1])
        }
        add("additional-record owner is an out-of-bounds pointer (skipped, never followed)", .answer(0)) {
            Msg.header(id: $0, ar: 1) + q + Msg.rr(owner: [0xFF, 0xFF], type: 1, rdata: [192, 0, 2, 1])
        }
        // Labels and names.
        add("label length 64 (bits 01: reserved label type)", .formErr) { Msg.header(id: $0) + [64] + [UInt8](repeating: 0x61, count: 64) + zone + qt }
        add("label length 0x80 (bits 10: reserved label type)", .formErr) { Msg.header(id: $0) + [0x80] + zone + qt }
        add("a 63-byte label under the zone", .answer(3)) { Msg.header(id: $0) + Msg.question(String(repeating: "a", count: 63) + ".bl.example") }
        add("a name of 257 bytes", .formErr) { id in
            var n: [UInt8] = []
            for _ in 0..<4 { n += [63] + [UInt8](repeating: 0x62, count: 63) }
            return Msg.header(id: id) + n + [0] + qt
        }
        add("a name of exactly 255 bytes under the zone", .answer(3)) { id in
            var n: [UInt8] = []
            for _ in 0..<3 { n += [63] + [UInt8](repeating: 0x63, count: 63) }
            n += [50] + [UInt8](repeating: 0x64, count: 50)
            return Msg.header(id: id) + n + zone + qt
        }
        // Counts and truncation.
        add("QDCOUNT 0, no question", .formErr) { Msg.header(id: $0, qd: 0) }
        add("QDCOUNT 0 with a question present", .formErr) { Msg.header(id: $0, qd: 0) + q }
        add("QDCOUNT 2", .formErr) { Msg.header(id: $0, qd: 2) + q + q }
        add("header of 11 bytes", .silence) { Array(Msg.header(id: $0)[0..<11]) }
        add("header only, QDCOUNT 1", .formErr) { Msg.header(id: $0) }
        add("question ends inside a label", .formErr) { Msg.header(id: $0) + [7, 0x62, 0x6C] }
        add("question without QCLASS", .formErr) { Msg.header(id: $0) + zone + Msg.u16(6) }
        add("question with one byte of QCLASS", .formErr) { Msg.header(id: $0) + zone + Msg.u16(6) + [0] }
        add("ANCOUNT 1 but no record", .formErr) { Msg.header(id: $0, an: 1) + q }
        add("ARCOUNT 65535", .formErr) { Msg.header(id: $0, ar: 65535) + q + Msg.opt() }
        // OPT.
        add("OPT in the answer section", .formErr) { Msg.header(id: $0, an: 1) + q + Msg.opt() }
        add("OPT in the authority section", .formErr) { Msg.header(id: $0, ns: 1) + q + Msg.opt() }
        add("two OPT records", .formErr) { Msg.header(id: $0, ar: 2) + q + Msg.opt() + Msg.opt() }
        add("OPT owner not the root", .formErr) { Msg.header(id: $0, ar: 1) + q + Msg.rr(owner: Msg.name("bl.example"), type: 41, cls: 1232, rdata: []) }
        add("OPT RDLENGTH past the end", .formErr) { Msg.header(id: $0, ar: 1) + q + Msg.opt(rdLength: 100) }
        add("A record RDLENGTH past the end (additional section)", .formErr) { Msg.header(id: $0, ar: 1) + q + Msg.rr(type: 1, rdata: [1, 2], rdLength: 100) }
        add("OPT option length overruns RDLENGTH", .formErr) { Msg.header(id: $0, ar: 1) + q + Msg.opt(rdata: Msg.u16(3) + Msg.u16(10) + [1, 2]) }
        add("EDNS payload size 0 (treated as 512)", .answer(0)) { Msg.header(id: $0, ar: 1) + Msg.question(listed, 16) + Msg.opt(size: 0) }
        add("EDNS payload size 65535 (capped at ours)", .answer(0)) { Msg.header(id: $0, ar: 1) + Msg.question(listed, 16) + Msg.opt(size: 65535) }
        add("EDNS version 1", .answer(16)) { Msg.header(id: $0, ar: 1) + q + Msg.opt(ttl: 0x0001_0000) }
        add("EDNS with an unknown option and NSID", .answer(0)) { Msg.header(id: $0, ar: 1) + q + Msg.opt(rdata: Msg.u16(65001) + Msg.u16(2) + [9, 9] + Msg.u16(3) + Msg.u16(0)) }
        // Types, classes, opcodes, flags.
        add("unknown QTYPE 65280 at a listed name (NODATA)", .answer(0)) { Msg.header(id: $0) + Msg.question(listed, 65280) }
        add("QTYPE 0", .answer(0)) { Msg.header(id: $0) + Msg.question(listed, 0) }
        add("unknown class 42", .answer(5)) { Msg.header(id: $0) + Msg.question(listed, 1, 42) }
        add("class NONE (254)", .answer(5)) { Msg.header(id: $0) + Msg.question(listed, 1, 254) }
        add("class ANY (answered as IN without AA)", .answer(0)) { Msg.header(id: $0) + Msg.question(listed, 1, 255) }
        add("class CH version.bind", .answer(0)) { Msg.header(id: $0) + Msg.question("version.bind", 16, 3) }
        add("class CH unknown name", .answer(5)) { Msg.header(id: $0) + Msg.question("x.example.org", 16, 3) }
        for op in [1, 2, 4, 5, 15] {
            add("OPCODE \(op)", .answer(4)) { Msg.header(id: $0, flags: 0x0100 | op << 11) + Msg.question("bl.example", 6) }
        }
        add("OPCODE 5 with a body that is garbage", .answer(4)) { Msg.header(id: $0, flags: 0x2800, qd: 9, an: 9) + [0xC0, 0xC0, 0xFF] }
        add("AXFR", .answer(4)) { Msg.header(id: $0) + Msg.question("bl.example", 252) }
        add("IXFR", .answer(4)) { Msg.header(id: $0) + Msg.question("bl.example", 251) }
        add("QR=1 (a response)", .silence) { Msg.header(id: $0, flags: 0x8100) + q }
        add("QR=1, header only", .silence) { Msg.header(id: $0, flags: 0x8000, qd: 0) }
        add("QR=1 followed by garbage", .silence) { Msg.header(id: $0, flags: 0xFFFF, qd: 65535) + [0xC0, 0x0C, 0xFF] }
        add("every flag but QR and OPCODE set (AA TC RD RA Z AD CD, RCODE 15)", .answer(0)) { Msg.header(id: $0, flags: 0x07FF) + q }
        add("a name outside every zone", .answer(5)) { Msg.header(id: $0) + Msg.question("www.example.org") }
        add("the root name", .answer(5)) { Msg.header(id: $0) + [0] + qt }
        add("bytes after the last section (ignored)", .answer(0)) { Msg.header(id: $0) + q + [0xDE, 0xAD, 0xBE, 0xEF] }
        add("a 3000-byte message: the query, then padding", .answer(0)) { Msg.header(id: $0) + q + [UInt8](repeating: 0xAA, count: 3000) }
        return out
    }()

    /// RCODE of a reply including the OPT's extended bits (RFC 6891 §6.1.3).
    static func fullRCode(_ reply: [UInt8]) -> UInt16? {
        reply.withUnsafeBytes { b -> UInt16? in
            guard case .success(let s) = MessageCheck.walk(b) else { return nil }
            return UInt16(s.rcode) | UInt16((s.optTTL ?? 0) >> 24) << 4
        }
    }

    /// Checks one reply (nil = nothing received) against a case; returns a problem or nil.
    static func judge(_ c: HostileCase, reply: [UInt8]?, sizeLimit: Int) -> String? {
        let r = reply ?? []
        if let problem = c.bytes.withUnsafeBytes({ q in r.withUnsafeBytes { MessageCheck.response($0, to: q, sizeLimit: sizeLimit) } }) {
            return problem
        }
        switch c.expected {
        case .silence:
            return r.isEmpty ? nil : "expected silence, got \(r.count) bytes"
        case .formErr:
            return r.count == 12 && r[3] & 0x0F == 1 ? nil : "expected FORMERR, got \(r.count) bytes RCODE \(r.count >= 4 ? r[3] & 0x0F : 255)"
        case .answer(let rcode):
            guard !r.isEmpty else { return "expected \(c.expected), got nothing" }
            let got = fullRCode(r)
            return got == rcode ? nil : "expected \(c.expected), got RCODE \(got.map(String.init) ?? "unreadable")"
        }
    }
}
