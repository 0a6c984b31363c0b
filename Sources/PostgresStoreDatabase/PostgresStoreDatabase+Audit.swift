import Foundation
import PostgresNIO
import StoreCore
import StoreDatabase

extension PostgresStoreDatabase {
    public func listAudit(
        limit: Int,
        pageToken: String,
        storeID: String?
    ) async throws -> (events: [AuditEvent], nextPageToken: String) {
        let size = try PageSize.resolve(limit, defaultSize: 50, maximum: 1000, name: "limit")
        let before = try PageToken.auditID(pageToken)
        let logger = self.logger
        let rows = try await withConnection { connection in
            try await connection.run("""
                SELECT \(unescaped: PostgresAuditRow.columns) FROM audit
                WHERE (\(storeID)::text IS NULL OR store_id = \(storeID))
                  AND (\(before)::bigint IS NULL OR id < \(before))
                ORDER BY id DESC
                LIMIT \(size + 1)
                """, logger: logger)
                .map(PostgresAuditRow.init)
        }
        let events = try rows.prefix(size).map { try $0.event() }
        guard rows.count > size, let last = events.last else { return (events, "") }
        return (events, PageToken.token(forAuditID: last.id))
    }

    public func auditEvents(after afterID: Int64, storeID: String?, limit: Int) async throws -> [AuditEvent] {
        let logger = self.logger
        return try await withConnection { connection in
            try await connection.run("""
                SELECT \(unescaped: PostgresAuditRow.columns) FROM audit
                WHERE id > \(afterID) AND (\(storeID)::text IS NULL OR store_id = \(storeID)) AND fleet_upgrade_id IS NULL
                ORDER BY id
                LIMIT \(max(0, limit))
                """, logger: logger)
                .map { try PostgresAuditRow($0).event() }
        }
    }

    public func activityTimes(since: Date, amongLast scanLimit: Int) async throws -> [(activity: Activity, time: Date)] {
        guard scanLimit > 0 else { return [] }
        let after = since.millisecondsSince1970
        let create = AuditAction.create.rawValue
        let failed = StoreStatus.failed.rawValue
        let logger = self.logger
        return try await withConnection { connection in
            try await connection.run("""
                SELECT action = \(create), time FROM audit
                WHERE id > (SELECT COALESCE(MAX(id), 0) FROM audit) - \(Int64(scanLimit)) AND time >= \(after)
                    AND (action = \(create) OR to_status = \(failed))
                ORDER BY id
                """, logger: logger)
                .map { row in
                    let (isCreate, time) = try row.decode((Bool, Int64).self)
                    return (isCreate ? Activity.create : .failure, Date(millisecondsSince1970: time))
                }
        }
    }

    public func recentFailures(limit: Int) async throws -> [RecentFailure] {
        guard limit > 0 else { return [] }
        let logger = self.logger
        return try await withConnection { connection in
            try await connection.run("""
                SELECT \(unescaped: PostgresAuditRow.columns.split(separator: ", ").map { "f." + $0 }.joined(separator: ", ")),
                    (SELECT n.to_status FROM audit n WHERE n.store_id = f.store_id AND n.id > f.id ORDER BY n.id LIMIT 1),
                    s.status
                FROM (SELECT \(unescaped: PostgresAuditRow.columns) FROM audit
                      WHERE to_status = \(StoreStatus.failed.rawValue) ORDER BY id DESC LIMIT \(limit)) f
                LEFT JOIN store s ON s.id = f.store_id
                ORDER BY f.id DESC
                """, logger: logger)
                .map { row in
                    let columns = row.makeRandomAccess()
                    let next = try columns[AuditRow.allColumns.count].decode(String?.self)
                    let now = try columns[AuditRow.allColumns.count + 1].decode(String?.self)
                    return try RecentFailure(
                        event: PostgresAuditRow(row).event(),
                        followedBy: next.map { try StoreStatus(databaseText: $0, in: "the audit table") },
                        storeStatus: now.map { try StoreStatus(databaseText: $0, in: "the store table") }
                    )
                }
        }
    }

    public func auditCount(storeID: String?) async throws -> Int {
        let logger = self.logger
        return try await withConnection { connection in
            let rows = try await connection.run(
                "SELECT count(*) FROM audit WHERE (\(storeID)::text IS NULL OR store_id = \(storeID))", logger: logger
            )
            return try rows.first?.decode(Int.self) ?? 0
        }
    }
}
