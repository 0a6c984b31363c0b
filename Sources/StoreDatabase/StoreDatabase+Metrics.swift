import GRDB
import StoreCore

extension StoreDatabase {
    /// How many stores are in each status, deleted included; every status is a key,
    /// with 0 when no store is in it. Read from one snapshot.
    public func countsByStatus() throws -> [StoreStatus: Int] {
        let rows = try read { db in
            try Row.fetchAll(db, StoreRecord
                .select(StoreRecord.Columns.status, count(SQL("*")).forKey("count"))
                .group(StoreRecord.Columns.status))
        }
        var counts = Dictionary(uniqueKeysWithValues: StoreStatus.allCases.map { ($0, 0) })
        for row in rows {
            let status = try StoreStatus(databaseText: row[0], in: "the store table")
            counts[status] = row[1]
        }
        return counts
    }

    /// Count, average, minimum, maximum, p50 and p95 (nearest rank) of the stores'
    /// `provisioningDurationMilliseconds`, over the stores that have one; every field
    /// zero when none has.
    public func provisioningDurationStats() throws -> DurationStats {
        let durations = try read { db in
            try Int64.fetchAll(db, StoreRecord
                .select(StoreRecord.Columns.provisioningDurationMilliseconds)
                .filter(StoreRecord.Columns.provisioningDurationMilliseconds != nil))
        }
        return DurationStats(durations: durations)
    }
}
