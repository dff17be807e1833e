import DNSWire
import PrefixStore

/// Writes TXT RDATA as character-strings of at most 255 bytes each (RFC 1035 §3.3.14): a long
/// text becomes several strings in one RR, never cut.
struct TXTEncoder {
    /// Offset of the current string's length byte.
    var lengthAt: Int
    /// Bytes in the current string.
    var run: Int = 0

    /// Starts the first character-string; `nil` when its length byte does not fit.
    init?(_ w: inout MessageWriter) {
        lengthAt = w.count
        guard w.u8(0) else { return nil }
    }

    @inline(__always)
    mutating func put(_ b: UInt8, _ w: inout MessageWriter) -> Bool {
        if run == 255 {
            w.set8(255, at: lengthAt)
            lengthAt = w.count
            guard w.u8(0) else { return false }
            run = 0
        }
        guard w.u8(b) else { return false }
        run += 1
        return true
    }

    mutating func finish(_ w: inout MessageWriter) {
        w.set8(UInt8(run), at: lengthAt)
    }

    /// Decimal without leading zeros.
    mutating func decimal(_ v: UInt8, _ w: inout MessageWriter) -> Bool {
        if v >= 100 { guard put(0x30 + v / 100, &w) else { return false } }
        if v >= 10 { guard put(0x30 + (v / 10) % 10, &w) else { return false } }
        return put(0x30 + v % 10, &w)
    }

    /// Dotted-quad IPv4 (`192.0.2.1`).
    mutating func ipv4(_ a: UInt32, _ w: inout MessageWriter) -> Bool {
        for i in 0..<4 {
            if i > 0 { guard put(0x2E, &w) else { return false } }
            guard decimal(UInt8(truncatingIfNeeded: a >> UInt32(24 - 8 * i)), &w) else { return false }
        }
        return true
    }

    /// Lower-case hex without leading zeros.
    mutating func hex16(_ g: UInt16, _ w: inout MessageWriter) -> Bool {
        var started = false
        var shift = 12
        while shift >= 0 {
            let nib = UInt8((g >> UInt16(shift)) & 0xF)
            if nib != 0 || started || shift == 0 {
                started = true
                guard put(nib < 10 ? 0x30 + nib : 0x57 + nib, &w) else { return false }
            }
            shift -= 4
        }
        return true
    }

    /// RFC 5952 §4 text: lower case, no leading zeros, the longest run of two or more zero
    /// groups compressed to `::` (the first on ties); IPv4-mapped addresses in the mixed form
    /// `::ffff:192.0.2.1` (§5).
    mutating func ipv6(_ a: UInt128, _ w: inout MessageWriter) -> Bool {
        @inline(__always) func group(_ i: Int) -> UInt16 { UInt16(truncatingIfNeeded: a >> UInt128(112 - 16 * i)) }
        if a >> 32 == 0xffff {
            // "::ffff:" without building an array.
            guard put(0x3A, &w), put(0x3A, &w), put(0x66, &w), put(0x66, &w), put(0x66, &w),
                  put(0x66, &w), put(0x3A, &w) else { return false }
            return ipv4(UInt32(truncatingIfNeeded: a), &w)
        }
        var bestStart = -1, bestLen = 0, curStart = -1, curLen = 0
        for i in 0..<8 {
            if group(i) == 0 {
                if curStart < 0 { curStart = i; curLen = 0 }
                curLen += 1
                if curLen > bestLen { bestStart = curStart; bestLen = curLen }
            } else {
                curStart = -1
            }
        }
        if bestLen < 2 { bestStart = -1 }
        var i = 0
        var needColon = false
        while i < 8 {
            if i == bestStart {
                guard put(0x3A, &w), put(0x3A, &w) else { return false }
                i += bestLen
                needColon = false
                continue
            }
            if needColon { guard put(0x3A, &w) else { return false } }
            guard hex16(group(i), &w) else { return false }
            needColon = true
            i += 1
        }
        return true
    }
}

extension MessageWriter {
    /// Writes a TXT template expanded (`$` → the queried address, `$$` → `$`), split into
    /// ≤255-byte character-strings. Returns `false` when it does not fit.
    mutating func expandedTXT(_ template: UnsafeRawBufferPointer, fromV4: Bool,
                              render: RenderAddresses, name: UnsafeRawBufferPointer? = nil) -> Bool {
        guard var enc = TXTEncoder(&self) else { return false }
        var i = 0
        let n = template.count
        while i < n {
            let b = template[i]
            if b == 0x24 {  // "$"
                if i + 1 < n && template[i + 1] == 0x24 {
                    guard enc.put(0x24, &self) else { return false }
                    i += 2
                    continue
                }
                var ok = true
                if let nm = name {  // dnset: `$` is the matched entry's name
                    DomainKey.forEachTextByte(nm) { b in if ok { ok = enc.put(b, &self) } }
                } else {
                    ok = fromV4 ? enc.ipv4(render.v4, &self) : enc.ipv6(render.v6, &self)
                }
                guard ok else { return false }
                let bits = fromV4 ? render.bits4 : render.bits6
                if bits < (fromV4 ? 32 : 128) {
                    guard enc.put(0x2F, &self), enc.decimal(bits, &self) else { return false }
                }
                i += 1
                continue
            }
            guard enc.put(b, &self) else { return false }
            i += 1
        }
        enc.finish(&self)
        return true
    }

    /// Writes literal text as TXT RDATA split into ≤255-byte character-strings.
    mutating func plainTXT(_ text: UnsafeRawBufferPointer) -> Bool {
        guard var enc = TXTEncoder(&self) else { return false }
        for b in text { guard enc.put(b, &self) else { return false } }
        enc.finish(&self)
        return true
    }

    /// Writes a name from the serving index: its labels, then a pointer to the apex inside
    /// the question or the root byte.
    mutating func encodedName(_ n: EncodedName, apexOffset: Int) -> Bool {
        n.prefix.withUnsafeBytes { p in
            name(prefix: p, pointerTarget: n.underApex ? apexOffset : nil)
        }
    }

    /// Whether the RR starting at `rrStart` (owner = a 2-byte pointer) repeats an RR of the
    /// RRset written from `setStart`, comparing RDATA bytes (RFC 2181 §5: identical RRs once).
    func repeatsEarlierRR(setStart: Int, rrStart: Int) -> Bool {
        let newLen = Int(get16(at: rrStart + 10))
        let newData = rrStart + 12
        var p = setStart
        while p < rrStart {
            let len = Int(get16(at: p + 10))
            if len == newLen {
                var k = 0
                while k < len && buffer[p + 12 + k] == buffer[newData + k] { k += 1 }
                if k == len { return true }
            }
            p += 12 + len
        }
        return false
    }
}
