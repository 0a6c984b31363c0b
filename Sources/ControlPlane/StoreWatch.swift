import StoreCore

/// One watch of store transitions, as both transports stream it: a starting
/// state or a replay, then the live subscription.
public struct StoreWatch: Sendable {
    /// A one-store watch's present state (action "current", audit id 0), when not resuming.
    public var current: StoreEvent?
    /// The audit id the watch resumed after; 0 when it did not.
    public var resumedAfter: Int64
    /// Live transitions from the moment of subscribing (some may repeat the replay:
    /// skip those whose audit id the watcher has had).
    public var changes: StoreEventSubscription
    /// The watcher asked for provisioning steps too (``StoreEvent`` action "progress").
    public var includesProgress: Bool
    /// Most transitions one replay sends (`--watch-replay-limit`).
    let replayLimit: Int
    /// Reads at most `limit` transitions after an audit id, oldest first.
    let readTransitions: @Sendable (_ after: Int64, _ limit: Int) async throws -> [StoreEvent]

    /// Transitions a replay holds in memory at once, however far behind its watcher is.
    static let replayPageSize = 200

    init(
        current: StoreEvent?, resumedAfter: Int64, changes: StoreEventSubscription, includesProgress: Bool, replayLimit: Int,
        readTransitions: @escaping @Sendable (_ after: Int64, _ limit: Int) async throws -> [StoreEvent]
    ) {
        self.current = current
        self.resumedAfter = resumedAfter
        self.changes = changes
        self.includesProgress = includesProgress
        self.replayLimit = replayLimit
        self.readTransitions = readTransitions
    }

    /// Whether a live event goes to this watcher, whose last transition sent had
    /// audit id `last`: a transition it has not had yet (the replay may have sent
    /// it already), or a provisioning step when it asked for them.
    public func sends(_ event: StoreEvent, after last: Int64) -> Bool {
        event.action == .progress ? includesProgress : event.auditID > last
    }

    /// How a replay ended.
    public struct ReplayOutcome: Sendable, Equatable {
        /// The last audit id the watcher has been sent (the resume point when nothing was).
        public var lastAuditID: Int64
        /// More followed than the replay may send, or they could not be read: the
        /// watcher must be told it fell behind after ``lastAuditID`` and resume there.
        public var isPartial: Bool
    }

    /// Sends the transitions committed after the resume point, oldest first, a
    /// page at a time, so a resuming watcher costs one page of memory however
    /// much it missed; at most ``replayLimit`` of them. Nothing to send when the
    /// watch did not resume.
    public func replay(_ send: (StoreEvent) async throws -> Void) async throws -> ReplayOutcome {
        var last = resumedAfter
        guard resumedAfter > 0 else { return ReplayOutcome(lastAuditID: last, isPartial: false) }
        var remaining = replayLimit
        while remaining > 0 {
            let limit = min(Self.replayPageSize, remaining)
            // A failed read ends the replay as partial, so the watcher comes back.
            guard let page = try? await readTransitions(last, limit) else { return ReplayOutcome(lastAuditID: last, isPartial: true) }
            for event in page {
                try await send(event)
                last = event.auditID
            }
            if page.count < limit { return ReplayOutcome(lastAuditID: last, isPartial: false) }
            remaining -= page.count
        }
        return ReplayOutcome(lastAuditID: last, isPartial: true)
    }

    /// What a watcher that fell behind after `lastAuditID` is told.
    public static func fellBehind(after lastAuditID: Int64) -> PlatformError {
        PlatformError(
            .watchFellBehind,
            "this watch fell behind and was ended after audit id \(lastAuditID); watch again with after_audit_id \(lastAuditID) to receive what followed"
        )
    }
}
