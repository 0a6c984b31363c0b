import Foundation

/// One release of a store: its install (revision 1), an upgrade or a rollback, each
/// a new revision as Helm numbers them (docs/ARCHITECTURE.md, "Upgrades and
/// rollbacks"). The database keeps a store's revisions beside it; each changes in
/// the transaction of the status change it belongs to.
public struct StoreRevision: Sendable, Equatable {
    public var storeID: String
    /// 1 for the install, then one more for each upgrade or rollback.
    public var revision: Int
    /// The engine version it installs (``EngineVersion/name``).
    public var version: String
    public var status: RevisionStatus
    /// Who asked for it: a ``Principal``'s text, or "system".
    public var actor: String
    /// When it was made, or last changed status.
    public var time: Date
    /// What it was ("install", "upgrade from 6.8-wc9.8", "rollback to revision 1")
    /// and, once failed, why and how its rollback went.
    public var message: String
    /// For a rollback, the earlier revision it brings back; nil for an install or upgrade.
    public var rollbackTo: Int?

    public init(
        storeID: String, revision: Int, version: String, status: RevisionStatus, actor: String, time: Date, message: String,
        rollbackTo: Int? = nil
    ) {
        self.rollbackTo = rollbackTo
        self.storeID = storeID
        self.revision = revision
        self.version = version
        self.status = status
        self.actor = actor
        self.time = time
        self.message = message
    }
}

/// What became of a revision. Raw values are what the database stores.
public enum RevisionStatus: String, Sendable, CaseIterable, Codable {
    /// Being installed: the store is provisioning or upgrading to it.
    case pending
    /// The revision the store runs.
    case deployed
    /// Ran once; a later revision replaced it.
    case superseded
    /// Never ran: the change that made it failed, and so did its rollback.
    case failed
    /// Failed, and the automatic rollback to the revision before it brought that back.
    case rolledBack = "rolled-back"
}
