import PostgresNIO
import StoreCore
import StoreDatabase

extension PostgresStoreDatabase {
    public func countsByStatus() async throws -> [StoreStatus: Int] {
        let logger = self.logger
        let rows = try await withConnection { connection in
            try await connection.run("SELECT status, count(*) FROM store GROUP BY status", logger: logger)
                .map { try $0.decode((String, Int).self) }
        }
        var counts = Dictionary(uniqueKeysWithValues: StoreStatus.allCases.map { ($0, 0) })
        for (text, count) in rows {
            counts[try StoreStatus(databaseText: text, in: "the store table")] = count
        }
        return counts
    }

    public func provisioningDurationStats() async throws -> DurationStats {
        let logger = self.logger
        let durations = try await withConnection { connection in
            try await connection.run(
                "SELECT provisioning_duration_ms FROM store WHERE provisioning_duration_ms IS NOT NULL", logger: logger
            )
            .map { try $0.decode(Int64.self) }
        }
        return DurationStats(durations: durations)
    }
}
