import GRDB
import StoreCore

extension SQLiteStoreDatabase {
    public func importStores(_ stores: [Store], actor: String) async throws {
        try await write { db in
            var imported: [Transition] = []
            for store in stores {
                let record = StoreRecord(store, requestedBy: actor, idempotencyKey: nil)
                do {
                    try record.insert(db)
                } catch let error as DatabaseError where StoreRecord.isLiveNameViolation(error) {
                    throw PlatformError.storeNameTaken(store.name)
                }
                var audit = AuditRecord(
                    store: store, fromStatus: nil, time: store.updatedAt, actor: actor, action: .import, message: "", requestID: nil
                )
                imported.append(Transition(store: try record.store(), event: try audit.insertEvent(db)))
            }
            self.announceOnCommit(imported, db)
        }
    }
}
