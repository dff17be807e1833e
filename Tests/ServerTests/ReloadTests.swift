#if canImport(Glibc)
import Glibc
#endif
import DNSBL
import DNSBLDaemon
@testable import DNSBLServer
import Foundation
import Logging
import Synchronization
import Testing
import ZoneSource
import ServerTestSupport

/// Stub data file: "VALUE COUNT" → a handler answering 127.0.0.VALUE with COUNT entries.
func stubLoader(_ path: String) -> SnapshotLoader {
    SnapshotLoader(files: [path]) {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard parts.count == 2, let v = UInt8(parts[0]), let n = Int(parts[1]) else {
            throw ServerError(.io, "\(path): corrupt stub data '\(text.prefix(20))'")
        }
        return Snapshot(handler: StubHandler(value: v), entryCount: n)
    }
}

func writeAtomically(_ text: String, to path: String) throws {
    let tmp = path + ".tmp"
    try text.write(toFile: tmp, atomically: false, encoding: .utf8)
    guard rename(tmp, path) == 0 else { throw TestError.failed("rename: \(errno)") }
}

/// Background UDP query loop counting answers per value, wrong and unanswered queries.
final class QueryLoop: @unchecked Sendable {
    let stop = Atomic<Bool>(false)
    let values = Mutex<[String: Int]>([:])
    let unanswered = Atomic<Int>(0)
    let total = Atomic<Int>(0)
    private let done = DispatchSemaphore(value: 0)

    init(address: ListenAddress, name: String) {
        Thread { [self] in
            var id: UInt16 = 0
            while !stop.load(ordering: .relaxed) {
                id &+= 1
                let answer = try? udpQuery(address, makeQuery(id: id, name: name), timeout: 2, retries: 1)
                total.add(1, ordering: .relaxed)
                if let a = answer.flatMap({ $0 }).flatMap(parseResponse) {
                    values.withLock { $0[a.addresses.joined(separator: ","), default: 0] += 1 }
                } else {
                    unanswered.add(1, ordering: .relaxed)
                }
            }
            done.signal()
        }.start()
    }

    func finish() {
        stop.store(true, ordering: .relaxed)
        done.wait()
    }
}

/// The set-up the reloader tests share: a new temporary directory (the caller removes `dir`)
/// with a stub data file "1 1000" at `path`, its loader, the first snapshot in a holder, and a
/// reloader over it (`prints`: the files' fingerprints at the first load, for `setBaseline`).
struct StubReload {
    let dir: String
    let path: String
    let loader: SnapshotLoader
    let holder: SnapshotHolder
    let prints: [FileFingerprint]
    let reloader: Reloader

    init(settleDelay: Double, logger: Logger = Logger(label: "test")) async throws {
        dir = try makeTempDirectory()
        path = dir + "/data"
        try writeAtomically("1 1000", to: path)
        loader = stubLoader(path)
        let (first, p) = try await Reloader.initialSnapshot(loader: loader, settleDelay: settleDelay)
        holder = SnapshotHolder(first)
        prints = p
        reloader = Reloader(holder: holder, loader: loader, logger: logger)
    }
}

@Suite("Reload: snapshot swap under load (stub data)", .serialized)
struct ReloadTests {
    @Test("file fingerprint sees rewrite in place, rename and touch")
    func fingerprints() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/f"
        try "1 10".write(toFile: path, atomically: false, encoding: .utf8)
        let a = FileFingerprint.of(path)
        #expect(!a.missing)
        try "2 10".write(toFile: path, atomically: false, encoding: .utf8)  // same size, same inode
        let b = FileFingerprint.of(path)
        #expect(a != b, "a same-size rewrite within the same second must be seen (nanosecond mtime)")
        try writeAtomically("2 10", to: path)
        #expect(FileFingerprint.of(path).inode != b.inode)
        #expect(FileFingerprint.of(dir + "/none").missing)
    }

    @Test("20 replacements under a query loop: zero wrong, zero unanswered, bad candidates refused and logged")
    func reloadUnderLoad() async throws {
        let logs = LogCollector()
        let stub = try await StubReload(settleDelay: 0.05, logger: logs.logger)
        let (dir, path, holder, prints, reloader) = (stub.dir, stub.path, stub.holder, stub.prints, stub.reloader)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var config = ServerConfiguration(listen: [try ListenAddress(parsing: "127.0.0.1:0")], threads: 2)
        config.udpThreads = 2
        let server = DNSServer(configuration: config, holder: holder, logger: logs.logger)
        try await server.start()
        reloader.checkInterval = 0.1
        reloader.settleDelay = 0.2
        reloader.handleSIGHUP = false
        reloader.setBaseline(prints)
        let runner = Task { try await reloader.run() }
        let loop = QueryLoop(address: server.udpAddresses[0], name: "x.bl.example")

        func waitUntilSeen() async throws {
            // Generous: in the whole suite on two cores, tests that block cooperative-pool
            // threads (child processes, polling) can hold off the reloader's task for seconds.
            let deadline = Date().addingTimeInterval(60)
            while reloader.seenFingerprints != [FileFingerprint.of(path)] && Date() < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(reloader.seenFingerprints == [FileFingerprint.of(path)], "reloader did not pick up the change")
        }

        var accepted: Set<String> = ["127.0.0.1"]
        var expected = "127.0.0.1"
        for round in 1...20 {
            let value = round + 1
            switch round {
            case 5:
                try writeAtomically("garbage", to: path)          // corrupt candidate
            case 10:
                try writeAtomically("\(value) 10", to: path)      // truncated: 99% fewer entries
            case 15:
                // Rewritten in place, slowly: truncate, then a few bytes every 50 ms.
                let fd = open(path, O_WRONLY | O_TRUNC)
                for b in Array("\(value) 1000".utf8) {
                    var byte = b
                    _ = write(fd, &byte, 1)
                    usleep(50_000)
                }
                close(fd)
                accepted.insert("127.0.0.\(value)")
                expected = "127.0.0.\(value)"
            default:
                try writeAtomically("\(value) 1000", to: path)
                accepted.insert("127.0.0.\(value)")
                expected = "127.0.0.\(value)"
            }
            try await waitUntilSeen()
            let served = try #require(try udpQuery(server.udpAddresses[0], makeQuery(id: 1, name: "y.bl.example")))
            #expect(parseResponse(served)?.addresses == [expected], "round \(round)")
        }
        loop.finish()
        runner.cancel()
        _ = try? await runner.value
        await server.stop()

        let seen = loop.values.withLock { $0 }
        let wrong = seen.filter { !accepted.contains($0.key) }
        #expect(wrong.isEmpty, "answers from refused candidates: \(wrong)")
        #expect(loop.unanswered.load(ordering: .relaxed) == 0)
        #expect(loop.total.load(ordering: .relaxed) > 100, "the query loop ran")
        #expect(reloader.refusals == 2)
        #expect(logs.count(level: .error, containing: "corrupt stub data") == 1)
        #expect(logs.count(level: .error, containing: "--max-shrink") == 1)
        #expect(holder.load().generation == 19)
    }

    @Test("shrink guard: --force-reload accepts; a failed build keeps the old snapshot")
    func shrinkGuardAndForce() async throws {
        let stub = try await StubReload(settleDelay: 0)
        let (dir, path, holder, reloader) = (stub.dir, stub.path, stub.holder, stub.reloader)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        reloader.settleDelay = 0.01
        try writeAtomically("2 500", to: path)   // exactly 50% fewer: allowed
        #expect(await reloader.reload(trigger: "test") == .swapped(generation: 2, entries: 500))
        try writeAtomically("3 249", to: path)
        guard case .refused = await reloader.reload(trigger: "test") else {
            Issue.record("a fall of more than 50% must be refused"); return
        }
        #expect(holder.load().entryCount == 500)
        reloader.force = true
        #expect(await reloader.reload(trigger: "test") == .swapped(generation: 3, entries: 249))
        try FileManager.default.removeItem(atPath: path)
        guard case .refused = await reloader.reload(trigger: "test") else {
            Issue.record("a missing file must be refused"); return
        }
        #expect(holder.load().generation == 3)
    }

    /// One zone from an ip4set file of 100 entries and an ip6trie file of 1,000. The ip4set file
    /// replaced by one of nothing but bad lines (each skipped, as rbldnsd skips them) lowered the
    /// total by only 9%, so the whole-snapshot guard let every IPv4 listing go. The guard now
    /// also holds per dataset; an ordinary edit of that file still reloads.
    @Test("shrink guard per dataset: a file replaced by only bad lines keeps its old listings")
    func shrinkGuardPerDataset() async throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let v4 = dir + "/v4.txt", v6 = dir + "/v6.txt"
        func v4Text(_ n: Int) -> String { ":127.0.0.2:Listed $\n" + (0..<n).map { "10.0.\($0 / 250).\($0 % 250)\n" }.joined() }
        try writeAtomically(v4Text(100), to: v4)
        try writeAtomically(":127.0.0.2:Listed $\n" + (0..<1000).map { "2001:db8:\(String($0, radix: 16))::/48\n" }.joined(), to: v6)
        let data = DataSources(stores: [], specs: [ZoneSpec(zone: "bl.example", type: "ip4set", files: [v4]),
                                                   ZoneSpec(zone: "BL.example.", type: "ip6trie", files: [v6])])
        let loader = ServingLoader(data: data, answer: AnswerOptions(), logger: Logger(label: "test")).snapshotLoader
        #expect(loader.zoneFiles == ["bl.example": [v4, v6]])
        let (first, _) = try await Reloader.initialSnapshot(loader: loader, settleDelay: 0)
        #expect(first.entryCount == 1100)
        let holder = SnapshotHolder(first)
        let reloader = Reloader(holder: holder, loader: loader, logger: Logger(label: "test"))
        reloader.settleDelay = 0.01
        try writeAtomically("garbage\n300.1.1.1\n2001:db8::1\n", to: v4)
        guard case .refused(let reason) = await reloader.reload(trigger: "test") else {
            Issue.record("an ip4set file of only bad lines must not empty the dataset"); return
        }
        #expect(reason.contains("bl.example") && reason.contains("from 100 to 0"))
        #expect(holder.load().entryCount == 1100 && holder.load().generation == 1)
        try writeAtomically(v4Text(60), to: v4)   // 40% fewer: allowed
        #expect(await reloader.reload(trigger: "test") == .swapped(generation: 2, entries: 1060))
        reloader.force = true
        try writeAtomically("garbage\n", to: v4)
        #expect(await reloader.reload(trigger: "test") == .swapped(generation: 3, entries: 1000))
    }

    @Test("refresh rebuilds the snapshot periodically without reading files (for $TIMESTAMP expiry)")
    func periodicRefresh() async throws {
        let stub = try await StubReload(settleDelay: 0)
        let (dir, holder, prints, reloader) = (stub.dir, stub.holder, stub.prints, stub.reloader)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        reloader.handleSIGHUP = false
        reloader.setBaseline(prints)
        reloader.refreshInterval = 0.2
        // An "expiry" that drops every entry: allowed, the shrink guard does not apply.
        reloader.refresh = { current in Snapshot(handler: StubHandler(value: 9), entryCount: 0) }
        let runner = Task { try await reloader.run() }
        let deadline = Date().addingTimeInterval(5)
        while holder.load().entryCount != 0 && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        runner.cancel()
        _ = try? await runner.value
        #expect(holder.load().entryCount == 0)
        #expect(holder.load().generation >= 2)
    }
}
