import StorePlatformProto

extension Storeplatform_V1_StoreStatus {
    /// The wire status for a query-string name ("ready", case-insensitive), or nil.
    init?(queryName: some StringProtocol) {
        switch queryName.lowercased() {
        case "queued": self = .queued
        case "provisioning": self = .provisioning
        case "ready": self = .ready
        case "failed": self = .failed
        case "deleting": self = .deleting
        case "deleted": self = .deleted
        default: return nil
        }
    }
}
