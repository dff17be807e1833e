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
    if let store = try? Store(bytes: bytes) { exercise(store, data, size) }
    // Random mutations almost never keep the two CRC-32s and the file size right, which would
    // stop the fuzzer at the first checks; so also open the input with those fields repaired, to
    // reach the structural validation behind them.
    let repaired = repair(bytes)
    if repaired != bytes, let store = try? Store(bytes: repaired) { exercise(store, data, size) }
    return 0
}

/// Sets the header's file size (bytes 16…23) to the input's size and recomputes the content
/// CRC (bytes 32…35, over everything after the 64-byte header) and the header CRC (bytes
/// 60…63, over bytes 0…59), as StoreFormat.md defines them.
func repair(_ input: [UInt8]) -> [UInt8] {
    guard input.count >= 64 + 5 * 32 else { return input }
    var b = input
    let n = UInt64(b.count)
    for i in 0..<8 { b[16 + i] = UInt8(truncatingIfNeeded: n >> UInt64(8 * i)) }
    let content = crc32(b[64...])
    for i in 0..<4 { b[32 + i] = UInt8(truncatingIfNeeded: content >> UInt32(8 * i)) }
    let header = crc32(b[0..<60])
    for i in 0..<4 { b[60 + i] = UInt8(truncatingIfNeeded: header >> UInt32(8 * i)) }
    return b
}

let crcTable: [UInt32] = (0..<256).map { i -> UInt32 in
    var c = UInt32(i)
    for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
    return c
}

/// CRC-32 (IEEE 802.3, zlib's `crc32`).
func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
    var c: UInt32 = 0xFFFF_FFFF
    for b in bytes { c = crcTable[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
    return c ^ 0xFFFF_FFFF
}

func exercise(_ store: Store, _ data: UnsafePointer<UInt8>, _ size: Int) {
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
}
