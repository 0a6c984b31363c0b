import NIOHTTP1

/// Where a request carries its bearer token: the `Authorization` header, or the
/// path prefix `/tokens/TOKEN` of the written kubeconfig's server URL (client-go
/// sends a kubeconfig's credentials only over TLS, and the double speaks plain
/// HTTP; see ``KubernetesAPIDouble/writeKubeconfig(to:token:)``).
enum Credentials {
    static let pathPrefix = "/tokens/"

    /// The token of an `Authorization: Bearer` header.
    static func bearerToken(_ headers: HTTPHeaders) -> String? {
        guard let value = headers.first(name: "authorization"), value.lowercased().hasPrefix("bearer ") else { return nil }
        return String(value.dropFirst("bearer ".count)).trimmed
    }

    /// The path without its `/tokens/TOKEN` prefix, and the token; a path without
    /// the prefix is returned as it is.
    static func splitPathToken(_ path: String) -> (path: String, token: String?) {
        guard path.hasPrefix(pathPrefix) else { return (path, nil) }
        let rest = path.dropFirst(pathPrefix.count)
        let token = rest.prefix { $0 != "/" }
        let remainder = rest.dropFirst(token.count)
        return (remainder.isEmpty ? "/" : String(remainder), String(token))
    }
}
