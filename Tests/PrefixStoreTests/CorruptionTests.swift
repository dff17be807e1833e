import Testing
@testable import PrefixStore
import TestSupport

private func code(_ bytes: [UInt8]) -> StoreError.Code? {
    do {
        _ = try Store(bytes: bytes)
        return nil
    } catch {
        return error.code
    }
}

private func put32(_ b: inout [UInt8], _ off: Int, _ v: UInt32) {
    for k in 0..<4 { b[off + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(k))) }
}
private func get32(_ b: [UInt8], _ off: Int) -> UInt32 {
    (0..<4).reduce(0) { $0 | UInt32(b[off + $1]) << (8 * UInt32($1)) }
}

/// Recomputes both checksums so a structural defect reaches the structural checks.
private func fixChecksums(_ b: inout [UInt8]) {
    let content = b.withUnsafeBytes { Format.crc($0.baseAddress! + 64, $0.count - 64) }
    put32(&b, 32, content)
    let header = b.withUnsafeBytes { Format.crc($0.baseAddress!, 60) }
    put32(&b, 60, header)
}

/// After a corrupted image was accepted, every lookup must still work (no crash, sane results).
private func exercise(_ s: Store, using rng: inout SplitMix64) {
    for z in s.zones {
        for d in z.datasets {
            let t = d.table
            var sum = 0
            for r in t.ranges() {
                sum &+= Int(t.value(at: r.first)) &+ Int(t.value(at: r.last))
                _ = t.intersects(first: r.first, last: r.last)
            }
            for _ in 0..<64 {
                let k = rng.next128()
                let q = d.family == .ipv4 ? k & 0xFFFF_FFFF : k
                let v = t.value(at: q)
                #expect(v >= -1 && Int(v) < d.values.count)
                _ = t.intersects(first: min(q, q &+ 1000), last: max(q, q &+ 1000))
            }
            _ = sum
        }
    }
}

@Test func everyHeaderFieldWrongIsRefused() throws {
    let good = try StoreBuilder.encode(sampleZones()).bytes
    #expect(code(good) == nil)
    // (offset, new 32-bit value, fix checksums first?, expected code)
    let cases: [(Int, UInt32, Bool, StoreError.Code)] = [
        (0, 0x5846_5051, false, .badMagic),         // magic
        (4, 0, false, .badMagic),
        (8, 4, false, .badVersion),                 // version (2 and 3 are read)
        (8, 0, true, .badVersion),
        (12, 65, true, .badLayout),                 // header size
        (16, UInt32(good.count + 8), true, .truncated),   // file size larger than the file
        (16, UInt32(good.count - 8), true, .badLayout),   // file size smaller (trailing bytes)
        (20, 1, true, .truncated),                  // file size high word: > 4 GiB
        (24, 4, true, .badLayout),                  // section count
        (28, 72, true, .badLayout),                 // section table offset
        (32, 0, false, .badChecksum),               // content checksum
        (36, 1, true, .badLayout),                  // flags
        (40, 1, true, .badLayout),                  // reserved
        (48, 1, true, .badLayout),
        (56, 1, true, .badLayout),
        (60, 0, false, .badChecksum),               // header checksum
    ]
    for (off, value, fix, want) in cases {
        var b = good
        #expect(get32(b, off) != value)
        put32(&b, off, value)
        if fix { fixChecksums(&b) }
        #expect(code(b) == want, "header field at offset \(off) = \(value)")
    }
    // A wrong field without fixing the header checksum: refused by the checksum.
    var b = good
    put32(&b, 24, 7)
    #expect(code(b) == .badChecksum)
    // Section table entries: kind, count, offset, length, reserved of every section.
    for s in 0..<6 {
        for field in [0, 4, 8, 12, 16, 20, 24, 28] {
            var b = good
            put32(&b, 64 + 32 * s + field, get32(b, 64 + 32 * s + field) &+ 1)
            #expect(code(b) == .badChecksum)
            fixChecksums(&b)
            let c = code(b)
            #expect(c == .badLayout || c == .truncated, "section \(s) field \(field): \(String(describing: c))")
        }
    }
    var trailing = good + [0, 0, 0, 0, 0, 0, 0, 0]
    #expect(code(trailing) == .badLayout)
    fixChecksums(&trailing)
    #expect(code(trailing) == .badLayout)
}

@Test func truncatedStoresAreRefused() throws {
    let good = try StoreBuilder.encode(sampleZones()).bytes
    for n in 0..<good.count {
        let c = code(Array(good[..<n]))
        if c != .truncated {
            Issue.record("truncation at \(n) of \(good.count): \(String(describing: c))")
            break
        }
    }
}

@Test func flippedBytesAreRefused() throws {
    let good = try StoreBuilder.encode(sampleZones()).bytes
    for off in 0..<good.count {
        for mask: UInt8 in [0x01, 0x80] {
            var b = good
            b[off] ^= mask
            if code(b) == nil {
                Issue.record("flipped byte at \(off) (mask \(mask)) accepted")
            }
        }
    }
}

/// Checksums recomputed after each change, so every structural check is reached: the store is
/// either refused with a StoreError or answers without crashing.
@Test func structuralCorruptionNeverCrashes() throws {
    let seed = testSeed()
    var rng = SplitMix64(seed: seed)
    var zones = sampleZones()
    zones[1].datasets.append(DatasetInput(name: "rand", type: "ip6trie", family: .ipv6, ttl: 5, values: values(20),
                                          entries: randomEntries(family: .ipv6, count: 30, valueCount: 20, using: &rng)))
    let good = try StoreBuilder.encode(zones).bytes
    // Structural words of the dataset records (value range, counts, array offsets, radix and
    // reserved fields; not the skipped-line count): any change must be refused.
    let datasetsOff = Int(get32(good, 64 + 2 * 32 + 8))
    let datasetCount = Int(get32(good, 64 + 2 * 32 + 4))
    var structural = Set<Int>()
    for d in 0..<datasetCount {
        // Bytes 104–111 hold the count of source lines skipped: any value is valid.
        for f in stride(from: 48, to: 128, by: 4) where f != 104 && f != 108 { structural.insert(datasetsOff + 128 * d + f) }
    }
    // Every word up to the tables section, then a sample of the table words.
    let tablesOff = Int(get32(good, 64 + 5 * 32 + 8))
    var offsets = Array(stride(from: 64, to: tablesOff, by: 4))
    offsets += (0..<300).map { _ in Int.random(in: tablesOff..<(good.count - 3), using: &rng) }
    var refused = 0, accepted = 0
    for off in offsets {
        let old = get32(good, off)
        for value in [old &+ 1, 0xFFFF_FFFF, UInt32(truncatingIfNeeded: rng.next())] where value != old {
            var b = good
            put32(&b, off, value)
            fixChecksums(&b)
            do {
                let s = try Store(bytes: b)
                accepted += 1
                #expect(!structural.contains(off), "dataset record word at \(off) = \(value) accepted; seed \(seed)")
                exercise(s, using: &rng)
            } catch {
                refused += 1
            }
        }
    }
    #expect(refused > 0 && accepted > 0, "seed \(seed)")
}

@Test func unsortedKeysWithValidChecksumAreRefused() throws {
    let db8: UInt128 = 0x2001_0db8 << 96
    let ds = DatasetInput(name: "d", type: "ip6trie", family: .ipv6, ttl: 1, values: values(1), entries: [
        PrefixEntry(address: db8, prefixLength: 120, value: 0, origin: 0),
        PrefixEntry(address: db8 | 0x1000, prefixLength: 120, value: 0, origin: 1),
    ])
    var b = try StoreBuilder.encode([zone("bl.example", [ds])]).bytes
    let s = try Store(bytes: b)
    let t = s.zones[0].datasets[0].table
    #expect(t.count == 2)
    // Swap the low halves of the two keys (the first 8 bytes of each tail record).
    let lo = t.tails - s.memory.base
    let stride = t.tailStride
    let a = Array(b[lo..<(lo + 8)]), c = Array(b[(lo + stride)..<(lo + stride + 8)])
    b.replaceSubrange(lo..<(lo + 8), with: c)
    b.replaceSubrange((lo + stride)..<(lo + stride + 8), with: a)
    fixChecksums(&b)
    #expect { try Store(bytes: b) } throws: {
        let e = $0 as? StoreError
        return e?.code == .badLayout && e?.reason.contains("ascending") == true
    }
}

/// Format version 2 input the builder refuses: generic records outside the zone, unknown
/// types, malformed RDATA; subzones that are not labels; acl values that are neither an
/// action nor a policy answer in 127.255.255.0/24; non-acl data in the global-ACL zone.
@Test func invalidVersion2InputIsRefused() {
    func refused(_ z: [ZoneInput]) -> Bool {
        do { _ = try StoreBuilder.encode(z); return false } catch { return error.code == .invalidInput }
    }
    var bad: [[ZoneInput]] = []
    for rec in [GenericRecord(owner: wire("www.example.org"), type: 1, ttl: 1, rdata: [192, 0, 2, 1]),
                GenericRecord(owner: wire("bl.example"), type: 2, ttl: 1, rdata: wire("ns.example.org")),
                GenericRecord(owner: wire("bl.example"), type: 1, ttl: 1, rdata: [192, 0, 2]),
                GenericRecord(owner: wire("bl.example"), type: 16, ttl: 1, rdata: [9, 0x41]),
                GenericRecord(owner: wire("bl.example"), type: 15, ttl: 1, rdata: [0, 1, 3, 0x61])] {
        var z = zone("bl.example", [])
        z.records = [rec]
        bad.append([z])
    }
    var sub = DatasetInput(name: "d", type: "ip4trie", family: .ipv4, ttl: 1, values: values(1), entries: [])
    sub.subzone = [7, 0x61]
    bad.append([zone("bl.example", [sub])])
    let acl = DatasetInput(name: "a", type: "acl", family: .ipv4, ttl: 1,
                           values: [ListingValue(a: 0x7F00_0002, txt: nil)], entries: [])
    bad.append([zone("bl.example", [acl])])
    var g = zone("bl.example", [DatasetInput(name: "d", type: "ip4trie", family: .ipv4, ttl: 1, values: values(1), entries: [])])
    g.name = ZoneInput.globalACLZoneName
    bad.append([g])
    for (i, z) in bad.enumerated() { #expect(refused(z), "case \(i)") }
}

/// The reader refuses the same defects written straight into an image (checksums fixed):
/// a record type, a record owner outside the zone, an acl value, a subzone length.
@Test func corruptVersion2FieldsAreRefused() throws {
    let good = try StoreBuilder.encode(sampleZones()).bytes
    let recordsOff = Int(get32(good, 64 + 4 * 32 + 8))
    let datasetsOff = Int(get32(good, 64 + 2 * 32 + 8))
    let valuesOff = Int(get32(good, 64 + 3 * 32 + 8))
    let zonesOff = Int(get32(good, 64 + 1 * 32 + 8))
    let s = try Store(bytes: good)
    // Value index of the acl dataset's first value (zone 0, dataset 3).
    let aclFirst = Int(get32(good, datasetsOff + 3 * 128 + 48))
    let cases: [(Int, UInt32, String)] = [
        (recordsOff + 8, 2, "record type"),                                   // A → NS
        (recordsOff + 4, get32(good, recordsOff + 4) &- 1, "record owner length"),
        (recordsOff + 20, 3, "record RDATA length"),
        (valuesOff + 16 * aclFirst, 0x7F00_0002, "acl value"),
        (datasetsOff + 2 * 128 + 100, 3, "subzone length"),
        (datasetsOff + 2 * 128 + 96, 1, "subzone offset"),
        (zonesOff + 76, 5, "record count"),
        (zonesOff + 72, 1, "record first"),
    ]
    #expect(s.zones[0].records.count == 4)
    for (off, v, what) in cases {
        var b = good
        put32(&b, off, v)
        fixChecksums(&b)
        #expect(code(b) == .badLayout || code(b) == .truncated, "\(what)")
    }
}
