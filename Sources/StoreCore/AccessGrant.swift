/// What one principal may do: a role and, for an operator, whether it may change
/// only the stores it created.
public struct AccessGrant: Sendable, Equatable, CustomStringConvertible {
    public var role: Role
    /// True: create any store, but retry and delete only stores whose owner is this
    /// principal. Means nothing for viewers, and admins are never limited.
    public var ownStoresOnly: Bool

    public init(_ role: Role, ownStoresOnly: Bool = false) {
        self.role = role
        self.ownStoresOnly = role == .admin ? false : ownStoresOnly
    }

    /// As an access file writes it: `operator own-stores`, `admin`.
    public var description: String {
        ownStoresOnly && role == .operator ? "\(role) own-stores" : role.description
    }
}
