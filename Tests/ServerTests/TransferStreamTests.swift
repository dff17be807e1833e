#if canImport(Glibc)
import Glibc
#endif
@testable import DNSBLServer
import Foundation
import Synchronization
import Testing

/// The queue between a transfer's producer and its connection (TransferHook.swift): bounded,
/// it holds the producer back until a stalled reader is given up; unbounded, the producer
/// never waits and the reader gets every message in order.
@Suite("Transfer stream")
struct TransferStreamTests {
    static func message(_ i: Int) -> [UInt8] { [UInt8(i & 0xFF), UInt8(i >> 8 & 0xFF), UInt8(i >> 16 & 0xFF)] }

    @Test("a bounded stream whose reader takes nothing gives the reader up after the stall limit: put returns false, take says abort")
    func stalledReaderIsGivenUp() {
        let stream = TransferStream(capacity: 2, stallLimit: .milliseconds(200))
        #expect(stream.put(Self.message(0)))
        #expect(stream.put(Self.message(1)))
        let started = ContinuousClock.now
        #expect(!stream.put(Self.message(2)), "the third put into a full queue nobody reads fails")
        let waited = ContinuousClock.now - started
        #expect(waited >= .milliseconds(200) && waited < .seconds(10), "it waited the stall limit: \(waited)")
        #expect(stream.isAborted)
        guard case .abort = stream.take(wake: {}) else { Issue.record("take did not say abort"); return }
        #expect(!stream.put(Self.message(3)), "nothing more is queued after the abort")
    }

    @Test("a bounded stream whose reader keeps taking is not given up, however long the transfer takes")
    func slowReaderIsKept() throws {
        let stream = TransferStream(capacity: 1, stallLimit: .milliseconds(150))
        let total = 12
        let got = Mutex<[[UInt8]]>([])
        let reader = Thread {
            while got.withLock({ $0.count }) < total {
                usleep(50_000)  // slower than the producer, faster than the stall limit
                if case .message(let m) = stream.take(wake: {}) { got.withLock { $0.append(m) } }
            }
        }
        reader.start()
        for i in 0..<total { #expect(stream.put(Self.message(i)), "put \(i)") }
        stream.finish()
        let deadline = ContinuousClock.now + .seconds(30)
        while got.withLock({ $0.count }) < total && ContinuousClock.now < deadline { usleep(10_000) }
        #expect(!stream.isAborted)
        #expect(got.withLock { $0 } == (0..<total).map(Self.message))
    }

    @Test("an unbounded stream never holds the producer back: 20,000 puts with no reader, then every message in order and the end")
    func unboundedNeverWaits() {
        let stream = TransferStream(capacity: nil, stallLimit: .milliseconds(50))
        let started = ContinuousClock.now
        for i in 0..<20_000 { #expect(stream.put(Self.message(i))) }
        stream.finish()
        #expect(ContinuousClock.now - started < .seconds(20))
        var i = 0
        loop: while true {
            switch stream.take(wake: {}) {
            case .message(let m):
                if m != Self.message(i) { Issue.record("message \(i) out of order"); break loop }
                i += 1
            case .end: break loop
            case .wait, .abort: Issue.record("unexpected wait/abort at \(i)"); break loop
            }
        }
        #expect(i == 20_000)
    }
}
