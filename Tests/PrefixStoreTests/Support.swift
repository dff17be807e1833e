import Foundation
@testable import PrefixStore
import TestSupport

/// The obviously-correct model: a list of prefixes, longest match by linear scan; at equal
/// length an exclusion beats a listing, else the first in list order.
struct LinearReference {
    let entries: [PrefixEntry]
    let bits: Int

    func mask(_ len: UInt8) -> UInt128 {
        if len == 0 { return 0 }
        let m: UInt128 = UInt128.max << UInt128(128 - Int(len))
        return bits == 32 ? (m >> 96) : m
    }

    func covers(_ e: PrefixEntry, _ q: UInt128) -> Bool { q & mask(e.prefixLength) == e.address }

    func value(at q: UInt128) -> Int32 {
        var best: PrefixEntry? = nil
        for e in entries where covers(e, q) {
            guard let b = best else { best = e; continue }
            if e.prefixLength > b.prefixLength || (e.prefixLength == b.prefixLength && e.isExclusion && !b.isExclusion) {
                best = e
            }
        }
        guard let b = best, !b.isExclusion else { return -1 }
        return b.value
    }

    func last(_ e: PrefixEntry) -> UInt128 {
        e.address | (~mask(e.prefixLength) & (bits == 32 ? UInt128(UInt32.max) : .max))
    }

    /// Decision segments: the model evaluated at every entry boundary (where decisions can change).
    func segments() -> [(start: UInt128, value: Int32)] {
        let maxKey: UInt128 = bits == 32 ? UInt128(UInt32.max) : .max
        var points = Set<UInt128>([0])
        for e in entries {
            points.insert(e.address)
            let l = last(e)
            if l < maxKey { points.insert(l + 1) }
        }
        return points.sorted().map { ($0, value(at: $0)) }
    }
}

/// Binary search over the model's segments (for the bulk of lookups; the segments come from the
/// linear model itself).
struct SegmentIndex {
    let segs: [(start: UInt128, value: Int32)]
    let maxKey: UInt128

    func value(at q: UInt128) -> Int32 {
        var lo = 0, hi = segs.count
        while lo < hi { let m = (lo + hi) / 2; if segs[m].start <= q { lo = m + 1 } else { hi = m } }
        return lo == 0 ? -1 : segs[lo - 1].value
    }

    func intersects(_ first: UInt128, _ last: UInt128) -> Bool {
        for (i, s) in segs.enumerated() where s.value >= 0 {
            let end = i + 1 < segs.count ? segs[i + 1].start - 1 : maxKey
            if s.start <= last && end >= first { return true }
        }
        return false
    }
}

/// Random laminar prefix sets with lots of nesting, duplicates, exclusions and equal-length
/// conflicts: entries are drawn around a few anchors so they nest.
func randomEntries(family: AddressFamily, count: Int, valueCount: Int, maxLength: Int? = nil,
                   using rng: inout SplitMix64) -> [PrefixEntry] {
    let bits = family.bits
    let maxLen = maxLength ?? bits
    let anchors = (0..<Int.random(in: 1...6, using: &rng)).map { _ in rng.next128() }
    var out: [PrefixEntry] = []
    for i in 0..<count {
        // Duplicates of earlier prefixes: exclusions, same value, different value.
        if !out.isEmpty && Int.random(in: 0..<8, using: &rng) == 0 {
            var e = out[Int.random(in: 0..<out.count, using: &rng)]
            switch Int.random(in: 0..<3, using: &rng) {
            case 0: e.value = PrefixEntry.exclusion
            case 1: break
            default: e.value = Int32(Int.random(in: 0..<valueCount, using: &rng))
            }
            e.origin = UInt32(i)
            out.append(e)
            continue
        }
        let len: Int
        switch Int.random(in: 0..<10, using: &rng) {
        case 0: len = Int.random(in: 0...maxLen, using: &rng)
        case 1: len = maxLen
        default: len = Int.random(in: max(0, maxLen - 40)...maxLen, using: &rng)
        }
        var a = anchors[Int.random(in: 0..<anchors.count, using: &rng)]
        // Flip a few bits just above the prefix length so siblings and cousins appear.
        let flips = Int.random(in: 0...3, using: &rng)
        for _ in 0..<flips where len > 0 {
            let bit = Int.random(in: max(0, len - 12)..<len, using: &rng)
            a ^= UInt128(1) << UInt128(127 - bit)
        }
        var address: UInt128 = len == 0 ? 0 : a & (UInt128.max << UInt128(128 - len))
        if bits == 32 { address >>= 96 }
        let excl = Int.random(in: 0..<5, using: &rng) == 0
        out.append(PrefixEntry(address: address, prefixLength: UInt8(len),
                               value: excl ? PrefixEntry.exclusion : Int32(Int.random(in: 0..<valueCount, using: &rng)),
                               origin: UInt32(i)))
    }
    return out
}

func values(_ n: Int) -> [ListingValue] {
    (0..<n).map { i in ListingValue(a: 0x7F00_0002 + UInt32(i % 200), txt: i % 3 == 0 ? nil : Array("listed \(i) see $".utf8)) }
}

func wire(_ name: String) -> [UInt8] {
    var out: [UInt8] = []
    for label in name.split(separator: ".") { out.append(UInt8(label.utf8.count)); out += Array(label.utf8) }
    out.append(0)
    return out
}

func zone(_ name: String, _ datasets: [DatasetInput]) -> ZoneInput {
    ZoneInput(name: wire(name),
              soa: SOAData(ttl: 3600, mname: wire("ns1.example.net"), rname: wire("hostmaster.example.org"),
                           serial: 2026113001, refresh: 7200, retry: 900, expire: 604800, minimum: 300),
              nsTTL: 86400, ns: [wire("ns1.example.net"), wire("ns2.example.org")], datasets: datasets)
}

/// A small store with IPv4, IPv6 (/64-aligned) and IPv6 (full keys) tables, two zones.
func sampleZones() -> [ZoneInput] {
    let v4 = DatasetInput(name: "ip4trie:sample4", type: "ip4trie", family: .ipv4, ttl: 2100, values: values(3), entries: [
        PrefixEntry(address: 0xC000_0200, prefixLength: 24, value: 0, origin: 1),            // 192.0.2.0/24
        PrefixEntry(address: 0xC000_0280, prefixLength: 25, value: PrefixEntry.exclusion, origin: 2),
        PrefixEntry(address: 0xC000_0281, prefixLength: 32, value: 1, origin: 3),
        PrefixEntry(address: 0xCB00_7100, prefixLength: 24, value: 2, origin: 4),            // 203.0.113.0/24
        PrefixEntry(address: 0x7F00_0002, prefixLength: 32, value: 0, origin: 5),
    ], created: 1_700_000_000, expires: nil)
    let db8: UInt128 = 0x2001_0db8 << 96
    let v6a = DatasetInput(name: "ip6tset:sample6", type: "ip6tset", family: .ipv6, ttl: 1800, values: values(2), entries: [
        PrefixEntry(address: db8 | (UInt128(1) << 64), prefixLength: 64, value: 0, origin: 1),
        PrefixEntry(address: db8 | (UInt128(0x100) << 64), prefixLength: 56, value: 1, origin: 2),
    ])
    let v6b = DatasetInput(name: "ip6trie:sample6b", type: "ip6trie", family: .ipv6, ttl: 900, values: values(2), entries: [
        PrefixEntry(address: db8, prefixLength: 32, value: 0, origin: 1),
        PrefixEntry(address: db8 | 0xa, prefixLength: 127, value: PrefixEntry.exclusion, origin: 2),
        PrefixEntry(address: db8 | 0x1_0000, prefixLength: 113, value: 1, origin: 3),
    ], created: 1_700_000_000, expires: 1_800_000_000)
    // Format version 2: a dataset attached at a subzone, an acl dataset, generic records and
    // the global-ACL zone.
    let sub = DatasetInput(name: "ip4trie:proxies", type: "ip4trie", family: .ipv4, ttl: 600, values: values(1), entries: [
        PrefixEntry(address: 0xC633_6400, prefixLength: 24, value: 0, origin: 1),            // 198.51.100.0/24
    ], subzone: [7] + Array("proxies".utf8))
    let acl = DatasetInput(name: "acl:zone", type: "acl", family: .ipv4, ttl: 60, values: aclValues, entries: [
        PrefixEntry(address: 0xC000_0200, prefixLength: 24, value: 1, origin: 1),
        PrefixEntry(address: 0xC000_0201, prefixLength: 32, value: 4, origin: 2),
    ])
    let globalACL = DatasetInput(name: "acl:global", type: "acl", family: .ipv6, ttl: 60, values: aclValues, entries: [
        PrefixEntry(address: db8, prefixLength: 48, value: 0, origin: 1),
    ])
    var bl = zone("bl.example", [v4, v6a, sub, acl])
    bl.records = sampleRecords
    let global = ZoneInput(name: ZoneInput.globalACLZoneName, soa: SOAData(ttl: 0, mname: [0], rname: [0], serial: 0, refresh: 0, retry: 0, expire: 0, minimum: 0),
                           nsTTL: 0, ns: [], datasets: [globalACL])
    return [bl, zone("bl6.example.org", [v6b]), zone("empty.example", []), global]
}

/// ACL values: the four actions and one policy answer.
let aclValues: [ListingValue] = ACLAction.allCases.map { ListingValue(a: $0.rawValue, txt: nil) }
    + [ListingValue(a: 0x7FFF_FF02, txt: Array("blocked: $".utf8))]

/// Generic records of bl.example: apex A and MX, a TXT at www, an AAAA for ns1.
let sampleRecords: [GenericRecord] = [
    GenericRecord(owner: wire("bl.example"), type: 1, ttl: 300, rdata: [192, 0, 2, 80]),
    GenericRecord(owner: wire("bl.example"), type: 15, ttl: 300, rdata: [0, 10] + wire("mx.example.net")),
    GenericRecord(owner: wire("www.bl.example"), type: 16, ttl: 300, rdata: [5] + Array("hello".utf8)),
    GenericRecord(owner: wire("ns1.bl.example"), type: 28, ttl: 300, rdata: [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1]),
]

