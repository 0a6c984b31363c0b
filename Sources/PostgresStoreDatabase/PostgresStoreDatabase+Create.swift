import PostgresNIO
import StoreCore
import StoreDatabase

extension PostgresStoreDatabase {
    public func createStore(
        _ store: Store,
        maxLiveStores: Int,
        requestedBy: String,
        idempotencyKey: String?,
        requestID: String?
    ) async throws -> CreateOutcome {
        try store.requireNew()
        let key = storedIdempotencyKey(idempotencyKey)
        let row = PostgresStoreRow.postgres(store, requestedBy: requestedBy, idempotencyKey: key)
        let logger = self.logger
        return try await auditWrite { connection in
            // Creates (and imports), in every process, take their turn here; the
            // checks below then see every create committed before. Status changes
            // do not take this lock: they never make a store live again.
            try await connection.run("SELECT pg_advisory_xact_lock(\(Self.createLockKey))", logger: logger)
            if let key {
                let existing = try await connection.run("""
                    SELECT \(unescaped: PostgresStoreRow.columns) FROM store
                    WHERE requested_by = \(row.requestedBy) AND idempotency_key = \(key)
                    """, logger: logger)
                if let existing = existing.first {
                    return (.existing(try PostgresStoreRow(existing).store()), [])
                }
            }
            let holders = try await connection.run("""
                SELECT id, status FROM store WHERE name = \(row.name) AND status <> 'deleted' LIMIT 1
                """, logger: logger)
            if let holder = holders.first {
                let (holderID, status) = try holder.decode((String, String).self)
                throw PlatformError.storeNameTaken(
                    store.name, holderID: holderID, holderStatus: try StoreStatus(databaseText: status, in: "store \(holderID)")
                )
            }
            let live = try await Self.liveStoreCount(connection, logger: logger)
            guard live < maxLiveStores else {
                throw PlatformError.quotaExceeded(limit: maxLiveStores, live: live)
            }

            try await Self.insert(row, connection, logger: logger)
            let saved = try row.store()
            try await Self.save([.install(of: saved, actor: row.requestedBy)], connection, logger: logger)
            var audit = PostgresAuditRow.postgres(
                store: saved, fromStatus: nil, time: saved.createdAt, actor: requestedBy, action: .create, message: "",
                requestID: requestID
            )
            let event = try await audit.insertEvent(on: connection, logger: logger)
            return (.created(saved, event), [Transition(store: saved, event: event)])
        }
    }

    public func importStores(_ stores: [Store], actor: String) async throws {
        let logger = self.logger
        try await auditWrite { connection in
            try await connection.run("SELECT pg_advisory_xact_lock(\(Self.createLockKey))", logger: logger)
            var imported: [Transition] = []
            imported.reserveCapacity(stores.count)
            // A few statements of many rows each, not one round trip per row: seeding
            // a database with thousands of stores takes moments.
            var start = stores.startIndex
            while start < stores.endIndex {
                let chunk = stores[start..<min(start + 500, stores.endIndex)]
                start = chunk.endIndex
                let rows = chunk.map { PostgresStoreRow.postgres($0, requestedBy: actor, idempotencyKey: nil) }
                do {
                    try await connection.run(PostgresStoreRow.insertQuery(rows), logger: logger)
                } catch let error as PSQLError where Self.isLiveNameViolation(error) {
                    throw PlatformError.storeNameTaken(Self.conflictingName(error) ?? "")
                }
                let audits = chunk.map { store in
                    PostgresAuditRow.postgres(store: store, fromStatus: nil, time: store.updatedAt, actor: actor, action: .import, message: "", requestID: nil)
                }
                let events = try await PostgresAuditRow.insertEvents(audits, on: connection, logger: logger)
                for (row, event) in zip(rows, events) {
                    imported.append(Transition(store: try row.store(), event: event))
                }
            }
            return ((), imported)
        }
    }

    /// The name in a unique violation's detail (`Key (name)=(shop) already exists.`).
    private static func conflictingName(_ error: PSQLError) -> String? {
        guard let detail = error.serverInfo?[.detail],
            let open = detail.range(of: "=("), let close = detail.range(of: ") already exists", options: .backwards),
            open.upperBound <= close.lowerBound
        else { return nil }
        return String(detail[open.upperBound..<close.lowerBound])
    }

    /// Inserts `row`; the unique index on live names refusing it is
    /// ``ErrorCode/storeNameTaken``.
    static func insert(_ row: PostgresStoreRow, _ connection: PostgresConnection, logger: Logger) async throws {
        do {
            try await row.insert(on: connection, logger: logger)
        } catch let error as PSQLError where isLiveNameViolation(error) {
            throw PlatformError.storeNameTaken(row.name)
        }
    }

    /// Whether `error` is the partial unique index on live store names refusing a row.
    static func isLiveNameViolation(_ error: PSQLError) -> Bool {
        error.serverInfo?[.sqlState] == "23505" && error.serverInfo?[.constraintName] == "store_live_name"
    }

    static func liveStoreCount(_ connection: PostgresConnection, logger: Logger) async throws -> Int {
        let rows = try await connection.run("SELECT count(*) FROM store WHERE status <> 'deleted'", logger: logger)
        return try rows.first?.decode(Int.self) ?? 0
    }
}
