import StoreCore

/// One watch of store transitions, as both transports stream it: a starting
/// state or a replay, then the live subscription.
public struct StoreWatch: Sendable {
    /// A one-store watch's present state (action "current", audit id 0), when not resuming.
    public var current: StoreEvent?
    /// The transitions after the resume point, oldest first.
    public var replay: [StoreEvent]
    /// More followed than the replay holds (or they could not be read): after the
    /// replay the watcher must be told it fell behind, and resume after its last event.
    public var replayIsPartial: Bool
    /// The audit id the watch resumed after; 0 when it did not.
    public var resumedAfter: Int64
    /// Live transitions from the moment of subscribing (some may repeat the replay).
    public var changes: StoreEventSubscription

    /// The last audit id the watcher has once the replay is sent.
    public var replayedUpTo: Int64 { replay.last?.auditID ?? resumedAfter }

    /// Whether a live event is new to the watcher: not one the replay already sent.
    public func isNew(_ event: StoreEvent) -> Bool {
        event.auditID > replayedUpTo
    }

    /// What a watcher that fell behind after `lastAuditID` is told.
    public static func fellBehind(after lastAuditID: Int64) -> PlatformError {
        PlatformError(
            .watchFellBehind,
            "this watch fell behind and was ended after audit id \(lastAuditID); watch again with after_audit_id \(lastAuditID) to receive what followed"
        )
    }
}
