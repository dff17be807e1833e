import CZlib
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a file line by line as raw bytes, gzip-compressed or plain (zlib's `gzread` passes
/// plain files through), in large chunks so a line costs no allocation.
struct LineReader: ~Copyable {
    private let file: gzFile
    private var buffer: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private var start = 0
    private var end = 0
    private var eof = false
    /// Bytes of (uncompressed) input read so far.
    private(set) var bytesRead = 0
    /// Lines delivered so far.
    private(set) var linesDelivered = 0
    /// The longest line accepted, bytes. Without a bound a file without newlines (a binary
    /// file, `/dev/zero`, a generator that lost its line ends) is buffered whole: a reload of
    /// such a file took the serving process's memory until it was killed. No valid line comes
    /// near this (a TXT answer is at most 64 KiB).
    static let maxLineBytes = 1 << 20

    /// Opens `path`. - Throws: ``LineReaderError`` with the OS reason, or for a FIFO, socket or
    /// device: opening a FIFO without a writer blocks for ever (a source file replaced by one
    /// hung the reload, and with it SIGTERM, which waits for the reload), and a device such as
    /// /dev/zero never ends. Explicit streams (`/dev/stdin`, `/dev/fd/N`, `/proc/self/fd/N`, as
    /// `aggregate -` and shell process substitution give) are read as they are.
    init(path: String, chunk: Int = 1 << 20) throws(LineReaderError) {
        var st = stat()
        if stat(path, &st) == 0 {
            let kind = st.st_mode & S_IFMT
            let stream = path == "/dev/stdin" || path.hasPrefix("/dev/fd/") || path.hasPrefix("/proc/self/fd/")
            if kind != S_IFREG && kind != S_IFDIR && !stream {
                throw LineReaderError(reason: "not a regular file (a FIFO or a device could block or never end)")
            }
        }
        guard let f = gzopen(path, "rb") else {
            throw LineReaderError(reason: String(cString: strerror(errno)))
        }
        gzbuffer(f, 256 * 1024)
        file = f
        capacity = chunk
        buffer = .allocate(capacity: chunk)
    }

    deinit {
        gzclose(file)
        buffer.deallocate()
    }

    /// Calls `body` with each line (without its `\n`) as pointer and length. The pointer is
    /// valid only during the call. A last line without a newline is delivered too.
    /// - Throws: ``LineReaderError`` on a read error (a corrupt gzip stream, an I/O error).
    mutating func forEachLine(_ body: (UnsafePointer<UInt8>, Int) -> Void) throws(LineReaderError) {
        while true {
            // Deliver every complete line in the buffer.
            var s = start
            while s < end {
                guard let nl = memchr(buffer + s, 0x0A, end - s) else { break }
                let e = UnsafeMutableRawPointer(nl).assumingMemoryBound(to: UInt8.self) - buffer
                body(UnsafePointer(buffer + s), e - s)
                linesDelivered += 1
                s = e + 1
            }
            start = s
            if eof {
                if start < end {
                    body(UnsafePointer(buffer + start), end - start)
                    linesDelivered += 1
                }
                start = 0; end = 0
                return
            }
            // Move the partial line to the front; grow when one line fills the buffer.
            if start > 0 {
                if end > start { (buffer).update(from: buffer + start, count: end - start) }
                end -= start; start = 0
            }
            if end > LineReader.maxLineBytes {
                throw LineReaderError(
                    reason: "line longer than \(LineReader.maxLineBytes >> 20) MiB without a line end (not a text data file?)",
                    line: linesDelivered + 1)
            }
            if end == capacity {
                let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity * 2)
                bigger.update(from: buffer, count: end)
                buffer.deallocate()
                buffer = bigger; capacity *= 2
            }
            let want = min(capacity - end, Int(Int32.max))
            let n = gzread(file, buffer + end, UInt32(want))
            if n < 0 {
                var code: Int32 = 0
                let msg = gzerror(file, &code).map { String(cString: $0) } ?? "read error"
                throw LineReaderError(reason: msg)
            }
            if n == 0 {
                // A truncated gzip stream ends in Z_BUF_ERROR rather than a clean end.
                var code: Int32 = 0
                let msg = gzerror(file, &code)
                if code != Z_OK && code != Z_STREAM_END {
                    throw LineReaderError(reason: msg.map { String(cString: $0) } ?? "read error")
                }
                eof = true
            }
            end += Int(n); bytesRead += Int(n)
        }
    }
}

/// A file that could not be opened or read.
struct LineReaderError: Error {
    var reason: String
    /// The line being read when it failed, when that is what failed.
    var line: Int? = nil
}
