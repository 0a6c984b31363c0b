import Synchronization

/// A first-come, first-served lock for async code: a waiter suspends instead of
/// blocking its thread, and a cancelled waiter leaves the queue with
/// `CancellationError`. No thread is ever held across an `await` (the `Mutex`
/// guards only the queue, never the critical section).
final class AsyncSerialLock: Sendable {
    private struct State {
        var locked = false
        var nextWaiter: UInt64 = 0
        var waiters: [(id: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
    }

    private let state = Mutex(State())

    /// Runs `body` holding the lock; waits for the callers before it first.
    ///
    /// - Throws: `CancellationError` when the task is cancelled while it waits (it
    ///   never got the lock); whatever `body` throws.
    func withLock<T>(_ body: () async throws -> T) async throws -> T {
        try await lock()
        defer { unlock() }
        return try await body()
    }

    private func lock() async throws {
        let id: UInt64? = state.withLock { state in
            if !state.locked {
                state.locked = true
                return nil
            }
            state.nextWaiter += 1
            return state.nextWaiter
        }
        guard let id else { return }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                // The lock may have been let go since it was found taken (with nobody
                // queued, unlock() marks it free and resumes no one): whether it is
                // free and the queueing are decided in one critical section, so a
                // waiter is never queued behind a lock nobody holds.
                let outcome = state.withLock { state -> WaitOutcome in
                    if !state.locked {
                        state.locked = true
                        return .acquired
                    }
                    if Task.isCancelled { return .cancelled }
                    state.waiters.append((id, continuation))
                    return .queued
                }
                switch outcome {
                case .acquired: continuation.resume()
                case .cancelled: continuation.resume(throwing: CancellationError())
                case .queued: break
                }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, any Error>? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index).continuation
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    private enum WaitOutcome {
        case acquired, cancelled, queued
    }

    private func unlock() {
        // The lock passes straight to the first waiter, so a newcomer cannot overtake it.
        let next = state.withLock { state -> CheckedContinuation<Void, any Error>? in
            guard !state.waiters.isEmpty else {
                state.locked = false
                return nil
            }
            return state.waiters.removeFirst().continuation
        }
        next?.resume()
    }
}
