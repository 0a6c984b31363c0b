/// Where a daemon listens.
public enum RPCEndpoint: Sendable, Hashable, CustomStringConvertible {
    case unix(path: String)
    case tcp(host: String, port: Int)

    /// Parses "host:port" (or "[v6]:port"): ``HostAndPort``.
    public static func tcp(_ text: String) throws -> RPCEndpoint {
        let address = try HostAndPort(parsing: text)
        return .tcp(host: address.host, port: address.port)
    }

    public var description: String {
        switch self {
        case .unix(let path): "unix:\(path)"
        case .tcp(let host, let port): "\(host):\(port)"
        }
    }
}

/// A TCP address as the listeners' and clients' options take it: "host:port", or
/// "[v6]:port".
public struct HostAndPort: Sendable, Hashable {
    public var host: String
    public var port: Int

    /// - Throws: ``RPCEndpointError`` when the host or the port is missing, or the
    ///   port is not 0...65535.
    public init(parsing text: String) throws {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port) else {
            throw RPCEndpointError("\"\(text)\" is not host:port with a port from 0 to 65535")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw RPCEndpointError("\"\(text)\" has no host") }
        self.host = host
        self.port = port
    }
}

public struct RPCEndpointError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
