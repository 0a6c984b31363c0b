/// A web origin (RFC 6454): scheme, host and port, compared the way browsers
/// compare them — scheme and host case-insensitively, a missing port as the
/// scheme's default.
struct WebOrigin: Equatable, CustomStringConvertible {
    let scheme: String
    let host: String
    let port: Int

    /// Parses an `Origin` header value: `scheme://host[:port]` with nothing after
    /// it. Nil for `null` (sandboxed frames, `file:` pages) and anything else that
    /// is not a plain http(s) origin.
    init?(header: String) {
        let parts = header.split(separator: "://", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        self.init(scheme: String(parts[0]), authority: String(parts[1]))
    }

    /// An origin from a scheme and a `Host`-style authority (`host`, `host:port`,
    /// `[v6]:port`). Nil when the scheme is not http or https or the authority
    /// has a path, user info or a port that is not a number.
    init?(scheme: String, authority: String) {
        let scheme = scheme.lowercased()
        let defaultPort: Int
        switch scheme {
        case "http": defaultPort = 80
        case "https": defaultPort = 443
        default: return nil
        }
        guard !authority.isEmpty, !authority.contains(where: { "/?#@ ".contains($0) }) else { return nil }
        var host = Substring(authority)
        var port = defaultPort
        // The last colon starts the port, unless it is inside an IPv6 literal.
        if let colon = authority.lastIndex(of: ":"), !authority[colon...].contains("]") {
            guard let number = Int(authority[authority.index(after: colon)...]), (0...65_535).contains(number) else {
                return nil
            }
            host = authority[..<colon]
            port = number
        }
        guard !host.isEmpty else { return nil }
        self.scheme = scheme
        self.host = host.lowercased()
        self.port = port
    }

    /// The serialized origin, as a browser would send it (default port left out).
    var description: String {
        let defaultPort = scheme == "https" ? 443 : 80
        return port == defaultPort ? "\(scheme)://\(host)" : "\(scheme)://\(host):\(port)"
    }
}
