import StoreCore

package enum PageSize {
    /// The page size to use for a `requested` size: 0 means `defaultSize`. The one
    /// rule for every caller (the RPC and HTTP APIs pass the caller's size through).
    ///
    /// - Throws: ``ErrorCode/invalidArgument`` for a negative size or one over `maximum`.
    package static func resolve(_ requested: Int, defaultSize: Int, maximum: Int, name: String) throws -> Int {
        guard requested >= 0 else {
            throw PlatformError(.invalidArgument, "\(name) must not be negative (got \(requested))")
        }
        guard requested <= maximum else {
            throw PlatformError(.invalidArgument, "\(name) \(requested) is over the maximum of \(maximum)")
        }
        return requested == 0 ? defaultSize : requested
    }
}
