import StoreCore

package enum PageSize {
    /// The page size to use for a `requested` size: 0 means `defaultSize`, more than
    /// `maximum` means `maximum`.
    ///
    /// - Throws: ``ErrorCode/invalidArgument`` for a negative size.
    package static func resolve(_ requested: Int, defaultSize: Int, maximum: Int, name: String) throws -> Int {
        guard requested >= 0 else {
            throw PlatformError(.invalidArgument, "\(name) must not be negative (got \(requested))")
        }
        if requested == 0 { return defaultSize }
        return min(requested, maximum)
    }
}
