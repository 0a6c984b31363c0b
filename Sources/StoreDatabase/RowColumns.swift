// What both backends share about a table's columns (StoreRow, AuditRow): each
// column's name in each, the values a write binds, and a row read by position.

/// One column of a table, named as each backend names it.
package struct ColumnName: Sendable, Equatable {
    /// SQLite's name (camel case, as the record's property).
    package var sqlite: String
    /// PostgreSQL's name (snake case).
    package var postgres: String

    package init(sqlite: String, postgres: String) {
        self.sqlite = sqlite
        self.postgres = postgres
    }
}

/// A value a write binds to one column.
package enum ColumnValue: Sendable, Equatable {
    case text(String)
    case optionalText(String?)
    case integer(Int64)
    case optionalInteger(Int64?)
}

/// A backend's row read by column position (0 first). A required column that holds
/// NULL throws.
package protocol RowReader {
    func text(_ index: Int) throws -> String
    func optionalText(_ index: Int) throws -> String?
    func integer(_ index: Int) throws -> Int64
    func optionalInteger(_ index: Int) throws -> Int64?
}
