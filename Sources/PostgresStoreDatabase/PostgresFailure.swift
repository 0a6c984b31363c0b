import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import StoreCore

/// How the PostgreSQL backend words its failures: every error leaves it as a
/// ``PlatformError`` whose message is one line saying what happened and what to do,
/// naming the database (never with its password), with the driver's error as `cause`.
enum PostgresFailure {
    /// `error` as the backend throws it: ``PlatformError`` and `CancellationError` as
    /// they are; anything else classified (see the cases below).
    static func platformError(_ error: any Error, url: PostgresDatabaseURL) -> any Error {
        switch error {
        case is PlatformError, is CancellationError:
            return error
        case let error as PSQLError:
            return classify(error, url: url)
        case let error as PostgresDecodingError:
            return PlatformError(
                .internalError,
                "the store database \(url.location) holds a value this build cannot read (column \(error.columnName), "
                    + "\(error.postgresType)); was the schema changed by hand?",
                cause: error
            )
        default:
            if let reason = connectionReason(error, url: url) {
                return unreachable(url, reason, hint: unreachableHint(error), cause: error)
            }
            return PlatformError(.internalError, "the store database \(url.location) failed: \(String(describing: error))", cause: error)
        }
    }

    /// The server cannot be reached: ``ErrorCode/unavailable`` naming it, with what
    /// to check.
    static func unreachable(
        _ url: PostgresDatabaseURL, _ reason: String, hint: String = "is PostgreSQL running?", cause: (any Error)? = nil
    ) -> PlatformError {
        PlatformError(.unavailable, "the store database \(url.location) cannot be reached: \(reason); \(hint)", cause: cause)
    }

    /// What to check when `error` kept the connection from being made: a host name
    /// that does not resolve is a mistake in the URL (or DNS), not a server that is down.
    private static func unreachableHint(_ error: any Error) -> String {
        if let error = error as? PSQLError, let underlying = error.underlying {
            return unreachableHint(underlying)
        }
        if let error = error as? NIOConnectionError, error.connectionErrors.isEmpty,
            error.dnsAError != nil || error.dnsAAAAError != nil
        {
            return "check the host name in the database URL and the DNS"
        }
        return "is PostgreSQL running?"
    }

    /// Whether `error` says the connection to the server is gone or could not be
    /// made (as opposed to a statement the server refused).
    /// Whether a failed connection attempt says the server is gone (no socket,
    /// refused, reset, shutting down), not merely busy or refusing this login.
    static func meansServerGone(_ failure: PlatformError) -> Bool {
        guard let cause = failure.cause else { return false }
        return isConnectionLoss(cause) || cause is IOError || cause is NIOConnectionError
    }

    static func isConnectionLoss(_ error: any Error) -> Bool {
        guard let error = error as? PSQLError else { return false }
        switch error.code {
        case .connectionError, .serverClosedConnection, .uncleanShutdown, .clientClosedConnection, .poolClosed:
            return true
        case .server:
            let state = error.serverInfo?[.sqlState] ?? ""
            return state.hasPrefix("08") || state == "57P01" || state == "57P02" || state == "57P03"
        default:
            return false
        }
    }

    private static func classify(_ error: PSQLError, url: PostgresDatabaseURL) -> PlatformError {
        switch error.code {
        case .server:
            return serverError(error, url: url)
        case .connectionError where error.underlying.map(isTLSFailure) == true:
            // The TLS handshake failed: most often the server's certificate is not
            // trusted (sslrootcert) or names another host.
            return PlatformError(
                .unavailable,
                "TLS with the PostgreSQL server at \(url.serverDescription) failed: \(describe(error.underlying ?? error)); "
                    + "check the server's certificate, its host name and sslrootcert",
                cause: error
            )
        case .connectionError, .serverClosedConnection, .uncleanShutdown, .clientClosedConnection, .poolClosed:
            let fallback = switch error.code {
            case .connectionError: "the connection failed"
            // This daemon closed it: an earlier statement on it got no answer in time.
            case .clientClosedConnection: "the connection was closed after a statement on it got no answer"
            case .poolClosed: "the connection pool was closed"
            default: "the server closed the connection"
            }
            let reason = error.underlying.flatMap { connectionReason($0, url: url) } ?? fallback
            return unreachable(url, reason, hint: unreachableHint(error), cause: error)
        case .sslUnsupported:
            return PlatformError(
                .internalError,
                "the PostgreSQL server at \(url.serverDescription) does not offer TLS, which sslmode=\(url.tlsMode.rawValue) "
                    + "asks for; enable ssl on the server, or use sslmode=prefer or disable",
                cause: error
            )
        case .failedToAddSSLHandler, .receivedUnencryptedDataAfterSSLRequest:
            return PlatformError(
                .internalError,
                "TLS with the PostgreSQL server at \(url.serverDescription) failed: \(describe(error.underlying ?? error)); "
                    + "check the server's certificate and sslrootcert",
                cause: error
            )
        case .authMechanismRequiresPassword:
            return PlatformError(
                .internalError,
                "PostgreSQL at \(url.serverDescription) asks user \(url.user.debugDescription) for a password and none was given; "
                    + "give the password (a password file, or the URL)",
                cause: error
            )
        case .unsupportedAuthMechanism, .saslError:
            return PlatformError(
                .internalError,
                "PostgreSQL at \(url.serverDescription) refused user \(url.user.debugDescription): the authentication "
                    + "failed (\(describe(error.underlying ?? error))); check the user name, the password and pg_hba.conf",
                cause: error
            )
        case .queryCancelled:
            return PlatformError(.unavailable, "a statement on the store database \(url.location) was cancelled; try again", cause: error)
        default:
            return PlatformError(
                .internalError, "the store database \(url.location) failed: \(describe(error))", cause: error
            )
        }
    }

    private static func serverError(_ error: PSQLError, url: PostgresDatabaseURL) -> PlatformError {
        let state = error.serverInfo?[.sqlState] ?? "?????"
        let message = error.serverInfo?[.message] ?? "no message"
        switch state {
        case "28P01", "28000":
            return PlatformError(
                .internalError,
                "PostgreSQL at \(url.serverDescription) refused user \(url.user.debugDescription): \(message); "
                    + "check the user name and the password",
                cause: error
            )
        case "3D000":
            return PlatformError(
                .internalError,
                "the database \(url.database.debugDescription) does not exist on the PostgreSQL server at "
                    + "\(url.serverDescription); create it (CREATE DATABASE) or correct the URL",
                cause: error
            )
        case "57014":
            let limit = url.statementTimeoutMilliseconds
            return PlatformError(
                .unavailable,
                "the store database \(url.location) did not finish a statement within "
                    + (limit > 0 ? "the statement timeout of \(limit) ms" : "its time")
                    + " (it may be overloaded or locked); try again",
                cause: error
            )
        case "40001", "40P01":
            return PlatformError(.unavailable, "the store database \(url.location) broke off a transaction: \(message); try again", cause: error)
        case "53300", "53400", "57P03":
            return PlatformError(.unavailable, "the store database \(url.location) refuses connections now: \(message); try again later", cause: error)
        case "57P01", "57P02":
            return unreachable(url, "the server is shutting down (\(message))", cause: error)
        case _ where state.hasPrefix("08"):
            return unreachable(url, message, cause: error)
        case _ where state.hasPrefix("53"):
            return PlatformError(.unavailable, "the store database \(url.location) is out of resources: \(message); try again later", cause: error)
        default:
            return PlatformError(
                .internalError, "the store database \(url.location) failed: PostgreSQL error \(state): \(message)", cause: error
            )
        }
    }

    /// Why a connection could not be made, for a message; `nil` when `error` is not
    /// about making or keeping a connection.
    /// Whether `error` comes from TLS (the handshake, the certificate).
    private static func isTLSFailure(_ error: any Error) -> Bool {
        switch error {
        case is NIOSSLError, is BoringSSLError, is NIOSSLExtraError: return true
        case let error as PSQLError: return error.underlying.map(isTLSFailure) ?? false
        default: return false
        }
    }

    private static func connectionReason(_ error: any Error, url: PostgresDatabaseURL) -> String? {
        switch error {
        case let error as IOError:
            if let socket = url.socketPath, error.errnoCode == ENOENT {
                return "there is no server socket \(socket)"
            }
            return "\(url.serverDescription): \(String(cString: strerror(error.errnoCode)))"
        case let error as NIOConnectionError:
            if let first = error.connectionErrors.first {
                return connectionReason(first.error, url: url) ?? "\(url.serverDescription): \(describe(first.error))"
            }
            if error.dnsAError != nil || error.dnsAAAAError != nil {
                return "the host name \(error.host.debugDescription) does not resolve"
            }
            return "\(url.serverDescription): no address to connect to"
        case let error as ChannelError:
            if case .connectTimeout(let amount) = error {
                return "\(url.serverDescription) did not answer within \(amount.nanoseconds / 1_000_000_000) s"
            }
            if case .ioOnClosedChannel = error { return "the connection was closed" }
            if case .eof = error { return "the server closed the connection" }
            return nil
        case let error as PSQLError:
            return error.underlying.flatMap { connectionReason($0, url: url) }
        default:
            return nil
        }
    }

    /// A short description of `error` for a message.
    static func describe(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] {
                return message
            }
            if let underlying = error.underlying {
                return describe(underlying)
            }
            return error.code.description
        }
        if let error = error as? IOError {
            return String(cString: strerror(error.errnoCode))
        }
        if let error = error as? NIOSSLError {
            return "\(error)"
        }
        return String(describing: error)
    }
}
