import DNSBL
import DNSWire
import FuzzSupport
import PrefixStore

// Store reader: the input is a store file. Opening validates it; afterwards lookups trust it, so
// whatever opens must be safe to answer from. Invariants besides "no crash":
// - lookups return "not listed" or a value index inside the dataset's values;
// - the ranges a table lists are sorted and disjoint, and a lookup at each range's first and
//   last address gives that range's value (the reader and the range walk agree);
// - the responder answers the apex SOA and names under each zone with well-formed replies.

func fuzzStore(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let store = try? Store(bytes: bytes) else { return 0 }
    var probes: [UInt128] = [0, UInt128(UInt32.max), UInt128.max, 0x7F00_0002, 0xC000_0201]
    var i = 0
    while i + 16 <= size && probes.count < 24 {
        var k: UInt128 = 0
        for j in 0..<16 { k = k << 8 | UInt128(data[i + j]) }
        probes.append(k); probes.append(k >> 96)
        i += 16
    }
    for zone in store.zones {
        for d in zone.datasets {
            let t = d.table
            for p in probes {
                let key = d.family == .ipv4 ? p & 0xFFFF_FFFF : p
                let v = t.value(at: key)
                if v < -1 || Int(v) >= d.values.count { fuzzFail("value index \(v) of \(d.values.count)") }
                _ = t.intersects(first: min(key, key &+ 1000), last: max(key, key &+ 1000))
            }
            guard t.rangeCount <= 4096 else { continue }
            var previous: UInt128? = nil
            for r in t.ranges() {
                if r.first > r.last { fuzzFail("range \(r.first)…\(r.last) reversed") }
                if let p = previous, r.first <= p { fuzzFail("ranges overlap or are unsorted") }
                if Int(r.value) < 0 || Int(r.value) >= d.values.count { fuzzFail("range value \(r.value) of \(d.values.count)") }
                if t.value(at: r.first) != r.value || t.value(at: r.last) != r.value {
                    fuzzFail("lookup disagrees with the range walk at \(r.first)…\(r.last)")
                }
                if !t.intersects(first: r.first, last: r.first) { fuzzFail("intersects misses a range start") }
                previous = r.last
            }
        }
    }
    let responder = Responder(stores: [store])
    for zone in store.zones {
        let apex = zone.name
        guard apex.count <= 200 else { continue }
        for (prefix, type) in [([UInt8](), DNSType.soa), ([UInt8](), DNSType.ns),
                               (wire("2.0.0.127").dropLast(), DNSType.txt),
                               (wire("1.2.0.192").dropLast(), DNSType.any),
                               (wire("2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0").dropLast(), DNSType.txt)] {
            var q: [UInt8] = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
            q += prefix
            q += apex
            guard q.count - 12 <= 255 else { continue }
            q += [UInt8(type >> 8), UInt8(type & 0xFF), 0, 1]
            q.withUnsafeBytes { b in
                answerAndCheck(responder, b, .udp, sharedScratch)
                answerAndCheck(responder, b, .tcp, sharedScratch)
            }
        }
    }
    return 0
}
