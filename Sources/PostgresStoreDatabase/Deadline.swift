import Synchronization

/// Runs `operation` in a task of its own and returns what it returns, or throws
/// `expired()` once `limit` has passed: then the operation is cancelled and left to
/// end on its own, never waited for. For awaits that must not hold a caller (and the
/// locks it holds) forever when the server or the network stops answering without
/// closing the connection: a rollback, a transaction's statements, a connection
/// attempt.
func withDeadline<T: Sendable>(
    _ limit: Duration,
    expired: @escaping @Sendable () -> any Error,
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let race = DeadlineRace<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            race.start(continuation, limit: limit, expired: expired, operation)
        }
    } onCancel: {
        race.cancel()
    }
}

/// The state of one ``withDeadline(_:expired:_:)``: whoever finishes first (the
/// operation, the timer or the caller's cancellation) resumes the caller, once.
private final class DeadlineRace<T: Sendable>: Sendable {
    private struct State {
        var caller: CheckedContinuation<T, any Error>?
        var work: Task<Void, Never>?
        var timer: Task<Void, Never>?
        var cancelled = false
    }

    private let state = Mutex(State())

    func start(
        _ caller: CheckedContinuation<T, any Error>, limit: Duration, expired: @escaping @Sendable () -> any Error,
        _ operation: @escaping @Sendable () async throws -> T
    ) {
        // The caller first: an operation may end before the tasks are stored below.
        let cancelledAlready = state.withLock { state -> Bool in
            state.caller = caller
            return state.cancelled
        }
        if cancelledAlready {
            finish { .failure(CancellationError()) }
            return
        }
        let work = Task {
            let result: Result<T, any Error>
            do {
                result = .success(try await operation())
            } catch {
                result = .failure(error)
            }
            self.finish { result }
        }
        let timer = Task {
            try? await Task.sleep(for: limit)
            guard !Task.isCancelled else { return }
            // expired() runs only when the timer wins (it may close a connection).
            self.finish { .failure(expired()) }
        }
        let finishedAlready = state.withLock { state -> Bool in
            state.work = work
            state.timer = timer
            return state.caller == nil
        }
        if finishedAlready {
            work.cancel()
            timer.cancel()
        }
    }

    func cancel() {
        state.withLock { $0.cancelled = true }
        finish { .failure(CancellationError()) }
    }

    /// Resumes the caller with `result()` unless it was resumed already.
    private func finish(_ result: () -> Result<T, any Error>) {
        let (caller, work, timer) = state.withLock { state in
            defer { state.caller = nil }
            return (state.caller, state.work, state.timer)
        }
        guard let caller else { return }
        work?.cancel()
        timer?.cancel()
        caller.resume(with: result())
    }
}
