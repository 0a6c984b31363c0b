extension StoreStatus {
    /// The one transition table of the platform: for each status, the statuses a store
    /// may move to next. A move not listed here is ``ErrorCode/invalidStateTransition``.
    ///
    /// Self-moves are not listed: re-entering the status a store is already in is refused
    /// like any other illegal move. ``deleted`` is terminal.
    public static let transitions: [StoreStatus: Set<StoreStatus>] = [
        // provisioning → deleting: a user must be able to
        // delete a store while it is being provisioned (a stuck install, a mistake); the
        // deletion cancels the provisioning task and cleans up whatever it created.
        //
        // provisioning → queued is recovery: an attempt
        // interrupted by a daemon crash goes back to the queue (audited as "recovery")
        // and provisioning starts again from step 1, which is idempotent. Users cannot
        // ask for it; RetryStore accepts failed stores only.
        .queued: [.provisioning, .deleting],
        .provisioning: [.ready, .failed, .deleting, .queued],
        // ready → failed: the reconciler found the store's release or namespace gone
        // (drift, docs/ARCHITECTURE.md "Reconciliation"). ready → upgrading: an
        // upgrade or a rollback to an earlier revision.
        .ready: [.deleting, .failed, .upgrading],
        // failed → queued is the user's retry.
        .failed: [.queued, .deleting],
        // deleting → failed: the delete failed; the store can be deleted again.
        .deleting: [.deleted, .failed],
        .deleted: [],
        // upgrading → ready: the new revision runs, or the failed one was rolled back
        // to the old; upgrading → failed: even that rollback failed. No delete while
        // upgrading: the delete waits its turn (OPERATION_IN_PROGRESS), since the
        // upgrade must first end with the release in a known revision.
        .upgrading: [.ready, .failed],
    ]

    /// Whether a store in this status may move to `next`, per ``transitions``.
    public func canTransition(to next: StoreStatus) -> Bool {
        Self.transitions[self, default: []].contains(next)
    }

    /// Checks that a store may move from this status to `next`.
    ///
    /// - Throws: ``PlatformError`` with ``ErrorCode/invalidStateTransition`` when the move
    ///   is not in ``transitions``. The message names the store, what was attempted, the
    ///   status the store is in and the statuses the attempt applies to, for example
    ///   `cannot retry store "shop": it is ready; retry applies to failed stores`.
    public func checkTransition(to next: StoreStatus, storeName: String) throws {
        guard !canTransition(to: next) else { return }
        let action = next.actionName
        let current = self == next ? "already \(rawValue)" : rawValue
        // Recovery (provisioning → queued) is the platform's own move, not a retry a
        // user can ask for, so messages about retrying leave it out.
        let sources = StoreStatus.allCases.filter { $0.canTransition(to: next) && !($0 == .provisioning && next == .queued) }
        let applies = sources.isEmpty
            ? "no store can be moved to \(next.rawValue)"
            : "\(action.noun) applies to \(Self.list(sources)) stores"
        throw PlatformError(
            .invalidStateTransition,
            "cannot \(action.verb) store \(storeName.quotedForMessage): it is \(current); \(applies)"
        )
    }

    /// How a move into this status reads in a message: the verb ("cannot retry store")
    /// and the noun ("retry applies to failed stores").
    private var actionName: (verb: String, noun: String) {
        switch self {
        case .queued: ("retry", "retry")
        case .provisioning: ("start provisioning", "provisioning")
        case .ready: ("mark ready", "marking ready")
        case .failed: ("mark failed", "marking failed")
        case .deleting: ("delete", "delete")
        case .deleted: ("mark deleted", "marking deleted")
        case .upgrading: ("upgrade", "upgrade")
        }
    }

    /// "failed", "ready or failed", "queued, ready or failed".
    private static func list(_ statuses: [StoreStatus]) -> String {
        statuses.map(\.rawValue).listedAsAlternatives
    }
}
