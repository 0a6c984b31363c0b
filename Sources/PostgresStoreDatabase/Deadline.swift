import Synchronization

/// Runs `operation` in a task of its own and returns what it returns, or throws
/// `expired()` once `limit` has passed: then the operation is cancelled and left to
/// end on its own, never waited for. For awaits that must not hold a caller (and the
/// locks it holds) forever when the server or the network stops answering without
/// closing the connection: a rollback, a transaction's statements, a connection
/// attempt.
///
/// With `abandonable`, the wait also ends when ``AbandonableWaits/abandonAll(with:)``
/// is called before it is over: with ``Abandoned``, carrying that call's reason.
func withDeadline<T: Sendable>(
    _ limit: Duration,
    expired: @escaping @Sendable () -> any Error,
    abandonable: AbandonableWaits? = nil,
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let race = DeadlineRace<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            race.start(continuation, limit: limit, expired: expired, abandonable: abandonable, operation)
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
        var registration: (waits: AbandonableWaits, id: UInt64)?
    }

    private let state = Mutex(State())

    func start(
        _ caller: CheckedContinuation<T, any Error>, limit: Duration, expired: @escaping @Sendable () -> any Error,
        abandonable: AbandonableWaits?, _ operation: @escaping @Sendable () async throws -> T
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
        let registration = abandonable.map { waits in
            (waits, waits.register { reason in self.finish { .failure(Abandoned(reason: reason)) } })
        }
        let finishedAlready = state.withLock { state -> Bool in
            state.work = work
            state.timer = timer
            state.registration = registration
            return state.caller == nil
        }
        if finishedAlready {
            work.cancel()
            timer.cancel()
            if let (waits, id) = registration { waits.unregister(id) }
        }
    }

    func cancel() {
        state.withLock { $0.cancelled = true }
        finish { .failure(CancellationError()) }
    }

    /// Resumes the caller with `result()` unless it was resumed already.
    private func finish(_ result: () -> Result<T, any Error>) {
        let (caller, work, timer, registration) = state.withLock { state in
            defer {
                state.caller = nil
                state.registration = nil
            }
            return (state.caller, state.work, state.timer, state.registration)
        }
        guard let caller else { return }
        work?.cancel()
        timer?.cancel()
        if let (waits, id) = registration { waits.unregister(id) }
        caller.resume(with: result())
    }
}

/// The waits running now that one call can end together: the statements in flight
/// when the store database is found gone (a statement on a connection whose server
/// went away may get no answer until its deadline, holding its caller and the locks
/// it holds).
final class AbandonableWaits: Sendable {
    private struct State {
        var next: UInt64 = 0
        var waits: [UInt64: @Sendable (any Error) -> Void] = [:]
    }

    private let state = Mutex(State())

    func register(_ end: @escaping @Sendable (any Error) -> Void) -> UInt64 {
        state.withLock { state in
            state.next += 1
            state.waits[state.next] = end
            return state.next
        }
    }

    func unregister(_ id: UInt64) {
        _ = state.withLock { $0.waits.removeValue(forKey: id) }
    }

    /// Ends every wait registered now with `reason` (as ``Abandoned``); returns how many.
    @discardableResult
    func abandonAll(with reason: any Error) -> Int {
        let waits = state.withLock { state in
            defer { state.waits = [:] }
            return Array(state.waits.values)
        }
        for end in waits { end(reason) }
        return waits.count
    }
}

/// A wait ended by ``AbandonableWaits/abandonAll(with:)``, with its reason.
struct Abandoned: Error {
    var reason: any Error
}
