import Foundation
import PostgresNIO
import StoreCore
import StoreDatabase

extension PostgresStoreDatabase {
    public func storeRevisions(storeID: String) async throws -> [StoreRevision] {
        let logger = self.logger
        return try await withConnection { connection in
                let rows = try await connection.run("""
                    SELECT revision, version, status, actor, time, message, rollback_to FROM store_revision
                    WHERE store_id = \(storeID) ORDER BY revision DESC
                    """, logger: logger)
                return try rows.map { row in
                    let (revision, version, status, actor, time, message, rollbackTo) = try row.decode(
                        (Int64, String, String, String, Int64, String, Int64?).self
                    )
                    guard let revisionStatus = RevisionStatus(rawValue: status) else {
                        throw PlatformError(.internalError, "the store database holds an unknown revision status \(status.debugDescription) for store \(storeID)")
                    }
                    return StoreRevision(
                        storeID: storeID, revision: Int(revision), version: version, status: revisionStatus, actor: actor,
                        time: Date(millisecondsSince1970: time), message: message, rollbackTo: rollbackTo.map(Int.init)
                    )
                }
        }
    }

    /// Writes `revisions` (each added, or replacing the one of its store and number),
    /// after removing all those of the store `replacingThoseOf` names.
    static func save(
        _ revisions: [StoreRevision], replacingThoseOf storeID: String? = nil, _ connection: PostgresConnection, logger: Logger
    ) async throws {
        if let storeID {
            try await connection.run("DELETE FROM store_revision WHERE store_id = \(storeID)", logger: logger)
        }
        for revision in revisions {
            let actor = PostgresText.storable(StoredText.actor(revision.actor))
            let message = PostgresText.storable(StoredText.message(revision.message))
            try await connection.run("""
                INSERT INTO store_revision (store_id, revision, version, status, actor, time, message, rollback_to)
                VALUES (\(revision.storeID), \(Int64(revision.revision)), \(revision.version), \(revision.status.rawValue),
                    \(actor), \(revision.time.millisecondsSince1970), \(message), \(revision.rollbackTo.map(Int64.init)))
                ON CONFLICT (store_id, revision) DO UPDATE SET version = EXCLUDED.version, status = EXCLUDED.status,
                    actor = EXCLUDED.actor, time = EXCLUDED.time, message = EXCLUDED.message, rollback_to = EXCLUDED.rollback_to
                """, logger: logger)
        }
    }
}
