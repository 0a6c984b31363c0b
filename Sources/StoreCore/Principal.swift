/// Who a caller is, as the transport that carried the call identified it: a
/// kind and a name, written `kind:name`. The transports decide who (a Unix
/// socket peer's uid, the name of the bearer token presented, a TLS client
/// certificate's subject, a TCP or HTTP peer's address); ``AccessPolicy`` decides
/// what that principal may do.
public struct Principal: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        /// A Unix socket peer, named by its uid (SO_PEERCRED): `uid:1001`.
        case uid
        /// A caller that presented a bearer token from the token file, named by the
        /// token's name (or its number when the line has no name): `token:ci`.
        case token
        /// A caller that presented a TLS client certificate, named by its subject:
        /// `cert:CN=billing,O=Example`.
        case cert
        /// An RPC caller over TCP without a token file, named by its address.
        case tcp
        /// An HTTP caller without a token, named by its address (or the first
        /// `X-Forwarded-For` address when its peer is a trusted proxy).
        case http
    }

    public let kind: Kind
    /// The part after `kind:`; never empty.
    public let name: String

    public init(_ kind: Kind, _ name: String) {
        precondition(!name.isEmpty, "a principal's name is never empty")
        self.kind = kind
        self.name = name
    }

    /// A Unix socket peer with this uid.
    public static func uid(_ uid: UInt32) -> Principal {
        Principal(.uid, String(uid))
    }

    /// Parses `kind:name`; nil when the kind is not one of ``Kind`` or the name is empty.
    public init?(_ text: some StringProtocol) {
        guard let colon = text.firstIndex(of: ":"), let kind = Kind(rawValue: String(text[..<colon])) else { return nil }
        let name = String(text[text.index(after: colon)...])
        guard !name.isEmpty else { return nil }
        self.init(kind, name)
    }

    /// `kind:name`, as audit rows, rate limits and store owners record it.
    public var description: String { "\(kind.rawValue):\(name)" }

    /// The uid of a `uid:` principal; nil for any other kind (or an unknown uid).
    public var uid: UInt32? {
        kind == .uid ? UInt32(name) : nil
    }
}
