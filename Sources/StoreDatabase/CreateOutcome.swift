import StoreCore

/// What ``StoreDatabase/createStore(_:maxLiveStores:requestedBy:idempotencyKey:requestID:)``
/// did.
public enum CreateOutcome: Sendable, Equatable {
    /// The store was inserted, with its `create` audit row, in one transaction.
    case created(Store, AuditEvent)
    /// The same caller already created a store with the same idempotency key: that
    /// store, as it is now. Nothing was written.
    case existing(Store)
}
