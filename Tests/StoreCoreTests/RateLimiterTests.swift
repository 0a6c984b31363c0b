import StoreCore
import Testing

@Suite("Rate limiter")
struct RateLimiterTests {
    /// Admits `count` requests, failing the test on the first refusal.
    func admit(_ limiter: RateLimiter, _ identity: String, count: Int, isCreate: Bool = false) {
        for index in 0..<count {
            #expect(throws: Never.self, "request \(index + 1) of \(count)") {
                try limiter.check(identity: identity, isCreate: isCreate)
            }
        }
    }

    func refusal(_ limiter: RateLimiter, _ identity: String, isCreate: Bool = false) -> PlatformError? {
        #expect(throws: PlatformError.self) { try limiter.check(identity: identity, isCreate: isCreate) }
    }

    @Test func defaultsAreThirtyRequestsAndFiveCreates() {
        #expect(RateLimits() == RateLimits(requestsPerMinute: 30, createsPerMinute: 5))
    }

    @Test func thirtyRequestsThenRefusalWithTwoSecondRetry() {
        let clock = ManualClock()
        let limiter = RateLimiter(limits: RateLimits(), now: clock.reader)
        admit(limiter, "uid:1000", count: 30)
        let error = refusal(limiter, "uid:1000")
        #expect(error?.code == .rateLimited)
        #expect(error?.retryAfterMilliseconds == 2_000)
        #expect(error?.message == "too many requests: the limit is 30 requests per minute; retry in 2 s")
        #expect(limiter.refusals == 1)
    }

    @Test func refusalTakesNoTokenAndRefillIsContinuous() {
        let clock = ManualClock()
        let limiter = RateLimiter(limits: RateLimits(), now: clock.reader)
        admit(limiter, "a", count: 30)
        #expect(refusal(limiter, "a")?.retryAfterMilliseconds == 2_000)
        clock.advance(by: .milliseconds(500))
        // A quarter token earned: 1.5 s to go, rounded up.
        #expect(refusal(limiter, "a")?.retryAfterMilliseconds == 1_500)
        clock.advance(by: .milliseconds(1_500))
        admit(limiter, "a", count: 1)
        #expect(refusal(limiter, "a")?.retryAfterMilliseconds == 2_000)
        #expect(limiter.refusals == 3)
    }

    @Test func aFullMinuteRefillsTheWholeBucketAndNoMore() {
        let clock = ManualClock()
        let limiter = RateLimiter(limits: RateLimits(), now: clock.reader)
        admit(limiter, "a", count: 30)
        clock.advance(by: .seconds(600))
        admit(limiter, "a", count: 30)
        #expect(refusal(limiter, "a")?.code == .rateLimited)
    }

    @Test func createsAreLimitedAtFiveWhileGeneralRequestsHaveRoom() {
        let clock = ManualClock()
        let limiter = RateLimiter(limits: RateLimits(), now: clock.reader)
        admit(limiter, "a", count: 5, isCreate: true)
        let error = refusal(limiter, "a", isCreate: true)
        #expect(error?.code == .rateLimited)
        #expect(error?.retryAfterMilliseconds == 12_000)
        #expect(error?.message == "too many store creations: the limit is 5 creates per minute; retry in 12 s")
        // The five creates also took five general tokens; the refused one took none.
        admit(limiter, "a", count: 25)
        #expect(refusal(limiter, "a")?.retryAfterMilliseconds == 2_000)
        #expect(limiter.refusals == 2)
    }

    @Test func aCreateNeedsAGeneralTokenToo() {
        let clock = ManualClock()
        let limiter = RateLimiter(limits: RateLimits(), now: clock.reader)
        admit(limiter, "a", count: 30)
        let error = refusal(limiter, "a", isCreate: true)
        #expect(error?.message == "too many requests: the limit is 30 requests per minute; retry in 2 s")
        #expect(error?.retryAfterMilliseconds == 2_000)
        // The refused create took no create token, but after 2 s only one general token
        // has been earned, so only one create goes through.
        clock.advance(by: .seconds(2))
        admit(limiter, "a", count: 1, isCreate: true)
        #expect(refusal(limiter, "a", isCreate: true)?.retryAfterMilliseconds == 2_000)
    }

    @Test func identitiesAreIndependent() {
        let clock = ManualClock()
        let limiter = RateLimiter(limits: RateLimits(), now: clock.reader)
        admit(limiter, "uid:1000", count: 30)
        #expect(refusal(limiter, "uid:1000")?.code == .rateLimited)
        admit(limiter, "uid:1001", count: 30)
        admit(limiter, "10.0.0.7", count: 5, isCreate: true)
        #expect(limiter.trackedIdentities == 3)
    }

    @Test func trackedIdentitiesStayBoundedUnderManyCallers() {
        let clock = ManualClock()
        let limiter = RateLimiter(limits: RateLimits(), now: clock.reader, maxIdentities: 10_000)
        var largest = 0
        for index in 0..<50_000 {
            try? limiter.check(identity: "caller-\(index)", isCreate: false)
            largest = max(largest, limiter.trackedIdentities)
        }
        #expect(largest == 10_000)
        #expect(limiter.trackedIdentities <= 10_000)
        #expect(limiter.refusals == 0)
    }

    @Test func recentlySeenCallersSurviveEvictionAndOldOnesAreForgotten() {
        let clock = ManualClock()
        let limiter = RateLimiter(limits: RateLimits(), now: clock.reader, maxIdentities: 100)
        admit(limiter, "cold", count: 30)
        admit(limiter, "hot", count: 30)
        for index in 0..<1_000 {
            try? limiter.check(identity: "caller-\(index)", isCreate: false)
            // Keeps "hot" among the most recently seen; every one of these is refused.
            #expect(throws: PlatformError.self) { try limiter.check(identity: "hot", isCreate: false) }
        }
        #expect(limiter.trackedIdentities <= 100)
        #expect(limiter.refusals == 1_000)
        // "cold" was the least recently seen, so it was evicted and starts afresh.
        admit(limiter, "cold", count: 30)
    }

    @Test func fullBucketsAreDroppedBeforeRecentlySeenOnes() {
        let clock = ManualClock()
        let limiter = RateLimiter(limits: RateLimits(), now: clock.reader, maxIdentities: 2)
        admit(limiter, "drained", count: 30)
        admit(limiter, "light", count: 1)
        // Two seconds refill "light" completely and give "drained" one token.
        clock.advance(by: .seconds(2))
        admit(limiter, "new", count: 1)
        #expect(limiter.trackedIdentities == 2)
        // "drained", though least recently seen, was kept: it has exactly one token.
        admit(limiter, "drained", count: 1)
        #expect(refusal(limiter, "drained")?.retryAfterMilliseconds == 2_000)
    }

    @Test func updatedLimitsApplyToNewAndTrackedCallers() {
        let clock = ManualClock()
        let limiter = RateLimiter(limits: RateLimits(), now: clock.reader)
        admit(limiter, "a", count: 10)
        limiter.update(limits: RateLimits(requestsPerMinute: 2, createsPerMinute: 1))
        #expect(limiter.limits == RateLimits(requestsPerMinute: 2, createsPerMinute: 1))
        // "a" had 20 tokens left, capped at the new capacity of 2.
        admit(limiter, "a", count: 2)
        let error = refusal(limiter, "a")
        #expect(error?.retryAfterMilliseconds == 30_000)
        #expect(error?.message == "too many requests: the limit is 2 requests per minute; retry in 30 s")
        admit(limiter, "b", count: 1, isCreate: true)
        #expect(refusal(limiter, "b", isCreate: true)?.retryAfterMilliseconds == 60_000)

        limiter.update(limits: RateLimits(requestsPerMinute: 600, createsPerMinute: 5))
        // Refill now runs at 10 tokens per second.
        clock.advance(by: .seconds(1))
        admit(limiter, "a", count: 10)
        #expect(refusal(limiter, "a")?.retryAfterMilliseconds == 100)
    }

    @Test func aLimitOfZeroRefusesEverything() {
        let clock = ManualClock()
        let limiter = RateLimiter(limits: RateLimits(requestsPerMinute: 30, createsPerMinute: 0), now: clock.reader)
        let error = refusal(limiter, "a", isCreate: true)
        #expect(error?.code == .rateLimited)
        #expect(error?.retryAfterMilliseconds == 60_000)
        #expect(error?.message == "store creations are refused: the limit is 0 creates per minute; ask the operator to raise it")
        clock.advance(by: .seconds(3_600))
        #expect(refusal(limiter, "a", isCreate: true)?.code == .rateLimited)
        admit(limiter, "a", count: 30)
    }

    @Test func unlimitedNeverRefusesAndTracksNoOne() {
        let limiter = RateLimiter(limits: .unlimited)
        admit(limiter, "a", count: 1_000, isCreate: true)
        #expect(limiter.trackedIdentities == 0)
        #expect(limiter.refusals == 0)
    }

    @Test func concurrentCallersGetExactlyTheBucket() async {
        let clock = ManualClock()
        let limiter = RateLimiter(limits: RateLimits(), now: clock.reader)
        let admitted = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<200 {
                group.addTask { (try? limiter.check(identity: "a", isCreate: false)) != nil }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(admitted == 30)
        #expect(limiter.refusals == 170)
    }
}
