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

    /// Writes `revisions` (each added, or the next status of the one of its store and
    /// number: ``StoreRevision/requireSameRevision(version:status:rollbackTo:)``), after
    /// removing all those of the store `replacingThoseOf` names.
    static func save(
        _ revisions: [StoreRevision], replacingThoseOf storeID: String? = nil, _ connection: PostgresConnection, logger: Logger
    ) async throws {
        if let storeID {
            try await connection.run("DELETE FROM store_revision WHERE store_id = \(storeID)", logger: logger)
        }
        for revision in revisions {
            let actor = PostgresText.storable(StoredText.actor(revision.actor))
            let message = PostgresText.storable(StoredText.message(revision.message))
            let recorded = try await connection.run("""
                SELECT version, status, rollback_to FROM store_revision
                WHERE store_id = \(revision.storeID) AND revision = \(Int64(revision.revision))
                """, logger: logger)
            if let row = recorded.first {
                let (version, status, rollbackTo) = try row.decode((String, String, Int64?).self)
                try revision.requireSameRevision(version: version, status: status, rollbackTo: rollbackTo.map(Int.init))
                try await connection.run("""
                    UPDATE store_revision SET status = \(revision.status.rawValue), time = \(revision.time.millisecondsSince1970),
                        message = \(message)
                    WHERE store_id = \(revision.storeID) AND revision = \(Int64(revision.revision))
                    """, logger: logger)
                continue
            }
            try await connection.run("""
                INSERT INTO store_revision (store_id, revision, version, status, actor, time, message, rollback_to)
                VALUES (\(revision.storeID), \(Int64(revision.revision)), \(revision.version), \(revision.status.rawValue),
                    \(actor), \(revision.time.millisecondsSince1970), \(message), \(revision.rollbackTo.map(Int64.init)))
                """, logger: logger)
        }
    }
}
