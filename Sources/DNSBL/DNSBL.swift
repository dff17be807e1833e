// API CONTRACT. DNSBLServer programs against these signatures; the answer rules live in the
// other files of this module (ServingIndex, QueryName, AnswerWriter) and are described in
// DNSBL.docc/AnswerRules.md.
import PrefixStore
import DNSWire

/// Transport a query arrived on: decides the size limit (UDP: 512 without EDNS, else the
/// negotiated payload size; TCP: 65535).
public enum Transport: Sendable { case udp, tcp }

/// Answer options fixed for one serving snapshot.
public struct AnswerOptions: Sendable {
    /// Our EDNS UDP payload size in bytes (RFC 6891 §6.2.5); default 1232. Values below 512
    /// are treated as 512.
    public var udpPayloadSize: Int = 1232
    /// Identity for NSID (RFC 5001) and `id.server` / `hostname.bind`; `nil` disables both
    /// (NSID not returned, the CH names REFUSED).
    public var identity: [UInt8]? = nil
    /// Text for CH TXT `version.bind` / `version.server`; `nil` disables it (REFUSED).
    public var version: [UInt8]? = Array("prefixbl".utf8)
    /// Add the zone's NS RRset to AUTHORITY of positive answers (rbldnsd -A) when it fits;
    /// default minimal responses.
    public var nsInAuthority: Bool = false
    /// Transition mappings by zone (lower-cased name, no trailing dot), each zone's prefixes
    /// disjoint; set through ``addTransition(_:zone:)``. Zones absent here answer as before.
    public internal(set) var transitions: [String: [TransitionMapping]] = [:]
    /// IXFR over UDP (RFC 1995 §2). nil (default): NOTIMP, as AXFR. Otherwise clients it
    /// allows get the zone's current SOA alone — "you are current" when their serial matches,
    /// else the sign to ask again over TCP, which is where the difference is sent (as BIND 9
    /// and Knot answer); other clients get REFUSED, names that are no zone apex NOTAUTH.
    public var udpIXFR: (@Sendable (ClientAddress) -> Bool)? = nil
    /// Zones answered signed to DO=1 queries (the DNSSEC article of DNSBLServer); nil (default): none. A DO=0
    /// query gets the same answer either way, except QTYPE DNSKEY, NSEC and RRSIG asked for
    /// explicitly (RFC 4035 §3.1) and a QNAME `*.<…>` naming a wildcard owner (RFC 4592 §2.1.2).
    public var dnssec: DNSSECServing? = nil
    public init() {}
}

/// What happened to one query, for logs and metrics. Plain values; building it allocates nothing.
public struct AnswerOutcome: Sendable {
    /// Response length in bytes written into the caller's buffer; 0 = send nothing.
    public var length: Int = 0
    /// The full RCODE (BADVERS = 16 included).
    public var rcode: UInt8 = 0
    public var qtype: UInt16 = 0
    public var answerCount: UInt16 = 0
    public var truncated: Bool = false
    /// The QNAME named a listed address.
    public var listed: Bool = false
    /// The zone that answered, as an index into ``Responder/zoneNames`` (a zone and its
    /// `combined` subzones share one index); -1 when no zone did (out of zone, class CH,
    /// FORMERR, NOTIMP, BADVERS).
    public var zone: Int32 = -1
    /// Encoded length in bytes (root label included) of the QNAME at offset 12 of the query;
    /// 0 when the query had no readable question. With ``qtype`` what a query log prints,
    /// without reading the query again.
    public var qnameLength: Int = 0
    /// aclkey: what the key of the query was (``KeyState``); with `.known` or `.unknown`,
    /// ``keyOffset`` is the offset in the query of the key label's length byte, and with
    /// `.known` ``keyOrdinal`` numbers the key among ``Responder/keyCount`` (for counters).
    public var keyState: KeyState = .none  // aclkey
    public var keyOffset: Int = 0  // aclkey
    public var keyOrdinal: Int32 = -1  // aclkey
    /// The query had EDNS with the DO bit (RFC 3225); in a signed zone it got a signed answer.
    public var dnssecOK: Bool = false
    public init() {}
}

/// A query read once (``Responder/read(_:)``): the parsed message and what its QNAME's labels
/// spell (zone apex candidates, the address), gathered in the same walk. A plain value the
/// caller keeps on its stack and lends to ``Responder/answer(_:header:read:_:into:)``.
public struct ReadQuery {
    /// Header, question, OPT content and where COOKIE, Padding and TSIG are; meaningful only
    /// when ``error`` is `nil`.
    public internal(set) var parsed: ParsedQuery
    /// Why the message could not be read (it is answered FORMERR); `nil` when it was read.
    public internal(set) var error: WireError?
    var scan: QNameScan

    /// The message was read.
    @inlinable public var ok: Bool { error == nil }
}

extension ReadQuery {
    /// Whether the QNAME of `query` (the message this was read from) is `zone` or a name
    /// below it, case-insensitively; `zone` is an uncompressed lower-case wire name. Uses the
    /// label starts noted in the read; walks nothing.
    public func isAtOrBelow(_ zone: [UInt8], in query: UnsafeRawBufferPointer) -> Bool {
        let n = parsed.qnameLength
        guard zone.count <= n, n > 0 else { return false }
        let off = n - zone.count
        guard scan.startsLabel(at: off) else { return false }
        let base = parsed.qnameOffset + off
        for i in 0..<zone.count where lowerASCII(query[base + i]) != zone[i] { return false }
        return true
    }
}

/// What the caller decided before the answer rules run, for one query.
public struct AnswerRequest {
    /// Decisions that replace the answer rules.
    public enum Verdict: Sendable {
        /// Answer by the rules.
        case answer
        /// REFUSED with the question and the OPT (`--max-age-action refuse`).
        case refuse
        /// FORMERR, header only (a COOKIE option of a bad length, RFC 7873 §5.2.2).
        case formErr
    }
    public var transport: Transport
    public var client: ClientAddress
    /// Size limit of the whole response in bytes, from ``Responder/sizeLimit(transport:edns:ceiling:buffer:)``
    /// minus whatever the caller appends afterwards (a TSIG record).
    public var limit: Int
    public var verdict: Verdict = .answer
    /// The COOKIE option our OPT carries (RFC 7873 §4), written in place; `nil` = none.
    public var cookie: CookieOption? = nil

    public init(transport: Transport, client: ClientAddress, limit: Int) {
        self.transport = transport; self.client = client; self.limit = limit
    }
}

/// The address a query came from, as ACLs (rbldnsd `acl`, <doc:ZoneDataAnswers#ACLs>) match
/// it. A plain value: building one allocates nothing.
public struct ClientAddress: Sendable, Hashable {
    /// `nil` when unknown: then no ACL entry matches.
    public var family: AddressFamily?
    /// IPv4 as a host-order integer in the low 32 bits (192.0.2.1 = 0xC000_0201); IPv6 as the
    /// address read as a big-endian 128-bit integer.
    public var address: UInt128

    /// No known client (unit tests, callers without a peer address).
    public static let unknown = ClientAddress(family: nil, address: 0)

    public init(family: AddressFamily?, address: UInt128) {
        self.family = family; self.address = address
    }

    /// An IPv4 client.
    public init(ipv4: UInt32) { self.init(family: .ipv4, address: UInt128(ipv4)) }

    /// An IPv6 client. An IPv4-mapped address (::ffff:0:0/96, what a dual-stack socket reports
    /// for an IPv4 peer, RFC 4291 §2.5.5.2) is taken as the IPv4 client it stands for.
    public init(ipv6: UInt128) {
        if ipv6 >> 32 == 0xFFFF {
            self.init(family: .ipv4, address: ipv6 & 0xFFFF_FFFF)
        } else {
            self.init(family: .ipv6, address: ipv6)
        }
    }
}

/// Answers DNS queries from an immutable set of stores (one serving snapshot).
/// Thread-safe: many transport threads call ``respond(to:transport:into:)`` at once; the
/// responder holds no mutable state of its own (caches: the signatures behind a mutex, the
/// DO=1 proofs per thread, `ProofCache`).
public final class Responder: Sendable {
    public let options: AnswerOptions
    public let stores: [Store]
    let index: ServingIndex
    /// `options.udpPayloadSize` clamped to 512…65535 bytes.
    let ourPayloadSize: Int
    /// Per zone index (``zoneNames``): the signed zone, nil for zones not signed.
    let signedZones: [SignedZone?]
    /// Some zone is signed: DO=1 queries look for their signing context.
    let anySigned: Bool

    /// Builds the serving index: zones by apex (a zone in several stores unites its datasets),
    /// each zone's datasets split by family, expired datasets left out.
    /// - Parameters:
    ///   - stores: the stores to answer from; a zone present in several stores unites its
    ///     datasets; the first store naming a zone gives its SOA and NS.
    ///   - options: payload size, identity, version, NS in AUTHORITY, transition mappings and
    ///     the other answer settings (``AnswerOptions``).
    ///   - now: Unix seconds used for `$TIMESTAMP` expiry checks: a dataset whose `expires`
    ///     is before `now` is not served. The server rebuilds the responder to re-check.
    public init(stores: [Store], options: AnswerOptions = AnswerOptions(), now: UInt64 = 0) {
        self.stores = stores
        self.options = options
        self.index = ServingIndex(stores: stores, now: now, transitions: options.transitions)
        self.ourPayloadSize = min(max(options.udpPayloadSize, DNSWire.classicUDPLimit), DNSWire.maxTCPMessage)
        var signed: [SignedZone?] = []
        let index = self.index
        for (i, name) in index.zoneNames.enumerated() {
            guard let d = options.dnssec, let signer = d.signers.first(where: { $0.apex == name }),
                  let base = index.zones.first(where: { $0.zoneIndex == Int32(i) && $0.subLabels == 0 })
            else { signed.append(nil); continue }
            let parts = stores.filter { $0.zones.contains { $0.name.map(lowerASCII) == name } }
            signed.append(SignedZone(signer: signer, view: d.makeView(parts, signer), nsecTTL: base.negativeTTL,
                                     dnskeyTTL: base.soa.ttl))
        }
        self.signedZones = signed
        self.anySigned = signed.contains { $0 != nil }
    }

    /// The signers of the signed zones (``AnswerOptions/dnssec``) this responder serves.
    public var signers: [ZoneSigner] { signedZones.compactMap { $0?.signer } }

    /// The zones this responder serves, uncompressed lower-case wire names, in the order of
    /// their first appearance in `stores`; ``AnswerOutcome/zone`` indexes this array.
    public var zoneNames: [[UInt8]] { index.zoneNames }

    /// How many keys (and key defaults) the `aclkey` datasets of this responder hold:
    /// ``AnswerOutcome/keyOrdinal`` is below it.
    public var keyCount: Int { index.keyCount }  // aclkey

    /// Writes the response to `query` into `response` (which must hold 65535 bytes for TCP,
    /// at least `options.udpPayloadSize` for UDP; a smaller buffer lowers the limit, and one
    /// too small for the question gets no reply). Never throws, never allocates in steady state.
    /// - Returns: the outcome; `outcome.length == 0` means send nothing (QR=1 input, unreadable
    ///   header).
    public func respond(to query: UnsafeRawBufferPointer, transport: Transport,
                        into response: UnsafeMutableRawBufferPointer) -> AnswerOutcome {
        respond(to: query, transport: transport, client: .unknown, into: response)
    }

    /// ``respond(to:transport:into:)`` for a query from `client`: the global ACL and the
    /// zone's ACL (rbldnsd `acl`, <doc:ZoneDataAnswers#ACLs>) decide by the client address —
    /// `ignore` sends nothing (`outcome.length == 0`), `refuse` answers REFUSED, `empty` answers as if no IP
    /// dataset listed anything, a policy value answers every full address name of the zone
    /// with that A/TXT (`$` = the client's address), `pass` answers normally. Of the two ACLs
    /// the more severe decision wins (ignore > refuse > empty > policy answer > pass); of two
    /// policy answers the global one. Never throws, never allocates in steady state.
    public func respond(to query: UnsafeRawBufferPointer, transport: Transport, client: ClientAddress,
                        into response: UnsafeMutableRawBufferPointer) -> AnswerOutcome {
        respond(to: query, transport: transport, client: client, udpPayloadLimit: ourPayloadSize, into: response)
    }

    /// ``respond(to:transport:client:into:)`` with a per-query UDP size ceiling: a UDP answer
    /// may grow up to min(the client's EDNS payload size, `udpPayloadLimit`) bytes instead of
    /// min(client's, `options.udpPayloadSize`) — how a caller lets a client that proved its
    /// address with a DNS server cookie receive larger UDP answers (RFC 7873 §5.2, §1).
    /// Queries without EDNS stay at 512 bytes (RFC 1035 §4.2.1); TCP is not affected; the
    /// payload size our OPT advertises stays `options.udpPayloadSize`. `udpPayloadLimit` is
    /// clamped to 512…65535 bytes, and the size of `response` still caps the answer.
    /// Never throws, never allocates in steady state.
    public func respond(to query: UnsafeRawBufferPointer, transport: Transport, client: ClientAddress,
                        udpPayloadLimit: Int, into response: UnsafeMutableRawBufferPointer) -> AnswerOutcome {
        guard let h = DNSHeader(reading: query), !h.isResponse else { return AnswerOutcome() }
        let read = Self.read(query)
        var request = AnswerRequest(transport: transport, client: client, limit: DNSWire.classicUDPLimit)
        if read.ok {
            request.limit = Self.sizeLimit(transport: transport, edns: read.parsed.edns, ceiling: udpPayloadLimit,
                                           buffer: response.count)
        }
        return answer(query, header: h, read: read, request, into: response)
    }

    /// Reads `query` once: header, question (QDCOUNT 0 or 1), the OPT and where its options
    /// and a TSIG record are, handing each QNAME label to the scan the answer rules use
    /// (`DNSWire/readMessage(_:labels:)`). Allocates nothing.
    /// - Returns: the read; ``ReadQuery/error`` set for a message to answer FORMERR.
    public static func read(_ query: UnsafeRawBufferPointer) -> ReadQuery {
        // One walk over QNAME: the reader hands each label to the scan, which keeps where labels
        // start (zone match) and what the leading labels spell (the address).
        var r = ReadQuery(parsed: ParsedQuery(header: DNSHeader(id: 0, flags: 0, qdCount: 0, anCount: 0, nsCount: 0, arCount: 0),
                                              qnameOffset: DNSWire.headerSize, qnameLength: 0, labelCount: 0,
                                              qtype: 0, qclass: 0, questionEnd: DNSWire.headerSize, edns: nil),
                          error: nil, scan: QNameScan())
        // A Result, not a catch: a caught error would be boxed, one allocation per bad query.
        switch DNSWire.readMessage(query, labels: &r.scan) {
        case .success(let parsed):
            r.parsed = parsed
            if parsed.qnameLength > 0 { r.scan.finish(qnameLength: parsed.qnameLength) }
        case .failure(let e):
            r.error = e
        }
        return r
    }

    /// The size limit of a response in bytes, the one rule every answer follows (RFC 6891
    /// §6.2.3–6.2.5; RFC 1035 §4.2.1; RFC 7766 §8): over TCP 65535; over UDP with EDNS the
    /// client's payload size (at least 512) capped at `ceiling` (clamped to 512…65535: our
    /// payload size, or a larger one for a client holding a valid server cookie); over UDP
    /// without EDNS 512. Never more than `buffer` bytes.
    @inlinable
    public static func sizeLimit(transport: Transport, edns: EDNSInfo?, ceiling: Int, buffer: Int) -> Int {
        let limit: Int
        if transport == .tcp {
            limit = DNSWire.maxTCPMessage
        } else if let e = edns {
            let c = min(max(ceiling, DNSWire.classicUDPLimit), DNSWire.maxTCPMessage)
            limit = min(max(Int(e.udpPayloadSize), DNSWire.classicUDPLimit), c)
        } else {
            limit = DNSWire.classicUDPLimit
        }
        return min(limit, buffer)
    }

    /// Writes the response to a query read by ``read(_:)`` into `response`, in order: header,
    /// question, the records the answer rules choose, the OPT (with NSID and `request.cookie`)
    /// — all within `request.limit` bytes. The global ACL's `ignore` sends nothing; OPCODE
    /// other than QUERY gets NOTIMP and an unreadable message (or `request.verdict ==
    /// .formErr`) FORMERR, header only; QDCOUNT 0 with a cookie gets the RFC 7873 §5.4 reply
    /// (header and OPT), without one FORMERR. `header` is the query's header, read by the
    /// caller (which drops responses, QR=1). Never throws, never allocates in steady state.
    /// - Returns: the outcome; `length == 0` = send nothing.
    public func answer(_ query: UnsafeRawBufferPointer, header h: DNSHeader, read: ReadQuery,
                       _ request: AnswerRequest, into response: UnsafeMutableRawBufferPointer) -> AnswerOutcome {
        var out = AnswerOutcome()
        let client = request.client
        let transport = request.transport
        var acl = ACLDecision()
        if client.family != nil && !index.globalACL.isEmpty {
            index.globalACL.decide(client, into: &acl)
            if acl.kind == .ignore { return out }
        }
        let echoed = h.flags & (DNSFlags.opcodeMask | DNSFlags.rd | DNSFlags.cd)
        var w = MessageWriter(buffer: response,
                              limit: transport == .tcp ? DNSWire.maxTCPMessage : DNSWire.classicUDPLimit)
        if read.ok {
            out.qtype = read.parsed.qtype
            out.qnameLength = read.parsed.qnameLength
        }
        guard h.opcode == 0 else {
            guard w.header(id: h.id, flags: DNSFlags.qr | echoed | DNSRCode.notImp) else { return out }
            out.rcode = UInt8(DNSRCode.notImp)
            out.length = w.count
            return out
        }
        guard read.ok, request.verdict != .formErr,
              read.parsed.header.qdCount == 1 || (request.cookie != nil && read.parsed.edns != nil)
                || (read.parsed.edns?.version ?? 0) > 0 else {
            guard w.header(id: h.id, flags: DNSFlags.qr | echoed | DNSRCode.formErr) else { return out }
            out.rcode = UInt8(DNSRCode.formErr)
            out.length = w.count
            return out
        }
        let limit = min(request.limit, response.count)
        w.limit = limit
        if read.parsed.header.qdCount == 0, let e = read.parsed.edns {
            // RFC 6891 §6.1.3: an EDNS version we do not speak is BADVERS first, question or
            // not; otherwise RFC 7873 §5.4: a cookie-only query learns our server cookie.
            let rcode = e.version > 0 ? DNSRCode.badVers : 0
            guard w.header(id: h.id, flags: DNSFlags.qr | echoed | (rcode & 0xF), ar: 1),
                  w.opt(udpPayloadSize: UInt16(ourPayloadSize), extendedRCode: UInt8(rcode >> 4), dnssecOK: e.dnssecOK,
                        nsid: nil, cookie: e.version > 0 ? nil : request.cookie)
            else { return AnswerOutcome() }
            out.rcode = UInt8(truncatingIfNeeded: rcode)
            out.length = w.count
            return out
        }

        guard w.header(id: h.id, flags: DNSFlags.qr | echoed, qd: 1),
              w.bytes(UnsafeRawBufferPointer(rebasing: query[read.parsed.qnameOffset..<read.parsed.questionEnd]))
        else { return AnswerOutcome() }
        let afterQuestion = w.mark

        // Reserve room for the OPT so a truncated answer still carries it.
        var withNSID = false
        var optSize = 0
        let cookie = request.cookie
        if let e = read.parsed.edns {
            optSize = DNSWire.optSize(nsidLength: nil, cookie: cookie != nil)
            if e.nsidRequested, let id = options.identity,
               w.count + DNSWire.optSize(nsidLength: id.count, cookie: cookie != nil) <= limit {
                optSize = DNSWire.optSize(nsidLength: id.count, cookie: cookie != nil)
                withNSID = true
            }
            w.limit = max(w.count, limit - optSize)
        }

        var r = Reply()
        if let e = read.parsed.edns, e.version > 0 {
            r.rcode = DNSRCode.badVers  // RFC 6891 §6.1.3
        } else if acl.kind == .refuse || request.verdict == .refuse {
            r.rcode = DNSRCode.refused
        } else if read.parsed.qtype == DNSType.ixfr && transport == .udp, let allows = options.udpIXFR {
            answerUDPIXFR(query, read.parsed, read.scan, allowed: allows(client), &w, &r)
        } else if read.parsed.qtype == DNSType.axfr || read.parsed.qtype == DNSType.ixfr {
            r.rcode = DNSRCode.notImp
        } else if read.parsed.qclass == DNSClass.in || read.parsed.qclass == DNSClass.any {
            // Decided once: only a class IN query with DO=1, or one naming a DNSSEC QTYPE or a
            // `*` QNAME, in a responder with a signed zone takes the signed path; every other
            // query (DO=0 in a signed zone included) pays this test and nothing more.
            if anySigned && read.parsed.qclass == DNSClass.in
                && (read.parsed.edns?.dnssecOK == true || Self.mayNeedExplicit(query, read.parsed, dnssecOK: false)) {
                r.dnssecOK = read.parsed.edns?.dnssecOK == true
                answerSignedIN(query, read.parsed, read.scan, client, acl, afterQuestion: afterQuestion, &w, &r)
            } else {
                answerIN(query, read.parsed, read.scan, client, acl, &w, &r, nil)
            }
            if r.drop {
                // Nothing is sent; the query log and the key counters still see the key (aclkey).
                var dropped = AnswerOutcome()
                dropped.qtype = out.qtype; dropped.qnameLength = out.qnameLength; dropped.zone = r.zone
                dropped.keyState = r.keyState; dropped.keyOffset = r.keyAt; dropped.keyOrdinal = r.keyOrdinal
                return dropped
            }
            if read.parsed.qclass == DNSClass.any { r.aa = false }  // as rbldnsd: not authoritative for ANY class
        } else if read.parsed.qclass == DNSClass.ch {
            answerCH(query, read.parsed, &w, &r)
        } else {
            r.rcode = DNSRCode.refused
        }

        if r.tc {
            // RFC 2181 §9: no partial RRset; the client retries over TCP.
            w.rollback(to: afterQuestion)
            r.an = 0; r.ns = 0
        }
        w.limit = limit
        var flags = DNSFlags.qr | echoed | (r.rcode & 0xF)
        if r.aa { flags |= DNSFlags.aa }
        if r.tc { flags |= DNSFlags.tc }
        w.set16(flags, at: 2)
        w.set16(r.an, at: 6)
        w.set16(r.ns, at: 8)
        if let e = read.parsed.edns {
            let size = UInt16(ourPayloadSize), ext = UInt8(r.rcode >> 4)
            if withNSID, let id = options.identity {
                _ = id.withUnsafeBytes {
                    w.opt(udpPayloadSize: size, extendedRCode: ext, dnssecOK: e.dnssecOK, nsid: $0, cookie: cookie)
                }
            } else {
                _ = w.opt(udpPayloadSize: size, extendedRCode: ext, dnssecOK: e.dnssecOK, nsid: nil, cookie: cookie)
            }
            w.set16(1, at: 10)
        }
        out.length = w.count
        out.rcode = UInt8(truncatingIfNeeded: r.rcode)
        out.dnssecOK = read.parsed.edns?.dnssecOK ?? false
        out.answerCount = r.an
        out.truncated = r.tc
        out.listed = r.listed
        out.zone = r.zone
        out.keyState = r.keyState; out.keyOffset = r.keyAt; out.keyOrdinal = r.keyOrdinal  // aclkey
        return out
    }
}

/// The header fields an answer decides.
struct Reply {
    var rcode: UInt16 = DNSRCode.noError
    var aa = false
    var tc = false
    var an: UInt16 = 0
    var ns: UInt16 = 0
    var listed = false
    /// An ACL said `ignore`: send nothing.
    var drop = false
    /// ``ServingZone/zoneIndex`` of the zone that answered; -1 = none.
    var zone: Int32 = -1
    /// aclkey: the key (``AnswerOutcome/keyState``, ``AnswerOutcome/keyOffset``, ``AnswerOutcome/keyOrdinal``).
    var keyState: KeyState = .none
    var keyAt = 0
    var keyOrdinal: Int32 = -1
    /// The policy answer came from a key: every name below the apex takes it.
    var keyForced = false
    /// The query has DO=1 (class IN) and some zone is signed: the answer rules look up the
    /// signing context once the zone is known (kept out of the Reply: it is kilobytes of fixed
    /// buffers a DO=0 answer must not copy).
    var dnssecOK = false
}

/// What the answer rules learn of the signed zone for one query on the signed path
/// (``Responder/answerSignedIN(_:_:_:_:_:afterQuestion:_:_:)``): the DO=1 signing context
/// and the context of an explicit DNSSEC QTYPE or `*` QNAME (SignedExplicit.swift), each nil
/// until the zone is known and signed (the signing context's QNAME and proof live in the
/// thread's storage, ``SigningContext``). Only the signed path holds one, lending it to
/// ``Responder/answerIN(_:_:_:_:_:_:_:_:)`` by pointer, so a DO=0 answer neither builds nor
/// copies it.
struct SignedQueryState {
    var signing: SigningContext? = nil
    var explicit: ExplicitContext? = nil
    /// The answer rules served a finished answer before running (``Responder/servesFinishedDirectly``):
    /// the answer is complete.
    var servedFinished = false
}

extension Responder {
    /// The signed path of class IN (a responder with a signed zone; the query has DO=1, or
    /// names a DNSSEC QTYPE or a `*` QNAME): the answer rules of ``answerIN(_:_:_:_:_:_:_:_:)``
    /// with the signed zone's state, then the answer rewritten as the signed zone's
    /// (``signAnswer(_:_:afterQuestion:_:_:)``, RFC 4035 §3.1) or as the explicit DNSSEC
    /// QTYPE's (``writeExplicit(_:_:afterQuestion:_:_:)``). Kept out of line, so the state
    /// stays off the stack frame of the DO=0 path.
    @inline(never)
    func answerSignedIN(_ query: UnsafeRawBufferPointer, _ q: ParsedQuery, _ scan: QNameScan, _ client: ClientAddress,
                        _ globalACL: ACLDecision, afterQuestion: MessageWriter.Mark,
                        _ w: inout MessageWriter, _ r: inout Reply) {
        var state = SignedQueryState()
        answerIN(query, q, scan, client, globalACL, &w, &r, &state)
        guard !r.drop, !r.tc, !state.servedFinished else { return }
        if state.explicit != nil, let e = state.explicit, e.answers(q.qtype) {
            writeExplicit(e, q, afterQuestion: afterQuestion, &w, &r)
        } else if state.signing != nil {
            signAnswer(&state.signing!, q, afterQuestion: afterQuestion, &w, &r)
        }
    }

    /// Class IN (and ANY): the answer rules of <doc:AnswerRules>, the zone's ACL
    /// (<doc:ZoneDataAnswers#ACLs>) and its
    /// `generic` names. `signed` is the signed path's state (nil on every other path: then
    /// nothing here looks at DNSSEC).
    func answerIN(_ query: UnsafeRawBufferPointer, _ q: ParsedQuery, _ scan: QNameScan, _ client: ClientAddress,
                  _ globalACL: ACLDecision, _ w: inout MessageWriter, _ r: inout Reply,
                  _ signed: UnsafeMutablePointer<SignedQueryState>?) {
        var qtype = q.qtype
        guard let m = index.match(query, qnameOffset: q.qnameOffset, qnameLength: q.qnameLength, scan: scan) else {
            r.rcode = DNSRCode.refused
            return
        }
        var zone = m.zone
        r.zone = zone.zoneIndex
        var explicitQuery = false
        if let d = signed {
            if r.dnssecOK { d.pointee.signing = signingContext(zoneIndex: zone.zoneIndex, query, q) }
            if Self.mayNeedExplicit(query, q, dnssecOK: r.dnssecOK) {
                explicitQuery = true
                d.pointee.explicit = explicitContext(zoneIndex: zone.zoneIndex, query, q, dnssecOK: r.dnssecOK)
                qtype = d.pointee.explicit?.ruleQType(qtype) ?? qtype
            }
        }
        var apexAt = m.apexOffset
        var labels = m.labels
        var acl = globalACL
        if client.family != nil && !zone.acl.isEmpty { zone.acl.decide(client, into: &acl) }
        switch acl.kind {
        case .ignore: r.drop = true; return
        case .refuse: r.rcode = DNSRCode.refused; return
        default: break
        }
        // SOA, NS and negative answers belong to the base zone (a subzone's apex lies below it).
        var baseAt = apexAt
        for _ in 0..<zone.subLabels { baseAt += 1 + Int(query[baseAt]) }
        if !zone.keys.isEmpty {  // aclkey: the key below the base apex decides, then is removed
            applyKey(query, q, scan, baseAt: baseAt, &zone, &apexAt, &labels, &acl, &r)
            switch acl.kind {
            case .ignore: r.drop = true; return
            case .refuse: r.rcode = DNSRCode.refused; return
            default: break
            }
        }
        r.aa = true
        if labels == 0 && zone.subLabels == 0 && r.keyState == .known {
            // aclkey: `<key>.<zone>` alone is an empty non-terminal above the keyed names.
            negative(zone, baseAt, nx: false, &w, &r)
            return
        }
        // Signed (DO=1): a finished answer, when this query's DO=0 answer would depend on the
        // proof and the QTYPE alone, is served without the rules (ProofCache "Finished answers").
        if let d = signed, d.pointee.signing != nil,
           Self.servesFinishedDirectly(zone, q.qtype, labels: labels, acl: acl, dnssecOK: r.dnssecOK, explicitQuery: explicitQuery) {
            d.pointee.signing!.direct = true
            let s = d.pointee.signing!
            if s.proofKey.stamp != 0, s.zone.finishedAnswers,
               ProofCache.serveFinishedDirect(s.proofKey, qtype: q.qtype, signer: s.zone.signer,
                                              apexAt: DNSWire.headerSize + q.qnameLength - s.zone.apexCount, &w, &r) {
                d.pointee.servedFinished = true
                return
            }
        }
        // An empty non-terminal's HINFO (--dnssec-ent-rrset, SignedENT.swift): QTYPE HINFO/ANY only.
        if anySigned && (q.qtype == SignedViewRecords.typeHINFO || q.qtype == DNSType.any),
           let z = emptyNonTerminalRecordZone(zoneIndex: zone.zoneIndex, query, q) {
            guard writeEmptyNonTerminalRecord(z, &w) else { r.tc = true; return }
            r.an = 1
            return
        }
        // Signed (DO=1): a QNAME that is not a name of the signed view is answered as the view
        // says, never from the store by its own spelling (`02`, a label below a full address):
        // NXDOMAIN, or the RRset of the wildcard that covers it (DNSSEC article of DNSBLServer).
        var wildcardAddresses: WildcardCandidates? = nil
        if let d = signed, labels > 0, zone.subLabels == 0 {
            if r.dnssecOK, d.pointee.signing != nil, !d.pointee.signing!.proof.exists {
                guard d.pointee.signing!.proof.wildcardExists else { negative(zone, baseAt, nx: true, &w, &r); return }
                wildcardAddresses = Self.wildcardAddresses(d.pointee.signing!)
            } else if d.pointee.explicit != nil, let e = d.pointee.explicit {
                // A literal wildcard owner (any DO), a name a wildcard synthesises (DO=0).
                // (Tested for nil first: binding copies the Optional, even a nil one, through
                // generic value witnesses.)
                wildcardAddresses = explicitWildcardAddresses(e, d.pointee.signing, zoneIndex: zone.zoneIndex, query, q)
            }
        }
        if (labels > 0 && zone.hasGenericName(query, start: q.qnameOffset, end: apexAt)) || (labels == 0 && zone.subLabels > 0) {
            // A name generic data defines (or a subzone's apex): its records; other types NODATA.
            guard let n = writeGeneric(zone, qtype, query, start: q.qnameOffset, end: apexAt, &w) else { r.tc = true; return }
            if n == 0 { negative(zone, baseAt, nx: false, &w, &r) } else { r.an = n }
            return
        }
        if labels == 0 {
            // Apex: SOA and NS exist, generic data adds its types, everything else is NODATA;
            // never NXDOMAIN.
            switch qtype {
            case DNSType.soa:
                guard writeSOA(zone, ttl: zone.soa.ttl, apexAt, &w) else { r.tc = true; return }
                r.an = 1
            case DNSType.ns:
                guard let n = writeNS(zone, apexAt, &w) else { r.tc = true; return }
                r.an = n
            case DNSType.any:
                guard writeSOA(zone, ttl: zone.soa.ttl, apexAt, &w), let n = writeNS(zone, apexAt, &w),
                      let g = writeGeneric(zone, qtype, query, start: apexAt, end: apexAt, &w)
                else { r.tc = true; return }
                r.an = 1 + n + g
            default:
                guard let g = writeGeneric(zone, qtype, query, start: apexAt, end: apexAt, &w) else { r.tc = true; return }
                if g == 0 { negative(zone, apexAt, nx: false, &w, &r) } else { r.an = g }
            }
            return
        }

        // Signed (DO=1), QTYPE HINFO/ANY at an exclusion marker: the signed zone holds the
        // marker's HINFO there, so that RRset is the answer (NODATA would contradict the NSEC).
        if let d = signed, r.dnssecOK, qtype == SignedViewRecords.typeHINFO || qtype == DNSType.any,
           let s = d.pointee.signing, Self.ownsExclusionMarker(s) {
            guard writeExclusionMarker(s.zone, &w) else { r.tc = true; return }
            r.an = 1
            return
        }
        var qa = QueryAddress(scan, labels: labels)
        let capacity = max(index.maxDatasets, 1)
        let hide = acl.kind == .empty || acl.kind == .answer
        withUnsafeTemporaryAllocation(of: Hit.self, capacity: capacity) { hits in
            var render = RenderAddresses()
            if acl.kind == .answer && (r.keyForced || (qa.v4 && qa.labels == 4) || (qa.v6 && qa.labels == 32)) {  // aclkey: keyForced
                // Policy answer: every full address name is "listed" with the ACL's value, `$`
                // rendering the client's address.
                hits[0] = Hit(a: acl.a, txt: acl.txt, ttl: acl.ttl, fromV4: client.family == .ipv4)
                render.v4 = UInt32(truncatingIfNeeded: client.address)
                render.v6 = client.address
                positive(zone, qtype, UnsafeMutableBufferPointer(rebasing: hits[0..<1]), render, baseAt, &w, &r)
                return
            }
            var n = 0
            var namesBelow = false  // dnset: a name below the QNAME is listed (RFC 8020)
            if let candidates = wildcardAddresses, !hide {
                // The wildcard's RRset: the store answer of an address it stands for.
                var i = 0
                while n == 0 && i < candidates.count {
                    let c = candidates[i]
                    render = RenderAddresses()
                    n = zone.lookup(c, hits, &render)
                    qa = c
                    i += 1
                }
                if n == 0 { r.rcode = DNSRCode.servFail; return }
            } else {
                n = hide ? 0 : zone.lookup(qa, hits, &render)
                if !hide && !zone.names.isEmpty { zone.lookupNames(query, start: q.qnameOffset, end: apexAt, hits, &n, listedBelow: &namesBelow) }  // dnset
            }
            if n > 0, let d = signed {
                if d.pointee.explicit != nil, let e = d.pointee.explicit {
                    render.block(labels: e.dollarLabels(labels: labels), v4Tree: qa.v4 && qa.labels == 4)
                } else if r.dnssecOK, let s = d.pointee.signing {
                    // A signed answer is shared by every name below its wildcard: `$` renders the
                    // block the answer stands for, as the export writes it.
                    render.block(labels: Self.dollarLabels(s, labels: labels), v4Tree: qa.v4 && qa.labels == 4)
                }
            }
            if n > 0 {
                r.listed = true
                let listed = UnsafeMutableBufferPointer(rebasing: hits[0..<n])
                positive(zone, qtype, listed, render, baseAt, &w, &r)
                return
            }
            if (!hide && zone.hasDataBelow(qa)) || zone.isNSNameOrAncestor(query, start: q.qnameOffset, end: apexAt)
                || namesBelow {  // dnset
                negative(zone, baseAt, nx: false, &w, &r)
            } else {
                negative(zone, baseAt, nx: true, &w, &r)
            }
        }
    }

    /// Whether a DO=1 query's DO=0 answer (what the rules below write) is a function of the
    /// QNAME's proof in the signed view and the QTYPE alone, so a finished answer made from an
    /// equal one may be served before the rules run (``ProofCache/serveFinishedDirect(_:qtype:signer:apexAt:_:_:)``):
    /// DO=1; no ACL decision but pass for this client (so no policy answer, no hidden data)
    /// and no `aclkey` keys; a name below the apex of a base zone without `generic`
    /// records, dnset names or transition mappings; not QTYPE HINFO or ANY (the exclusion
    /// markers' and empty non-terminals' records), nor a query for the explicit DNSSEC
    /// answers (QTYPE DNSKEY, NSEC, RRSIG or a `*` first label). What is left reads the
    /// zone's address data only: the QNAME's own address (fixed for an exact proof-cache
    /// entry), or for a name that is not one of the view the NXDOMAIN or the wildcard's
    /// RRset of its gap.
    @inline(__always)
    static func servesFinishedDirectly(_ zone: ServingZone, _ qtype: UInt16, labels: Int, acl: ACLDecision,
                                       dnssecOK: Bool, explicitQuery: Bool) -> Bool {
        dnssecOK && !explicitQuery && acl.kind == .none && labels > 0 && zone.subLabels == 0 && zone.keys.isEmpty
            && qtype != SignedViewRecords.typeHINFO && qtype != DNSType.any
            && zone.records.isEmpty && zone.names.isEmpty && zone.transitions.isEmpty
    }

    /// IXFR over UDP: the SOA alone (RFC 1995 §2), see ``AnswerOptions/udpIXFR``.
    func answerUDPIXFR(_ query: UnsafeRawBufferPointer, _ q: ParsedQuery, _ scan: QNameScan, allowed: Bool,
                       _ w: inout MessageWriter, _ r: inout Reply) {
        guard allowed else { r.rcode = DNSRCode.refused; return }
        guard let m = index.match(query, qnameOffset: q.qnameOffset, qnameLength: q.qnameLength, scan: scan),
              m.labels == 0, m.zone.subLabels == 0
        else { r.rcode = 9; return }  // NOTAUTH (RFC 5936 §2.2.1, as for AXFR)
        r.aa = true
        guard writeSOA(m.zone, ttl: m.zone.soa.ttl, m.apexOffset, &w) else { r.tc = true; return }
        r.an = 1
    }

    /// The generic records of the name `query[start..<end]` + the zone's apex of type `qtype`
    /// (all of them for ANY), owner a pointer to the question name. Returns how many were
    /// written, `nil` when they do not fit (nothing written).
    func writeGeneric(_ zone: ServingZone, _ qtype: UInt16, _ query: UnsafeRawBufferPointer,
                      start: Int, end: Int, _ w: inout MessageWriter) -> UInt16? {
        let mark = w.mark
        var n: UInt16 = 0
        for i in zone.records.indices {
            let rec = zone.records[i]
            guard qtype == DNSType.any || rec.type == qtype, zone.owns(rec, query, start: start, end: end) else { continue }
            let ok = rec.rdata.withUnsafeBytes { rd -> Bool in
                guard w.u16(0xC000 | UInt16(DNSWire.headerSize)),
                      let rdl = w.rrFixed(type: rec.type, rrClass: DNSClass.in, ttl: rec.ttl),
                      w.bytes(rd)
                else { return false }
                w.finishRData(lengthAt: rdl)
                return true
            }
            guard ok else { w.rollback(to: mark); return nil }
            n += 1
        }
        return n
    }

    /// A listed name: A and/or TXT per QTYPE; other types NODATA (<doc:AnswerRules#Answers>).
    func positive(_ zone: ServingZone, _ qtype: UInt16, _ hits: UnsafeMutableBufferPointer<Hit>,
                  _ render: RenderAddresses, _ apexAt: Int, _ w: inout MessageWriter, _ r: inout Reply) {
        var count: UInt16 = 0
        switch qtype {
        case DNSType.a:
            guard let n = writeA(hits, &w) else { r.tc = true; return }
            count = n
        case DNSType.txt:
            guard let n = writeTXT(hits, render, &w) else { r.tc = true; return }
            count = n
        case DNSType.any:
            // RFC 8482 allows less; a DNSBL's ANY is cheap, so we give both RRsets.
            guard let a = writeA(hits, &w), let t = writeTXT(hits, render, &w) else { r.tc = true; return }
            count = a + t
        default:
            break
        }
        if count == 0 {
            negative(zone, apexAt, nx: false, &w, &r)
            return
        }
        r.an = count
        if options.nsInAuthority {
            let m = w.mark
            if let n = writeNS(zone, apexAt, &w) { r.ns = n } else { w.rollback(to: m) }
        }
    }

    /// NXDOMAIN or NODATA with the SOA in AUTHORITY, TTL min(SOA TTL, MINIMUM) (RFC 2308 §3, §5).
    func negative(_ zone: ServingZone, _ apexAt: Int, nx: Bool, _ w: inout MessageWriter,
                  _ r: inout Reply) {
        if nx { r.rcode = DNSRCode.nxDomain }
        guard writeSOA(zone, ttl: zone.negativeTTL, apexAt, &w) else { r.tc = true; return }
        r.ns = 1
    }

    /// One A per listing dataset (per value of an ip4set value run), identical addresses once;
    /// TTL the smallest of the datasets' (RFC 2181 §5, §5.2). `nil` when the RRset does not fit (nothing written).
    func writeA(_ hits: UnsafeMutableBufferPointer<Hit>, _ w: inout MessageWriter) -> UInt16? {
        var ttl = UInt32.max
        for h in hits { ttl = min(ttl, h.ttl) }
        let start = w.mark
        var n: UInt16 = 0
        for i in hits.indices {
            // Every value of the hit (an ip4set value run has several).
            for k in 0..<hits[i].count {
                let a = hits[i].a(k)
                var seen = false
                for j in 0...i {
                    for l in 0..<(j == i ? k : hits[j].count) where hits[j].a(l) == a { seen = true; break }
                    if seen { break }
                }
                if seen { continue }
                guard w.u16(0xC000 | UInt16(DNSWire.headerSize)),
                      w.rrFixed(type: DNSType.a, rrClass: DNSClass.in, ttl: ttl) != nil,
                      w.u32(a)
                else { w.rollback(to: start); return nil }
                w.set16(4, at: w.count - 6)
                n += 1
            }
        }
        return n
    }

    /// One TXT per listing dataset (per value of a value run) that has one, `$` expanded, identical RRs once; TTL the
    /// smallest of those datasets'. `nil` when the RRset does not fit (nothing written).
    func writeTXT(_ hits: UnsafeMutableBufferPointer<Hit>, _ render: RenderAddresses,
                  _ w: inout MessageWriter) -> UInt16? {
        var ttl = UInt32.max
        for h in hits {
            for k in 0..<h.count where h.txt(k) != nil { ttl = min(ttl, h.ttl); break }
        }
        let start = w.mark
        var n: UInt16 = 0
        for h in hits {
            // Every value of the hit (an ip4set value run has several).
            for k in 0..<h.count {
                guard let t = h.txt(k) else { continue }
                let rr = w.mark
                guard w.u16(0xC000 | UInt16(DNSWire.headerSize)),
                      let rdl = w.rrFixed(type: DNSType.txt, rrClass: DNSClass.in, ttl: ttl),
                      w.expandedTXT(t, fromV4: h.fromV4, render: render, name: h.name)
                else { w.rollback(to: start); return nil }
                w.finishRData(lengthAt: rdl)
                if w.repeatsEarlierRR(setStart: start.count, rrStart: rr.count) {
                    w.rollback(to: rr)
                } else {
                    n += 1
                }
            }
        }
        return n
    }

    /// The zone's SOA, owner the apex (a pointer into the question).
    func writeSOA(_ zone: ServingZone, ttl: UInt32, _ apexAt: Int, _ w: inout MessageWriter) -> Bool {
        let start = w.mark
        let s = zone.soa
        guard w.u16(0xC000 | UInt16(apexAt)),
              let rdl = w.rrFixed(type: DNSType.soa, rrClass: DNSClass.in, ttl: ttl),
              w.encodedName(zone.mname, apexOffset: apexAt),
              w.encodedName(zone.rname, apexOffset: apexAt),
              w.u32(s.serial), w.u32(s.refresh), w.u32(s.retry), w.u32(s.expire), w.u32(s.minimum)
        else { w.rollback(to: start); return false }
        w.finishRData(lengthAt: rdl)
        return true
    }

    /// The zone's NS RRset; `nil` when it does not fit (nothing written).
    func writeNS(_ zone: ServingZone, _ apexAt: Int, _ w: inout MessageWriter) -> UInt16? {
        let start = w.mark
        for i in zone.ns.indices {
            guard w.u16(0xC000 | UInt16(apexAt)),
                  let rdl = w.rrFixed(type: DNSType.ns, rrClass: DNSClass.in, ttl: zone.nsTTL),
                  w.encodedName(zone.ns[i], apexOffset: apexAt)
            else { w.rollback(to: start); return nil }
            w.finishRData(lengthAt: rdl)
        }
        return UInt16(zone.ns.count)
    }

    /// Class CH: `version.bind`/`version.server` and `id.server`/`hostname.bind` as operators
    /// expect (TXT, TTL 0); a disabled or unknown name is REFUSED.
    func answerCH(_ query: UnsafeRawBufferPointer, _ q: ParsedQuery, _ w: inout MessageWriter,
                  _ r: inout Reply) {
        let name = UnsafeRawBufferPointer(rebasing: query[q.qnameOffset..<(q.qnameOffset + q.qnameLength)])
        let text: [UInt8]?
        switch CHName(name) {
        case .version: text = options.version
        case .identity: text = options.identity
        case nil: text = nil
        }
        guard let t = text else { r.rcode = DNSRCode.refused; return }
        r.aa = true
        guard q.qtype == DNSType.txt || q.qtype == DNSType.any else { return }
        let ok = t.withUnsafeBytes { p -> Bool in
            guard w.u16(0xC000 | UInt16(DNSWire.headerSize)),
                  let rdl = w.rrFixed(type: DNSType.txt, rrClass: DNSClass.ch, ttl: 0),
                  w.plainTXT(p)
            else { return false }
            w.finishRData(lengthAt: rdl)
            return true
        }
        if ok { r.an = 1 } else { r.tc = true }
    }
}

/// The CH-class names operators query (RFC 4892 §2: `id.server`, `version.server`; BIND's
/// `version.bind`, `hostname.bind`).
enum CHName {
    case version, identity

    init?(_ name: UnsafeRawBufferPointer) {
        func eq(_ lit: StaticString) -> Bool {
            guard lit.utf8CodeUnitCount == name.count else { return false }
            let p = lit.utf8Start
            for i in 0..<name.count where lowerASCII(name[i]) != p[i] { return false }
            return true
        }
        if eq("\u{7}version\u{4}bind\u{0}") || eq("\u{7}version\u{6}server\u{0}") {
            self = .version
        } else if eq("\u{2}id\u{6}server\u{0}") || eq("\u{8}hostname\u{4}bind\u{0}") {
            self = .identity
        } else {
            return nil
        }
    }
}
