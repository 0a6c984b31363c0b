import Foundation

/// A replica's claim, for a limited time, on something only one replica may do at
/// once: an operation on one store (``storeName(_:)``), or leading the reconciler
/// (``reconcilerName``). Several daemons share one PostgreSQL database; each holds
/// its leases by renewing them while it works, and another may take a lease over
/// only once it has expired, so a replica that dies loses its claims after one TTL.
///
/// Times are the database's clock (PostgreSQL's `clock_timestamp()`), never the
/// replicas', so their clocks need not agree.
public struct Lease: Sendable, Equatable {
    /// What is claimed: `store:<id>` or `reconciler`.
    public var name: String
    /// The replica that holds it (its `--replica-id`).
    public var owner: String
    /// What the owner does under it: an operation kind (`provision`, `delete`, …)
    /// or `leader`.
    public var kind: String
    /// When the owner took it (kept across renewals).
    public var acquiredAt: Date
    /// When it lapses unless renewed.
    public var expiresAt: Date

    public init(name: String, owner: String, kind: String, acquiredAt: Date, expiresAt: Date) {
        self.name = name
        self.owner = owner
        self.kind = kind
        self.acquiredAt = acquiredAt
        self.expiresAt = expiresAt
    }

    /// The lease on store `storeID`'s operations.
    public static func storeName(_ storeID: String) -> String { "store:" + storeID }

    /// The lease of the replica that runs reconcile passes.
    public static let reconcilerName = "reconciler"

    /// The store id of a ``storeName(_:)`` lease; `nil` for any other.
    public var storeID: String? { Self.storeID(inName: name) }

    /// The store id in a ``storeName(_:)``; `nil` for any other name.
    public static func storeID(inName name: String) -> String? {
        name.hasPrefix("store:") ? String(name.dropFirst("store:".count)) : nil
    }
}

/// The answer of ``StoreDatabase/acquireLease(_:owner:kind:ttl:)``.
public enum LeaseOutcome: Sendable, Equatable {
    /// The caller holds the lease now (newly, or extended when it already did).
    case acquired(Lease)
    /// Another replica holds it and it has not expired.
    case held(Lease)
}
