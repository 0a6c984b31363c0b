import StoreCore
import Synchronization
import Testing

@Suite("Rate limiter")
struct RateLimiterTests {
    /// Admits `count` requests, failing the test on the first refusal.
    func admit(_ limiter: RateLimiter, _ identity: String, count: Int, isCreate: Bool = false) async {
        for index in 0..<count {
            await #expect(throws: Never.self, "request \(index + 1) of \(count)") {
                try await limiter.check(identity: identity, isCreate: isCreate)
            }
        }
    }

    func refusal(_ limiter: RateLimiter, _ identity: String, isCreate: Bool = false) async -> PlatformError? {
        await #expect(throws: PlatformError.self) { try await limiter.check(identity: identity, isCreate: isCreate) }
    }

    @Test func defaultsAreThirtyRequestsAndFiveCreates() async {
        #expect(RateLimits() == RateLimits(requestsPerMinute: 30, createsPerMinute: 5))
    }

    @Test func thirtyRequestsThenRefusalWithTwoSecondRetry() async {
        let clock = ManualClock()
        let limiter = RateLimiter(limits: RateLimits(), now: clock.reader)
        await admit(limiter, "uid:1000", count: 30)
        let error = await refusal(limiter, "uid:1000")
        #expect(error?.code == .rateLimited)
        #expect(error?.retryAfterMilliseconds == 2_000)
        #expect(error?.message == "too many requests: the limit is 30 requests per minute; retry in 2 s")
        #expect(limiter.refusals == 1)
    }

    @Test func refusalTakesNoTokenAndRefillIsContinuous() async {
        let clock = ManualClock()
        let limiter = RateLimiter(limits: RateLimits(), now: clock.reader)
        await admit(limiter, "a", count: 30)
        #expect(await refusal(limiter, "a")?.retryAfterMilliseconds == 2_000)
        clock.advance(by: .milliseconds(500))
        // A quarter token earned: 1.5 s to go, rounded up.
        #expect(await refusal(limiter, "a")?.retryAfterMilliseconds == 1_500)
        clock.advance(by: .milliseconds(1_500))
        await admit(limiter, "a", count: 1)
        #expect(await refusal(limiter, "a")?.retryAfterMilliseconds == 2_000)
        #expect(limiter.refusals == 3)
    }

    @Test func aFullMinuteRefillsTheWholeBucketAndNoMore() async {
        let clock = ManualClock()
        let limiter = RateLimiter(limits: RateLimits(), now: clock.reader)
        await admit(limiter, "a", count: 30)
        clock.advance(by: .seconds(600))
        await admit(limiter, "a", count: 30)
        #expect(await refusal(limiter, "a")?.code == .rateLimited)
    }

    @Test func createsAreLimitedAtFiveWhileGeneralRequestsHaveRoom() async {
        let clock = ManualClock()
        let limiter = RateLimiter(limits: RateLimits(), now: clock.reader)
        await admit(limiter, "a", count: 5, isCreate: true)
        let error = await refusal(limiter, "a", isCreate: true)
        #expect(error?.code == .rateLimited)
        #expect(error?.retryAfterMilliseconds == 12_000)
        #expect(error?.message == "too many store creations: the limit is 5 creates per minute; retry in 12 s")
        // The five creates also took five general tokens; the refused one took none.
        await admit(limiter, "a", count: 25)
        #expect(await refusal(limiter, "a")?.retryAfterMilliseconds == 2_000)
        #expect(limiter.refusals == 2)
    }

    @Test func aCreateNeedsAGeneralTokenToo() async {
        let clock = ManualClock()
        let limiter = RateLimiter(limits: RateLimits(), now: clock.reader)
        await admit(limiter, "a", count: 30)
        let error = await refusal(limiter, "a", isCreate: true)
        #expect(error?.message == "too many requests: the limit is 30 requests per minute; retry in 2 s")
        #expect(error?.retryAfterMilliseconds == 2_000)
        // The refused create took no create token, but after 2 s only one general token
        // has been earned, so only one create goes through.
        clock.advance(by: .seconds(2))
        await admit(limiter, "a", count: 1, isCreate: true)
        #expect(await refusal(limiter, "a", isCreate: true)?.retryAfterMilliseconds == 2_000)
    }

    @Test func identitiesAreIndependent() async {
        let clock = ManualClock()
        let limiter = RateLimiter(limits: RateLimits(), now: clock.reader)
        await admit(limiter, "uid:1000", count: 30)
        #expect(await refusal(limiter, "uid:1000")?.code == .rateLimited)
        await admit(limiter, "uid:1001", count: 30)
        await admit(limiter, "10.0.0.7", count: 5, isCreate: true)
        #expect(limiter.trackedIdentities == 3)
    }

    @Test func trackedIdentitiesStayBoundedUnderManyCallers() async {
        let clock = ManualClock()
        let limiter = RateLimiter(limits: RateLimits(), now: clock.reader, maxIdentities: 10_000)
        var largest = 0
        for index in 0..<50_000 {
            try? await limiter.check(identity: "caller-\(index)", isCreate: false)
            largest = max(largest, limiter.trackedIdentities)
        }
        #expect(largest == 10_000)
        #expect(limiter.trackedIdentities <= 10_000)
        #expect(limiter.refusals == 0)
    }

    @Test func recentlySeenCallersSurviveEvictionAndOldOnesAreForgotten() async {
        let clock = ManualClock()
        let limiter = RateLimiter(limits: RateLimits(), now: clock.reader, maxIdentities: 100)
        await admit(limiter, "cold", count: 30)
        await admit(limiter, "hot", count: 30)
        for index in 0..<1_000 {
            try? await limiter.check(identity: "caller-\(index)", isCreate: false)
            // Keeps "hot" among the most recently seen; every one of these is refused.
            await #expect(throws: PlatformError.self) { try await limiter.check(identity: "hot", isCreate: false) }
        }
        #expect(limiter.trackedIdentities <= 100)
        #expect(limiter.refusals == 1_000)
        // "cold" was the least recently seen, so it was evicted and starts afresh.
        await admit(limiter, "cold", count: 30)
    }

    @Test func fullBucketsAreDroppedBeforeRecentlySeenOnes() async {
        let clock = ManualClock()
        let limiter = RateLimiter(limits: RateLimits(), now: clock.reader, maxIdentities: 2)
        await admit(limiter, "drained", count: 30)
        await admit(limiter, "light", count: 1)
        // Two seconds refill "light" completely and give "drained" one token.
        clock.advance(by: .seconds(2))
        await admit(limiter, "new", count: 1)
        #expect(limiter.trackedIdentities == 2)
        // "drained", though least recently seen, was kept: it has exactly one token.
        await admit(limiter, "drained", count: 1)
        #expect(await refusal(limiter, "drained")?.retryAfterMilliseconds == 2_000)
    }

    @Test func updatedLimitsApplyToNewAndTrackedCallers() async {
        let clock = ManualClock()
        let limiter = RateLimiter(limits: RateLimits(), now: clock.reader)
        await admit(limiter, "a", count: 10)
        limiter.update(limits: RateLimits(requestsPerMinute: 2, createsPerMinute: 1))
        #expect(limiter.limits == RateLimits(requestsPerMinute: 2, createsPerMinute: 1))
        // "a" had 20 tokens left, capped at the new capacity of 2.
        await admit(limiter, "a", count: 2)
        let error = await refusal(limiter, "a")
        #expect(error?.retryAfterMilliseconds == 30_000)
        #expect(error?.message == "too many requests: the limit is 2 requests per minute; retry in 30 s")
        await admit(limiter, "b", count: 1, isCreate: true)
        #expect(await refusal(limiter, "b", isCreate: true)?.retryAfterMilliseconds == 60_000)

        limiter.update(limits: RateLimits(requestsPerMinute: 600, createsPerMinute: 5))
        // Refill now runs at 10 tokens per second.
        clock.advance(by: .seconds(1))
        await admit(limiter, "a", count: 10)
        #expect(await refusal(limiter, "a")?.retryAfterMilliseconds == 100)
    }

    @Test func aLimitOfZeroRefusesEverything() async {
        let clock = ManualClock()
        let limiter = RateLimiter(limits: RateLimits(requestsPerMinute: 30, createsPerMinute: 0), now: clock.reader)
        let error = await refusal(limiter, "a", isCreate: true)
        #expect(error?.code == .rateLimited)
        #expect(error?.retryAfterMilliseconds == 60_000)
        #expect(error?.message == "store creations are refused: the limit is 0 creates per minute; ask the operator to raise it")
        clock.advance(by: .seconds(3_600))
        #expect(await refusal(limiter, "a", isCreate: true)?.code == .rateLimited)
        await admit(limiter, "a", count: 30)
    }

    @Test func unlimitedNeverRefusesAndTracksNoOne() async {
        let limiter = RateLimiter(limits: .unlimited)
        await admit(limiter, "a", count: 1_000, isCreate: true)
        #expect(limiter.trackedIdentities == 0)
        #expect(limiter.refusals == 0)
    }

    @Test func concurrentCallersGetExactlyTheBucket() async {
        let clock = ManualClock()
        let limiter = RateLimiter(limits: RateLimits(), now: clock.reader)
        let admitted = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<200 {
                group.addTask { (try? await limiter.check(identity: "a", isCreate: false)) != nil }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(admitted == 30)
        #expect(limiter.refusals == 170)
    }

    // MARK: Shared buckets (several replicas)

    @Test func replicasSharingBucketsAdmitTheRateTogetherAndRefuseLocallyAfterwards() async {
        let clock = ManualClock()
        let shared = InMemoryRateBuckets(clock: clock)
        let replicas = (0..<3).map { _ in RateLimiter(limits: RateLimits(), shared: shared, now: clock.reader) }
        var admitted = 0
        for _ in 0..<40 {
            for replica in replicas where (try? await replica.check(identity: "a", isCreate: false)) != nil {
                admitted += 1
            }
        }
        #expect(admitted == 30)
        #expect(replicas.map(\.refusals).reduce(0, +) == 90)
        // Each replica asked the shared buckets once per call its own admitted, and
        // once more to learn they were empty; after that it refused on its own.
        #expect(shared.takes <= 30 + 3)
        // A refill reaches whichever replica asks first.
        clock.advance(by: .seconds(2))
        let refilled = await withTaskGroup(of: Bool.self) { group in
            for replica in replicas {
                group.addTask { (try? await replica.check(identity: "a", isCreate: false)) != nil }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(refilled == 1)
    }

    @Test func aCreateRefusedByTheSharedBucketsSaysWhichLimitAndWhen() async {
        let clock = ManualClock()
        let shared = InMemoryRateBuckets(clock: clock)
        let first = RateLimiter(limits: RateLimits(), shared: shared, now: clock.reader)
        let second = RateLimiter(limits: RateLimits(), shared: shared, now: clock.reader)
        await admit(first, "a", count: 5, isCreate: true)
        let error = await refusal(second, "a", isCreate: true)
        #expect(error?.message == "too many store creations: the limit is 5 creates per minute; retry in 12 s")
        #expect(error?.retryAfterMilliseconds == 12_000)
        // Requests still have room on both.
        await admit(second, "a", count: 1)
    }

    @Test func whenTheSharedBucketsCannotAnswerThisReplicaDecides() async {
        let clock = ManualClock()
        let shared = InMemoryRateBuckets(clock: clock)
        shared.failing = true
        let limiter = RateLimiter(limits: RateLimits(), shared: shared, now: clock.reader)
        await admit(limiter, "a", count: 30)
        #expect(await refusal(limiter, "a")?.code == .rateLimited)
    }

    @Test func unlimitedNeverAsksTheSharedBuckets() async {
        let shared = InMemoryRateBuckets(clock: ManualClock())
        let limiter = RateLimiter(limits: .unlimited, shared: shared)
        await admit(limiter, "a", count: 100, isCreate: true)
        #expect(shared.takes == 0)
    }
}

/// Shared buckets in memory, on the bucket arithmetic every store of them uses.
private final class InMemoryRateBuckets: SharedRateBuckets {
    private struct State {
        var buckets: [String: (tokens: (Double, Double), at: ContinuousClock.Instant)] = [:]
        var takes = 0
        var failing = false
    }

    private let state = Mutex(State())
    private let clock: ManualClock

    init(clock: ManualClock) {
        self.clock = clock
    }

    var takes: Int { state.withLock { $0.takes } }
    var failing: Bool {
        get { state.withLock { $0.failing } }
        set { state.withLock { $0.failing = newValue } }
    }

    func takeRateTokens(identity: String, limits: RateLimits, isCreate: Bool) async throws -> SharedRateTake {
        let now = clock.reader()
        return try state.withLock { state in
            state.takes += 1
            if state.failing { throw PlatformError(.unavailable, "the shared buckets are away") }
            let bucket = state.buckets[identity]
            let elapsed = bucket.map { now - $0.at } ?? .zero
            let take = SharedRateTake.taking(
                from: bucket?.tokens ?? (.infinity, .infinity),
                after: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
                limits: limits, isCreate: isCreate
            )
            state.buckets[identity] = ((take.requestTokens, take.createTokens), now)
            return take
        }
    }
}
