import Foundation
import StoreCore
import StoreDatabase
import Testing

/// The rate buckets every replica shares (Sources/StoreCore/SharedRateBuckets.swift),
/// on both backends: a caller's tokens are taken once each however many callers race
/// for them, both buckets or neither, refilled by the clock, and forgotten once full.
@Suite("Shared rate buckets: exact under concurrency, refilled, forgotten")
struct SharedRateBucketTests {
    /// A rate slow enough (a token every 15 s) that no refill lands within a test,
    /// even on a loaded machine.
    static let slow = RateLimits(requestsPerMinute: 4, createsPerMinute: 1)

    @Test(arguments: Backend.all)
    func concurrentTakersGetExactlyTheBucket(_ backend: Backend) async throws {
        let database = try await backend.makeDatabase()
        let started = ContinuousClock.now
        let takes = try await withThrowingTaskGroup(of: SharedRateTake.self) { group in
            for _ in 0..<40 {
                group.addTask { try await database.takeRateTokens(identity: "uid:1000", limits: Self.slow, isCreate: false) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        // The 4 tokens of a full bucket, and no more than the clock refilled meanwhile
        // (none, unless the machine is so loaded that the calls took 15 s or more).
        let refilled = Int((ContinuousClock.now - started) / .seconds(15))
        let admitted = takes.filter(\.admitted).count
        #expect(admitted >= 4 && admitted <= 4 + refilled, "\(admitted) admitted, \(refilled) refilled")
        #expect(takes.filter { !$0.admitted }.allSatisfy { $0.requestTokens < 1 })
        // Another caller has buckets of its own.
        #expect(try await database.takeRateTokens(identity: "token:ci", limits: Self.slow, isCreate: false).admitted)
    }

    @Test(arguments: Backend.all)
    func aCreateTakesFromBothBucketsOrNeither(_ backend: Backend) async throws {
        let database = try await backend.makeDatabase()
        // A token every 20 s and every minute: a loaded machine's pauses refill far
        // less than one between these calls.
        let limits = RateLimits(requestsPerMinute: 3, createsPerMinute: 1)
        #expect(try await database.takeRateTokens(identity: "a", limits: limits, isCreate: true).admitted)
        let refused = try await database.takeRateTokens(identity: "a", limits: limits, isCreate: true)
        #expect(!refused.admitted)
        #expect(refused.createTokens < 1)
        // The refused create took no request token: 2 are left, and an unlimited
        // creates bucket does not stand in the way.
        #expect(refused.requestTokens >= 2 - 1e-6 && refused.requestTokens < 3)
        let unlimitedCreates = RateLimits(requestsPerMinute: 3, createsPerMinute: .max)
        let admitted = try await database.takeRateTokens(identity: "a", limits: unlimitedCreates, isCreate: true)
        #expect(admitted.admitted && admitted.createTokens == .infinity)
        #expect(admitted.requestTokens >= 1 - 1e-6 && admitted.requestTokens < 2)
    }

    @Test(arguments: Backend.all)
    func tokensRefillWithTimeAndFullBucketsAreForgotten(_ backend: Backend) async throws {
        let database = try await backend.makeDatabase()
        // 1,200 a minute: one token every 50 ms.
        let fast = RateLimits(requestsPerMinute: 1_200, createsPerMinute: 1_200)
        var admitted = 0
        while try await database.takeRateTokens(identity: "a", limits: fast, isCreate: false).admitted {
            admitted += 1
        }
        #expect(admitted >= 1_200)
        try await Task.sleep(for: .milliseconds(200))
        #expect(try await database.takeRateTokens(identity: "a", limits: fast, isCreate: false).admitted)
        // Touched just now: kept, still short of tokens.
        try await database.forgetFullRateBuckets()
        let after = try await database.takeRateTokens(identity: "a", limits: fast, isCreate: false)
        #expect(after.requestTokens < 1_200 - 1)
    }
}
