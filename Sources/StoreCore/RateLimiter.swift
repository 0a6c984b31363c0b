import Synchronization

/// Token-bucket rate limiting per caller identity (a uid, a token's name, an address).
///
/// Each identity has two buckets: one for every request and one for store creations; a
/// create takes a token from both. A bucket holds at most its per-minute limit and refills
/// continuously at limit/60 tokens per second, so a caller may burst its whole minute's
/// allowance and then proceeds at the steady rate. A refused request takes no token.
///
/// Memory is bounded: at most `maxIdentities` identities are tracked. When one more arrives,
/// buckets that have refilled completely are dropped first (a full bucket behaves exactly
/// like an untracked one), then the least recently seen identities are evicted, down to 90%
/// of the bound so the sweep runs rarely. An evicted caller starts again with full buckets.
///
/// Thread-safe: every method may be called from any thread or task; state is behind a
/// `Mutex`, and calls never block on anything but that lock.
public final class RateLimiter: Sendable {
    private let state: Mutex<State>
    private let now: @Sendable () -> ContinuousClock.Instant

    /// - Parameters:
    ///   - limits: the limits to enforce; change them later with ``update(limits:)``.
    ///   - now: the clock; tests inject one they advance by hand. It is called outside the
    ///     lock and may go backwards (treated as no time passing).
    ///   - maxIdentities: how many identities to track at most; at least 1.
    public init(
        limits: RateLimits,
        now: @escaping @Sendable () -> ContinuousClock.Instant = { .now },
        maxIdentities: Int = 10_000
    ) {
        self.now = now
        self.state = Mutex(State(limits: limits, maxIdentities: max(1, maxIdentities)))
    }

    /// The limits in force.
    public var limits: RateLimits {
        state.withLock { $0.limits }
    }

    /// How many requests have been refused with ``ErrorCode/rateLimited`` since this
    /// limiter was made.
    public var refusals: Int {
        state.withLock { $0.refusals }
    }

    /// How many identities are tracked now; never more than `maxIdentities`.
    public var trackedIdentities: Int {
        state.withLock { $0.buckets.count }
    }

    /// Replaces the limits, effective for the next check. Tracked callers keep the tokens
    /// they had earned under the old limits (capped at the new ones) and refill at the new
    /// rate from now on.
    public func update(limits: RateLimits) {
        let instant = now()
        state.withLock { $0.update(limits: limits, at: instant) }
    }

    /// Admits one request from `identity`, taking a token from its general bucket and, if
    /// `isCreate`, from its creates bucket too.
    ///
    /// - Throws: ``PlatformError`` with ``ErrorCode/rateLimited`` when a bucket is empty.
    ///   Its message says which limit was hit and when to retry; its
    ///   `retryAfterMilliseconds` is how long until the request would be admitted
    ///   (rounded up; 60,000 when a limit is 0, since only a new configuration helps then).
    ///   The message never contains the identity, which may be a credential.
    public func check(identity: String, isCreate: Bool) throws {
        let instant = now()
        if let refusal = state.withLock({ $0.check(identity: identity, isCreate: isCreate, at: instant) }) {
            throw refusal
        }
    }
}

extension RateLimiter {
    /// One identity's buckets.
    fileprivate struct Bucket {
        var requestTokens: Double
        var createTokens: Double
        var refilledAt: ContinuousClock.Instant
        /// From ``State/sequence``: larger is more recently seen. A counter rather than a
        /// time, so the order is strict even when the clock does not move.
        var lastSeen: UInt64
    }

    /// One class of limit, as the bucket arithmetic needs it.
    fileprivate struct Rate {
        /// Tokens per minute, also the bucket's capacity; `nil` when unlimited.
        let perMinute: Int?

        init(_ limit: Int) {
            perMinute = limit == .max ? nil : max(0, limit)
        }

        var capacity: Double { perMinute.map(Double.init) ?? .infinity }

        func refill(_ tokens: Double, seconds: Double) -> Double {
            guard let perMinute else { return tokens }
            return min(Double(perMinute), tokens + seconds * Double(perMinute) / 60)
        }

        func isFull(_ tokens: Double) -> Bool {
            guard let perMinute else { return true }
            return tokens >= Double(perMinute)
        }

        /// Milliseconds until `tokens` reaches one token; 0 if it has, and always 0 when
        /// unlimited.
        func millisecondsUntilToken(_ tokens: Double) -> UInt64 {
            guard let perMinute else { return 0 }
            if tokens >= 1 - RateLimiter.epsilon { return 0 }
            if perMinute == 0 { return 60_000 }
            let seconds = (1 - tokens) * 60 / Double(perMinute)
            return UInt64((seconds * 1000).rounded(.up))
        }
    }

    /// Tolerance for floating-point refill arithmetic, so a token that is due is not refused
    /// for a rounding error.
    fileprivate static let epsilon = 1e-9

    fileprivate struct State {
        var limits: RateLimits
        let maxIdentities: Int
        var buckets: [String: Bucket] = [:]
        var refusals = 0
        var sequence: UInt64 = 0

        init(limits: RateLimits, maxIdentities: Int) {
            self.limits = limits
            self.maxIdentities = maxIdentities
        }

        var requestRate: Rate { Rate(limits.requestsPerMinute) }
        var createRate: Rate { Rate(limits.createsPerMinute) }

        mutating func check(identity: String, isCreate: Bool, at instant: ContinuousClock.Instant) -> PlatformError? {
            let requestRate = requestRate
            let createRate = createRate
            if requestRate.perMinute == nil && (!isCreate || createRate.perMinute == nil) {
                return nil
            }
            sequence += 1
            var bucket = buckets[identity].map { refilled($0, at: instant) }
                ?? Bucket(requestTokens: requestRate.capacity, createTokens: createRate.capacity, refilledAt: instant, lastSeen: 0)
            bucket.lastSeen = sequence

            let requestWait = requestRate.millisecondsUntilToken(bucket.requestTokens)
            let createWait = isCreate ? createRate.millisecondsUntilToken(bucket.createTokens) : 0
            let refusal: PlatformError?
            if requestWait == 0 && createWait == 0 {
                if requestRate.perMinute != nil { bucket.requestTokens = max(0, bucket.requestTokens - 1) }
                if isCreate && createRate.perMinute != nil { bucket.createTokens = max(0, bucket.createTokens - 1) }
                refusal = nil
            } else {
                refusals += 1
                refusal = createWait >= requestWait
                    ? Self.refusal(limit: limits.createsPerMinute, what: "store creations", unit: "creates", wait: createWait)
                    : Self.refusal(limit: limits.requestsPerMinute, what: "requests", unit: "requests", wait: requestWait)
            }

            let isNew = buckets.updateValue(bucket, forKey: identity) == nil
            if isNew && buckets.count > maxIdentities {
                evict(at: instant, keeping: identity)
            }
            return refusal
        }

        mutating func update(limits newLimits: RateLimits, at instant: ContinuousClock.Instant) {
            // Earn what was due under the old rates before the new ones apply.
            for (identity, bucket) in buckets {
                buckets[identity] = refilled(bucket, at: instant)
            }
            limits = newLimits
            let requestRate = requestRate
            let createRate = createRate
            for (identity, var bucket) in buckets {
                bucket.requestTokens = min(bucket.requestTokens, requestRate.capacity)
                bucket.createTokens = min(bucket.createTokens, createRate.capacity)
                buckets[identity] = bucket
            }
        }

        func refilled(_ bucket: Bucket, at instant: ContinuousClock.Instant) -> Bucket {
            let elapsed = instant - bucket.refilledAt
            guard elapsed > .zero else { return bucket }
            let (seconds, attoseconds) = elapsed.components
            let elapsedSeconds = Double(seconds) + Double(attoseconds) / 1e18
            var bucket = bucket
            bucket.requestTokens = requestRate.refill(bucket.requestTokens, seconds: elapsedSeconds)
            bucket.createTokens = createRate.refill(bucket.createTokens, seconds: elapsedSeconds)
            bucket.refilledAt = instant
            return bucket
        }

        /// Brings the tracked count to at most 90% of the bound (at most the bound when it
        /// is under 10): full buckets first, then the least recently seen. `identity`, just
        /// seen, is the most recent and is never chosen.
        mutating func evict(at instant: ContinuousClock.Instant, keeping identity: String) {
            let requestRate = requestRate
            let createRate = createRate
            for (key, bucket) in buckets where key != identity {
                let bucket = refilled(bucket, at: instant)
                if requestRate.isFull(bucket.requestTokens) && createRate.isFull(bucket.createTokens) {
                    buckets[key] = nil
                }
            }
            let target = maxIdentities - maxIdentities / 10
            guard buckets.count > target else { return }
            let oldest = buckets
                .map { (key: $0.key, lastSeen: $0.value.lastSeen) }
                .sorted { $0.lastSeen < $1.lastSeen }
                .prefix(buckets.count - target)
            for entry in oldest {
                buckets[entry.key] = nil
            }
        }

        static func refusal(limit: Int, what: String, unit: String, wait: UInt64) -> PlatformError {
            let message: String
            if limit <= 0 {
                message = "\(what) are refused: the limit is 0 \(unit) per minute; ask the operator to raise it"
            } else {
                let seconds = max(1, (wait + 999) / 1000)
                message = "too many \(what): the limit is \(limit) \(unit) per minute; retry in \(seconds) s"
            }
            return PlatformError(.rateLimited, message, retryAfterMilliseconds: wait)
        }
    }
}
