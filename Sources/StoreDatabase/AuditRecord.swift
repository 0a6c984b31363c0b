import Foundation
import GRDB
import StoreCore

/// A row of the `audit` table as SQLite's backend reads and writes it through GRDB
/// (the mapping itself is ``AuditRow``'s).
typealias AuditRecord = AuditRow

extension AuditRow: FetchableRecord, MutablePersistableRecord {
    package static let databaseTableName = "audit"

    /// `SELECT` of every column, in the order ``init(row:)`` reads them, for
    /// statements with fixed text (prepared once, then cached).
    static let selectSQL = "SELECT " + allColumns.map { "\"\($0.sqlite)\"" }.joined(separator: ", ") + " FROM \"audit\""

    /// A row of ``selectSQL``, read by position (Decodable's lookup by name costs
    /// more than the rest of the read).
    package init(row: Row) throws {
        try self.init(reading: GRDBRowReader(row: row))
    }

    package func encode(to container: inout PersistenceContainer) throws {
        if let id { container[Self.idColumn.sqlite] = id }
        for (column, value) in zip(Self.insertedColumns, insertedValues) {
            container[column.sqlite] = value.databaseValue
        }
    }

    package mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }

    /// Inserts this row and returns it as an event.
    mutating func insertEvent(_ db: Database) throws -> AuditEvent {
        try insert(db)
        return try event()
    }
}
