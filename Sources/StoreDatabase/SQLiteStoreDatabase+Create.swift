import GRDB
import StoreCore

extension SQLiteStoreDatabase {
    public func createStore(
        _ store: Store,
        maxLiveStores: Int,
        requestedBy: String,
        idempotencyKey: String?,
        requestID: String?
    ) async throws -> CreateOutcome {
        try store.requireNew()
        let key = storedIdempotencyKey(idempotencyKey)
        // As the row stores it, so a retry from a very long actor still finds its store.
        let requestedBy = StoredText.actor(requestedBy)
        let deleted = StoreStatus.deleted.rawValue
        return try await write { db in
            if let key, let existing = try StoreRecord
                .filter(StoreRecord.Columns.requestedBy == requestedBy && StoreRecord.Columns.idempotencyKey == key)
                .fetchOne(db)
            {
                return .existing(try existing.store())
            }
            if let holder = try StoreRecord
                .filter(StoreRecord.Columns.name == store.name && StoreRecord.Columns.status != deleted)
                .fetchOne(db)
            {
                throw PlatformError.storeNameTaken(
                    store.name, holderID: holder.id,
                    holderStatus: try StoreStatus(databaseText: holder.status, in: "store \(holder.id)")
                )
            }
            let live = try StoreRecord.filter(StoreRecord.Columns.status != deleted).fetchCount(db)
            guard live < maxLiveStores else {
                throw PlatformError.quotaExceeded(limit: maxLiveStores, live: live)
            }

            let record = StoreRecord(store, requestedBy: requestedBy, idempotencyKey: key)
            do {
                try record.insert(db)
            } catch let error as DatabaseError where StoreRecord.isLiveNameViolation(error) {
                throw PlatformError.storeNameTaken(store.name)
            }
            let saved = try record.store()
            try Self.save([.install(of: saved, actor: requestedBy)], db)
            var audit = AuditRecord(
                store: saved, fromStatus: nil, time: saved.createdAt, actor: requestedBy,
                action: .create, message: "", requestID: requestID
            )
            let event = try audit.insertEvent(db)
            self.announceOnCommit([Transition(store: saved, event: event)], db)
            return .created(saved, event)
        }
    }
}
