/// Which principals a line of an access file names: one principal
/// (`token:ci`), every principal of a kind (`uid:*`), or everyone (`*`).
public enum PrincipalPattern: Sendable, Hashable, CustomStringConvertible {
    case exactly(Principal)
    case anyOf(Principal.Kind)
    case anyone

    /// Parses `kind:name`, `kind:*` or `*`; nil for anything else.
    public init?(_ text: some StringProtocol) {
        if text == "*" {
            self = .anyone
        } else if text.hasSuffix(":*"), let kind = Principal.Kind(rawValue: String(text.dropLast(2))) {
            self = .anyOf(kind)
        } else if let principal = Principal(text) {
            self = .exactly(principal)
        } else {
            return nil
        }
    }

    public func matches(_ principal: Principal) -> Bool {
        switch self {
        case .exactly(let named): named == principal
        case .anyOf(let kind): principal.kind == kind
        case .anyone: true
        }
    }

    public var description: String {
        switch self {
        case .exactly(let principal): principal.description
        case .anyOf(let kind): "\(kind.rawValue):*"
        case .anyone: "*"
        }
    }
}
