import StoreCore

/// The errors ``StoreDatabase`` raises for domain reasons, worded in one place.
extension PlatformError {
    package static func storeNameTaken(_ name: String, holderID: String, holderStatus: StoreStatus) -> PlatformError {
        PlatformError(
            .storeNameTaken,
            "store name \(name.quotedForMessage) is taken by store \(holderID), which is \(holderStatus.rawValue); "
                + "choose another name, or delete that store first"
        )
    }

    /// For the unique index's refusal, when the holder is not known.
    package static func storeNameTaken(_ name: String) -> PlatformError {
        PlatformError(
            .storeNameTaken,
            "store name \(name.quotedForMessage) is taken by a live store; choose another name, or delete that store first"
        )
    }

    package static func quotaExceeded(limit: Int, live: Int) -> PlatformError {
        PlatformError(
            .quotaExceeded,
            "the platform's limit of \(limit) live stores is reached (\(live) live); delete a store before creating another"
        )
    }

    package static func unexpectedStatus(
        storeName: String, action: AuditAction, status: StoreStatus, expected: Set<StoreStatus>
    ) -> PlatformError {
        let names = StoreStatus.allCases.filter(expected.contains).map(\.rawValue)
        let list = names.isEmpty ? "nothing" : names.listedAsAlternatives
        return PlatformError(
            .invalidStateTransition,
            "cannot \(action.rawValue) store \(storeName.quotedForMessage): it is \(status.rawValue), expected \(list); it changed meanwhile"
        )
    }
}
