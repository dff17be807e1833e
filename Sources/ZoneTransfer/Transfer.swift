import DNSBL
import DNSBLServer
import Logging
import PrefixStore
import Synchronization
import ZoneExport
import ZoneSource

/// Client networks allowed to transfer zones, each optionally with the TSIG key it must sign
/// with (`--allow-transfer "CIDR [KEYNAME|NOKEY]"`, NSD's `provide-xfr` form); empty = nobody.
public struct TransferACL: Sendable {
    struct Entry: Sendable {
        var family: AddressFamily; var network: UInt128; var length: Int
        /// The key a request from here must be signed with (lower case, no trailing dot);
        /// nil = the address suffices (NOKEY).
        var key: String? = nil
    }
    var entries: [Entry] = []

    /// Parses `ADDR/LEN` or a bare address (a host) per element, optionally followed by
    /// whitespace and a TSIG key name (`NOKEY` = none).
    /// - Throws: `DNSBLServer/ServerError` `.config` naming the bad element.
    public init(parsing cidrs: [String]) throws(ServerError) {
        for element in cidrs {
            let words = element.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let text = words.first, words.count <= 2 else {
                throw ServerError(.config, "--allow-transfer \(element): expected CIDR [KEYNAME|NOKEY]")
            }
            var key: String? = nil
            if words.count == 2, words[1].uppercased() != "NOKEY" {
                var k = words[1].lowercased()
                if k.hasSuffix(".") { k.removeLast() }
                key = k
            }
            let parts = text.split(separator: "/", maxSplits: 1).map(String.init)
            guard let (family, addr) = parseAddress(parts[0]) else {
                throw ServerError(.config, "--allow-transfer \(text): not an address")
            }
            let length = parts.count == 2 ? Int(parts[1]) ?? -1 : family.bits
            guard length >= 0 && length <= family.bits else {
                throw ServerError(.config, "--allow-transfer \(text): prefix length must be 0…\(family.bits)")
            }
            let shift = family.bits - length
            let network = shift >= family.bits ? 0 : (addr >> UInt128(shift)) << UInt128(shift)
            entries.append(Entry(family: family, network: network, length: length, key: key))
        }
    }

    /// TSIG key names the entries require (to check them against the configured keys).
    public var keyNames: [String] { entries.compactMap(\.key) }

    /// Whether a peer at `address` (text, as NIO reports it) may transfer, having signed the
    /// request with the key `key` (nil: unsigned). IPv4-mapped IPv6 peers
    /// (`::ffff:192.0.2.1`) are judged as IPv4.
    public func allows(_ address: String?, key: String? = nil) -> Bool {
        guard let address, var (family, addr) = parseAddress(address) else { return false }
        if family == .ipv6 && addr >> 32 == 0xFFFF { family = .ipv4; addr &= 0xFFFF_FFFF }
        return entries.contains { e in
            guard e.family == family, e.key == nil || e.key == key else { return false }
            let shift = family.bits - e.length
            return shift >= family.bits || (addr >> UInt128(shift)) << UInt128(shift) == e.network
        }
    }
}

/// A parsed AXFR (RFC 5936) or IXFR (RFC 1995) query.
struct TransferRequest {
    var id: UInt16
    var rd: Bool
    /// The question as sent (client's case), echoed in the first response message.
    var question: [UInt8]
    /// QNAME lower-cased, wire form.
    var zone: [UInt8]
    var qtype: UInt16
    /// IXFR: the serial of the SOA in the authority section (RFC 1995 §3), nil when absent.
    var clientSerial: UInt32?

    /// Reads `query` when it is a standard query (QR=0, opcode 0, QDCOUNT 1, uncompressed
    /// QNAME) for type AXFR (252) or IXFR (251); nil for anything else, which the responder
    /// answers as usual.
    init?(_ query: UnsafeRawBufferPointer) {
        guard query.count >= 17, query[2] & 0x80 == 0, (query[2] >> 3) & 0xF == 0,
              query[4] == 0, query[5] == 1 else { return nil }
        var i = 12
        var name: [UInt8] = []
        while true {
            guard i < query.count else { return nil }
            let n = Int(query[i])
            if n == 0 { name.append(0); i += 1; break }
            guard n < 64, i + 1 + n <= query.count else { return nil }
            name.append(UInt8(n))
            for b in query[(i + 1)...(i + n)] { name.append(b >= 65 && b <= 90 ? b | 0x20 : b) }
            i += 1 + n
        }
        guard i + 4 <= query.count else { return nil }
        let qtype = UInt16(query[i]) << 8 | UInt16(query[i + 1])
        guard qtype == 252 || qtype == 251 else { return nil }
        id = UInt16(query[0]) << 8 | UInt16(query[1])
        rd = query[2] & 1 != 0
        question = Array(query[12..<(i + 4)])
        zone = name
        self.qtype = qtype
        clientSerial = qtype == 251 ? ixfrClientSerial(query, questionEnd: i + 4) : nil
    }

    /// A header-and-question-only response with `rcode`.
    func reply(rcode: UInt8) -> [UInt8] {
        [UInt8(id >> 8), UInt8(id & 0xFF), 0x84 | (rd ? 1 : 0), rcode, 0, 1, 0, 0, 0, 0, 0, 0] + question
    }
}

/// Zone transfer out of `serve` (AXFR, RFC 5936; IXFR, RFC 1995): the records of
/// `ZoneExport.Exporter` for the current snapshot's zone (united over the stores that hold
/// it), SOA first and last, packed into messages of at most `chunkBytes` (16,000) bytes of records.
/// The records are built on a background thread the first time a snapshot's zone is asked for
/// and kept until the next snapshot; the query path only checks QTYPE. An IXFR gets the
/// difference from the client's version when ``history`` holds it (see
/// ``TransferHistory``), the single current SOA when the client is current, else a full
/// transfer (RFC 1995 §4). With TSIG keys (RFC 8945) the request's signature is checked
/// first and every answer message is signed (`TransferTSIG.swift`). A zone the snapshot signs
/// (`DNSBL/ZoneSigner`) is transferred signed (`recordSource(_:snapshot:)`, ``CanonicalZone``).
public final class TransferResponder: TransferHandler {
    public let acl: TransferACL
    public let options: ExportOptions
    /// TSIG keys (RFC 8945): signed requests are verified and every answer message signed.
    public let keyring: TSIGKeyring?
    let logger: Logger
    /// Record bytes per message (besides header and question): well under 65535 so a message
    /// never overflows the TCP length prefix.
    static let chunkBytes = 16_000

    /// Versions sent before, for IXFR differences.
    public let history: TransferHistory
    /// Per zone: the snapshot the body belongs to, the body's record chunks and the version
    /// (for IXFR; nil without history). The snapshot is held weakly: a transfer body never
    /// keeps a replaced snapshot (its stores, views and signer state) alive, and a swap drops
    /// the bodies of other snapshots (``forget(except:)``).
    let cache = Mutex<[[UInt8]: CachedBody]>([:])

    struct CachedBody: @unchecked Sendable {
        weak var snapshot: Snapshot?
        var chunks: [Chunk]
        var version: ZoneVersion?
    }

    /// Held while a body is built, so concurrent requests for it wait instead of repeating it.
    let building = Mutex(())
    /// Builds holding ``building`` now: a streamed AXFR that would wait for one signs on its own.
    let buildsRunning = Atomic<Int>(0)

    /// Per signed zone: the previous version's signatures, reused for unchanged RRsets.
    let carries = Mutex<[[UInt8]: SignatureCarry]>([:])
    /// Per signed zone (by its name as stored), per peer address: the serials of the versions
    /// this process sent that peer in a transfer that carried records (an AXFR, a full or
    /// incremental IXFR; not an "up to date" answer), pruned to the versions still kept. A
    /// restarted process signs anew under serials a secondary may hold with the previous
    /// process's signatures (one serial, two contents, RFC 1995 §1), so for a signed zone only
    /// these serials are IXFR bases for that peer; from any other client serial it gets the
    /// whole zone (RFC 1995 §4). By address: secondaries sharing one address share the set.
    let sent = Mutex<[[UInt8]: [String: Set<UInt32>]]>([:])

    struct Chunk: Sendable { var count: Int; var bytes: [UInt8] }

    public init(acl: TransferACL, options: ExportOptions = ExportOptions(), keyring: TSIGKeyring? = nil,
                logger: Logger, history: TransferHistory = TransferHistory()) {
        self.acl = acl; self.options = options; self.keyring = keyring; self.logger = logger; self.history = history
    }

    typealias Start = TransferStart

    /// What the last transfer build of the signed zone `apex` (wire form, lower case) holds:
    /// its serial, signing keys and when its first signature falls due; nil before the first
    /// build. For the daemon's decision to make a new version without a data change.
    public func signedVersion(apex: [UInt8]) -> SignatureCarry.Version? {
        carries.withLock { $0[apex] }?.version
    }

    /// The transport's hook: `nil` when `query` is no AXFR/IXFR query, else the TSIG check,
    /// the ACL and the transfer (`startAuthenticated`, TransferTSIG.swift).
    public func start(query: UnsafeRawBufferPointer, peer: String?, snapshot: Snapshot) -> TransferStart? {
        guard let request = TransferRequest(query) else { return nil }
        return startAuthenticated(request, query: query, peer: peer, snapshot: snapshot)
    }

    /// - Parameter key: the TSIG key the request was verified with (nil: unsigned).
    func start(_ request: TransferRequest, peer: String?, key: String? = nil, snapshot: Snapshot) -> Start {
        guard acl.allows(peer, key: key) else {
            logger.notice("zone transfer refused", metadata: ["peer": "\(peer ?? "?")", "zone": "\(zoneText(request.zone))"])
            return .reply(request.reply(rcode: 5))
        }
        // The zone in every store that holds it: `serve` answers their union (DNSBL.docc/AnswerRules.md).
        let responder = snapshot.responder
        let parts = responder.stores.flatMap(\.zones).filter { $0.name == request.zone }
        guard !parts.isEmpty else { return .reply(request.reply(rcode: 9)) }  // NOTAUTH, RFC 5936 §2.2.1
        return .transfer { [self] in
            // An AXFR of a signed zone not built for this snapshot is signed as it is sent.
            if request.qtype == 252, isSigned(parts[0], snapshot: snapshot),
               !(cache.withLock { $0[parts[0].name] }.map { $0.snapshot === snapshot } ?? false) {
                return streamSigned(request, parts: parts, peer: peer, snapshot: snapshot)
            }
            // The chunks are the cached body (or the IXFR answer) itself: each message is
            // assembled when the connection takes it, so a transfer adds no copy of the zone.
            let chunks = records(for: request, parts: parts, peer: peer, snapshot: snapshot)
            let id = request.id, question = request.question
            return TransferMessages(count: chunks.count) { k in
                Self.message(id: id, question: question, index: k, chunk: chunks[k])
            }
        }
    }

    /// The `index`-th message of a transfer answering query `id` (the question in the first).
    static func message(id: UInt16, question: [UInt8], index k: Int, chunk c: Chunk) -> [UInt8] {
        let q = k == 0 ? question : []
        var m: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0x84, 0,
                          0, k == 0 ? 1 : 0, UInt8(c.count >> 8), UInt8(c.count & 0xFF), 0, 0, 0, 0]
        m.reserveCapacity(12 + q.count + c.bytes.count)
        m += q
        m += c.bytes
        return m
    }
}
