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
                WHERE id > \(afterID) AND (\(storeID)::text IS NULL OR store_id = \(storeID))
                ORDER BY id
                LIMIT \(max(0, limit))
                """, logger: logger)
                .map { try PostgresAuditRow($0).event() }
        }
    }

    public func actionTimes(_ actions: Set<AuditAction>, since: Date, amongLast scanLimit: Int) async throws
        -> [(action: AuditAction, time: Date)]
    {
        guard !actions.isEmpty, scanLimit > 0 else { return [] }
        let names = actions.map(\.rawValue).sorted()
        let after = since.millisecondsSince1970
        let logger = self.logger
        return try await withConnection { connection in
            try await connection.run("""
                SELECT action, time FROM audit
                WHERE id > (SELECT COALESCE(MAX(id), 0) FROM audit) - \(Int64(scanLimit)) AND time >= \(after)
                    AND action = ANY(\(names))
                ORDER BY id
                """, logger: logger)
                .map { row in
                    let (action, time) = try row.decode((String, Int64).self)
                    return (AuditAction(rawValue: action), Date(millisecondsSince1970: time))
                }
        }
    }

    public func recentFailures(limit: Int) async throws -> [AuditEvent] {
        guard limit > 0 else { return [] }
        let logger = self.logger
        return try await withConnection { connection in
            try await connection.run("""
                SELECT \(unescaped: PostgresAuditRow.columns) FROM audit
                WHERE to_status = \(StoreStatus.failed.rawValue)
                ORDER BY id DESC
                LIMIT \(limit)
                """, logger: logger)
                .map { try PostgresAuditRow($0).event() }
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
