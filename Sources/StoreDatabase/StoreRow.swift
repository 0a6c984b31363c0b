import Foundation
import StoreCore

/// A row of the `store` table as both backends keep it: a ``Store`` as stored, plus who
/// asked for it and the idempotency key they sent. Dates are milliseconds since 1970
/// (UTC).
///
/// The one place the store <-> row mapping lives: the columns in their order
/// (``allColumns``, with each backend's name), the bounding of texts, the values a write
/// binds (``values``), the read of a row by position (``init(reading:)``) and the
/// conversion to ``Store``. A new column is added here (and in each backend's
/// migrations); SQLite's `StoreRecord` and PostgreSQL's `PostgresStoreRow` are this type.
package struct StoreRow: Sendable, Equatable {
    package var id: String
    package var name: String
    package var engine: String
    package var status: String
    package var url: String
    package var namespace: String
    package var release: String
    package var errorMessage: String
    package var attempts: Int
    package var createdAt: Int64
    package var updatedAt: Int64
    package var readyAt: Int64?
    package var deletedAt: Int64?
    package var provisioningDurationMilliseconds: Int64?
    package var provisioningStartedAt: Int64?
    /// The caller identity that created the store; half of the idempotency key's scope.
    package var requestedBy: String
    package var idempotencyKey: String?
    /// The creator's identity that ownership checks compare (``Store/owner``);
    /// empty for rows from before migration v2.
    package var owner: String
    /// ``Store/version``; empty in rows from before migration v7 that were not ready.
    package var version: String
    /// ``Store/revision``.
    package var revision: Int

    /// A row with every field given.
    package init(
        id: String, name: String, engine: String, status: String, url: String, namespace: String, release: String,
        errorMessage: String, attempts: Int, createdAt: Int64, updatedAt: Int64, readyAt: Int64?, deletedAt: Int64?,
        provisioningDurationMilliseconds: Int64?, provisioningStartedAt: Int64?, requestedBy: String,
        idempotencyKey: String?, owner: String, version: String, revision: Int
    ) {
        self.id = id
        self.name = name
        self.engine = engine
        self.status = status
        self.url = url
        self.namespace = namespace
        self.release = release
        self.errorMessage = errorMessage
        self.attempts = attempts
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.readyAt = readyAt
        self.deletedAt = deletedAt
        self.provisioningDurationMilliseconds = provisioningDurationMilliseconds
        self.provisioningStartedAt = provisioningStartedAt
        self.requestedBy = requestedBy
        self.idempotencyKey = idempotencyKey
        self.owner = owner
        self.version = version
        self.revision = revision
    }
}

extension StoreRow {
    /// Every column, in the order reads select them, ``values`` lists them and
    /// ``init(reading:)`` reads them.
    package static let allColumns: [ColumnName] = [
        ColumnName(sqlite: "id", postgres: "id"),
        ColumnName(sqlite: "name", postgres: "name"),
        ColumnName(sqlite: "engine", postgres: "engine"),
        ColumnName(sqlite: "status", postgres: "status"),
        ColumnName(sqlite: "url", postgres: "url"),
        ColumnName(sqlite: "namespace", postgres: "namespace"),
        ColumnName(sqlite: "release", postgres: "release"),
        ColumnName(sqlite: "errorMessage", postgres: "error_message"),
        ColumnName(sqlite: "attempts", postgres: "attempts"),
        ColumnName(sqlite: "createdAt", postgres: "created_at"),
        ColumnName(sqlite: "updatedAt", postgres: "updated_at"),
        ColumnName(sqlite: "readyAt", postgres: "ready_at"),
        ColumnName(sqlite: "deletedAt", postgres: "deleted_at"),
        ColumnName(sqlite: "provisioningDurationMilliseconds", postgres: "provisioning_duration_ms"),
        ColumnName(sqlite: "provisioningStartedAt", postgres: "provisioning_started_at"),
        ColumnName(sqlite: "requestedBy", postgres: "requested_by"),
        ColumnName(sqlite: "idempotencyKey", postgres: "idempotency_key"),
        ColumnName(sqlite: "owner", postgres: "owner"),
        ColumnName(sqlite: "version", postgres: "version"),
        ColumnName(sqlite: "revision", postgres: "revision"),
    ]

    /// This row's values, in ``allColumns``' order.
    package var values: [ColumnValue] {
        [
            .text(id), .text(name), .text(engine), .text(status), .text(url), .text(namespace), .text(release),
            .text(errorMessage), .integer(Int64(attempts)), .integer(createdAt), .integer(updatedAt),
            .optionalInteger(readyAt), .optionalInteger(deletedAt), .optionalInteger(provisioningDurationMilliseconds),
            .optionalInteger(provisioningStartedAt), .text(requestedBy), .optionalText(idempotencyKey), .text(owner),
            .text(version), .integer(Int64(revision)),
        ]
    }

    /// Reads a row whose columns are ``allColumns``, in that order.
    package init(reading row: some RowReader) throws {
        self.init(
            id: try row.text(0), name: try row.text(1), engine: try row.text(2), status: try row.text(3),
            url: try row.text(4), namespace: try row.text(5), release: try row.text(6), errorMessage: try row.text(7),
            attempts: Int(try row.integer(8)), createdAt: try row.integer(9), updatedAt: try row.integer(10),
            readyAt: try row.optionalInteger(11), deletedAt: try row.optionalInteger(12),
            provisioningDurationMilliseconds: try row.optionalInteger(13),
            provisioningStartedAt: try row.optionalInteger(14), requestedBy: try row.text(15),
            idempotencyKey: try row.optionalText(16), owner: try row.text(17),
            version: try row.text(18), revision: Int(try row.integer(19))
        )
    }

    /// The row for `store`, its dates rounded to the millisecond, its error message
    /// and `requestedBy` bounded (``StoredText``) and then passed through `storable`
    /// (what the backend's text columns cannot hold replaced).
    package init(
        _ store: Store, requestedBy: String, idempotencyKey: String?,
        storable: (String) -> String = { $0 }
    ) {
        self.init(
            id: store.id,
            name: store.name,
            engine: store.engine,
            status: store.status.rawValue,
            url: store.url,
            namespace: store.namespace,
            release: store.release,
            errorMessage: storable(StoredText.message(store.errorMessage)),
            attempts: store.attempts,
            createdAt: store.createdAt.millisecondsSince1970,
            updatedAt: store.updatedAt.millisecondsSince1970,
            readyAt: store.readyAt?.millisecondsSince1970,
            deletedAt: store.deletedAt?.millisecondsSince1970,
            provisioningDurationMilliseconds: store.provisioningDurationMilliseconds,
            provisioningStartedAt: store.provisioningStartedAt?.millisecondsSince1970,
            requestedBy: storable(StoredText.actor(requestedBy)),
            idempotencyKey: idempotencyKey,
            owner: store.owner,
            version: store.version,
            revision: store.revision
        )
    }

    /// The domain value of this row. Throws ``ErrorCode/internalError`` for a status
    /// this build does not know.
    package func store() throws -> Store {
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
            owner: owner,
            version: version,
            revision: revision
        )
    }
}
