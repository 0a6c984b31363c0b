import Foundation
import PostgresNIO
import StoreCore
import StoreDatabase

/// A row of the `audit` table as PostgreSQL's backend reads and writes it (the
/// mapping itself is ``AuditRow``'s). `id` comes from the table's identity column, so
/// it grows with every row and is never reused.
typealias PostgresAuditRow = AuditRow

extension AuditRow {
    /// What every read of a row selects, in the order ``init(_:)`` decodes it.
    static let columns = allColumns.map(\.postgres).joined(separator: ", ")

    /// The columns an insert writes, for its statement.
    private static let insertedColumnList = insertedColumns.map(\.postgres).joined(separator: ", ")

    /// A new row for a change of `store`, as PostgreSQL keeps it:
    /// ``init(store:fromStatus:time:actor:action:message:requestID:storable:)`` with
    /// the NUL characters a `text` column cannot hold replaced.
    static func postgres(
        store: Store, fromStatus: StoreStatus?, time: Date, actor: String, action: AuditAction, message: String, requestID: String?
    ) -> AuditRow {
        AuditRow(
            store: store, fromStatus: fromStatus, time: time, actor: actor, action: action, message: message, requestID: requestID,
            storable: PostgresText.storable
        )
    }

    /// Decodes a row selected with ``columns``.
    init(_ row: PostgresRow) throws {
        try self.init(reading: PostgresRowReader(row: PostgresRandomAccessRow(row)))
    }

    /// Inserts this row and returns it as an event, with the id the table gave it.
    ///
    /// First takes the transaction-scoped advisory lock
    /// ``PostgresStoreDatabase/auditLockKey``, held until the commit: audit rows get
    /// their ids in the order their transactions commit, in every process, so a
    /// reader that has seen id N never sees a lower id appear later. It must be the
    /// last lock a transaction takes (only this insert and the commit follow), so
    /// that its holder never waits for another transaction.
    mutating func insertEvent(on connection: PostgresConnection, logger: Logger) async throws -> AuditEvent {
        try await connection.run("SELECT pg_advisory_xact_lock(\(PostgresStoreDatabase.auditLockKey))", logger: logger)
        var binds = PostgresBindings(capacity: Self.insertedColumns.count + 1)
        binds.append(insertedValues)
        binds.append(CommitRelay.channel)
        let placeholders = (1...Self.insertedColumns.count).map { "$\($0)" }.joined(separator: ", ")
        let rows = try await connection.run(PostgresQuery(
            unsafeSQL: "INSERT INTO audit (\(Self.insertedColumnList)) VALUES (\(placeholders)) "
                + "RETURNING id, pg_notify($\(Self.insertedColumns.count + 1), id::text)::text",
            binds: binds
        ), logger: logger)
        guard let row = rows.first else {
            throw PlatformError(.internalError, "the store database returned no id for a new audit row")
        }
        // The notification reaches other replicas' commit relays at the commit.
        let (newID, _) = try row.decode((Int64, String).self)
        id = newID
        return try event()
    }

    /// Inserts `rows` in one statement (under the same lock as
    /// ``insertEvent(on:logger:)``) and returns them as events, in the same order.
    static func insertEvents(_ rows: [AuditRow], on connection: PostgresConnection, logger: Logger) async throws -> [AuditEvent] {
        guard !rows.isEmpty else { return [] }
        try await connection.run("SELECT pg_advisory_xact_lock(\(PostgresStoreDatabase.auditLockKey))", logger: logger)
        var binds = PostgresBindings(capacity: rows.count * insertedColumns.count)
        var values: [String] = []
        values.reserveCapacity(rows.count)
        for row in rows {
            let first = binds.count + 1
            binds.append(row.insertedValues)
            values.append("(" + (first..<binds.count + 1).map { "$\($0)" }.joined(separator: ", ") + ")")
        }
        let inserted = try await connection.run(PostgresQuery(
            unsafeSQL: "INSERT INTO audit (\(insertedColumnList)) VALUES " + values.joined(separator: ", ") + " RETURNING id",
            binds: binds
        ), logger: logger)
        // Identity values are drawn as the rows are inserted, in VALUES order: sorted
        // ids pair with the rows in order whatever order RETURNING lists them in.
        let ids = try inserted.map { try $0.decode(Int64.self) }.sorted()
        guard ids.count == rows.count else {
            throw PlatformError(.internalError, "the store database returned \(ids.count) ids for \(rows.count) new audit rows")
        }
        // One notification for the lot, with the newest id: other replicas' commit
        // relays read every row after the last one they announced.
        if let newest = ids.last {
            try await connection.run("SELECT pg_notify(\(CommitRelay.channel), \(String(newest)))::text", logger: logger)
        }
        return try zip(rows, ids).map { row, id in
            var row = row
            row.id = id
            return try row.event()
        }
    }
}
