import Foundation
import Logging
import PostgresNIO
import StoreCore
import StoreDatabase

/// One step of the schema's history: its id, and the statements it runs in order.
package struct PostgresMigration: Sendable {
    package var id: String
    package var statements: [String]
}

extension PostgresStoreDatabase {
    /// The schema's history, the same steps (and ids) as SQLite's (see
    /// SQLiteStoreDatabase+Migrations.swift). Migrations are append-only: once
    /// shipped, a migration is never edited or removed; a change is a new migration
    /// added after the last. The schema's version is the number of migrations applied.
    package static let migrations: [PostgresMigration] = [
        // v1: the `store` and `audit` tables. Dates are BIGINT milliseconds since 1970
        // (UTC), so ordering and keyset paging compare exact values. Ids, names and
        // idempotency keys compare byte by byte (COLLATE "C"), as in SQLite, whatever
        // the database's locale.
        PostgresMigration(id: "v1", statements: [
            """
            CREATE TABLE store (
                id TEXT COLLATE "C" PRIMARY KEY,
                name TEXT COLLATE "C" NOT NULL,
                engine TEXT NOT NULL,
                status TEXT NOT NULL,
                url TEXT NOT NULL,
                namespace TEXT NOT NULL,
                release TEXT NOT NULL,
                error_message TEXT NOT NULL,
                attempts BIGINT NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                ready_at BIGINT,
                deleted_at BIGINT,
                provisioning_duration_ms BIGINT,
                provisioning_started_at BIGINT,
                requested_by TEXT COLLATE "C" NOT NULL,
                idempotency_key TEXT COLLATE "C"
            )
            """,
            "CREATE INDEX store_on_status ON store (status)",
            "CREATE INDEX store_on_created_at_id ON store (created_at, id)",
            // The backstop for name uniqueness among live stores; createStore checks
            // first so it can say which store holds the name. It also answers the
            // quota's count of live stores.
            "CREATE UNIQUE INDEX store_live_name ON store (name) WHERE status <> 'deleted'",
            """
            CREATE UNIQUE INDEX store_idempotency ON store (requested_by, idempotency_key)
            WHERE idempotency_key IS NOT NULL
            """,
            // No foreign key to `store`: the audit log is history and must outlive any
            // future purge of store rows.
            """
            CREATE TABLE audit (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                time BIGINT NOT NULL,
                actor TEXT NOT NULL,
                action TEXT NOT NULL,
                store_id TEXT COLLATE "C" NOT NULL,
                store_name TEXT NOT NULL,
                from_status TEXT,
                to_status TEXT NOT NULL,
                message TEXT NOT NULL,
                request_id TEXT
            )
            """,
            "CREATE INDEX audit_on_store_id_id ON audit (store_id, id)",
            "CREATE INDEX audit_on_to_status_id ON audit (to_status, id)",
        ]),
        // v2: `store.owner`, the identity of the caller that created the store. Rows
        // from before get an empty owner (unknown), as in SQLite's v2.
        PostgresMigration(id: "v2-store-owner", statements: [
            "ALTER TABLE store ADD COLUMN owner TEXT NOT NULL DEFAULT ''",
        ]),
        // v3: the `lease` table (Sources/StoreDatabase/Lease.swift): one row per
        // claimed store operation or leadership, times in milliseconds since 1970 by
        // the server's clock.
        PostgresMigration(id: "v3-leases", statements: [
            """
            CREATE TABLE lease (
                name TEXT COLLATE "C" PRIMARY KEY,
                owner TEXT NOT NULL,
                kind TEXT NOT NULL,
                acquired_at BIGINT NOT NULL,
                expires_at BIGINT NOT NULL
            )
            """,
        ]),
        // v4: the runtime limits UpdateLimits stored, by name.
        PostgresMigration(id: "v4-limits", statements: [
            """
            CREATE TABLE limit_setting (
                name TEXT COLLATE "C" PRIMARY KEY,
                value BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """,
        ]),
        // v5: the rate buckets every replica shares (SharedRateBuckets.swift): one row
        // per caller seen in the last minute, tokens left and when they were counted
        // (seconds since 1970, the server's clock). `take_rate_tokens` refills and
        // takes in one round trip, the row locked; its steps are those of
        // SharedRateTake.taking (RateLimiter.swift). Unlimited is a NULL rate.
        // UNLOGGED: a take writes no WAL and its commit waits for no disk flush; a
        // server crash empties the table, which gives every caller full buckets, as
        // a minute's quiet would.
        PostgresMigration(id: "v5-rate-buckets", statements: [
            """
            CREATE UNLOGGED TABLE rate_bucket (
                identity TEXT COLLATE "C" PRIMARY KEY,
                request_tokens DOUBLE PRECISION NOT NULL,
                create_tokens DOUBLE PRECISION NOT NULL,
                refilled_at DOUBLE PRECISION NOT NULL
            )
            """,
            """
            CREATE FUNCTION take_rate_tokens(
                caller TEXT, requests_per_minute DOUBLE PRECISION, creates_per_minute DOUBLE PRECISION, for_create BOOLEAN,
                OUT admitted BOOLEAN, OUT requests_left DOUBLE PRECISION, OUT creates_left DOUBLE PRECISION
            ) LANGUAGE plpgsql AS $$
            DECLARE
                counted_at DOUBLE PRECISION;
                elapsed DOUBLE PRECISION;
            BEGIN
                INSERT INTO rate_bucket (identity, request_tokens, create_tokens, refilled_at)
                VALUES (caller, 'Infinity', 'Infinity', extract(epoch FROM clock_timestamp()))
                ON CONFLICT (identity) DO NOTHING;
                SELECT bucket.request_tokens, bucket.create_tokens, bucket.refilled_at
                INTO requests_left, creates_left, counted_at
                FROM rate_bucket AS bucket WHERE bucket.identity = caller FOR UPDATE;
                elapsed := greatest(0, extract(epoch FROM clock_timestamp()) - counted_at);
                requests_left := CASE WHEN requests_per_minute IS NULL THEN 'Infinity'
                    ELSE least(requests_per_minute, requests_left + elapsed * requests_per_minute / 60) END;
                creates_left := CASE WHEN creates_per_minute IS NULL THEN 'Infinity'
                    ELSE least(creates_per_minute, creates_left + elapsed * creates_per_minute / 60) END;
                admitted := requests_left >= 1 - 1e-9 AND (NOT for_create OR creates_left >= 1 - 1e-9);
                IF admitted THEN
                    requests_left := greatest(0, requests_left - 1);
                    IF for_create THEN creates_left := greatest(0, creates_left - 1); END IF;
                END IF;
                UPDATE rate_bucket AS bucket
                SET request_tokens = requests_left, create_tokens = creates_left, refilled_at = counted_at + elapsed
                WHERE bucket.identity = caller;
            END
            $$
            """,
        ]),
        // v6: "reconcile now" asked of a replica that does not lead the reconciler,
        // answered by the leader's pass (times in milliseconds since 1970 by the
        // server's clock; the report as JSON).
        PostgresMigration(id: "v6-reconcile-requests", statements: [
            """
            CREATE TABLE reconcile_request (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                requested_by TEXT NOT NULL,
                requested_at BIGINT NOT NULL,
                answered_by TEXT,
                answered_at BIGINT,
                report TEXT
            )
            """,
        ]),
        // v7: the engine version each store runs and its release's revision, and the
        // history of its releases (`store_revision`, Sources/StoreDatabase/StoreRevision.swift),
        // as in SQLite's v7. Rows from before ran the chart's image of the time, the
        // version 6.9-wc10.3; a ready one is on revision 1.
        PostgresMigration(id: "v7-store-versions", statements: [
            "ALTER TABLE store ADD COLUMN version TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE store ADD COLUMN revision BIGINT NOT NULL DEFAULT 0",
            "UPDATE store SET version = '6.9-wc10.3', revision = CASE WHEN status = 'ready' THEN 1 ELSE 0 END",
            """
            CREATE TABLE store_revision (
                store_id TEXT COLLATE "C" NOT NULL,
                revision BIGINT NOT NULL,
                version TEXT NOT NULL,
                status TEXT NOT NULL,
                actor TEXT NOT NULL,
                time BIGINT NOT NULL,
                message TEXT NOT NULL,
                rollback_to BIGINT,
                PRIMARY KEY (store_id, revision)
            )
            """,
        ]),
        // v8: the `fleet_upgrade` table, as in SQLite's v8: each fleet upgrade as one
        // JSON document, replaced by generation; `active` (1, or NULL once ended) is
        // unique, so one fleet upgrade at a time is active.
        PostgresMigration(id: "v8-fleet-upgrades", statements: [
            """
            CREATE TABLE fleet_upgrade (
                id TEXT COLLATE "C" PRIMARY KEY,
                active INTEGER UNIQUE,
                generation BIGINT NOT NULL,
                created_at BIGINT NOT NULL,
                document TEXT NOT NULL
            )
            """,
            "CREATE INDEX fleet_upgrade_on_created_at ON fleet_upgrade (created_at, id)",
        ]),
        // v9: a fleet upgrade's steps are audit rows, as in SQLite's v9: `fleet_upgrade_id`
        // names the fleet upgrade of such a row, which has no status.
        PostgresMigration(id: "v9-fleet-audit", statements: [
            "ALTER TABLE audit ADD COLUMN fleet_upgrade_id TEXT COLLATE \"C\"",
            "ALTER TABLE audit ALTER COLUMN to_status DROP NOT NULL",
            "CREATE INDEX audit_on_fleet_upgrade_id_id ON audit (fleet_upgrade_id, id) WHERE fleet_upgrade_id IS NOT NULL",
        ]),
    ]

    /// The migrations already applied to this database, in order.
    package func appliedMigrations() async throws -> [String] {
        try await withConnection { connection in
            try await Self.appliedMigrations(connection, logger: self.logger)
        }
    }

    /// Runs the migrations `connection`'s database has not run yet, up to and
    /// including `last` (all of them when `nil`), in one transaction under the
    /// advisory lock ``migrationLockKey``, without a statement timeout: of replicas
    /// starting together, one migrates while the others wait, then find nothing left
    /// to do.
    ///
    /// - Throws: ``ErrorCode/internalError`` when the database has a migration this
    ///   build does not know (a newer daemon migrated it), naming both versions.
    package static func migrate(
        _ connection: PostgresConnection, url: PostgresDatabaseURL, upTo last: String?, logger: Logger
    ) async throws {
        var steps = migrations
        if let last {
            guard let index = steps.firstIndex(where: { $0.id == last }) else {
                throw PlatformError(.internalError, "there is no migration \(last.debugDescription)")
            }
            steps = Array(steps[...index])
        }
        try await inTransaction(connection, logger: logger) { [steps] connection in
            // A migration may rewrite a large table, and a replica waits here while
            // another migrates: neither is cut short by the statement timeout.
            try await connection.run("SET LOCAL statement_timeout = 0", logger: logger)
            try await connection.run("SELECT pg_advisory_xact_lock(\(migrationLockKey))", logger: logger)
            try await connection.run("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version INTEGER PRIMARY KEY,
                    id TEXT NOT NULL UNIQUE,
                    applied_at BIGINT NOT NULL
                )
                """, logger: logger)
            let applied = try await appliedMigrations(connection, logger: logger)
            let known = migrations.map(\.id)
            if applied.contains(where: { !known.contains($0) }) {
                throw PlatformError(
                    .internalError,
                    "the store database \(url.location) has schema version \(applied.count) (migration "
                        + "\(applied.last!.debugDescription)), newer than this storeplatformd's version \(known.count) "
                        + "(\(known.last!.debugDescription)); upgrade storeplatformd to the release that migrated it"
                )
            }
            guard applied == Array(known.prefix(applied.count)) else {
                throw PlatformError(
                    .internalError,
                    "the store database \(url.location) ran its migrations in another order (\(applied.joined(separator: ", "))) "
                        + "than this storeplatformd knows (\(known.joined(separator: ", "))); restore it from a backup"
                )
            }
            for (offset, step) in steps.enumerated() where offset >= applied.count {
                for statement in step.statements {
                    try await connection.run(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.run("""
                    INSERT INTO schema_migrations (version, id, applied_at)
                    VALUES (\(offset + 1), \(step.id), \(Date().millisecondsSince1970))
                    """, logger: logger)
                logger.info("store database migrated", metadata: ["database": "\(url.location)", "migration": "\(step.id)"])
            }
        }
    }

    private static func appliedMigrations(_ connection: PostgresConnection, logger: Logger) async throws -> [String] {
        try await connection.run("SELECT id FROM schema_migrations ORDER BY version", logger: logger)
            .map { try $0.decode(String.self) }
    }
}
