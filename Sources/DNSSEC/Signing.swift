import DNSWire

/// RRSIG and NSEC RDATA (RFC 4034 §3, §4), built from RRsets a caller hands in.
public enum DNSSECRecords {
    /// RR type codes used here (RFC 4034 §2, §3, §4, §5).
    public static let typeDS: UInt16 = 43
    public static let typeRRSIG: UInt16 = 46
    public static let typeNSEC: UInt16 = 47
    public static let typeDNSKEY: UInt16 = 48

    /// RDATA of an RRset in canonical order: sorted as left-justified unsigned octet
    /// sequences, duplicates removed (RFC 4034 §6.3).
    public static func canonicalOrder(_ rdatas: [[UInt8]]) -> [[UInt8]] {
        var sorted = rdatas.sorted { $0.lexicographicallyPrecedes($1) }
        var i = 1
        while i < sorted.count { if sorted[i] == sorted[i - 1] { sorted.remove(at: i) } else { i += 1 } }
        return sorted
    }

    /// The data an RRSIG's signature covers (RFC 4034 §3.1.8.1): the RRSIG RDATA before the
    /// signature field, then each RR of the set in canonical form (RFC 4034 §6.2: owner
    /// lower-cased and uncompressed, the original TTL) in canonical RDATA order.
    /// - Parameters:
    ///   - owner: the RRset's owner in uncompressed wire form (any case); for a wildcard
    ///     expansion, the wildcard (`*.…`) owner.
    ///   - type: the RRset's type.
    ///   - rrClass: the RRset's class.
    ///   - ttl: the original TTL in seconds.
    ///   - rdatas: the RDATA of each RR, uncompressed; domain names inside them already in
    ///     canonical (lower-case) form where RFC 4034 §6.2 item 3 asks for it.
    ///   - rrsigPrefix: ``rrsigPrefix(type:owner:ttl:inception:expiration:key:)``.
    public static func signedData(owner: [UInt8], type: UInt16, rrClass: UInt16, ttl: UInt32,
                                  rdatas: [[UInt8]], rrsigPrefix: [UInt8]) -> [UInt8] {
        var lowered = owner
        CanonicalName.canonicalize(&lowered)
        var out = rrsigPrefix
        for rd in canonicalOrder(rdatas) {
            out += lowered
            out += [UInt8(type >> 8), UInt8(type & 0xFF), UInt8(rrClass >> 8), UInt8(rrClass & 0xFF),
                    UInt8(ttl >> 24), UInt8(ttl >> 16 & 0xFF), UInt8(ttl >> 8 & 0xFF), UInt8(ttl & 0xFF),
                    UInt8(rd.count >> 8), UInt8(rd.count & 0xFF)]
            out += rd
        }
        return out
    }

    /// RRSIG RDATA up to, not including, the signature (RFC 4034 §3.1): type covered,
    /// algorithm, labels (``CanonicalName/rrsigLabelCount(_:)``), original TTL, expiration,
    /// inception (seconds since 1970, serial-number arithmetic, RFC 4034 §3.1.5), key tag and
    /// the signer's name (the key's owner, lower-case, uncompressed).
    public static func rrsigPrefix(type: UInt16, owner: [UInt8], ttl: UInt32, inception: UInt32,
                                   expiration: UInt32, key: DNSKEYRecord) -> [UInt8] {
        let tag = key.keyTag
        var out: [UInt8] = [UInt8(type >> 8), UInt8(type & 0xFF), key.algorithm.rawValue,
                            CanonicalName.rrsigLabelCount(owner)]
        for v in [ttl, expiration, inception] {
            out += [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
        }
        out += [UInt8(tag >> 8), UInt8(tag & 0xFF)]
        out += key.owner
        return out
    }

    /// NSEC RDATA (RFC 4034 §4.1): the next owner name (uncompressed; RFC 6840 §5.1 keeps its
    /// case) and the type bitmap of ``typeBitmap(_:)``.
    public static func nsecRData(next: [UInt8], types: [UInt16]) -> [UInt8] {
        next + typeBitmap(types)
    }

    /// The NSEC type bitmap (RFC 4034 §4.1.2): per 256-type window present, the window
    /// number, the bitmap length (1–32 bytes, trailing zero bytes dropped) and the bitmap,
    /// the most significant bit of the first byte being type 0 of the window.
    public static func typeBitmap(_ types: [UInt16]) -> [UInt8] {
        var out: [UInt8] = []
        let sorted = Set(types).sorted()
        var i = 0
        while i < sorted.count {
            let window = sorted[i] >> 8
            var bits = [UInt8](repeating: 0, count: 32)
            var used = 0
            while i < sorted.count, sorted[i] >> 8 == window {
                let low = Int(sorted[i] & 0xFF)
                bits[low >> 3] |= 0x80 >> UInt8(low & 7)
                used = max(used, (low >> 3) + 1)
                i += 1
            }
            out.append(UInt8(window)); out.append(UInt8(used)); out += bits[0..<used]
        }
        return out
    }
}

extension SigningKey {
    /// RRSIG RDATA over one RRset (RFC 4034 §3.1, signature per §3.1.8.1): the fields of
    /// ``DNSSECRecords/rrsigPrefix(type:owner:ttl:inception:expiration:key:)`` then the
    /// 64-byte signature.
    /// - Parameters:
    ///   - owner: the RRset's owner, uncompressed wire form (a wildcard owner for wildcard
    ///     RRsets: the Labels field then excludes the `*`).
    ///   - type: the RRset's type.
    ///   - rrClass: the RRset's class (IN by default).
    ///   - ttl: the original TTL in seconds.
    ///   - rdatas: each RR's RDATA, uncompressed (see
    ///     ``DNSSECRecords/signedData(owner:type:rrClass:ttl:rdatas:rrsigPrefix:)``).
    ///   - inception: start of the validity window, seconds since 1970 (mod 2^32).
    ///   - expiration: end of the validity window, seconds since 1970 (mod 2^32).
    /// - Throws: ``DNSSECSigningError`` when the cryptographic library fails.
    public func rrsig(owner: [UInt8], type: UInt16, rrClass: UInt16 = DNSClass.in, ttl: UInt32,
                      rdatas: [[UInt8]], inception: UInt32, expiration: UInt32) throws(DNSSECSigningError) -> [UInt8] {
        let prefix = DNSSECRecords.rrsigPrefix(type: type, owner: owner, ttl: ttl, inception: inception,
                                               expiration: expiration, key: dnskey)
        let data = DNSSECRecords.signedData(owner: owner, type: type, rrClass: rrClass, ttl: ttl,
                                            rdatas: rdatas, rrsigPrefix: prefix)
        return prefix + (try sign(data))
    }
}

extension DNSSECRecords {
    /// Appends one whole RR — `owner` uncompressed, TYPE, CLASS, TTL, RDLENGTH, `rdata` — to
    /// a message being written into a caller-owned buffer (for instance an RRSIG from
    /// ``SigningKey/rrsig(owner:type:rrClass:ttl:rdatas:inception:expiration:)``).
    /// - Returns: `false`, having written nothing, when it does not fit under the writer's
    ///   limit.
    public static func write(owner: [UInt8], type: UInt16, rrClass: UInt16 = DNSClass.in, ttl: UInt32,
                             rdata: [UInt8], into writer: inout MessageWriter) -> Bool {
        guard writer.remaining >= owner.count + 10 + rdata.count, rdata.count <= 0xFFFF else { return false }
        _ = writer.bytes(owner)
        guard let at = writer.rrFixed(type: type, rrClass: rrClass, ttl: ttl) else { return false }
        _ = writer.bytes(rdata)
        writer.finishRData(lengthAt: at)
        return true
    }
}
