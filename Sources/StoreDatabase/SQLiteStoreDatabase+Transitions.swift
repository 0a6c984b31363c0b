import Foundation
import GRDB
import StoreCore

extension SQLiteStoreDatabase {
    public func transition(_ change: StatusChange) async throws -> Transition {
        try await write { db in
            let record = try Self.existingRecord(change.storeID, db)
            let current = try record.store()
            let saved = try Self.save(try change.applied(to: current), replacing: record, db)
            try Self.save(change.revisions, replacingThoseOf: change.replacesRevisions ? change.storeID : nil, db)
            var audit = AuditRecord(
                store: saved, fromStatus: current.status, time: change.now, actor: change.actor, action: change.action,
                message: change.message, requestID: change.requestID
            )
            let transition = Transition(store: saved, event: try audit.insertEvent(db))
            self.announceOnCommit([transition], db)
            return transition
        }
    }

    public func update(storeID: String, _ update: @escaping @Sendable (inout Store) -> Void) async throws -> Store {
        try await write { db in
            let record = try Self.existingRecord(storeID, db)
            return try Self.save(try record.store().updated(update), replacing: record, db)
        }
    }

    // MARK: Helpers

    static func existingRecord(_ storeID: String, _ db: Database) throws -> StoreRecord {
        guard let record = try StoreRecord.fetchOne(db, key: storeID) else {
            throw PlatformError.storeNotFound(storeID)
        }
        return record
    }

    /// Writes `store` over `record` (same id), keeping who requested it and the
    /// idempotency key, and returns the store as saved.
    private static func save(_ store: Store, replacing record: StoreRecord, _ db: Database) throws -> Store {
        let updated = StoreRecord(store, requestedBy: record.requestedBy, idempotencyKey: record.idempotencyKey)
        do {
            try updated.update(db)
        } catch let error as DatabaseError where StoreRecord.isLiveNameViolation(error) {
            throw PlatformError.storeNameTaken(store.name)
        }
        return try updated.store()
    }
}
