import DNSSEC
import DNSWire

// Explicit queries for DNSSEC types (RFC 4035 §3.1: DNSKEY, NSEC and RRSIG asked for are
// answered whatever DO says) and the literal wildcard QNAME (`*.<closest encloser>` asked for
// by name, RFC 4592 §2.1.2) in a signed zone. Kept off the allocation-free DO=1 path: a
// 2-byte check (``Responder/mayNeedExplicit(_:_:dnssecOK:)``, in `answer` and `answerIN`)
// decides whether the query takes the signed path and builds an `ExplicitContext`, with the
// view's allocating proof; every other query never reaches this file.

/// The view's answer to a query ``Responder/explicitContext(zoneIndex:_:_:dnssecOK:)`` keeps:
/// QTYPE DNSKEY, NSEC or RRSIG, or a QNAME whose first label is `*`, in a signed zone.
struct ExplicitContext {
    let zone: SignedZone
    /// The QNAME, lower case, uncompressed.
    let qname: [UInt8]
    let proof: ViewProof
    /// The query had DO=1.
    let dnssecOK: Bool

    /// The QNAME owns RRsets in the signed view (it exists and is not an empty non-terminal).
    var ownsRecords: Bool { proof.exists && proof.nsec.owner == qname }

    /// The QNAME's first label is `*` and it is a wildcard owner of the signed view: it is
    /// answered with the wildcard's own RRsets, signed at it (RFC 4592 §2.1.2, RFC 4035 §3.1.3).
    var isLiteralWildcard: Bool {
        qname.count > 2 && qname[0] == 1 && qname[1] == UInt8(ascii: "*") && ownsRecords
    }

    /// The QNAME is not a name of the view and the wildcard `*.<closest encloser>` answers it.
    var synthesised: Bool { !proof.exists && proof.wildcardExists && proof.wildcard != nil }

    /// The NSEC whose RRsets answer the QNAME: its own, or the wildcard's when synthesised;
    /// nil at an empty non-terminal or a name that does not exist.
    var answeringNSEC: ViewNSEC? { ownsRecords ? proof.nsec : synthesised ? proof.wildcard : nil }

    /// Whether ``Responder/writeExplicit(_:_:afterQuestion:_:_:)`` answers QTYPE `qtype`:
    /// DNSKEY at the apex, NSEC or RRSIG at a name owning RRsets or synthesised from a
    /// wildcard. At DO=1 the signed path keeps DNSKEY at the apex and NSEC at an owner
    /// (allocation-free from cached signatures); this file answers the rest.
    func answers(_ qtype: UInt16) -> Bool {
        switch qtype {
        case DNSSECRecords.typeDNSKEY: return !dnssecOK && qname == zone.view.apex
        case DNSSECRecords.typeNSEC: return dnssecOK ? synthesised : answeringNSEC != nil
        case DNSSECRecords.typeRRSIG: return answeringNSEC != nil
        default: return false
        }
    }

    /// The QTYPE the answer rules use for QTYPE `qtype`: a QTYPE RRSIG this context answers
    /// collects the RRsets at the name as for ANY (whose signatures
    /// ``Responder/writeExplicit(_:_:afterQuestion:_:_:)`` then answers); others unchanged.
    func ruleQType(_ qtype: UInt16) -> UInt16 {
        qtype == DNSSECRecords.typeRRSIG && answers(qtype) ? DNSType.any : qtype
    }

    /// Labels below the apex of the block `$` names, given the QNAME's `labels` below it: the
    /// wildcard's block for a literal wildcard owner or a synthesised name (RFC 4592 §3.3.1).
    func dollarLabels(labels: Int) -> Int {
        if isLiteralWildcard { return max(0, labels - 1) }
        guard synthesised else { return labels }
        return max(0, labels - (labelCount(qname) - labelCount(proof.closestEncloser)))
    }
}

extension Responder {
    /// Whether a query may need an `ExplicitContext`: QTYPE NSEC or RRSIG, QTYPE DNSKEY
    /// without DO (at DO=1 the signed path answers it allocation-free), or a QNAME whose first
    /// label is `*`. Reads two bytes; no allocation.
    static func mayNeedExplicit(_ query: UnsafeRawBufferPointer, _ q: ParsedQuery, dnssecOK: Bool) -> Bool {
        switch q.qtype {
        case DNSSECRecords.typeRRSIG, DNSSECRecords.typeNSEC: return true
        case DNSSECRecords.typeDNSKEY where !dnssecOK: return true
        default:
            return q.qnameLength > 2 && query[q.qnameOffset] == 1 && query[q.qnameOffset + 1] == UInt8(ascii: "*")
        }
    }

    /// The context of a query whose answer this file decides, nil for every other (their
    /// answers stay the unsigned ones, or the signed path's at DO=1): one the context
    /// ``ExplicitContext/answers(_:)``, or any QTYPE at a literal wildcard owner. Class IN only.
    /// Allocates (the view's proof): called only when ``mayNeedExplicit(_:_:dnssecOK:)`` holds.
    func explicitContext(zoneIndex: Int32, _ query: UnsafeRawBufferPointer, _ q: ParsedQuery,
                         dnssecOK: Bool) -> ExplicitContext? {
        guard q.qclass == DNSClass.in, zoneIndex >= 0, Int(zoneIndex) < signedZones.count,
              let z = signedZones[Int(zoneIndex)] else { return nil }
        var qname: [UInt8] = []
        qname.reserveCapacity(q.qnameLength)
        for i in q.qnameOffset..<(q.qnameOffset + q.qnameLength) { qname.append(lowerASCII(query[i])) }
        let e = ExplicitContext(zone: z, qname: qname, proof: z.view.prove(qname), dnssecOK: dnssecOK)
        return e.answers(q.qtype) || e.isLiteralWildcard ? e : nil
    }

    /// The addresses whose store answer is the RRset a query of `e` gets where the DO=1
    /// path does not already find it: a literal wildcard owner's (as for a name the wildcard
    /// synthesises), or at DO=0 a synthesised name's. Nil: the store answers by the QNAME.
    func explicitWildcardAddresses(_ e: ExplicitContext, _ signing: SigningContext?, zoneIndex: Int32,
                                   _ query: UnsafeRawBufferPointer, _ q: ParsedQuery) -> WildcardCandidates? {
        guard e.isLiteralWildcard || (e.synthesised && signing == nil),
              let c = signing ?? signingContext(zoneIndex: zoneIndex, query, q) else { return nil }
        // A literal wildcard owner stands for the names it synthesises: its closest encloser is its parent.
        return Self.wildcardAddresses(c, closestEncloserLabels: e.isLiteralWildcard ? max(0, c.below - 1) : c.proof.closestEncloserLabels)
    }

    /// Writes the answer to an explicit DNSSEC QTYPE (RFC 4035 §3.1) in place of the one
    /// written from `afterQuestion`, ANSWER only, NOERROR:
    /// DNSKEY → the DNSKEY RRset; NSEC → the name's NSEC; each with its RRSIGs when DO=1.
    /// RRSIG → the RRSIGs of every RRset at the name (the RRsets the rules wrote for it as for
    /// ANY, then DNSKEY at the apex and the NSEC), as NSD answers it (§3.1.5).
    /// At a name a wildcard synthesises, as NSD does: the wildcard's NSEC or RRSIGs with the
    /// QNAME as owner (signed at the wildcard, RFC 4592 §3.3.1), and at DO=1 the NSEC covering
    /// the QNAME in AUTHORITY (no closer match, RFC 4035 §3.1.3.3). Sets `r.tc` when it does
    /// not fit. Allocates (the signer's API).
    func writeExplicit(_ e: ExplicitContext, _ q: ParsedQuery, afterQuestion: MessageWriter.Mark,
                       _ w: inout MessageWriter, _ r: inout Reply) {
        guard r.rcode == DNSRCode.noError || r.rcode == DNSRCode.nxDomain, let own = e.answeringNSEC else { return }
        let z = e.zone, signer = z.signer, questionName = DNSWire.headerSize
        let answers = Self.readAnswers(UnsafeRawBufferPointer(w.buffer), from: afterQuestion.count, end: w.count,
                                       count: Int(r.an))
        w.rollback(to: afterQuestion)
        var an: UInt16 = 0, ns: UInt16 = 0
        var ok = true
        func put(_ type: UInt16, _ ttl: UInt32, _ rdata: [UInt8], owner: [UInt8]? = nil) {
            guard ok else { return }
            let mark = w.mark
            let wroteOwner = owner.map { w.bytes($0) } ?? w.u16(0xC000 | UInt16(questionName))
            guard wroteOwner, let rdl = w.rrFixed(type: type, rrClass: DNSClass.in, ttl: ttl), w.bytes(rdata) else {
                w.rollback(to: mark)
                ok = false
                return
            }
            w.finishRData(lengthAt: rdl)
            an += 1
        }
        let signedAs = e.synthesised ? [1, UInt8(ascii: "*")] + e.proof.closestEncloser : e.qname
        func sigs(_ type: UInt16, _ ttl: UInt32, _ rdatas: [[UInt8]], owner: [UInt8]? = nil) {
            for sig in signer.signatures(owner: owner ?? signedAs, type: type, ttl: ttl, rdatas: rdatas) {
                put(DNSSECRecords.typeRRSIG, ttl, sig, owner: owner)
            }
        }
        let nsec = DNSSECRecords.nsecRData(next: own.next, types: own.types)
        switch q.qtype {
        case DNSSECRecords.typeDNSKEY:
            for rd in signer.dnskeyRData { put(DNSSECRecords.typeDNSKEY, z.dnskeyTTL, rd) }
            if e.dnssecOK { sigs(DNSSECRecords.typeDNSKEY, z.dnskeyTTL, signer.dnskeyRData) }
        case DNSSECRecords.typeNSEC:
            put(DNSSECRecords.typeNSEC, z.nsecTTL, nsec)
            if e.dnssecOK { sigs(DNSSECRecords.typeNSEC, z.nsecTTL, [nsec]) }
        default:
            guard let answers else { r.tc = true; return }
            var types: [UInt16] = []
            for a in answers where !types.contains(a.type) { types.append(a.type) }
            for t in types {
                let set = answers.filter { $0.type == t }
                sigs(t, set[0].ttl, set.map { $0.rdata })
            }
            if e.qname == z.view.apex { sigs(DNSSECRecords.typeDNSKEY, z.dnskeyTTL, signer.dnskeyRData) }
            sigs(DNSSECRecords.typeNSEC, z.nsecTTL, [nsec])
        }
        if e.dnssecOK && e.synthesised {
            // AUTHORITY: the NSEC covering the QNAME, with its RRSIG.
            let answered = an
            let covering = DNSSECRecords.nsecRData(next: e.proof.nsec.next, types: e.proof.nsec.types)
            put(DNSSECRecords.typeNSEC, z.nsecTTL, covering, owner: e.proof.nsec.owner)
            sigs(DNSSECRecords.typeNSEC, z.nsecTTL, [covering], owner: e.proof.nsec.owner)
            ns = an - answered
            an = answered
        }
        if !ok {
            r.tc = true
            return
        }
        r.rcode = DNSRCode.noError
        r.an = an
        r.ns = ns
    }

    /// The first `count` RRs of the message `m` from offset `from`: type, TTL and canonical
    /// RDATA (RFC 4034 §6.2: names in NS, CNAME, PTR, MX and SOA decompressed, lower case);
    /// nil when they cannot be read.
    private static func readAnswers(_ m: UnsafeRawBufferPointer, from: Int, end: Int,
                                    count: Int) -> [(type: UInt16, ttl: UInt32, rdata: [UInt8])]? {
        var out: [(type: UInt16, ttl: UInt32, rdata: [UInt8])] = []
        var p = from
        func skipName(_ at: inout Int) -> Bool {
            while at < end {
                let l = Int(m[at])
                if l & 0xC0 == 0xC0 { at += 2; return at <= end }
                at += 1 + l
                if l == 0 { return at <= end }
            }
            return false
        }
        func readName(_ start: Int) -> [UInt8]? {
            var at = start, hops = 0, name: [UInt8] = []
            while at < end {
                let l = Int(m[at])
                if l & 0xC0 == 0xC0 {
                    guard hops < 64, at + 1 < end else { return nil }
                    at = (l & 0x3F) << 8 | Int(m[at + 1])
                    hops += 1
                    continue
                }
                name.append(UInt8(l))
                if l == 0 { return name }
                guard at + l < end else { return nil }
                for i in 1...l { name.append(lowerASCII(m[at + i])) }
                at += 1 + l
            }
            return nil
        }
        for _ in 0..<count {
            guard skipName(&p), p + 10 <= end else { return nil }
            let type = UInt16(m[p]) << 8 | UInt16(m[p + 1])
            let ttl = UInt32(m[p + 4]) << 24 | UInt32(m[p + 5]) << 16 | UInt32(m[p + 6]) << 8 | UInt32(m[p + 7])
            let rdStart = p + 10, rdEnd = rdStart + (Int(m[p + 8]) << 8 | Int(m[p + 9]))
            guard rdEnd <= end else { return nil }
            var rdata: [UInt8]
            switch type {
            case DNSType.ns, 5, 12:  // NS, CNAME, PTR
                guard let n = readName(rdStart) else { return nil }
                rdata = n
            case 15:  // MX
                guard let n = readName(rdStart + 2) else { return nil }
                rdata = [m[rdStart], m[rdStart + 1]] + n
            case DNSType.soa:
                var at = rdStart
                guard let mname = readName(at), skipName(&at), let rname = readName(at), skipName(&at), at + 20 == rdEnd
                else { return nil }
                rdata = mname + rname + [UInt8](UnsafeRawBufferPointer(rebasing: m[at..<rdEnd]))
            default:
                rdata = [UInt8](UnsafeRawBufferPointer(rebasing: m[rdStart..<rdEnd]))
            }
            out.append((type, ttl, rdata))
            p = rdEnd
        }
        return out
    }
}
