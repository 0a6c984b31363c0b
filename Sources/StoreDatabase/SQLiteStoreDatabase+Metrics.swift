import GRDB
import StoreCore

extension SQLiteStoreDatabase {
    public func countsByStatus() async throws -> [StoreStatus: Int] {
        let rows = try await readStatement { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT status, COUNT(*) FROM store GROUP BY status"))
                .map { row -> (String, Int) in (row[0], row[1]) }
        }
        var counts = Dictionary(uniqueKeysWithValues: StoreStatus.allCases.map { ($0, 0) })
        for (text, count) in rows {
            counts[try StoreStatus(databaseText: text, in: "the store table")] = count
        }
        return counts
    }

    public func provisioningDurationStats() async throws -> DurationStats {
        let durations = try await readStatement { db in
            try Int64.fetchAll(db.cachedStatement(
                sql: "SELECT provisioningDurationMilliseconds FROM store WHERE provisioningDurationMilliseconds IS NOT NULL"
            ))
        }
        return DurationStats(durations: durations)
    }
}
