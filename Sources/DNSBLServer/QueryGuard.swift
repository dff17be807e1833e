#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DNSBL
import DNSWire
import Synchronization

/// Operations settings of a ``DNSServer``: DNS Cookies, response rate limiting, data age.
public struct OperationsConfiguration: Sendable {
    /// The 16-byte server secret for RFC 9018 server cookies; `nil` = a random secret made at
    /// start (cookies then change at each restart; anycast nodes need a shared secret).
    public var cookieSecret: [UInt8]? = nil
    /// Response rate limiting; `nil` = off (the default).
    public var rrl: RRLSettings? = nil
    /// Largest UDP answer in bytes for a query carrying a valid server cookie (RFC 7873 §5.2:
    /// the cookie proves the source address, so a large answer cannot be reflected to a
    /// spoofed victim); still capped by the client's EDNS payload size. Default 4096; values
    /// below the server's UDP payload size act as that size (`--cookie-udp-payload`).
    public var cookieUDPPayloadSize: Int = 4096
    public init() {}
}

/// The layer between a transport and the ``QueryHandler``: DNS Cookies (RFC 7873 with RFC 9018
/// server cookies) and response rate limiting (UDP only). Holds no per-query state; allocates
/// nothing per query.
///
/// Cookie rules implemented (RFC 7873 §5.2): no COOKIE option → normal answer; a malformed
/// option (length not 8 or 16…40) → FORMERR; a client cookie alone, or with a server cookie
/// that is not valid (not ours, not for this client address, older than an hour or more than
/// five minutes ahead) → the normal answer with a fresh server cookie, subject to RRL; a valid
/// server cookie → the normal answer with a fresh server cookie, exempt from RRL. When RRL
/// would slip a response to a query that carried a client cookie, the slip is BADCOOKIE with a
/// fresh server cookie instead of TC=1: the client retries over UDP with the cookie and is
/// then exempt (§5.2.3 leaves the choice to server policy "including rate limiting").
/// A query with QDCOUNT 0 carrying only a COOKIE option gets NOERROR with a server cookie and
/// no question (§5.4); every other QDCOUNT 0 query stays FORMERR.
public final class QueryGuard: Sendable {
    public let cookies: ServerCookieMaker
    public let rrl: ResponseRateLimiter?
    /// Our EDNS UDP payload size in bytes, for the OPT of the §5.4 reply and the UDP limit.
    public let udpPayloadSize: Int
    /// UDP answer ceiling in bytes for queries with a valid server cookie (at least
    /// ``udpPayloadSize``); see ``OperationsConfiguration/cookieUDPPayloadSize``.
    public let cookieUDPPayloadSize: Int
    /// Size in bytes of the COOKIE option we append: code, length, client and server cookie.
    static let cookieOptionSize = 4 + DNSWire.clientCookieLength + DNSWire.serverCookieLength

    public init(_ configuration: OperationsConfiguration, udpPayloadSize: Int) {
        var secret = configuration.cookieSecret ?? []
        if secret.count != 16 {
            var g = SystemRandomNumberGenerator()
            secret = (0..<16).map { _ in UInt8.random(in: 0...255, using: &g) }
        }
        cookies = ServerCookieMaker(secret: secret)
        rrl = configuration.rrl.map { ResponseRateLimiter($0) }
        self.udpPayloadSize = min(max(udpPayloadSize, DNSWire.classicUDPLimit), DNSWire.maxTCPMessage)
        self.cookieUDPPayloadSize = min(max(configuration.cookieUDPPayloadSize, self.udpPayloadSize), DNSWire.maxTCPMessage)
    }

    /// What the guard did besides answering, for counters.
    public enum Action: Sendable { case answered, rrlSlipped, rrlDropped, badCookie, staleRefused }

    /// Zones (uncompressed lower-case wire names) refused because their data is older than
    /// `--max-age` with `--max-age-action refuse`. Checked per query only while non-empty.
    private let staleZones = Mutex<[[UInt8]]>([])
    private let hasStale = Atomic<Bool>(false)

    /// Replaces the set of refused stale zones.
    public func setStaleZones(_ zones: [[UInt8]]) {
        staleZones.withLock { $0 = zones }
        hasStale.store(!zones.isEmpty, ordering: .releasing)
    }

    /// Whether QNAME (at offset 12 of `query`) is at or below a refused zone.
    private func isStale(_ query: UnsafeRawBufferPointer) -> Bool {
        guard case .success(let end) = DNSWire.nameEnd(query, at: DNSWire.headerSize) else { return false }
        let qname = UnsafeRawBufferPointer(rebasing: query[DNSWire.headerSize..<end])
        return staleZones.withLock { zones in
            zones.contains { z in
                guard z.count <= qname.count else { return false }
                let off = qname.count - z.count
                // The zone must start at a label boundary of QNAME.
                var p = 0
                while p < off { p += 1 + Int(qname[p]); if qname[p] & 0xC0 != 0 { return false } }
                guard p == off else { return false }
                for i in 0..<z.count {
                    var c = qname[off + i]
                    if c >= 0x41 && c <= 0x5A { c |= 0x20 }
                    if c != z[i] { return false }
                }
                return true
            }
        }
    }

    /// Answers `query` through `handler`, applying cookies and (UDP) RRL.
    /// - Parameters:
    ///   - query: the query message as received (no TCP length prefix).
    ///   - transport: UDP or TCP; RRL and the cookie-raised UDP limit apply to UDP only.
    ///   - client: the source address; `ClientAddress.unknown` disables cookies and RRL.
    ///   - handler: the answer rules of the current snapshot.
    ///   - now: wall-clock Unix seconds (cookie timestamps, RRL buckets).
    ///   - response: the buffer the response is written into.
    /// - Returns: the handler's outcome (length 0: send nothing) and what the guard did.
    public func respond(to query: UnsafeRawBufferPointer, transport: Transport, client: ClientAddress,
                        handler: any QueryHandler, now: UInt32,
                        into response: UnsafeMutableRawBufferPointer) -> (AnswerOutcome, Action) {
        guard client.family != nil, let h = DNSHeader(reading: query), !h.isResponse, h.opcode == 0 else {
            return (handler.respond(to: query, transport: transport, client: client, into: response), .answered)
        }
        if hasStale.load(ordering: .acquiring), h.qdCount == 1, isStale(query) {
            var out = headerOnly(h, rcode: DNSRCode.refused, response)
            out.rcode = UInt8(DNSRCode.refused)
            return (out, .staleRefused)
        }
        let scan = DNSWire.scanCookie(query)
        var cookieValid = false
        var clientCookie: UInt64 = 0
        switch scan.status {
        case .absent:
            let out = handler.respond(to: query, transport: transport, client: client, into: response)
            return limit(out, client: client, transport: transport, cookie: nil, now: now, response)
        case .malformed:
            return (headerOnly(h, rcode: DNSRCode.formErr, response), .answered)
        case .clientOnly, .clientAndServer:
            if scan.ednsVersion > 0 {
                // BADVERS comes first (RFC 7873 §5.2 applies to version-0 OPTs).
                return (handler.respond(to: query, transport: transport, client: client, into: response), .answered)
            }
            clientCookie = query.loadUnaligned(fromByteOffset: scan.dataOffset, as: UInt64.self)
            if scan.status == .clientAndServer {
                let cc = UnsafeRawBufferPointer(rebasing: query[scan.dataOffset..<scan.dataOffset + 8])
                let sc = UnsafeRawBufferPointer(rebasing: query[scan.dataOffset + 8..<scan.dataOffset + scan.dataLength])
                cookieValid = client.withNetworkBytes { ip in
                    cookies.isValid(clientCookie: cc, serverCookie: sc, clientIP: ip, now: now)
                }
            }
        }
        if h.qdCount == 0 {
            // RFC 7873 §5.4: a cookie-only query learns our server cookie.
            var w = MessageWriter(buffer: response, limit: DNSWire.classicUDPLimit)
            let echoed = h.flags & (DNSFlags.opcodeMask | DNSFlags.rd | DNSFlags.cd)
            guard w.header(id: h.id, flags: DNSFlags.qr | echoed, ar: 1),
                  appendOPTWithCookie(&w, clientCookie: clientCookie, client: client, now: now, extendedRCode: 0)
            else { return (AnswerOutcome(), .answered) }
            var out = AnswerOutcome()
            out.length = w.count
            return (out, .answered)
        }
        // A valid server cookie proves the source address: its holder may get a UDP answer up
        // to its own EDNS size, capped by --cookie-udp-payload (RFC 7873 §5.2, issue 5).
        let ceiling = cookieValid ? cookieUDPPayloadSize : udpPayloadSize
        // Leave room for the COOKIE option inside the size the client can take.
        var room = response.count
        if transport == .udp {
            room = min(room, min(max(Int(scan.udpPayloadSize), DNSWire.classicUDPLimit), ceiling))
        }
        room -= Self.cookieOptionSize
        guard room >= DNSWire.classicUDPLimit - Self.cookieOptionSize else {
            return (handler.respond(to: query, transport: transport, client: client, into: response), .answered)
        }
        var out = handler.respond(to: query, transport: transport, client: client, udpPayloadLimit: ceiling,
                                  into: UnsafeMutableRawBufferPointer(rebasing: response[0..<room]))
        if !cookieValid {
            let (limited, action) = limit(out, client: client, transport: transport, cookie: clientCookie, now: now, response)
            if action != .answered { return (limited, action) }
        }
        if scan.hasOPT {
            out.length = appendCookie(response, length: out.length, clientCookie: clientCookie, client: client, now: now)
        }
        return (out, .answered)
    }

    /// Applies RRL to an answer already written (UDP only).
    private func limit(_ out: AnswerOutcome, client: ClientAddress, transport: Transport, cookie: UInt64?,
                       now: UInt32, _ response: UnsafeMutableRawBufferPointer) -> (AnswerOutcome, Action) {
        guard transport == .udp, let rrl, out.length > 0 else { return (out, .answered) }
        let written = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(response)[0..<out.length])
        let key = rrl.key(client: client, response: written, rcode: out.rcode, answerCount: out.answerCount)
        switch rrl.check(key: key, now: now) {
        case .pass:
            return (out, .answered)
        case .drop:
            var o = out
            o.length = 0
            return (o, .rrlDropped)
        case .slip:
            guard let qEnd = questionEnd(written) else {
                var o = out; o.length = 0
                return (o, .rrlDropped)
            }
            var o = out
            o.truncated = true
            o.answerCount = 0
            var w = MessageWriter(buffer: response, limit: response.count)
            w.setCount(qEnd)
            w.set16(0, at: 6); w.set16(0, at: 8); w.set16(0, at: 10)
            if let cc = cookie {
                // BADCOOKIE (header RCODE 7, extended bits 1) with a fresh cookie.
                let flags = (w.get16(at: 2) & ~(DNSFlags.rcodeMask | DNSFlags.aa | DNSFlags.tc))
                    | (DNSRCode.badCookie & 0xF)
                w.set16(flags, at: 2)
                w.limit = min(response.count, DNSWire.classicUDPLimit)
                guard appendOPTWithCookie(&w, clientCookie: cc, client: client, now: now,
                                          extendedRCode: UInt8(DNSRCode.badCookie >> 4))
                else { o.length = 0; return (o, .rrlDropped) }
                w.set16(1, at: 10)
                o.rcode = UInt8(DNSRCode.badCookie)
                o.truncated = false
                o.length = w.count
                return (o, .badCookie)
            }
            w.set16(w.get16(at: 2) & ~DNSFlags.aa | DNSFlags.tc, at: 2)
            o.length = w.count
            return (o, .rrlSlipped)
        }
    }

    /// Offset just past the question of a response with QDCOUNT 1.
    private func questionEnd(_ r: UnsafeRawBufferPointer) -> Int? {
        guard r.count >= DNSWire.headerSize, r.readU16(at: 4) == 1,
              case .success(let e) = DNSWire.nameEnd(r, at: DNSWire.headerSize), e + 4 <= r.count else { return nil }
        return e + 4
    }

    private func headerOnly(_ h: DNSHeader, rcode: UInt16, _ response: UnsafeMutableRawBufferPointer) -> AnswerOutcome {
        var out = AnswerOutcome()
        var w = MessageWriter(buffer: response, limit: DNSWire.classicUDPLimit)
        let echoed = h.flags & (DNSFlags.opcodeMask | DNSFlags.rd | DNSFlags.cd)
        guard w.header(id: h.id, flags: DNSFlags.qr | echoed | rcode) else { return out }
        out.rcode = UInt8(rcode)
        out.length = w.count
        return out
    }

    /// Writes an OPT record holding our COOKIE option (client cookie echoed, fresh server
    /// cookie).
    private func appendOPTWithCookie(_ w: inout MessageWriter, clientCookie: UInt64,
                                     client: ClientAddress, now: UInt32, extendedRCode: UInt8) -> Bool {
        let size = 11 + Self.cookieOptionSize
        guard w.remaining >= size else { return false }
        _ = w.u8(0)
        _ = w.u16(DNSType.opt)
        _ = w.u16(UInt16(udpPayloadSize))
        _ = w.u32(UInt32(extendedRCode) << 24)
        _ = w.u16(UInt16(Self.cookieOptionSize))
        writeCookieOption(&w, clientCookie: clientCookie, client: client, now: now)
        return true
    }

    /// Appends the COOKIE option to the OPT record at the end of a response the handler
    /// wrote; returns the new length (unchanged when the response has no OPT).
    private func appendCookie(_ response: UnsafeMutableRawBufferPointer, length: Int, clientCookie: UInt64,
                              client: ClientAddress, now: UInt32) -> Int {
        guard length > 0, length + Self.cookieOptionSize <= response.count else { return length }
        let r = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(response)[0..<length])
        guard let rdLengthAt = optRDLengthOffset(r) else { return length }
        var w = MessageWriter(buffer: response, limit: response.count)
        w.setCount(length)
        writeCookieOption(&w, clientCookie: clientCookie, client: client, now: now)
        w.set16(w.get16(at: rdLengthAt) + UInt16(Self.cookieOptionSize), at: rdLengthAt)
        return w.count
    }

    /// Writes the COOKIE option; the caller has checked that 28 bytes fit.
    private func writeCookieOption(_ w: inout MessageWriter, clientCookie: UInt64, client: ClientAddress, now: UInt32) {
        _ = w.u16(EDNSOptionCode.cookie)
        _ = w.u16(UInt16(DNSWire.clientCookieLength + DNSWire.serverCookieLength))
        // The client cookie travels as the 8 raw bytes loaded into a UInt64 (no byte swap).
        let at = w.count
        withUnsafeBytes(of: clientCookie) { cc in
            _ = w.bytes(cc)
            let out = UnsafeMutableRawBufferPointer(rebasing: w.buffer[w.count..<w.count + DNSWire.serverCookieLength])
            client.withNetworkBytes { ip in cookies.write(clientCookie: cc, timestamp: now, clientIP: ip, into: out) }
        }
        w.setCount(at + DNSWire.clientCookieLength + DNSWire.serverCookieLength)
    }

    /// Offset of the RDLENGTH field of the last record when it is the OPT (our responses put
    /// the OPT last).
    private func optRDLengthOffset(_ r: UnsafeRawBufferPointer) -> Int? {
        guard r.count >= DNSWire.headerSize else { return nil }
        var pos = DNSWire.headerSize
        for _ in 0..<Int(r.readU16(at: 4)) {
            guard case .success(let e) = DNSWire.nameEnd(r, at: pos) else { return nil }
            pos = e + 4
        }
        let records = Int(r.readU16(at: 6)) + Int(r.readU16(at: 8)) + Int(r.readU16(at: 10))
        var last: (type: UInt16, rdl: Int)? = nil
        for _ in 0..<records {
            guard case .success(let e) = DNSWire.nameEnd(r, at: pos), e + 10 <= r.count else { return nil }
            last = (r.readU16(at: e), e + 8)
            pos = e + 10 + Int(r.readU16(at: e + 8))
        }
        guard pos == r.count, let l = last, l.type == DNSType.opt else { return nil }
        return l.rdl
    }
}
