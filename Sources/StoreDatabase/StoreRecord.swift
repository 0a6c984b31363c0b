import Foundation
import GRDB
import StoreCore

/// A row of the `store` table as SQLite's backend reads and writes it through GRDB
/// (the mapping itself is ``StoreRow``'s).
typealias StoreRecord = StoreRow

extension StoreRow: FetchableRecord, PersistableRecord {
    package static let databaseTableName = "store"

    package enum Columns {
        static let id = Column("id")
        static let name = Column("name")
        static let status = Column("status")
        static let createdAt = Column("createdAt")
        static let provisioningDurationMilliseconds = Column("provisioningDurationMilliseconds")
        static let requestedBy = Column("requestedBy")
        static let idempotencyKey = Column("idempotencyKey")
    }

    /// What every fetch of a record selects, in the order ``init(row:)`` reads it:
    /// by position, not by name (Decodable's name lookup for each column of each
    /// row was most of the cost of listing a page of stores).
    package static var databaseSelection: [any SQLSelectable] {
        allColumns.map { Column($0.sqlite) }
    }

    /// `SELECT` of ``databaseSelection``'s columns from the table, for statements
    /// with fixed text (prepared once, then cached): the reads append their
    /// `WHERE`, `ORDER BY` and `LIMIT`.
    static let selectSQL = "SELECT " + allColumns.map { "\"\($0.sqlite)\"" }.joined(separator: ", ") + " FROM \"store\""

    package init(row: Row) throws {
        try self.init(reading: GRDBRowReader(row: row))
    }

    package func encode(to container: inout PersistenceContainer) throws {
        for (column, value) in zip(Self.allColumns, values) {
            container[column.sqlite] = value.databaseValue
        }
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
        try StoreRecord(reading: StatementReader(statement: row))
    }

    /// The current row of a stepped SQLite statement, read in place.
    private struct StatementReader: RowReader {
        let statement: SQLiteStatement

        func text(_ index: Int) throws -> String {
            guard let value = String.fromStatement(statement, atUncheckedIndex: CInt(index)) else { throw null(index) }
            return value
        }

        func optionalText(_ index: Int) throws -> String? {
            String.fromStatement(statement, atUncheckedIndex: CInt(index))
        }

        func integer(_ index: Int) throws -> Int64 {
            guard let value = Int64.fromStatement(statement, atUncheckedIndex: CInt(index)) else { throw null(index) }
            return value
        }

        func optionalInteger(_ index: Int) throws -> Int64? {
            Int64.fromStatement(statement, atUncheckedIndex: CInt(index))
        }
    }
}

extension ColumnValue {
    /// The value as GRDB binds it.
    var databaseValue: DatabaseValue {
        switch self {
        case .text(let text): text.databaseValue
        case .optionalText(let text): text.databaseValue
        case .integer(let integer): integer.databaseValue
        case .optionalInteger(let integer): integer.databaseValue
        }
    }
}

/// A GRDB `Row` of a table's columns in their order (``StoreRow/allColumns``,
/// ``AuditRow/allColumns``), read by position.
struct GRDBRowReader: RowReader {
    let row: Row

    func text(_ index: Int) throws -> String { try row.decode(atIndex: index) }
    func optionalText(_ index: Int) throws -> String? { try row.decode(atIndex: index) }
    func integer(_ index: Int) throws -> Int64 { try row.decode(atIndex: index) }
    func optionalInteger(_ index: Int) throws -> Int64? { try row.decode(atIndex: index) }
}

private func null(_ index: Int) -> PlatformError {
    PlatformError(.internalError, "the store database holds a store row with no value in column \(index + 1) of its read")
}
