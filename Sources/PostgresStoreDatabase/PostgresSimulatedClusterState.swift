import Foundation
import Logging
import PostgresNIO
import StoreDatabase

/// The simulated cluster's state in its own schema, `simulated_cluster`, of the
/// PostgreSQL database the replicas share (through the store database's pool), so
/// every replica drives one simulated cluster: a store one replica began installing
/// is found installed by the replica that takes it over.
///
/// The schema is not part of the store database's migrations
/// (PostgresStoreDatabase+Migrations.swift): a database whose daemons drive a real
/// cluster never gets it. It is made by ``open(on:)``, with `IF NOT EXISTS`
/// statements in one transaction under the advisory lock ``schemaLockKey``, so
/// replicas starting together make it once. Text compares byte by byte
/// (`COLLATE "C"`), as in SQLite, so listings come in the same order.
public final class PostgresSimulatedClusterState: SimulatedClusterState {
    public var location: String { "schema simulated_cluster of \(database.location)" }
    private let database: PostgresStoreDatabase

    /// The advisory lock the schema is made under (the bytes of "SP-SIMCL").
    public static let schemaLockKey: Int64 = 0x5350_2D53_494D_434C

    private init(database: PostgresStoreDatabase) {
        self.database = database
    }

    /// The state on `database`, its schema made when missing.
    public static func open(on database: PostgresStoreDatabase) async throws -> PostgresSimulatedClusterState {
        let state = PostgresSimulatedClusterState(database: database)
        try await state.transaction { connection, logger in
            try await connection.run("SELECT pg_advisory_xact_lock(\(schemaLockKey))", logger: logger)
            for statement in schema {
                try await connection.run(PostgresQuery(unsafeSQL: statement), logger: logger)
            }
        }
        return state
    }

    /// The schema, each statement safe to run again. A later change is a statement
    /// added at the end, as safe to run again (`ADD COLUMN IF NOT EXISTS`, …).
    static let schema = [
        "CREATE SCHEMA IF NOT EXISTS simulated_cluster",
        """
        CREATE TABLE IF NOT EXISTS simulated_cluster.namespace (
            name TEXT COLLATE "C" PRIMARY KEY,
            store_id TEXT COLLATE "C" NOT NULL,
            created_at BIGINT NOT NULL
        )
        """,
        // Key names only: the simulator keeps no secret values.
        """
        CREATE TABLE IF NOT EXISTS simulated_cluster.secret (
            namespace TEXT COLLATE "C" NOT NULL,
            name TEXT COLLATE "C" NOT NULL,
            keys TEXT NOT NULL,
            PRIMARY KEY (namespace, name)
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS simulated_cluster.release (
            namespace TEXT COLLATE "C" NOT NULL,
            name TEXT COLLATE "C" NOT NULL,
            chart TEXT NOT NULL,
            installed_at BIGINT NOT NULL,
            ready_at BIGINT NOT NULL,
            fault TEXT,
            PRIMARY KEY (namespace, name)
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS simulated_cluster.attempt (
            namespace TEXT COLLATE "C" NOT NULL,
            release TEXT COLLATE "C" NOT NULL,
            kind TEXT NOT NULL,
            count BIGINT NOT NULL,
            PRIMARY KEY (namespace, release, kind)
        )
        """,
        // Each release's revisions (helm's history): install, upgrades, rollbacks.
        """
        CREATE TABLE IF NOT EXISTS simulated_cluster.revision (
            namespace TEXT COLLATE "C" NOT NULL,
            release TEXT COLLATE "C" NOT NULL,
            revision BIGINT NOT NULL,
            version TEXT NOT NULL,
            status TEXT NOT NULL,
            PRIMARY KEY (namespace, release, revision)
        )
        """,
    ]

    public func addNamespace(_ name: String, storeID: String, at now: Int64) async throws {
        try await statement { connection, logger in
            try await Self.addNamespace(connection, logger, name, storeID: storeID, at: now)
        }
    }

    public func namespaceExists(_ name: String) async throws -> Bool {
        try await statement { connection, logger in
            try await Self.namespaceExists(connection, logger, name, locking: .none)
        }
    }

    public func addSecret(namespace: String, name: String, keys: @escaping @Sendable () -> [String]) async throws -> SimulatedSecretOutcome {
        try await transaction { connection, logger in
            guard try await Self.namespaceExists(connection, logger, namespace, locking: .share) else { return .namespaceMissing }
            let existing = try await connection.run(
                "SELECT 1 FROM simulated_cluster.secret WHERE namespace = \(namespace) AND name = \(name)", logger: logger
            )
            guard existing.isEmpty else { return .existed }
            let added = try await connection.run(
                """
                INSERT INTO simulated_cluster.secret (namespace, name, keys)
                VALUES (\(namespace), \(name), \(keys().sorted().joined(separator: ",")))
                ON CONFLICT DO NOTHING RETURNING 1
                """,
                logger: logger
            )
            return added.isEmpty ? .existed : .added
        }
    }

    public func release(namespace: String, name: String) async throws -> SimulatedRelease? {
        try await statement { connection, logger in
            let rows = try await connection.run(
                """
                SELECT chart, installed_at, ready_at, fault FROM simulated_cluster.release
                WHERE namespace = \(namespace) AND name = \(name)
                """,
                logger: logger
            )
            return try rows.first.map { row in
                let (chart, installedAt, readyAt, fault) = try row.decode((String, Int64, Int64, String?).self)
                return SimulatedRelease(namespace: namespace, name: name, chart: chart, installedAt: installedAt, readyAt: readyAt, fault: fault)
            }
        }
    }

    public func install(
        _ release: SimulatedRelease, decide: @escaping @Sendable (Int) -> SimulatedInstallDecision
    ) async throws -> SimulatedInstallOutcome {
        try await transaction { connection, logger in
            // The namespace's row is locked until the commit: installs into it take
            // turns, so the check below holds, and a deletion waits.
            guard try await Self.namespaceExists(connection, logger, release.namespace, locking: .update) else { return .namespaceMissing }
            let exists = try await connection.run(
                "SELECT 1 FROM simulated_cluster.release WHERE namespace = \(release.namespace) AND name = \(release.name)",
                logger: logger
            )
            guard exists.isEmpty else { return .releaseExists }
            let attempt = try await Self.countAttempt(connection, logger, release.namespace, release.name, kind: "install")
            guard case .install(let fault) = decide(attempt) else { return .failed }
            try await connection.run(
                """
                INSERT INTO simulated_cluster.release (namespace, name, chart, installed_at, ready_at, fault)
                VALUES (\(release.namespace), \(release.name), \(release.chart), \(release.installedAt), \(release.readyAt), \(fault))
                """,
                logger: logger
            )
            try await Self.insertRevision(
                connection, logger, release.namespace, release.name, SimulatedRevision(revision: 1, version: release.version, status: "deployed")
            )
            return .installed(fault: fault)
        }
    }

    public func uninstall(namespace: String, release: String, fails: @escaping @Sendable (Int) -> Bool) async throws -> Bool {
        try await transaction { connection, logger in
            if fails(try await Self.countAttempt(connection, logger, namespace, release, kind: "uninstall")) { return true }
            try await connection.run(
                "DELETE FROM simulated_cluster.release WHERE namespace = \(namespace) AND name = \(release)", logger: logger
            )
            try await connection.run(
                "DELETE FROM simulated_cluster.revision WHERE namespace = \(namespace) AND release = \(release)", logger: logger
            )
            return false
        }
    }

    public func deleteNamespace(_ name: String, fails: @escaping @Sendable (Int) -> Bool) async throws -> Bool {
        try await transaction { connection, logger in
            if fails(try await Self.countAttempt(connection, logger, name, "", kind: "delete-namespace")) { return true }
            try await connection.run("DELETE FROM simulated_cluster.namespace WHERE name = \(name)", logger: logger)
            try await connection.run("DELETE FROM simulated_cluster.release WHERE namespace = \(name)", logger: logger)
            try await connection.run("DELETE FROM simulated_cluster.revision WHERE namespace = \(name)", logger: logger)
            try await connection.run("DELETE FROM simulated_cluster.secret WHERE namespace = \(name)", logger: logger)
            return false
        }
    }

    public func inventory() async throws -> (namespaces: [(name: String, storeID: String)], releases: [(namespace: String, name: String)]) {
        try await transaction { connection, logger in
            let namespaces = try await connection.run("SELECT name, store_id FROM simulated_cluster.namespace ORDER BY name", logger: logger)
                .map { try $0.decode((String, String).self) }
            let releases = try await connection.run(
                "SELECT namespace, name FROM simulated_cluster.release ORDER BY namespace, name", logger: logger
            ).map { try $0.decode((String, String).self) }
            return (namespaces.map { (name: $0.0, storeID: $0.1) }, releases.map { (namespace: $0.0, name: $0.1) })
        }
    }

    public func installCount(namespace: String, release: String) async throws -> Int {
        try await statement { connection, logger in
            let rows = try await connection.run(
                """
                SELECT count FROM simulated_cluster.attempt
                WHERE namespace = \(namespace) AND release = \(release) AND kind = 'install'
                """,
                logger: logger
            )
            return Int(try rows.first?.decode(Int64.self) ?? 0)
        }
    }

    public func seed(_ stores: [(namespace: String, storeID: String, release: String)], chart: String, at now: Int64) async throws {
        // Three arrays, unnested by the server: one statement per table, whatever the count.
        let namespaces = stores.map(\.namespace)
        let storeIDs = stores.map(\.storeID)
        let releases = stores.map(\.release)
        try await transaction { connection, logger in
            try await connection.run(
                """
                INSERT INTO simulated_cluster.namespace (name, store_id, created_at)
                SELECT name, store_id, \(now) FROM unnest(\(namespaces)::text[], \(storeIDs)::text[]) AS seeded(name, store_id)
                ON CONFLICT DO NOTHING
                """,
                logger: logger
            )
            try await connection.run(
                """
                INSERT INTO simulated_cluster.release (namespace, name, chart, installed_at, ready_at, fault)
                SELECT namespace, name, \(chart), \(now), \(now), NULL
                FROM unnest(\(namespaces)::text[], \(releases)::text[]) AS seeded(namespace, name)
                ON CONFLICT DO NOTHING
                """,
                logger: logger
            )
        }
    }

    public func removeRelease(namespace: String, name: String) async throws {
        try await transaction { connection, logger in
            try await connection.run("DELETE FROM simulated_cluster.release WHERE namespace = \(namespace) AND name = \(name)", logger: logger)
            try await connection.run("DELETE FROM simulated_cluster.revision WHERE namespace = \(namespace) AND release = \(name)", logger: logger)
        }
    }

    public func changeRelease(
        namespace: String, name: String, change: SimulatedReleaseChange, at now: Int64, readyAt: Int64,
        decide: @escaping @Sendable (Int) -> SimulatedUpgradeDecision
    ) async throws -> SimulatedChangeOutcome {
        try await transaction { connection, logger in
            // The release's row is locked until the commit: changes to it take turns.
            let locked = try await connection.run(
                "SELECT 1 FROM simulated_cluster.release WHERE namespace = \(namespace) AND name = \(name) FOR UPDATE", logger: logger
            )
            guard !locked.isEmpty else { return .releaseMissing }
            let history = try await Self.revisions(connection, logger, namespace, name)
            guard let last = history.last else { return .releaseMissing }
            if history.count == 1, last.version.isEmpty {
                // Installed before revisions were kept: its revision 1 is written now.
                try await Self.insertRevision(connection, logger, namespace, name, last)
            }
            let version: String
            let decision: SimulatedUpgradeDecision
            switch change {
            case .upgrade(let target):
                version = target
                decision = decide(try await Self.countAttempt(connection, logger, namespace, name, kind: "upgrade"))
            case .rollback(let revision):
                guard let target = history.first(where: { $0.revision == revision }) else { return .revisionMissing }
                version = target.version
                decision = .deploy(fault: nil)
            }
            let next = last.revision + 1
            guard case .deploy(let fault) = decision else {
                try await Self.insertRevision(connection, logger, namespace, name, SimulatedRevision(revision: next, version: version, status: "failed"))
                return decision == .commandFails ? .commandFailed(revision: next) : .hookFailed(revision: next)
            }
            try await connection.run(
                """
                UPDATE simulated_cluster.revision SET status = 'superseded'
                WHERE namespace = \(namespace) AND release = \(name) AND status = 'deployed'
                """,
                logger: logger
            )
            try await Self.insertRevision(connection, logger, namespace, name, SimulatedRevision(revision: next, version: version, status: "deployed"))
            try await connection.run(
                """
                UPDATE simulated_cluster.release SET installed_at = \(now), ready_at = \(readyAt), fault = \(fault)
                WHERE namespace = \(namespace) AND name = \(name)
                """,
                logger: logger
            )
            return .deployed(revision: next)
        }
    }

    public func revisions(namespace: String, name: String) async throws -> [SimulatedRevision] {
        try await transaction { connection, logger in try await Self.revisions(connection, logger, namespace, name) }
    }

    private static func revisions(_ connection: PostgresConnection, _ logger: Logger, _ namespace: String, _ name: String) async throws -> [SimulatedRevision] {
        let exists = try await connection.run(
            "SELECT 1 FROM simulated_cluster.release WHERE namespace = \(namespace) AND name = \(name)", logger: logger
        )
        guard !exists.isEmpty else { return [] }
        let rows = try await connection.run(
            """
            SELECT revision, version, status FROM simulated_cluster.revision
            WHERE namespace = \(namespace) AND release = \(name) ORDER BY revision
            """,
            logger: logger
        ).map { row in
            let (revision, version, status) = try row.decode((Int64, String, String).self)
            return SimulatedRevision(revision: Int(revision), version: version, status: status)
        }
        return rows.isEmpty ? [SimulatedRevision(revision: 1, version: "", status: "deployed")] : rows
    }

    private static func insertRevision(
        _ connection: PostgresConnection, _ logger: Logger, _ namespace: String, _ name: String, _ revision: SimulatedRevision
    ) async throws {
        try await connection.run(
            """
            INSERT INTO simulated_cluster.revision (namespace, release, revision, version, status)
            VALUES (\(namespace), \(name), \(Int64(revision.revision)), \(revision.version), \(revision.status))
            ON CONFLICT (namespace, release, revision) DO UPDATE SET version = EXCLUDED.version, status = EXCLUDED.status
            """,
            logger: logger
        )
    }

    // MARK: Statements

    /// Runs `body` (one statement) on a connection of the store database's pool.
    private func statement<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection, Logger) async throws -> T) async throws -> T {
        let logger = database.logger
        return try await database.withConnection { connection in try await body(connection, logger) }
    }

    /// Runs `body` in one transaction on a connection of the store database's pool.
    private func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection, Logger) async throws -> T) async throws -> T {
        let logger = database.logger
        return try await database.withConnection { connection in
            try await PostgresStoreDatabase.inTransaction(connection, logger: logger) { connection in
                try await body(connection, logger)
            }
        }
    }

    private static func addNamespace(_ connection: PostgresConnection, _ logger: Logger, _ name: String, storeID: String, at now: Int64) async throws {
        try await connection.run(
            """
            INSERT INTO simulated_cluster.namespace (name, store_id, created_at) VALUES (\(name), \(storeID), \(now))
            ON CONFLICT DO NOTHING
            """,
            logger: logger
        )
    }

    /// How a read of a namespace's row locks it until the transaction ends.
    private enum RowLock {
        case none
        /// Against a deletion.
        case share
        /// Against a deletion and another transaction that locks it.
        case update
    }

    /// Whether the namespace exists, its row locked as `locking` says.
    private static func namespaceExists(_ connection: PostgresConnection, _ logger: Logger, _ name: String, locking: RowLock) async throws -> Bool {
        let rows: [PostgresRow]
        switch locking {
        case .none: rows = try await connection.run("SELECT 1 FROM simulated_cluster.namespace WHERE name = \(name)", logger: logger)
        case .share: rows = try await connection.run("SELECT 1 FROM simulated_cluster.namespace WHERE name = \(name) FOR SHARE", logger: logger)
        case .update: rows = try await connection.run("SELECT 1 FROM simulated_cluster.namespace WHERE name = \(name) FOR UPDATE", logger: logger)
        }
        return !rows.isEmpty
    }

    /// Counts one more attempt of `kind` and returns its number (from 1).
    private static func countAttempt(
        _ connection: PostgresConnection, _ logger: Logger, _ namespace: String, _ release: String, kind: String
    ) async throws -> Int {
        let rows = try await connection.run(
            """
            INSERT INTO simulated_cluster.attempt (namespace, release, kind, count) VALUES (\(namespace), \(release), \(kind), 1)
            ON CONFLICT (namespace, release, kind) DO UPDATE SET count = simulated_cluster.attempt.count + 1
            RETURNING count
            """,
            logger: logger
        )
        return Int(try rows.first?.decode(Int64.self) ?? 1)
    }
}

/// The simulated cluster's state on the store database's backend: in the schema
/// `simulated_cluster` of a PostgreSQL store database, which replicas share; else
/// in the SQLite file at `sqlitePath`.
public func simulatedClusterState(beside database: any StoreDatabase, sqlitePath: String) async throws -> any SimulatedClusterState {
    guard let postgres = database as? PostgresStoreDatabase else {
        return try SQLiteSimulatedClusterState(path: sqlitePath)
    }
    return try await PostgresSimulatedClusterState.open(on: postgres)
}
