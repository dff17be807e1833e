#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DNSBLServer
import Synchronization

// TSIG (RFC 8945) around zone transfers: the request's signature is checked before the ACL,
// the ACL sees the verified key, and every message of the answer is signed (RFC 8945 §5.3.1
// allows signing each one; it is also what NSD, Knot and BIND do).

extension TransferResponder {
    /// ``start(_:peer:key:snapshot:)`` behind the TSIG check of `query` (the raw request):
    /// - no TSIG: as before (the ACL decides on the address; entries naming a key refuse);
    /// - a TSIG that fails: NOTAUTH with BADKEY/BADSIG (unsigned) or BADTIME/BADTRUNC (signed),
    ///   FORMERR for a malformed record, whatever the ACL says;
    /// - a valid TSIG: the ACL decides with the key name, and every answer message, REFUSED
    ///   included, is signed.
    func startAuthenticated(_ request: TransferRequest, query: UnsafeRawBufferPointer, peer: String?,
                            snapshot: Snapshot) -> Start {
        guard let keyring, !keyring.isEmpty else { return start(request, peer: peer, snapshot: snapshot) }
        let now = UInt64(time(nil))
        switch keyring.check(query, now: now) {
        case .unsigned:
            return start(request, peer: peer, snapshot: snapshot)
        case .formErr:
            logger.notice("zone transfer with a malformed TSIG record", metadata: ["peer": "\(peer ?? "?")"])
            return .reply(TSIGWire.headerAndQuestion(query, rcode: 1))
        case .refused(let error, let record, let session):
            logger.notice("zone transfer TSIG refused", metadata: [
                "peer": "\(peer ?? "?")", "key": "\(zoneText(record.keyName))", "error": "\(error)"])
            return .reply(TSIGKeyring.errorResponse(query: query, error: error, record: record, session: session, now: now))
        case .verified(let session):
            switch start(request, peer: peer, key: session.key.name, snapshot: snapshot) {
            case .reply(var bytes):
                var s = session
                s.sign(&bytes, now: now)
                return .reply(bytes)
            case .transfer(let build):
                return .transfer {
                    let messages = build()
                    // One clock reading per transfer: messages built together are signed
                    // together, and the fudge window covers the time they take to go out.
                    // Each message is signed as it is made (in order: each MAC covers the
                    // previous one, RFC 8945 §5.3.1).
                    let signedAt = UInt64(time(nil))
                    let state = Mutex(session)
                    if let stream = messages.stream {
                        return TransferMessages(stream: stream) { i, raw in
                            var m = messages.wrap(i, raw)
                            state.withLock { $0.sign(&m, now: signedAt) }
                            return m
                        }
                    }
                    return TransferMessages(count: messages.count) { i in
                        var m = messages.message(i)
                        state.withLock { $0.sign(&m, now: signedAt) }
                        return m
                    }
                }
            }
        }
    }
}
