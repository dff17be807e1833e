// The module's only file I/O: reading a key pair from disk. Everything else works on what a
// caller hands it.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension SigningKey {
    /// Reads a BIND-format key pair from disk (before any chroot or privilege drop).
    /// - Parameter path: the base name (`Kbl.example.+013+33812`) or either file of the pair
    ///   (`….key`, `….private`); the other file is found beside it.
    /// - Throws: ``DNSSECKeyError`` naming the file that is missing, unreadable (the system's
    ///   reason) or wrong (see ``init(publicFile:publicText:privateFile:privateText:)``).
    public static func load(path: String) throws(DNSSECKeyError) -> SigningKey {
        var base = path
        if base.hasSuffix(".key") { base.removeLast(4) } else if base.hasSuffix(".private") { base.removeLast(8) }
        let publicFile = base + ".key", privateFile = base + ".private"
        let publicText = try readKeyFile(publicFile)
        let privateText = try readKeyFile(privateFile)
        return try SigningKey(publicFile: publicFile, publicText: publicText, privateFile: privateFile, privateText: privateText)
    }

    /// Reads the key pairs `path` names: a directory (a key directory, as BIND's
    /// `key-directory`) gives every `K*.private` in it that has its `.key` beside it, in name
    /// order; anything else is one pair, as ``load(path:)`` reads it. A directory lets an
    /// operator add the next key of a rollover and have it read at the next reload.
    /// - Throws: ``DNSSECKeyError`` naming the file (or the directory, when it holds no key pair).
    public static func loadAll(path: String) throws(DNSSECKeyError) -> [SigningKey] {
        var notes: [String] = []
        return try loadAll(path: path, notes: &notes)
    }

    /// ``loadAll(path:)`` that also says what a directory held but gave no key: a `K*.private`
    /// without its `.key` (a half-copied rollover; BIND warns of it too) adds one line to
    /// `notes`, naming the file.
    public static func loadAll(path: String, notes: inout [String]) throws(DNSSECKeyError) -> [SigningKey] {
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { return [try load(path: path)] }
        guard let dir = opendir(path) else {
            throw DNSSECKeyError(.unreadable, file: path, "cannot open the directory: \(String(cString: strerror(errno)))")
        }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasPrefix("K"), name.hasSuffix(".private") { names.append(name) }
        }
        closedir(dir)
        let prefix = path.hasSuffix("/") ? path : path + "/"
        var keys: [SigningKey] = []
        for name in names.sorted() {
            let base = prefix + name.dropLast(8)
            // A private file without its public half is not a key pair (a half-copied rollover).
            guard access(base + ".key", F_OK) == 0 else {
                notes.append("\(prefix + name): no \(name.dropLast(8)).key beside it: skipped")
                continue
            }
            keys.append(try load(path: base))
        }
        guard !keys.isEmpty else { throw DNSSECKeyError(.unreadable, file: path, "no key pair (K*.key and K*.private) in the directory") }
        return keys
    }

    /// A key file's text; at most 64 KiB (key files are a few hundred bytes).
    static func readKeyFile(_ path: String) throws(DNSSECKeyError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw DNSSECKeyError(.unreadable, file: path, "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw DNSSECKeyError(.unreadable, file: path, "cannot read: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            bytes += chunk[0..<n]
            if bytes.count > 65536 { throw DNSSECKeyError(.unreadable, file: path, "larger than 64 KiB: not a key file") }
        }
        // Wipe the buffer that held the private key's text before it is freed.
        defer { for i in chunk.indices { chunk[i] = 0 } }
        return String(decoding: bytes, as: UTF8.self)
    }
}
