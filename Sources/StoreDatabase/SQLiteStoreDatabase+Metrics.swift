import GRDB
import StoreCore

extension SQLiteStoreDatabase {
    public func countsByStatus() async throws -> [StoreStatus: Int] {
        let rows = try await read { db in
            try Row.fetchAll(db, StoreRecord
                .select(StoreRecord.Columns.status, count(SQL("*")).forKey("count"))
                .group(StoreRecord.Columns.status))
                .map { row -> (String, Int) in (row[0], row[1]) }
        }
        var counts = Dictionary(uniqueKeysWithValues: StoreStatus.allCases.map { ($0, 0) })
        for (text, count) in rows {
            counts[try StoreStatus(databaseText: text, in: "the store table")] = count
        }
        return counts
    }

    public func provisioningDurationStats() async throws -> DurationStats {
        let durations = try await read { db in
            try Int64.fetchAll(db, StoreRecord
                .select(StoreRecord.Columns.provisioningDurationMilliseconds)
                .filter(StoreRecord.Columns.provisioningDurationMilliseconds != nil))
        }
        return DurationStats(durations: durations)
    }
}
