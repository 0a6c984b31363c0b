import Foundation
import GRDB
import StoreCore

extension SQLiteStoreDatabase {
    public func storeRevisions(storeID: String) async throws -> [StoreRevision] {
        try await read { db in
            let rows = try Row.fetchAll(
                db.cachedStatement(sql: """
                    SELECT revision, version, status, actor, time, message, rollbackTo FROM store_revision
                    WHERE storeId = ? ORDER BY revision DESC
                    """),
                arguments: [storeID]
            )
            return try rows.map { row in
                let status: String = row[2]
                guard let revisionStatus = RevisionStatus(rawValue: status) else {
                    throw PlatformError(.internalError, "the store database holds an unknown revision status \(status.debugDescription) for store \(storeID)")
                }
                return StoreRevision(
                    storeID: storeID, revision: row[0], version: row[1], status: revisionStatus, actor: row[3],
                    time: Date(millisecondsSince1970: row[4]), message: row[5], rollbackTo: row[6]
                )
            }
        }
    }

    /// Writes `revisions` (each added, or the next status of the one of its store and
    /// number: ``StoreRevision/requireSameRevision(version:status:rollbackTo:)``), after
    /// removing all those of the store `replacingThoseOf` names.
    static func save(_ revisions: [StoreRevision], replacingThoseOf storeID: String? = nil, _ db: Database) throws {
        if let storeID {
            try db.execute(sql: "DELETE FROM store_revision WHERE storeId = ?", arguments: [storeID])
        }
        for revision in revisions {
            let recorded = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT version, status, rollbackTo FROM store_revision WHERE storeId = ? AND revision = ?"),
                arguments: [revision.storeID, revision.revision]
            )
            if let recorded {
                try revision.requireSameRevision(version: recorded[0], status: recorded[1], rollbackTo: recorded[2])
                try db.cachedStatement(sql: """
                    UPDATE store_revision SET status = ?, time = ?, message = ? WHERE storeId = ? AND revision = ?
                    """).execute(arguments: [
                        revision.status.rawValue, revision.time.millisecondsSince1970, StoredText.message(revision.message),
                        revision.storeID, revision.revision,
                    ])
                continue
            }
            try db.cachedStatement(sql: """
                INSERT INTO store_revision (storeId, revision, version, status, actor, time, message, rollbackTo)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [
                    revision.storeID, revision.revision, revision.version, revision.status.rawValue,
                    StoredText.actor(revision.actor), revision.time.millisecondsSince1970, StoredText.message(revision.message),
                    revision.rollbackTo,
                ])
        }
    }
}
