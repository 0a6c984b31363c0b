import Foundation
import Logging
import PostgresStoreDatabase
import PostgresTestSupport
import StoreDatabase
import Testing

/// The backends the contract suites run against: each test gets a fresh, migrated,
/// empty database of each. PostgreSQL runs when it is installed, or when
/// `STOREPLATFORM_REQUIRE_POSTGRES=1` demands it (then a missing server fails).
enum Backend: String, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgresql

    static let all: [Backend] = ThrowawayPostgres.enabled ? [.sqlite, .postgresql] : [.sqlite]

    var testDescription: String { rawValue }

    /// A fresh database: a temporary SQLite file, or a new database on the test
    /// process's shared throwaway PostgreSQL server.
    func makeDatabase() async throws -> any StoreDatabase {
        switch self {
        case .sqlite:
            return try SQLiteStoreDatabase.temporary()
        case .postgresql:
            return try await PostgresStoreDatabase.connect(url: try await Self.newPostgresURL(), logger: quietLogger)
        }
    }

    /// The URL of a new empty database on the shared throwaway server.
    static func newPostgresURL(parameters: [String: String] = [:]) async throws -> String {
        let server = try await ThrowawayPostgres.shared()
        // A generous connect_timeout and statement_timeout: the full suite loads this
        // machine enough that a login, or a statement, can take seconds; tests of the
        // timeouts themselves pass their own.
        return try await server.createDatabase(
            parameters: ["pool_max": "5", "connect_timeout": "20", "statement_timeout": "30000"].merging(parameters) { $1 }
        )
    }
}

/// A logger that prints warnings and worse only.
let quietLogger: Logger = {
    var logger = Logger(label: "StoreDatabaseTests")
    logger.logLevel = .warning
    return logger
}()
