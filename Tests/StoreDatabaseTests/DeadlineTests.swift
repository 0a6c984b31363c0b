@testable import PostgresStoreDatabase
import Synchronization
import Testing

/// `withDeadline` (Sources/PostgresStoreDatabase/Deadline.swift): the caller gets the
/// operation's result, or the expiry error without waiting for an operation that never
/// ends, or CancellationError when it is cancelled itself.
@Suite struct DeadlineTests {
    struct Expired: Error {}

    final class Flag: Sendable {
        let value = Atomic<Bool>(false)
    }

    @Test func anOperationThatEndsInTimeGivesItsResult() async throws {
        let value = try await withDeadline(.seconds(30), expired: { Expired() }) { 42 }
        #expect(value == 42)
        await #expect(throws: Expired.self) {
            try await withDeadline(.seconds(30), expired: { Expired() }) { () async throws -> Int in throw Expired() }
        }
    }

    /// An operation that ends at once, before the race has stored its tasks, still
    /// gives its value (never the expiry that would follow if its end were lost).
    @Test func anInstantOperationIsNeverLost() async throws {
        for _ in 0..<500 {
            let value = try await withDeadline(.milliseconds(500), expired: { Expired() }) { 7 }
            #expect(value == 7)
        }
    }

    @Test func anOperationThatNeverEndsIsLeftBehind() async throws {
        let released = Flag()
        await #expect(throws: Expired.self) {
            try await withDeadline(.milliseconds(50), expired: { Expired() }) { () async throws -> Int in
                // Ignores cancellation for a while, as a call on a dead connection may.
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    Task {
                        while !released.value.load(ordering: .acquiring) { try? await Task.sleep(for: .milliseconds(10)) }
                        continuation.resume()
                    }
                }
                return 0
            }
        }
        // The caller came back while the operation still ran.
        released.value.store(true, ordering: .releasing)
    }

    @Test func aCancelledCallerGetsCancellationError() async throws {
        let task = Task {
            try await withDeadline(.seconds(30), expired: { Expired() }) { () async throws -> Int in
                try await Task.sleep(for: .seconds(30))
                return 0
            }
        }
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
    }

    /// Waits registered with ``AbandonableWaits`` end together, with the reason
    /// given, long before their deadline; a wait that ended is not ended again.
    @Test func abandonedWaitsEndAtOnceWithTheReason() async throws {
        struct Gone: Error {}
        let waits = AbandonableWaits()
        #expect(try await withDeadline(.seconds(60), expired: { Expired() }, abandonable: waits) { 1 } == 1)
        let started = ContinuousClock.now
        let callers = (0..<3).map { _ in
            Task {
                try await withDeadline(.seconds(600), expired: { Expired() }, abandonable: waits) { () async throws -> Int in
                    try await Task.sleep(for: .seconds(3600))
                    return 0
                }
            }
        }
        var abandoned = 0
        while abandoned < 3, ContinuousClock.now - started < .seconds(60) {
            try await Task.sleep(for: .milliseconds(10))
            abandoned += waits.abandonAll(with: Gone())
        }
        #expect(abandoned == 3)
        for caller in callers {
            let result = await caller.result
            guard case .failure(let error as Abandoned) = result else {
                Issue.record("expected Abandoned, got \(result)")
                continue
            }
            #expect(error.reason is Gone)
        }
        #expect(waits.abandonAll(with: Gone()) == 0)
    }
}
