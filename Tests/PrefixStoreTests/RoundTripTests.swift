import Foundation
import Testing
@testable import PrefixStore

func checkSample(_ store: Store) {
    let input = sampleZones()
    #expect(store.zones.count == input.count)
    for (z, i) in zip(store.zones, input) {
        #expect(z.name == i.name && z.soa == i.soa && z.nsTTL == i.nsTTL && z.ns == i.ns)
        #expect(z.datasets.count == i.datasets.count)
        #expect(z.records == i.records)
        for (d, di) in zip(z.datasets, i.datasets) {
            #expect(d.subzone == di.subzone && d.rule == di.rule)
            #expect(d.name == di.name && d.type == di.type && d.family == di.family && d.ttl == di.ttl)
            #expect(d.created == di.created && d.expires == di.expires && d.entryCount == di.entries.count)
            #expect(d.values.count == di.values.count)
            for (v, vi) in zip(d.values, di.values) {
                #expect(v.a == vi.a)
                #expect(v.txt.map { Array($0) } == vi.txt)
            }
        }
    }
    let v4 = store.zones[0].datasets[0].table
    #expect(v4.value(at: 0xC000_0201) == 0)       // 192.0.2.1
    #expect(v4.value(at: 0xC000_0280) == -1)      // excluded /25
    #expect(v4.value(at: 0xC000_0281) == 1)       // /32 inside the exclusion
    #expect(v4.value(at: 0xC000_02FF) == -1)
    #expect(v4.value(at: 0xC000_0300) == -1)
    #expect(v4.value(at: 0xCB00_71FF) == 2)
    #expect(v4.value(at: 0x7F00_0002) == 0 && v4.value(at: 0x7F00_0001) == -1)
    #expect(v4.value(at: UInt128(1) << 40) == -1)
    #expect(v4.intersects(first: 0xC000_0280, last: 0xC000_02FF))   // holds the /32
    #expect(!v4.intersects(first: 0xC000_0290, last: 0xC000_029F))
    #expect(v4.rangeCount == 4)
    let db8: UInt128 = 0x2001_0db8 << 96
    let v6a = store.zones[0].datasets[1].table
    #expect(v6a.kind == 1)
    #expect(v6a.value(at: db8 | (UInt128(1) << 64) | 5) == 0)
    #expect(v6a.value(at: db8 | (UInt128(2) << 64)) == -1)
    #expect(v6a.value(at: db8 | (UInt128(0x1ff) << 64) | 0xffff) == 1)
    #expect(v6a.intersects(first: db8, last: db8 | ((UInt128(1) << 96) - 1)))
    #expect(!v6a.intersects(first: db8 | (UInt128(2) << 64), last: db8 | (UInt128(3) << 64) | UInt128(UInt64.max)))
    let v6b = store.zones[1].datasets[0].table
    #expect(v6b.kind == 2)
    #expect(v6b.value(at: db8 | 9) == 0 && v6b.value(at: db8 | 0xa) == -1 && v6b.value(at: db8 | 0xb) == -1)
    #expect(v6b.value(at: db8 | 0xc) == 0 && v6b.value(at: db8 | 0x1_0000) == 1 && v6b.value(at: db8 | 0x1_7fff) == 1)
    #expect(v6b.value(at: db8 | 0x1_8000) == 0 && v6b.value(at: db8 - 1) == -1)
    #expect(store.zones[2].datasets.isEmpty)
    #expect(store.zones[0].records.count == 4 && store.zones[0].datasets[2].subzone == [7] + Array("proxies".utf8))
    #expect(store.zones[3].isGlobalACL && store.zones[3].datasets[0].rule == .clientACL)
    #expect(store.zones[0].datasets[3].table.value(at: 0xC000_0201) == 4)
}

@Test func roundTripInMemory() throws {
    let image = try StoreBuilder.encode(sampleZones())
    #expect(image.summary.bytes == image.bytes.count && image.summary.zones == 4 && image.summary.datasets == 6)
    let store = try Store(bytes: image.bytes)
    #expect(store.byteCount == image.bytes.count)
    checkSample(store)
    checkSample(try Store(zones: sampleZones()))
}

func tempDir() -> String {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("prefixstore-\(UUID().uuidString)").path
    try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}

@Test func roundTripViaFile() throws {
    let dir = tempDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let path = dir + "/sample.pfxbl"
    try StoreBuilder.write(try StoreBuilder.encode(sampleZones()), to: path)
    let store = try Store(path: path)
    checkSample(store)
    // Overwrite while the old store is still mapped: the old mapping keeps answering.
    try StoreBuilder.write(try StoreBuilder.encode([zone("other.example", [])]), to: path)
    checkSample(store)
    #expect(try Store(path: path).zones.map(\.name) == [wire("other.example")])
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["sample.pfxbl"])
}

@Test func failedWriteLeavesOldFile() throws {
    let dir = tempDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let path = dir + "/keep.pfxbl"
    let old = try StoreBuilder.encode(sampleZones())
    try StoreBuilder.write(old, to: path)
    StoreFile.failForTesting = (path, 100)
    defer { StoreFile.failForTesting = nil }
    #expect(throws: StoreError.self) { try StoreBuilder.write(try StoreBuilder.encode([zone("new.example", [])]), to: path) }
    StoreFile.failForTesting = nil
    checkSample(try Store(path: path))
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["keep.pfxbl"], "temp file left behind")
    // A directory that does not exist: refused with .io, nothing created.
    #expect { try StoreBuilder.write(old, to: dir + "/missing/x.pfxbl") } throws: { ($0 as? StoreError)?.code == .io }
}

/// `rename(2)` replaces whatever the path names: as root, `compile -o /dev/null` replaced the
/// device node with a store file. Anything but a regular file is refused and left as it was.
@Test func writeRefusesToReplaceANonRegularFile() throws {
    let dir = tempDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let image = try StoreBuilder.encode(sampleZones())
    let fifo = dir + "/fifo"
    #expect(mkfifo(fifo, 0o600) == 0)
    #expect { try StoreBuilder.write(image, to: fifo) } throws: {
        let e = $0 as? StoreError
        return e?.code == .io && e?.path == fifo && "\(e!)".contains("not a regular file")
    }
    var st = stat()
    #expect(lstat(fifo, &st) == 0 && (st.st_mode & S_IFMT) == S_IFIFO, "the FIFO was replaced")
    // Through a symbolic link to a device: refused too.
    let link = dir + "/null"
    #expect(symlink("/dev/null", link) == 0)
    #expect(throws: StoreError.self) { try StoreBuilder.write(image, to: link) }
    #expect(lstat(link, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK)
    let sub = dir + "/sub"
    #expect(mkdir(sub, 0o755) == 0)
    #expect { try StoreBuilder.write(image, to: sub) } throws: { "\($0)".contains("a directory") }
    #expect(throws: StoreError.self) { try StoreBuilder.write(image, to: "") }
    #expect(Set(try FileManager.default.contentsOfDirectory(atPath: dir)) == ["fifo", "null", "sub"], "temp file left behind")
    // A symbolic link to a regular store is still replaced (as before).
    let real = dir + "/real.pfxbl", viaLink = dir + "/current.pfxbl"
    try StoreBuilder.write(image, to: real)
    #expect(symlink(real, viaLink) == 0)
    try StoreBuilder.write(image, to: viaLink)
    checkSample(try Store(path: viaLink))
}

@Test func openErrorsNameThePath() {
    #expect { try Store(path: "/nonexistent/prefixbl.pfxbl") } throws: {
        let e = $0 as? StoreError
        return e?.code == .io && e?.path == "/nonexistent/prefixbl.pfxbl"
    }
}

@Test func emptyFileAndDirectoryAreRefused() throws {
    let dir = tempDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    #expect(FileManager.default.createFile(atPath: dir + "/empty.pfxbl", contents: Data()))
    #expect { try Store(path: dir + "/empty.pfxbl") } throws: {
        let e = $0 as? StoreError
        return e?.code == .truncated && e?.path == dir + "/empty.pfxbl"
    }
    #expect { try Store(path: dir) } throws: { ($0 as? StoreError)?.code == .io }
    #expect(FileManager.default.createFile(atPath: dir + "/text.pfxbl", contents: Data("192.0.2.1\n".utf8 + Array(repeating: 0x20, count: 100))))
    #expect { try Store(path: dir + "/text.pfxbl") } throws: { ($0 as? StoreError)?.code == .badMagic }
}

/// Opening a FIFO without a writer blocked for ever: a `--store` path replaced by one hung the
/// server's reload (and SIGTERM, which waits for it). The open runs on a thread of its own and
/// must end within 60 s of starting there. (A test time limit counted from before the test had
/// a thread of the shared test pool; in a loaded full run it ran out for this instant test.)
/// A blocked open is released by opening the FIFO for writing, so the thread ends either way.
@Test
func aFIFOIsRefusedWithoutBlocking() throws {
    let dir = tempDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let fifo = dir + "/store.pfxbl"
    #expect(mkfifo(fifo, 0o600) == 0)
    final class Outcome: @unchecked Sendable { var error: String? = nil }   // written before `done` is signalled
    let outcome = Outcome()
    let done = DispatchSemaphore(value: 0)
    Thread {
        do { _ = try Store(path: fifo) } catch { outcome.error = "\(error)" }
        done.signal()
    }.start()
    let returned = done.wait(timeout: .now() + 60) == .success
    if !returned {
        let writer = open(fifo, O_WRONLY | O_NONBLOCK)
        if writer >= 0 { close(writer) }
        done.wait()
    }
    #expect(returned, "opening a FIFO without a writer blocked for 60 s")
    #expect(outcome.error?.contains("not a regular file") == true, "\(outcome.error ?? "opened")")
}

@Test func emptyTablesAndSingleWholeSpace() throws {
    let ds = [
        DatasetInput(name: "none", type: "ip6trie", family: .ipv6, ttl: 1, values: [], entries: []),
        DatasetInput(name: "all4", type: "ip4trie", family: .ipv4, ttl: 1, values: values(1),
                     entries: [PrefixEntry(address: 0, prefixLength: 0, value: 0, origin: 0)]),
        DatasetInput(name: "all6", type: "ip6trie", family: .ipv6, ttl: 1, values: values(1),
                     entries: [PrefixEntry(address: 0, prefixLength: 0, value: 0, origin: 0)]),
        DatasetInput(name: "excl", type: "ip6trie", family: .ipv6, ttl: 1, values: values(1),
                     entries: [PrefixEntry(address: 0, prefixLength: 0, value: 0, origin: 0),
                               PrefixEntry(address: .max, prefixLength: 128, value: -1, origin: 1)]),
    ]
    let s = try Store(zones: [zone("bl.example", ds)])
    let t = s.zones[0].datasets.map(\.table)
    #expect(t[0].value(at: 5) == -1 && !t[0].intersects(first: 0, last: .max) && t[0].rangeCount == 0)
    #expect(t[1].value(at: 0xFFFF_FFFF) == 0 && t[1].value(at: 0) == 0 && t[1].rangeCount == 1)
    #expect(t[2].value(at: .max) == 0 && t[2].intersects(first: .max, last: .max))
    #expect(t[3].value(at: .max) == -1 && t[3].value(at: .max - 1) == 0 && !t[3].intersects(first: .max, last: .max))
    #expect(t[3].ranges().map { [$0.first, $0.last] } == [[0, .max - 1]])
}
