import GRDB

/// The simulated cluster's state in its own SQLite file (the data directory's
/// `simulated-cluster.sqlite`), so it survives a daemon restart; replicas that
/// share a data directory share it too.
public final class SQLiteSimulatedClusterState: SimulatedClusterState {
    public let location: String
    private let database: DatabaseQueue

    /// Opens (or creates) the state at `path`.
    public init(path: String) throws {
        location = path
        var sqlite = Configuration()
        // Tests and operators may read the state while the daemon writes it: in WAL
        // mode a reader never waits for a writer (a daemon provisioning many stores
        // writes it all the time); writers take turns within the busy timeout.
        sqlite.journalMode = .wal
        sqlite.busyMode = .timeout(10)
        do {
            database = try DatabaseQueue(path: path, configuration: sqlite)
        } catch {
            throw SQLiteOpenFailure(path: path, underlying: error)
        }
        do {
            try Self.migrator.migrate(database)
        } catch {
            // Replicas sharing one data directory, started together, race to create
            // the tables: the migrator decides what to run before its transaction,
            // so the loser finds them made. Once more, it finds the migration done.
            try Self.migrator.migrate(database)
        }
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "namespace") { table in
                table.primaryKey("name", .text)
                table.column("storeId", .text).notNull()
                table.column("createdAtMs", .integer).notNull()
            }
            try db.create(table: "secret") { table in
                table.column("namespace", .text).notNull()
                table.column("name", .text).notNull()
                // Key names only: the simulator keeps no secret values.
                table.column("keys", .text).notNull()
                table.primaryKey(["namespace", "name"])
            }
            try db.create(table: "release") { table in
                table.column("namespace", .text).notNull()
                table.column("name", .text).notNull()
                table.column("chart", .text).notNull()
                table.column("installedAtMs", .integer).notNull()
                table.column("readyAtMs", .integer).notNull()
                table.column("fault", .text)
                table.primaryKey(["namespace", "name"])
            }
            try db.create(table: "attempt") { table in
                table.column("namespace", .text).notNull()
                table.column("release", .text).notNull()
                table.column("kind", .text).notNull()
                table.column("count", .integer).notNull()
                table.primaryKey(["namespace", "release", "kind"])
            }
        }
        // Each release's revisions (helm's history): install, upgrades, rollbacks.
        migrator.registerMigration("v2-revisions") { db in
            try db.create(table: "revision") { table in
                table.column("namespace", .text).notNull()
                table.column("release", .text).notNull()
                table.column("revision", .integer).notNull()
                table.column("version", .text).notNull()
                table.column("status", .text).notNull()
                table.primaryKey(["namespace", "release", "revision"])
            }
        }
        return migrator
    }

    public func addNamespace(_ name: String, storeID: String, at now: Int64) async throws {
        try await database.write { db in
            try Self.addNamespace(db, name, storeID: storeID, at: now)
        }
    }

    public func namespaceExists(_ name: String) async throws -> Bool {
        try await database.read { db in try Self.namespaceExists(db, name) }
    }

    public func addSecret(namespace: String, name: String, keys: @escaping @Sendable () -> [String]) async throws -> SimulatedSecretOutcome {
        try await database.write { db in
            guard try Self.namespaceExists(db, namespace) else { return .namespaceMissing }
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM secret WHERE namespace = ? AND name = ?", arguments: [namespace, name]) == true {
                return .existed
            }
            try db.execute(
                sql: "INSERT INTO secret (namespace, name, keys) VALUES (?, ?, ?)",
                arguments: [namespace, name, keys().sorted().joined(separator: ",")]
            )
            return .added
        }
    }

    public func release(namespace: String, name: String) async throws -> SimulatedRelease? {
        // The closure returns a Sendable value (not a Row), so this is GRDB's async
        // read, on the database's queue: with a Row it would be the synchronous overload.
        try await database.read { db -> SimulatedRelease? in
            try Row.fetchOne(
                db, sql: "SELECT chart, installedAtMs, readyAtMs, fault FROM release WHERE namespace = ? AND name = ?",
                arguments: [namespace, name]
            ).map {
                SimulatedRelease(
                    namespace: namespace, name: name, chart: $0["chart"], installedAt: $0["installedAtMs"], readyAt: $0["readyAtMs"],
                    fault: $0["fault"]
                )
            }
        }
    }

    public func install(
        _ release: SimulatedRelease, decide: @escaping @Sendable (Int) -> SimulatedInstallDecision
    ) async throws -> SimulatedInstallOutcome {
        try await database.write { db in
            guard try Self.namespaceExists(db, release.namespace) else { return .namespaceMissing }
            let exists = try Bool.fetchOne(
                db, sql: "SELECT 1 FROM release WHERE namespace = ? AND name = ?", arguments: [release.namespace, release.name]
            )
            if exists == true { return .releaseExists }
            guard case .install(let fault) = decide(try Self.countAttempt(db, release.namespace, release.name, kind: "install")) else {
                return .failed
            }
            try Self.insertRelease(db, release, fault: fault)
            try Self.insertRevision(db, release.namespace, release.name, SimulatedRevision(revision: 1, version: release.version, status: "deployed"))
            return .installed(fault: fault)
        }
    }

    public func uninstall(namespace: String, release: String, fails: @escaping @Sendable (Int) -> Bool) async throws -> Bool {
        try await database.write { db in
            if fails(try Self.countAttempt(db, namespace, release, kind: "uninstall")) { return true }
            try db.execute(sql: "DELETE FROM release WHERE namespace = ? AND name = ?", arguments: [namespace, release])
            try db.execute(sql: "DELETE FROM revision WHERE namespace = ? AND release = ?", arguments: [namespace, release])
            return false
        }
    }

    public func deleteNamespace(_ name: String, fails: @escaping @Sendable (Int) -> Bool) async throws -> Bool {
        try await database.write { db in
            if fails(try Self.countAttempt(db, name, "", kind: "delete-namespace")) { return true }
            try db.execute(sql: "DELETE FROM release WHERE namespace = ?", arguments: [name])
            try db.execute(sql: "DELETE FROM revision WHERE namespace = ?", arguments: [name])
            try db.execute(sql: "DELETE FROM secret WHERE namespace = ?", arguments: [name])
            try db.execute(sql: "DELETE FROM namespace WHERE name = ?", arguments: [name])
            return false
        }
    }

    public func inventory() async throws -> (namespaces: [(name: String, storeID: String)], releases: [(namespace: String, name: String)]) {
        try await database.read { db in
            let namespaces = try Row.fetchAll(db, sql: "SELECT name, storeId FROM namespace ORDER BY name")
                .map { (name: $0["name"] as String, storeID: $0["storeId"] as String) }
            let releases = try Row.fetchAll(db, sql: "SELECT namespace, name FROM release ORDER BY namespace, name")
                .map { (namespace: $0["namespace"] as String, name: $0["name"] as String) }
            return (namespaces, releases)
        }
    }

    public func installCount(namespace: String, release: String) async throws -> Int {
        try await database.read { db in
            try Int.fetchOne(
                db, sql: "SELECT count FROM attempt WHERE namespace = ? AND release = ? AND kind = 'install'",
                arguments: [namespace, release]
            ) ?? 0
        }
    }

    public func seed(_ stores: [(namespace: String, storeID: String, release: String)], chart: String, at now: Int64) async throws {
        try await database.write { db in
            for store in stores {
                try Self.addNamespace(db, store.namespace, storeID: store.storeID, at: now)
                try db.execute(
                    sql: """
                        INSERT OR IGNORE INTO release (namespace, name, chart, installedAtMs, readyAtMs, fault)
                        VALUES (?, ?, ?, ?, ?, NULL)
                        """,
                    arguments: [store.namespace, store.release, chart, now, now]
                )
            }
        }
    }

    public func removeRelease(namespace: String, name: String) async throws {
        try await database.write { db in
            try db.execute(sql: "DELETE FROM release WHERE namespace = ? AND name = ?", arguments: [namespace, name])
            try db.execute(sql: "DELETE FROM revision WHERE namespace = ? AND release = ?", arguments: [namespace, name])
        }
    }

    public func changeRelease(
        namespace: String, name: String, change: SimulatedReleaseChange, at now: Int64, readyAt: Int64,
        decide: @escaping @Sendable (Int) -> SimulatedUpgradeDecision
    ) async throws -> SimulatedChangeOutcome {
        try await database.write { db in
            let history = try Self.revisions(db, namespace, name)
            guard let last = history.last else { return .releaseMissing }
            if history.count == 1, last.version.isEmpty {
                // Installed before revisions were kept: its revision 1 is written now.
                try Self.insertRevision(db, namespace, name, last)
            }
            let version: String
            let decision: SimulatedUpgradeDecision
            switch change {
            case .upgrade(let target):
                version = target
                decision = decide(try Self.countAttempt(db, namespace, name, kind: "upgrade"))
            case .rollback(let revision):
                guard let target = history.first(where: { $0.revision == revision }) else { return .revisionMissing }
                version = target.version
                decision = .deploy(fault: nil)
            }
            let next = last.revision + 1
            guard case .deploy(let fault) = decision else {
                try Self.insertRevision(db, namespace, name, SimulatedRevision(revision: next, version: version, status: "failed"))
                return decision == .commandFails ? .commandFailed(revision: next) : .hookFailed(revision: next)
            }
            try db.execute(
                sql: "UPDATE revision SET status = 'superseded' WHERE namespace = ? AND release = ? AND status = 'deployed'",
                arguments: [namespace, name]
            )
            try Self.insertRevision(db, namespace, name, SimulatedRevision(revision: next, version: version, status: "deployed"))
            try db.execute(
                sql: "UPDATE release SET installedAtMs = ?, readyAtMs = ?, fault = ? WHERE namespace = ? AND name = ?",
                arguments: [now, readyAt, fault, namespace, name]
            )
            return .deployed(revision: next)
        }
    }

    public func revisions(namespace: String, name: String) async throws -> [SimulatedRevision] {
        try await database.read { db in try Self.revisions(db, namespace, name) }
    }

    private static func revisions(_ db: Database, _ namespace: String, _ name: String) throws -> [SimulatedRevision] {
        guard try Bool.fetchOne(db, sql: "SELECT 1 FROM release WHERE namespace = ? AND name = ?", arguments: [namespace, name]) == true else {
            return []
        }
        let rows = try Row.fetchAll(
            db, sql: "SELECT revision, version, status FROM revision WHERE namespace = ? AND release = ? ORDER BY revision",
            arguments: [namespace, name]
        ).map { SimulatedRevision(revision: $0["revision"], version: $0["version"], status: $0["status"]) }
        return rows.isEmpty ? [SimulatedRevision(revision: 1, version: "", status: "deployed")] : rows
    }

    private static func insertRevision(_ db: Database, _ namespace: String, _ name: String, _ revision: SimulatedRevision) throws {
        try db.execute(
            sql: "INSERT OR REPLACE INTO revision (namespace, release, revision, version, status) VALUES (?, ?, ?, ?, ?)",
            arguments: [namespace, name, revision.revision, revision.version, revision.status]
        )
    }

    // MARK: Statements

    private static func addNamespace(_ db: Database, _ name: String, storeID: String, at now: Int64) throws {
        try db.execute(
            sql: "INSERT OR IGNORE INTO namespace (name, storeId, createdAtMs) VALUES (?, ?, ?)", arguments: [name, storeID, now]
        )
    }

    private static func namespaceExists(_ db: Database, _ name: String) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT 1 FROM namespace WHERE name = ?", arguments: [name]) == true
    }

    private static func insertRelease(_ db: Database, _ release: SimulatedRelease, fault: String?) throws {
        try db.execute(
            sql: "INSERT INTO release (namespace, name, chart, installedAtMs, readyAtMs, fault) VALUES (?, ?, ?, ?, ?, ?)",
            arguments: [release.namespace, release.name, release.chart, release.installedAt, release.readyAt, fault]
        )
    }

    /// Counts one more attempt of `kind` and returns its number (from 1).
    private static func countAttempt(_ db: Database, _ namespace: String, _ release: String, kind: String) throws -> Int {
        try Int.fetchOne(
            db,
            sql: """
                INSERT INTO attempt (namespace, release, kind, count) VALUES (?, ?, ?, 1)
                ON CONFLICT(namespace, release, kind) DO UPDATE SET count = count + 1
                RETURNING count
                """,
            arguments: [namespace, release, kind]
        ) ?? 1
    }
}
