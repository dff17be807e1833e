@testable import DNSBLServer
import ServerTestSupport
import Testing

/// Listeners are told of every swap (NOTIFY, IXFR prebuild): nothing polls the holder.
struct SnapshotHolderTests {
    @Test func everySwapReachesEverySubscriberInOrder() async throws {
        let first = Snapshot(handler: StubHandler(), entryCount: 1, generation: 1)
        let holder = SnapshotHolder(first)
        let a = holder.changes(), b = holder.changes()
        let second = Snapshot(handler: StubHandler(), entryCount: 2, generation: 2)
        let third = Snapshot(handler: StubHandler(), entryCount: 3, generation: 3)
        holder.swap(second)
        holder.swap(third)
        for stream in [a, b] {
            var seen: [(Int, Int)] = []
            for await change in stream {
                seen.append((change.previous.generation, change.current.generation))
                if seen.count == 2 { break }
            }
            #expect(seen.map(\.0) == [1, 2] && seen.map(\.1) == [2, 3])
        }
    }

    @Test func aSubscriptionStartsAtItsCallAndEndsWithItsTask() async throws {
        let holder = SnapshotHolder(Snapshot(handler: StubHandler(), entryCount: 1, generation: 1))
        holder.swap(Snapshot(handler: StubHandler(), entryCount: 2, generation: 2))
        let task = Task {
            var generations: [Int] = []
            for await change in holder.changes() { generations.append(change.current.generation) }
            return generations
        }
        // The subscription is registered once the task runs; swaps before it are not replayed.
        try await Task.sleep(for: .milliseconds(100))
        holder.swap(Snapshot(handler: StubHandler(), entryCount: 3, generation: 3))
        try await Task.sleep(for: .milliseconds(100))
        task.cancel()
        #expect(await task.value == [3])
    }
}
