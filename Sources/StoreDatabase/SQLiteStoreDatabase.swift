import Foundation
import GRDB
import StoreCore
import Synchronization

/// The ``StoreDatabase`` in one SQLite file, through GRDB: the embedded default
/// (docs/ARCHITECTURE.md, "Persistence").
///
/// A `DatabasePool` in WAL mode: reads run concurrently on snapshot-isolated reader
/// connections while one writer connection serializes every write, so the checks
/// of a create hold under any concurrency. Every call runs on GRDB's own dispatch
/// queues through its async API and suspends the caller meanwhile: no database
/// call ever blocks a thread of the daemon's event loops.
public final class SQLiteStoreDatabase: StoreDatabase {
    let pool: DatabasePool
    /// The connections of ``readStatement(_:)``.
    private let readers: SQLiteReaders
    public let location: String
    public var backend: String { "sqlite" }
    private let writes = Atomic<UInt64>(0)
    private let commitObserver = Mutex<(@Sendable (Transition) -> Void)?>(nil)
    /// The directory ``temporary()`` created, removed with the database; `nil` otherwise.
    private let temporaryDirectory: URL?

    private init(pool: DatabasePool, temporaryDirectory: URL?) throws {
        self.pool = pool
        self.location = pool.path
        self.temporaryDirectory = temporaryDirectory
        try Self.performing { try Self.migrator.migrate(pool) }
        // Used once the file is migrated (and so in WAL mode).
        readers = SQLiteReaders(path: pool.path, count: Self.statementReaderCount, configuration: Self.configuration)
    }

    /// How many connections ``readStatement(_:)`` spreads reads over: enough for
    /// every core to run one while a long read (a page of 500 stores) runs on another.
    static let statementReaderCount = 4

    deinit {
        guard let temporaryDirectory else { return }
        readers.close()
        try? pool.close()
        try? FileManager.default.removeItem(at: temporaryDirectory)
    }

    /// Opens the SQLite file at `path`, creating it if needed, as a `DatabasePool` in WAL
    /// mode, and runs the migrations it has not run yet (each runs once per file).
    ///
    /// The parent directory must exist. Throws ``ErrorCode/internalError`` when the file
    /// cannot be opened or migrated; its message names the file and says why (the
    /// system's reason, such as "Permission denied", with SQLite's).
    public static func open(path: String) throws -> SQLiteStoreDatabase {
        do {
            let pool = try DatabasePool(path: path, configuration: configuration)
            return try SQLiteStoreDatabase(pool: pool, temporaryDirectory: nil)
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
    public static func temporary() throws -> SQLiteStoreDatabase {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("storeplatform-db-\(UUID().uuidString)", isDirectory: true)
        try performing { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) }
        let path = directory.appendingPathComponent("store.sqlite").path
        do {
            let pool = try performing { try DatabasePool(path: path, configuration: configuration) }
            return try SQLiteStoreDatabase(pool: pool, temporaryDirectory: directory)
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

    public func checkAvailable() async throws {
        _ = try await readStatement { db in try Int.fetchOne(db.cachedStatement(sql: "SELECT 1")) }
    }

    public func observeCommits(_ observer: @escaping @Sendable (Transition) -> Void) {
        commitObserver.withLock { $0 = observer }
    }

    /// Has `transitions`, written in the transaction `db` is in, announced to the
    /// commit observer once that transaction commits: on GRDB's writer queue, where
    /// transactions commit one at a time, so announcements follow audit-id order.
    func announceOnCommit(_ transitions: [Transition], _ db: Database) {
        guard !transitions.isEmpty, let observer = commitObserver.withLock({ $0 }) else { return }
        db.afterNextTransaction(onCommit: { _ in
            for transition in transitions { observer(transition) }
        })
    }

    public func close() async {
        readers.close()
        try? pool.close()
    }

    /// Runs `body` in one write transaction on GRDB's writer queue, suspending the
    /// caller meanwhile; errors come out as ``PlatformError``.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        // Counted once the transaction is over, committed or not (a rollback only
        // costs a cache a miss).
        defer { writes.add(1, ordering: .releasing) }
        return try await Self.performing { try await pool.write(body) }
    }

    /// How many write transactions this database has run. Writes by other processes
    /// are not counted; the daemon is the file's only writer.
    public var writeGeneration: UInt64 {
        writes.load(ordering: .acquiring)
    }

    /// Runs `body` on a snapshot of the database on one of GRDB's reader queues,
    /// suspending the caller meanwhile; errors come out as ``PlatformError``.
    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await Self.performing { try await pool.read(body) }
    }

    /// Runs `body`, which runs exactly one SQL statement, on one of the read-only
    /// connections of ``SQLiteReaders``, suspending the caller meanwhile; errors come
    /// out as ``PlatformError``. No `BEGIN`/`COMMIT` around it: SQLite runs a lone
    /// statement in a transaction of its own, on one snapshot, so it sees what
    /// ``read(_:)`` would at less cost. A body that runs two statements and needs
    /// them to agree uses ``read(_:)``.
    func readStatement<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await Self.performing { try await readers.read(body) }
    }

    /// Runs `body`, passing ``PlatformError`` (and `CancellationError`) through and
    /// turning anything else into ``ErrorCode/internalError`` with the original error
    /// as its cause.
    static func performing<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            throw failure(error)
        }
    }

    /// Runs `body`, passing ``PlatformError`` through and turning anything else into
    /// ``ErrorCode/internalError`` with the original error as its cause.
    static func performing<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            throw failure(error)
        }
    }

    private static func failure(_ error: any Error) -> any Error {
        switch error {
        case let error as PlatformError:
            return error
        case is CancellationError:
            // The caller's task was cancelled (a delete took over, or shutdown): it
            // stops, and nothing is reported.
            return error
        case let error as DatabaseError:
            // SQLite's own words ("disk I/O error", "database or disk is full"); the
            // statement and its arguments stay out of the message.
            return PlatformError(
                .internalError,
                "the store database failed: SQLite error \(error.resultCode.rawValue): \(error.message ?? "no message")",
                cause: error
            )
        default:
            return PlatformError(.internalError, "the store database failed: \(error)", cause: error)
        }
    }
}
