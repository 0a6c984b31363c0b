import ArgumentParser
import Dispatch
import Foundation
import Logging
import PostgresStoreDatabase
import PostgresTestSupport
import Provisioning
import StoreCore
import StoreDatabase
import Synchronization

/// The store database a benchmark runs on: `--database sqlite|postgresql|postgresql-nosync|both`
/// (a comma-separated list runs each in turn, in the same run).
enum BenchBackend: String, CaseIterable, Sendable {
    /// The daemon's embedded SQLite file (WAL, GRDB's `synchronous = NORMAL`).
    case sqlite
    /// A throwaway PostgreSQL server with PostgreSQL's own durability defaults:
    /// `fsync = on`, `synchronous_commit = on`, `full_page_writes = on`,
    /// `shared_buffers = 128MB`.
    case postgresql
    /// The same server with the test settings of `ThrowawayPostgres`: `fsync = off`,
    /// `synchronous_commit = off`, `full_page_writes = off`, `shared_buffers = 32MB`.
    case postgresqlNoSync = "postgresql-nosync"

    /// Parses `--database`: names separated by commas; `both` is `sqlite,postgresql`.
    static func parse(_ text: String) throws -> [BenchBackend] {
        var backends: [BenchBackend] = []
        for name in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            let named: [BenchBackend]
            if name == "both" {
                named = [.sqlite, .postgresql]
            } else if let backend = BenchBackend(rawValue: name) {
                named = [backend]
            } else {
                throw ValidationError(
                    "--database \(name.debugDescription) is not one of sqlite, postgresql, postgresql-nosync, both (a comma-separated list runs each)"
                )
            }
            for backend in named where !backends.contains(backend) { backends.append(backend) }
        }
        guard !backends.isEmpty else { throw ValidationError("--database names no database; give sqlite, postgresql or both") }
        return backends
    }

    /// The settings that decide what a commit costs, as they are written in BENCHMARKS.md.
    var settings: String {
        switch self {
        case .sqlite: "SQLite WAL, synchronous = NORMAL (GRDB's setting for WAL; the WAL is synced at checkpoints, not at each commit)"
        case .postgresql: "PostgreSQL defaults: fsync = on, synchronous_commit = on (the WAL is flushed at each commit), full_page_writes = on, shared_buffers = 128MB"
        case .postgresqlNoSync: "PostgreSQL test settings: fsync = off, synchronous_commit = off, full_page_writes = off, shared_buffers = 32MB (not crash-safe)"
        }
    }
}

/// Where a benchmark's database lives for one backend: nothing to start for SQLite
/// (the daemon's file under its data directory), a throwaway PostgreSQL server for
/// the others, with a fresh database for each phase. ``stop()`` stops and removes
/// the server; so do the process's exit and SIGINT/SIGTERM (``BenchCleanup``).
final class BenchDatabaseServer: Sendable {
    let backend: BenchBackend
    private let postgres: ThrowawayPostgres?

    private init(backend: BenchBackend, postgres: ThrowawayPostgres?) {
        self.backend = backend
        self.postgres = postgres
    }

    static func start(_ backend: BenchBackend) async throws -> BenchDatabaseServer {
        guard backend != .sqlite else { return BenchDatabaseServer(backend: backend, postgres: nil) }
        BenchCleanup.installSignalHandlers()
        let server: ThrowawayPostgres
        do {
            server = try await ThrowawayPostgres.start()
        } catch {
            throw ValidationError("cannot start a PostgreSQL server for --database \(backend.rawValue): \(error)")
        }
        do {
            if backend == .postgresql {
                // Back to PostgreSQL's defaults (the test server switches durability off).
                for setting in ["fsync = on", "synchronous_commit = on", "full_page_writes = on", "shared_buffers = '128MB'"] {
                    try await server.sql("ALTER SYSTEM SET \(setting)")
                }
                try await server.stopServer()
                try await server.startServer()
            }
        } catch {
            await server.stop()
            throw error
        }
        return BenchDatabaseServer(backend: backend, postgres: server)
    }

    /// The settings the server runs with now, read back from it (`SHOW`), so the
    /// report says what was measured rather than what was asked for.
    func effectiveSettings() async throws -> String {
        guard let postgres else { return backend.settings }
        var parts: [String] = []
        for name in ["fsync", "synchronous_commit", "full_page_writes", "shared_buffers", "wal_level", "server_version"] {
            let value = try await postgres.sql("SHOW \(name)").trimmingCharacters(in: .whitespacesAndNewlines)
            parts.append("\(name) = \(value)")
        }
        return "PostgreSQL " + parts.joined(separator: ", ") + " (Unix socket)"
    }

    /// A fresh database for one phase: the daemon's `--database` value (`nil` for
    /// SQLite: the default file in `dataDir`) and the database, opened and migrated.
    func freshDatabase(dataDir: String, prefix: String) async throws -> (option: String?, database: any StoreDatabase) {
        guard let postgres else {
            return (nil, try SQLiteStoreDatabase.open(path: dataDir + "/storeplatform.sqlite"))
        }
        let url = try await postgres.createDatabase(prefix: prefix)
        let database = try await PostgresStoreDatabase.connect(url: url, logger: Logger(label: "bench"))
        return (url, database)
    }

    /// Opens the database `option` names again (a second connection to a phase's database).
    func open(option: String?, dataDir: String) async throws -> any StoreDatabase {
        guard let option else { return try SQLiteStoreDatabase.open(path: dataDir + "/storeplatform.sqlite") }
        return try await PostgresStoreDatabase.connect(url: option, logger: Logger(label: "bench"))
    }

    /// The PostgreSQL server's postmaster (its backends are its children), for the
    /// load client's `--tree-pid`; `nil` for SQLite, which runs inside the daemon.
    var serverPID: Int32? {
        guard let postgres,
            let text = try? String(contentsOfFile: postgres.directory + "/data/postmaster.pid", encoding: .utf8),
            let line = text.split(separator: "\n").first
        else { return nil }
        return Int32(line.trimmingCharacters(in: .whitespaces))
    }

    func stop() async {
        await postgres?.stop()
    }

    /// Runs `body` with a server for `backend`, stopped and removed afterwards whatever `body` did.
    static func with<T>(_ backend: BenchBackend, _ body: (BenchDatabaseServer) async throws -> T) async throws -> T {
        let server = try await start(backend)
        do {
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }
}

/// SIGINT and SIGTERM end the benchmark through `exit`, so that `ThrowawayPostgres`'s
/// exit handler stops and removes its servers (a signal's default action would leave
/// them running). The daemons the benchmark started get SIGTERM from it too.
enum BenchCleanup {
    private static let installed = Mutex(false)
    /// Scratch directories removed when the benchmark is interrupted.
    private static let scratch = Mutex<Set<String>>([])

    /// Removes `directory` if the benchmark is interrupted (its `defer` does otherwise).
    static func removeOnInterrupt(_ directory: String) {
        _ = scratch.withLock { $0.insert(directory) }
    }
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []

    static func installSignalHandlers() {
        let first = installed.withLock { installed in
            defer { installed = true }
            return !installed
        }
        guard first else { return }
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                FileHandle.standardError.write(Data("storeplatform-bench: interrupted; stopping the PostgreSQL server it started\n".utf8))
                ChildProcess.terminateAll()
                for directory in scratch.withLock({ $0 }) { try? FileManager.default.removeItem(atPath: directory) }
                exit(130)
            }
            source.resume()
            sources.append(source)
        }
    }
}

extension StoreDatabase {
    /// Imports `count` ready stores named PREFIX-0, PREFIX-1, … and installs their
    /// releases in the simulated cluster beside this database (its SQLite file at
    /// `clusterPath`, or its PostgreSQL schema), ready at once: a cluster a daemon's
    /// first reconcile pass finds nothing to correct in. Returns them in import order.
    func seedReadyStores(_ count: Int, prefix: String, clusterPath: String) async throws -> [Store] {
        let cluster = SimulatedCluster(
            state: try await simulatedClusterState(beside: self, sqlitePath: clusterPath), configuration: .instant
        )
        let now = Date()
        var seeded: [Store] = []
        for index in 0..<count {
            var store = Store.queued(name: try StoreName.validate("\(prefix)-\(index)"), engine: WooCommerceEngine(), now: now)
            store.status = .ready
            store.url = "http://\(prefix)-\(index).stores.localhost"
            store.attempts = 1
            store.readyAt = now
            store.provisioningDurationMilliseconds = 1
            seeded.append(store)
        }
        try await importStores(seeded, actor: "bench")
        try await cluster.seedInstalled(seeded.map { ($0.namespace, $0.id, $0.release) })
        return seeded
    }
}
