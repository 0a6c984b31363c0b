import GRDB
import StoreCore

extension StoreDatabase {
    /// Inserts stores exactly as given (any status), each with one "import" audit
    /// row from no status to its status, all in one transaction. For seeding a
    /// database (benchmarks, migrations from another platform); the usual path
    /// for new stores is ``createStore(_:maxLiveStores:requestedBy:idempotencyKey:requestID:)``.
    /// Throws ``ErrorCode/storeNameTaken`` when two live stores share a name.
    public func importStores(_ stores: [Store], actor: String) throws {
        try write { db in
            for store in stores {
                let record = StoreRecord(store, requestedBy: actor, idempotencyKey: nil)
                do {
                    try record.insert(db)
                } catch let error as DatabaseError where StoreRecord.isLiveNameViolation(error) {
                    throw PlatformError.storeNameTaken(store.name)
                }
                var audit = AuditRecord(
                    store: store, fromStatus: nil, time: store.updatedAt, actor: actor, action: "import", message: "", requestID: nil
                )
                try audit.insert(db)
            }
        }
    }
}
