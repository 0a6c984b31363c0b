import GRDB
import StoreCore

extension SQLiteStoreDatabase {
    public func store(id: String) async throws -> Store? {
        try await read { db in try StoreRecord.fetchOne(db, key: id)?.store() }
    }

    public func stores(ids: Set<String>) async throws -> [String: Store] {
        guard !ids.isEmpty else { return [:] }
        return try await read { db in
            var stores: [String: Store] = [:]
            for record in try StoreRecord.fetchAll(db, keys: Array(ids)) {
                let store = try record.store()
                stores[store.id] = store
            }
            return stores
        }
    }

    public func listStores(
        statuses: Set<StoreStatus>,
        pageSize: Int,
        pageToken: String
    ) async throws -> (stores: [Store], nextPageToken: String) {
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
        let records = try await read { [request] db in
            try request.order(createdAt.desc, id.desc).limit(size + 1).fetchAll(db)
        }
        let page = records.prefix(size)
        let stores = try page.map { try $0.store() }
        guard records.count > size, let last = page.last else { return (stores, "") }
        return (stores, PageToken.token(for: PageToken.StoreKey(createdAt: last.createdAt, id: last.id)))
    }

    public func stores(inStatuses statuses: Set<StoreStatus>) async throws -> [Store] {
        guard !statuses.isEmpty else { return [] }
        return try await read { db in
            try StoreRecord
                .filter(statuses.map(\.rawValue).sorted().contains(StoreRecord.Columns.status))
                .order(StoreRecord.Columns.createdAt, StoreRecord.Columns.id)
                .fetchAll(db)
                .map { try $0.store() }
        }
    }

    public func liveStoreCount() async throws -> Int {
        try await read { db in
            try StoreRecord.filter(StoreRecord.Columns.status != StoreStatus.deleted.rawValue).fetchCount(db)
        }
    }
}
