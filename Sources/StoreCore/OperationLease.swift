import Foundation

/// Proof that its holder runs the one operation on a store; from
/// ``OperationLocks/acquire(storeID:storeName:kind:now:)``, given back with
/// ``OperationLocks/release(_:)``.
///
/// Each lease carries a generation unique within its ``OperationLocks``, so releasing a
/// lease that was already released never frees a later holder of the same store.
public struct OperationLease: Sendable, Hashable {
    public let storeID: String
    public let storeName: String
    public let kind: OperationKind
    public let startedAt: Date
    /// Unique per acquisition within one ``OperationLocks``.
    let generation: UInt64
}
