/// Where a store is in its lifecycle (docs/ARCHITECTURE.md, "Store lifecycle").
///
/// Raw values are the lower-case case names; they are what the database stores and
/// what JSON carries, so they never change. Which moves between statuses are legal is
/// decided in one place: ``StoreStatus/transitions``.
public enum StoreStatus: String, Sendable, CaseIterable, Codable {
    /// Accepted, waiting for a provisioning slot.
    case queued
    /// The provisioner is creating the namespace, secret and Helm release.
    case provisioning
    /// Installed and answering; the store's URL is set.
    case ready
    /// Provisioning or deletion failed; the error message says why. Retry or delete it.
    case failed
    /// Being uninstalled.
    case deleting
    /// Gone. Terminal; its name may be reused by a new store.
    case deleted
    /// Its release is being upgraded, or rolled back to an earlier revision; it ends
    /// ready (on the new revision, or back on the old one when the change failed and
    /// was rolled back) or failed (even the rollback failed).
    case upgrading

    /// Whether a store in this status counts as live: it holds its name (names are
    /// unique among live stores) and counts against the live-store quota.
    /// Every status except ``deleted`` is live.
    public var isLive: Bool {
        self != .deleted
    }

    /// The status a filter names (`ready`, in any case).
    ///
    /// - Throws: ``notAStatus(_:)`` for any other name.
    public init(filterName name: some StringProtocol) throws {
        guard let status = StoreStatus(rawValue: name.lowercased()) else { throw Self.notAStatus(String(name).quotedForMessage) }
        self = status
    }

    /// ``ErrorCode/invalidArgument`` for a status filter that names no status
    /// (`what`, as the caller wrote it), listing those there are.
    public static func notAStatus(_ what: String) -> PlatformError {
        PlatformError(.invalidArgument, "status \(what) is not a store status; use \(allCases.map(\.rawValue).listedAsAlternatives)")
    }
}
