@testable import DNSBLServer
@testable import ZoneTransfer
import DNSBL
import Foundation
import Logging
import PrefixStore
import ServerTestSupport
import Testing
import ZoneSource

/// The transfer body cache holds no snapshot: a replaced snapshot (its stores, views and
/// signer state) is released as soon as nothing serves from it, transfer built or not.
@Suite("Transfer bodies do not keep snapshots alive")
struct TransferCacheTests {
    static func store() throws -> Store {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/zone.txt"
        try transferZone.write(toFile: path, atomically: true, encoding: .utf8)
        var options = CompileOptions()
        options.force = true
        let compiled = Compiler.compile([ZoneSpec(zone: "bl.example", type: "ip6trie", files: [path])], options: options)
        return try Store(zones: compiled.zones)
    }

    @Test("a body built for a snapshot (with and without IXFR history) does not keep it alive; a swap drops other snapshots' bodies")
    func weakSnapshot() throws {
        let store = try Self.store()
        for versions in [0, 4] {
            let transfer = TransferResponder(acl: try TransferACL(parsing: ["127.0.0.1"]), logger: Logger(label: "test"),
                                             history: TransferHistory(limits: IXFRLimits(versions: versions)))
            weak var released: Snapshot?
            do {
                let first = Snapshot.serving([store], options: AnswerOptions(), now: 0)
                released = first
                let parts = store.zones.filter { $0.name == store.zones[0].name }
                let chunks = transfer.body(parts, snapshot: first)
                #expect(!chunks.isEmpty)
                #expect(transfer.body(parts, snapshot: first).count == chunks.count, "the second request is a cache hit")
                #expect(transfer.cachedBodies == 1)
            }
            #expect(released == nil, "the transfer cache kept the snapshot alive (history versions \(versions))")
            let second = Snapshot.serving([store], options: AnswerOptions(), now: 0)
            transfer.forget(except: second)
            #expect(transfer.cachedBodies == 0)
        }
    }
}
