import GRDB
import StoreCore

extension StoreDatabase {
    /// One page of the audit log, newest first (descending row id).
    ///
    /// - Parameters:
    ///   - limit: 1...1000; 0 means 50, more than 1000 means 1000.
    ///   - pageToken: "" for the first page, else a `nextPageToken` this method
    ///     returned: the page continues before that row.
    ///   - storeID: only that store's rows; `nil` means every store.
    /// - Returns: the rows and the token of the next page, "" on the last page.
    /// - Throws: ``ErrorCode/invalidArgument`` for a negative limit or a token this
    ///   server did not issue.
    public func listAudit(
        limit: Int,
        pageToken: String,
        storeID: String?
    ) throws -> (events: [AuditEvent], nextPageToken: String) {
        let size = try PageSize.resolve(limit, defaultSize: 50, maximum: 1000, name: "limit")
        let before = try PageToken.auditID(pageToken)
        var request = AuditRecord.all()
        if let storeID {
            request = request.filter(AuditRecord.Columns.storeId == storeID)
        }
        if let before {
            request = request.filter(AuditRecord.Columns.id < before)
        }
        let records = try read { db in
            try request.order(AuditRecord.Columns.id.desc).limit(size + 1).fetchAll(db)
        }
        let page = records.prefix(size)
        let events = try page.map { try $0.event() }
        guard records.count > size, let last = events.last else { return (events, "") }
        return (events, PageToken.token(forAuditID: last.id))
    }

    /// Audit rows written after the row `afterID`, oldest first, at most `limit`:
    /// what a watcher that last saw `afterID` missed.
    public func auditEvents(after afterID: Int64, storeID: String?, limit: Int) throws -> [AuditEvent] {
        var request = AuditRecord.filter(AuditRecord.Columns.id > afterID)
        if let storeID {
            request = request.filter(AuditRecord.Columns.storeId == storeID)
        }
        return try read { db in
            try request.order(AuditRecord.Columns.id.asc).limit(max(0, limit)).fetchAll(db).map { try $0.event() }
        }
    }

    /// The last `limit` audit rows that moved a store to ``StoreStatus/failed``, newest
    /// first, with the reason in their message. `limit` 0 or less gives none.
    public func recentFailures(limit: Int) throws -> [AuditEvent] {
        guard limit > 0 else { return [] }
        return try read { db in
            try AuditRecord
                .filter(AuditRecord.Columns.toStatus == StoreStatus.failed.rawValue)
                .order(AuditRecord.Columns.id.desc)
                .limit(limit)
                .fetchAll(db)
                .map { try $0.event() }
        }
    }

    /// How many audit rows there are, for one store or (`nil`) for all.
    public func auditCount(storeID: String? = nil) throws -> Int {
        try read { db in
            guard let storeID else { return try AuditRecord.fetchCount(db) }
            return try AuditRecord.filter(AuditRecord.Columns.storeId == storeID).fetchCount(db)
        }
    }
}
