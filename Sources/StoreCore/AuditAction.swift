/// What a status change did: the `action` of its audit row and of the event
/// watchers see. The platform writes only the actions named here; the raw value is
/// the string stored and sent on the wire.
///
/// A struct of named constants rather than an enum, so that a row an other version
/// of the daemon wrote (replicas of two versions share one database during a
/// rolling update) reads back as it was written, whatever its action.
public struct AuditAction: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    public var description: String { rawValue }

    /// A store was created (queued).
    public static let create = AuditAction(rawValue: "create")
    /// A store was written by an import (benchmarks and migrations of data).
    public static let `import` = AuditAction(rawValue: "import")
    /// A provisioning attempt began.
    public static let provision = AuditAction(rawValue: "provision")
    /// The store became ready.
    public static let ready = AuditAction(rawValue: "ready")
    /// An operation failed.
    public static let fail = AuditAction(rawValue: "fail")
    /// A failed store was queued again.
    public static let retry = AuditAction(rawValue: "retry")
    /// A deletion began.
    public static let delete = AuditAction(rawValue: "delete")
    /// The deletion finished.
    public static let deleted = AuditAction(rawValue: "deleted")
    /// Work a crash or a restart interrupted was resumed.
    public static let recovery = AuditAction(rawValue: "recovery")
    /// An upgrade to another engine version began (ready → upgrading).
    public static let upgrade = AuditAction(rawValue: "upgrade")
    /// A rollback to an earlier revision began (ready → upgrading).
    public static let rollback = AuditAction(rawValue: "rollback")
    /// The upgrade's (or rollback's) new revision runs (upgrading → ready).
    public static let upgraded = AuditAction(rawValue: "upgraded")
    /// The upgrade (or rollback) failed and the automatic rollback brought back the
    /// revision before (upgrading → ready); the audit message says both.
    public static let rolledBack = AuditAction(rawValue: "rolled-back")
    /// The reconciler corrected a store (drift, a deadline passed).
    public static let reconcile = AuditAction(rawValue: "reconcile")
    /// Not a change: the store as it is when a watch begins (WatchStores' first
    /// event, audit id 0).
    public static let current = AuditAction(rawValue: "current")
    /// A step of a fleet upgrade (FleetUpgrade.swift): `fleet-start`, `fleet-wave`,
    /// `fleet-pause`, `fleet-resume`, `fleet-cancel`, `fleet-stop` or `fleet-end`. Its
    /// row names the fleet upgrade, not a store, and has no status.
    public init(fleetStep step: String) {
        self.init(rawValue: "fleet-" + step)
    }

    /// Whether this is a fleet upgrade's step (``init(fleetStep:)``).
    public var isFleetStep: Bool { rawValue.hasPrefix("fleet-") }

    /// Not a change: a provisioning step began (an event with its step, audit id
    /// 0; never in the audit log).
    public static let progress = AuditAction(rawValue: "progress")
}
