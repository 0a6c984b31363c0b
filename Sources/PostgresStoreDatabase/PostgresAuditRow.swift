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
    init(store: Store, fromStatus: StoreStatus?, time: Date, actor: String, action: String, message: String, requestID: String?) {
        id = nil
        self.time = time.millisecondsSince1970
        self.actor = PostgresText.storable(StoredText.actor(actor))
        self.action = action
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
            RETURNING id
            """, logger: logger)
        guard let row = rows.first else {
            throw PlatformError(.internalError, "the store database returned no id for a new audit row")
        }
        id = try row.decode(Int64.self)
        return try event()
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
            action: action,
            storeID: storeID,
            storeName: storeName,
            fromStatus: try fromStatus.map { try StoreStatus(databaseText: $0, in: place) },
            toStatus: try StoreStatus(databaseText: toStatus, in: place),
            message: message,
            requestID: requestID
        )
    }
}
