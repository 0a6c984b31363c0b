import StoreCore

/// A transition to ``StoreStatus/failed``, with what followed it: GetMetrics'
/// recent failures, read in one statement (``StoreDatabase/recentFailures(limit:)``).
public struct RecentFailure: Sendable, Equatable {
    /// The audit row of the failure.
    public var event: AuditEvent
    /// The status the store's next transition after the failure moved it to (from
    /// failed, only a retry, to queued, or a delete, to deleting); nil when none
    /// followed yet.
    public var followedBy: StoreStatus?
    /// The store's status now; nil when the store is no longer in the database.
    public var storeStatus: StoreStatus?

    public init(event: AuditEvent, followedBy: StoreStatus?, storeStatus: StoreStatus?) {
        self.event = event
        self.followedBy = followedBy
        self.storeStatus = storeStatus
    }
}

/// What the last hour's activity counts (``StoreDatabase/activityTimes(since:amongLast:)``):
/// a store created (audit action `create`), or a store failing (any transition to
/// ``StoreStatus/failed``, as ``RecentFailure`` counts them: a failed provisioning
/// or deletion, and the reconciler's drift and deadline failures).
public enum Activity: Sendable, Equatable {
    case create
    case failure
}
