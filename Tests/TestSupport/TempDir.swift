import Foundation

/// A fresh temporary directory (`prefixbl-test-UUID` under the system temporary directory),
/// removed with everything in it when released.
public final class TempDir: Sendable {
    public let path: String

    public init() {
        path = NSTemporaryDirectory() + "prefixbl-test-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `bytes` to `name` inside the directory and returns the file's path.
    @discardableResult
    public func write(_ name: String, _ bytes: [UInt8]) -> String {
        let p = path + "/" + name
        _ = FileManager.default.createFile(atPath: p, contents: Data(bytes))
        return p
    }

    /// Writes `text` as UTF-8 to `name` inside the directory and returns the file's path.
    @discardableResult
    public func write(_ name: String, _ text: String) -> String { write(name, Array(text.utf8)) }
}
