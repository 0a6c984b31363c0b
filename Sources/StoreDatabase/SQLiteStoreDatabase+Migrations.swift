import GRDB

extension SQLiteStoreDatabase {
    /// The schema's history. Migrations are append-only: once shipped, a migration is
    /// never edited or removed; a change is a new migration registered after the last.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in try createStoresAndAudit(db) }
        migrator.registerMigration("v2-store-owner") { db in try addStoreOwner(db) }
        migrator.registerMigration("v3-leases") { db in try createLeases(db) }
        migrator.registerMigration("v4-limits") { db in try createLimits(db) }
        migrator.registerMigration("v5-rate-buckets") { db in try createRateBuckets(db) }
        migrator.registerMigration("v6-reconcile-requests") { db in try createReconcileRequests(db) }
        migrator.registerMigration("v7-store-versions") { db in try addStoreVersions(db) }
        migrator.registerMigration("v8-fleet-upgrades") { db in try createFleetUpgrades(db) }
        migrator.registerMigration("v9-fleet-audit") { db in try addFleetStepsToAudit(db) }
        return migrator
    }

    /// The migrations already applied to this database, in order.
    func appliedMigrations() async throws -> [String] {
        try await read { try Self.migrator.appliedMigrations($0) }
    }

    /// v1: the `store` and `audit` tables. Dates are INTEGER milliseconds since 1970
    /// (UTC), so ordering and keyset paging compare exact values.
    private static func createStoresAndAudit(_ db: Database) throws {
        try db.create(table: StoreRecord.databaseTableName) { table in
            table.primaryKey("id", .text)
            table.column("name", .text).notNull()
            table.column("engine", .text).notNull()
            table.column("status", .text).notNull()
            table.column("url", .text).notNull()
            table.column("namespace", .text).notNull()
            table.column("release", .text).notNull()
            table.column("errorMessage", .text).notNull()
            table.column("attempts", .integer).notNull()
            table.column("createdAt", .integer).notNull()
            table.column("updatedAt", .integer).notNull()
            table.column("readyAt", .integer)
            table.column("deletedAt", .integer)
            table.column("provisioningDurationMilliseconds", .integer)
            table.column("provisioningStartedAt", .integer)
            table.column("requestedBy", .text).notNull()
            table.column("idempotencyKey", .text)
        }
        try db.create(index: "store_on_status", on: "store", columns: ["status"])
        try db.create(index: "store_on_createdAt_id", on: "store", columns: ["createdAt", "id"])
        // The backstop for name uniqueness among live stores; createStore checks first
        // so it can say which store holds the name.
        try db.execute(sql: """
            CREATE UNIQUE INDEX store_live_name ON store(name) WHERE status != 'deleted'
            """)
        try db.execute(sql: """
            CREATE UNIQUE INDEX store_idempotency ON store(requestedBy, idempotencyKey)
            WHERE idempotencyKey IS NOT NULL
            """)

        // No foreign key to `store`: the audit log is history and must outlive any
        // future purge of store rows.
        try db.create(table: AuditRecord.databaseTableName) { table in
            table.autoIncrementedPrimaryKey("id")
            table.column("time", .integer).notNull()
            table.column("actor", .text).notNull()
            table.column("action", .text).notNull()
            table.column("storeId", .text).notNull()
            table.column("storeName", .text).notNull()
            table.column("fromStatus", .text)
            table.column("toStatus", .text).notNull()
            table.column("message", .text).notNull()
            table.column("requestId", .text)
        }
        try db.create(index: "audit_on_storeId_id", on: "audit", columns: ["storeId", "id"])
        try db.create(index: "audit_on_toStatus_id", on: "audit", columns: ["toStatus", "id"])
    }

    /// v2: `store.owner`, the identity of the caller that created the store, which
    /// access checks compare with the caller's. Rows from before get an empty owner
    /// (unknown), not their `requestedBy`: that column was written before identities
    /// were stable (a token was its line number in the token file, and a TCP caller
    /// its address), so trusting it could hand a store to whoever now has that name.
    private static func addStoreOwner(_ db: Database) throws {
        try db.alter(table: StoreRecord.databaseTableName) { table in
            table.add(column: "owner", .text).notNull().defaults(to: "")
        }
    }

    /// v4: the `limit_setting` table: the runtime limits UpdateLimits stored, by name.
    private static func createLimits(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE limit_setting (
                name TEXT PRIMARY KEY NOT NULL,
                value INTEGER NOT NULL,
                updatedAt INTEGER NOT NULL
            )
            """)
    }

    /// v6: the `reconcile_request` table: "reconcile now" asked of a replica that does
    /// not lead the reconciler, answered by the leader's pass (times in milliseconds
    /// since 1970; the report as JSON).
    private static func createReconcileRequests(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE reconcile_request (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                requestedBy TEXT NOT NULL,
                requestedAt INTEGER NOT NULL,
                answeredBy TEXT,
                answeredAt INTEGER,
                report TEXT
            )
            """)
    }

    /// v5: the `rate_bucket` table (RateLimiter.swift's buckets, shared): one row per
    /// caller seen in the last minute, tokens left and when they were counted
    /// (seconds since 1970). A row untouched for a minute is full, as good as none.
    private static func createRateBuckets(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE rate_bucket (
                identity TEXT PRIMARY KEY NOT NULL,
                requestTokens REAL NOT NULL,
                createTokens REAL NOT NULL,
                refilledAt REAL NOT NULL
            )
            """)
    }

    /// v3: the `lease` table (Lease.swift): one row per claimed store operation or
    /// leadership, times in milliseconds since 1970.
    private static func createLeases(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE lease (
                name TEXT PRIMARY KEY NOT NULL,
                owner TEXT NOT NULL,
                kind TEXT NOT NULL,
                acquiredAt INTEGER NOT NULL,
                expiresAt INTEGER NOT NULL
            )
            """)
    }

    /// v7: the engine version each store runs and its release's revision, and the
    /// history of its releases (`store_revision`, StoreRevision.swift). Rows from
    /// before ran the chart's image of the time, the version 6.9-wc10.3; a ready one
    /// is on revision 1.
    private static func addStoreVersions(_ db: Database) throws {
        try db.alter(table: StoreRecord.databaseTableName) { table in
            table.add(column: "version", .text).notNull().defaults(to: "")
            table.add(column: "revision", .integer).notNull().defaults(to: 0)
        }
        try db.execute(sql: """
            UPDATE store SET version = '6.9-wc10.3', revision = CASE WHEN status = 'ready' THEN 1 ELSE 0 END
            """)
        try db.execute(sql: """
            CREATE TABLE store_revision (
                storeId TEXT NOT NULL,
                revision INTEGER NOT NULL,
                version TEXT NOT NULL,
                status TEXT NOT NULL,
                actor TEXT NOT NULL,
                time INTEGER NOT NULL,
                message TEXT NOT NULL,
                rollbackTo INTEGER,
                PRIMARY KEY (storeId, revision)
            )
            """)
    }

    /// v8: the `fleet_upgrade` table (FleetUpgrade.swift): one row per fleet upgrade,
    /// the whole of it as one JSON document, replaced only by a writer that read
    /// the row's `generation` it replaces. `active` is 1 while it is active and NULL
    /// once ended; its unique index lets one fleet upgrade at a time be active.
    private static func createFleetUpgrades(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE fleet_upgrade (
                id TEXT PRIMARY KEY NOT NULL,
                active INTEGER UNIQUE,
                generation INTEGER NOT NULL,
                createdAt INTEGER NOT NULL,
                document TEXT NOT NULL
            )
            """)
        try db.execute(sql: "CREATE INDEX fleet_upgrade_on_createdAt ON fleet_upgrade (createdAt, id)")
    }

    /// v9: a fleet upgrade's steps are audit rows: `audit.fleetUpgradeId` names the
    /// fleet upgrade of such a row, which has no status (`toStatus` NULL). SQLite
    /// cannot drop a column's NOT NULL, so the table is made again with every row,
    /// and its AUTOINCREMENT counter, as it was: ids are never reused.
    private static func addFleetStepsToAudit(_ db: Database) throws {
        let counter = try Int64.fetchOne(db, sql: "SELECT seq FROM sqlite_sequence WHERE name = 'audit'")
        try db.execute(sql: """
            CREATE TABLE audit_v9 (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                time INTEGER NOT NULL,
                actor TEXT NOT NULL,
                action TEXT NOT NULL,
                storeId TEXT NOT NULL,
                storeName TEXT NOT NULL,
                fromStatus TEXT,
                toStatus TEXT,
                message TEXT NOT NULL,
                requestId TEXT,
                fleetUpgradeId TEXT
            );
            INSERT INTO audit_v9 (id, time, actor, action, storeId, storeName, fromStatus, toStatus, message, requestId)
                SELECT id, time, actor, action, storeId, storeName, fromStatus, toStatus, message, requestId FROM audit;
            DROP TABLE audit;
            ALTER TABLE audit_v9 RENAME TO audit;
            CREATE INDEX audit_on_storeId_id ON audit (storeId, id);
            CREATE INDEX audit_on_toStatus_id ON audit (toStatus, id);
            CREATE INDEX audit_on_fleetUpgradeId_id ON audit (fleetUpgradeId, id) WHERE fleetUpgradeId IS NOT NULL;
            """)
        if let counter {
            try db.execute(sql: "UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'audit'", arguments: [counter])
        }
    }
}
