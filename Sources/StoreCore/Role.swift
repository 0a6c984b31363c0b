/// What a caller may do, each role everything the one before may do and more.
public enum Role: Int, Sendable, Comparable, CaseIterable, CustomStringConvertible {
    /// Reads: Health, GetStore, ListStores, WatchStores and the event stream,
    /// ListAudit, GetMetrics, every HTTP GET.
    case viewer
    /// A viewer that may also create, retry and delete stores (every store, or only
    /// the ones it created: ``AccessGrant/ownStoresOnly``).
    case `operator`
    /// An operator of every store that may also call the admin methods
    /// (Reconcile, ListOperations, GetLimits, UpdateLimits).
    case admin

    public static func < (lhs: Role, rhs: Role) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The name in access files and messages: `viewer`, `operator`, `admin`.
    public var description: String {
        switch self {
        case .viewer: "viewer"
        case .operator: "operator"
        case .admin: "admin"
        }
    }

    /// The role of this name, or nil.
    public init?(name: some StringProtocol) {
        guard let role = Role.allCases.first(where: { $0.description == name }) else { return nil }
        self = role
    }

    /// "a viewer", "an operator", "an admin".
    var withArticle: String {
        self == .viewer ? "a viewer" : "an \(description)"
    }
}
