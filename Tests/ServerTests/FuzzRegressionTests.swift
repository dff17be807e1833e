import DNSBL
import DNSWire
import Foundation
import PrefixStore
import Testing
import ZoneSource
import TestSupport
import ServerTestSupport

/// Replays the committed fuzz inputs (tools/fuzz/seeds/TARGET and every crash input kept in
/// tools/fuzz/regressions/TARGET) through the invariants the wire and store fuzz targets check,
/// in-process and without sanitizers, so a fixed crash stays fixed in the ordinary test run.
enum FuzzInputs {
    static let root = repositoryRoot() + "/tools/fuzz"

    static func files(_ target: String) -> [String] {
        var out: [String] = []
        for kind in ["seeds", "regressions"] {
            let dir = "\(root)/\(kind)/\(target)"
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
            out += names.filter { !$0.hasPrefix(".") }.sorted().map { "\(dir)/\($0)" }
        }
        return out
    }

    static func read(_ path: String) throws -> [UInt8] {
        guard let d = FileManager.default.contents(atPath: path) else { throw TestError.failed("cannot read \(path)") }
        return [UInt8](d)
    }
}

@Suite("Fuzz seeds and crash regressions, replayed")
struct FuzzRegressionTests {
    @Test("wire inputs: replies well formed over UDP and TCP; parse → encode → parse stable; the canonical query gets the same reply")
    func wire() throws {
        let files = FuzzInputs.files("wire")
        #expect(files.count >= 50, "the wire seed corpus is in tools/fuzz/seeds/wire")
        let responder = Responder(stores: [bundledStore])
        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 65535, alignment: 16)
        defer { out.deallocate() }
        func reply(_ q: [UInt8], _ t: Transport) -> [UInt8] {
            let n = q.withUnsafeBytes { responder.respond(to: $0, transport: t, into: out).length }
            return Array(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(out)[0..<n]))
        }
        for path in files {
            let q = try FuzzInputs.read(path)
            let name = (path as NSString).lastPathComponent
            for (t, limit) in [(Transport.udp, 1232), (.tcp, 65535)] {
                let r = reply(q, t)
                let problem = q.withUnsafeBytes { qb in r.withUnsafeBytes { MessageCheck.response($0, to: qb, sizeLimit: limit) } }
                #expect(problem == nil, "\(name) over \(t): \(problem ?? "")")
            }
            let parsed = q.withUnsafeBytes { b -> (ParsedQuery, [UInt8])? in
                guard let h = DNSHeader(reading: b), !h.isResponse, h.opcode == 0,
                      let p = try? DNSWire.parseQuery(b) else { return nil }
                return (p, MessageCheck.canonicalQuery(p, from: b))
            }
            if let (p, canonical) = parsed {
                let again = canonical.withUnsafeBytes { try? DNSWire.parseQuery($0) }
                #expect(again == p, "\(name): parse → encode → parse changed the query")
                #expect(reply(canonical, .udp) == reply(q, .udp), "\(name): canonical query, other reply")
            }
        }
    }

    @Test("store inputs: what opens answers lookups inside its values and well-formed replies")
    func store() throws {
        let files = FuzzInputs.files("store")
        #expect(files.count >= 3, "the store seed corpus is in tools/fuzz/seeds/store")
        for path in files {
            let bytes = try FuzzInputs.read(path)
            let name = (path as NSString).lastPathComponent
            guard let store = try? Store(bytes: bytes) else {
                #expect(path.contains("/regressions/"), "seed \(name) must open")
                continue
            }
            for zone in store.zones {
                for d in zone.datasets {
                    for r in d.table.ranges() {
                        #expect(d.table.value(at: r.first) == r.value && d.table.value(at: r.last) == r.value,
                                "\(name): lookup and range walk disagree")
                        #expect(Int(r.value) < d.values.count)
                    }
                }
            }
        }
    }

    @Test("source inputs: every IP dataset type either reports errors or yields zones the store builder accepts")
    func source() throws {
        let files = FuzzInputs.files("source")
        #expect(files.count >= 10, "the source seed corpus is in tools/fuzz/seeds/source")
        var options = CompileOptions()
        options.now = 1_780_000_000
        for path in files {
            let name = (path as NSString).lastPathComponent
            for type in ["ip4set", "ip4trie", "ip4tset", "ip6trie", "ip6tset"] {
                let result = Compiler.compile([ZoneSpec(zone: "bl.example", type: type, files: [path])], options: options)
                if result.hasErrors {
                    #expect(result.zones.isEmpty, "\(name) as \(type): errors but zones")
                    continue
                }
                let image = try StoreBuilder.encode(result.zones)
                #expect(throws: Never.self, "\(name) as \(type): a fresh store must open") { try Store(bytes: image.bytes) }
            }
        }
    }
}
