// API CONTRACT (skeleton). The answer helper fills in the bodies; DNSBLServer programs against
// these signatures.
import PrefixStore
import DNSWire

/// Transport a query arrived on: decides the size limit (UDP: 512 without EDNS, else the
/// negotiated payload size; TCP: 65535).
public enum Transport: Sendable { case udp, tcp }

/// Answer options fixed for one serving snapshot.
public struct AnswerOptions: Sendable {
    /// Our EDNS UDP payload size in bytes (RFC 6891 §6.2.5); default 1232.
    public var udpPayloadSize: Int = 1232
    /// Identity for NSID (RFC 5001) and `id.server`; `nil` disables both (REFUSED).
    public var identity: [UInt8]? = nil
    /// Text for CH TXT `version.bind`; `nil` disables it (REFUSED).
    public var version: [UInt8]? = Array("prefixbl".utf8)
    /// Add the zone's NS RRset to AUTHORITY of positive answers (rbldnsd -A); default minimal.
    public var nsInAuthority: Bool = false
    public init() {}
}

/// What happened to one query, for logs and metrics. Plain values; building it allocates nothing.
public struct AnswerOutcome: Sendable {
    /// Response length in bytes written into the caller's buffer; 0 = send nothing.
    public var length: Int = 0
    public var rcode: UInt8 = 0
    public var qtype: UInt16 = 0
    public var answerCount: UInt16 = 0
    public var truncated: Bool = false
    /// The QNAME named a listed address.
    public var listed: Bool = false
    public init() {}
}

/// Answers DNS queries from an immutable set of stores (one serving snapshot).
/// Thread-safe: many transport threads call ``respond(to:transport:into:)`` at once.
public final class Responder: Sendable {
    public let options: AnswerOptions
    public let stores: [Store]

    /// - Parameters:
    ///   - stores: the stores to answer from; a zone present in several stores unites its datasets.
    ///   - now: Unix seconds used for `$TIMESTAMP` expiry checks.
    public init(stores: [Store], options: AnswerOptions = AnswerOptions(), now: UInt64 = 0) {
        self.stores = stores
        self.options = options
    }

    /// Writes the response to `query` into `response` (which must hold 65535 bytes for TCP,
    /// at least `options.udpPayloadSize` for UDP). Never throws, never allocates in steady state.
    /// - Returns: the outcome; `outcome.length == 0` means send nothing (QR=1 input, unreadable header).
    public func respond(to query: UnsafeRawBufferPointer, transport: Transport,
                        into response: UnsafeMutableRawBufferPointer) -> AnswerOutcome {
        AnswerOutcome()
    }
}
