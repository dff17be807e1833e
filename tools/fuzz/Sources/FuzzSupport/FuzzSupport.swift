import DNSBL
import DNSWire
import PrefixStore

/// Stops the run with a message libFuzzer records next to the crashing input. An invariant
/// break is a finding just like a crash, so it must end the run the same way.
public func fuzzFail(_ message: String) -> Never {
    fatalError("invariant broken: \(message)")
}

/// Wire form of a presentation name (`bl.example` → 2bl7example0).
public func wire(_ text: String) -> [UInt8] {
    var out: [UInt8] = []
    for label in text.split(separator: ".") {
        out.append(UInt8(label.utf8.count))
        out.append(contentsOf: label.utf8)
    }
    out.append(0)
    return out
}

/// The small fixed store the wire target answers from: zone `bl.example` with IPv4 data
/// (the RFC 5782 test point, a /24 with a hole, one address with its own value) and IPv6 data
/// (`::2`, `2001:db8::/32`, a /48 with a 400-byte TXT so TC paths are reached), and a second
/// zone `bl.example.net` with IPv6 data only.
public func fixedStore() -> Store {
    let soa = SOAData(ttl: 3600, mname: wire("ns1.bl.example"), rname: wire("hostmaster.example.org"),
                      serial: 2026113001, refresh: 3600, retry: 900, expire: 604800, minimum: 300)
    let long = [UInt8](repeating: 0x78, count: 400) + Array(" $".utf8)
    let values = [ListingValue(a: 0x7F00_0002, txt: Array("Listed, see https://bl.example/q?$".utf8)),
                  ListingValue(a: 0x7F00_0003, txt: Array("Open proxy at $ ($$5)".utf8)),
                  ListingValue(a: 0x7F00_0004, txt: long),
                  ListingValue(a: 0x7F00_0005, txt: nil)]
    func e(_ a: UInt128, _ len: UInt8, _ v: Int32) -> PrefixEntry {
        PrefixEntry(address: a, prefixLength: len, value: v, origin: 0)
    }
    let v4 = DatasetInput(name: "ip4set:fuzz", type: "ip4set", family: .ipv4, ttl: 2100, values: values,
                          entries: [e(0x7F00_0002, 32, 0), e(0xC000_0200, 24, 0), e(0xC000_0280, 25, PrefixEntry.exclusion),
                                    e(0xC000_02C8, 32, 1), e(0xC633_6440, 26, 3)],
                          created: nil, expires: nil)
    let db8: UInt128 = 0x2001_0db8 << 96
    let v6 = DatasetInput(name: "ip6trie:fuzz", type: "ip6trie", family: .ipv6, ttl: 600, values: values,
                          entries: [e(2, 128, 0), e(db8, 32, 0), e(db8 | 5 << 80, 48, 2), e(db8 | 0xa, 128, 1),
                                    e(db8 | 1 << 80, 48, PrefixEntry.exclusion)],
                          created: nil, expires: nil)
    let other = DatasetInput(name: "ip6trie:other", type: "ip6trie", family: .ipv6, ttl: 60, values: values,
                             entries: [e(db8 | 0xabcc << 80, 47, 3)], created: nil, expires: nil)
    let zones = [ZoneInput(name: wire("bl.example"), soa: soa, nsTTL: 86400,
                           ns: [wire("ns1.bl.example"), wire("ns2.example.net")], datasets: [v4, v6]),
                 ZoneInput(name: wire("bl.example.net"), soa: soa, nsTTL: 86400,
                           ns: [wire("ns.example.net")], datasets: [other])]
    do { return try Store(zones: zones) } catch { fatalError("fixed store: \(error)") }
}

/// Answers `query` with `responder` over one transport and checks the reply with
/// ``MessageCheck/response(_:to:sizeLimit:)``. Returns the reply bytes.
@discardableResult
public func answerAndCheck(_ responder: Responder, _ query: UnsafeRawBufferPointer, _ transport: Transport,
                           _ scratch: UnsafeMutableRawBufferPointer) -> [UInt8] {
    let o = responder.respond(to: query, transport: transport, into: scratch)
    let reply = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(scratch)[0..<o.length])
    var limit = DNSWire.maxTCPMessage
    if transport == .udp {
        limit = DNSWire.classicUDPLimit
        if let p = try? DNSWire.parseQuery(query), let e = p.edns {
            limit = max(DNSWire.classicUDPLimit, min(Int(e.udpPayloadSize), responder.options.udpPayloadSize))
        }
    }
    if let problem = MessageCheck.response(reply, to: query, sizeLimit: limit) {
        fuzzFail("\(transport): \(problem); query \(Array(query)) reply \(Array(reply))")
    }
    return Array(reply)
}

/// Allocates a 65535-byte response buffer once per process.
nonisolated(unsafe) public let sharedScratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 65535, alignment: 16)
