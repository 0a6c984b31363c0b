import Foundation
import StoreCore

/// A committed status change: the store as saved and the audit row written with it.
public struct Transition: Sendable, Equatable {
    public var store: Store
    public var event: AuditEvent

    public init(store: Store, event: AuditEvent) {
        self.store = store
        self.event = event
    }
}

/// One status change of a store, as ``StoreDatabase/transition(_:)`` writes it.
public struct StatusChange: Sendable {
    public var storeID: String
    public var to: StoreStatus
    /// The statuses the store must be in now; `nil` accepts any the move is legal from.
    public var expectedFrom: Set<StoreStatus>?
    /// What was done, for the audit row and messages.
    public var action: AuditAction
    public var actor: String
    public var message: String
    public var requestID: String?
    public var now: Date
    /// Other changes to the store, made inside the transaction: keep it short and
    /// free of I/O. Its changes to `status` and `updatedAt` are overridden; it must
    /// not change `id`.
    public var update: @Sendable (inout Store) -> Void
    /// Revisions of the store written (added, or moving the recorded one of the same
    /// number on to its next status; never another revision over it) in the same
    /// transaction: an upgrade's steps change them with the status.
    public var revisions: [StoreRevision]
    /// The store's recorded revisions are removed before ``revisions`` are written: a
    /// reinstall starts its release's history afresh, at revision 1 (docs/ARCHITECTURE.md,
    /// "Upgrades and rollbacks").
    public var replacesRevisions: Bool

    public init(
        storeID: String, to: StoreStatus, expectedFrom: Set<StoreStatus>?, action: AuditAction, actor: String,
        message: String, requestID: String?, now: Date, revisions: [StoreRevision] = [], replacesRevisions: Bool = false,
        update: @escaping @Sendable (inout Store) -> Void
    ) {
        self.revisions = revisions
        self.replacesRevisions = replacesRevisions
        self.storeID = storeID
        self.to = to
        self.expectedFrom = expectedFrom
        self.action = action
        self.actor = actor
        self.message = message
        self.requestID = requestID
        self.now = now
        self.update = update
    }

    /// `store` after this change, checked the same way by every backend.
    ///
    /// - Throws: ``ErrorCode/invalidStateTransition`` when its status is not in
    ///   ``expectedFrom`` or the move is illegal; ``ErrorCode/internalError`` when
    ///   ``update`` changes the id.
    package func applied(to store: Store) throws -> Store {
        if let expectedFrom, !expectedFrom.contains(store.status) {
            throw PlatformError.unexpectedStatus(storeName: store.name, action: action, status: store.status, expected: expectedFrom)
        }
        try store.status.checkTransition(to: to, storeName: store.name)
        var changed = store
        update(&changed)
        guard changed.id == store.id else {
            throw PlatformError(.internalError, "a transition of store \(store.id) tried to change its id")
        }
        changed.status = to
        changed.updatedAt = now
        return changed
    }
}

extension Store {
    /// This store after `update`, which must change neither its id nor its status:
    /// what every backend's ``StoreDatabase/update(storeID:_:)`` saves.
    package func updated(_ update: (inout Store) -> Void) throws -> Store {
        var store = self
        update(&store)
        guard store.id == id, store.status == status else {
            throw PlatformError(
                .internalError,
                "an update of store \(id) tried to change its id or status; status changes are transitions"
            )
        }
        return store
    }
}
