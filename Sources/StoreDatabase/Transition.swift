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
