// The store's memory (a read-only mapping or an owned buffer) and the atomic file writer.
// The only I/O PrefixStore does.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Owner of the bytes a ``Store`` and its tables point into: a read-only private mapping of the
/// store file, or a 64-byte aligned heap buffer. Unmapped / freed in `deinit`.
final class StoreMemory: @unchecked Sendable {
    let base: UnsafeRawPointer
    let count: Int
    private let mapped: Bool

    var mutableBase: UnsafeMutableRawPointer { UnsafeMutableRawPointer(mutating: base) }
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// Buffers at least this large come from an anonymous mapping advised for transparent huge
    /// pages: random lookups then miss the TLB far less (measured +25–50 % lookups/s at 1M
    /// ranges, StoreFormat.md).
    static let hugePageThreshold = 4 << 20

    /// A zero-filled owned buffer of `count` bytes (at least 1), 64-byte aligned.
    init(zeroed count: Int) {
        if count >= StoreMemory.hugePageThreshold,
           let p = mmap(nil, count, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED {
            _ = madvise(p, count, MADV_HUGEPAGE)   // advice only: without THP it is plain memory
            base = UnsafeRawPointer(p); self.count = count; mapped = true
            return
        }
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 64)
        p.initializeMemory(as: UInt8.self, repeating: 0, count: max(count, 1))
        base = UnsafeRawPointer(p); self.count = count; mapped = false
    }

    /// An owned, aligned copy of `bytes`.
    convenience init(copying bytes: [UInt8]) {
        self.init(zeroed: bytes.count)
        bytes.withUnsafeBytes { src in
            if let s = src.baseAddress, !src.isEmpty { mutableBase.copyMemory(from: s, byteCount: src.count) }
        }
    }

    /// Maps `path` read-only. An empty file maps as an empty buffer (validation refuses it).
    init(mapping path: String) throws(StoreError) {
        // O_NONBLOCK: opening a FIFO without a writer would block for ever (a store path
        // replaced by one hung the reload, and SIGTERM behind it); fstat then refuses it.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        if fd < 0 { throw StoreError(.io, "cannot open: \(errnoText())", path: path) }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) != 0 { throw StoreError(.io, "cannot stat: \(errnoText())", path: path) }
        if (st.st_mode & S_IFMT) != S_IFREG { throw StoreError(.io, "not a regular file", path: path) }
        let size = Int(st.st_size)
        if size == 0 {
            let p = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 64)
            base = UnsafeRawPointer(p); count = 0; mapped = false
            return
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw StoreError(.io, "cannot mmap \(size) bytes: \(errnoText())", path: path)
        }
        // No MADV_HUGEPAGE here: measured without effect on file mappings (ext4 page cache),
        // and MAP_POPULATE measured the same as faulting pages in during validation.
        base = UnsafeRawPointer(p); count = size; mapped = true
    }

    deinit {
        if mapped {
            munmap(UnsafeMutableRawPointer(mutating: base), count)
        } else {
            UnsafeMutableRawPointer(mutating: base).deallocate()
        }
    }
}

func errnoText(_ code: Int32 = errno) -> String {
    String(cString: strerror(code)) + " (errno \(code))"
}

enum StoreFile {
    /// Test hook: a write to exactly this path fails after this many bytes of the temp file, as
    /// a full disk would. Never set outside tests.
    nonisolated(unsafe) static var failForTesting: (path: String, afterBytes: Int)? = nil

    /// Temp file in the target directory, write, fsync, rename over `path`, fsync the directory.
    /// On any failure the temp file is removed and `path` is untouched. An existing `path` (or
    /// the file a symbolic link there points to) that is not a regular file is refused before
    /// anything is written: `rename(2)` would replace a device such as `/dev/null` (run as root,
    /// `-o /dev/null` meant "discard") or a directory entry with the store.
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws(StoreError) {
        if path.isEmpty { throw StoreError(.io, "empty output path", path: path) }
        var existing = stat()
        if stat(path, &existing) == 0 && (existing.st_mode & S_IFMT) != S_IFREG {
            let kind = (existing.st_mode & S_IFMT) == S_IFDIR ? "a directory" : "not a regular file"
            throw StoreError(.io, "exists and is \(kind); refusing to replace it with a store", path: path)
        }
        let dir: String
        if let slash = path.lastIndex(of: "/") {
            dir = slash == path.startIndex ? "/" : String(path[..<slash])
        } else {
            dir = "."
        }
        let name = path.split(separator: "/").last.map(String.init) ?? path
        var template = Array(((dir == "/" ? "/" : dir + "/") + "." + name + ".tmp.XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        if fd < 0 { throw StoreError(.io, "cannot create a temp file in \(dir): \(errnoText())", path: path) }
        let tmp = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        var ok = false
        defer {
            if !ok { unlink(tmp) }
        }
        do {
            defer { close(fd) }
            let limit = failForTesting.flatMap { $0.path == path ? $0.afterBytes : nil }
            let failure: StoreError? = bytes.withUnsafeBytes { (buf: UnsafeRawBufferPointer) -> StoreError? in
                var off = 0
                while off < buf.count {
                    var chunk = min(buf.count - off, 1 << 24)
                    if let limit {
                        if off >= limit { return StoreError(.io, "write failed: injected failure after \(limit) bytes", path: path) }
                        chunk = min(chunk, limit - off)
                    }
                    let n = Glibc.write(fd, buf.baseAddress! + off, chunk)
                    if n < 0 {
                        if errno == EINTR { continue }
                        return StoreError(.io, "write failed: \(errnoText())", path: path)
                    }
                    off += n
                }
                return nil
            }
            if let failure { throw failure }
            if fchmod(fd, 0o644) != 0 { throw StoreError(.io, "fchmod failed: \(errnoText())", path: path) }
            if fsync(fd) != 0 { throw StoreError(.io, "fsync failed: \(errnoText())", path: path) }
        }
        if rename(tmp, path) != 0 { throw StoreError(.io, "rename failed: \(errnoText())", path: path) }
        ok = true
        let dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            // The rename is done; a failing directory fsync is reported, the new file stays.
            defer { close(dfd) }
            if fsync(dfd) != 0 { throw StoreError(.io, "fsync of directory \(dir) failed: \(errnoText())", path: path) }
        }
    }
}
