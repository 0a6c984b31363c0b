/// Token buckets that every replica of the daemon shares (PostgreSQL's `rate_bucket`
/// table, Sources/PostgresStoreDatabase/PostgresStoreDatabase+RateBuckets.swift), so
/// that a caller's rate limits hold across replicas: ``RateLimiter`` asks them after
/// its own buckets admitted a call.
public protocol SharedRateBuckets: Sendable {
    /// Refills `identity`'s shared buckets to now at `limits`' rates, then takes one
    /// token from its requests bucket and, when `isCreate`, one from its creates
    /// bucket: both, or none when either has less than one token. A limit of
    /// `Int.max` is unlimited: its bucket is neither checked nor taken from.
    func takeRateTokens(identity: String, limits: RateLimits, isCreate: Bool) async throws -> SharedRateTake
}

/// What ``SharedRateBuckets/takeRateTokens(identity:limits:isCreate:)`` did.
public struct SharedRateTake: Sendable, Equatable {
    /// Whether the tokens were taken (the call is admitted).
    public var admitted: Bool
    /// The tokens left in each bucket afterwards (`infinity` when unlimited).
    public var requestTokens: Double
    public var createTokens: Double

    public init(admitted: Bool, requestTokens: Double, createTokens: Double) {
        self.admitted = admitted
        self.requestTokens = requestTokens
        self.createTokens = createTokens
    }
}
