import DNSBL
import Synchronization

// aclkey: per-key query counters with bounded cardinality.

/// Stable key slots for the per-key counters (`prefixbl_aclkey_queries_total`), shared by every
/// counter block of a server, like ``ZoneSlots``: the first ``limit`` distinct listed keys
/// answered get a series of their own (label `key`, the key lower-cased) and keep it across
/// reloads; further keys count together under `result="other_key"`, and labels in the key
/// position that are no listed key under `result="unknown_key"`. The series are bounded by
/// ``limit`` + 2.
public final class KeySlots: Sendable {
    /// Default for `--aclkey-metrics-keys`.
    public static let defaultLimit = 100
    /// Keys counted under their own label (0: none, every listed key counts as `other_key`).
    public let limit: Int
    private let names = Mutex<[String]>([])

    public init(limit: Int = KeySlots.defaultLimit) { self.limit = max(0, limit) }

    /// Slots: 0 unknown keys, 1 listed keys beyond the limit, 2… one per named key.
    var count: Int { limit + 2 }

    /// The slot of `name`, assigning the next free one; 1 when every one is taken.
    func slot(for name: String) -> Int {
        names.withLock { n in
            if let i = n.firstIndex(of: name) { return i + 2 }
            guard n.count < limit else { return 1 }
            n.append(name)
            return n.count + 1
        }
    }

    /// Labels of slot `i`: (result, key).
    func labels(_ i: Int) -> (String, String) {
        switch i {
        case 0: return ("unknown_key", "")
        case 1: return ("other_key", "")
        default: return ("key", names.withLock { n in i - 2 < n.count ? n[i - 2] : "" })
        }
    }
}

/// One thread's per-key counts, and the map from the snapshot's key ordinals
/// (`AnswerOutcome.keyOrdinal`) to slots, filled as keys are first answered.
final class KeyCounters: @unchecked Sendable {
    let slots: KeySlots
    let counts: UnsafeMutablePointer<UInt64>
    private var map: UnsafeMutablePointer<Int32>
    private var mapCount = 0

    init(_ slots: KeySlots) {
        self.slots = slots
        counts = .allocate(capacity: slots.count)
        counts.initialize(repeating: 0, count: slots.count)
        map = .allocate(capacity: 1)
    }
    deinit { counts.deallocate(); map.deallocate() }

    /// Forgets the ordinal → slot map for a new snapshot of `keyCount` keys (allocates when
    /// the snapshot lists more keys than the last; once per reload per thread).
    func reset(keyCount: Int) {
        if keyCount > mapCount {
            map.deallocate()
            map = .allocate(capacity: keyCount)
        }
        mapCount = keyCount
        map.initialize(repeating: -1, count: keyCount)
    }

    @inline(__always)
    func record(_ o: AnswerOutcome, _ query: UnsafeRawBufferPointer) {
        switch o.keyState {
        case .none: return
        case .unknown: counts[0] &+= 1
        case .known:
            let k = Int(o.keyOrdinal)
            guard k >= 0 && k < mapCount else { return }
            var s = map[k]
            if s < 0 {
                s = Int32(assign(k, o, query))
            }
            counts[Int(s)] &+= 1
        }
    }

    /// The slot of a key answered for the first time since the reload: its name read from
    /// the query (allocates once per key per reload per thread).
    private func assign(_ k: Int, _ o: AnswerOutcome, _ query: UnsafeRawBufferPointer) -> Int {
        let at = o.keyOffset
        guard at > 0 && at < query.count, at + 1 + Int(query[at]) <= query.count else { return 1 }
        let bytes = query[(at + 1)..<(at + 1 + Int(query[at]))].map { ($0 &- 0x41) < 26 ? $0 | 0x20 : $0 }
        let s = slots.slot(for: String(decoding: bytes, as: UTF8.self))
        map[k] = Int32(s)
        return s
    }
}

extension QueryCounters {
    /// Counts the key of one query (aclkey zones only; nothing for other queries). Allocates
    /// nothing except the first time a key is seen after a reload.
    @inline(__always)
    public func recordKey(_ o: AnswerOutcome, query: UnsafeRawBufferPointer) {
        if o.keyState != .none { keys.record(o, query) }
    }
}
