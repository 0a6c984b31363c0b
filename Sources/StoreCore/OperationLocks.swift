import Foundation

/// One running operation per store (docs/ARCHITECTURE.md, "Rate limits, quotas,
/// locks"), held for the whole operation.
///
/// Acquiring never waits: a store that is busy is refused at once, so the caller can answer
/// ``ErrorCode/operationInProgress``. A value: its owner keeps it behind its own lock (the
/// provisioner keeps it with the rest of its operation state, under one lock) and hands
/// out copies as a read model.
public struct OperationLocks: Sendable {
    private var holders: [String: OperationLease] = [:]
    private var nextGeneration: UInt64 = 1

    public init() {}

    /// OPERATION_IN_PROGRESS for a `kind` operation on a store that a `holder`
    /// operation (begun at `since`, on `replica` when another replica runs it) holds.
    public static func inProgress(
        _ kind: OperationKind, holder: String, since: Date, storeName: String, replica: String? = nil
    ) -> PlatformError {
        let place = replica.map { " on replica \($0.quotedForMessage)" } ?? ""
        return PlatformError(
            .operationInProgress,
            "cannot start \(withArticle(kind.rawValue)) operation: \(withArticle(holder)) operation started at \(since.formatted(.iso8601))\(place) "
                + "is still running on store \(storeName.quotedForMessage); wait for it to finish"
        )
    }

    /// "an upgrade", "a delete": an operation kind's name after its article.
    private static func withArticle(_ kind: String) -> String {
        (kind.first.map { "aeiou".contains($0) } ?? false ? "an " : "a ") + kind
    }

    /// Takes the lock of store `storeID` for an operation of `kind`.
    ///
    /// Of any number of calls for one store, exactly one succeeds until its lease is released.
    ///
    /// - Parameters:
    ///   - storeName: for messages and ``active``.
    ///   - now: when the operation starts.
    /// - Returns: the lease to give back with ``release(_:)`` when the operation ends.
    /// - Throws: ``PlatformError`` with ``ErrorCode/operationInProgress`` when an operation
    ///   already holds the store; the message says which, since when, and to wait.
    public mutating func acquire(storeID: String, storeName: String, kind: OperationKind, now: Date = Date()) throws -> OperationLease {
        if let holder = holders[storeID] {
            throw Self.inProgress(kind, holder: holder.kind.rawValue, since: holder.startedAt, storeName: holder.storeName)
        }
        let lease = OperationLease(storeID: storeID, storeName: storeName, kind: kind, startedAt: now, generation: nextGeneration)
        nextGeneration += 1
        holders[storeID] = lease
        return lease
    }

    /// Gives a store's lock back.
    ///
    /// Idempotent: releasing a lease that is no longer held (already released, or replaced by
    /// a newer acquisition) changes nothing, so a late or repeated release never frees
    /// another holder.
    ///
    /// - Returns: whether this call freed the store.
    @discardableResult
    public mutating func release(_ lease: OperationLease) -> Bool {
        guard holders[lease.storeID]?.generation == lease.generation else { return false }
        holders[lease.storeID] = nil
        return true
    }

    /// The operations running now, oldest first (ties by store id).
    public var active: [ActiveOperation] {
        holders.values
            .sorted { ($0.startedAt, $0.storeID) < ($1.startedAt, $1.storeID) }
            .map { ActiveOperation(storeID: $0.storeID, storeName: $0.storeName, kind: $0.kind, startedAt: $0.startedAt) }
    }

    /// How many stores have an operation running.
    public var count: Int {
        holders.count
    }

    /// Whether store `storeID` has an operation running.
    public func isHeld(storeID: String) -> Bool {
        holders[storeID] != nil
    }
}
