import Foundation
import StoreCore

/// Where and how ``PostgresStoreDatabase`` connects: a `postgres://` or
/// `postgresql://` URL as libpq reads it, checked whole before any connection.
///
/// ```
/// postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?PARAMETER=VALUE&...]
/// postgresql://USER@/DATABASE?host=/run/postgresql          (a Unix socket)
/// ```
///
/// - `USER` defaults to the name of the user running the process, as with libpq.
/// - `HOST` is a name, an IPv4 address or a bracketed IPv6 address; the `host`
///   parameter may stand for it instead, and names a socket directory when it starts
///   with `/` (the socket is `DIRECTORY/.s.PGSQL.PORT`, as libpq looks for it).
/// - `PORT` defaults to 5432; the `port` parameter may stand for it instead.
/// - `DATABASE` is required.
/// - Parameters: `sslmode` (`disable`, `prefer` (the default), `require`,
///   `verify-full`), `sslrootcert` (a PEM file of the certificate authorities that
///   `verify-full` trusts; the system's by default), `pool_max` (connections in the
///   pool, 1...1000, default 10), `connect_timeout` (seconds, 1...3600, default 5:
///   bounds opening a connection and waiting for one from the pool),
///   `statement_timeout` (milliseconds, 0 for none, default 5000),
///   `application_name` (default `storeplatformd`). Any other parameter is refused.
///
/// User, password and database are percent-decoded. Every refusal is
/// ``ErrorCode/invalidArgument`` with one sentence naming the problem, and never
/// repeats the password.
public struct PostgresDatabaseURL: Sendable, Equatable {
    /// Where the server listens.
    public enum Endpoint: Sendable, Equatable {
        /// TCP to a host name or address and a port.
        case tcp(host: String, port: Int)
        /// The Unix socket `directory/.s.PGSQL.port`.
        case unixSocket(directory: String, port: Int)
    }

    /// Whether and how the connection is encrypted, as libpq's `sslmode`.
    public enum TLSMode: String, Sendable, Equatable, CaseIterable {
        /// Never TLS.
        case disable
        /// TLS when the server offers it, without checking its certificate.
        case prefer
        /// Always TLS, without checking the server's certificate.
        case require
        /// Always TLS; the certificate must chain to a trusted authority and name the host.
        case verifyFull = "verify-full"
    }

    public var endpoint: Endpoint
    public var user: String
    /// The password the URL carries, if any.
    public var password: String?
    public var database: String
    public var tlsMode: TLSMode
    /// A PEM file of the authorities `verify-full` trusts; `nil` for the system's.
    public var tlsRootCertificateFile: String?
    /// The most connections the pool opens.
    public var poolMaximum: Int
    /// Bounds opening one connection, and a call's wait for a connection of the pool.
    public var connectTimeout: Duration
    /// The server cancels a statement that runs longer; `0` for no limit.
    public var statementTimeoutMilliseconds: Int
    public var applicationName: String

    /// The parameters a URL may carry.
    public static let parameterNames = [
        "host", "port", "sslmode", "sslrootcert", "pool_max", "connect_timeout", "statement_timeout", "application_name",
    ]

    /// Parses `text`.
    ///
    /// - Throws: ``ErrorCode/invalidArgument`` naming what is wrong: the scheme, the
    ///   host, the port, a missing database, an unknown parameter, a value out of range.
    public init(_ text: String) throws {
        guard let schemeEnd = text.range(of: "://") else {
            throw Self.invalid("the database URL must start with postgresql:// or postgres://")
        }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "postgresql" || scheme == "postgres" else {
            throw Self.invalid(
                "the database URL must start with postgresql:// or postgres://, not \(String(scheme.prefix(20)).debugDescription)://"
            )
        }
        var rest = text[schemeEnd.upperBound...]
        guard !rest.contains("#") else {
            throw Self.invalid("the database URL must not have a fragment (#…)")
        }

        var query = Substring("")
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        var path = Substring("")
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        // The authority: [user[:password]@]host[:port]. The last "@" ends the user
        // part, so an unescaped "@" in a password still parses as libpq does.
        var hostPort = rest
        var user: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            hostPort = rest[rest.index(after: at)...]
            if let colon = userInfo.firstIndex(of: ":") {
                user = try Self.decoded(userInfo[..<colon], "user name")
                password = try Self.decoded(userInfo[userInfo.index(after: colon)...], "password")
            } else {
                user = try Self.decoded(userInfo, "user name")
            }
        }

        let (authorityHost, authorityPort) = try Self.hostAndPort(hostPort)
        guard !path.contains("/") else {
            throw Self.invalid("the database URL's path must be one database name (postgresql://HOST/DATABASE)")
        }
        let database = try Self.decoded(path, "database name")
        guard !database.isEmpty else {
            throw Self.invalid("the database URL names no database: add it as the path (postgresql://HOST:PORT/DATABASE)")
        }

        var parameters: [String: String] = [:]
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = try Self.decoded(parts[0], "parameter name")
            guard Self.parameterNames.contains(name) else {
                throw Self.invalid(
                    "the database URL has an unknown parameter \(String(name.prefix(40)).debugDescription); "
                        + "known ones are " + Self.parameterNames.joined(separator: ", ")
                )
            }
            guard parts.count == 2 else {
                throw Self.invalid("the database URL's parameter \(name) has no value (\(name)=VALUE)")
            }
            guard parameters[name] == nil else {
                throw Self.invalid("the database URL gives the parameter \(name) twice")
            }
            parameters[name] = try Self.decoded(parts[1], "\(name) parameter")
        }

        var port = authorityPort ?? 5432
        if let text = parameters["port"] {
            guard authorityPort == nil else {
                throw Self.invalid("the database URL gives the port twice, after the host and as ?port=")
            }
            port = try Self.port(text)
        }
        if let host = parameters["host"] {
            guard authorityHost == nil else {
                throw Self.invalid("the database URL gives the host twice, in the URL and as ?host=")
            }
            guard !host.isEmpty else { throw Self.invalid("the database URL's host parameter is empty") }
            endpoint = host.hasPrefix("/") ? .unixSocket(directory: host, port: port) : .tcp(host: host, port: port)
        } else if let authorityHost {
            endpoint = authorityHost.hasPrefix("/")
                ? .unixSocket(directory: authorityHost, port: port) : .tcp(host: authorityHost, port: port)
        } else {
            throw Self.invalid(
                "the database URL names no host: add one (postgresql://HOST:PORT/DATABASE) "
                    + "or a socket directory (postgresql:///DATABASE?host=/run/postgresql)"
            )
        }

        self.user = user.flatMap { $0.isEmpty ? nil : $0 } ?? Self.processUserName()
        self.password = password
        self.database = database
        if let mode = parameters["sslmode"] {
            guard let parsed = TLSMode(rawValue: mode) else {
                throw Self.invalid(
                    "the database URL's sslmode must be disable, prefer, require or verify-full, not \(String(mode.prefix(20)).debugDescription)"
                )
            }
            tlsMode = parsed
        } else {
            tlsMode = .prefer
        }
        tlsRootCertificateFile = parameters["sslrootcert"]
        if tlsRootCertificateFile != nil && tlsMode != .verifyFull {
            throw Self.invalid("the database URL's sslrootcert is only used with sslmode=verify-full")
        }
        poolMaximum = try Self.integer(parameters["pool_max"], "pool_max", default: 10, range: 1...1000, unit: "connections")
        connectTimeout = .seconds(try Self.integer(
            parameters["connect_timeout"], "connect_timeout", default: 5, range: 1...3600, unit: "seconds"
        ))
        statementTimeoutMilliseconds = try Self.integer(
            parameters["statement_timeout"], "statement_timeout", default: 5000, range: 0...86_400_000, unit: "milliseconds"
        )
        applicationName = parameters["application_name"] ?? "storeplatformd"
    }

    /// The URL without its password, for logs and messages: `postgresql://HOST:PORT/DATABASE`,
    /// or `postgresql:///DATABASE?host=DIRECTORY` for a socket (with `&port=` when not 5432).
    public var location: String {
        let database = Self.encoded(self.database)
        switch endpoint {
        case .tcp(let host, let port):
            let shown = host.contains(":") ? "[\(host)]" : host
            return "postgresql://\(shown):\(port)/\(database)"
        case .unixSocket(let directory, let port):
            return "postgresql:///\(database)?host=\(directory)" + (port == 5432 ? "" : "&port=\(port)")
        }
    }

    /// Where the server listens, for messages: `HOST:PORT`, or the socket's path.
    public var serverDescription: String {
        switch endpoint {
        case .tcp(let host, let port): return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unixSocket(let directory, let port): return socketPath(directory: directory, port: port)
        }
    }

    /// The path of the socket for a socket endpoint; `nil` for TCP.
    public var socketPath: String? {
        guard case .unixSocket(let directory, let port) = endpoint else { return nil }
        return socketPath(directory: directory, port: port)
    }

    private func socketPath(directory: String, port: Int) -> String {
        (directory.hasSuffix("/") ? directory : directory + "/") + ".s.PGSQL.\(port)"
    }

    /// This URL with `password` as its password, refusing a password given twice.
    ///
    /// - Throws: ``ErrorCode/invalidArgument`` when both the URL and `password` carry one.
    public func withPassword(_ password: String?) throws -> PostgresDatabaseURL {
        guard let password else { return self }
        guard self.password == nil else {
            throw Self.invalid(
                "the database password is given twice, in the URL and separately; keep one (a password file keeps it out of the process list)"
            )
        }
        var copy = self
        copy.password = password
        return copy
    }

    // MARK: Parsing

    private static func invalid(_ message: String) -> PlatformError {
        PlatformError(.invalidArgument, message)
    }

    private static func decoded(_ text: Substring, _ what: String) throws -> String {
        guard let decoded = String(text).removingPercentEncoding else {
            throw invalid("the database URL's \(what) has a malformed percent-escape (%XX)")
        }
        return decoded
    }

    private static func encoded(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    private static func hostAndPort(_ text: Substring) throws -> (host: String?, port: Int?) {
        guard !text.isEmpty else { return (nil, nil) }
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                throw invalid("the database URL's IPv6 host has no closing bracket ([ADDRESS]:PORT)")
            }
            let host = String(text[text.index(after: text.startIndex)..<close])
            let after = text[text.index(after: close)...]
            guard !host.isEmpty else { throw invalid("the database URL's IPv6 host is empty") }
            if after.isEmpty { return (host, nil) }
            guard after.hasPrefix(":") else {
                throw invalid("the database URL has something other than :PORT after its IPv6 host")
            }
            return (host, try port(String(after.dropFirst())))
        }
        var host = text
        var portValue: Int?
        if let colon = text.lastIndex(of: ":") {
            host = text[..<colon]
            portValue = try port(String(text[text.index(after: colon)...]))
        }
        let decodedHost = try decoded(host, "host")
        guard !decodedHost.contains(":") else {
            throw invalid("the database URL's IPv6 host must be in brackets (postgresql://[::1]:5432/DATABASE)")
        }
        // A percent-encoded absolute path is a socket directory, as libpq reads it.
        if decodedHost.isEmpty || decodedHost.hasPrefix("/") { return (decodedHost.isEmpty ? nil : decodedHost, portValue) }
        guard decodedHost.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "_" }) else {
            throw invalid("the database URL's host \(String(decodedHost.prefix(64)).debugDescription) is not a host name or address")
        }
        return (decodedHost, portValue)
    }

    private static func port(_ text: String) throws -> Int {
        guard let port = Int(text), (1...65535).contains(port), text.allSatisfy(\.isASCII) else {
            throw invalid("the database URL's port must be a number from 1 to 65535, not \(String(text.prefix(20)).debugDescription)")
        }
        return port
    }

    private static func integer(_ text: String?, _ name: String, default value: Int, range: ClosedRange<Int>, unit: String) throws -> Int {
        guard let text else { return value }
        guard let number = Int(text), range.contains(number), text.allSatisfy(\.isASCII) else {
            throw invalid(
                "the database URL's \(name) must be a whole number of \(unit) from \(range.lowerBound) to \(range.upperBound), "
                    + "not \(String(text.prefix(20)).debugDescription)"
            )
        }
        return number
    }

    /// The name of the user running this process: libpq's default user.
    private static func processUserName() -> String {
        if let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name {
            return String(cString: name)
        }
        return ProcessInfo.processInfo.environment["USER"] ?? "postgres"
    }
}

extension PostgresDatabaseURL: CustomStringConvertible, CustomDebugStringConvertible {
    /// ``location``, with the user: never the password, wherever the URL is printed.
    public var description: String {
        location.replacingOccurrences(of: "postgresql://", with: "postgresql://\(Self.encoded(user))@")
    }

    public var debugDescription: String { description }
}
