import Foundation
import PostgresNIO
import StoreCore
import StoreDatabase

extension PostgresStoreDatabase {
    public func transition(_ change: StatusChange) async throws -> Transition {
        let logger = self.logger
        return try await auditWrite { connection in
            let row = try await Self.lockedRow(change.storeID, connection, logger: logger)
            let current = try row.store()
            let saved = try await Self.save(try change.applied(to: current), replacing: row, connection, logger: logger)
            try await Self.save(
                change.revisions, replacingThoseOf: change.replacesRevisions ? change.storeID : nil, connection, logger: logger
            )
            var audit = PostgresAuditRow.postgres(
                store: saved, fromStatus: current.status, time: change.now, actor: change.actor, action: change.action,
                message: change.message, requestID: change.requestID
            )
            let transition = Transition(store: saved, event: try await audit.insertEvent(on: connection, logger: logger))
            return (transition, [transition])
        }
    }

    public func update(storeID: String, _ update: @escaping @Sendable (inout Store) -> Void) async throws -> Store {
        let logger = self.logger
        return try await perform {
            try await writeTransaction { connection in
                let row = try await Self.lockedRow(storeID, connection, logger: logger)
                return try await Self.save(try row.store().updated(update), replacing: row, connection, logger: logger)
            }
        }
    }

    // MARK: Helpers

    /// The store's row, locked (`FOR UPDATE`) until the transaction ends.
    static func lockedRow(_ storeID: String, _ connection: PostgresConnection, logger: Logger) async throws -> PostgresStoreRow {
        let rows = try await connection.run(
            "SELECT \(unescaped: PostgresStoreRow.columns) FROM store WHERE id = \(storeID) FOR UPDATE", logger: logger
        )
        guard let row = rows.first else {
            throw PlatformError.storeNotFound(storeID)
        }
        return try PostgresStoreRow(row)
    }

    /// Writes `store` over `row` (same id), keeping who requested it and the
    /// idempotency key, and returns the store as saved.
    private static func save(
        _ store: Store, replacing row: PostgresStoreRow, _ connection: PostgresConnection, logger: Logger
    ) async throws -> Store {
        let updated = PostgresStoreRow.postgres(store, requestedBy: row.requestedBy, idempotencyKey: row.idempotencyKey)
        do {
            try await updated.update(on: connection, logger: logger)
        } catch let error as PSQLError where isLiveNameViolation(error) {
            throw PlatformError.storeNameTaken(store.name)
        }
        return try updated.store()
    }
}
