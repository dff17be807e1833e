import Crypto
import DNSWire

// TSIG (RFC 8945): shared-secret HMAC over DNS messages, for zone transfers, the SOA queries
// secondaries send before them, and NOTIFY. Everything here works on wire bytes; nothing runs
// on the answer path unless a query carries a TSIG record (the query's one read notes where,
// `ParsedQuery.tsigOffset`, so an unsigned query pays a comparison).

/// A TSIG algorithm (RFC 8945 §6). HMAC-MD5 is kept for old peers only (swift-crypto has it as
/// `Insecure.MD5`); HMAC-SHA256 is the one to use.
public enum TSIGAlgorithm: String, Sendable, CaseIterable, CustomStringConvertible {
    case hmacMD5 = "hmac-md5.sig-alg.reg.int"
    case hmacSHA1 = "hmac-sha1"
    case hmacSHA256 = "hmac-sha256"
    case hmacSHA384 = "hmac-sha384"
    case hmacSHA512 = "hmac-sha512"

    /// Reads an algorithm name as BIND, NSD, Knot and dig write it: `hmac-sha256`, with or
    /// without a trailing dot, any case; `hmac-md5` for the long MD5 name.
    public init?(name: String) {
        var n = name.lowercased()
        if n.hasSuffix(".") { n.removeLast() }
        if n == "hmac-md5" { n = TSIGAlgorithm.hmacMD5.rawValue }
        guard let a = TSIGAlgorithm(rawValue: n) else { return nil }
        self = a
    }

    public var description: String { self == .hmacMD5 ? "hmac-md5" : rawValue }

    /// The algorithm name in canonical wire form (lower case, uncompressed; RFC 8945 §4.3.3).
    public var wireName: [UInt8] { TSIGWire.encodeName(rawValue)! }

    /// Bytes of an untruncated MAC.
    public var macLength: Int {
        switch self {
        case .hmacMD5: 16
        case .hmacSHA1: 20
        case .hmacSHA256: 32
        case .hmacSHA384: 48
        case .hmacSHA512: 64
        }
    }

    /// HMAC under `secret` of the byte ranges `feed` hands to its argument, in order (so a
    /// message in a caller's buffer is hashed where it lies, not copied into a digest).
    func mac(secret: [UInt8], _ feed: ((UnsafeRawBufferPointer) -> Void) -> Void) -> [UInt8] {
        func run<H: HashFunction>(_: H.Type) -> [UInt8] {
            var h = HMAC<H>(key: SymmetricKey(data: secret))
            feed { h.update(data: $0) }
            return Array(h.finalize())
        }
        switch self {
        case .hmacMD5: return run(Insecure.MD5.self)
        case .hmacSHA1: return run(Insecure.SHA1.self)
        case .hmacSHA256: return run(SHA256.self)
        case .hmacSHA384: return run(SHA384.self)
        case .hmacSHA512: return run(SHA512.self)
        }
    }

    /// HMAC of `data` under `secret`.
    func mac(secret: [UInt8], _ data: [UInt8]) -> [UInt8] {
        let key = SymmetricKey(data: secret)
        switch self {
        case .hmacMD5: return Array(HMAC<Insecure.MD5>.authenticationCode(for: data, using: key))
        case .hmacSHA1: return Array(HMAC<Insecure.SHA1>.authenticationCode(for: data, using: key))
        case .hmacSHA256: return Array(HMAC<SHA256>.authenticationCode(for: data, using: key))
        case .hmacSHA384: return Array(HMAC<SHA384>.authenticationCode(for: data, using: key))
        case .hmacSHA512: return Array(HMAC<SHA512>.authenticationCode(for: data, using: key))
        }
    }
}

/// A TSIG key: name, algorithm and shared secret. Its description names the key and the
/// algorithm and never shows the secret, so a key can go into log metadata safely.
public struct TSIGKey: Sendable, CustomStringConvertible {
    /// The key name, lower case, without the trailing dot (`xfr.bl.example`).
    public let name: String
    /// The key name in canonical wire form (lower case, uncompressed).
    public let wireName: [UInt8]
    public let algorithm: TSIGAlgorithm
    let secret: [UInt8]

    /// - Throws: ``ServerError`` `.config` when the name is not a domain name or the secret is empty.
    public init(name: String, algorithm: TSIGAlgorithm, secret: [UInt8]) throws(ServerError) {
        var n = name.lowercased()
        if n.hasSuffix(".") && n != "." { n.removeLast() }
        guard !n.isEmpty, n != ".", let wire = TSIGWire.encodeName(n) else {
            throw ServerError(.config, "TSIG key name '\(name)' is not a domain name")
        }
        guard !secret.isEmpty else { throw ServerError(.config, "TSIG key \(n): empty secret") }
        self.name = n
        self.wireName = wire
        self.algorithm = algorithm
        self.secret = secret
    }

    public var description: String { "\(name) (\(algorithm))" }

    /// HMAC of `data` with this key.
    public func mac(_ data: [UInt8]) -> [UInt8] { algorithm.mac(secret: secret, data) }

    /// Signs a request (RFC 8945 §5.1): appends a TSIG record (time `now`, fudge
    /// ``TSIGWire/fudge``) to `message` and counts it in ARCOUNT. Returns the session that
    /// verifies the answer.
    public func signRequest(_ message: inout [UInt8], now: UInt64) -> TSIGSession {
        var session = TSIGSession(key: self, priorMAC: [], originalID: UInt16(message[0]) << 8 | UInt16(message[1]))
        session.requestMode = true
        session.sign(&message, now: now)
        session.requestMode = false
        session.signedCount = 0
        return session
    }
}

/// TSIG error codes carried in the record's Error field (RFC 8945 §3, §5.2).
public enum TSIGError: UInt16, Sendable {
    case none = 0
    case badSig = 16
    case badKey = 17
    case badTime = 18
    case badTrunc = 22
}

/// A TSIG record read from a message.
public struct TSIGRecord: Sendable {
    /// Offset of the record's owner name: the message without TSIG is `message[..<start]`.
    public var start: Int
    /// Key name, canonical wire form (decompressed, lower case).
    public var keyName: [UInt8]
    /// Algorithm name, canonical wire form.
    public var algorithm: [UInt8]
    /// Seconds since the epoch (48 bits on the wire).
    public var timeSigned: UInt64
    /// Seconds of clock skew allowed.
    public var fudge: UInt16
    public var mac: [UInt8]
    public var originalID: UInt16
    public var error: UInt16
    public var other: [UInt8]
}

/// The state of one signed exchange from our side: the key and the MAC the next message's
/// digest starts with (the request's for the first answer, then each previous message's,
/// RFC 8945 §5.3.1). A copy signs independently.
public struct TSIGSession: Sendable {
    public let key: TSIGKey
    /// The MAC that prefixes the next digest; empty when signing a request.
    public internal(set) var priorMAC: [UInt8]
    public let originalID: UInt16
    /// Messages signed so far: the second and later messages of a multi-message answer sign
    /// only the TSIG timers (RFC 8945 §5.3.1).
    public internal(set) var signedCount = 0
    var requestMode = false

    init(key: TSIGKey, priorMAC: [UInt8], originalID: UInt16) {
        self.key = key; self.priorMAC = priorMAC; self.originalID = originalID
    }

    /// Appends a signed TSIG record to `message` (and bumps ARCOUNT). The first message of an
    /// answer carries all TSIG variables, later ones only the timers (RFC 8945 §5.3.1); an
    /// error answer passes `error` and, for BADTIME, the request's time as `timeSigned` and the
    /// server time in `other` (RFC 8945 §5.2.3).
    public mutating func sign(_ message: inout [UInt8], now: UInt64, error: TSIGError = .none,
                              timeSigned: UInt64? = nil, fudge: UInt16 = TSIGWire.fudge, other: [UInt8] = []) {
        let time = timeSigned ?? now
        let full = signedCount == 0
        var digest: [UInt8] = []
        digest.reserveCapacity(priorMAC.count + 2 + message.count + 128)
        if !requestMode {
            TSIGWire.append16(&digest, UInt16(priorMAC.count)); digest += priorMAC
        }
        digest += message
        if full {
            TSIGWire.appendVariables(&digest, key: key, time: time, fudge: fudge, error: error.rawValue, other: other)
        } else {
            TSIGWire.appendTimers(&digest, time: time, fudge: fudge)
        }
        let mac = key.mac(digest)
        TSIGWire.appendRecord(&message, key: key, time: time, fudge: fudge, mac: mac, originalID: originalID,
                              error: error.rawValue, other: other)
        priorMAC = mac
        signedCount += 1
    }

    /// Size in bytes of the TSIG record ``sign(response:length:limit:now:)`` appends: owner
    /// (the key name), type, class, TTL, RDLENGTH, algorithm name, timers, MAC, original ID,
    /// error and an empty other-data field.
    public var recordSize: Int {
        key.wireName.count + 10 + key.algorithm.wireName.count + 16 + key.algorithm.macLength
    }

    /// Signs the `length`-byte answer in `response` where it lies (RFC 8945 §5.3: the MAC over
    /// the request's MAC, the answer and the TSIG variables), then appends the TSIG record and
    /// counts it in ARCOUNT. The answer is neither copied out nor back.
    /// - Returns: the new length, or `nil` when the record does not fit in `limit` bytes
    ///   (nothing changed).
    public mutating func sign(response: UnsafeMutableRawBufferPointer, length: Int, limit: Int,
                              now: UInt64) -> Int? {
        guard length >= DNSWire.headerSize, length + recordSize <= min(limit, response.count) else { return nil }
        var variables: [UInt8] = []
        TSIGWire.appendVariables(&variables, key: key, time: now, fudge: TSIGWire.fudge, error: 0, other: [])
        let prior = priorMAC
        let mac = key.algorithm.mac(secret: key.secret) { add in
            if !requestMode {
                withUnsafeBytes(of: UInt16(prior.count).bigEndian) { add($0) }
                prior.withUnsafeBytes { add($0) }
            }
            add(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(response)[0..<length]))
            variables.withUnsafeBytes { add($0) }
        }
        var record: [UInt8] = []
        record.reserveCapacity(recordSize)
        TSIGWire.appendRR(&record, keyName: key.wireName, algorithm: key.algorithm.wireName, time: now,
                          fudge: TSIGWire.fudge, mac: mac, originalID: originalID, error: 0, other: [])
        record.withUnsafeBytes {
            UnsafeMutableRawBufferPointer(rebasing: response[length..<length + $0.count]).copyMemory(from: $0)
        }
        let ar = (UInt16(response[10]) << 8 | UInt16(response[11])) &+ 1
        response[10] = UInt8(ar >> 8); response[11] = UInt8(ar & 0xFF)
        priorMAC = mac
        signedCount += 1
        return length + record.count
    }

    /// Checks the TSIG of an answer to a request this session signed (RFC 8945 §5.4), or of
    /// the next message of a multi-message answer. On success the record's MAC becomes the
    /// prior MAC. Returns the TSIG error found (``TSIGError/none`` when valid); `nil` when
    /// the message carries no TSIG at all, which a client must treat as a failure.
    public mutating func verify(_ message: [UInt8], now: UInt64) -> TSIGVerdict {
        let found = message.withUnsafeBytes { TSIGWire.find($0) }
        guard case .record(let r) = found else { return found == .none ? .unsigned : .malformed }
        guard r.keyName == key.wireName, r.algorithm == key.algorithm.wireName else { return .failed(.badKey) }
        if r.error != 0 && r.mac.isEmpty { return .failed(TSIGError(rawValue: r.error) ?? .badSig) }
        guard r.mac.count == key.algorithm.macLength else { return .failed(.badSig) }
        var digest: [UInt8] = []
        TSIGWire.append16(&digest, UInt16(priorMAC.count)); digest += priorMAC
        var stripped = TSIGWire.strip(message, r)
        stripped[0] = UInt8(r.originalID >> 8); stripped[1] = UInt8(r.originalID & 0xFF)
        digest += stripped
        if signedCount == 0 {
            TSIGWire.appendVariables(&digest, keyName: r.keyName, algorithm: r.algorithm, time: r.timeSigned,
                                     fudge: r.fudge, error: r.error, other: r.other)
        } else {
            TSIGWire.appendTimers(&digest, time: r.timeSigned, fudge: r.fudge)
        }
        guard TSIGWire.equal(key.mac(digest), r.mac) else { return .failed(.badSig) }
        priorMAC = r.mac
        signedCount += 1
        if r.error != 0 { return .failed(TSIGError(rawValue: r.error) ?? .badSig) }
        guard TSIGWire.timely(r.timeSigned, fudge: r.fudge, now: now) else { return .failed(.badTime) }
        return .valid
    }
}

/// The outcome of checking a message's TSIG.
public enum TSIGVerdict: Sendable, Equatable {
    case valid
    /// No TSIG record.
    case unsigned
    /// A TSIG record that cannot be read, or one that is not the last record (FORMERR).
    case malformed
    case failed(TSIGError)
}

/// What the server makes of a request's TSIG (RFC 8945 §5.2).
public enum TSIGRequestCheck: Sendable {
    /// No TSIG record.
    case unsigned
    /// Verified: answer and sign with the session.
    case verified(TSIGSession)
    /// Answer FORMERR without TSIG (an unreadable or misplaced TSIG record, or a MAC longer
    /// than the algorithm's or shorter than the RFC 8945 §5.2.2.1 floor).
    case formErr
    /// Answer NOTAUTH with this TSIG error: unsigned for BADKEY and BADSIG, signed with the
    /// session for BADTIME and BADTRUNC (RFC 8945 §5.3.2).
    case refused(TSIGError, TSIGRecord, TSIGSession?)
}

/// The keys a server knows, by name.
public final class TSIGKeyring: Sendable {
    public let keys: [TSIGKey]

    /// - Throws: ``ServerError`` `.config` when two keys share a name.
    public init(_ keys: [TSIGKey]) throws(ServerError) {
        var seen = Set<[UInt8]>()
        for k in keys where !seen.insert(k.wireName).inserted {
            throw ServerError(.config, "TSIG key \(k.name) is defined twice")
        }
        self.keys = keys
    }

    public var isEmpty: Bool { keys.isEmpty }

    /// The key called `name` (any case, trailing dot optional).
    public func key(named name: String) -> TSIGKey? {
        guard let wire = TSIGWire.encodeName(name.lowercased()) else { return nil }
        return keys.first { $0.wireName == wire }
    }

    /// Checks a request's TSIG in the order RFC 8945 §5.2 gives: key, MAC, time, truncation.
    /// `now` is the server time in seconds since the epoch.
    public func check(_ message: UnsafeRawBufferPointer, now: UInt64) -> TSIGRequestCheck {
        check(message, found: TSIGWire.find(message), now: now)
    }

    /// ``check(_:now:)`` for a query whose read noted its TSIG record at `offset`
    /// (`ParsedQuery.tsigOffset`): the record is read there, not searched for.
    public func check(_ message: UnsafeRawBufferPointer, tsigAt offset: Int, now: UInt64) -> TSIGRequestCheck {
        check(message, found: TSIGWire.record(message, at: offset), now: now)
    }

    private func check(_ message: UnsafeRawBufferPointer, found: TSIGWire.Found, now: UInt64) -> TSIGRequestCheck {
        let r: TSIGRecord
        switch found {
        case .none: return .unsigned
        case .malformed: return .formErr
        case .record(let x): r = x
        }
        // §5.2.1: an unknown key, or a known name with another algorithm.
        guard let key = keys.first(where: { $0.wireName == r.keyName }), key.algorithm.wireName == r.algorithm else {
            return .refused(.badKey, r, nil)
        }
        // §5.2.2.1: a MAC longer than the hash, or shorter than max(10, half the hash), is
        // malformed. Truncated MACs above that floor are checked, then refused by §5.2.4.
        let full = key.algorithm.macLength
        guard r.mac.count <= full, r.mac.count >= max(10, full / 2) else { return .formErr }
        // The digest: the request without its TSIG (original ID, ARCOUNT one less), hashed in
        // place, then the TSIG variables (RFC 8945 §4.3).
        var header = (UInt64(0), UInt32(0))
        var variables: [UInt8] = []
        TSIGWire.appendVariables(&variables, keyName: r.keyName, algorithm: r.algorithm, time: r.timeSigned,
                                 fudge: r.fudge, error: r.error, other: r.other)
        let expected = withUnsafeMutableBytes(of: &header) { h -> [UInt8] in
            h.copyMemory(from: UnsafeRawBufferPointer(rebasing: message[0..<DNSWire.headerSize]))
            h[0] = UInt8(r.originalID >> 8); h[1] = UInt8(r.originalID & 0xFF)
            let ar = (UInt16(h[10]) << 8 | UInt16(h[11])) &- 1
            h[10] = UInt8(ar >> 8); h[11] = UInt8(ar & 0xFF)
            return key.algorithm.mac(secret: key.secret) { add in
                add(UnsafeRawBufferPointer(h))
                add(UnsafeRawBufferPointer(rebasing: message[DNSWire.headerSize..<r.start]))
                variables.withUnsafeBytes { add($0) }
            }
        }
        guard TSIGWire.equal(Array(expected.prefix(r.mac.count)), r.mac) else { return .refused(.badSig, r, nil) }
        let session = TSIGSession(key: key, priorMAC: r.mac, originalID: r.originalID)
        // §5.2.3: outside the fudge window; the answer is signed so the client can trust it.
        guard TSIGWire.timely(r.timeSigned, fudge: r.fudge, now: now) else { return .refused(.badTime, r, session) }
        // §5.2.4: our policy takes only untruncated MACs.
        guard r.mac.count == full else { return .refused(.badTrunc, r, session) }
        return .verified(session)
    }

    /// The NOTAUTH answer for a refused request: the query's header and question, RCODE 9 and
    /// a TSIG record with the error (RFC 8945 §5.3.2): unsigned for BADKEY/BADSIG, signed for
    /// BADTIME (the request's time in Time Signed, ours in Other Data) and BADTRUNC.
    public static func errorResponse(query: UnsafeRawBufferPointer, error: TSIGError, record r: TSIGRecord,
                                     session: TSIGSession?, now: UInt64) -> [UInt8] {
        var m = TSIGWire.headerAndQuestion(query, rcode: 9)
        if var session {
            if error == .badTime {
                var other: [UInt8] = []
                TSIGWire.append48(&other, now)
                session.sign(&m, now: now, error: error, timeSigned: r.timeSigned, fudge: r.fudge, other: other)
            } else {
                session.sign(&m, now: now, error: error)
            }
        } else {
            TSIGWire.appendRecord(&m, keyName: r.keyName, algorithm: r.algorithm, time: now, fudge: TSIGWire.fudge,
                                  mac: [], originalID: r.originalID, error: error.rawValue, other: [])
        }
        return m
    }
}

/// TSIG wire helpers (RFC 8945 §4).
public enum TSIGWire {
    /// Seconds of clock skew we allow and ask for (RFC 8945 §10 recommends 300).
    public static let fudge: UInt16 = 300
    static let type: UInt16 = 250
    static let classANY: UInt16 = 255

    /// Whether `message` carries a TSIG record anywhere after the question (a walk over the
    /// records; no allocation), for callers without a parsed query.
    public static func carriesTSIG(_ message: UnsafeRawBufferPointer) -> Bool {
        guard message.count >= 12 else { return false }
        let ar = Int(message[10]) << 8 | Int(message[11])
        if ar == 0 { return false }
        let qd = Int(message[4]) << 8 | Int(message[5])
        let records = (Int(message[6]) << 8 | Int(message[7])) + (Int(message[8]) << 8 | Int(message[9])) + ar
        var i = 12
        var q = 0
        while q < qd {
            guard let end = skipName(message, i), end + 4 <= message.count else { return false }
            i = end + 4; q += 1
        }
        var r = 0
        while r < records {
            guard let end = skipName(message, i), end + 10 <= message.count else { return false }
            if Int(message[end]) << 8 | Int(message[end + 1]) == Int(type) { return true }
            i = end + 10 + (Int(message[end + 8]) << 8 | Int(message[end + 9]))
            r += 1
        }
        return false
    }

    enum Found: Equatable {
        case none, malformed
        case record(TSIGRecord)
        static func == (a: Found, b: Found) -> Bool {
            switch (a, b) {
            case (.none, .none), (.malformed, .malformed): true
            default: false
            }
        }
    }

    /// Locates and reads the TSIG record; `.malformed` when one is present anywhere but last
    /// in the additional section, or cannot be read (RFC 8945 §5.2).
    static func find(_ m: UnsafeRawBufferPointer) -> Found {
        guard m.count >= 12 else { return .none }
        let qd = Int(m[4]) << 8 | Int(m[5])
        let ar = Int(m[10]) << 8 | Int(m[11])
        let total = (Int(m[6]) << 8 | Int(m[7])) + (Int(m[8]) << 8 | Int(m[9])) + ar
        var i = 12
        for _ in 0..<qd {
            guard let end = skipName(m, i), end + 4 <= m.count else { return .none }
            i = end + 4
        }
        for k in 0..<total {
            let start = i
            guard let end = skipName(m, i), end + 10 <= m.count else { return .malformed }
            let type = UInt16(m[end]) << 8 | UInt16(m[end + 1])
            let rdlen = Int(m[end + 8]) << 8 | Int(m[end + 9])
            let rdata = end + 10
            guard rdata + rdlen <= m.count else { return .malformed }
            i = rdata + rdlen
            guard type == Self.type else { continue }
            guard k == total - 1 else { return .malformed }
            return record(m, at: start)
        }
        return .none
    }

    /// Reads the TSIG record whose owner name starts at `start`; `.malformed` unless it is a
    /// readable TSIG record that ends the message inside the additional section (RFC 8945 §5.2).
    static func record(_ m: UnsafeRawBufferPointer, at start: Int) -> Found {
        guard m.count >= 12, start >= 12, start < m.count else { return .malformed }
        let ar = Int(m[10]) << 8 | Int(m[11])
        guard let end = skipName(m, start), end + 10 <= m.count else { return .malformed }
        let type = UInt16(m[end]) << 8 | UInt16(m[end + 1])
        let rdlen = Int(m[end + 8]) << 8 | Int(m[end + 9])
        let rdata = end + 10
        let i = rdata + rdlen
        guard type == Self.type, ar > 0, i == m.count,
              let owner = readName(m, start) else { return .malformed }
        guard let (alg, a) = readName(m, rdata).map({ ($0.name, $0.end) }), a + 10 <= i else { return .malformed }
        let time = UInt64(m[a]) << 40 | UInt64(m[a + 1]) << 32 | UInt64(m[a + 2]) << 24
            | UInt64(m[a + 3]) << 16 | UInt64(m[a + 4]) << 8 | UInt64(m[a + 5])
        let fudge = UInt16(m[a + 6]) << 8 | UInt16(m[a + 7])
        let macSize = Int(m[a + 8]) << 8 | Int(m[a + 9])
        let macAt = a + 10
        guard macAt + macSize + 6 <= i else { return .malformed }
        let o = macAt + macSize
        let otherLen = Int(m[o + 4]) << 8 | Int(m[o + 5])
        guard o + 6 + otherLen == i else { return .malformed }
        return .record(TSIGRecord(
            start: start, keyName: owner.name, algorithm: alg, timeSigned: time, fudge: fudge,
            mac: Array(m[macAt..<o]), originalID: UInt16(m[o]) << 8 | UInt16(m[o + 1]),
            error: UInt16(m[o + 2]) << 8 | UInt16(m[o + 3]), other: Array(m[(o + 6)..<(o + 6 + otherLen)])))
    }

    /// The message without its TSIG record, ARCOUNT one less.
    static func strip(_ message: [UInt8], _ r: TSIGRecord) -> [UInt8] {
        var out = Array(message[..<r.start])
        let ar = (UInt16(out[10]) << 8 | UInt16(out[11])) &- 1
        out[10] = UInt8(ar >> 8); out[11] = UInt8(ar & 0xFF)
        return out
    }

    /// End of the name at `i` (after its last label or its compression pointer).
    static func skipName(_ m: UnsafeRawBufferPointer, _ start: Int) -> Int? {
        var i = start
        while i < m.count {
            let n = Int(m[i])
            if n == 0 { return i + 1 }
            if n & 0xC0 == 0xC0 { return i + 2 <= m.count ? i + 2 : nil }
            guard n < 64 else { return nil }
            i += 1 + n
        }
        return nil
    }

    /// The name at `start`, decompressed and lower-cased, and where it ends in the message.
    static func readName(_ m: UnsafeRawBufferPointer, _ start: Int) -> (name: [UInt8], end: Int)? {
        var out: [UInt8] = []
        var i = start
        var end: Int? = nil
        var jumps = 0
        while i < m.count {
            let n = Int(m[i])
            if n == 0 { out.append(0); return (out, end ?? i + 1) }
            if n & 0xC0 == 0xC0 {
                guard i + 1 < m.count, jumps < 64 else { return nil }
                if end == nil { end = i + 2 }
                i = (n & 0x3F) << 8 | Int(m[i + 1])
                jumps += 1
                continue
            }
            guard n < 64, i + 1 + n <= m.count, out.count + n + 2 <= 255 else { return nil }
            out.append(UInt8(n))
            for b in m[(i + 1)...(i + n)] { out.append(b >= 65 && b <= 90 ? b | 0x20 : b) }
            i += 1 + n
        }
        return nil
    }

    /// `a.b.` or `a.b` → wire form; nil for an empty label or one over 63 bytes.
    public static func encodeName(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        var t = Substring(text)
        if t.hasSuffix(".") { t = t.dropLast() }
        if !t.isEmpty {
            for label in t.split(separator: ".", omittingEmptySubsequences: false) {
                guard !label.isEmpty, label.utf8.count < 64 else { return nil }
                out.append(UInt8(label.utf8.count)); out += Array(label.utf8)
            }
        }
        out.append(0)
        return out.count <= 255 ? out : nil
    }

    static func append16(_ b: inout [UInt8], _ v: UInt16) { b.append(UInt8(v >> 8)); b.append(UInt8(v & 0xFF)) }
    static func append48(_ b: inout [UInt8], _ v: UInt64) {
        for s in stride(from: 40, through: 0, by: -8) { b.append(UInt8((v >> UInt64(s)) & 0xFF)) }
    }

    static func appendVariables(_ d: inout [UInt8], key: TSIGKey, time: UInt64, fudge: UInt16, error: UInt16, other: [UInt8]) {
        appendVariables(&d, keyName: key.wireName, algorithm: key.algorithm.wireName, time: time, fudge: fudge,
                        error: error, other: other)
    }

    /// TSIG variables (RFC 8945 §4.3.3): name, class ANY, TTL 0, algorithm, timers, error, other.
    static func appendVariables(_ d: inout [UInt8], keyName: [UInt8], algorithm: [UInt8], time: UInt64,
                                fudge: UInt16, error: UInt16, other: [UInt8]) {
        d += keyName
        append16(&d, classANY)
        d += [0, 0, 0, 0]
        d += algorithm
        appendTimers(&d, time: time, fudge: fudge)
        append16(&d, error)
        append16(&d, UInt16(other.count))
        d += other
    }

    /// TSIG timers (RFC 8945 §4.3.3): Time Signed and Fudge.
    static func appendTimers(_ d: inout [UInt8], time: UInt64, fudge: UInt16) {
        append48(&d, time)
        append16(&d, fudge)
    }

    static func appendRecord(_ m: inout [UInt8], key: TSIGKey, time: UInt64, fudge: UInt16, mac: [UInt8],
                             originalID: UInt16, error: UInt16, other: [UInt8]) {
        appendRecord(&m, keyName: key.wireName, algorithm: key.algorithm.wireName, time: time, fudge: fudge,
                     mac: mac, originalID: originalID, error: error, other: other)
    }

    /// Appends the TSIG RR (RFC 8945 §4.2) and counts it in ARCOUNT.
    static func appendRecord(_ m: inout [UInt8], keyName: [UInt8], algorithm: [UInt8], time: UInt64, fudge: UInt16,
                             mac: [UInt8], originalID: UInt16, error: UInt16, other: [UInt8]) {
        appendRR(&m, keyName: keyName, algorithm: algorithm, time: time, fudge: fudge, mac: mac,
                 originalID: originalID, error: error, other: other)
        let ar = (UInt16(m[10]) << 8 | UInt16(m[11])) &+ 1
        m[10] = UInt8(ar >> 8); m[11] = UInt8(ar & 0xFF)
    }

    /// Appends the TSIG RR (RFC 8945 §4.2) alone, counting nothing.
    static func appendRR(_ m: inout [UInt8], keyName: [UInt8], algorithm: [UInt8], time: UInt64, fudge: UInt16,
                         mac: [UInt8], originalID: UInt16, error: UInt16, other: [UInt8]) {
        m += keyName
        append16(&m, type)
        append16(&m, classANY)
        m += [0, 0, 0, 0]
        append16(&m, UInt16(algorithm.count + 16 + mac.count + other.count))
        m += algorithm
        appendTimers(&m, time: time, fudge: fudge)
        append16(&m, UInt16(mac.count))
        m += mac
        append16(&m, originalID)
        append16(&m, error)
        append16(&m, UInt16(other.count))
        m += other
    }

    /// A response header (QR, the query's opcode and RD, `rcode`) and the query's first question.
    package static func headerAndQuestion(_ q: UnsafeRawBufferPointer, rcode: UInt8) -> [UInt8] {
        guard q.count >= 12 else { return [] }
        var qEnd = 12
        let qd = Int(q[4]) << 8 | Int(q[5])
        if qd >= 1, let end = skipName(q, 12), end + 4 <= q.count { qEnd = end + 4 }
        var m: [UInt8] = [q[0], q[1], 0x80 | (q[2] & 0x79), rcode & 0x0F, 0, qEnd > 12 ? 1 : 0, 0, 0, 0, 0, 0, 0]
        m += q[12..<qEnd]
        return m
    }

    /// Whether `time` is within `fudge` seconds of `now` (RFC 8945 §5.2.3).
    static func timely(_ time: UInt64, fudge: UInt16, now: UInt64) -> Bool {
        (time > now ? time - now : now - time) <= UInt64(fudge)
    }

    /// Compares MACs in time independent of where they differ.
    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var d: UInt8 = 0
        for i in a.indices { d |= a[i] ^ b[i] }
        return d == 0
    }
}
