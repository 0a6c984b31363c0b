import StoreCore

/// The errors ``StoreDatabase`` raises for domain reasons, worded in one place.
extension PlatformError {
    package static func storeNotFound(_ storeID: String) -> PlatformError {
        PlatformError(.notFound, "no store with id \(quoted(storeID))")
    }

    package static func storeNameTaken(_ name: String, holderID: String, holderStatus: StoreStatus) -> PlatformError {
        PlatformError(
            .storeNameTaken,
            "store name \(quoted(name)) is taken by store \(holderID), which is \(holderStatus.rawValue); "
                + "choose another name, or delete that store first"
        )
    }

    /// For the unique index's refusal, when the holder is not known.
    package static func storeNameTaken(_ name: String) -> PlatformError {
        PlatformError(
            .storeNameTaken,
            "store name \(quoted(name)) is taken by a live store; choose another name, or delete that store first"
        )
    }

    package static func quotaExceeded(limit: Int, live: Int) -> PlatformError {
        PlatformError(
            .quotaExceeded,
            "the platform's limit of \(limit) live stores is reached (\(live) live); delete a store before creating another"
        )
    }

    package static func unexpectedStatus(
        storeName: String, action: String, status: StoreStatus, expected: Set<StoreStatus>
    ) -> PlatformError {
        let names = StoreStatus.allCases.filter(expected.contains).map(\.rawValue)
        let list = names.count > 1
            ? names.dropLast().joined(separator: ", ") + " or " + names.last!
            : names.first ?? "nothing"
        return PlatformError(
            .invalidStateTransition,
            "cannot \(action) store \(quoted(storeName)): it is \(status.rawValue), expected \(list); it changed meanwhile"
        )
    }

    /// `text` quoted and escaped for a message, cut to 64 characters so that hostile
    /// input cannot break a log line or make a message arbitrarily long.
    private static func quoted(_ text: String) -> String {
        guard text.count > 64 else { return text.debugDescription }
        return String(text.prefix(64)).debugDescription + "…"
    }
}
