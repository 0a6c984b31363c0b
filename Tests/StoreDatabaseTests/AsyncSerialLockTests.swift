@testable import PostgresStoreDatabase
import Synchronization
import Testing

/// `AsyncSerialLock` (Sources/PostgresStoreDatabase/AsyncSerialLock.swift) under
/// contention: one holder at a time, and every caller gets through (a waiter left
/// queued behind a free lock would wait for the next caller; none comes after the
/// last ones, so the run would stall).
@Suite struct AsyncSerialLockTests {
    final class Counter: Sendable {
        let inside = Atomic<Int>(0)
        let most = Atomic<Int>(0)
        let total = Atomic<Int>(0)
    }

    @Test func everyCallerGetsTheLockOnceAtATimeUnderContention() async throws {
        let lock = AsyncSerialLock()
        let counter = Counter()
        let callers = 16
        let rounds = 3_000
        // Every caller finishes well within the bound unless a wake-up is lost.
        try await withDeadline(.seconds(120), expired: { LockStalled(total: counter.total.load(ordering: .relaxed)) }) {
            await withTaskGroup(of: Void.self) { group in
                for caller in 0..<callers {
                    group.addTask {
                        for round in 0..<rounds {
                            try? await lock.withLock {
                                let now = counter.inside.add(1, ordering: .acquiringAndReleasing).newValue
                                counter.most.max(now, ordering: .relaxed)
                                if (round + caller) % 7 == 0 { await Task.yield() }
                                counter.total.add(1, ordering: .relaxed)
                                counter.inside.subtract(1, ordering: .acquiringAndReleasing)
                            }
                        }
                    }
                }
            }
        }
        #expect(counter.total.load(ordering: .relaxed) == callers * rounds)
        #expect(counter.most.load(ordering: .relaxed) == 1)
    }

    struct LockStalled: Error, CustomStringConvertible {
        var total: Int
        var description: String { "the callers stalled after \(total) turns: a waiter was left behind a free lock" }
    }
}
