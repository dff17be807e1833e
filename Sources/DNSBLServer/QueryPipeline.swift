import DNSBL
import DNSWire

/// The one query path UDP and TCP share: a query is read once, every answer decision is made
/// here from one size limit, and the response is written once, in order, into the caller's
/// buffer. The transports only receive, hand over, send and count.
///
/// For one query, in order:
/// 1. QR=1 or a message shorter than a header: nothing is sent (RFC 1035 §4.1.1).
/// 2. ``DNSBL/Responder/read(_:)``: the one walk over the message — header, question, the OPT
///    and where its COOKIE and Padding options and a TSIG record are.
/// 3. Guard decisions, for a known client and OPCODE QUERY: a COOKIE option of a bad length →
///    FORMERR; a client cookie (EDNS version 0) → the server cookie for our OPT, computed now,
///    and a valid server cookie raises the UDP ceiling to ``QueryGuard/cookieUDPPayloadSize``
///    and exempts the answer from RRL (RFC 7873 §5.2); a zone refused as stale → REFUSED
///    (question and OPT kept), whatever the cookie.
/// 4. TSIG (when keys are configured and the read noted a TSIG record): verified → the record
///    to append is reserved out of the size limit; failed → the RFC 8945 §5.3.2 error answer.
/// 5. The one size limit, ``DNSBL/Responder/sizeLimit(transport:edns:ceiling:buffer:)``, minus
///    the TSIG reservation; ``DNSBL/Responder/answer(_:header:read:_:into:)`` writes header,
///    question, records and the OPT (NSID, COOKIE) within it.
/// 6. RRL (UDP, unless exempt), keyed from the outcome and the question's bytes: pass, drop,
///    or slip — TC=1 with the question alone, or BADCOOKIE with a fresh cookie when the query
///    carried a client cookie — written over the answer in place.
/// 7. TSIG signing in place after the answer.
///
/// Allocates nothing for queries without TSIG.
struct QueryPipeline: Sendable {
    let queryGuard: QueryGuard
    /// TSIG keys for signed queries (``ServerConfiguration/tsig``); nil = TSIG records ignored.
    let tsig: TSIGKeyring?

    /// Answers `query` from `snapshot` into `response` (at least 65535 bytes for TCP, at
    /// least the UDP payload size for UDP).
    /// - Parameters:
    ///   - client: the source address; ``DNSBL/ClientAddress/unknown`` disables cookies,
    ///     RRL and the stale-zone refusal.
    ///   - now: wall-clock Unix seconds (cookie timestamps, RRL buckets, TSIG time).
    /// - Returns: the outcome (`length == 0`: send nothing) and what the guard did.
    func answer(_ query: UnsafeRawBufferPointer, transport: Transport, client: ClientAddress,
                snapshot: Snapshot, now: UInt32,
                into response: UnsafeMutableRawBufferPointer) -> (AnswerOutcome, QueryGuard.Action) {
        if let stub = snapshot.stub {
            return (stub.respond(to: query, transport: transport, into: response), .answered)
        }
        guard let h = DNSHeader(reading: query), !h.isResponse else { return (AnswerOutcome(), .answered) }
        let responder = snapshot.responder
        let read = Responder.read(query)
        let g = queryGuard
        var request = AnswerRequest(transport: transport, client: client, limit: DNSWire.classicUDPLimit)
        guard read.ok, h.opcode == 0 else {
            // FORMERR or NOTIMP, header only.
            let out = responder.answer(query, header: h, read: read, request, into: response)
            // Unreadable queries are rate-limited by RCODE, as every answer without a cookie.
            if h.opcode == 0, client.family != nil, transport == .udp, g.rrl != nil {
                return limit(out, query, response, client: client, transport: transport, cookie: nil,
                             dnssecOK: false, now: now)
            }
            return (out, .answered)
        }
        var action = QueryGuard.Action.answered
        var ceiling = g.udpPayloadSize
        // RRL: UDP only, a known client, a limiter configured; cleared below for exempt answers.
        var rateLimited = client.family != nil && transport == .udp && g.rrl != nil
        if client.family == nil {
            // No address: no cookie can be made or checked, no bucket chosen.
        } else if read.parsed.hasCookie, let e = read.parsed.edns, e.version == 0 {
            // RFC 7873 §5.2; BADVERS comes first for other versions (no cookie, no RRL below).
            let n = read.parsed.cookieLength
            if n != DNSWire.clientCookieLength && !(n >= DNSWire.clientCookieLength + 8 && n <= DNSWire.clientCookieLength + 32) {
                request.verdict = .formErr
                rateLimited = false
            } else {
                let clientCookie = query.loadUnaligned(fromByteOffset: read.parsed.cookieOffset, as: UInt64.self)
                var valid = false
                request.cookie = client.withNetworkBytes { ip in
                    if n > DNSWire.clientCookieLength {
                        let cc = UnsafeRawBufferPointer(rebasing: query[read.parsed.cookieOffset..<read.parsed.cookieOffset + 8])
                        let sc = UnsafeRawBufferPointer(rebasing: query[read.parsed.cookieOffset + 8..<read.parsed.cookieOffset + n])
                        valid = g.cookies.isValid(clientCookie: cc, serverCookie: sc, clientIP: ip, now: now)
                    }
                    return g.cookies.option(clientCookie: clientCookie, timestamp: now, clientIP: ip)
                }
                if valid {
                    // The cookie proves the source address: a larger UDP answer cannot be
                    // reflected to a spoofed victim (RFC 7873 §5.2, issue 5).
                    ceiling = g.cookieUDPPayloadSize
                    rateLimited = false
                }
                if read.parsed.header.qdCount == 0 { rateLimited = false }  // the §5.4 reply
            }
        } else if read.parsed.hasCookie {
            rateLimited = false
        }
        if client.family != nil && g.isStale(read, query) {
            // Before any other verdict; the OPT still carries the server cookie.
            request.verdict = .refuse
            action = .staleRefused
            rateLimited = false
        }

        // TSIG (RFC 8945 §5.2): only for a query whose read noted a record.
        var session: TSIGSession? = nil
        if read.parsed.hasTSIG, let keys = tsig, request.verdict == .answer {
            switch keys.check(query, tsigAt: read.parsed.tsigOffset, now: UInt64(now)) {
            case .unsigned:
                break
            case .verified(let s):
                session = s
            case .formErr:
                return (copied(TSIGWire.headerAndQuestion(query, rcode: 1), read.parsed, into: response), .answered)
            case .refused(let error, let record, let s):
                let m = TSIGKeyring.errorResponse(query: query, error: error, record: record, session: s, now: UInt64(now))
                return (copied(m, read.parsed, into: response), .answered)
            }
        }

        let full = Responder.sizeLimit(transport: transport, edns: read.parsed.edns, ceiling: ceiling, buffer: response.count)
        request.limit = full - (session?.recordSize ?? 0)
        var out = responder.answer(query, header: h, read: read, request, into: response)
        if rateLimited {
            (out, action) = limit(out, query, response, client: client, transport: transport, cookie: request.cookie,
                                  dnssecOK: read.parsed.edns?.dnssecOK ?? false, now: now)
        }
        if var s = session, out.length > 0 {
            out.length = s.sign(response: response, length: out.length, limit: full, now: UInt64(now)) ?? 0
        }
        return (out, action)
    }

    /// Applies RRL (UDP only) to an answer already written, keyed from its outcome; a slip
    /// rewrites it in place, keeping the header and the question.
    private func limit(_ out: AnswerOutcome, _ query: UnsafeRawBufferPointer, _ response: UnsafeMutableRawBufferPointer,
                       client: ClientAddress, transport: Transport, cookie: CookieOption?, dnssecOK: Bool,
                       now: UInt32) -> (AnswerOutcome, QueryGuard.Action) {
        guard transport == .udp, let rrl = queryGuard.rrl, out.length > 0 else { return (out, .answered) }
        switch rrl.check(key: rrl.key(client: client, outcome: out, query: query), now: now) {
        case .pass:
            return (out, .answered)
        case .drop:
            var o = out
            o.length = 0
            return (o, .rrlDropped)
        case .slip:
            var o = out
            // Only answers that carry their question can be slipped.
            let questionEnd = DNSWire.headerSize + out.qnameLength + 4
            guard out.qnameLength > 0, out.length >= questionEnd, UnsafeRawBufferPointer(response).readU16(at: 4) == 1 else {
                o.length = 0
                return (o, .rrlDropped)
            }
            o.answerCount = 0
            var w = MessageWriter(buffer: response, limit: min(response.count, DNSWire.classicUDPLimit))
            w.setCount(questionEnd)
            w.set16(0, at: 6); w.set16(0, at: 8); w.set16(0, at: 10)
            if let cookie {
                // BADCOOKIE (header RCODE 7, extended bits 1) with a fresh cookie.
                w.set16((w.get16(at: 2) & ~(DNSFlags.rcodeMask | DNSFlags.aa | DNSFlags.tc)) | (DNSRCode.badCookie & 0xF),
                        at: 2)
                guard w.opt(udpPayloadSize: UInt16(queryGuard.udpPayloadSize), extendedRCode: UInt8(DNSRCode.badCookie >> 4),
                            dnssecOK: dnssecOK, nsid: nil, cookie: cookie)
                else { o.length = 0; return (o, .rrlDropped) }
                w.set16(1, at: 10)
                o.rcode = UInt8(DNSRCode.badCookie)
                o.truncated = false
                o.length = w.count
                return (o, .badCookie)
            }
            w.set16(w.get16(at: 2) & ~DNSFlags.aa | DNSFlags.tc, at: 2)
            o.truncated = true
            o.length = w.count
            return (o, .rrlSlipped)
        }
    }

    /// An answer built elsewhere (the TSIG error answers, RFC 8945 §5.3.2) copied into
    /// `response`; nothing when it does not fit.
    private func copied(_ m: [UInt8], _ q: ParsedQuery, into response: UnsafeMutableRawBufferPointer) -> AnswerOutcome {
        var out = AnswerOutcome()
        guard m.count >= DNSWire.headerSize, m.count <= response.count else { return out }
        m.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: response[0..<$0.count]).copyMemory(from: $0) }
        out.length = m.count
        out.rcode = m[3] & 0x0F
        out.qtype = q.qtype
        out.qnameLength = q.qnameLength
        return out
    }
}
