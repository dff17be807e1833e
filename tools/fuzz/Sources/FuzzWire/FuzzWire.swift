import DNSBL
import DNSWire
import FuzzSupport
import PrefixStore

// Wire path: the input is one DNS message over UDP and TCP, and also a TCP byte stream split by
// the server's own framing function. Invariants besides "no crash":
// - every reply passes MessageCheck.response (counts consistent, QUESTION echoed, OPT placed,
//   TC only without records, size within the limit);
// - parse → canonical encode → parse gives the same ParsedQuery, and the canonical query gets
//   byte for byte the same reply as the original (records the responder ignores change nothing);
// - a UDP reply without TC has the same RCODE and counts as the TCP reply;
// - stream framing does not depend on how the stream was cut into reads.

let responders: [Responder] = {
    let store = fixedStore()
    var tight = AnswerOptions()
    tight.udpPayloadSize = 512
    tight.identity = Array("ns1.example.net".utf8)
    tight.nsInAuthority = true
    tight.version = nil
    return [Responder(stores: [store]), Responder(stores: [store], options: tight)]
}()

nonisolated(unsafe) let second = UnsafeMutableRawBufferPointer.allocate(byteCount: 65535, alignment: 16)

func fuzzWire(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let input = UnsafeRawBufferPointer(start: data, count: size)
    for responder in responders {
        let udp = answerAndCheck(responder, input, .udp, sharedScratch)
        let tcp = answerAndCheck(responder, input, .tcp, sharedScratch)
        if udp.count >= 12, tcp.count >= 12, udp[2] & 0x02 == 0 {
            // RCODE and ANCOUNT agree when UDP was not truncated (AUTHORITY may differ: the
            // optional NS RRset is left out when it does not fit, without TC).
            if udp[3] & 0x0F != tcp[3] & 0x0F || udp[6..<8] != tcp[6..<8] {
                fuzzFail("UDP (not truncated) and TCP disagree: \(udp) vs \(tcp)")
            }
        }
        roundTrip(responder, input, udp: udp, tcp: tcp)
    }
    stream(input)
    return 0
}

func roundTrip(_ responder: Responder, _ input: UnsafeRawBufferPointer, udp: [UInt8], tcp: [UInt8]) {
    guard let h = DNSHeader(reading: input), !h.isResponse, h.opcode == 0,
          let p = try? DNSWire.parseQuery(input) else { return }
    let canonical = MessageCheck.canonicalQuery(p, from: input)
    canonical.withUnsafeBytes { c in
        guard let again = try? DNSWire.parseQuery(c) else { fuzzFail("canonical query does not parse: \(canonical)") }
        if again != p { fuzzFail("parse → encode → parse changed the query: \(Array(input)) → \(canonical)") }
        let u = responder.respond(to: c, transport: .udp, into: second)
        if Array(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(second)[0..<u.length])) != udp {
            fuzzFail("canonical query got another UDP reply: \(Array(input))")
        }
        let t = responder.respond(to: c, transport: .tcp, into: second)
        if Array(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(second)[0..<t.length])) != tcp {
            fuzzFail("canonical query got another TCP reply: \(Array(input))")
        }
    }
}

/// The input as a TCP stream: frames answered in order until an incomplete or empty frame, as
/// the server does; the same frames must come out when the stream arrives in small reads.
func stream(_ input: UnsafeRawBufferPointer) {
    var whole: [Int] = []
    var pos = 0
    loop: while pos < input.count {
        switch DNSWire.nextTCPFrame(UnsafeRawBufferPointer(rebasing: input[pos...])) {
        case .incomplete, .empty: break loop
        case .message(let length):
            let m = UnsafeRawBufferPointer(rebasing: input[(pos + 2)..<(pos + 2 + length)])
            answerAndCheck(responders[0], m, .tcp, sharedScratch)
            whole.append(length)
            pos += 2 + length
        }
    }
    // Reads of 1…7 bytes (chosen by the input's first byte), reassembled as the server does.
    let step = input.isEmpty ? 1 : Int(input[0] % 7) + 1
    var buffered: [UInt8] = []
    var pieces: [Int] = []
    var fed = 0
    var closed = false
    while fed < input.count && !closed {
        let n = min(step, input.count - fed)
        buffered.append(contentsOf: input[fed..<(fed + n)])
        fed += n
        drain: while true {
            let f = buffered.withUnsafeBytes { DNSWire.nextTCPFrame($0) }
            switch f {
            case .incomplete: break drain
            case .empty: closed = true; break drain
            case .message(let length):
                pieces.append(length)
                buffered.removeFirst(2 + length)
            }
        }
    }
    if pieces != whole { fuzzFail("framing depends on read sizes: \(whole) vs \(pieces)") }
}
