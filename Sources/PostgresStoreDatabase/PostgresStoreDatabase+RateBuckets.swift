import Foundation
import PostgresNIO
import StoreCore

extension PostgresStoreDatabase {
    // One statement each, outside ``writeTransaction(_:)``: they change no store or
    // audit row, so they do not count in ``writeGeneration``.

    /// One round trip: the `take_rate_tokens` function (migration v5-rate-buckets)
    /// refills and takes under the row's lock, by the server's clock.
    public func takeRateTokens(identity: String, limits: RateLimits, isCreate: Bool) async throws -> SharedRateTake {
        let logger = self.logger
        let requests = Self.rate(limits.requestsPerMinute)
        let creates = Self.rate(limits.createsPerMinute)
        return try await withConnection { connection in
            let rows = try await connection.run(
                "SELECT admitted, requests_left, creates_left FROM take_rate_tokens(\(identity), \(requests), \(creates), \(isCreate))",
                logger: logger
            )
            guard let row = rows.first else {
                throw PlatformError(.internalError, "take_rate_tokens returned no row")
            }
            let (admitted, requestTokens, createTokens) = try row.decode((Bool, Double, Double).self)
            return SharedRateTake(admitted: admitted, requestTokens: requestTokens, createTokens: createTokens)
        }
    }

    public func forgetFullRateBuckets() async throws {
        let logger = self.logger
        try await withConnection { connection in
            try await connection.run(
                "DELETE FROM rate_bucket WHERE refilled_at < extract(epoch FROM clock_timestamp()) - \(SharedRateTake.fullAfterSeconds)",
                logger: logger
            )
        }
    }

    /// A limit as `take_rate_tokens` takes it: tokens per minute, `nil` when unlimited.
    private static func rate(_ limit: Int) -> Double? {
        limit == .max ? nil : Double(max(0, limit))
    }
}
