import DNSSEC
import DNSWire

// The HINFO RRset at every empty non-terminal of a zone signed with `--dnssec-ent-rrset`
// (`ZoneSigner.emptyNonTerminalRecords`): the answer to QTYPE HINFO and ANY there, whatever DO
// says (a DO=1 answer gets its RRSIG from the signed path, `signAnswer`). Every other QTYPE at
// such a name stays NODATA, now proved by the name's own NSEC. Reached only for QTYPE HINFO and
// ANY in a signed zone: A and TXT queries never come here.

extension Responder {
    /// Whether the query (class IN, QTYPE HINFO or ANY, in zone `zoneIndex`) names an empty
    /// non-terminal that owns the HINFO RRset `SignedViewRecords.emptyNonTerminalHINFO`;
    /// the signed zone when it does. Allocation-free for the store's view.
    func emptyNonTerminalRecordZone(zoneIndex: Int32, _ query: UnsafeRawBufferPointer, _ q: ParsedQuery) -> SignedZone? {
        guard q.qtype == SignedViewRecords.typeHINFO || q.qtype == DNSType.any, q.qclass == DNSClass.in,
              zoneIndex >= 0, Int(zoneIndex) < signedZones.count, let z = signedZones[Int(zoneIndex)],
              z.signer.emptyNonTerminalRecords else { return nil }
        var qname = NameBuffer()
        for i in q.qnameOffset..<(q.qnameOffset + q.qnameLength) { qname.append(lowerASCII(query[i])) }
        if let v = z.storeView { return v.ownsEmptyNonTerminalRecord(qname) ? z : nil }
        return z.view.ownsEmptyNonTerminalRecord(qname.array) ? z : nil
    }

    /// Writes the HINFO RRset of an empty non-terminal (owner the question name, TTL the
    /// zone's NSEC TTL, min(SOA TTL, SOA MINIMUM), as the export writes it); false when it does
    /// not fit (nothing written).
    func writeEmptyNonTerminalRecord(_ z: SignedZone, _ w: inout MessageWriter) -> Bool {
        writeHINFO(SignedViewRecords.emptyNonTerminalHINFO, ttl: z.nsecTTL, &w)
    }

    /// Whether the DO=1 proof `s` says its QNAME owns an exclusion marker: a name of the
    /// signed view owning an NSEC whose bitmap holds HINFO (the export's marker that stops a
    /// wildcard above an excluded block, `ZoneExport`'s `ExportType.marker`). Called only for
    /// names that are neither an empty non-terminal's HINFO owner nor a `generic` name.
    static func ownsExclusionMarker(_ s: SigningContext) -> Bool {
        s.proof.exists && s.proof.nsec.types & (1 << UInt64(SignedViewRecords.typeHINFO)) != 0
            && s.proof.nsec.owner == s.qname
    }

    /// Writes an exclusion marker's HINFO RRset (CPU `excluded`, OS `prefixbl`, as the export
    /// writes it; owner the question name, TTL the zone's NSEC TTL, which is the export's
    /// marker TTL, min(SOA TTL, SOA MINIMUM)); false when it does not fit.
    func writeExclusionMarker(_ z: SignedZone, _ w: inout MessageWriter) -> Bool {
        writeHINFO(SignedViewRecords.exclusionMarkerHINFO, ttl: z.nsecTTL, &w)
    }

    private func writeHINFO(_ rdata: [UInt8], ttl: UInt32, _ w: inout MessageWriter) -> Bool {
        let mark = w.mark
        guard w.u16(0xC000 | UInt16(DNSWire.headerSize)),
              let rdl = w.rrFixed(type: SignedViewRecords.typeHINFO, rrClass: DNSClass.in, ttl: ttl) else {
            w.rollback(to: mark)
            return false
        }
        var i = 0
        while i < rdata.count {
            guard w.u8(rdata[i]) else { w.rollback(to: mark); return false }
            i += 1
        }
        w.finishRData(lengthAt: rdl)
        return true
    }
}
