import Foundation
import GRDB
import StoreCore
import Synchronization

/// The platform's store records and audit log in one SQLite file, through GRDB
/// (docs/ARCHITECTURE.md, "Persistence").
///
/// A `DatabasePool` in WAL mode: reads run concurrently on snapshot-isolated reader
/// connections while one writer connection serializes every write. A status change
/// and its audit row are written in one transaction, so a crash never leaves one
/// without the other. Every method is synchronous, safe to call from any thread or
/// task, and throws only ``PlatformError``: domain failures with their own codes,
/// anything unexpected from SQLite as ``ErrorCode/internalError`` with the database
/// error as its `cause`.
///
/// Dates are kept to the millisecond: values this type returns are the values it
/// stored, so a store read back equals the store a write returned.
public final class StoreDatabase: Sendable {
    let pool: DatabasePool
    private let writes = Atomic<UInt64>(0)
    /// The directory ``temporary()`` created, removed with the database; `nil` otherwise.
    private let temporaryDirectory: URL?

    private init(pool: DatabasePool, temporaryDirectory: URL?) throws {
        self.pool = pool
        self.temporaryDirectory = temporaryDirectory
        try Self.performing { try Self.migrator.migrate(pool) }
    }

    deinit {
        guard let temporaryDirectory else { return }
        try? pool.close()
        try? FileManager.default.removeItem(at: temporaryDirectory)
    }

    /// Opens the SQLite file at `path`, creating it if needed, as a `DatabasePool` in WAL
    /// mode, and runs the migrations it has not run yet (each runs once per file).
    ///
    /// The parent directory must exist. Throws ``ErrorCode/internalError`` when the file
    /// cannot be opened or migrated; its message names the file and says why (the
    /// system's reason, such as "Permission denied", with SQLite's).
    public static func open(path: String) throws -> StoreDatabase {
        do {
            let pool = try DatabasePool(path: path, configuration: configuration)
            return try StoreDatabase(pool: pool, temporaryDirectory: nil)
        } catch {
            // Opening a pool can succeed where the first write (the migrations) fails,
            // in a read-only directory for one: look for the system's reason either way.
            let underlying = (error as? PlatformError)?.cause ?? error
            let failure = SQLiteOpenFailure(path: path, underlying: underlying)
            throw PlatformError(.internalError, "cannot open the store database \(path): \(failure.reason)", cause: underlying)
        }
    }

    /// A fresh, migrated database in a new temporary directory, for tests: still a
    /// `DatabasePool` in WAL mode on a real file. The directory is removed when the
    /// database is deinitialized.
    public static func temporary() throws -> StoreDatabase {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("storeplatform-db-\(UUID().uuidString)", isDirectory: true)
        try performing { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) }
        let path = directory.appendingPathComponent("store.sqlite").path
        do {
            let pool = try performing { try DatabasePool(path: path, configuration: configuration) }
            return try StoreDatabase(pool: pool, temporaryDirectory: directory)
        } catch {
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
    }

    private static var configuration: Configuration {
        var configuration = Configuration()
        configuration.label = "StoreDatabase"
        // Another process (a second daemon by mistake, an operator's sqlite3) may hold
        // the write lock for a moment: wait for it rather than fail at once.
        configuration.busyMode = .timeout(5)
        return configuration
    }

    // MARK: Access

    /// Runs `body` in one write transaction; errors come out as ``PlatformError``.
    func write<T>(_ body: (Database) throws -> T) throws -> T {
        // Counted once the transaction is over, committed or not (a rollback only
        // costs a cache a miss).
        defer { writes.add(1, ordering: .releasing) }
        return try Self.performing { try pool.write(body) }
    }

    /// How many write transactions this database has run. Read it *before* a read:
    /// while it still has that value, no write has completed since, so whatever was
    /// derived from the read is still current (see `GenerationCache`). Writes by
    /// other processes are not counted; the daemon is the file's only writer.
    public var writeGeneration: UInt64 {
        writes.load(ordering: .acquiring)
    }

    /// Runs `body` on a snapshot of the database; errors come out as ``PlatformError``.
    func read<T>(_ body: (Database) throws -> T) throws -> T {
        try Self.performing { try pool.read(body) }
    }

    /// Runs `body`, passing ``PlatformError`` through and turning anything else into
    /// ``ErrorCode/internalError`` with the original error as its cause.
    static func performing<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as PlatformError {
            throw error
        } catch let error as DatabaseError {
            // SQLite's own words ("disk I/O error", "database or disk is full"); the
            // statement and its arguments stay out of the message.
            throw PlatformError(
                .internalError,
                "the store database failed: SQLite error \(error.resultCode.rawValue): \(error.message ?? "no message")",
                cause: error
            )
        } catch {
            throw PlatformError(.internalError, "the store database failed: \(error)", cause: error)
        }
    }
}
