import Testing
import TestSupport
import Glibc
@testable import DNSBL
import DNSWire
import PrefixStore
import LDNSKit

// Test-local helpers: a tiny reader for the rbldnsd subset the tables use (the real source
// parser is ZoneSource's), query builders, and libldns-backed response checks.

enum TestError: Error, CustomStringConvertible {
    case bad(String)
    var description: String { if case .bad(let s) = self { return s }; return "" }
}

/// Parses IPv4 dotted text into a host-order integer.
func parseV4(_ s: Substring) -> UInt32? {
    var a = in_addr()
    guard inet_pton(AF_INET, String(s), &a) == 1 else { return nil }
    return UInt32(bigEndian: a.s_addr)
}

/// Parses IPv6 text into the 128-bit key.
func parseV6(_ s: Substring) -> UInt128? {
    var a = in6_addr()
    guard inet_pton(AF_INET6, String(s), &a) == 1 else { return nil }
    return withUnsafeBytes(of: &a) { b in b.reduce(UInt128(0)) { $0 << 8 | UInt128($1) } }
}

func v4(_ s: String) -> UInt32 { parseV4(Substring(s))! }
func v6(_ s: String) -> UInt128 { parseV6(Substring(s))! }

/// The RFC 5782 name of an IPv4 address under `zone`: reversed octets.
func name4(_ addr: String, _ zone: String = "bl.example") -> String {
    addr.split(separator: ".").reversed().joined(separator: ".") + "." + zone
}

/// The RFC 5782 name of an IPv6 address under `zone`: 32 reversed nibbles.
func name6(_ addr: String, _ zone: String = "bl.example") -> String {
    nibbleName(v6(addr), 32, zone)
}

/// The name of the first `nibbles` nibbles of `key`, reversed, under `zone`.
func nibbleName(_ key: UInt128, _ nibbles: Int, _ zone: String = "bl.example") -> String {
    var labels: [String] = []
    for i in 0..<nibbles {
        let nib = Int((key >> UInt128(124 - 4 * i)) & 0xF)
        labels.append(String(nib, radix: 16))
    }
    return (labels.reversed() + [zone]).joined(separator: ".")
}

/// Builds a dataset from rbldnsd-style lines: `:A:TXT` default lines, `entry [value]`,
/// `!entry`; entries are an address or CIDR of `family`.
func dataset(_ family: AddressFamily, _ text: String, ttl: UInt32 = 2100, name: String = "test",
             expires: UInt64? = nil) throws -> DatasetInput {
    var values: [ListingValue] = []
    var entries: [PrefixEntry] = []
    var defaultValue = ListingValue(a: 0x7F00_0002, txt: nil)
    func valueIndex(_ v: ListingValue) -> Int32 {
        if let i = values.firstIndex(of: v) { return Int32(i) }
        values.append(v)
        return Int32(values.count - 1)
    }
    func parseA(_ s: Substring) -> UInt32? {
        if let n = UInt32(s), n < 256 { return 0x7F00_0000 | n }
        return parseV4(s)
    }
    func parseValue(_ s: Substring) throws -> ListingValue {
        var v = defaultValue
        if s.hasPrefix(":") {
            let rest = s.dropFirst()
            if let colon = rest.firstIndex(of: ":") {
                guard let a = parseA(rest[..<colon]) else { throw TestError.bad("bad A in \(s)") }
                v.a = a
                let t = rest[rest.index(after: colon)...]
                v.txt = t.isEmpty ? nil : Array(t.utf8)
            } else {
                guard let a = parseA(rest) else { throw TestError.bad("bad A in \(s)") }
                v.a = a
            }
        } else {
            v.txt = Array(s.utf8)
        }
        return v
    }
    for (ln, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        let line = raw.drop { $0 == " " }
        if line.isEmpty || line.hasPrefix("#") { continue }
        if line.hasPrefix(":") && !line.hasPrefix("::") {
            defaultValue = ListingValue(a: 0x7F00_0002, txt: nil)
            defaultValue = try parseValue(line)
            continue
        }
        var entryText = line
        var valueText: Substring? = nil
        if let sp = line.firstIndex(of: " ") {
            entryText = line[..<sp]
            let rest = line[sp...].drop { $0 == " " }
            if !rest.isEmpty { valueText = rest }
        }
        var exclusion = false
        if entryText.hasPrefix("!") { exclusion = true; entryText = entryText.dropFirst() }
        var len = family.bits
        var addrText = entryText
        if let slash = entryText.firstIndex(of: "/") {
            addrText = entryText[..<slash]
            guard let l = Int(entryText[entryText.index(after: slash)...]) else { throw TestError.bad("line \(ln + 1)") }
            len = l
        }
        let key: UInt128
        if family == .ipv4 {
            guard let a = parseV4(addrText) else { throw TestError.bad("bad IPv4 at line \(ln + 1): \(line)") }
            key = UInt128(a)
        } else {
            guard let a = parseV6(addrText) else { throw TestError.bad("bad IPv6 at line \(ln + 1): \(line)") }
            key = a
        }
        let value: Int32 = exclusion ? PrefixEntry.exclusion : valueIndex(try valueText.map(parseValue) ?? defaultValue)
        entries.append(PrefixEntry(address: key, prefixLength: UInt8(len), value: value, origin: UInt32(ln + 1)))
    }
    return DatasetInput(name: name, type: family == .ipv4 ? "ip4trie" : "ip6trie", family: family, ttl: ttl,
                        values: values, entries: entries, expires: expires)
}

/// Zone defaults used throughout: SOA TTL 3600, MINIMUM 300 → negative TTL 300.
func zone(_ datasets: [DatasetInput], apex: String = "bl.example", soaTTL: UInt32 = 3600,
          minimum: UInt32 = 300, ns: [String] = ["ns1.bl.example", "ns.example.net"]) -> ZoneInput {
    ZoneInput(name: wireName(apex.lowercased()),
              soa: SOAData(ttl: soaTTL, mname: wireName("ns1." + apex.lowercased()),
                           rname: wireName("hostmaster.example.org"), serial: 2026113001,
                           refresh: 7200, retry: 1800, expire: 1209600, minimum: minimum),
              nsTTL: 86400, ns: ns.map { wireName($0.lowercased()) }, datasets: datasets)
}

func responder(_ zones: [ZoneInput], options: AnswerOptions = AnswerOptions(), now: UInt64 = 0) throws -> Responder {
    Responder(stores: [try Store(zones: zones)], options: options, now: now)
}

/// Runs one query through the responder; the response parsed with libldns (nil when the
/// responder sent nothing).
func ask(_ r: Responder, _ q: [UInt8], transport: Transport = .udp,
         bufferSize: Int = 65535) throws -> (outcome: AnswerOutcome, packet: Packet?) {
    var buf = [UInt8](repeating: 0, count: bufferSize)
    let out = q.withUnsafeBytes { qp in buf.withUnsafeMutableBytes { r.respond(to: qp, transport: transport, into: $0) } }
    if out.length == 0 { return (out, nil) }
    return (out, try Packet(wire: Array(buf[0..<out.length])))
}

/// Shorthand: query `name`/`type` over UDP without EDNS, response must exist.
func ask(_ r: Responder, _ name: String, _ type: UInt16 = DNSType.a, edns: EDNS? = nil,
         transport: Transport = .udp, qclass: UInt16 = DNSClass.in) throws -> Packet {
    let (_, p) = try ask(r, query(name, type, qclass: qclass, edns: edns), transport: transport)
    guard let p else { throw TestError.bad("no response for \(name)") }
    return p
}

/// Checks a positive answer: NOERROR, AA, the A values (as a multiset, order free), TTLs.
func expectA(_ p: Packet, _ expected: [UInt32], ttl: UInt32? = nil,
             sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(p.rcode == 0, "rcode \(p.rcode)\n\(p.text)", sourceLocation: sourceLocation)
    #expect(p.aa, sourceLocation: sourceLocation)
    #expect(!p.tc, sourceLocation: sourceLocation)
    #expect(p.ancount == expected.count, "\(p.text)", sourceLocation: sourceLocation)
    let got = p.answer.compactMap(\.aValue).sorted()
    #expect(got == expected.sorted(), "\(p.text)", sourceLocation: sourceLocation)
    #expect(p.answer.allSatisfy { $0.type == DNSType.a && $0.rrClass == DNSClass.in }, sourceLocation: sourceLocation)
    if let ttl { #expect(p.answer.allSatisfy { $0.ttl == ttl }, "\(p.text)", sourceLocation: sourceLocation) }
    #expect(p.nscount == 0, sourceLocation: sourceLocation)
}

/// Checks a TXT answer: the joined texts (order free).
func expectTXT(_ p: Packet, _ expected: [String], ttl: UInt32? = nil,
               sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(p.rcode == 0, "rcode \(p.rcode)\n\(p.text)", sourceLocation: sourceLocation)
    #expect(p.aa, sourceLocation: sourceLocation)
    #expect(!p.tc, sourceLocation: sourceLocation)
    #expect(p.answer.map(\.txtJoined).sorted() == expected.sorted(), "\(p.text)", sourceLocation: sourceLocation)
    for rr in p.answer {
        #expect(rr.type == DNSType.txt, sourceLocation: sourceLocation)
        #expect(rr.txtStrings.allSatisfy { $0.count <= 255 }, sourceLocation: sourceLocation)
    }
    if let ttl { #expect(p.answer.allSatisfy { $0.ttl == ttl }, "\(p.text)", sourceLocation: sourceLocation) }
}

/// Checks NXDOMAIN or NODATA: no answer, the SOA alone in AUTHORITY with TTL
/// min(SOA TTL, MINIMUM) (RFC 2308 §3, §5).
func expectNegative(_ p: Packet, nx: Bool, negativeTTL: UInt32 = 300, apex: String = "bl.example",
                    sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(p.rcode == (nx ? 3 : 0), "expected \(nx ? "NXDOMAIN" : "NODATA")\n\(p.text)", sourceLocation: sourceLocation)
    #expect(p.aa, sourceLocation: sourceLocation)
    #expect(!p.tc, sourceLocation: sourceLocation)
    #expect(p.ancount == 0, "\(p.text)", sourceLocation: sourceLocation)
    #expect(p.nscount == 1, sourceLocation: sourceLocation)
    let soa = p.authority.first
    #expect(soa?.type == DNSType.soa, sourceLocation: sourceLocation)
    #expect(soa?.ttl == negativeTTL, sourceLocation: sourceLocation)
    #expect(soa?.owner.lowercased() == apex + ".", sourceLocation: sourceLocation)
}

func expectNX(_ p: Packet, sourceLocation: SourceLocation = #_sourceLocation) {
    expectNegative(p, nx: true, sourceLocation: sourceLocation)
}

func expectNODATA(_ p: Packet, sourceLocation: SourceLocation = #_sourceLocation) {
    expectNegative(p, nx: false, sourceLocation: sourceLocation)
}

/// 127.0.0.N
func code(_ n: UInt32) -> UInt32 { 0x7F00_0000 | n }

/// RCODE of the answer to `name` A over UDP without EDNS, read straight from the header: for
/// sweeps of thousands of names where parsing every response with libldns would dominate.
/// Returns -1 when nothing was sent.
func quickRCode(_ r: Responder, _ name: String, _ type: UInt16 = DNSType.a) -> Int {
    let q = query(name, type)
    return withUnsafeTemporaryAllocation(byteCount: 512, alignment: 8) { buf in
        let out = q.withUnsafeBytes { r.respond(to: $0, transport: .udp, into: buf) }
        return out.length < 12 ? -1 : Int(buf[3] & 0x0F)
    }
}
