import DNSSEC
import DNSWire

/// One signed zone as a Responder serves it: its signer, its signed view and the TTLs of the
/// records only the signed zone has.
struct SignedZone: Sendable {
    let signer: ZoneSigner
    let view: any SignedZoneView
    /// NSEC TTL: min(SOA TTL, SOA MINIMUM) (RFC 9077 §3.2, RFC 4034 §4).
    let nsecTTL: UInt32
    /// DNSKEY TTL: the SOA's TTL (also the original TTL of the SOA's RRSIG in every answer).
    let dnskeyTTL: UInt32
}

/// The signing context of one DO=1 query in a signed zone (``Reply/signing``).
struct SigningContext {
    let zone: SignedZone
    /// The QNAME, lower case, uncompressed.
    let qname: [UInt8]
    let proof: ViewProof
}

/// One RR of an answer already written, read back for signing.
private struct WrittenRR {
    /// The whole RR as written (owner possibly a pointer into the question).
    var raw: [UInt8]
    var type: UInt16
    var ttl: UInt32
    /// RDATA in canonical form (RFC 4034 §6.2: names uncompressed, lower case).
    var rdata: [UInt8]
}

extension Responder {
    /// The signing context of a DO=1 query in zone `zoneIndex`, or nil when the zone is not
    /// signed. Reads the view once (``SignedZoneView/prove(_:)``).
    func signingContext(zoneIndex: Int32, _ query: UnsafeRawBufferPointer, _ q: ParsedQuery) -> SigningContext? {
        guard zoneIndex >= 0, Int(zoneIndex) < signedZones.count, let z = signedZones[Int(zoneIndex)] else { return nil }
        var qname = [UInt8](UnsafeRawBufferPointer(rebasing: query[q.qnameOffset..<(q.qnameOffset + q.qnameLength)]))
        CanonicalName.canonicalize(&qname)
        return SigningContext(zone: z, qname: qname, proof: z.view.prove(qname))
    }

    /// Labels below the serving zone's apex of the block a signed answer's `$` names (RFC 4592
    /// §3.3.1: the closest encloser for a wildcard expansion, the QNAME itself otherwise),
    /// given the QNAME's `labels` below that apex.
    static func dollarLabels(_ s: SigningContext, labels: Int) -> Int {
        guard !s.proof.exists, s.proof.wildcardExists else { return labels }
        let below = labelCount(s.qname) - labelCount(s.proof.closestEncloser)
        return max(0, labels - below)
    }

    /// Rewrites the answer written from `afterQuestion` as the signed zone's authoritative
    /// server sends it to a DO=1 query (RFC 4035 §3.1): RRSIGs after every RRset
    /// (§3.1.1; a wildcard expansion signed at `*.<closest encloser>`, its NSEC proving no
    /// closer match, §3.1.3.3); DNSKEY at the apex; NODATA with the NSEC of the name
    /// (§3.1.3.1) — for an empty non-terminal, which owns none, the NSEC covering it, whose
    /// next owner is a name below it — or, under a wildcard, the covering NSEC and the
    /// wildcard's (§3.1.3.4); NXDOMAIN with the NSEC covering the QNAME and the one covering
    /// the wildcard at the closest encloser (§3.1.3.2). The RCODE follows the view (an exclusion marker or an
    /// empty non-terminal is NODATA). Sets `r.tc` when the signed answer does not fit.
    func signAnswer(_ s: SigningContext, _ q: ParsedQuery, afterQuestion: MessageWriter.Mark,
                    _ w: inout MessageWriter, _ r: inout Reply) {
        guard r.rcode == DNSRCode.noError || r.rcode == DNSRCode.nxDomain else { return }
        let z = s.zone, signer = z.signer, proof = s.proof
        var rrs: [WrittenRR] = []
        var p = afterQuestion.count
        for _ in 0..<(Int(r.an) + Int(r.ns)) {
            guard let rr = Self.readRR(w.buffer, at: &p, end: w.count) else { return }
            rrs.append(rr)
        }
        let answers = Array(rrs[0..<Int(r.an)]), authority = Array(rrs[Int(r.an)...])
        let questionName = DNSWire.headerSize
        let apexAt = DNSWire.headerSize + q.qnameLength - z.view.apex.count
        w.rollback(to: afterQuestion)
        var an: UInt16 = 0, ns: UInt16 = 0
        var ok = true

        // `originalTTL`: the RRset's TTL in the signed zone (RFC 4034 §3.1.4), which the RRSIG
        // covers; `ttl`: the TTL written, lower for the SOA of a negative answer (RFC 2308 §3).
        func putSigs(owner: [UInt8], pointer: Int?, type: UInt16, ttl: UInt32, originalTTL: UInt32? = nil,
                     rdatas: [[UInt8]], signedAs: [UInt8], count: inout UInt16) {
            for sig in signer.signatures(owner: signedAs, type: type, ttl: originalTTL ?? ttl, rdatas: rdatas) where ok {
                ok = Self.put(owner: owner, pointer: pointer, type: DNSSECRecords.typeRRSIG, ttl: ttl, rdata: sig, &w)
                count += 1
            }
        }
        func putRRsets(_ list: [WrittenRR], signedAs: [UInt8], pointer: Int, count: inout UInt16) {
            var i = 0
            while i < list.count && ok {
                var j = i
                while j < list.count && list[j].type == list[i].type { j += 1 }
                for k in i..<j where ok { ok = w.bytes(list[k].raw); count += 1 }
                // The SOA of a negative answer carries min(SOA TTL, MINIMUM); its RRSIG is the
                // zone's, made over the SOA's own TTL (as NSD serving the signed export sends it).
                let original = list[i].type == DNSType.soa ? z.dnskeyTTL : list[i].ttl
                putSigs(owner: [], pointer: pointer, type: list[i].type, ttl: list[i].ttl, originalTTL: original,
                        rdatas: list[i..<j].map(\.rdata), signedAs: signedAs, count: &count)
                i = j
            }
        }
        func putNSEC(_ n: ViewNSEC, count: inout UInt16) {
            let rdata = DNSSECRecords.nsecRData(next: n.next, types: n.types)
            guard ok else { return }
            ok = Self.put(owner: n.owner, pointer: nil, type: DNSSECRecords.typeNSEC, ttl: z.nsecTTL, rdata: rdata, &w)
            count += 1
            putSigs(owner: n.owner, pointer: nil, type: DNSSECRecords.typeNSEC, ttl: z.nsecTTL, rdatas: [rdata],
                    signedAs: n.owner, count: &count)
        }

        let atApex = s.qname == z.view.apex
        if !answers.isEmpty {
            // Positive: the owner the RRsets are signed at is the QNAME, or the wildcard that
            // synthesised them.
            let synthesised = !proof.exists && proof.wildcardExists
            let signedAs = synthesised ? [1, UInt8(ascii: "*")] + proof.closestEncloser : s.qname
            putRRsets(answers, signedAs: signedAs, pointer: questionName, count: &an)
            putRRsets(authority, signedAs: z.view.apex, pointer: apexAt, count: &ns)
            if synthesised { putNSEC(proof.nsec, count: &ns) }
            r.rcode = DNSRCode.noError
        } else if atApex && (q.qtype == DNSSECRecords.typeDNSKEY) {
            // DNSKEY at the apex (RFC 4035 §2.1).
            for rd in signer.dnskeyRData where ok {
                ok = Self.put(owner: [], pointer: questionName, type: DNSSECRecords.typeDNSKEY, ttl: z.dnskeyTTL, rdata: rd, &w)
                an += 1
            }
            putSigs(owner: [], pointer: questionName, type: DNSSECRecords.typeDNSKEY, ttl: z.dnskeyTTL,
                    rdatas: signer.dnskeyRData, signedAs: z.view.apex, count: &an)
            r.rcode = DNSRCode.noError
        } else if q.qtype == DNSSECRecords.typeNSEC && proof.exists && proof.nsec.owner == s.qname {
            // (An empty non-terminal owns no NSEC: NODATA below, with the covering one.)
            putNSEC(proof.nsec, count: &an)
            r.rcode = DNSRCode.noError
        } else {
            // Negative: the SOA (signed), then the NSEC proof; the RCODE is the view's.
            putRRsets(authority, signedAs: z.view.apex, pointer: apexAt, count: &ns)
            if proof.exists {
                putNSEC(proof.nsec, count: &ns)
                r.rcode = DNSRCode.noError
            } else {
                putNSEC(proof.nsec, count: &ns)
                if let wc = proof.wildcard, wc.owner != proof.nsec.owner { putNSEC(wc, count: &ns) }
                r.rcode = proof.wildcardExists ? DNSRCode.noError : DNSRCode.nxDomain
            }
        }
        if !ok {
            r.tc = true
            return
        }
        r.an = an
        r.ns = ns
    }

    /// Writes one RR: owner a pointer when `pointer` is given, else `owner` uncompressed.
    private static func put(owner: [UInt8], pointer: Int?, type: UInt16, ttl: UInt32, rdata: [UInt8],
                            _ w: inout MessageWriter) -> Bool {
        let mark = w.mark
        let wroteOwner = pointer.map { w.u16(0xC000 | UInt16($0)) } ?? w.bytes(owner)
        guard wroteOwner, let rdl = w.rrFixed(type: type, rrClass: DNSClass.in, ttl: ttl), w.bytes(rdata) else {
            w.rollback(to: mark)
            return false
        }
        w.finishRData(lengthAt: rdl)
        return true
    }

    /// Reads back one RR written at `p` (advancing it), its RDATA made canonical.
    private static func readRR(_ b: UnsafeMutableRawBufferPointer, at p: inout Int, end: Int) -> WrittenRR? {
        let start = p
        guard skipName(b, at: &p, end: end), p + 10 <= end else { return nil }
        let type = UInt16(b[p]) << 8 | UInt16(b[p + 1])
        let ttl = UInt32(b[p + 4]) << 24 | UInt32(b[p + 5]) << 16 | UInt32(b[p + 6]) << 8 | UInt32(b[p + 7])
        let rdlen = Int(b[p + 8]) << 8 | Int(b[p + 9])
        let rdStart = p + 10
        p = rdStart + rdlen
        guard p <= end else { return nil }
        let raw = [UInt8](UnsafeRawBufferPointer(rebasing: b[start..<p]))
        var rdata: [UInt8]
        switch type {
        case DNSType.ns, 5, 12:  // NS, CNAME, PTR
            guard let n = readName(b, at: rdStart) else { return nil }
            rdata = n
        case 15:  // MX
            guard let n = readName(b, at: rdStart + 2) else { return nil }
            rdata = [b[rdStart], b[rdStart + 1]] + n
        case DNSType.soa:
            guard let m = readName(b, at: rdStart) else { return nil }
            var q = rdStart
            guard skipName(b, at: &q, end: p), let rn = readName(b, at: q) else { return nil }
            guard skipName(b, at: &q, end: p), q + 20 == p else { return nil }
            rdata = m + rn + [UInt8](UnsafeRawBufferPointer(rebasing: b[q..<p]))
        default:
            rdata = [UInt8](UnsafeRawBufferPointer(rebasing: b[rdStart..<p]))
        }
        return WrittenRR(raw: raw, type: type, ttl: ttl, rdata: rdata)
    }

    private static func skipName(_ b: UnsafeMutableRawBufferPointer, at p: inout Int, end: Int) -> Bool {
        while p < end {
            let len = Int(b[p])
            if len & 0xC0 == 0xC0 { p += 2; return p <= end }
            p += 1 + len
            if len == 0 { return p <= end }
        }
        return false
    }

    /// The name at `p`, pointers followed, uncompressed and lower case.
    private static func readName(_ b: UnsafeMutableRawBufferPointer, at start: Int) -> [UInt8]? {
        var out: [UInt8] = []
        var p = start, hops = 0
        while p < b.count {
            let len = Int(b[p])
            if len & 0xC0 == 0xC0 {
                guard p + 1 < b.count, hops < 64 else { return nil }
                p = (len & 0x3F) << 8 | Int(b[p + 1])
                hops += 1
                continue
            }
            out.append(UInt8(len))
            if len == 0 { return out }
            guard p + len < b.count else { return nil }
            for i in 1...len { out.append(CanonicalName.lower(b[p + i])) }
            p += 1 + len
        }
        return nil
    }
}

/// Labels of an uncompressed wire name, root not counted.
func labelCount(_ name: [UInt8]) -> Int {
    var n = 0, p = 0
    while p < name.count && name[p] != 0 { n += 1; p += 1 + Int(name[p]) }
    return n
}
