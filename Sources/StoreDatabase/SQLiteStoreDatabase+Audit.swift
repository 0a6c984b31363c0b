import Foundation
import GRDB
import StoreCore

/// The audit reads: each one statement with fixed text, cached per reader
/// connection (see SQLiteStoreDatabase+Stores.swift).
extension SQLiteStoreDatabase {
    public func listAudit(
        limit: Int,
        pageToken: String,
        storeID: String?
    ) async throws -> (events: [AuditEvent], nextPageToken: String) {
        let size = try PageSize.resolve(limit, defaultSize: 50, maximum: 1000, name: "limit")
        let before = try PageToken.auditID(pageToken)
        var conditions: [String] = []
        var arguments = StatementArguments()
        if let storeID {
            conditions.append("storeId = ?")
            arguments += [storeID]
        }
        if let before {
            conditions.append("id < ?")
            arguments += [before]
        }
        arguments += [size + 1]
        let sql = AuditRecord.selectSQL
            + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "))
            + " ORDER BY id DESC LIMIT ?"
        let records = try await readStatement { [arguments] db in
            try AuditRecord.fetchAll(db.cachedStatement(sql: sql), arguments: arguments)
        }
        let page = records.prefix(size)
        let events = try page.map { try $0.event() }
        guard records.count > size, let last = events.last else { return (events, "") }
        return (events, PageToken.token(forAuditID: last.id))
    }

    public func auditEvents(after afterID: Int64, storeID: String?, limit: Int) async throws -> [AuditEvent] {
        // A store's transitions only: a fleet upgrade's steps are not (they name no store).
        let sql = AuditRecord.selectSQL + " WHERE id > ?" + (storeID == nil ? " AND fleetUpgradeId IS NULL" : " AND storeId = ?")
            + " ORDER BY id ASC LIMIT ?"
        var arguments: StatementArguments = [afterID]
        if let storeID { arguments += [storeID] }
        arguments += [max(0, limit)]
        return try await readStatement { [arguments] db in
            try AuditRecord.fetchAll(db.cachedStatement(sql: sql), arguments: arguments).map { try $0.event() }
        }
    }

    public func activityTimes(since: Date, amongLast scanLimit: Int) async throws -> [(activity: Activity, time: Date)] {
        guard scanLimit > 0 else { return [] }
        let after = since.millisecondsSince1970
        return try await readStatement { db in
            let statement = try db.cachedStatement(sql: """
                SELECT "action" = ?, "time" FROM "audit"
                WHERE "id" > (SELECT COALESCE(MAX("id"), 0) FROM "audit") - ? AND "time" >= ?
                    AND ("action" = ? OR "toStatus" = ?)
                ORDER BY "id"
                """)
            let create = AuditAction.create.rawValue
            return try Row.fetchAll(statement, arguments: [create, scanLimit, after, create, StoreStatus.failed.rawValue]).map { row in
                (row[0] ? Activity.create : .failure, Date(millisecondsSince1970: row[1]))
            }
        }
    }

    public func recentFailures(limit: Int) async throws -> [RecentFailure] {
        guard limit > 0 else { return [] }
        return try await readStatement { db in
            let statement = try db.cachedStatement(sql: """
                SELECT f.*,
                    (SELECT n."toStatus" FROM "audit" n WHERE n."storeId" = f."storeId" AND n."id" > f."id" ORDER BY n."id" LIMIT 1),
                    s."status"
                FROM (\(AuditRecord.selectSQL) WHERE "toStatus" = ? ORDER BY "id" DESC LIMIT ?) f
                LEFT JOIN "store" s ON s."id" = f."storeId"
                ORDER BY f."id" DESC
                """)
            return try Row.fetchAll(statement, arguments: [StoreStatus.failed.rawValue, limit]).map { row in
                let next: String? = row[AuditRow.allColumns.count]
                let now: String? = row[AuditRow.allColumns.count + 1]
                return try RecentFailure(
                    event: AuditRecord(row: row).event(),
                    followedBy: next.map { try StoreStatus(databaseText: $0, in: "the audit table") },
                    storeStatus: now.map { try StoreStatus(databaseText: $0, in: "the store table") }
                )
            }
        }
    }

    public func auditCount(storeID: String?) async throws -> Int {
        try await readStatement { db in
            guard let storeID else { return try Int.fetchOne(db.cachedStatement(sql: "SELECT COUNT(*) FROM audit")) ?? 0 }
            return try Int.fetchOne(db.cachedStatement(sql: "SELECT COUNT(*) FROM audit WHERE storeId = ?"), arguments: [storeID]) ?? 0
        }
    }
}
