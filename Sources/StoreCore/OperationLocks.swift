import Foundation
import Synchronization

/// One running operation per store (docs/ARCHITECTURE.md, "Rate limits, quotas,
/// locks"), held for the whole background task.
///
/// Acquiring never waits: a store that is busy is refused at once, so the caller can answer
/// ``ErrorCode/operationInProgress``. Thread-safe: every method may be called from any
/// thread or task; state is behind a `Mutex`.
public final class OperationLocks: Sendable {
    private struct State {
        var holders: [String: OperationLease] = [:]
        var nextGeneration: UInt64 = 1
    }

    private let state = Mutex(State())

    public init() {}

    /// Takes the lock of store `storeID` for an operation of `kind`.
    ///
    /// Of any number of concurrent calls for one store, exactly one succeeds until its lease
    /// is released.
    ///
    /// - Parameters:
    ///   - storeName: for messages and ``active``.
    ///   - now: when the operation starts.
    /// - Returns: the lease to give back with ``release(_:)`` when the operation ends.
    /// - Throws: ``PlatformError`` with ``ErrorCode/operationInProgress`` when an operation
    ///   already holds the store; the message says which, since when, and to wait.
    public func acquire(storeID: String, storeName: String, kind: OperationKind, now: Date = Date()) throws -> OperationLease {
        let result: Result<OperationLease, PlatformError> = state.withLock { state in
            if let holder = state.holders[storeID] {
                return .failure(PlatformError(
                    .operationInProgress,
                    "cannot start a \(kind.rawValue) operation: a \(holder.kind.rawValue) operation started at "
                        + "\(holder.startedAt.formatted(.iso8601)) is still running on store "
                        + "\(holder.storeName.quotedForMessage); wait for it to finish"
                ))
            }
            let lease = OperationLease(
                storeID: storeID, storeName: storeName, kind: kind, startedAt: now, generation: state.nextGeneration
            )
            state.nextGeneration += 1
            state.holders[storeID] = lease
            return .success(lease)
        }
        return try result.get()
    }

    /// Gives a store's lock back.
    ///
    /// Idempotent: releasing a lease that is no longer held (already released, or replaced by
    /// a newer acquisition) changes nothing, so a late or repeated release never frees
    /// another holder.
    ///
    /// - Returns: whether this call freed the store.
    @discardableResult
    public func release(_ lease: OperationLease) -> Bool {
        state.withLock { state in
            guard state.holders[lease.storeID]?.generation == lease.generation else { return false }
            state.holders[lease.storeID] = nil
            return true
        }
    }

    /// The operations running now, oldest first (ties by store id).
    public var active: [ActiveOperation] {
        let leases = state.withLock { Array($0.holders.values) }
        return leases
            .sorted { ($0.startedAt, $0.storeID) < ($1.startedAt, $1.storeID) }
            .map { ActiveOperation(storeID: $0.storeID, storeName: $0.storeName, kind: $0.kind, startedAt: $0.startedAt) }
    }

    /// How many stores have an operation running.
    public var count: Int {
        state.withLock { $0.holders.count }
    }

    /// Whether store `storeID` has an operation running.
    public func isHeld(storeID: String) -> Bool {
        state.withLock { $0.holders[storeID] != nil }
    }
}
