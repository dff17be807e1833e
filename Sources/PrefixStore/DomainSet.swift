// dnset: domain-name datasets (rbldnsd's `dnset`) in the store. The compile-side model
// (DomainEntry), the builder of a dataset's name table and the in-place reader with its
// lookups. StoreFormat.md ("Name tables") gives the bytes.

/// One line of a `dnset` dataset as compiled: a name and what it applies to.
///
/// rbldnsd keeps two arrays: plain names (the name itself) and wildcard names (every name
/// strictly below it). `name` lists the name, `*.name` its subdomains, `.name` both; each
/// becomes one or two entries here.
public struct DomainEntry: Sendable, Hashable {
    /// The name relative to the dataset's apex: encoded labels (length byte, bytes) without
    /// the root byte, lower-cased ASCII, no label containing a zero byte; at least one label.
    public var name: [UInt8]
    /// `false`: the name itself (rbldnsd's plain array); `true`: the names strictly below it
    /// (its wildcard array).
    public var wildcard: Bool
    /// Index into ``DatasetInput/values``, or ``PrefixEntry/exclusion`` for `!`.
    public var value: Int32
    /// Caller's tag (the parser's file:line origin).
    public var origin: UInt32

    public init(name: [UInt8], wildcard: Bool, value: Int32, origin: UInt32) {
        self.name = name; self.wildcard = wildcard; self.value = value; self.origin = origin
    }

    public var isExclusion: Bool { value < 0 }
}

/// Converts between encoded labels and the table's search key: the labels right to left,
/// each label's bytes followed by one zero byte (`www.example.com` → `com␀example␀www␀`).
/// Byte-wise comparison of keys is DNS canonical order (RFC 4034 §6.1) for names without zero
/// bytes in labels, every ancestor's key is a prefix of its descendants' keys, and the
/// descendants of a name are the keys right after it.
public enum DomainKey {
    /// The key of encoded labels `name` (no root byte); nil when a label holds a zero byte,
    /// is empty or the labels do not exactly fill `name`.
    public static func key(labels name: [UInt8]) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: name.count)
        var p = 0
        let n = name.count
        while p < n {
            let l = Int(name[p])
            guard l > 0, p + 1 + l <= n else { return nil }
            let dst = n - p - (l + 1)
            for k in 0..<l {
                let b = name[p + 1 + k]
                if b == 0 { return nil }
                out[dst + k] = b
            }
            out[dst + l] = 0
            p += 1 + l
        }
        return n == 0 ? nil : out
    }

    /// Encoded labels (no root byte) of a key.
    public static func labels(key: UnsafeRawBufferPointer) -> [UInt8] {
        var out: [UInt8] = []
        var end = key.count  // one past the terminator of the label being emitted
        while end > 0 {
            var s = end - 1
            while s > 0 && key[s - 1] != 0 { s -= 1 }
            out.append(UInt8(end - 1 - s))
            for k in s..<(end - 1) { out.append(key[k]) }
            end = s
        }
        return out
    }

    /// Presentation text of a key (`www.example.com`, no trailing dot): `.` and `\` escaped
    /// with a backslash, bytes outside printable ASCII as `\DDD` (RFC 1035 §5.1).
    public static func text(key: UnsafeRawBufferPointer) -> String {
        var out: [UInt8] = []
        DomainKey.forEachTextByte(key) { out.append($0) }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes of ``text(key:)``, one at a time (no allocation).
    @inline(__always)
    public static func forEachTextByte(_ key: UnsafeRawBufferPointer, _ body: (UInt8) -> Void) {
        var end = key.count
        var first = true
        while end > 0 {
            var s = end - 1
            while s > 0 && key[s - 1] != 0 { s -= 1 }
            if !first { body(0x2E) }
            first = false
            var k = s
            while k < end - 1 {
                let b = key[k]
                if b == 0x2E || b == 0x5C {
                    body(0x5C); body(b)
                } else if b < 0x21 || b > 0x7E {
                    body(0x5C)
                    body(0x30 + b / 100); body(0x30 + (b / 10) % 10); body(0x30 + b % 10)
                } else {
                    body(b)
                }
                k += 1
            }
            end = s
        }
    }
}

/// What a name table entry says about its name (rbldnsd semantics), one of three states per
/// array: nothing, an exclusion, or a value index (the first of a value run).
public enum DomainDecision: Equatable, Sendable {
    case none, excluded, value(Int32)
}

/// A dataset's name table, read in place: sorted keys (``DomainKey``) with, per name, the
/// decision for the name itself and for the names below it. Lookups allocate nothing.
///
/// Besides the stored entries the reader keeps one derived array, built once at load from the
/// validated keys (4.5 bytes per name, not part of the store): each entry's closest strict
/// ancestor that has an entry, and the first eight key bytes of every 16th entry. A lookup is
/// then one binary search (narrowed by those samples, keys compared eight bytes at a time,
/// skipping the prefix both search bounds share with the key) followed by a walk up the
/// ancestor chain, instead of one search per ancestor.
public struct DomainTable: @unchecked Sendable {
    /// Entry records of ``entrySize`` bytes.
    @usableFromInline let entries: UnsafeRawPointer
    /// Key bytes; an entry's key is `names + offset`, `length` bytes.
    @usableFromInline let names: UnsafeRawPointer
    @usableFromInline let count: Int
    @usableFromInline let owner: AnyObject?
    /// Per entry, the index of its closest strict ancestor with an entry, or ``noParent``
    /// (filled by ``indexed()``).
    @usableFromInline let parents: DomainParents

    static let entrySize = 20
    /// Value field meaning "no decision" and "excluded".
    @usableFromInline static let none: UInt32 = 0xFFFF_FFFF
    @usableFromInline static let excluded: UInt32 = 0xFFFF_FFFE
    /// Parent index meaning "no ancestor has an entry".
    @usableFromInline static let noParent: UInt32 = 0xFFFF_FFFF

    /// A table over unvalidated bytes: only ``validate(_:namesLength:valueCount:maxKey:what:)``
    /// may read it before ``indexed()``.
    init(entries: UnsafeRawPointer, names: UnsafeRawPointer, count: Int, owner: AnyObject?) {
        self.entries = entries; self.names = names; self.count = count; self.owner = owner
        parents = DomainParents(count: count)
    }

    /// Fills the parent array from the keys (which must have been validated: ascending, each
    /// inside the key bytes) and returns the table. O(total key bytes); allocates the stack of
    /// the current ancestor chain (at most 127 entries).
    func indexed() -> DomainTable {
        var stack: [Int] = []
        stack.reserveCapacity(128)
        for i in 0..<count {
            let k = key(i)
            while let top = stack.last {
                let a = key(top)
                if a.count < k.count && memcmpBytes(a.baseAddress!, k.baseAddress!, a.count) == 0 { break }
                stack.removeLast()
            }
            parents.pointer[i] = stack.last.map { UInt32($0) } ?? Self.noParent
            stack.append(i)
            if i % Self.sampleStride == 0 { parents.samples[i / Self.sampleStride] = Self.prefix8(k.baseAddress!, k.count) }
        }
        return self
    }

    /// Every `sampleStride`-th entry's first eight key bytes are kept in a small array (0.5
    /// bytes per name) that a search narrows with first, so the search of the entries and key
    /// bytes themselves (two places in memory per step) covers a few dozen entries.
    @usableFromInline static let sampleStride = 16

    /// The first eight bytes of a key as a big-endian number, zero-padded: keys in table order
    /// have non-decreasing prefixes.
    @inlinable @inline(__always)
    static func prefix8(_ p: UnsafeRawPointer, _ len: Int) -> UInt64 {
        if len >= 8 { return UInt64(bigEndian: p.loadUnaligned(as: UInt64.self)) }
        var v: UInt64 = 0
        var i = 0
        while i < len { v |= UInt64(p.load(fromByteOffset: i, as: UInt8.self)) &<< UInt64(56 &- 8 &* i); i &+= 1 }
        return v
    }

    /// Number of distinct names.
    public var nameCount: Int { count }

    @inlinable @inline(__always)
    func u32(_ i: Int, _ field: Int) -> UInt32 {
        UInt32(littleEndian: entries.loadUnaligned(fromByteOffset: i &* 20 &+ field, as: UInt32.self))
    }

    @inlinable @inline(__always)
    func keyLength(_ i: Int) -> Int {
        Int(entries.load(fromByteOffset: i &* 20 &+ 16, as: UInt8.self))
    }

    @inlinable @inline(__always)
    public func key(_ i: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: names + Int(u32(i, 0)), count: keyLength(i))
    }

    /// Entry `i`'s closest strict ancestor with an entry, or -1.
    @inlinable @inline(__always)
    func parent(_ i: Int) -> Int {
        let p = parents.pointer[i]
        return p == Self.noParent ? -1 : Int(p)
    }

    @inlinable @inline(__always)
    static func decision(_ raw: UInt32) -> DomainDecision {
        raw == none ? .none : raw == excluded ? .excluded : .value(Int32(bitPattern: raw))
    }

    /// Entry `i`: key, decision for the name, decision for the names below it.
    public func entry(_ i: Int) -> (key: UnsafeRawBufferPointer, exact: DomainDecision, wildcard: DomainDecision) {
        (key(i), Self.decision(u32(i, 4)), Self.decision(u32(i, 8)))
    }

    /// Where a key stands in the table, from one binary search: `index` is the first entry
    /// whose key is ≥ the key, `exact` whether that entry's key is the key, and `ancestor` the
    /// entry of the key's closest ancestor-or-self present in the table (-1 if none): `index`
    /// itself when exact, else the closest strict ancestor.
    public struct Location {
        public let index: Int
        public let exact: Bool
        public let ancestor: Int
        @inlinable init(index: Int, exact: Bool, ancestor: Int) {
            self.index = index; self.exact = exact; self.ancestor = ancestor
        }
    }

    /// Locates the key `k[0..<len]` (``DomainKey``, `len` ≥ 1; table not empty).
    ///
    /// The sampled prefixes first bound the range (`sampleStride`); then a binary search
    /// keeping the length of the prefix the key shares with the entries at both
    /// bounds: every entry between them shares the shorter of the two, so each comparison
    /// starts there, eight bytes at a time. The closest ancestor is then found from the entry
    /// before the key: the ancestors of the key present in the table are ancestors-or-self of
    /// that entry (every key between an ancestor and the key starts with the ancestor), so the
    /// walk up its parent chain stops at the first entry no longer than the shared prefix.
    @inlinable
    public func locate(_ k: UnsafeRawPointer, _ len: Int) -> Location {
        // The samples bound the answer: an entry whose prefix is below the key's is below the
        // key, one whose prefix is above it is above the key.
        let q8 = Self.prefix8(k, len)
        let samples = parents.samples
        let sn = parents.sampleCount
        var below = 0, s = sn  // samples below q8: [0, below)
        while below < s { let m = (below &+ s) &>> 1; if samples[m] < q8 { below = m &+ 1 } else { s = m } }
        var upTo = below; s = sn  // samples at most q8: [0, upTo)
        while upTo < s { let m = (upTo &+ s) &>> 1; if samples[m] <= q8 { upTo = m &+ 1 } else { s = m } }
        let lo0 = below > 0 ? (below &- 1) &* Self.sampleStride &+ 1 : 0
        var lo = lo0
        var hi = upTo < sn ? upTo &* Self.sampleStride : count
        var lcpLo = 0, lcpHi = 0
        while lo < hi {
            let m = (lo &+ hi) &>> 1
            let e = names + Int(u32(m, 0))
            let el = keyLength(m)
            let lim = Swift.min(el, len)
            let c = commonPrefix(e, k, from: Swift.min(lcpLo, lcpHi), lim)
            let less = c < lim
                ? e.load(fromByteOffset: c, as: UInt8.self) < k.load(fromByteOffset: c, as: UInt8.self)
                : el < len
            if less { lo = m &+ 1; lcpLo = c } else { hi = m; lcpHi = c }
        }
        if lo < count && lcpHi == len && keyLength(lo) == len {
            return Location(index: lo, exact: true, ancestor: lo)
        }
        var a = lo &- 1
        if a >= 0 && lo == lo0 {  // the search never compared entry lo - 1
            lcpLo = commonPrefix(names + Int(u32(a, 0)), k, from: 0, Swift.min(keyLength(a), len))
        }
        while a >= 0 && keyLength(a) > lcpLo { a = parent(a) }
        return Location(index: lo, exact: false, ancestor: a)
    }

    /// The first wildcard decision on the ancestor chain from entry `start` up (inclusive):
    /// the value and its entry, or nil (none, or an exclusion first).
    @inlinable
    func wildcard(from start: Int) -> (value: Int32, entry: Int)? {
        var c = start
        while c >= 0 {
            let w = u32(c, 8)
            if w == Self.excluded { return nil }
            if w != Self.none { return (Int32(bitPattern: w), c) }
            c = parent(c)
        }
        return nil
    }

    /// rbldnsd's dnset rule at a location: the name's own entry decides when it has one for
    /// the name itself (an exclusion, or its values); otherwise the closest ancestor with a
    /// wildcard decision (at least one label removed) decides.
    @inlinable
    public func match(at l: Location) -> (value: Int32, entry: Int)? {
        if l.exact {
            let x = u32(l.index, 4)
            if x == Self.excluded { return nil }
            if x != Self.none { return (Int32(bitPattern: x), l.index) }
            return wildcard(from: parent(l.index))
        }
        return wildcard(from: l.ancestor)
    }

    /// Whether some name strictly below the located name is listed: an entry below it with a
    /// value (for itself or its subdomains; found through the next-listed index), or a
    /// wildcard decision at the name or above it that lists its children (RFC 8020).
    @inlinable
    public func hasListedBelow(at l: Location, _ k: UnsafeRawPointer, _ len: Int) -> Bool {
        let i = l.exact ? l.index &+ 1 : l.index
        if i < count {
            let j = Int(u32(i, 12))
            if j < count && keyLength(j) > len && memcmpBytes(names + Int(u32(j, 0)), k, len) == 0 { return true }
        }
        return wildcard(from: l.ancestor) != nil
    }

    /// rbldnsd's dnset lookup of the name whose key is `k[0..<len]` (``DomainKey``): the name's
    /// own entry decides when it has one for the name itself (an exclusion, or its values);
    /// otherwise the closest ancestor with a wildcard decision (at least one label removed)
    /// decides. Returns the value index and the deciding entry, or nil (not listed).
    @inlinable
    public func match(_ k: UnsafeRawPointer, _ len: Int) -> (value: Int32, entry: Int)? {
        count == 0 || len == 0 ? nil : match(at: locate(k, len))
    }

    /// The decision for the names directly below the name with key `k[0..<len]` that have no
    /// entry of their own: the closest wildcard decision at the name or above it (what a DNS
    /// wildcard `*.name` must answer in an exported zone).
    @inlinable
    public func childMatch(_ k: UnsafeRawPointer, _ len: Int) -> (value: Int32, entry: Int)? {
        count == 0 || len == 0 ? nil : wildcard(from: locate(k, len).ancestor)
    }

    /// Whether some name strictly below the name with key `k[0..<len]` is listed: an entry
    /// below it with a value (for itself or its subdomains), or a wildcard decision at the name
    /// or above it that lists its children (RFC 8020: the name is then an empty non-terminal
    /// or an excluded name with listed descendants, answered NODATA).
    @inlinable
    public func hasListedBelow(_ k: UnsafeRawPointer, _ len: Int) -> Bool {
        count == 0 || len == 0 ? false : hasListedBelow(at: locate(k, len), k, len)
    }
}

/// What a ``DomainTable`` derives at load: the parent array and the sampled key prefixes (heap
/// memory owned by the table's value).
@usableFromInline final class DomainParents: @unchecked Sendable {
    @usableFromInline let pointer: UnsafeMutablePointer<UInt32>
    /// The sampled key prefixes (``DomainTable/sampleStride``).
    @usableFromInline let samples: UnsafeMutablePointer<UInt64>
    @usableFromInline let sampleCount: Int

    init(count: Int) {
        pointer = .allocate(capacity: Swift.max(count, 1))
        pointer.initialize(repeating: DomainTable.noParent, count: Swift.max(count, 1))
        sampleCount = (count + DomainTable.sampleStride - 1) / DomainTable.sampleStride
        samples = .allocate(capacity: Swift.max(sampleCount, 1))
        samples.initialize(repeating: 0, count: Swift.max(sampleCount, 1))
    }

    deinit { pointer.deallocate(); samples.deallocate() }
}

@inlinable @inline(__always)
func memcmpBytes(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ n: Int) -> Int {
    var i = 0
    while i < n {
        let x = a.load(fromByteOffset: i, as: UInt8.self), y = b.load(fromByteOffset: i, as: UInt8.self)
        if x != y { return Int(x) - Int(y) }
        i &+= 1
    }
    return 0
}

/// Length of the common prefix of `a[0..<m]` and `b[0..<m]`, known to be at least `s`; eight
/// bytes per step, reading no byte at or past `m`.
@inlinable @inline(__always)
func commonPrefix(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, from s: Int, _ m: Int) -> Int {
    var i = s
    while i &+ 8 <= m {
        let x = a.loadUnaligned(fromByteOffset: i, as: UInt64.self) ^ b.loadUnaligned(fromByteOffset: i, as: UInt64.self)
        if x != 0 { return i &+ (x.littleEndian.trailingZeroBitCount &>> 3) }
        i &+= 8
    }
    while i < m {
        if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return i }
        i &+= 1
    }
    return m
}

/// Builds a dataset's name table from ``DomainEntry`` lines.
struct DomainTableBuilder {
    /// Keys in order, with the raw entry fields.
    var keys: [[UInt8]] = []
    var exact: [UInt32] = []
    var wild: [UInt32] = []
    var next: [UInt32] = []
    var blob: [UInt8] = []
    var offsets: [UInt32] = []

    /// Value records the dataset needs after its own values: runs of several values for one
    /// name (each a list of value indexes, answered together).
    var runs: [[Int32]] = []

    /// Groups `entries` by name: for each name and array, an exclusion anywhere wins, else
    /// every distinct value in file order (several → a value run appended after the
    /// `valueCount` values).
    init(_ entries: [DomainEntry], valueCount: Int) throws(StoreError) {
        struct Acc { var exact: [Int32] = []; var exactX = false; var wild: [Int32] = []; var wildX = false }
        var map: [[UInt8]: Int] = [:]
        var accs: [Acc] = []
        var order: [[UInt8]] = []
        for e in entries {
            guard let k = DomainKey.key(labels: e.name), e.name.count <= 254 else {
                throw StoreError(.invalidInput, "dnset name is not a sequence of labels without zero bytes")
            }
            guard e.value < Int32(valueCount) else { throw StoreError(.invalidInput, "dnset value index \(e.value) out of range") }
            let idx: Int
            if let i = map[k] { idx = i } else { idx = accs.count; map[k] = idx; accs.append(Acc()); order.append(k) }
            if e.wildcard {
                if e.isExclusion { accs[idx].wildX = true } else if !accs[idx].wild.contains(e.value) { accs[idx].wild.append(e.value) }
            } else {
                if e.isExclusion { accs[idx].exactX = true } else if !accs[idx].exact.contains(e.value) { accs[idx].exact.append(e.value) }
            }
        }
        let sorted = order.indices.sorted { order[$0].lexicographicallyPrecedes(order[$1]) }
        var runIndex: [[Int32]: UInt32] = [:]
        var runRecords = 0
        func code(_ vals: [Int32], _ x: Bool) -> UInt32 {
            if x { return DomainTable.excluded }
            if vals.isEmpty { return DomainTable.none }
            if vals.count == 1 { return UInt32(vals[0]) }
            if let r = runIndex[vals] { return r }
            let r = UInt32(valueCount + runRecords)
            runIndex[vals] = r
            runs.append(vals)
            runRecords += vals.count
            return r
        }
        for si in sorted {
            let k = order[si], a = accs[map[k]!]
            offsets.append(UInt32(blob.count))
            blob.append(contentsOf: k)
            keys.append(k)
            exact.append(code(a.exact, a.exactX))
            wild.append(code(a.wild, a.wildX))
        }
        guard blob.count < Int(UInt32.max) else { throw StoreError(.tooLarge, "dnset names exceed 4 GiB") }
        next = Self.nextValued(exact: exact, wild: wild)
    }

    /// For each entry, the first entry at or after it with a value in either array (n if none).
    static func nextValued(exact: [UInt32], wild: [UInt32]) -> [UInt32] {
        let n = exact.count
        var out = [UInt32](repeating: UInt32(n), count: n)
        var nxt = UInt32(n)
        for i in stride(from: n - 1, through: 0, by: -1) {
            if exact[i] < DomainTable.excluded || wild[i] < DomainTable.excluded { nxt = UInt32(i) }
            out[i] = nxt
        }
        return out
    }

    var count: Int { keys.count }
    /// Names with a listing value for themselves or below them.
    var listed: Int { zip(exact, wild).filter { $0.0 < DomainTable.excluded || $0.1 < DomainTable.excluded }.count }

    /// Offsets of the entries array and the key bytes from `start`, each 64-byte aligned; the end.
    func layout(from start: Int) -> (entries: Int, names: Int, end: Int) {
        guard count > 0 else { return (0, 0, start) }
        let e = align(start, 64)
        let n = align(e + count * DomainTable.entrySize, 64)
        return (e, n, n + blob.count)
    }

    func copy(to base: UnsafeMutableRawPointer, entries e: Int, names nOff: Int) {
        guard count > 0 else { return }
        let w = ImageWriter(base: base)
        for i in 0..<count {
            let r = e + i * DomainTable.entrySize
            w.u32(r, offsets[i]); w.u32(r + 4, exact[i]); w.u32(r + 8, wild[i]); w.u32(r + 12, next[i])
            w.u8(r + 16, UInt8(keys[i].count))
        }
        w.bytes(nOff, blob)
    }
}

extension DomainTable {
    /// Validates a name table read from a store (StoreFormat.md, "Name tables"): every key
    /// inside the key bytes, a valid key of at most `maxKey` bytes, keys strictly ascending,
    /// decisions below `valueCount` or one of the two codes, next-valued indexes exact, reserved
    /// bytes zero.
    static func validate(_ t: DomainTable, namesLength: Int, valueCount: Int, maxKey: Int, what: String) throws(StoreError) {
        let n = t.count
        var exact: [UInt32] = [], wild: [UInt32] = []
        exact.reserveCapacity(n); wild.reserveCapacity(n)
        var prev: UnsafeRawBufferPointer? = nil
        for i in 0..<n {
            let off = Int(t.u32(i, 0))
            let len = Int(t.entries.load(fromByteOffset: i * 20 + 16, as: UInt8.self))
            guard t.entries.load(fromByteOffset: i * 20 + 17, as: UInt8.self) == 0,
                  t.entries.loadUnaligned(fromByteOffset: i * 20 + 18, as: UInt16.self) == 0 else {
                throw layoutError("\(what) name entry \(i) reserved bytes are not zero")
            }
            guard off <= namesLength, len <= namesLength - off, len >= 2, len <= maxKey else {
                throw layoutError("\(what) name entry \(i) key at \(off)+\(len) is outside the key bytes or too long")
            }
            let k = t.key(i)
            // Labels of 1–63 non-zero bytes, each followed by one zero byte.
            var run = 0
            for b in k {
                if b == 0 {
                    guard run >= 1 && run <= 63 else { throw layoutError("\(what) name entry \(i) has a label of \(run) bytes") }
                    run = 0
                } else {
                    guard b < 0x41 || b > 0x5A else { throw layoutError("\(what) name entry \(i) is not lower-case") }
                    run += 1
                }
            }
            guard run == 0 else { throw layoutError("\(what) name entry \(i) key does not end with a terminator") }
            if let p = prev {
                let m = min(p.count, k.count)
                let c = memcmpBytes(p.baseAddress!, k.baseAddress!, m)
                guard c < 0 || (c == 0 && p.count < k.count) else {
                    throw layoutError("\(what) name keys not strictly ascending at entry \(i)")
                }
            }
            prev = k
            let x = t.u32(i, 4), y = t.u32(i, 8)
            for v in [x, y] where v < DomainTable.excluded && Int(v) >= valueCount {
                throw layoutError("\(what) name entry \(i) value index \(v) ≥ \(valueCount) values")
            }
            exact.append(x); wild.append(y)
        }
        let next = DomainTableBuilder.nextValued(exact: exact, wild: wild)
        for i in 0..<n where t.u32(i, 12) != next[i] {
            throw layoutError("\(what) name entry \(i) next-listed index \(t.u32(i, 12)) should be \(next[i])")
        }
    }
}

extension StoreReader {
    /// A dataset record of key kind 3 (dnset, format version 3): the entries array at offset
    /// 72, the key bytes at 80 (their length at 120), no radix; see StoreFormat.md.
    static func domainDataset(_ r: ImageReader, _ mem: StoreMemory, _ d: Int, what: String, name: String, type: String,
                              width: Int, flags: UInt8, values: [StoreValue], nextValue: inout Int,
                              tablesS: SectionInfo, tablesFrom: Int,
                              string: (UInt32, UInt32, String) throws(StoreError) -> (Int, Int),
                              apexLength: Int) throws(StoreError) -> (StoreDataset, Int) {
        guard flags & ~3 == 0 else { throw layoutError("\(what) has unknown flags \(flags)") }
        let ttl = try r.u32(d + 20)
        let created = try r.u64(d + 24), expires = try r.u64(d + 32)
        guard (flags & 1 != 0 || created == 0) && (flags & 2 != 0 || expires == 0) else {
            throw layoutError("\(what) has a timestamp its flags do not announce")
        }
        let entryCount = try int(try r.u64(d + 40), "\(what) entry count")
        let vFirst = Int(try r.u32(d + 48)), vCount = Int(try r.u32(d + 52))
        guard vFirst == nextValue, vCount <= values.count - vFirst else {
            throw layoutError("\(what) values \(vFirst)+\(vCount) are not the next ones (\(nextValue) of \(values.count))")
        }
        nextValue += vCount
        guard width == TableBuilder.valueWidth(forCount: vCount) else {
            throw layoutError("\(what) value width \(width) does not fit \(vCount) values")
        }
        let n = try int(try r.u64(d + 56), "\(what) name count")
        guard n <= r.count / DomainTable.entrySize else { throw layoutError("\(what) name count \(n) exceeds the file size") }
        let listed = try int(try r.u64(d + 64), "\(what) listed name count")
        let namesLength = try int(try r.u64(d + 120), "\(what) key bytes length")
        guard try r.u8(d + 112) == 0, try r.u8(d + 113) == 0, try r.u8(d + 114) == 0, try r.u8(d + 115) == 0,
              try r.u32(d + 116) == 0, try r.u64(d + 88) == 0 else {
            throw layoutError("\(what) (dnset) has radix or layout fields that are not zero")
        }
        let subzone: [UInt8]
        let (so, sl) = (try r.u32(d + 96), try r.u32(d + 100))
        if sl == 0 {
            guard so == 0 else { throw layoutError("\(what) has a subzone offset without a length") }
            subzone = []
        } else {
            let (o, l) = try string(so, sl, "\(what) subzone")
            let b = try r.bytes(o, l)
            guard isValidLabels(b) else { throw layoutError("\(what) subzone is not a sequence of labels") }
            subzone = Array(b)
        }
        let skippedLines = try int(try r.u64(d + 104), "\(what) skipped line count")
        let sizes = [n * DomainTable.entrySize, namesLength]
        let names = ["name entries", "key bytes"]
        var offs: [Int] = []
        var end = tablesFrom
        for k in 0..<2 {
            let o = try int(try r.u64(d + 72 + 8 * k), "\(what) \(names[k]) offset")
            if sizes[k] == 0 {
                guard o == 0 else { throw layoutError("\(what) has an offset for empty \(names[k])") }
                offs.append(0)
                continue
            }
            guard o % 64 == 0, o >= end, o <= tablesS.offset + tablesS.length,
                  sizes[k] <= tablesS.offset + tablesS.length - o else {
                throw layoutError("\(what) \(names[k]) at \(o)+\(sizes[k]) is misaligned, overlapping or outside the tables section")
            }
            offs.append(o)
            end = o + sizes[k]
        }
        guard (n == 0) == (namesLength == 0) else { throw layoutError("\(what) has names without key bytes or key bytes without names") }
        let raw = DomainTable(entries: mem.base + offs[0], names: mem.base + offs[1], count: n, owner: mem)
        // Whole names (apex, subzone, key) stay within 255 bytes: key length + subzone + apex.
        try DomainTable.validate(raw, namesLength: namesLength, valueCount: vCount,
                                 maxKey: max(0, 255 - apexLength - subzone.count), what: what)
        let dt = raw.indexed()
        let counted = (0..<n).filter { dt.u32($0, 4) < DomainTable.excluded || dt.u32($0, 8) < DomainTable.excluded }.count
        guard counted == listed else { throw layoutError("\(what) has \(counted) listed names, header says \(listed)") }
        let dsValues = Array(values[vFirst..<(vFirst + vCount)])
        if let last = dsValues.last, last.continues { throw layoutError("\(what) ends with a value that continues") }
        guard DatasetRule(storedType: type, family: .ipv4) == .domainNames else {
            throw layoutError("\(what) is a \(DatasetRule(storedType: type, family: .ipv4)) dataset ('\(type)') with a name table")
        }
        var empty = TableBuilder(family: .ipv4, kind: 0, valueCount: 0)
        let ds = StoreDataset(name: name, type: type, rule: .domainNames, family: .ipv4, ttl: ttl, table: empty.finishStandalone(),
                              values: dsValues,
                              created: flags & 1 != 0 ? created : nil, expires: flags & 2 != 0 ? expires : nil,
                              entryCount: entryCount, subzone: subzone, skippedLines: skippedLines, domains: dt)
        return (ds, end)
    }
}
