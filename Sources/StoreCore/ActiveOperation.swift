import Foundation

/// An operation that holds a store's lock, as ``OperationLocks/active`` reports it.
public struct ActiveOperation: Sendable, Equatable {
    public let storeID: String
    public let storeName: String
    public let kind: OperationKind
    public let startedAt: Date

    public init(storeID: String, storeName: String, kind: OperationKind, startedAt: Date) {
        self.storeID = storeID
        self.storeName = storeName
        self.kind = kind
        self.startedAt = startedAt
    }
}
