import Foundation
import PostgresNIO
import StoreCore
import StoreDatabase

/// A row of the `store` table as PostgreSQL's backend reads and writes it (the
/// mapping itself is ``StoreRow``'s).
typealias PostgresStoreRow = StoreRow

extension StoreRow {
    /// What every read of a row selects, in the order ``init(_:)`` decodes it.
    static let columns = allColumns.map(\.postgres).joined(separator: ", ")

    /// The row for `store` as PostgreSQL keeps it: ``init(_:requestedBy:idempotencyKey:storable:)``
    /// with the NUL characters a `text` column cannot hold replaced.
    static func postgres(_ store: Store, requestedBy: String, idempotencyKey: String?) -> StoreRow {
        StoreRow(store, requestedBy: requestedBy, idempotencyKey: idempotencyKey, storable: PostgresText.storable)
    }

    /// Decodes a row selected with ``columns``.
    init(_ row: PostgresRow) throws {
        try self.init(reading: PostgresRowReader(row: PostgresRandomAccessRow(row)))
    }

    /// Inserts this row.
    func insert(on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.run(Self.insertQuery([self]), logger: logger)
    }

    /// One `INSERT` of every row in `rows`.
    static func insertQuery(_ rows: [StoreRow]) -> PostgresQuery {
        var binds = PostgresBindings(capacity: rows.count * allColumns.count)
        var values: [String] = []
        values.reserveCapacity(rows.count)
        for row in rows {
            let first = binds.count + 1
            binds.append(row.values)
            values.append("(" + (first..<binds.count + 1).map { "$\($0)" }.joined(separator: ", ") + ")")
        }
        return PostgresQuery(
            unsafeSQL: "INSERT INTO store (\(columns)) VALUES " + values.joined(separator: ", "), binds: binds
        )
    }

    /// Writes every column but the id over the row with this id.
    func update(on connection: PostgresConnection, logger: Logger) async throws {
        var binds = PostgresBindings(capacity: Self.allColumns.count)
        binds.append(values)
        // $1 is the id (the first column); every other column is set to its own value.
        let assignments = Self.allColumns.indices.dropFirst().map { "\(Self.allColumns[$0].postgres) = $\($0 + 1)" }
        let query = PostgresQuery(
            unsafeSQL: "UPDATE store SET " + assignments.joined(separator: ", ") + " WHERE id = $1", binds: binds
        )
        try await connection.run(query, logger: logger)
    }
}

extension PostgresBindings {
    /// Appends `values`, in their order.
    mutating func append(_ values: [ColumnValue]) {
        for value in values {
            switch value {
            case .text(let text): append(text)
            case .optionalText(let text): append(text)
            case .integer(let integer): append(integer)
            case .optionalInteger(let integer): append(integer)
            }
        }
    }
}

/// A PostgreSQL row of a table's columns in their order (``StoreRow/allColumns``,
/// ``AuditRow/allColumns``), read by position.
struct PostgresRowReader: RowReader {
    let row: PostgresRandomAccessRow

    func text(_ index: Int) throws -> String { try row[index].decode(String.self) }
    func optionalText(_ index: Int) throws -> String? { try row[index].decode(String?.self) }
    func integer(_ index: Int) throws -> Int64 { try row[index].decode(Int64.self) }
    func optionalInteger(_ index: Int) throws -> Int64? { try row[index].decode(Int64?.self) }
}

/// Text as PostgreSQL can keep it.
enum PostgresText {
    /// `text` with every NUL character replaced by U+FFFD: a `text` column cannot hold
    /// NUL, and driver output that carries one must not make a status change fail.
    static func storable(_ text: String) -> String {
        guard text.utf8.contains(0) else { return text }
        return text.replacingOccurrences(of: "\u{0}", with: "\u{FFFD}")
    }
}

/// How long the client waits for one statement's answer (``PostgresConnection/run(_:logger:)``),
/// set around a call by ``PostgresStoreDatabase``, with the waits its database
/// abandons when it finds the server gone; nil: no bound (migrations, which turn
/// the server's statement timeout off).
enum StatementDeadline {
    @TaskLocal static var limit: (duration: Duration, url: PostgresDatabaseURL, inFlight: AbandonableWaits)?
}

extension PostgresConnection {
    /// Runs `query` and reads every row it returns, so that its error, if any, is
    /// thrown here and the connection is ready for the next statement.
    ///
    /// Within ``StatementDeadline/limit``: the server's statement_timeout ends a slow
    /// statement, but not one whose server went away without closing the connection;
    /// such a wait would hold the caller, and any lock it holds (the audit-write
    /// lock: every later write), for good. Past the limit the connection is closed
    /// (not awaited) and the call fails with UNAVAILABLE; so it does, at once, when
    /// the database finds the server gone meanwhile (``AbandonableWaits``).
    @discardableResult
    func run(_ query: PostgresQuery, logger: Logger) async throws -> [PostgresRow] {
        guard let (limit, url, inFlight) = StatementDeadline.limit else {
            return try await self.query(query, logger: logger).collect()
        }
        do {
            return try await withDeadline(limit, expired: {
                self.closeLater()
                return PostgresFailure.unreachable(url, "a statement got no answer within \(limit.components.seconds) s")
            }, abandonable: inFlight) {
                try await self.query(query, logger: logger).collect()
            }
        } catch let abandoned as Abandoned {
            // The server is gone: the statement's answer will not come, and the
            // connection must not go back to the pool with it pending.
            closeLater()
            throw abandoned.reason
        }
    }
}
