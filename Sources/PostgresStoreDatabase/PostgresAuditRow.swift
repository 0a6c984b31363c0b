import Foundation
import PostgresNIO
import StoreCore
import StoreDatabase

/// A row of the `audit` table (an ``AuditEvent`` as stored). `time` is BIGINT
/// milliseconds since 1970 (UTC); `id` comes from the table's identity column, so it
/// grows with every row and is never reused.
struct PostgresAuditRow: Sendable, Equatable {
    var id: Int64?
    var time: Int64
    var actor: String
    var action: String
    var storeID: String
    var storeName: String
    var fromStatus: String?
    var toStatus: String
    var message: String
    var requestID: String?

    /// What every read of a row selects, in the order ``init(_:)`` decodes it.
    static let columns = "id, time, actor, action, store_id, store_name, from_status, to_status, message, request_id"

    /// A new row (no id yet) for a change of `store` from `fromStatus` to its status;
    /// `actor` and `message` bounded (``StoredText``).
    init(store: Store, fromStatus: StoreStatus?, time: Date, actor: String, action: AuditAction, message: String, requestID: String?) {
        id = nil
        self.time = time.millisecondsSince1970
        self.actor = PostgresText.storable(StoredText.actor(actor))
        self.action = action.rawValue
        storeID = store.id
        storeName = store.name
        self.fromStatus = fromStatus?.rawValue
        toStatus = store.status.rawValue
        self.message = PostgresText.storable(StoredText.message(message))
        self.requestID = requestID.map(PostgresText.storable)
    }

    /// Decodes a row selected with ``columns``.
    init(_ row: PostgresRow) throws {
        let id: Int64
        (id, time, actor, action, storeID, storeName, fromStatus, toStatus, message, requestID) = try row.decode((
            Int64, Int64, String, String, String, String, String?, String, String, String?
        ).self)
        self.id = id
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
        let rows = try await connection.run("""
            INSERT INTO audit (time, actor, action, store_id, store_name, from_status, to_status, message, request_id)
            VALUES (\(time), \(actor), \(action), \(storeID), \(storeName), \(fromStatus), \(toStatus), \(message), \(requestID))
            RETURNING id, pg_notify(\(CommitRelay.channel), id::text)::text
            """, logger: logger)
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
    static func insertEvents(_ rows: [PostgresAuditRow], on connection: PostgresConnection, logger: Logger) async throws -> [AuditEvent] {
        guard !rows.isEmpty else { return [] }
        try await connection.run("SELECT pg_advisory_xact_lock(\(PostgresStoreDatabase.auditLockKey))", logger: logger)
        var binds = PostgresBindings(capacity: rows.count * 9)
        var values: [String] = []
        values.reserveCapacity(rows.count)
        for row in rows {
            let first = binds.count + 1
            binds.append(row.time)
            binds.append(row.actor)
            binds.append(row.action)
            binds.append(row.storeID)
            binds.append(row.storeName)
            binds.append(row.fromStatus)
            binds.append(row.toStatus)
            binds.append(row.message)
            binds.append(row.requestID)
            values.append("(" + (first..<binds.count + 1).map { "$\($0)" }.joined(separator: ", ") + ")")
        }
        let inserted = try await connection.run(PostgresQuery(
            unsafeSQL: "INSERT INTO audit (time, actor, action, store_id, store_name, from_status, to_status, message, request_id) "
                + "VALUES " + values.joined(separator: ", ") + " RETURNING id",
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

    /// The domain value of this row. Throws ``ErrorCode/internalError`` for a row not
    /// yet inserted or with a status this build does not know.
    func event() throws -> AuditEvent {
        guard let id else {
            throw PlatformError(.internalError, "an audit row was read before it was inserted")
        }
        let place = "audit row \(id)"
        return AuditEvent(
            id: id,
            time: Date(millisecondsSince1970: time),
            actor: actor,
            action: AuditAction(rawValue: action),
            storeID: storeID,
            storeName: storeName,
            fromStatus: try fromStatus.map { try StoreStatus(databaseText: $0, in: place) },
            toStatus: try StoreStatus(databaseText: toStatus, in: place),
            message: message,
            requestID: requestID
        )
    }
}
