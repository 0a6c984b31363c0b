import Foundation
import GRDB
import StoreCore

/// The store reads. Each is one SQL statement with fixed text, prepared once per
/// reader connection and then taken from GRDB's statement cache
/// (`cachedStatement(sql:)`); statuses and ids are bound as arguments, never
/// spliced into the text. Being one statement, each read sees one snapshot
/// without an explicit transaction (``readStatement(_:)``).
extension SQLiteStoreDatabase {
    public func store(id: String) async throws -> Store? {
        try await readStatement { db in
            let statement = try db.cachedStatement(sql: StoreRecord.selectSQL + " WHERE id = ?")
            return try StoreRecord.readOne(statement, arguments: [id])?.store()
        }
    }

    public func liveStore(named name: String) async throws -> Store? {
        try await readStatement { db in
            let statement = try db.cachedStatement(sql: StoreRecord.selectSQL + " WHERE name = ? AND status != ?")
            return try StoreRecord.readOne(statement, arguments: [name, StoreStatus.deleted.rawValue])?.store()
        }
    }

    public func stores(ids: Set<String>) async throws -> [String: Store] {
        guard !ids.isEmpty else { return [:] }
        let list = try Self.jsonArray(ids)
        return try await readStatement { db in
            let statement = try db.cachedStatement(sql: StoreRecord.selectSQL + " WHERE id IN (SELECT value FROM json_each(?))")
            var stores: [String: Store] = [:]
            for record in try StoreRecord.readAll(statement, arguments: [list]) {
                let store = try record.store()
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
        // One SQL text per (number of statuses, name or not, paging or not): a handful in all.
        var conditions: [String] = []
        var arguments = StatementArguments()
        if !statuses.isEmpty {
            conditions.append(Self.statusCondition(count: statuses.count))
            arguments += StatementArguments(statuses.map(\.rawValue).sorted())
        }
        if !nameContains.isEmpty {
            conditions.append("instr(name, ?) > 0")
            arguments += [nameContains]
        }
        if let after {
            conditions.append("(createdAt < ? OR (createdAt = ? AND id < ?))")
            arguments += [after.createdAt, after.createdAt, after.id]
        }
        // One row more than the page tells whether another page follows.
        arguments += [size + 1]
        let sql = StoreRecord.selectSQL
            + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "))
            + " ORDER BY createdAt DESC, id DESC LIMIT ?"
        let records = try await readStatement { [arguments] db in
            try StoreRecord.readAll(db.cachedStatement(sql: sql), arguments: arguments)
        }
        let page = records.prefix(size)
        let stores = try page.map { try $0.store() }
        guard records.count > size, let last = page.last else { return (stores, "") }
        return (stores, PageToken.token(for: PageToken.StoreKey(createdAt: last.createdAt, id: last.id)))
    }

    public func stores(inStatuses statuses: Set<StoreStatus>) async throws -> [Store] {
        guard !statuses.isEmpty else { return [] }
        let sql = StoreRecord.selectSQL + " WHERE " + Self.statusCondition(count: statuses.count) + " ORDER BY createdAt, id"
        let arguments = StatementArguments(statuses.map(\.rawValue).sorted())
        return try await readStatement { db in
            try StoreRecord.readAll(db.cachedStatement(sql: sql), arguments: arguments).map { try $0.store() }
        }
    }

    public func liveStoreCount() async throws -> Int {
        try await readStatement { db in
            try Int.fetchOne(db.cachedStatement(sql: "SELECT COUNT(*) FROM store WHERE status != ?"), arguments: [StoreStatus.deleted.rawValue]) ?? 0
        }
    }

    /// `values` as one JSON array: any number of values in one fixed statement, as
    /// `IN (SELECT value FROM json_each(?))`.
    static func jsonArray(_ values: some Sequence<String>) throws -> String {
        String(decoding: try JSONEncoder().encode(Array(values)), as: UTF8.self)
    }

    /// `status IN (?, ?, …)` with `count` placeholders.
    static func statusCondition(count: Int) -> String {
        "status IN (" + Array(repeating: "?", count: count).joined(separator: ", ") + ")"
    }
}
