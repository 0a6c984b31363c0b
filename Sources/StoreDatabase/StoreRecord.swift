import Foundation
import GRDB
import StoreCore

/// A row of the `store` table: a ``Store`` as stored, plus who asked for it and the
/// idempotency key they sent. Dates are milliseconds since 1970 (UTC).
struct StoreRecord: Encodable, Equatable, Sendable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "store"

    var id: String
    var name: String
    var engine: String
    var status: String
    var url: String
    var namespace: String
    var release: String
    var errorMessage: String
    var attempts: Int
    var createdAt: Int64
    var updatedAt: Int64
    var readyAt: Int64?
    var deletedAt: Int64?
    var provisioningDurationMilliseconds: Int64?
    var provisioningStartedAt: Int64?
    /// The caller identity that created the store; half of the idempotency key's scope.
    var requestedBy: String
    var idempotencyKey: String?
    /// The creator's identity that ownership checks compare (``Store/owner``);
    /// empty for rows from before migration v2.
    var owner: String

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let name = Column(CodingKeys.name)
        static let status = Column(CodingKeys.status)
        static let createdAt = Column(CodingKeys.createdAt)
        static let provisioningDurationMilliseconds = Column(CodingKeys.provisioningDurationMilliseconds)
        static let requestedBy = Column(CodingKeys.requestedBy)
        static let idempotencyKey = Column(CodingKeys.idempotencyKey)
    }
}

extension StoreRecord {
    /// What every fetch of a record selects, in the order ``init(row:)`` reads it:
    /// by position, not by name (Decodable's name lookup for each column of each
    /// row was most of the cost of listing a page of stores).
    static var databaseSelection: [any SQLSelectable] {
        [
            Column(CodingKeys.id), Column(CodingKeys.name), Column(CodingKeys.engine), Column(CodingKeys.status),
            Column(CodingKeys.url), Column(CodingKeys.namespace), Column(CodingKeys.release),
            Column(CodingKeys.errorMessage), Column(CodingKeys.attempts), Column(CodingKeys.createdAt),
            Column(CodingKeys.updatedAt), Column(CodingKeys.readyAt), Column(CodingKeys.deletedAt),
            Column(CodingKeys.provisioningDurationMilliseconds), Column(CodingKeys.provisioningStartedAt),
            Column(CodingKeys.requestedBy), Column(CodingKeys.idempotencyKey), Column(CodingKeys.owner),
        ]
    }

    /// `SELECT` of ``databaseSelection``'s columns from the table, for statements
    /// with fixed text (prepared once, then cached): the reads append their
    /// `WHERE`, `ORDER BY` and `LIMIT`.
    static let selectSQL = """
        SELECT "id", "name", "engine", "status", "url", "namespace", "release", "errorMessage", "attempts", \
        "createdAt", "updatedAt", "readyAt", "deletedAt", "provisioningDurationMilliseconds", "provisioningStartedAt", \
        "requestedBy", "idempotencyKey", "owner" FROM "store"
        """

    init(row: Row) throws {
        id = try row.decode(atIndex: 0)
        name = try row.decode(atIndex: 1)
        engine = try row.decode(atIndex: 2)
        status = try row.decode(atIndex: 3)
        url = try row.decode(atIndex: 4)
        namespace = try row.decode(atIndex: 5)
        release = try row.decode(atIndex: 6)
        errorMessage = try row.decode(atIndex: 7)
        attempts = try row.decode(atIndex: 8)
        createdAt = try row.decode(atIndex: 9)
        updatedAt = try row.decode(atIndex: 10)
        readyAt = try row.decode(atIndex: 11)
        deletedAt = try row.decode(atIndex: 12)
        provisioningDurationMilliseconds = try row.decode(atIndex: 13)
        provisioningStartedAt = try row.decode(atIndex: 14)
        requestedBy = try row.decode(atIndex: 15)
        idempotencyKey = try row.decode(atIndex: 16)
        owner = try row.decode(atIndex: 17)
    }

    /// The row for `store`, its dates rounded to the millisecond, its error message
    /// and `requestedBy` bounded (``StoredText``).
    init(_ store: Store, requestedBy: String, idempotencyKey: String?) {
        id = store.id
        name = store.name
        engine = store.engine
        status = store.status.rawValue
        url = store.url
        namespace = store.namespace
        release = store.release
        errorMessage = StoredText.message(store.errorMessage)
        attempts = store.attempts
        createdAt = store.createdAt.millisecondsSince1970
        updatedAt = store.updatedAt.millisecondsSince1970
        readyAt = store.readyAt?.millisecondsSince1970
        deletedAt = store.deletedAt?.millisecondsSince1970
        provisioningDurationMilliseconds = store.provisioningDurationMilliseconds
        provisioningStartedAt = store.provisioningStartedAt?.millisecondsSince1970
        self.requestedBy = StoredText.actor(requestedBy)
        self.idempotencyKey = idempotencyKey
        owner = store.owner
    }

    /// The domain value of this row. Throws ``ErrorCode/internalError`` for a status
    /// this build does not know.
    func store() throws -> Store {
        Store(
            id: id,
            name: name,
            engine: engine,
            status: try StoreStatus(databaseText: status, in: "store \(id)"),
            url: url,
            namespace: namespace,
            release: release,
            errorMessage: errorMessage,
            attempts: attempts,
            createdAt: Date(millisecondsSince1970: createdAt),
            updatedAt: Date(millisecondsSince1970: updatedAt),
            readyAt: readyAt.map(Date.init(millisecondsSince1970:)),
            deletedAt: deletedAt.map(Date.init(millisecondsSince1970:)),
            provisioningDurationMilliseconds: provisioningDurationMilliseconds,
            provisioningStartedAt: provisioningStartedAt.map(Date.init(millisecondsSince1970:)),
            owner: owner
        )
    }

    /// Whether `error` is the partial unique index on live store names refusing a row.
    static func isLiveNameViolation(_ error: DatabaseError) -> Bool {
        error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE
            && (error.message ?? "").contains("\(databaseTableName).name")
    }
}

extension StoreRecord {
    /// The one row `statement` (a ``selectSQL`` read) finds with `arguments`, if any.
    static func readOne(_ statement: Statement, arguments: StatementArguments) throws -> StoreRecord? {
        let cursor = try StoreRecordCursor(statement, arguments: arguments)
        let record = try cursor.next()
        // Stepping on to the end ends the statement's read transaction now.
        if record != nil { _ = try cursor.next() }
        return record
    }

    /// Every row `statement` (a ``selectSQL`` read) finds with `arguments`.
    static func readAll(_ statement: Statement, arguments: StatementArguments) throws -> [StoreRecord] {
        try Array(StoreRecordCursor(statement, arguments: arguments))
    }
}

/// Reads ``StoreRecord/selectSQL`` rows straight from the SQLite statement, column by
/// column in that order. GRDB's record fetch first builds a `Row` with an index of
/// the statement's lower-cased column names, on every fetch: for a read of one store
/// that cost more than SQLite's own work.
final class StoreRecordCursor: DatabaseCursor {
    typealias Element = StoreRecord
    let _statement: Statement
    var _isDone = false

    init(_ statement: Statement, arguments: StatementArguments) throws {
        _statement = statement
        try statement.setArguments(arguments)  // resets the statement too
    }

    deinit {
        // A statement left before its end holds its read transaction (and the WAL
        // snapshot) open until it is reset; setting its arguments again resets it.
        if !_isDone { try? _statement.setArguments(_statement.arguments) }
    }

    func _element(sqliteStatement row: SQLiteStatement) throws -> StoreRecord {
        func text(_ index: CInt) throws -> String {
            guard let value = String.fromStatement(row, atUncheckedIndex: index) else { throw Self.null(index) }
            return value
        }
        func integer(_ index: CInt) throws -> Int64 {
            guard let value = Int64.fromStatement(row, atUncheckedIndex: index) else { throw Self.null(index) }
            return value
        }
        return StoreRecord(
            id: try text(0), name: try text(1), engine: try text(2), status: try text(3), url: try text(4),
            namespace: try text(5), release: try text(6), errorMessage: try text(7), attempts: Int(try integer(8)),
            createdAt: try integer(9), updatedAt: try integer(10),
            readyAt: Int64.fromStatement(row, atUncheckedIndex: 11), deletedAt: Int64.fromStatement(row, atUncheckedIndex: 12),
            provisioningDurationMilliseconds: Int64.fromStatement(row, atUncheckedIndex: 13),
            provisioningStartedAt: Int64.fromStatement(row, atUncheckedIndex: 14),
            requestedBy: try text(15), idempotencyKey: String.fromStatement(row, atUncheckedIndex: 16), owner: try text(17)
        )
    }

    private static func null(_ index: CInt) -> PlatformError {
        PlatformError(.internalError, "the store database holds a store row with no value in column \(index + 1) of its read")
    }
}
