import GRDB
import StoreCore

extension SQLiteStoreDatabase {
    public func listAudit(
        limit: Int,
        pageToken: String,
        storeID: String?
    ) async throws -> (events: [AuditEvent], nextPageToken: String) {
        let size = try PageSize.resolve(limit, defaultSize: 50, maximum: 1000, name: "limit")
        let before = try PageToken.auditID(pageToken)
        var request = AuditRecord.all()
        if let storeID {
            request = request.filter(AuditRecord.Columns.storeId == storeID)
        }
        if let before {
            request = request.filter(AuditRecord.Columns.id < before)
        }
        let records = try await read { [request] db in
            try request.order(AuditRecord.Columns.id.desc).limit(size + 1).fetchAll(db)
        }
        let page = records.prefix(size)
        let events = try page.map { try $0.event() }
        guard records.count > size, let last = events.last else { return (events, "") }
        return (events, PageToken.token(forAuditID: last.id))
    }

    public func auditEvents(after afterID: Int64, storeID: String?, limit: Int) async throws -> [AuditEvent] {
        var request = AuditRecord.filter(AuditRecord.Columns.id > afterID)
        if let storeID {
            request = request.filter(AuditRecord.Columns.storeId == storeID)
        }
        return try await read { [request] db in
            try request.order(AuditRecord.Columns.id.asc).limit(max(0, limit)).fetchAll(db).map { try $0.event() }
        }
    }

    public func recentFailures(limit: Int) async throws -> [AuditEvent] {
        guard limit > 0 else { return [] }
        return try await read { db in
            try AuditRecord
                .filter(AuditRecord.Columns.toStatus == StoreStatus.failed.rawValue)
                .order(AuditRecord.Columns.id.desc)
                .limit(limit)
                .fetchAll(db)
                .map { try $0.event() }
        }
    }

    public func auditCount(storeID: String?) async throws -> Int {
        try await read { db in
            guard let storeID else { return try AuditRecord.fetchCount(db) }
            return try AuditRecord.filter(AuditRecord.Columns.storeId == storeID).fetchCount(db)
        }
    }
}
