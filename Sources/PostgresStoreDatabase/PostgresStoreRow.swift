import Foundation
import PostgresNIO
import StoreCore
import StoreDatabase

/// A row of the `store` table: a ``Store`` as stored, plus who asked for it and the
/// idempotency key they sent. Dates are BIGINT milliseconds since 1970 (UTC).
struct PostgresStoreRow: Sendable, Equatable {
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
    var requestedBy: String
    var idempotencyKey: String?
    var owner: String

    /// What every read of a row selects, in the order ``init(_:)`` decodes it.
    static let columns = """
        id, name, engine, status, url, namespace, release, error_message, attempts, created_at, updated_at, \
        ready_at, deleted_at, provisioning_duration_ms, provisioning_started_at, requested_by, idempotency_key, owner
        """

    /// The row for `store`, its dates rounded to the millisecond, its error message
    /// and `requestedBy` bounded (``StoredText``), as SQLite's backend stores it.
    init(_ store: Store, requestedBy: String, idempotencyKey: String?) {
        id = store.id
        name = store.name
        engine = store.engine
        status = store.status.rawValue
        url = store.url
        namespace = store.namespace
        release = store.release
        errorMessage = PostgresText.storable(StoredText.message(store.errorMessage))
        attempts = store.attempts
        createdAt = store.createdAt.millisecondsSince1970
        updatedAt = store.updatedAt.millisecondsSince1970
        readyAt = store.readyAt?.millisecondsSince1970
        deletedAt = store.deletedAt?.millisecondsSince1970
        provisioningDurationMilliseconds = store.provisioningDurationMilliseconds
        provisioningStartedAt = store.provisioningStartedAt?.millisecondsSince1970
        self.requestedBy = PostgresText.storable(StoredText.actor(requestedBy))
        self.idempotencyKey = idempotencyKey
        owner = store.owner
    }

    /// Decodes a row selected with ``columns``.
    init(_ row: PostgresRow) throws {
        (
            id, name, engine, status, url, namespace, release, errorMessage, attempts, createdAt, updatedAt,
            readyAt, deletedAt, provisioningDurationMilliseconds, provisioningStartedAt, requestedBy, idempotencyKey, owner
        ) = try row.decode((
            String, String, String, String, String, String, String, String, Int, Int64, Int64,
            Int64?, Int64?, Int64?, Int64?, String, String?, String
        ).self)
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

    /// Inserts this row.
    func insert(on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.run("""
            INSERT INTO store (\(unescaped: Self.columns))
            VALUES (\(id), \(name), \(engine), \(status), \(url), \(namespace), \(release), \(errorMessage), \(attempts),
                \(createdAt), \(updatedAt), \(readyAt), \(deletedAt), \(provisioningDurationMilliseconds),
                \(provisioningStartedAt), \(requestedBy), \(idempotencyKey), \(owner))
            """, logger: logger)
    }

    /// One `INSERT` of every row in `rows`.
    static func insertQuery(_ rows: [PostgresStoreRow]) -> PostgresQuery {
        var binds = PostgresBindings(capacity: rows.count * 18)
        var values: [String] = []
        values.reserveCapacity(rows.count)
        for row in rows {
            let first = binds.count + 1
            binds.append(row.id)
            binds.append(row.name)
            binds.append(row.engine)
            binds.append(row.status)
            binds.append(row.url)
            binds.append(row.namespace)
            binds.append(row.release)
            binds.append(row.errorMessage)
            binds.append(row.attempts)
            binds.append(row.createdAt)
            binds.append(row.updatedAt)
            binds.append(row.readyAt)
            binds.append(row.deletedAt)
            binds.append(row.provisioningDurationMilliseconds)
            binds.append(row.provisioningStartedAt)
            binds.append(row.requestedBy)
            binds.append(row.idempotencyKey)
            binds.append(row.owner)
            values.append("(" + (first..<binds.count + 1).map { "$\($0)" }.joined(separator: ", ") + ")")
        }
        return PostgresQuery(
            unsafeSQL: "INSERT INTO store (\(columns)) VALUES " + values.joined(separator: ", "), binds: binds
        )
    }

    /// Writes every column but the id over the row with this id.
    func update(on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.run("""
            UPDATE store SET name = \(name), engine = \(engine), status = \(status), url = \(url),
                namespace = \(namespace), release = \(release), error_message = \(errorMessage), attempts = \(attempts),
                created_at = \(createdAt), updated_at = \(updatedAt), ready_at = \(readyAt), deleted_at = \(deletedAt),
                provisioning_duration_ms = \(provisioningDurationMilliseconds),
                provisioning_started_at = \(provisioningStartedAt), requested_by = \(requestedBy),
                idempotency_key = \(idempotencyKey), owner = \(owner)
            WHERE id = \(id)
            """, logger: logger)
    }
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
