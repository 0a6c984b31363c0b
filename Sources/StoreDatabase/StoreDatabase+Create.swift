import GRDB
import StoreCore

extension StoreDatabase {
    /// Inserts a new queued store and its `create` audit row (actor `requestedBy`, from
    /// no status to queued, at the store's `createdAt`) in one write transaction.
    ///
    /// Inside that same transaction, in this order:
    /// - if `idempotencyKey` is non-empty and this `requestedBy` already created a store
    ///   with it (in any status), returns ``CreateOutcome/existing(_:)`` with that store
    ///   and writes nothing; an empty key counts as no key;
    /// - if a live store (any status but deleted) has the same name, throws
    ///   ``ErrorCode/storeNameTaken`` naming that store and its status;
    /// - if `maxLiveStores` or more stores are live, throws ``ErrorCode/quotaExceeded``.
    ///
    /// Writes are serialized, so the checks hold under any number of concurrent callers:
    /// N callers with room for M stores give exactly M creations. A partial unique index
    /// on live names backs the name check up (also reported as `storeNameTaken`).
    ///
    /// - Returns: the store as saved (dates to the millisecond) and its audit row.
    /// - Throws: the errors above; ``ErrorCode/internalError`` when `store` is not
    ///   ``StoreStatus/queued`` or its id exists already, or the database fails.
    public func createStore(
        _ store: Store,
        maxLiveStores: Int,
        requestedBy: String,
        idempotencyKey: String?,
        requestID: String?
    ) throws -> CreateOutcome {
        guard store.status == .queued else {
            throw PlatformError(.internalError, "a new store must be queued; store \(store.id) is \(store.status.rawValue)")
        }
        let key = idempotencyKey.flatMap { $0.isEmpty ? nil : $0 }
        // As the row stores it, so a retry from a very long actor still finds its store.
        let requestedBy = StoredText.actor(requestedBy)
        let deleted = StoreStatus.deleted.rawValue
        return try write { db in
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
            var audit = AuditRecord(
                store: saved, fromStatus: nil, time: saved.createdAt, actor: requestedBy,
                action: "create", message: "", requestID: requestID
            )
            return .created(saved, try audit.insertEvent(db))
        }
    }
}
