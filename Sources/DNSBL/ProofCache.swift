#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// The proofs (``WireProof``) one thread has computed for recent DO=1 QNAMEs, so a repeated
/// QNAME costs a hash, a compare and a copy instead of the store view's descent
/// (``StoreZoneView/wireProof(_:)``).
///
/// One direct-mapped table of ``capacity`` entries per thread (thread-local: no lock on the
/// query path), allocated zeroed at the thread's first DO=1 query in a store-view zone and freed
/// when the thread ends; an entry is replaced by the next QNAME hashing to its slot. Each
/// ``SignedZone`` draws a new ``generation`` when a responder is built, and an entry only
/// answers for the generation it was computed in, so a reload (a new responder, a new view)
/// starts from an empty cache in effect: no entry of an old view is ever served. A proof is a
/// pure function of the view and the QNAME, so an answer from the cache is the answer
/// computed afresh (SignedViewTests check this for random names).
enum ProofCache {
    /// Entries per thread (~1.3 KiB each, touched as used).
    static let capacity = 1024

    struct Entry {
        /// 0: empty.
        var generation: UInt64 = 0
        var qname = NameBuffer()
        var proof = WireProof()
    }

    /// A generation no ``SignedZone`` has had (never 0).
    static func nextGeneration() -> UInt64 { generations.wrappingAdd(1, ordering: .relaxed).newValue }

    /// The proof of `qname` in `view` (of generation `generation`), from this thread's table
    /// or computed and stored there. Allocation-free after the thread's first call.
    static func proof(_ qname: NameBuffer, view: StoreZoneView, generation: UInt64) -> WireProof {
        let table = threadTable()
        var q = qname
        // FNV-1a over the name, then the generation.
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for i in 0..<q.count { h = (h ^ UInt64(q.bytes[i])) &* 0x100_0000_01b3 }
        h = (h ^ generation) &* 0x100_0000_01b3
        let e = table + Int(truncatingIfNeeded: (h ^ (h >> 29)) & UInt64(capacity - 1))
        if e.pointee.generation == generation && e.pointee.qname.count == q.count {
            var same = true
            var i = 0
            while i < q.count {
                if e.pointee.qname.bytes[i] != q.bytes[i] { same = false; break }
                i += 1
            }
            if same { return e.pointee.proof }
        }
        let p = view.wireProof(qname)
        e.pointee.generation = generation
        e.pointee.qname = qname
        e.pointee.proof = p
        return p
    }

    private static let generations = Atomic<UInt64>(0)

    /// This thread's table (allocated zeroed on first use: an all-zero entry is empty).
    private static func threadTable() -> UnsafeMutablePointer<Entry> {
        if let p = pthread_getspecific(tableKey) { return p.assumingMemoryBound(to: Entry.self) }
        let bytes = MemoryLayout<Entry>.stride * capacity
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: MemoryLayout<Entry>.alignment)
        memset(raw, 0, bytes)
        pthread_setspecific(tableKey, raw)
        return raw.bindMemory(to: Entry.self, capacity: capacity)
    }

    private static let tableKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { p in p?.deallocate() }
        return key
    }()
}
