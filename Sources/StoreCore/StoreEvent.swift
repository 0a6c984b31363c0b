import Foundation

/// One committed status transition of a store, as watchers see it; or, with
/// action ``AuditAction/progress``, a provisioning step beginning (not a transition:
/// audit id 0, from and to provisioning).
public struct StoreEvent: Sendable, Equatable {
    /// The store after the transition.
    public var store: Store
    /// nil for a store's creation.
    public var fromStatus: StoreStatus?
    public var toStatus: StoreStatus
    public var action: AuditAction
    /// The audit row of this transition.
    public var auditID: Int64
    public var time: Date
    /// The step that began, for a progress event; nil otherwise.
    public var step: ProvisioningStep?

    public init(
        store: Store, fromStatus: StoreStatus?, toStatus: StoreStatus, action: AuditAction, auditID: Int64, time: Date,
        step: ProvisioningStep? = nil
    ) {
        self.store = store
        self.fromStatus = fromStatus
        self.toStatus = toStatus
        self.action = action
        self.auditID = auditID
        self.time = time
        self.step = step
    }
}
