import DNSSEC
import DNSWire

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
    /// - Parameter s: the signing context; `s.proof.exists` is false and `wildcardExists` true.
    /// - Returns: the IPv4 candidate (4 octet labels) then the IPv6 one (32 nibble labels),
    ///   those the closest encloser's labels can be; empty when neither (the caller answers
    ///   SERVFAIL). Allocates; at most 1 + ``wildcardChildSearch`` view proofs per family, so a
    ///   flood of odd spellings cannot make one query walk all 256 children.
    static func wildcardAddresses(_ s: SigningContext) -> [QueryAddress] {
        let apex = s.zone.view.apex, ceName = s.proof.closestEncloser
        var starts: [Int] = []
        var p = 0
        while p < s.qname.count && s.qname[p] != 0 { starts.append(p); p += 1 + Int(s.qname[p]) }
        let below = starts.count - labelCount(apex)
        let ceDepth = labelCount(ceName) - labelCount(apex)
        guard ceDepth >= 0, below > ceDepth else { return [] }
        // The i-th label below the apex, top-down.
        func label(_ i: Int) -> [UInt8] {
            let at = starts[below - 1 - i]
            return Array(s.qname[(at + 1)...(at + Int(s.qname[at]))])
        }
        let ce = (0..<ceDepth).map(label)
        let own = label(ceDepth)
        var out: [QueryAddress] = []
        for v4 in [true, false] {
            let full = v4 ? 4 : 32
            guard ceDepth < full,
                  ce.allSatisfy({ v4 ? StoreZoneView.isOctetLabel($0) : ($0.count == 1 && StoreZoneView.isHexDigit($0[0])) })
            else { continue }
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
            guard let c = child else { continue }
            var name: [UInt8] = []
            for _ in 0..<(full - ceDepth - 1) { name += [1, UInt8(ascii: "0")] }
            name += [UInt8(c.count)] + c
            for l in ce.reversed() { name += [UInt8(l.count)] + l }
            out.append(name.withUnsafeBytes { QueryAddress($0, start: 0, end: $0.count) })
        }
        return out
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
