import GRDB
import StoreCore

extension StoreDatabase {
    /// The store with this id, in any status (deleted ones too); `nil` if none.
    public func store(id: String) throws -> Store? {
        try read { db in try StoreRecord.fetchOne(db, key: id)?.store() }
    }

    /// The stores with these ids, by id, in one read; ids with no store are left out.
    public func stores(ids: Set<String>) throws -> [String: Store] {
        guard !ids.isEmpty else { return [:] }
        return try read { db in
            var stores: [String: Store] = [:]
            for record in try StoreRecord.fetchAll(db, keys: Array(ids)) {
                let store = try record.store()
                stores[store.id] = store
            }
            return stores
        }
    }

    /// One page of stores, newest first (`createdAt` descending, then `id` descending).
    ///
    /// - Parameters:
    ///   - statuses: only stores in these statuses; empty means every status.
    ///   - pageSize: 1...500; 0 means 50, more than 500 means 500.
    ///   - pageToken: "" for the first page, else a `nextPageToken` this method
    ///     returned. Paging is by key (the last row's `createdAt` and `id`), so each
    ///     store appears exactly once across pages even while stores are added.
    /// - Returns: the page and the token of the next one, "" on the last page.
    /// - Throws: ``ErrorCode/invalidArgument`` for a negative page size or a token this
    ///   server did not issue (`page token is not one this server issued`).
    public func listStores(
        statuses: Set<StoreStatus>,
        pageSize: Int,
        pageToken: String
    ) throws -> (stores: [Store], nextPageToken: String) {
        let size = try PageSize.resolve(pageSize, defaultSize: 50, maximum: 500, name: "page size")
        let after = try PageToken.storeKey(pageToken)
        let createdAt = StoreRecord.Columns.createdAt
        let id = StoreRecord.Columns.id
        var request = StoreRecord.all()
        if !statuses.isEmpty {
            request = request.filter(statuses.map(\.rawValue).sorted().contains(StoreRecord.Columns.status))
        }
        if let after {
            request = request.filter(createdAt < after.createdAt || (createdAt == after.createdAt && id < after.id))
        }
        // One row more than the page tells whether another page follows.
        let records = try read { db in
            try request.order(createdAt.desc, id.desc).limit(size + 1).fetchAll(db)
        }
        let page = records.prefix(size)
        let stores = try page.map { try $0.store() }
        guard records.count > size, let last = page.last else { return (stores, "") }
        return (stores, PageToken.token(for: PageToken.StoreKey(createdAt: last.createdAt, id: last.id)))
    }

    /// Every store in one of `statuses`, oldest first (`createdAt`, then `id`): what
    /// the reconciler compares with the cluster. An empty set gives no stores. Uses
    /// the index on status.
    public func stores(inStatuses statuses: Set<StoreStatus>) throws -> [Store] {
        guard !statuses.isEmpty else { return [] }
        return try read { db in
            try StoreRecord
                .filter(statuses.map(\.rawValue).sorted().contains(StoreRecord.Columns.status))
                .order(StoreRecord.Columns.createdAt, StoreRecord.Columns.id)
                .fetchAll(db)
                .map { try $0.store() }
        }
    }

    /// How many stores are live (any status but deleted): what the quota counts.
    public func liveStoreCount() throws -> Int {
        try read { db in
            try StoreRecord.filter(StoreRecord.Columns.status != StoreStatus.deleted.rawValue).fetchCount(db)
        }
    }
}
