/// Bounds how many provisioning operations run at once; the rest wait (their
/// stores stay `queued`). First come, first served; the limit can change at
/// runtime; a waiter that gives up leaves the queue.
///
/// Pure state, kept in ``OperationTable`` under the provisioner's one lock: the
/// methods return the waiters to resume, and the caller resumes them after it let
/// go of the lock.
struct ProvisioningSlots {
    typealias Waiter = CheckedContinuation<Void, any Error>

    private(set) var limit: Int
    private(set) var inUse = 0
    /// Oldest first, by the waiting operation's store id (one operation per store).
    private var waiters: [(id: String, continuation: Waiter)] = []

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// Takes a slot at once if one is free and nobody waits for it.
    mutating func takeIfFree() -> Bool {
        guard inUse < limit, waiters.isEmpty else { return false }
        inUse += 1
        return true
    }

    /// Queues a waiter; returns the waiters that got a slot (it may be one of them).
    mutating func wait(id: String, _ continuation: Waiter) -> [Waiter] {
        waiters.append((id, continuation))
        return grant()
    }

    /// Takes a waiter out of the queue (it gave up); nil when it is no longer there.
    mutating func removeWaiter(id: String) -> Waiter? {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return nil }
        return waiters.remove(at: index).continuation
    }

    mutating func release() -> [Waiter] {
        inUse -= 1
        return grant()
    }

    mutating func setLimit(_ limit: Int) -> [Waiter] {
        self.limit = max(1, limit)
        return grant()
    }

    /// Hands free slots to waiters, oldest first.
    private mutating func grant() -> [Waiter] {
        var granted: [Waiter] = []
        while inUse < limit, !waiters.isEmpty {
            inUse += 1
            granted.append(waiters.removeFirst().continuation)
        }
        return granted
    }
}
