#if canImport(Glibc)
import Glibc
#endif
import DNSBL
@testable import DNSBLServer
import Foundation
import Logging
import Synchronization
import Testing
import ServerTestSupport
import TestSupport

/// What a reload leaves behind: after N reloads only the serving snapshot may be alive (its
/// store mapped once), whatever held the first one at start.
@Suite("Reload memory: replaced snapshots are released", .serialized)
struct ReloadMemoryTests {
    /// A /proc file read to its end (its size reads as 0).
    static func readProc(_ path: String) -> String {
        guard let f = fopen(path, "r") else { return "" }
        defer { fclose(f) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Mappings of `path` in the process's address space (/proc/PID/maps).
    static func mappings(of path: String, pid: Int32) -> Int {
        // By inode (the fifth field): the path may be reached through a symbolic link.
        var st = stat()
        guard stat(path, &st) == 0 else { return -1 }
        let maps = readProc("/proc/\(pid)/maps")
        return maps.split(separator: "\n").filter { line in
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            return f.count >= 6 && f[4] == "\(st.st_ino)"
        }.count
    }

    @Test("prefixbl serve --store, 6 SIGHUP reloads: the store is mapped once (no old snapshot, not even the first, is kept)")
    func storeMappedOnceAfterReloads() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = dir + "/v4.txt"
        try (":127.0.0.2:Listed\n" + (0..<200).map { "192.0.2.\($0)" }.joined(separator: "\n") + "\n")
            .write(toFile: data, atomically: true, encoding: .utf8)
        let store = dir + "/bl.pfxbl"
        let compiled = try run(prefixblBinary()!, ["compile", "bl.example:ip4set:" + data, "-o", store])
        try #require(compiled.status == 0, "\(compiled.output)")
        let server = try ServeProcess(["--store", store], directory: dir, ipv6: false)
        defer { server.child.signal(SIGTERM); _ = server.child.waitExit() }
        let pid = server.child.process.processIdentifier
        #expect(Self.mappings(of: store, pid: pid) == 1)
        for i in 1...6 {
            server.child.signal(SIGHUP)
            #expect(server.child.waitFor(" reloaded", count: i, timeout: 30), "\(server.child.text)")
            // A query answered from the new snapshot between reloads.
            let r = try udpQuery(server.v4, makeQuery(id: UInt16(i), name: reversedName("192.0.2.7")), timeout: 2, retries: 2)
            #expect(r.flatMap(parseResponse)?.addresses == ["127.0.0.2"])
        }
        // Queries in flight may hold the replaced snapshot for a moment; nothing may hold it longer.
        let deadline = Date().addingTimeInterval(10)
        while Self.mappings(of: store, pid: pid) != 1 && Date() < deadline { usleep(50_000) }
        let maps = Self.readProc("/proc/\(pid)/maps")
        #expect(Self.mappings(of: store, pid: pid) == 1, "store \(store) mappings:\n\(maps.split(separator: "\n").filter { $0.contains("pfxbl") }.joined(separator: "\n"))")
    }

    @Test("Reloader: each swap's replaced snapshot is released and trimmed after; 10 reloads keep 1 alive")
    func reloaderReleasesRetired() async throws {
        let logs = LogCollector()
        let stub = try await StubReload(settleDelay: 0.01, logger: logs.logger)
        let (dir, path, holder, prints, reloader) = (stub.dir, stub.path, stub.holder, stub.prints, stub.reloader)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        reloader.settleDelay = 0.01
        reloader.setBaseline(prints)
        #expect(!reloader.retiredSnapshotAlive)
        var replaced: [Weak] = []
        for round in 1...10 {
            replaced.append(Weak(holder.load()))
            try writeAtomically("\(round % 200 + 1) 1000", to: path)
            #expect(await reloader.reload(trigger: "test") == .swapped(generation: round + 1, entries: 1000))
            await reloader.releaseRetired()
            #expect(!reloader.retiredSnapshotAlive)
        }
        #expect(replaced.allSatisfy { $0.snapshot == nil }, "old snapshots still alive: \(replaced.compactMap { $0.snapshot?.generation })")
        #expect(holder.load().generation == 11)
    }

    final class Weak {
        weak var snapshot: Snapshot?
        init(_ s: Snapshot) { snapshot = s }
    }
}
