import DNSSEC
import DNSWire

/// At most two addresses standing for a wildcard (``Responder/wildcardAddresses(_:)``): the
/// IPv4 candidate first, then the IPv6 one. Fixed-size.
struct WildcardCandidates {
    var first: QueryAddress?
    var second: QueryAddress?
    var count: Int { first == nil ? 0 : second == nil ? 1 : 2 }
    subscript(i: Int) -> QueryAddress { i == 0 ? first! : second! }
    mutating func append(_ a: QueryAddress) { if first == nil { first = a } else { second = a } }
}

extension Responder {
    /// The addresses whose store answer is the RRset of the wildcard `*.<closest encloser>`
    /// that answers a DO=1 QNAME which is not a name of the signed view (RFC 4592 §3.3.1,
    /// RFC 4035 §3.1.3.3). By the export's construction, every name below a child label of the
    /// closest encloser that is not itself a name of the view has the wildcard's value, so
    /// any full address inside such a child's block stands for the wildcard.
    ///
    /// The child is the QNAME's own label below the closest encloser when it is a canonical
    /// address label (then it is not a name: the closest encloser would be deeper); for a
    /// non-canonical label (`02`, `010`, `x`) its canonical twin if that is not a name, else the
    /// first of the child labels `0`, `1`, … (at most ``wildcardChildSearch`` of them) that is
    /// not a name. The address is the closest encloser, the child, and `0` labels down to a
    /// full address.
    ///
    /// - Parameters:
    ///   - s: the signing context (its QNAME read in place); `s.proof.exists` is false and
    ///     `wildcardExists` true.
    ///   - ceDepth: labels of the closest encloser below the apex (`s.proof`'s, unless the
    ///     caller answers a literal wildcard owner, see ``explicitWildcardAddresses(_:_:zoneIndex:_:_:)``).
    /// - Returns: the IPv4 candidate (4 octet labels) then the IPv6 one (32 nibble labels),
    ///   those the closest encloser's labels can be; none when neither (the caller answers
    ///   SERVFAIL). Allocates nothing for a canonical own label; otherwise at most
    ///   1 + ``wildcardChildSearch`` view proofs per family, so a flood of odd spellings
    ///   cannot make one query walk all 256 children.
    static func wildcardAddresses(_ s: SigningContext, closestEncloserLabels ceDepth: Int) -> WildcardCandidates {
        var out = WildcardCandidates()
        guard ceDepth >= 0, s.below > ceDepth else { return out }
        // The QNAME in place (a copy of the buffer cost more than the rest).
        let q = UnsafeRawBufferPointer(start: UnsafeRawPointer(s.qnamePointer), count: 256)
        let count = s.qnamePointer.pointee.count
        let ownAt = offset(q, count, droppingLabels: s.below - ceDepth - 1)
        let ownLength = Int(q[ownAt])
        let ceAt = ownAt + 1 + ownLength
        let apexAt = offset(q, count, droppingLabels: s.below)
        for pass in 0..<2 {
            let v4 = pass == 0
            let full = v4 ? 4 : 32
            guard ceDepth < full, labels(q, from: ceAt, to: apexAt, areOctets: v4) else { continue }
            if labels(q, from: ownAt, to: ceAt, areOctets: v4) {
                // The own label is a canonical address label: it is the child. The name (at
                // most 64 + 255 bytes) on the stack, not zeroed: every byte read is written.
                let a = withUnsafeTemporaryAllocation(byteCount: 330, alignment: 8) { name -> QueryAddress in
                    var n = 0
                    for _ in 0..<(full - ceDepth - 1) { name[n] = 1; name[n + 1] = 48; n += 2 }
                    name.baseAddress!.advanced(by: n).copyMemory(from: q.baseAddress! + ownAt, byteCount: apexAt - ownAt)
                    n += apexAt - ownAt
                    return QueryAddress(UnsafeRawBufferPointer(name), start: 0, end: n)
                }
                out.append(a)
                continue
            }
            if let a = slowWildcardAddress(s, v4: v4, own: (ownAt + 1..<ceAt).map { q[$0] },
                                           ce: (ceAt..<apexAt).map { q[$0] }, ceDepth: ceDepth) {
                out.append(a)
            }
        }
        return out
    }

    /// ``wildcardAddresses(_:closestEncloserLabels:)`` at the proof's closest encloser.
    static func wildcardAddresses(_ s: SigningContext) -> WildcardCandidates {
        wildcardAddresses(s, closestEncloserLabels: s.proof.closestEncloserLabels)
    }

    /// Byte offset in `q` (a name of `count` bytes) of the suffix that drops its first `labels`
    /// labels (``NameBuffer/offset(droppingLabels:)`` read in place).
    private static func offset(_ q: UnsafeRawBufferPointer, _ count: Int, droppingLabels labels: Int) -> Int {
        var p = 0, k = 0
        while k < labels && p < count && q[p] != 0 { p += 1 + Int(q[p]); k += 1 }
        return p
    }

    /// Whether the labels of `q` in `from..<to` are all canonical octet (`areOctets`) or
    /// nibble labels.
    private static func labels(_ q: UnsafeRawBufferPointer, from: Int, to: Int, areOctets: Bool) -> Bool {
        var p = from
        while p < to {
            let n = Int(q[p])
            if areOctets {
                guard n >= 1, n <= 3, n == 1 || q[p + 1] != 48 else { return false }
                var v = 0
                for i in (p + 1)...(p + n) {
                    let b = q[i]
                    guard b >= 48 && b <= 57 else { return false }
                    v = v * 10 + Int(b) - 48
                }
                guard v <= 255 else { return false }
            } else {
                guard n == 1, StoreZoneView.isHexDigit(q[p + 1]) else { return false }
            }
            p += 1 + n
        }
        return true
    }

    /// The candidate for a non-canonical own label (allocates; view proofs of child names).
    private static func slowWildcardAddress(_ s: SigningContext, v4: Bool, own: [UInt8], ce: [UInt8],
                                            ceDepth: Int) -> QueryAddress? {
        let ceName = ce + s.zone.view.apex
        let full = v4 ? 4 : 32
        var child: [UInt8]? = nil
        let twin = v4 ? canonicalOctet(own) : (own.count == 1 && StoreZoneView.isHexDigit(own[0]) ? own : nil)
        if let t = twin, t == own || !s.zone.view.prove([UInt8(t.count)] + t + ceName).exists {
            child = t
        } else {
            for k in 0..<(v4 ? wildcardChildSearch : 16) {
                let c = Array(String(k, radix: v4 ? 10 : 16).utf8)
                if !s.zone.view.prove([UInt8(c.count)] + c + ceName).exists { child = c; break }
            }
        }
        guard let c = child else { return nil }
        var name: [UInt8] = []
        for _ in 0..<(full - ceDepth - 1) { name += [1, UInt8(ascii: "0")] }
        name += [UInt8(c.count)] + c + ce
        return name.withUnsafeBytes { QueryAddress($0, start: 0, end: $0.count) }
    }

    /// Child labels tried (besides the twin) for a free child block of an IPv4 closest encloser;
    /// an IPv6 one has 16, all tried.
    static let wildcardChildSearch = 16

    /// The canonical spelling of a decimal label 0…255 (`02` → `2`, `000` → `0`), nil for
    /// any other label.
    static func canonicalOctet(_ l: [UInt8]) -> [UInt8]? {
        guard !l.isEmpty, l.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        var v = 0
        for d in l {
            v = v * 10 + Int(d) - 48
            if v > 255 { return nil }
        }
        return Array(String(v).utf8)
    }
}
