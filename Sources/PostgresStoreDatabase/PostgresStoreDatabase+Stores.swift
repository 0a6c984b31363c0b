import PostgresNIO
import StoreCore
import StoreDatabase

extension PostgresStoreDatabase {
    public func store(id: String) async throws -> Store? {
        let logger = self.logger
        return try await withConnection { connection in
            let rows = try await connection.run(
                "SELECT \(unescaped: PostgresStoreRow.columns) FROM store WHERE id = \(id)", logger: logger
            )
            return try rows.first.map { try PostgresStoreRow($0).store() }
        }
    }

    public func liveStore(named name: String) async throws -> Store? {
        let logger = self.logger
        return try await withConnection { connection in
            let rows = try await connection.run(
                "SELECT \(unescaped: PostgresStoreRow.columns) FROM store WHERE name = \(name) AND status <> 'deleted'", logger: logger
            )
            return try rows.first.map { try PostgresStoreRow($0).store() }
        }
    }

    public func stores(ids: Set<String>) async throws -> [String: Store] {
        guard !ids.isEmpty else { return [:] }
        let logger = self.logger
        return try await withConnection { connection in
            let rows = try await connection.run(
                "SELECT \(unescaped: PostgresStoreRow.columns) FROM store WHERE id = ANY(\(Array(ids)))", logger: logger
            )
            var stores: [String: Store] = [:]
            for row in rows {
                let store = try PostgresStoreRow(row).store()
                stores[store.id] = store
            }
            return stores
        }
    }

    public func listStores(
        statuses: Set<StoreStatus>,
        nameContains: String,
        pageSize: Int,
        pageToken: String
    ) async throws -> (stores: [Store], nextPageToken: String) {
        let size = try PageSize.resolve(pageSize, defaultSize: 50, maximum: 500, name: "page_size")
        let after = try PageToken.storeKey(pageToken)
        let statusTexts = statuses.map(\.rawValue).sorted()
        let logger = self.logger
        // One row more than the page tells whether another page follows. The
        // statement is planned with its values, so the unused conditions fold away.
        let rows = try await withConnection { connection in
            try await connection.run("""
                SELECT \(unescaped: PostgresStoreRow.columns) FROM store
                WHERE (cardinality(\(statusTexts)::text[]) = 0 OR status = ANY(\(statusTexts)))
                  AND (\(nameContains)::text = '' OR strpos(name, \(nameContains)) > 0)
                  AND (\(after?.createdAt)::bigint IS NULL
                       OR created_at < \(after?.createdAt)
                       OR (created_at = \(after?.createdAt) AND id < \(after?.id)))
                ORDER BY created_at DESC, id DESC
                LIMIT \(size + 1)
                """, logger: logger)
                .map(PostgresStoreRow.init)
        }
        let page = rows.prefix(size)
        let stores = try page.map { try $0.store() }
        guard rows.count > size, let last = page.last else { return (stores, "") }
        return (stores, PageToken.token(for: PageToken.StoreKey(createdAt: last.createdAt, id: last.id)))
    }

    public func stores(inStatuses statuses: Set<StoreStatus>) async throws -> [Store] {
        guard !statuses.isEmpty else { return [] }
        let statusTexts = statuses.map(\.rawValue).sorted()
        let logger = self.logger
        return try await withConnection { connection in
            try await connection.run("""
                SELECT \(unescaped: PostgresStoreRow.columns) FROM store
                WHERE status = ANY(\(statusTexts))
                ORDER BY created_at, id
                """, logger: logger)
                .map { try PostgresStoreRow($0).store() }
        }
    }

    public func liveStoreCount() async throws -> Int {
        let logger = self.logger
        return try await withConnection { connection in
            try await Self.liveStoreCount(connection, logger: logger)
        }
    }
}
