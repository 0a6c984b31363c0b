import Foundation
import StoreCore

/// A row of the `audit` table as both backends keep it: an ``AuditEvent`` as stored.
/// `time` is milliseconds since 1970 (UTC); `id` is given by the database on insert
/// and never reused.
///
/// The one place the event <-> row mapping lives, as ``StoreRow`` is for stores: the
/// columns in their order (``allColumns``), the bounding of texts, the values an
/// insert binds, the read by position and the conversion to ``AuditEvent``. SQLite's
/// `AuditRecord` and PostgreSQL's `PostgresAuditRow` are this type.
package struct AuditRow: Sendable, Equatable {
    package var id: Int64?
    package var time: Int64
    package var actor: String
    package var action: String
    package var storeID: String
    package var storeName: String
    package var fromStatus: String?
    package var toStatus: String?
    package var message: String
    package var requestID: String?
    package var fleetUpgradeID: String?

    /// A new row (no id yet) for a change of `store` from `fromStatus` to its status;
    /// `actor` and `message` bounded (``StoredText``), then every text passed through
    /// `storable` (what the backend's text columns cannot hold replaced).
    package init(
        store: Store, fromStatus: StoreStatus?, time: Date, actor: String, action: AuditAction, message: String,
        requestID: String?, storable: (String) -> String = { $0 }
    ) {
        id = nil
        self.time = time.millisecondsSince1970
        self.actor = storable(StoredText.actor(actor))
        self.action = action.rawValue
        storeID = store.id
        storeName = store.name
        self.fromStatus = fromStatus?.rawValue
        toStatus = store.status.rawValue
        self.message = storable(StoredText.message(message))
        self.requestID = requestID.map(storable)
        fleetUpgradeID = nil
    }

    /// A new row (no id yet) for `step` of fleet upgrade `fleetUpgradeID`: no store,
    /// no status; texts bounded and made storable as a store's row's are.
    package init(fleetUpgradeID: String, step: FleetUpgrade.Step, storable: (String) -> String = { $0 }) {
        id = nil
        time = step.time.millisecondsSince1970
        actor = storable(StoredText.actor(step.actor))
        action = AuditAction(fleetStep: step.action).rawValue
        storeID = ""
        storeName = ""
        fromStatus = nil
        toStatus = nil
        message = storable(StoredText.message(step.message))
        requestID = nil
        self.fleetUpgradeID = storable(fleetUpgradeID)
    }

    /// Reads a row whose columns are ``allColumns``, in that order.
    package init(reading row: some RowReader) throws {
        id = try row.integer(0)
        time = try row.integer(1)
        actor = try row.text(2)
        action = try row.text(3)
        storeID = try row.text(4)
        storeName = try row.text(5)
        fromStatus = try row.optionalText(6)
        toStatus = try row.optionalText(7)
        message = try row.text(8)
        requestID = try row.optionalText(9)
        fleetUpgradeID = try row.optionalText(10)
    }

    /// The id column, which the database fills.
    package static let idColumn = ColumnName(sqlite: "id", postgres: "id")

    /// The columns an insert writes, in the order of ``insertedValues``.
    package static let insertedColumns: [ColumnName] = [
        ColumnName(sqlite: "time", postgres: "time"),
        ColumnName(sqlite: "actor", postgres: "actor"),
        ColumnName(sqlite: "action", postgres: "action"),
        ColumnName(sqlite: "storeId", postgres: "store_id"),
        ColumnName(sqlite: "storeName", postgres: "store_name"),
        ColumnName(sqlite: "fromStatus", postgres: "from_status"),
        ColumnName(sqlite: "toStatus", postgres: "to_status"),
        ColumnName(sqlite: "message", postgres: "message"),
        ColumnName(sqlite: "requestId", postgres: "request_id"),
        ColumnName(sqlite: "fleetUpgradeId", postgres: "fleet_upgrade_id"),
    ]

    /// Every column, in the order reads select them and ``init(reading:)`` reads them.
    package static let allColumns = [idColumn] + insertedColumns

    /// The values an insert binds, in ``insertedColumns``' order.
    package var insertedValues: [ColumnValue] {
        [
            .integer(time), .text(actor), .text(action), .text(storeID), .text(storeName), .optionalText(fromStatus),
            .optionalText(toStatus), .text(message), .optionalText(requestID), .optionalText(fleetUpgradeID),
        ]
    }

    /// The domain value of this row. Throws ``ErrorCode/internalError`` for a row not
    /// yet inserted or with a status this build does not know.
    package func event() throws -> AuditEvent {
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
            toStatus: try toStatus.map { try StoreStatus(databaseText: $0, in: place) },
            message: message,
            requestID: requestID,
            fleetUpgradeID: fleetUpgradeID
        )
    }
}
