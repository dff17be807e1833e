#if canImport(Glibc)
import Glibc
#endif
import FuzzSupport
import PrefixStore
import ZoneSource

// Source-line parser: the input is one data file, compiled as each IP dataset type through the
// real compile driver (line reader, parser, guards). Invariants besides "no crash":
// - a compile without errors yields zones, and the store builder accepts them (the parser never
//   hands the builder a prefix with host bits set, a length beyond the family, a bad value index);
// - the built store opens, and a lookup at every entry's address answers "not listed" or a
//   value index inside the dataset's values.

nonisolated(unsafe) let path = "/dev/shm/prefixbl-fuzz-source-\(getpid()).txt"
let types = ["ip4set", "ip4trie", "ip4tset", "ip6trie", "ip6tset"]

func fuzzSource(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else { fuzzFail("cannot create \(path)") }
    var off = 0
    while off < size {
        let n = write(fd, data + off, size - off)
        guard n > 0 else { fuzzFail("cannot write \(path)") }
        off += n
    }
    close(fd)
    var options = CompileOptions()
    options.now = 1_780_000_000
    for type in types {
        check(Compiler.compile([ZoneSpec(zone: "bl.example", type: type, files: [path])], options: options), type)
    }
    // Two files of one dataset: defaults must not leak between them, nothing else changes.
    check(Compiler.compile([ZoneSpec(zone: "bl.example", type: "ip6trie", files: [path, path])], options: options), "ip6trie×2")
    return 0
}

func check(_ result: CompileResult, _ type: String) {
    if result.hasErrors {
        if !result.zones.isEmpty { fuzzFail("\(type): errors but zones returned") }
        return
    }
    guard result.zones.count == 1 else { fuzzFail("\(type): no errors but \(result.zones.count) zones") }
    let image: StoreImage
    do { image = try StoreBuilder.encode(result.zones) } catch {
        if error.code == .tooLarge { return }
        fuzzFail("\(type): the builder refuses what the parser produced: \(error)")
    }
    let store: Store
    do { store = try Store(bytes: image.bytes) } catch { fuzzFail("\(type): a freshly built store does not open: \(error)") }
    for (zi, zone) in store.zones.enumerated() {
        for (di, d) in zone.datasets.enumerated() {
            for entry in result.zones[zi].datasets[di].entries {
                let v = d.table.value(at: entry.address)
                if v < -1 || Int(v) >= d.values.count { fuzzFail("\(type): lookup gave value index \(v)") }
                if !entry.isExclusion && entry.prefixLength == UInt8(d.family.bits) && v == -1 {
                    // A host entry is the most specific thing there is: only an exclusion of the
                    // same host can hide it.
                    let excluded = result.zones[zi].datasets[di].entries.contains {
                        $0.isExclusion && $0.address == entry.address && $0.prefixLength == entry.prefixLength
                    }
                    if !excluded { fuzzFail("\(type): host entry \(entry) not listed") }
                }
            }
        }
    }
}
