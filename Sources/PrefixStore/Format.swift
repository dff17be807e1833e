// The store file format, version 3 (StoreFormat.md describes it byte by byte).
// All integers little-endian; every position is a file offset, never a pointer.

import CZlib

#if _endian(big)
#error("the store format is little-endian and lookups read it in place: big-endian hosts are not supported")
#endif

enum Format {
    static let magic: [UInt8] = Array("PFXSTORE".utf8)
    static let version: UInt32 = 3
    /// Versions this reader opens: 2 (no name tables) and 3 (dnset name tables, key kind 3).
    static let readableVersions: ClosedRange<UInt32> = 2...3
    static let headerSize = 64
    static let sectionEntrySize = 32
    static let sectionCount = 6
    static let sectionTableOffset = 64
    static let zoneRecordSize = 80
    static let datasetRecordSize = 128
    static let valueRecordSize = 16
    static let recordRecordSize = 24

    /// Sections in file order (`allCases` order): the records section (version 2) sits before
    /// the tables, which run to the end of the file.
    enum Section: UInt32, CaseIterable {
        case strings = 1, zones = 2, datasets = 3, values = 4, records = 6, tables = 5
    }

    static var firstSectionOffset: Int { sectionTableOffset + sectionCount * sectionEntrySize }

    static func crc(_ p: UnsafeRawPointer, _ n: Int) -> UInt32 {
        UInt32(truncatingIfNeeded: crc32_z(0, p.assumingMemoryBound(to: UInt8.self), n))
    }
}

/// Little-endian stores into an image under construction.
struct ImageWriter {
    let base: UnsafeMutableRawPointer
    @inline(__always) func u8(_ off: Int, _ v: UInt8) { base.storeBytes(of: v, toByteOffset: off, as: UInt8.self) }
    @inline(__always) func u16(_ off: Int, _ v: UInt16) { base.storeBytes(of: v.littleEndian, toByteOffset: off, as: UInt16.self) }
    @inline(__always) func u32(_ off: Int, _ v: UInt32) { base.storeBytes(of: v.littleEndian, toByteOffset: off, as: UInt32.self) }
    @inline(__always) func u64(_ off: Int, _ v: UInt64) { base.storeBytes(of: v.littleEndian, toByteOffset: off, as: UInt64.self) }
    func bytes(_ off: Int, _ b: [UInt8]) {
        b.withUnsafeBytes { if !$0.isEmpty { base.advanced(by: off).copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
    }
}

/// The string pool: every byte string stored once (names, dataset types, TXT templates).
struct StringPool {
    var bytes: [UInt8] = []
    var index: [[UInt8]: UInt32] = [:]

    mutating func intern(_ s: [UInt8]) throws(StoreError) -> (off: UInt32, len: UInt32) {
        if let o = index[s] { return (o, UInt32(s.count)) }
        guard bytes.count + s.count <= Int(UInt32.max) else {
            throw StoreError(.tooLarge, "string pool exceeds 4 GiB")
        }
        let o = UInt32(bytes.count)
        bytes.append(contentsOf: s)
        index[s] = o
        return (o, UInt32(s.count))
    }
}

enum StoreEncoder {
    struct DatasetPlan {
        var input: DatasetInput
        var table: TableBuilder
        /// Value records of the dataset (its values, then any value runs).
        var valueCount: Int
        var name: (UInt32, UInt32)
        var type: (UInt32, UInt32)
        var valueFirst: Int
        var subzone: (UInt32, UInt32)
        /// dnset: the name table (then `table` is empty).
        var names: DomainTableBuilder? = nil
    }

    static func encode(_ zones: [ZoneInput], options: StoreLayoutOptions = .init()) throws(StoreError) -> StoreImage {
        var pool = StringPool()
        var plans: [[DatasetPlan]] = []
        var conflicts: [[[FlattenConflict]]] = []
        var values: [(a: UInt32, txt: (UInt32, UInt32)?, continues: Bool)] = []
        var summary = StoreSummary(zones: zones.count, datasets: 0, entries: 0, ranges: 0, bytes: 0)
        for z in zones {
            for n in [z.name, z.soa.mname, z.soa.rname] + z.ns where !isValidWireName(n[...]) {
                throw StoreError(.invalidInput, "not a valid wire-form name: \(n)")
            }
            let global = z.name == ZoneInput.globalACLZoneName
            if global && (!z.records.isEmpty || z.datasets.contains { !$0.rule.isAccessControl }) {
                throw StoreError(.invalidInput, "the global-ACL zone '.' may hold only acl datasets")
            }
            for rec in z.records {
                guard isValidWireName(rec.owner[...]), isUnder(rec.owner, z.name) else {
                    throw StoreError(.invalidInput, "generic record owner \(rec.owner) is not a name at or below the zone apex")
                }
                guard GenericRecord.types.contains(rec.type), rec.hasValidRData else {
                    throw StoreError(.invalidInput, "generic record of type \(rec.type) has invalid RDATA")
                }
            }
            var zp: [DatasetPlan] = []
            var zc: [[FlattenConflict]] = []
            for d in z.datasets {
                guard isValidLabels(d.subzone[...]), d.subzone.count + z.name.count <= 255 else {
                    throw StoreError(.invalidInput, "subzone of \(d.name) is not a sequence of labels")
                }
                guard d.rule == DatasetRule(storedType: d.type, family: d.family) else {
                    throw StoreError(.invalidInput, "\(d.name): type '\(d.type)' is stored as the \(DatasetRule(storedType: d.type, family: d.family)) rule, not \(d.rule) (DatasetRule(storedType:family:) must name it)")
                }
                switch d.rule {
                case .keyInQName:
                    guard d.family == .ipv6 else { throw StoreError(.invalidInput, "aclkey dataset \(d.name) must be of the IPv6 family (hashed keys)") }
                    for v in d.values where !AclKey.isValid(v.a) || (v.a <= 3 && v.txt != nil) {
                        throw StoreError(.invalidInput, "aclkey value \(v.a) of \(d.name) is neither an action nor an answer in 127.0.0.0/8")
                    }
                case .clientACL:
                    for v in d.values where !ACLAction.isValid(v.a) || (v.a <= 3 && v.txt != nil) {
                        throw StoreError(.invalidInput, "acl value \(v.a) of \(d.name) is neither an action nor a policy answer in 127.255.255.0/24")
                    }
                case .longestPrefix, .ip4Buckets, .domainNames:
                    break
                }
                guard d.values.count < Int(UInt32.max) else { throw StoreError(.tooLarge, "too many values in \(d.name)") }
                var tb: TableBuilder
                let c: [FlattenConflict]
                // Value records of the dataset: its values, then (ip4set) the runs of values
                // that answer together, each record but a run's last flagged "continues".
                var records: [(value: ListingValue, continues: Bool)] = d.values.map { ($0, false) }
                var names: DomainTableBuilder? = nil
                guard (d.rule == .domainNames) == (d.domains != nil) else {
                    throw StoreError(.invalidInput, "\(d.name): a \(d.rule) dataset \(d.domains == nil ? "without" : "with") names")
                }
                switch d.rule {
                case .domainNames:  // a name table, several values of a name a value run
                    let nb = try DomainTableBuilder(d.domains ?? [], valueCount: d.values.count)
                    for run in nb.runs {
                        for (k, v) in run.enumerated() { records.append((d.values[Int(v)], k + 1 < run.count)) }
                    }
                    guard records.count < Int(UInt32.max) - 2, nb.count < Int(UInt32.max) else { throw StoreError(.tooLarge, "too many values or names in \(d.name)") }
                    guard isValidLabels(d.subzone[...]), d.subzone.count + z.name.count + (nb.keys.map { $0.count }.max() ?? 0) <= 255 else {
                        throw StoreError(.invalidInput, "a name of \(d.name) is longer than 255 bytes under its zone")
                    }
                    tb = TableBuilder(family: .ipv4, kind: 0, valueCount: records.count, options: options)
                    names = nb
                    c = []
                case .ip4Buckets:
                    let plan = try BucketFlattener.plan(d.entries, valueCount: d.values.count)
                    var runStart: [UInt32] = []
                    for g in plan.groups {
                        runStart.append(UInt32(records.count))
                        for (k, v) in g.enumerated() { records.append((d.values[Int(v)], k + 1 < g.count)) }
                    }
                    guard records.count < Int(UInt32.max) else { throw StoreError(.tooLarge, "too many values in \(d.name)") }
                    tb = TableBuilder(family: .ipv4, kind: 0, valueCount: records.count, options: options)
                    tb.reserve(plan.ranges.count + plan.ranges.count / 4 + 1)
                    let plain = UInt32(d.values.count)
                    for r in plan.ranges {
                        tb.addListed(first: UInt128(r.first), last: UInt128(r.last),
                                     value: r.id < plain ? r.id : runStart[Int(r.id - plain)])
                    }
                    c = []
                case .longestPrefix, .clientACL, .keyInQName:
                    tb = TableBuilder(family: d.family, kind: TableBuilder.kind(for: d.entries, family: d.family),
                                      valueCount: d.values.count, options: options)
                    c = try Flattener.flatten(d.entries, family: d.family, valueCount: d.values.count, into: &tb)
                }
                tb.finish()
                guard tb.count < Int(UInt32.max) else { throw StoreError(.tooLarge, "too many ranges in \(d.name)") }
                let first = values.count
                for r in records {
                    values.append((r.value.a, try r.value.txt.map { t throws(StoreError) in try pool.intern(t) }, r.continues))
                }
                zp.append(DatasetPlan(input: d, table: tb, valueCount: records.count,
                                      name: try pool.intern(Array(d.name.utf8)),
                                      type: try pool.intern(Array(d.type.utf8)), valueFirst: first,
                                      subzone: d.subzone.isEmpty ? (0, 0) : try pool.intern(d.subzone), names: names))
                zc.append(c)
                summary.datasets += 1
                summary.entries += d.entries.count + (d.domains?.count ?? 0)  // dnset
                summary.ranges += tb.listed + (names?.listed ?? 0)  // dnset
            }
            plans.append(zp)
            conflicts.append(zc)
        }
        // Zone names go into the pool after the datasets only so that the order is stable; the
        // pool deduplicates either way.
        var zoneStrings: [(name: (UInt32, UInt32), mname: (UInt32, UInt32), rname: (UInt32, UInt32), ns: (UInt32, UInt32))] = []
        var records: [(owner: (UInt32, UInt32), type: UInt16, ttl: UInt32, rdata: (UInt32, UInt32))] = []
        var recordFirst: [Int] = []
        for z in zones {
            zoneStrings.append((try pool.intern(z.name), try pool.intern(z.soa.mname), try pool.intern(z.soa.rname),
                                try pool.intern(z.ns.flatMap { $0 })))
            recordFirst.append(records.count)
            for rec in z.records {
                records.append((try pool.intern(rec.owner), rec.type, rec.ttl, try pool.intern(rec.rdata)))
            }
        }
        guard records.count < Int(UInt32.max) else { throw StoreError(.tooLarge, "too many generic records") }
        let datasetCount = plans.reduce(0) { $0 + $1.count }
        guard values.count < Int(UInt32.max), datasetCount < Int(UInt32.max) else {
            throw StoreError(.tooLarge, "too many values or datasets")
        }

        // Layout.
        var off = Format.firstSectionOffset
        let stringsOff = off; off += pool.bytes.count; off = align(off, 8)
        let zonesOff = off; off += zones.count * Format.zoneRecordSize
        let datasetsOff = off; off += datasetCount * Format.datasetRecordSize
        let valuesOff = off; off += values.count * Format.valueRecordSize
        let recordsOff = off; off += records.count * Format.recordRecordSize
        off = align(off, 64)
        let tablesOff = off
        var tableOffsets: [[[Int]]] = []
        for zp in plans {
            var zo: [[Int]] = []
            for p in zp {
                if let nb = p.names {  // dnset
                    let l = nb.layout(from: off)
                    zo.append([l.entries, l.names, 0]); off = l.end
                    continue
                }
                let (o, end) = p.table.layout(from: off)
                zo.append(o); off = end
            }
            tableOffsets.append(zo)
        }
        off = align(off, 8)
        let fileSize = off

        var image = [UInt8](repeating: 0, count: fileSize)
        image.withUnsafeMutableBytes { buf in
            let w = ImageWriter(base: buf.baseAddress!)
            w.bytes(0, Format.magic)
            w.u32(8, Format.version)
            w.u32(12, UInt32(Format.headerSize))
            w.u64(16, UInt64(fileSize))
            w.u32(24, UInt32(Format.sectionCount))
            w.u32(28, UInt32(Format.sectionTableOffset))
            let sections: [(Format.Section, Int, Int, Int)] = [
                (.strings, pool.bytes.count, stringsOff, pool.bytes.count),
                (.zones, zones.count, zonesOff, zones.count * Format.zoneRecordSize),
                (.datasets, datasetCount, datasetsOff, datasetCount * Format.datasetRecordSize),
                (.values, values.count, valuesOff, values.count * Format.valueRecordSize),
                (.records, records.count, recordsOff, records.count * Format.recordRecordSize),
                (.tables, datasetCount, tablesOff, fileSize - tablesOff),
            ]
            for (i, s) in sections.enumerated() {
                let e = Format.sectionTableOffset + i * Format.sectionEntrySize
                w.u32(e, s.0.rawValue)
                w.u32(e + 4, UInt32(truncatingIfNeeded: s.1))
                w.u64(e + 8, UInt64(s.2))
                w.u64(e + 16, UInt64(s.3))
            }
            w.bytes(stringsOff, pool.bytes)
            var dsIndex = 0
            for (zi, z) in zones.enumerated() {
                let r = zonesOff + zi * Format.zoneRecordSize
                let s = zoneStrings[zi]
                w.u32(r, s.name.0); w.u32(r + 4, s.name.1)
                w.u32(r + 8, z.soa.ttl); w.u32(r + 12, z.soa.serial); w.u32(r + 16, z.soa.refresh)
                w.u32(r + 20, z.soa.retry); w.u32(r + 24, z.soa.expire); w.u32(r + 28, z.soa.minimum)
                w.u32(r + 32, s.mname.0); w.u32(r + 36, s.mname.1)
                w.u32(r + 40, s.rname.0); w.u32(r + 44, s.rname.1)
                w.u32(r + 48, z.nsTTL); w.u32(r + 52, UInt32(z.ns.count))
                w.u32(r + 56, s.ns.0); w.u32(r + 60, s.ns.1)
                w.u32(r + 64, UInt32(dsIndex)); w.u32(r + 68, UInt32(plans[zi].count))
                w.u32(r + 72, UInt32(recordFirst[zi])); w.u32(r + 76, UInt32(z.records.count))
                for (di, p) in plans[zi].enumerated() {
                    let d = datasetsOff + dsIndex * Format.datasetRecordSize
                    let t = p.table
                    let o = tableOffsets[zi][di]
                    w.u32(d, p.name.0); w.u32(d + 4, p.name.1)
                    w.u32(d + 8, p.type.0); w.u32(d + 12, p.type.1)
                    w.u8(d + 16, p.input.family.rawValue)
                    w.u8(d + 17, t.kind)
                    w.u8(d + 18, UInt8(t.valueWidth))
                    w.u8(d + 19, (p.input.created != nil ? 1 : 0) | (p.input.expires != nil ? 2 : 0))
                    w.u32(d + 20, p.input.ttl)
                    w.u64(d + 24, p.input.created ?? 0)
                    w.u64(d + 32, p.input.expires ?? 0)
                    w.u64(d + 40, UInt64(p.input.entries.count))
                    w.u32(d + 48, UInt32(p.valueFirst)); w.u32(d + 52, UInt32(p.valueCount))
                    w.u64(d + 56, UInt64(t.count))
                    w.u64(d + 64, UInt64(t.listed))
                    for k in 0..<3 { w.u64(d + 72 + 8 * k, UInt64(o[k])) }
                    w.u8(d + 112, UInt8(t.radixBits))
                    w.u8(d + 113, UInt8(t.radixShift))
                    w.u8(d + 114, t.interleaved ? 1 : 0)
                    w.u32(d + 96, p.subzone.0); w.u32(d + 100, p.subzone.1)
                    w.u64(d + 104, UInt64(max(0, p.input.skippedLines)))
                    if let nb = p.names {  // dnset: family 0, key kind 3, the name table
                        w.u8(d + 16, 0); w.u8(d + 17, 3)
                        w.u64(d + 40, UInt64(p.input.domains?.count ?? 0))
                        w.u64(d + 56, UInt64(nb.count)); w.u64(d + 64, UInt64(nb.listed))
                        w.u8(d + 112, 0); w.u8(d + 113, 0); w.u8(d + 114, 0)
                        w.u64(d + 120, UInt64(nb.blob.count))
                        nb.copy(to: buf.baseAddress!, entries: o[0], names: o[1])
                        dsIndex += 1
                        continue
                    }
                    t.copyArrays(to: buf.baseAddress!, offsets: o)
                    dsIndex += 1
                }
            }
            for (i, v) in values.enumerated() {
                let r = valuesOff + i * Format.valueRecordSize
                w.u32(r, v.a)
                if let t = v.txt { w.u32(r + 8, t.0); w.u32(r + 12, t.1) }
                w.u32(r + 4, (v.txt != nil ? 1 : 0) | (v.continues ? 2 : 0))
            }
            for (i, rec) in records.enumerated() {
                let r = recordsOff + i * Format.recordRecordSize
                w.u32(r, rec.owner.0); w.u32(r + 4, rec.owner.1)
                w.u16(r + 8, rec.type)
                w.u32(r + 12, rec.ttl)
                w.u32(r + 16, rec.rdata.0); w.u32(r + 20, rec.rdata.1)
            }
            w.u32(32, Format.crc(buf.baseAddress! + Format.headerSize, fileSize - Format.headerSize))
            w.u32(60, Format.crc(buf.baseAddress!, 60))
        }
        summary.bytes = fileSize
        return StoreImage(bytes: image, summary: summary, conflicts: conflicts)
    }
}

/// A valid uncompressed wire-form name exactly filling `b`: labels of 1–63 bytes, a final root
/// label, at most 255 bytes (RFC 1035 §3.1).
func isValidWireName(_ b: ArraySlice<UInt8>) -> Bool {
    wireNameLength(b) == b.count
}

/// Labels of 1–63 bytes exactly filling `b`, without a root byte (a subzone prefix); empty is valid.
func isValidLabels(_ b: ArraySlice<UInt8>) -> Bool {
    var i = b.startIndex
    while i < b.endIndex {
        let l = Int(b[i])
        if l == 0 || l > 63 { return false }
        i += 1 + l
    }
    return i == b.endIndex
}

/// Whether the wire name `name` is `apex` or below it (whole labels, byte-exact: both are
/// stored lower-cased).
func isUnder(_ name: [UInt8], _ apex: [UInt8]) -> Bool {
    guard name.count >= apex.count else { return false }
    var p = 0
    while name.count - p > apex.count {
        let l = Int(name[p])
        if l == 0 { return false }
        p += 1 + l
    }
    return name.count - p == apex.count && name[p...].elementsEqual(apex)
}

/// Length of the wire name at the start of `b`, or nil when none is there.
func wireNameLength(_ b: ArraySlice<UInt8>) -> Int? {
    var i = b.startIndex
    while i < b.endIndex {
        let l = Int(b[i])
        if l == 0 {
            let n = i + 1 - b.startIndex
            return n <= 255 ? n : nil
        }
        if l > 63 { return nil }
        i += 1 + l
        if i - b.startIndex > 255 { return nil }
    }
    return nil
}
