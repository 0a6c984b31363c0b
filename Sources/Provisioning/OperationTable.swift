import Foundation
import StoreCore

/// Everything the provisioner knows about its operations, in one place behind its
/// one lock: whether it still takes work, the per-store locks, the provisioning
/// slots, and each accepted operation with its stop request and the callers
/// waiting for its end.
///
/// Pure state, in the manner of a NIO state machine: no method suspends or
/// resumes anything; those that free a waiter return its continuation, and
/// ``Provisioner`` resumes it after it let go of the lock.
struct OperationTable {
    enum Phase: Equatable {
        case accepting
        /// Graceful shutdown began: requests answer UNAVAILABLE and every operation
        /// stops at its next step boundary.
        case stopping
        /// The service's `run()` returned.
        case stopped
    }

    /// Why an operation must stop before its end.
    enum StopRequest: Equatable {
        /// A delete takes the store over: stop now (the task is cancelled, a
        /// cluster command under way is killed).
        case cancel
        /// Graceful shutdown: stop at the next step boundary; a cluster command
        /// under way finishes first.
        case shutdown
    }

    /// One accepted operation, from the request that took the store's lock to
    /// the end of its task in the service's group.
    struct Entry {
        var lease: OperationLease
        var started = false
        var stop: StopRequest?
        /// While true the operation sleeps between steps or waits for a slot, so a
        /// shutdown may cancel it right away: no step is under way.
        var betweenSteps = false
        /// The operation's watcher, which cancels its task when resumed.
        var canceller: CheckedContinuation<Void, Never>?
        /// Set when the cancel came before the watcher was there to take it.
        var cancelFired = false
        var endWaiters: [CheckedContinuation<Void, Never>] = []
        /// While true the replica holds the store's lease in the database (taken
        /// after this lock, let go before it); only these leases are renewed.
        var holdsLease = false
    }

    static let shuttingDown = PlatformError(
        .unavailable,
        "the daemon is shutting down and starts no new store operations; send the request again once it is back"
    )

    private(set) var phase = Phase.accepting
    private(set) var locks = OperationLocks()
    private(set) var slots: ProvisioningSlots
    private var entries: [String: Entry] = [:]
    private var idleWaiter: CheckedContinuation<Void, Never>?

    init(maxConcurrentProvisions: Int) {
        slots = ProvisioningSlots(limit: maxConcurrentProvisions)
    }

    // MARK: Accepting

    func checkAccepting() throws {
        guard phase == .accepting else { throw Self.shuttingDown }
    }

    /// Takes store `storeID`'s lock for a new operation. Throws UNAVAILABLE once
    /// shutdown began, OPERATION_IN_PROGRESS while another operation holds the store.
    mutating func register(storeID: String, storeName: String, kind: OperationKind) throws -> OperationLease {
        try checkAccepting()
        let lease = try locks.acquire(storeID: storeID, storeName: storeName, kind: kind)
        entries[storeID] = Entry(lease: lease)
        return lease
    }

    func isRunning(storeID: String) -> Bool {
        entries[storeID] != nil
    }

    func lease(storeID: String) -> OperationLease? {
        entries[storeID]?.lease
    }

    // MARK: Database leases

    /// The operation `lease` now holds (true) or no longer holds its store's lease in
    /// the database.
    mutating func setHoldsLease(_ lease: OperationLease, _ holds: Bool) {
        guard var entry = entries[lease.storeID], entry.lease == lease else { return }
        entry.holdsLease = holds
        entries[lease.storeID] = entry
    }

    /// The stores whose lease in the database an operation here holds.
    var storesHoldingLeases: [String] {
        entries.values.filter(\.holdsLease).map(\.lease.storeID)
    }

    /// Another replica took store `storeID`'s lease over: no longer renewed, and the
    /// operation is asked to stop. Returns the watcher to resume.
    mutating func leaseLost(storeID: String) -> CheckedContinuation<Void, Never>? {
        entries[storeID]?.holdsLease = false
        return cancel(storeID: storeID).canceller
    }

    // MARK: Running

    /// The operation's task begins; false when it was stopped before (it then ends
    /// without a step).
    mutating func start(_ lease: OperationLease) -> Bool {
        guard var entry = entries[lease.storeID], entry.lease == lease else { return false }
        entry.started = true
        entries[lease.storeID] = entry
        return entry.stop == nil
    }

    /// Whether the operation may begin its next step.
    func shouldStop(_ lease: OperationLease) -> Bool {
        guard let entry = entries[lease.storeID], entry.lease == lease else { return true }
        return entry.stop != nil
    }

    /// Enters a wait between steps; false when the operation must stop instead.
    mutating func enterWait(_ lease: OperationLease) -> Bool {
        guard var entry = entries[lease.storeID], entry.lease == lease, entry.stop == nil else { return false }
        entry.betweenSteps = true
        entries[lease.storeID] = entry
        return true
    }

    /// Leaves a wait between steps; false when the operation must stop instead.
    mutating func leaveWait(_ lease: OperationLease) -> Bool {
        guard var entry = entries[lease.storeID], entry.lease == lease else { return false }
        entry.betweenSteps = false
        entries[lease.storeID] = entry
        return entry.stop == nil
    }

    /// Keeps the watcher that cancels the operation; false when the cancel already
    /// came (the watcher returns at once).
    mutating func watch(_ lease: OperationLease, _ canceller: CheckedContinuation<Void, Never>) -> Bool {
        guard var entry = entries[lease.storeID], entry.lease == lease, !entry.cancelFired else { return false }
        entry.canceller = canceller
        entries[lease.storeID] = entry
        return true
    }

    /// Takes the watcher back (it was cancelled: the operation ended).
    mutating func unwatch(_ lease: OperationLease) -> CheckedContinuation<Void, Never>? {
        guard var entry = entries[lease.storeID], entry.lease == lease else { return nil }
        defer { entries[lease.storeID] = entry }
        return entry.canceller.take()
    }

    /// Asks the operation on `storeID` (unless it is of kind `except`) to stop now,
    /// and queues `waiter` (if any) for its end. Returns the watcher to resume (which cancels
    /// it) and whether `waiter` must be resumed at once (no such operation).
    mutating func cancel(
        storeID: String, except: OperationKind? = nil, thenResume waiter: CheckedContinuation<Void, Never>? = nil
    ) -> (canceller: CheckedContinuation<Void, Never>?, resumeNow: Bool) {
        guard var entry = entries[storeID], entry.lease.kind != except else { return (nil, true) }
        entry.stop = .cancel
        if let waiter { entry.endWaiters.append(waiter) }
        let canceller = Self.fire(&entry)
        entries[storeID] = entry
        return (canceller, false)
    }

    /// Queues `waiter` for the end of the operation `lease`; false when it already ended.
    mutating func waitForEnd(_ lease: OperationLease, _ waiter: CheckedContinuation<Void, Never>) -> Bool {
        guard var entry = entries[lease.storeID], entry.lease == lease else { return false }
        entry.endWaiters.append(waiter)
        entries[lease.storeID] = entry
        return true
    }

    /// The operation ended: its store's lock is free. Returns who waited for that.
    mutating func end(_ lease: OperationLease) -> [CheckedContinuation<Void, Never>] {
        guard let entry = entries[lease.storeID], entry.lease == lease else { return [] }
        entries[lease.storeID] = nil
        locks.release(lease)
        var waiters = entry.endWaiters
        if entries.isEmpty, let idle = idleWaiter.take() { waiters.append(idle) }
        return waiters
    }

    // MARK: Slots

    mutating func takeSlotIfFree() -> Bool {
        slots.takeIfFree()
    }

    mutating func waitForSlot(_ lease: OperationLease, _ continuation: ProvisioningSlots.Waiter) -> [ProvisioningSlots.Waiter] {
        slots.wait(id: lease.storeID, continuation)
    }

    mutating func removeSlotWaiter(_ lease: OperationLease) -> ProvisioningSlots.Waiter? {
        slots.removeWaiter(id: lease.storeID)
    }

    mutating func releaseSlot() -> [ProvisioningSlots.Waiter] {
        slots.release()
    }

    mutating func setSlotLimit(_ limit: Int) -> [ProvisioningSlots.Waiter] {
        slots.setLimit(limit)
    }

    // MARK: Shutdown

    /// Graceful shutdown begins: no new operation; each running one stops at its
    /// next step boundary, and one waiting between steps is cancelled now. Returns
    /// the watchers to resume.
    mutating func beginShutdown() -> [CheckedContinuation<Void, Never>] {
        guard phase == .accepting else { return [] }
        phase = .stopping
        var cancellers: [CheckedContinuation<Void, Never>] = []
        for storeID in entries.keys {
            guard var entry = entries[storeID] else { continue }
            if entry.stop == nil { entry.stop = .shutdown }
            if entry.betweenSteps || !entry.started, let canceller = Self.fire(&entry) {
                cancellers.append(canceller)
            }
            entries[storeID] = entry
        }
        return cancellers
    }

    /// Keeps `waiter` until no operation is left; false when none is left now.
    mutating func waitUntilIdle(_ waiter: CheckedContinuation<Void, Never>) -> Bool {
        guard !entries.isEmpty else { return false }
        idleWaiter = waiter
        return true
    }

    mutating func stopWaitingUntilIdle() -> CheckedContinuation<Void, Never>? {
        idleWaiter.take()
    }

    /// `run()` returns: nothing is accepted any more, and operations that never
    /// started (their requests were still queued when it was cancelled) let go of
    /// their stores. Returns who waited for them.
    mutating func stop() -> [CheckedContinuation<Void, Never>] {
        phase = .stopped
        var waiters: [CheckedContinuation<Void, Never>] = []
        for entry in entries.values {
            locks.release(entry.lease)
            waiters += entry.endWaiters
            if let canceller = entry.canceller { waiters.append(canceller) }
        }
        entries = [:]
        if let idle = idleWaiter.take() { waiters.append(idle) }
        return waiters
    }

    private static func fire(_ entry: inout Entry) -> CheckedContinuation<Void, Never>? {
        if let canceller = entry.canceller.take() { return canceller }
        entry.cancelFired = true
        return nil
    }
}
