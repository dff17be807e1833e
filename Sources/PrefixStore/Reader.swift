// Opening a store: validate every byte lookups will trust, once, then hand out tables that point
// into the memory. Any inconsistency throws a StoreError; nothing here may trap on bad input, so
// every read goes through bounds-checked helpers and all arithmetic on file values is checked.

/// Bounds-checked little-endian reads over the store bytes.
struct ImageReader {
    let base: UnsafeRawPointer
    let count: Int

    @inline(__always)
    func has(_ off: Int, _ n: Int) -> Bool { off >= 0 && n >= 0 && off <= count && n <= count - off }

    func u8(_ off: Int) throws(StoreError) -> UInt8 {
        guard has(off, 1) else { throw StoreError(.truncated, "read of 1 byte at \(off) beyond \(count)") }
        return base.load(fromByteOffset: off, as: UInt8.self)
    }
    func u16(_ off: Int) throws(StoreError) -> UInt16 {
        guard has(off, 2) else { throw StoreError(.truncated, "read of 2 bytes at \(off) beyond \(count)") }
        return UInt16(littleEndian: base.loadUnaligned(fromByteOffset: off, as: UInt16.self))
    }
    func u32(_ off: Int) throws(StoreError) -> UInt32 {
        guard has(off, 4) else { throw StoreError(.truncated, "read of 4 bytes at \(off) beyond \(count)") }
        return UInt32(littleEndian: base.loadUnaligned(fromByteOffset: off, as: UInt32.self))
    }
    func u64(_ off: Int) throws(StoreError) -> UInt64 {
        guard has(off, 8) else { throw StoreError(.truncated, "read of 8 bytes at \(off) beyond \(count)") }
        return UInt64(littleEndian: base.loadUnaligned(fromByteOffset: off, as: UInt64.self))
    }
    func bytes(_ off: Int, _ n: Int) throws(StoreError) -> ArraySlice<UInt8> {
        guard has(off, n) else { throw StoreError(.truncated, "read of \(n) bytes at \(off) beyond \(count)") }
        return Array(UnsafeRawBufferPointer(start: base + off, count: n))[...]
    }
}

@inline(__always)
func layoutError(_ reason: String) -> StoreError { StoreError(.badLayout, reason) }

/// An integer from the file as an `Int`, refusing values that do not fit.
@inline(__always)
func int(_ v: UInt64, _ what: @autoclosure () -> String) throws(StoreError) -> Int {
    guard v <= UInt64(Int.max / 4) else { throw layoutError("\(what()) \(v) out of range") }
    return Int(v)
}

enum StoreReader {
    struct SectionInfo { var count: Int; var offset: Int; var length: Int }

    static func open(_ mem: StoreMemory) throws(StoreError) -> [StoreZone] {
        let r = ImageReader(base: mem.base, count: mem.count)
        let size = mem.count
        guard size >= Format.headerSize else {
            throw StoreError(.truncated, "file of \(size) bytes is shorter than the \(Format.headerSize)-byte header")
        }
        guard Array(UnsafeRawBufferPointer(start: mem.base, count: 8)) == Format.magic else {
            throw StoreError(.badMagic, "bad magic: not a prefixbl store file")
        }
        let version = try r.u32(8)
        guard Format.readableVersions.contains(version) else {
            throw StoreError(.badVersion, "format version \(version) is not supported (this reader reads \(Format.readableVersions.lowerBound)–\(Format.version))")
        }
        let headerSize = try r.u32(12)
        guard headerSize == UInt32(Format.headerSize) else { throw layoutError("header size \(headerSize), expected \(Format.headerSize)") }
        let headerCRC = try r.u32(60)
        let actualHeaderCRC = Format.crc(mem.base, 60)
        guard headerCRC == actualHeaderCRC else {
            throw StoreError(.badChecksum, "header checksum mismatch (stored \(hex(headerCRC)), computed \(hex(actualHeaderCRC)))")
        }
        let fileSize = try r.u64(16)
        guard fileSize <= UInt64(size) else {
            throw StoreError(.truncated, "truncated: header says \(fileSize) bytes, file has \(size)")
        }
        guard fileSize == UInt64(size) else { throw layoutError("\(UInt64(size) - fileSize) bytes after the end the header gives (\(fileSize))") }
        let sectionCount = try r.u32(24)
        guard sectionCount == UInt32(Format.sectionCount) else { throw layoutError("section count \(sectionCount), expected \(Format.sectionCount)") }
        let tableOff = try r.u32(28)
        guard tableOff == UInt32(Format.sectionTableOffset) else { throw layoutError("section table offset \(tableOff), expected \(Format.sectionTableOffset)") }
        guard try r.u32(36) == 0, try r.u64(40) == 0, try r.u64(48) == 0, try r.u32(56) == 0 else {
            throw layoutError("reserved header bytes are not zero")
        }
        guard size >= Format.firstSectionOffset else { throw StoreError(.truncated, "file ends inside the section table") }
        let contentCRC = try r.u32(32)
        let actualCRC = Format.crc(mem.base + Format.headerSize, size - Format.headerSize)
        guard contentCRC == actualCRC else {
            throw StoreError(.badChecksum, "content checksum mismatch (stored \(hex(contentCRC)), computed \(hex(actualCRC)))")
        }

        // Sections: fixed order, aligned, in bounds, not overlapping.
        var sections: [SectionInfo] = []
        var prevEnd = Format.firstSectionOffset
        for (i, kind) in Format.Section.allCases.enumerated() {
            let e = Format.sectionTableOffset + i * Format.sectionEntrySize
            let k = try r.u32(e)
            guard k == kind.rawValue else { throw layoutError("section \(i) has kind \(k), expected \(kind.rawValue)") }
            let count = try int(UInt64(try r.u32(e + 4)), "section \(kind) item count")
            let off = try int(try r.u64(e + 8), "section \(kind) offset")
            let len = try int(try r.u64(e + 16), "section \(kind) length")
            guard try r.u64(e + 24) == 0 else { throw layoutError("section \(kind) reserved field is not zero") }
            let alignment = kind == .tables ? 64 : (kind == .strings ? 1 : 8)
            guard off % alignment == 0 else { throw layoutError("section \(kind) offset \(off) not \(alignment)-byte aligned") }
            guard off >= prevEnd, r.has(off, len) else { throw layoutError("section \(kind) at \(off)+\(len) overlaps or exceeds the file") }
            let recordSize: Int? = switch kind {
                case .zones: Format.zoneRecordSize
                case .datasets: Format.datasetRecordSize
                case .values: Format.valueRecordSize
                case .records: Format.recordRecordSize
                default: nil
            }
            if let rs = recordSize, len != count * rs {
                throw layoutError("section \(kind) length \(len) is not \(count) records of \(rs) bytes")
            }
            if kind == .strings, len != count { throw layoutError("string pool length \(len) != count \(count)") }
            prevEnd = off + len
            sections.append(SectionInfo(count: count, offset: off, length: len))
        }
        let strings = sections[0], zonesS = sections[1], datasetsS = sections[2], valuesS = sections[3], recordsS = sections[4], tablesS = sections[5]
        guard tablesS.count == datasetsS.count else { throw layoutError("tables section counts \(tablesS.count) tables for \(datasetsS.count) datasets") }

        func string(_ off: UInt32, _ len: UInt32, _ what: String) throws(StoreError) -> (Int, Int) {
            let o = Int(off), l = Int(len)
            guard o <= strings.length, l <= strings.length - o else {
                throw layoutError("\(what) at string offset \(o)+\(l) exceeds the string pool (\(strings.length) bytes)")
            }
            return (strings.offset + o, l)
        }
        func wireName(_ off: UInt32, _ len: UInt32, _ what: String) throws(StoreError) -> [UInt8] {
            let (o, l) = try string(off, len, what)
            let b = try r.bytes(o, l)
            guard isValidWireName(b) else { throw layoutError("\(what) is not a valid wire-form name") }
            return Array(b)
        }
        func text(_ off: UInt32, _ len: UInt32, _ what: String) throws(StoreError) -> String {
            let (o, l) = try string(off, len, what)
            guard let s = String(validating: try r.bytes(o, l), as: UTF8.self) else { throw layoutError("\(what) is not UTF-8") }
            return s
        }

        // Values.
        var values: [StoreValue] = []
        values.reserveCapacity(valuesS.count)
        for i in 0..<valuesS.count {
            let v = valuesS.offset + i * Format.valueRecordSize
            let a = try r.u32(v), flags = try r.u32(v + 4), to = try r.u32(v + 8), tl = try r.u32(v + 12)
            let continues = flags & 2 != 0
            switch flags & ~2 {
            case 0:
                guard to == 0 && tl == 0 else { throw layoutError("value \(i) without TXT has a TXT position") }
                values.append(StoreValue(a: a, txt: nil, continues: continues))
            case 1:
                let (o, l) = try string(to, tl, "TXT of value \(i)")
                values.append(StoreValue(a: a, txt: UnsafeRawBufferPointer(start: mem.base + o, count: l), continues: continues))
            default:
                throw layoutError("value \(i) has unknown flags \(flags)")
            }
        }

        // Zones and their datasets (contiguous, in order).
        var zones: [StoreZone] = []
        var nextDataset = 0
        var nextValue = 0
        var nextRecord = 0
        var tablesEnd = tablesS.offset
        for zi in 0..<zonesS.count {
            let z = zonesS.offset + zi * Format.zoneRecordSize
            let what = "zone \(zi)"
            let name = try wireName(try r.u32(z), try r.u32(z + 4), "\(what) name")
            let soa = SOAData(ttl: try r.u32(z + 8),
                              mname: try wireName(try r.u32(z + 32), try r.u32(z + 36), "\(what) SOA mname"),
                              rname: try wireName(try r.u32(z + 40), try r.u32(z + 44), "\(what) SOA rname"),
                              serial: try r.u32(z + 12), refresh: try r.u32(z + 16), retry: try r.u32(z + 20),
                              expire: try r.u32(z + 24), minimum: try r.u32(z + 28))
            let nsTTL = try r.u32(z + 48)
            let nsCount = Int(try r.u32(z + 52))
            let (nsO, nsL) = try string(try r.u32(z + 56), try r.u32(z + 60), "\(what) NS names")
            let nsBytes = try r.bytes(nsO, nsL)
            var ns: [[UInt8]] = []
            var p = nsBytes.startIndex
            while p < nsBytes.endIndex {
                guard ns.count < nsCount, let l = wireNameLength(nsBytes[p...]) else {
                    throw layoutError("\(what) NS names are not \(nsCount) valid wire-form names")
                }
                ns.append(Array(nsBytes[p..<(p + l)]))
                p += l
            }
            guard ns.count == nsCount else { throw layoutError("\(what) has \(ns.count) NS names, header says \(nsCount)") }
            let dFirst = Int(try r.u32(z + 64)), dCount = Int(try r.u32(z + 68))
            let rFirst = Int(try r.u32(z + 72)), rCount = Int(try r.u32(z + 76))
            guard rFirst == nextRecord, rCount <= recordsS.count - rFirst else {
                throw layoutError("\(what) records \(rFirst)+\(rCount) are not the next ones (\(nextRecord) of \(recordsS.count))")
            }
            nextRecord += rCount
            var records: [GenericRecord] = []
            for ri in rFirst..<(rFirst + rCount) {
                let rr = recordsS.offset + ri * Format.recordRecordSize
                let rwhat = "\(what) record \(ri)"
                let owner = try wireName(try r.u32(rr), try r.u32(rr + 4), "\(rwhat) owner")
                guard isUnder(owner, name) else { throw layoutError("\(rwhat) owner is not at or below the zone apex") }
                let type = try r.u16(rr + 8)
                guard try r.u16(rr + 10) == 0 else { throw layoutError("\(rwhat) reserved field is not zero") }
                let (o, l) = try string(try r.u32(rr + 16), try r.u32(rr + 20), "\(rwhat) RDATA")
                let rdata = try r.bytes(o, l)
                guard GenericRecord.types.contains(type), GenericRecord.validRData(type: type, rdata) else {
                    throw layoutError("\(rwhat) of type \(type) has invalid RDATA")
                }
                records.append(GenericRecord(owner: owner, type: type, ttl: try r.u32(rr + 12), rdata: Array(rdata)))
            }
            let global = name == ZoneInput.globalACLZoneName
            guard !global || records.isEmpty else { throw layoutError("\(what) is the global ACL but has generic records") }
            guard dFirst == nextDataset, dCount <= datasetsS.count - dFirst else {
                throw layoutError("\(what) datasets \(dFirst)+\(dCount) are not the next ones (\(nextDataset) of \(datasetsS.count))")
            }
            nextDataset += dCount
            var datasets: [StoreDataset] = []
            for di in dFirst..<(dFirst + dCount) {
                let (ds, end) = try dataset(r, mem, datasetsS.offset + di * Format.datasetRecordSize, index: di,
                                            values: values, nextValue: &nextValue, tablesS: tablesS,
                                            tablesFrom: tablesEnd, text: text, string: string,
                                            version: version, apexLength: name.count)
                tablesEnd = end
                datasets.append(ds)
            }
            guard !global || datasets.allSatisfy({ $0.rule.isAccessControl }) else { throw layoutError("\(what) is the global ACL but has non-acl datasets") }
            for ds in datasets where ds.subzone.count + name.count > 255 {
                throw layoutError("\(what) dataset \(ds.name) subzone makes a name longer than 255 bytes")
            }
            zones.append(StoreZone(name: name, soa: soa, nsTTL: nsTTL, ns: ns, datasets: datasets, records: records))
        }
        guard nextDataset == datasetsS.count else { throw layoutError("\(datasetsS.count - nextDataset) datasets belong to no zone") }
        guard nextRecord == recordsS.count else { throw layoutError("\(recordsS.count - nextRecord) records belong to no zone") }
        guard nextValue == valuesS.count else { throw layoutError("\(valuesS.count - nextValue) values belong to no dataset") }
        return zones
    }

    static func dataset(_ r: ImageReader, _ mem: StoreMemory, _ d: Int, index di: Int, values: [StoreValue],
                        nextValue: inout Int, tablesS: SectionInfo, tablesFrom: Int,
                        text: (UInt32, UInt32, String) throws(StoreError) -> String,
                        string: (UInt32, UInt32, String) throws(StoreError) -> (Int, Int),
                        version: UInt32 = Format.version, apexLength: Int = 255) throws(StoreError)
        -> (StoreDataset, Int)
    {
        let what = "dataset \(di)"
        let name = try text(try r.u32(d), try r.u32(d + 4), "\(what) name")
        let type = try text(try r.u32(d + 8), try r.u32(d + 12), "\(what) type")
        let fam = try r.u8(d + 16), kind = try r.u8(d + 17), width = Int(try r.u8(d + 18)), flags = try r.u8(d + 19)
        let family: AddressFamily
        switch (fam, kind) {
        case (4, 0): family = .ipv4
        case (6, 1), (6, 2): family = .ipv6
        case (0, 3) where version >= 3:  // dnset
            return try domainDataset(r, mem, d, what: what, name: name, type: type, width: width, flags: flags,
                                     values: values, nextValue: &nextValue, tablesS: tablesS, tablesFrom: tablesFrom,
                                     string: string, apexLength: apexLength)
        default: throw layoutError("\(what) has family \(fam) with key kind \(kind)")
        }
        guard flags & ~3 == 0 else { throw layoutError("\(what) has unknown flags \(flags)") }
        let ttl = try r.u32(d + 20)
        let created = try r.u64(d + 24), expires = try r.u64(d + 32)
        guard (flags & 1 != 0 || created == 0) && (flags & 2 != 0 || expires == 0) else {
            throw layoutError("\(what) has a timestamp its flags do not announce")
        }
        let entryCount = try int(try r.u64(d + 40), "\(what) entry count")
        let vFirst = Int(try r.u32(d + 48)), vCount = Int(try r.u32(d + 52))
        guard vFirst == nextValue, vCount <= values.count - vFirst else {
            throw layoutError("\(what) values \(vFirst)+\(vCount) are not the next ones (\(nextValue) of \(values.count))")
        }
        nextValue += vCount
        guard width == TableBuilder.valueWidth(forCount: vCount) else {
            throw layoutError("\(what) value width \(width) does not fit \(vCount) values")
        }
        let n = try int(try r.u64(d + 56), "\(what) table entry count")
        // Every entry takes at least one byte of the file: bounding n by the file size first keeps
        // the section-size products below from overflowing on a forged count.
        guard n <= r.count else { throw layoutError("\(what) table entry count \(n) exceeds the file size") }
        let listed = try int(try r.u64(d + 64), "\(what) listed range count")
        let radixBits = Int(try r.u8(d + 112)), radixShift = Int(try r.u8(d + 113))
        let layout = try r.u8(d + 114)
        guard layout <= 1 else { throw layoutError("\(what) has unknown table layout \(layout)") }
        let interleaved = layout == 1
        let subzone: [UInt8]
        let (so, sl) = (try r.u32(d + 96), try r.u32(d + 100))
        if sl == 0 {
            guard so == 0 else { throw layoutError("\(what) has a subzone offset without a length") }
            subzone = []
        } else {
            let (o, l) = try string(so, sl, "\(what) subzone")
            let b = try r.bytes(o, l)
            guard isValidLabels(b) else { throw layoutError("\(what) subzone is not a sequence of labels") }
            subzone = Array(b)
        }
        let skippedLines = try int(try r.u64(d + 104), "\(what) skipped line count")
        guard try r.u8(d + 115) == 0, try r.u32(d + 116) == 0, try r.u64(d + 120) == 0 else {
            throw layoutError("\(what) reserved fields are not zero")
        }
        guard radixBits <= StoreLayoutOptions.maxRadixBits, radixShift <= 64 else {
            throw layoutError("\(what) radix of \(radixBits) bits, shift \(radixShift) out of range")
        }
        let keyWidth = kind == 0 ? 4 : 8
        let tailStride = RangeTable.tailStride(kind: kind, valueWidth: width)
        let radixBytes = ((1 << radixBits) + 1) * 4
        let sizes = interleaved ? [n * (keyWidth + tailStride) + 8, 0, radixBytes]
                                : [n * keyWidth, n * tailStride + 8, radixBytes]
        let names = ["keys", "tails", "radix"]
        var offs: [Int] = []
        var end = tablesFrom
        for k in 0..<3 {
            let o = try int(try r.u64(d + 72 + 8 * k), "\(what) \(names[k]) offset")
            if sizes[k] == 0 {
                guard o == 0 else { throw layoutError("\(what) has an offset for empty \(names[k])") }
                offs.append(0)
                continue
            }
            guard o % 64 == 0, o >= end, o <= tablesS.offset + tablesS.length,
                  sizes[k] <= tablesS.offset + tablesS.length - o else {
                throw layoutError("\(what) \(names[k]) at \(o)+\(sizes[k]) is misaligned, overlapping or outside the tables section")
            }
            offs.append(o)
            end = o + sizes[k]
        }
        let b = mem.base
        let table = RangeTable(family: family, kind: kind, count: n, keys: b + offs[0],
                               tails: interleaved ? b + offs[0] + keyWidth : b + offs[1], interleaved: interleaved,
                               valueWidth: width, radix: (b + offs[2]).assumingMemoryBound(to: UInt32.self),
                               radixBits: radixBits, radixShift: radixShift, rangeCount: listed, owner: mem)
        try validateTable(table, vCount: vCount, listed: listed, what: what)
        let dsValues = Array(values[vFirst..<(vFirst + vCount)])
        // A run of values answering together ends inside its dataset; ACL values answer alone.
        if let last = dsValues.last, last.continues {
            throw layoutError("\(what) ends with a value that continues")
        }
        let rule = DatasetRule(storedType: type, family: family)
        switch rule {
        case .keyInQName:
            guard family == .ipv6, !dsValues.contains(where: \.continues) else { throw layoutError("\(what) is an aclkey that is not IPv6 or has a value run") }
            for v in dsValues where !AclKey.isValid(v.a) || (v.a <= 3 && v.txt != nil) {
                throw layoutError("\(what) is an aclkey with value \(v.a), neither an action nor an answer in 127.0.0.0/8")
            }
        case .clientACL:
            if dsValues.contains(where: \.continues) {
                throw layoutError("\(what) is an acl with a value run")
            }
            for v in dsValues where !ACLAction.isValid(v.a) || (v.a <= 3 && v.txt != nil) {
                throw layoutError("\(what) is an acl with value \(v.a), neither an action nor a policy answer")
            }
        case .domainNames:
            throw layoutError("\(what) is a dnset ('\(type)') without a name table")
        case .longestPrefix, .ip4Buckets: break
        }
        let ds = StoreDataset(name: name, type: type, rule: rule, family: family, ttl: ttl, table: table,
                              values: dsValues,
                              created: flags & 1 != 0 ? created : nil, expires: flags & 2 != 0 ? expires : nil,
                              entryCount: entryCount, subzone: subzone, skippedLines: skippedLines)
        return (ds, end)
    }

    /// Checks everything lookups assume: keys strictly ascending, sizes within the key space and
    /// ending before the next key, value indexes in range, "not listed" entries only right after a
    /// listed one and with size 0, the listed count, and a radix consistent with every key.
    static func validateTable(_ t: RangeTable, vCount: Int, listed: Int, what: String) throws(StoreError) {
        let n = t.count
        let buckets = Int(t.radixBuckets)
        let radix = t.radix
        // Radix: starts at 0, non-decreasing, ends at n.
        guard radix[0] == 0 || n == 0 else { throw layoutError("\(what) radix does not start at entry 0") }
        var prevR: UInt32 = 0
        for b in 0...buckets {
            let x = radix[b]
            guard x >= prevR, Int(x) <= n else { throw layoutError("\(what) radix bucket \(b) = \(x) out of order or beyond \(n) entries") }
            prevR = x
        }
        guard Int(radix[buckets]) == n else { throw layoutError("\(what) radix ends at \(radix[buckets]), not \(n)") }
        if n == 0 {
            guard listed == 0 else { throw layoutError("\(what) lists \(listed) ranges with no entries") }
            return
        }
        let kind = t.kind
        let domainBits: Int = kind == 0 ? 32 : kind == 1 ? 64 : 128
        let domainMax: UInt128 = kind == 0 ? UInt128(UInt32.max) : kind == 1 ? UInt128(UInt64.max) : .max
        // The tails' padding must be zero (it is read together with the last value).
        let padding = t.tails + (n - 1) * t.tailStride + RangeTable.tailStride(kind: kind, valueWidth: t.valueWidth)
        for k in 0..<8 where padding.load(fromByteOffset: k, as: UInt8.self) != 0 {
            throw layoutError("\(what) tail padding byte \(k) is not zero")
        }
        // Radix: bucket(i) is monotone in i once keys ascend, so checking the first and the last
        // entry of every non-empty bucket proves every entry sits in its own bucket.
        @inline(__always) func searchKey(_ i: Int) -> UInt64 {
            kind == 0 ? UInt64(t.storedKey(i, UInt32.self)) : t.storedKey(i, UInt64.self)
        }
        let first = searchKey(0)
        let shift = t.radixShift
        guard (searchKey(n - 1) &- first) >> shift < t.radixBuckets else {
            throw layoutError("\(what) last entry falls beyond the radix")
        }
        for b in 0..<buckets {
            let r0 = Int(radix[b]), r1 = Int(radix[b + 1])
            if r0 == r1 { continue }
            guard (searchKey(r0) &- first) >> shift == UInt64(b), (searchKey(r1 - 1) &- first) >> shift == UInt64(b) else {
                throw layoutError("\(what) radix bucket \(b) does not hold entries \(r0)..<\(r1)")
            }
        }
        // Entries: one pass, keys as 128-bit values (high search key, low half for kind 2).
        let vCount64 = UInt64(vCount)
        let valueMask = t.valueMask
        var listedCount = 0
        var prevKey: UInt128 = 0
        var prevListed = false
        var prevEnd: UInt128 = 0   // last key covered by the previous entry's size
        var prevSpanned = false
        for i in 0..<n {
            let key: UInt128 = kind == 2 ? (UInt128(searchKey(i)) &<< 64) | UInt128(t.low(i)) : UInt128(searchKey(i))
            if i > 0 {
                if key <= prevKey { throw layoutError("\(what) keys not strictly ascending at entry \(i)") }
                if prevSpanned && prevEnd >= key { throw layoutError("\(what) entry \(i - 1) overlaps entry \(i)") }
            }
            let (v, e, m) = t.tail(i)
            if v == valueMask {
                if m != 0 || e != 0 || !prevListed { throw layoutError("\(what) entry \(i) is a misplaced \"not listed\" entry") }
                prevListed = false
                prevSpanned = false
            } else {
                if v >= vCount64 { throw layoutError("\(what) entry \(i) value index \(v) ≥ \(vCount) values") }
                listedCount &+= 1
                prevListed = true
                if m == 0 {
                    if e != 0 { throw layoutError("\(what) entry \(i) has a size exponent without a mantissa") }
                    prevSpanned = false
                } else {
                    // Size m·2^e must fit the domain from this key: at most 1·2^width from 0.
                    let extent: UInt128
                    if Int(e) >= domainBits {
                        if Int(e) > domainBits || m != 1 || key != 0 {
                            throw layoutError("\(what) entry \(i) size \(m)·2^\(e) exceeds the \(domainBits)-bit space")
                        }
                        extent = domainMax
                    } else {
                        let size = UInt128(m) &<< UInt128(e)
                        if size >> UInt128(e) != UInt128(m) || size &- 1 > domainMax || domainMax &- key < size &- 1 {
                            throw layoutError("\(what) entry \(i) size \(m)·2^\(e) runs past the end of the address space")
                        }
                        extent = size &- 1
                    }
                    prevEnd = key &+ extent
                    prevSpanned = true
                }
            }
            prevKey = key
        }
        guard listedCount == listed else { throw layoutError("\(what) has \(listedCount) listed entries, header says \(listed)") }
    }
}

func hex(_ v: UInt32) -> String {
    let s = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - s.count)) + s
}
