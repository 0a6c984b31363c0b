import Foundation
import StoreCore

/// One row of the audit log: who moved which store from which status to which, when,
/// and why. Every status change has exactly one, written in the same transaction.
/// A fleet upgrade's steps are rows too (``fleetUpgradeID`` set): they name the
/// fleet upgrade instead of a store and have no status. Never holds a secret.
public struct AuditEvent: Sendable, Equatable, Codable {
    /// Increases with every row written; ordering by it is ordering by write.
    public var id: Int64
    /// When the change happened, to the millisecond.
    public var time: Date
    /// The caller identity, or the platform component (`provisioner`, `reconciler`).
    public var actor: String
    /// What was done.
    public var action: AuditAction
    /// The store changed; empty for a fleet upgrade's step.
    public var storeID: String
    /// The store's name at the time, so the row reads well after the store is gone.
    public var storeName: String
    /// The status before; `nil` for the row that created the store.
    public var fromStatus: StoreStatus?
    /// The status after; `nil` only for a fleet upgrade's step.
    public var toStatus: StoreStatus?
    /// Detail for people, for example why provisioning failed; may be empty.
    public var message: String
    /// The request that caused the change; `nil` for background work.
    public var requestID: String?
    /// The fleet upgrade whose step this row is; `nil` for a store's change.
    public var fleetUpgradeID: String?

    public init(
        id: Int64,
        time: Date,
        actor: String,
        action: AuditAction,
        storeID: String,
        storeName: String,
        fromStatus: StoreStatus?,
        toStatus: StoreStatus?,
        message: String,
        requestID: String?,
        fleetUpgradeID: String? = nil
    ) {
        self.id = id
        self.time = time
        self.actor = actor
        self.action = action
        self.storeID = storeID
        self.storeName = storeName
        self.fromStatus = fromStatus
        self.toStatus = toStatus
        self.message = message
        self.requestID = requestID
        self.fleetUpgradeID = fleetUpgradeID
    }
}
