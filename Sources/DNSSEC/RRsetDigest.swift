import Crypto

extension DNSSECRecords {
    /// A 16-byte digest of an RRset's content: SHA-256 of owner, type, TTL and each RDATA
    /// (each length-prefixed), cut to 128 bits. Equal RRsets (same RDATA order) have equal
    /// digests; two different RRsets share one with probability about 2^-128, so a table keyed
    /// by it can stand for the content (a transfer's signature carry).
    public static func rrsetDigest(owner: [UInt8], type: UInt16, ttl: UInt32, rdatas: [[UInt8]]) -> (UInt64, UInt64) {
        var h = SHA256()
        var head: [UInt8] = [UInt8(owner.count >> 8), UInt8(owner.count & 0xFF)]
        head += owner
        head += [UInt8(type >> 8), UInt8(type & 0xFF),
                 UInt8(ttl >> 24), UInt8((ttl >> 16) & 0xFF), UInt8((ttl >> 8) & 0xFF), UInt8(ttl & 0xFF)]
        h.update(data: head)
        for r in rdatas {
            h.update(data: [UInt8(r.count >> 8), UInt8(r.count & 0xFF)])
            h.update(data: r)
        }
        let d = h.finalize()
        var hi: UInt64 = 0, lo: UInt64 = 0
        for (i, b) in d.prefix(16).enumerated() {
            if i < 8 { hi = hi << 8 | UInt64(b) } else { lo = lo << 8 | UInt64(b) }
        }
        return (hi, lo)
    }
}
