import Foundation
import GRDB
import StoreCore

extension StoreDatabase {
    /// Moves a store to status `to` and writes its audit row, in one write transaction.
    ///
    /// Loads the store; when `expectedFrom` is non-nil, its current status must be in it
    /// (so a background step that raced with another change fails instead of
    /// overwriting it); checks the move against ``StoreStatus/transitions``; applies
    /// `update` to the loaded store; sets `status` to `to` and `updatedAt` to `now`;
    /// saves it and inserts one audit row (`actor`, `action`, from the old status to
    /// `to`, `message`, `requestID`, at `now`). Either all of it is written or nothing.
    ///
    /// `update` runs inside the write transaction: keep it short and free of I/O. Its
    /// changes to `status` and `updatedAt` are overridden; it must not change `id`.
    ///
    /// - Returns: the store as saved (dates to the millisecond) and the audit row.
    /// - Throws: ``ErrorCode/notFound`` (`no store with id "…"`) when there is no such
    ///   store; ``ErrorCode/invalidStateTransition`` when the status is not in
    ///   `expectedFrom` or the move is illegal; ``ErrorCode/storeNameTaken`` when
    ///   `update` renames the store to a live store's name; ``ErrorCode/internalError``
    ///   when `update` changes the id or the database fails.
    public func transition(
        storeID: String,
        to: StoreStatus,
        expectedFrom: Set<StoreStatus>? = nil,
        action: String,
        actor: String,
        message: String = "",
        requestID: String? = nil,
        now: Date = Date(),
        update: (inout Store) -> Void = { _ in }
    ) throws -> Transition {
        try write { db in
            let record = try Self.existingRecord(storeID, db)
            var store = try record.store()
            let from = store.status
            if let expectedFrom, !expectedFrom.contains(from) {
                throw PlatformError.unexpectedStatus(storeName: store.name, action: action, status: from, expected: expectedFrom)
            }
            try from.checkTransition(to: to, storeName: store.name)

            update(&store)
            guard store.id == storeID else {
                throw PlatformError(.internalError, "a transition of store \(storeID) tried to change its id")
            }
            store.status = to
            store.updatedAt = now
            let saved = try Self.save(store, replacing: record, db)
            var audit = AuditRecord(
                store: saved, fromStatus: from, time: now, actor: actor, action: action,
                message: message, requestID: requestID
            )
            return Transition(store: saved, event: try audit.insertEvent(db))
        }
    }

    /// Changes fields of a store without changing its status (an error message, a URL,
    /// a start time) in one write transaction, and writes no audit row. Fields change
    /// exactly as `update` sets them: `updatedAt` moves only if `update` moves it.
    ///
    /// - Returns: the store as saved (dates to the millisecond).
    /// - Throws: ``ErrorCode/notFound`` when there is no such store;
    ///   ``ErrorCode/storeNameTaken`` when `update` renames the store to a live
    ///   store's name; ``ErrorCode/internalError`` when `update` changes the id or the
    ///   status (status changes go through ``transition(storeID:to:expectedFrom:action:actor:message:requestID:now:update:)``,
    ///   which writes their audit row) or the database fails.
    public func update(storeID: String, _ update: (inout Store) -> Void) throws -> Store {
        try write { db in
            let record = try Self.existingRecord(storeID, db)
            let original = try record.store()
            var store = original
            update(&store)
            guard store.id == original.id, store.status == original.status else {
                throw PlatformError(
                    .internalError,
                    "an update of store \(storeID) tried to change its id or status; status changes are transitions"
                )
            }
            return try Self.save(store, replacing: record, db)
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
