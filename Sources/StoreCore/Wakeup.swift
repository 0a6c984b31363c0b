import Synchronization

/// A wake-up call one waiter at a time waits for, up to a timeout: a ``signal()``
/// sent while nobody waits is kept for the next wait (several count as one), so
/// none is lost. The commit relay waits on one for other replicas' notifications,
/// the reconciler's followers for a resigning leader, its leader for other
/// replicas' reconcile requests and a replica that asked for one for its answer.
public final class Wakeup: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
        /// The current wait is over (timed out or cancelled): its waiter must not park.
        var over = false
    }

    private let state = Mutex(State())

    public init() {}

    public func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.pending = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Returns at the next signal (at once when one is pending), after `timeout`, or
    /// when the task is cancelled.
    public func wait(upTo timeout: Duration) async {
        state.withLock { $0.over = false }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let now = self.state.withLock { state -> Bool in
                        if state.pending {
                            state.pending = false
                            return true
                        }
                        if state.over { return true }
                        state.waiter = continuation
                        return false
                    }
                    if now { continuation.resume() }
                }
            }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            // Timed out or cancelled: the waiter, parked or about to park, goes too.
            let parked = state.withLock { state -> CheckedContinuation<Void, Never>? in
                state.over = true
                defer { state.waiter = nil }
                return state.waiter
            }
            parked?.resume()
            group.cancelAll()
        }
    }
}
