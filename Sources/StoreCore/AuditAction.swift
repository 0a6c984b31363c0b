/// What a status change did: the `action` of its audit row and of the event
/// watchers see. Raw values are the strings stored and sent on the wire.
public enum AuditAction: String, Sendable, CaseIterable, Hashable, Codable {
    /// A store was created (queued).
    case create
    /// A store was written by an import (benchmarks and migrations of data).
    case `import`
    /// A provisioning attempt began.
    case provision
    /// The store became ready.
    case ready
    /// An operation failed.
    case fail
    /// A failed store was queued again.
    case retry
    /// A deletion began.
    case delete
    /// The deletion finished.
    case deleted
    /// Work a crash or a restart interrupted was resumed.
    case recovery
    /// The reconciler corrected a store (drift, a deadline passed).
    case reconcile
    /// Not a change: the store as it is when a watch begins (WatchStores' first
    /// event, audit id 0).
    case current

    /// The action stored as `text`; an unknown one (which only a newer daemon could
    /// have written, and a newer schema keeps this one from opening) reads as
    /// ``reconcile``, a correction by the platform.
    public init(stored text: String) {
        self = AuditAction(rawValue: text) ?? .reconcile
    }

    public init(from decoder: any Decoder) throws {
        self.init(stored: try decoder.singleValueContainer().decode(String.self))
    }
}
