import Crypto

/// DNSSEC signing algorithms this module implements (IANA "DNS Security Algorithm Numbers").
public enum DNSSECAlgorithm: UInt8, Sendable, CaseIterable {
    /// ECDSA on curve P-256 with SHA-256 (RFC 6605): 64-byte public keys and signatures.
    case ecdsaP256SHA256 = 13
    /// Ed25519 (RFC 8080): 32-byte public keys, 64-byte signatures.
    case ed25519 = 15

    /// The mnemonic BIND and ldns write in a `.private` file (`ECDSAP256SHA256`, `ED25519`).
    public var mnemonic: String {
        switch self {
        case .ecdsaP256SHA256: "ECDSAP256SHA256"
        case .ed25519: "ED25519"
        }
    }

    /// Public key length in bytes as carried in DNSKEY RDATA.
    public var publicKeyLength: Int { self == .ecdsaP256SHA256 ? 64 : 32 }
}

/// DNSKEY flag bits (RFC 4034 §2.1.1, RFC 5011 §7).
public enum DNSKEYFlags {
    /// Zone Key: set on every key that signs zone data.
    public static let zone: UInt16 = 0x0100
    /// Secure Entry Point: a key-signing key (flags 257).
    public static let sep: UInt16 = 0x0001
    /// RFC 5011 REVOKE.
    public static let revoke: UInt16 = 0x0080
}

/// The public half of a zone key: a DNSKEY RR (RFC 4034 §2).
public struct DNSKEYRecord: Sendable, Hashable, CustomStringConvertible {
    /// The owner, the zone's apex: lower-cased uncompressed wire form.
    public let owner: [UInt8]
    /// 256 for a zone-signing key, 257 for a key-signing key (SEP).
    public let flags: UInt16
    public let algorithm: DNSSECAlgorithm
    /// The public key as DNSKEY RDATA carries it: P-256 `x‖y` (64 bytes, RFC 6605 §4) or the
    /// Ed25519 key (32 bytes, RFC 8080 §3).
    public let publicKey: [UInt8]

    public init(owner: [UInt8], flags: UInt16, algorithm: DNSSECAlgorithm, publicKey: [UInt8]) {
        self.owner = owner; self.flags = flags; self.algorithm = algorithm; self.publicKey = publicKey
    }

    /// Whether the SEP bit is set (flags 257): the key signs the DNSKEY RRset.
    public var isSEP: Bool { flags & DNSKEYFlags.sep != 0 }

    /// DNSKEY RDATA: flags (2 bytes), protocol 3, algorithm, public key (RFC 4034 §2.1).
    public var rdata: [UInt8] {
        [UInt8(flags >> 8), UInt8(flags & 0xFF), 3, algorithm.rawValue] + publicKey
    }

    /// The key tag of RFC 4034 Appendix B over ``rdata``.
    public var keyTag: UInt16 { Self.keyTag(rdata: rdata) }

    /// The key tag of RFC 4034 Appendix B: the one's-complement-style sum of the RDATA as
    /// 16-bit big-endian words, folded once. (Algorithm 1 is not supported, so its special
    /// rule is not needed.)
    public static func keyTag(rdata: [UInt8]) -> UInt16 {
        var ac: UInt32 = 0
        for (i, b) in rdata.enumerated() { ac += (i & 1) == 1 ? UInt32(b) : UInt32(b) << 8 }
        ac += (ac >> 16) & 0xFFFF
        return UInt16(ac & 0xFFFF)
    }

    /// The DS the parent publishes for this key, digest type 2: SHA-256 over the owner's
    /// canonical wire form followed by ``rdata`` (RFC 4034 §5.1.4, RFC 4509 §2.1).
    public var ds: DSRecord {
        let digest = Array(SHA256.hash(data: owner + rdata))
        return DSRecord(owner: owner, keyTag: keyTag, algorithm: algorithm.rawValue, digestType: 2, digest: digest)
    }

    /// Presentation form, one line: `bl.example. IN DNSKEY 256 3 13 <base64>`.
    public var description: String {
        "\(CanonicalName.text(owner)) IN DNSKEY \(flags) 3 \(algorithm.rawValue) \(DNSSECText.base64(publicKey))"
    }
}

/// A DS RR (RFC 4034 §5).
public struct DSRecord: Sendable, Hashable, CustomStringConvertible {
    /// The child zone's apex, lower-cased wire form.
    public let owner: [UInt8]
    public let keyTag: UInt16
    public let algorithm: UInt8
    /// 2 = SHA-256 (RFC 4509).
    public let digestType: UInt8
    public let digest: [UInt8]

    /// DS RDATA: key tag, algorithm, digest type, digest (RFC 4034 §5.1).
    public var rdata: [UInt8] { [UInt8(keyTag >> 8), UInt8(keyTag & 0xFF), algorithm, digestType] + digest }

    /// Presentation form as `dnssec-dsfromkey` prints it:
    /// `bl.example. IN DS 11735 15 2 B635…` (digest in upper-case hexadecimal).
    public var description: String {
        "\(CanonicalName.text(owner)) IN DS \(keyTag) \(algorithm) \(digestType) \(DNSSECText.hex(digest))"
    }
}

/// Why a key pair could not be used. The text names the file and what is wrong with it and
/// never contains private key material.
public struct DNSSECKeyError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// A file of the pair is missing or unreadable.
        case unreadable
        /// The `.key` file holds no single well-formed DNSKEY RR.
        case badPublicKey
        /// The `.private` file lacks a field or has a malformed one.
        case badPrivateKey
        /// An algorithm other than 13 and 15.
        case unsupportedAlgorithm
        /// The DNSKEY owner is not a valid domain name.
        case badOwner
        /// The flags are not those of a zone key (256 or 257).
        case badFlags
        /// The public key in `.key` is not the one of the private key in `.private`.
        case mismatch
    }
    public let code: Code
    /// The file the problem is in.
    public let file: String
    /// What is wrong, without secret material.
    public let reason: String

    public init(_ code: Code, file: String, _ reason: String) {
        self.code = code; self.file = file; self.reason = reason
    }

    public var description: String { "\(file): \(reason)" }
}

/// Why a signature could not be made (the cryptographic library refused).
public struct DNSSECSigningError: Error, Sendable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// A zone key pair: the DNSKEY and its private key. `description`, `debugDescription` and the
/// mirror show only the public part, so the key can be logged or dumped without leaking.
public struct SigningKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    enum Secret: @unchecked Sendable {
        case p256(P256.Signing.PrivateKey)
        case ed25519(Curve25519.Signing.PrivateKey)
    }

    /// The public half, as the zone publishes it.
    public let dnskey: DNSKEYRecord
    /// Where the pair was read from (the base name, for messages).
    public let source: String
    /// When the key is published and signs (the `.private` file's timing fields).
    public var timing: KeyTiming
    let secret: Secret

    /// Parses a BIND-format key pair as dnssec-keygen, ldns-keygen and Knot's keymgr write
    /// them: `publicText` is the `.key` file (one DNSKEY RR; `;` comments, an optional TTL and
    /// class, the base64 split by spaces or parentheses), `privateText` the `.private` file
    /// (`Private-key-format: v1.x`, `Algorithm: 13 (ECDSAP256SHA256)`, `PrivateKey: <base64>`).
    /// - Parameters:
    ///   - publicFile: the `.key` file's name, used only in error messages.
    ///   - publicText: the `.key` file's text.
    ///   - privateFile: the `.private` file's name, used only in error messages.
    ///   - privateText: the `.private` file's text.
    /// - Throws: ``DNSSECKeyError`` naming the file: not exactly one DNSKEY, owner not a valid
    ///   name, flags not 256/257, protocol not 3, `unsupported algorithm N`, fields missing,
    ///   base64 corrupt, the algorithms of the two files differ, or the public key is not the
    ///   private key's.
    public init(publicFile: String, publicText: String, privateFile: String, privateText: String) throws(DNSSECKeyError) {
        let pub = try Self.parsePublic(publicText, file: publicFile)
        guard pub.flags & DNSKEYFlags.zone != 0, pub.flags & ~(DNSKEYFlags.zone | DNSKEYFlags.sep) == 0 else {
            throw DNSSECKeyError(.badFlags, file: publicFile, "DNSKEY flags \(pub.flags) are not those of a zone key (256 or 257)")
        }
        guard let algorithm = DNSSECAlgorithm(rawValue: pub.algorithm) else {
            throw DNSSECKeyError(.unsupportedAlgorithm, file: publicFile,
                                 "unsupported algorithm \(pub.algorithm) (supported: 13 ECDSAP256SHA256, 15 ED25519)")
        }
        guard pub.key.count == algorithm.publicKeyLength else {
            throw DNSSECKeyError(.badPublicKey, file: publicFile,
                                 "public key is \(pub.key.count) bytes, algorithm \(algorithm.rawValue) needs \(algorithm.publicKeyLength)")
        }
        let (seed, timing) = try Self.parsePrivate(privateText, file: privateFile, algorithm: algorithm)
        let secret: Secret
        let derived: [UInt8]
        do {
            switch algorithm {
            case .ecdsaP256SHA256:
                let k = try P256.Signing.PrivateKey(rawRepresentation: seed)
                secret = .p256(k); derived = Array(k.publicKey.rawRepresentation)
            case .ed25519:
                let k = try Curve25519.Signing.PrivateKey(rawRepresentation: seed)
                secret = .ed25519(k); derived = Array(k.publicKey.rawRepresentation)
            }
        } catch {
            throw DNSSECKeyError(.badPrivateKey, file: privateFile, "PrivateKey is not a valid \(algorithm.mnemonic) private key")
        }
        guard derived == pub.key else {
            throw DNSSECKeyError(.mismatch, file: publicFile, "the public key does not match the private key in \(privateFile)")
        }
        self.dnskey = DNSKEYRecord(owner: pub.owner, flags: pub.flags, algorithm: algorithm, publicKey: pub.key)
        self.secret = secret
        self.timing = timing
        var base = publicFile
        if base.hasSuffix(".key") { base.removeLast(4) }
        self.source = base
    }

    public var description: String {
        "SigningKey(\(CanonicalName.text(dnskey.owner)) \(dnskey.algorithm.mnemonic) tag \(dnskey.keyTag) flags \(dnskey.flags))"
    }
    public var debugDescription: String { description }
    public var customMirror: Mirror {
        Mirror(self, children: ["dnskey": dnskey, "source": source], displayStyle: .struct)
    }

    /// Signs `data`: a P-256 signature as raw `r‖s`, 64 bytes (RFC 6605 §4), or an Ed25519
    /// signature, 64 bytes (RFC 8080 §4).
    /// - Throws: ``DNSSECSigningError`` when the cryptographic library fails.
    public func sign(_ data: [UInt8]) throws(DNSSECSigningError) -> [UInt8] {
        do {
            switch secret {
            case .p256(let k): return Array(try k.signature(for: data).rawRepresentation)
            case .ed25519(let k): return Array(try k.signature(for: data))
            }
        } catch {
            throw DNSSECSigningError("\(dnskey.algorithm.mnemonic) signing failed")
        }
    }

    struct PublicParts { var owner: [UInt8]; var flags: UInt16; var algorithm: UInt8; var key: [UInt8] }

    static func parsePublic(_ text: String, file: String) throws(DNSSECKeyError) -> PublicParts {
        // Tokens of the whole file: comments dropped, parentheses as separators (RFC 1035 §5.1).
        var tokens: [Substring] = []
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            let body = line.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            tokens += body.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "(" || $0 == ")" })
        }
        let marks = tokens.indices.filter { tokens[$0].uppercased() == "DNSKEY" }
        guard marks.count == 1, let at = marks.first else {
            throw DNSSECKeyError(.badPublicKey, file: file,
                                 marks.isEmpty ? "no DNSKEY record" : "\(marks.count) DNSKEY records; a key file holds one")
        }
        guard at >= 1, at <= 3, tokens.count >= at + 5 else {
            throw DNSSECKeyError(.badPublicKey, file: file, "a DNSKEY line is `owner [TTL] [IN] DNSKEY flags 3 algorithm key`")
        }
        for t in tokens[1..<at] where !(t.uppercased() == "IN" || t.allSatisfy(\.isNumber)) {
            throw DNSSECKeyError(.badPublicKey, file: file, "unexpected '\(t)' before DNSKEY")
        }
        let ownerText = String(tokens[0])
        guard let owner = CanonicalName.parse(ownerText), ownerText.hasSuffix(".") else {
            throw DNSSECKeyError(.badOwner, file: file, "owner '\(ownerText)' is not a valid absolute domain name")
        }
        guard let flags = UInt16(tokens[at + 1]), let proto = UInt8(tokens[at + 2]), let alg = UInt8(tokens[at + 3]) else {
            throw DNSSECKeyError(.badPublicKey, file: file, "DNSKEY flags, protocol and algorithm must be numbers")
        }
        guard proto == 3 else {
            throw DNSSECKeyError(.badPublicKey, file: file, "DNSKEY protocol is \(proto), must be 3 (RFC 4034 §2.1.2)")
        }
        let joined = tokens[(at + 4)...].joined()
        guard let key = DNSSECText.decodeBase64(Substring(joined).utf8) else {
            throw DNSSECKeyError(.badPublicKey, file: file, "the DNSKEY public key is not valid base64")
        }
        return PublicParts(owner: owner, flags: flags, algorithm: alg, key: key)
    }

    static func parsePrivate(_ text: String, file: String, algorithm: DNSSECAlgorithm) throws(DNSSECKeyError) -> ([UInt8], KeyTiming) {
        var fields: [String: Substring] = [:]
        for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingSpaces.lowercased()
            fields[key] = line[line.index(after: colon)...].trimmingSpaces
        }
        // Nothing read from this file is echoed into a message: it holds the secret.
        guard let format = fields["private-key-format"] else {
            throw DNSSECKeyError(.badPrivateKey, file: file, "no Private-key-format line: not a BIND private key file")
        }
        guard format.hasPrefix("v1.") else {
            throw DNSSECKeyError(.badPrivateKey, file: file, "Private-key-format is not v1.x")
        }
        guard let algText = fields["algorithm"], let algNumber = UInt8(algText.prefix(while: \.isNumber)) else {
            throw DNSSECKeyError(.badPrivateKey, file: file, "no numeric Algorithm line")
        }
        guard let alg = DNSSECAlgorithm(rawValue: algNumber) else {
            throw DNSSECKeyError(.unsupportedAlgorithm, file: file,
                                 "unsupported algorithm \(algNumber) (supported: 13 ECDSAP256SHA256, 15 ED25519)")
        }
        guard alg == algorithm else {
            throw DNSSECKeyError(.mismatch, file: file, "algorithm \(alg.rawValue) differs from the .key file's \(algorithm.rawValue)")
        }
        guard let b64 = fields["privatekey"] else {
            throw DNSSECKeyError(.badPrivateKey, file: file, "no PrivateKey line")
        }
        guard var seed = DNSSECText.decodeBase64(b64.utf8) else {
            throw DNSSECKeyError(.badPrivateKey, file: file, "PrivateKey is not valid base64")
        }
        // An ECDSA private key is an integer, and ldns-keygen (OpenSSL's BN_bn2bin) writes it
        // without leading zero bytes: one key in 256 has 31 bytes. Padded back to the field
        // size; a wrong one then fails the public-key match. An Ed25519 seed is 32 bytes as is.
        if alg == .ecdsaP256SHA256, (1..<32).contains(seed.count) {
            seed = [UInt8](repeating: 0, count: 32 - seed.count) + seed
        }
        guard seed.count == 32 else {
            throw DNSSECKeyError(.badPrivateKey, file: file, "PrivateKey is \(seed.count) bytes, \(alg.mnemonic) needs 32")
        }
        var timing = KeyTiming()
        for (field, name) in [("created", "Created"), ("publish", "Publish"), ("activate", "Activate"),
                              ("inactive", "Inactive"), ("delete", "Delete")] {
            guard let text = fields[field] else { continue }
            // Timing fields are not secret: the value may be quoted back.
            guard let t = KeyTiming.parseTime(text) else {
                throw DNSSECKeyError(.badPrivateKey, file: file, "\(name): '\(text.prefix(20))' is not a time YYYYMMDDHHMMSS (UTC)")
            }
            switch field {
            case "created": timing.created = t
            case "publish": timing.publish = t
            case "activate": timing.activate = t
            case "inactive": timing.inactive = t
            default: timing.delete = t
            }
        }
        return (seed, timing)
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return s
    }
}

/// A key's timing metadata as `dnssec-keygen -P/-A/-I/-D` and `dnssec-settime` write it in the
/// `.private` file (`Created:`, `Publish:`, `Activate:`, `Inactive:`, `Delete:`, each
/// `YYYYMMDDHHMMSS` in UTC), as Unix seconds; nil = the field is absent.
///
/// The rules (those of BIND's `dnssec-signzone` and `dnssec-policy`):
/// - a key with no timing field at all (ldns-keygen writes none) is published and signs always;
/// - otherwise it is **published** (in the DNSKEY RRset) from `Publish` (or `Activate`, if
///   earlier or `Publish` is absent) until `Delete`, and **active** (it signs) from `Activate`
///   until `Inactive`, and only while published. A key with `Created` only
///   (`dnssec-keygen -G`) is neither; a key with `Publish` but no `Activate` is published
///   and never signs (ZSK pre-publication).
public struct KeyTiming: Sendable, Hashable {
    public var created: Int64? = nil
    public var publish: Int64? = nil
    public var activate: Int64? = nil
    public var inactive: Int64? = nil
    public var delete: Int64? = nil

    public init(created: Int64? = nil, publish: Int64? = nil, activate: Int64? = nil, inactive: Int64? = nil, delete: Int64? = nil) {
        self.created = created; self.publish = publish; self.activate = activate; self.inactive = inactive; self.delete = delete
    }

    /// No timing field: a key published and active at every time.
    public var isUntimed: Bool { self == KeyTiming() }

    /// Whether the key is in the DNSKEY RRset at Unix time `now`.
    public func isPublished(at now: Int64) -> Bool {
        if isUntimed { return true }
        if let d = delete, d <= now { return false }
        let from = [publish, activate].compactMap { $0 }.min()
        return from.map { $0 <= now } ?? false
    }

    /// Whether the key signs at Unix time `now`.
    public func isActive(at now: Int64) -> Bool {
        if isUntimed { return true }
        guard isPublished(at: now), let a = activate, a <= now else { return false }
        if let i = inactive, i <= now { return false }
        return true
    }

    /// The times at which ``isPublished(at:)`` or ``isActive(at:)`` may change, ascending.
    public var boundaries: [Int64] { Array(Set([publish, activate, inactive, delete].compactMap { $0 })).sorted() }

    /// `YYYYMMDDHHMMSS` (UTC) → Unix seconds; nil when malformed. BIND also accepts a plain
    /// Unix time of fewer digits in a `.private` file, which is taken as is.
    public static func parseTime<S: StringProtocol>(_ text: S) -> Int64? {
        let digits = Array(text.utf8)
        guard !digits.isEmpty, digits.allSatisfy({ (48...57).contains($0) }) else { return nil }
        guard digits.count == 14 else { return digits.count <= 10 ? Int64(String(text)) : nil }
        func num(_ r: Range<Int>) -> Int64 { digits[r].reduce(0) { $0 * 10 + Int64($1 - 48) } }
        let y = num(0..<4), mo = num(4..<6), d = num(6..<8), h = num(8..<10), mi = num(10..<12), s = num(12..<14)
        guard (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, s < 61 else { return nil }
        // Days from the civil date (proleptic Gregorian), after H. Hinnant's algorithm.
        let yy = mo <= 2 ? y - 1 : y
        let era = (yy >= 0 ? yy : yy - 399) / 400
        let yoe = yy - era * 400
        let doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return days * 86_400 + h * 3600 + mi * 60 + s
    }

    /// Unix seconds → `YYYYMMDDHHMMSS` (UTC), as the key files write times.
    public static func text(_ t: Int64) -> String {
        let days = t >= 0 ? t / 86_400 : (t - 86_399) / 86_400
        let secs = t - days * 86_400
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(y)" + two(m) + two(d) + two(secs / 3600) + two(secs % 3600 / 60) + two(secs % 60)
    }
}
