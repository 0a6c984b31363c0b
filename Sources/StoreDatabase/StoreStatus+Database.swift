import StoreCore

extension StoreStatus {
    /// The status a database column holds (its raw value).
    ///
    /// - Throws: ``ErrorCode/internalError`` when the text is no status this build
    ///   knows, naming where it was found.
    package init(databaseText text: String, in place: String) throws {
        guard let status = StoreStatus(rawValue: text) else {
            throw PlatformError(.internalError, "the store database holds an unknown status \(text.debugDescription) in \(place)")
        }
        self = status
    }
}
