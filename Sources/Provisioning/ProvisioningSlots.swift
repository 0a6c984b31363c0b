import Synchronization

/// Bounds how many provisioning operations run at once; the rest wait (their
/// stores stay `queued`). First come, first served; the limit can change at
/// runtime; a waiter whose task is cancelled leaves the queue.
final class ProvisioningSlots: Sendable {
    private struct State {
        var limit: Int
        var inUse = 0
        var nextID: UInt64 = 0
        var waiters: [(id: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
    }

    private let state: Mutex<State>

    init(limit: Int) {
        state = Mutex(State(limit: max(1, limit)))
    }

    var limit: Int { state.withLock { $0.limit } }

    /// Waits for a free slot. Throws `CancellationError` if the task is cancelled first.
    func acquire() async throws {
        let id = state.withLock { state -> UInt64? in
            if state.inUse < state.limit && state.waiters.isEmpty {
                state.inUse += 1
                return nil
            }
            state.nextID += 1
            return state.nextID
        }
        guard let id else { return }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let resumeNow: Bool = state.withLock { state in
                    if Task.isCancelled { return true }
                    state.waiters.append((id, continuation))
                    return false
                }
                if resumeNow { continuation.resume(throwing: CancellationError()) }
                // A slot may have been freed before we queued.
                self.grant()
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, any Error>? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index).continuation
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    func release() {
        state.withLock { $0.inUse -= 1 }
        grant()
    }

    func setLimit(_ limit: Int) {
        state.withLock { $0.limit = max(1, limit) }
        grant()
    }

    /// Hands free slots to waiters, oldest first.
    private func grant() {
        let granted = state.withLock { state in
            var granted: [CheckedContinuation<Void, any Error>] = []
            while state.inUse < state.limit, !state.waiters.isEmpty {
                state.inUse += 1
                granted.append(state.waiters.removeFirst().continuation)
            }
            return granted
        }
        for continuation in granted {
            continuation.resume()
        }
    }
}
