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
/// Several replicas: with `shared` buckets (PostgreSQL's, SharedRateBuckets.swift), a
/// call this limiter's own buckets admit takes its tokens from the shared ones too, and
/// is refused when they are empty, so the limits hold across every replica together.
/// The own buckets answer first: they never hold fewer tokens than the shared ones
/// (they start full alike, refill alike, and this replica's calls are a part of all
/// calls; after each shared answer they take its count when it is lower), so a refusal
/// here is a refusal there too, and a caller over its limit costs the database
/// nothing. The database is asked at most once per admitted call, that is at most at
/// the configured rate per caller. When it cannot answer, this replica's own decision
/// stands.
///
/// Thread-safe: every method may be called from any thread or task; state is behind a
/// `Mutex`, and calls never block on anything but that lock (and the shared buckets).
public final class RateLimiter: Sendable {
    private let state: Mutex<State>
    private let shared: (any SharedRateBuckets)?
    private let now: @Sendable () -> ContinuousClock.Instant

    /// - Parameters:
    ///   - limits: the limits to enforce; change them later with ``update(limits:)``.
    ///   - shared: the buckets every replica shares; `nil` for one process alone.
    ///   - now: the clock; tests inject one they advance by hand. It is called outside the
    ///     lock and may go backwards (treated as no time passing).
    ///   - maxIdentities: how many identities to track at most; at least 1.
    public init(
        limits: RateLimits,
        shared: (any SharedRateBuckets)? = nil,
        now: @escaping @Sendable () -> ContinuousClock.Instant = { .now },
        maxIdentities: Int = 10_000
    ) {
        self.shared = shared
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

    /// Counts one request refused with ``ErrorCode/rateLimited`` in ``refusals``.
    public func countRefusal() {
        state.withLock { $0.refusals += 1 }
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
    /// `isCreate`, from its creates bucket too (and then from the shared buckets).
    ///
    /// - Throws: ``PlatformError`` with ``ErrorCode/rateLimited`` when a bucket is empty.
    ///   Its message says which limit was hit and when to retry; its
    ///   `retryAfterMilliseconds` is how long until the request would be admitted
    ///   (rounded up; 60,000 when a limit is 0, since only a new configuration helps then).
    ///   The message never contains the identity, which may be a credential.
    ///   It counts in ``refusals`` unless `countsRefusal` is false: a caller that may
    ///   answer the request with another code instead counts it itself, with
    ///   ``countRefusal()``, when it does answer RATE_LIMITED.
    public func check(identity: String, isCreate: Bool, countsRefusal: Bool = true) async throws {
        let instant = now()
        switch state.withLock({ $0.check(identity: identity, isCreate: isCreate, at: instant) }) {
        case .unlimited:
            return
        case .refused(let refusal):
            if countsRefusal { countRefusal() }
            throw refusal
        case .admitted(let limits):
            guard let shared else { return }
            let take: SharedRateTake
            do {
                take = try await shared.takeRateTokens(identity: identity, limits: limits, isCreate: isCreate)
            } catch {
                if Task.isCancelled { throw CancellationError() }
                return  // the shared buckets cannot be read: this replica's decision stands
            }
            let instant = now()
            if let refusal = state.withLock({ $0.adopt(take, identity: identity, isCreate: isCreate, at: instant) }) {
                if countsRefusal { countRefusal() }
                throw refusal
            }
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

    /// What this process's own buckets decided.
    fileprivate enum Decision {
        /// No limit applies: nobody is tracked.
        case unlimited
        /// Admitted, under these limits.
        case admitted(RateLimits)
        case refused(PlatformError)
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

        mutating func check(identity: String, isCreate: Bool, at instant: ContinuousClock.Instant) -> Decision {
            let requestRate = requestRate
            let createRate = createRate
            if requestRate.perMinute == nil && (!isCreate || createRate.perMinute == nil) {
                return .unlimited
            }
            sequence += 1
            var bucket = buckets[identity].map { refilled($0, at: instant) }
                ?? Bucket(requestTokens: requestRate.capacity, createTokens: createRate.capacity, refilledAt: instant, lastSeen: 0)
            bucket.lastSeen = sequence

            let take = SharedRateTake.taking(
                from: (bucket.requestTokens, bucket.createTokens), after: 0, limits: limits, isCreate: isCreate
            )
            bucket.requestTokens = take.requestTokens
            bucket.createTokens = take.createTokens
            let decision: Decision = take.admitted ? .admitted(limits) : .refused(refusal(take, isCreate: isCreate))

            let isNew = buckets.updateValue(bucket, forKey: identity) == nil
            if isNew && buckets.count > maxIdentities {
                evict(at: instant, keeping: identity)
            }
            return decision
        }

        /// Takes in what the shared buckets answered for a call these buckets
        /// admitted: `identity`'s own buckets keep at most the shared counts (so they
        /// never hold more than all replicas together left), and the call is refused
        /// when the shared ones were empty.
        mutating func adopt(_ take: SharedRateTake, identity: String, isCreate: Bool, at instant: ContinuousClock.Instant) -> PlatformError? {
            if let bucket = buckets[identity] {
                var bucket = refilled(bucket, at: instant)
                bucket.requestTokens = min(bucket.requestTokens, take.requestTokens)
                bucket.createTokens = min(bucket.createTokens, take.createTokens)
                buckets[identity] = bucket
            }
            return take.admitted ? nil : refusal(take, isCreate: isCreate)
        }

        /// The refusal of a call that found `take`'s tokens, saying which limit was
        /// hit: the one with the longer wait.
        func refusal(_ take: SharedRateTake, isCreate: Bool) -> PlatformError {
            let requestWait = requestRate.millisecondsUntilToken(take.requestTokens)
            let createWait = isCreate ? createRate.millisecondsUntilToken(take.createTokens) : 0
            if createWait >= requestWait && createWait > 0 {
                return Self.refusal(limit: limits.createsPerMinute, what: "store creations", unit: "creates", wait: createWait)
            }
            // Both 0: the shared buckets refused a moment before this clock's refill
            // would have admitted; the wait is that moment.
            return Self.refusal(limit: limits.requestsPerMinute, what: "requests", unit: "requests", wait: max(1, requestWait))
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

extension SharedRateTake {
    /// A bucket nobody took from for this long is full, whatever its rate: a
    /// minute's allowance refills in a minute.
    public static let fullAfterSeconds: Double = 60

    /// The arithmetic of every bucket, this process's and the shared ones kept in
    /// SQLite (PostgreSQL runs the same steps in its `take_rate_tokens` function):
    /// `tokens` (requests, creates) refilled for `seconds` at `limits`' rates, then
    /// one token taken from the requests bucket and, when `isCreate`, one from the
    /// creates bucket, when both have one. An unlimited bucket holds `infinity`.
    public static func taking(from tokens: (Double, Double), after seconds: Double, limits: RateLimits, isCreate: Bool) -> SharedRateTake {
        let requestRate = RateLimiter.Rate(limits.requestsPerMinute)
        let createRate = RateLimiter.Rate(limits.createsPerMinute)
        let elapsed = max(0, seconds)
        var requestTokens = requestRate.perMinute == nil ? .infinity : requestRate.refill(tokens.0, seconds: elapsed)
        var createTokens = createRate.perMinute == nil ? .infinity : createRate.refill(tokens.1, seconds: elapsed)
        let admitted = requestRate.millisecondsUntilToken(requestTokens) == 0
            && (!isCreate || createRate.millisecondsUntilToken(createTokens) == 0)
        if admitted {
            requestTokens = max(0, requestTokens - 1)
            if isCreate { createTokens = max(0, createTokens - 1) }
        }
        return SharedRateTake(admitted: admitted, requestTokens: requestTokens, createTokens: createTokens)
    }
}
