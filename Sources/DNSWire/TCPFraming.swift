/// What the front of a TCP byte stream holds (RFC 1035 §4.2.2: every message is preceded by its
/// length as a 2-byte big-endian integer).
public enum TCPFrame: Sendable, Hashable {
    /// Fewer bytes than the length prefix announces (or than the prefix itself): wait for more.
    case incomplete
    /// A zero length prefix: not a DNS message; nothing sensible can follow on this stream.
    case empty
    /// A whole message of `length` bytes (1…65535) at bytes `2..<2 + length`; the frame
    /// occupies `2 + length` bytes of the stream.
    case message(length: Int)
}

extension DNSWire {
    /// Splits the next frame off the start of `stream`, the bytes received on a TCP connection
    /// and not yet consumed. Pure and allocation-free: the TCP server and the fuzz target use
    /// this same function, so the framing the fuzzer explores is the framing that serves.
    @inlinable
    public static func nextTCPFrame(_ stream: UnsafeRawBufferPointer) -> TCPFrame {
        guard stream.count >= 2 else { return .incomplete }
        let length = Int(stream.readU16(at: 0))
        if length == 0 { return .empty }
        return stream.count >= 2 + length ? .message(length: length) : .incomplete
    }
}
