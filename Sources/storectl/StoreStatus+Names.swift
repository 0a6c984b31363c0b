import StorePlatformProto

extension Storeplatform_V1_StoreStatus {
    /// The statuses a user can name, in lifecycle order.
    static let named: [Storeplatform_V1_StoreStatus] = [.queued, .provisioning, .ready, .failed, .deleting, .deleted, .upgrading]

    /// The status as users read and type it: lower-case, without the
    /// STORE_STATUS_ prefix ("ready").
    var name: String {
        switch self {
        case .unspecified: "unspecified"
        case .queued: "queued"
        case .provisioning: "provisioning"
        case .ready: "ready"
        case .failed: "failed"
        case .deleting: "deleting"
        case .deleted: "deleted"
        case .upgrading: "upgrading"
        case .UNRECOGNIZED(let value): "unknown(\(value))"
        }
    }

    /// Parses a status name case-insensitively ("Ready", "READY"); nil for
    /// anything that is not one of ``named``.
    init?(name: String) {
        let wanted = name.lowercased()
        guard let status = Self.named.first(where: { $0.name == wanted }) else { return nil }
        self = status
    }

    /// "queued, provisioning, ready, failed, deleting, deleted", for help and errors.
    static var namesList: String { named.map(\.name).joined(separator: ", ") }
}

/// "provisioning → ready"; a new store comes from "new"; "-" when there is no
/// status change (to is unspecified).
func formatTransition(from: Storeplatform_V1_StoreStatus, to: Storeplatform_V1_StoreStatus) -> String {
    guard to != .unspecified else { return "-" }
    return "\(from == .unspecified ? "new" : from.name) → \(to.name)"
}
