import Foundation
import GRDB
import StoreCore

/// A row of the `audit` table (an ``AuditEvent`` as stored). `time` is milliseconds
/// since 1970 (UTC); `id` is assigned by SQLite on insert and never reused.
struct AuditRecord: Codable, Equatable, Sendable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "audit"

    var id: Int64?
    var time: Int64
    var actor: String
    var action: String
    var storeId: String
    var storeName: String
    var fromStatus: String?
    var toStatus: String
    var message: String
    var requestId: String?

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let storeId = Column(CodingKeys.storeId)
        static let toStatus = Column(CodingKeys.toStatus)
    }

    mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}

extension AuditRecord {
    /// `SELECT` of every column, in the order ``init(row:)`` reads them, for
    /// statements with fixed text (prepared once, then cached).
    static let selectSQL = """
        SELECT "id", "time", "actor", "action", "storeId", "storeName", "fromStatus", "toStatus", "message", "requestId" \
        FROM "audit"
        """

    /// A row of ``selectSQL``, read by position (Decodable's lookup by name costs
    /// more than the rest of the read).
    init(row: Row) throws {
        id = try row.decode(atIndex: 0)
        time = try row.decode(atIndex: 1)
        actor = try row.decode(atIndex: 2)
        action = try row.decode(atIndex: 3)
        storeId = try row.decode(atIndex: 4)
        storeName = try row.decode(atIndex: 5)
        fromStatus = try row.decode(atIndex: 6)
        toStatus = try row.decode(atIndex: 7)
        message = try row.decode(atIndex: 8)
        requestId = try row.decode(atIndex: 9)
    }

    /// A new row (no id yet) for a change of `store` from `fromStatus` to its status;
    /// `actor` and `message` bounded (``StoredText``).
    init(
        store: Store,
        fromStatus: StoreStatus?,
        time: Date,
        actor: String,
        action: AuditAction,
        message: String,
        requestID: String?
    ) {
        id = nil
        self.time = time.millisecondsSince1970
        self.actor = StoredText.actor(actor)
        self.action = action.rawValue
        storeId = store.id
        storeName = store.name
        self.fromStatus = fromStatus?.rawValue
        toStatus = store.status.rawValue
        self.message = StoredText.message(message)
        requestId = requestID
    }

    /// Inserts this row and returns it as an event.
    mutating func insertEvent(_ db: Database) throws -> AuditEvent {
        try insert(db)
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
            action: AuditAction(rawValue: action),
            storeID: storeId,
            storeName: storeName,
            fromStatus: try fromStatus.map { try StoreStatus(databaseText: $0, in: place) },
            toStatus: try StoreStatus(databaseText: toStatus, in: place),
            message: message,
            requestID: requestId
        )
    }
}
