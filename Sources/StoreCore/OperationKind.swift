/// What a background operation on a store does; one runs per store at a time
/// (``OperationLocks``). Raw values are the lower-case names, as logs and audit rows show them.
public enum OperationKind: String, Sendable, CaseIterable, Codable {
    /// Installing the store: namespace, secret, Helm release, readiness.
    case provision
    /// Uninstalling the store and deleting its namespace.
    case delete
    /// Provisioning a failed store again.
    case retry
    /// Moving a ready store's release to another engine version (and back, when that fails).
    case upgrade
    /// Moving a ready store's release back to an earlier revision (and forward again, when that fails).
    case rollback
}
