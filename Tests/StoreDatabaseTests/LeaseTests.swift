import Foundation
import PostgresStoreDatabase
import PostgresTestSupport
import StoreDatabase
import Testing

/// Leases (Sources/StoreDatabase/Lease.swift): one holder at a time, renewal,
/// takeover only after expiry, release by the holder only. Expiry is shown with a
/// lease of 50 ms and a wait well past it; "still held" with leases of 10 minutes,
/// so a loaded machine cannot make either flaky.
@Suite("Leases: one holder, renewal, takeover after expiry")
struct LeaseTests {
    static let long = Duration.seconds(600)

    @Test(arguments: Backend.all)
    func aLeaseHasOneHolderUntilReleased(_ backend: Backend) async throws {
        let database = try await backend.makeDatabase()
        let name = Lease.storeName("st_abcdefghijkl")

        guard case .acquired(let first) = try await database.acquireLease(name, owner: "replica-a", kind: "provision", ttl: Self.long) else {
            Issue.record("a free lease was refused")
            return
        }
        #expect(first.name == name && first.owner == "replica-a" && first.kind == "provision")
        #expect(first.storeID == "st_abcdefghijkl")
        #expect(first.expiresAt.timeIntervalSince(first.acquiredAt) == 600)

        // Another replica is refused and told who holds it.
        #expect(try await database.acquireLease(name, owner: "replica-b", kind: "delete", ttl: Self.long) == .held(first))

        // The holder again: extended, its acquisition time kept, the new kind taken.
        try await Task.sleep(for: .milliseconds(20))
        guard case .acquired(let again) = try await database.acquireLease(name, owner: "replica-a", kind: "delete", ttl: Self.long) else {
            Issue.record("the holder was refused its own lease")
            return
        }
        #expect(again.acquiredAt == first.acquiredAt)
        #expect(again.expiresAt > first.expiresAt)
        #expect(again.kind == "delete")
        #expect(try await database.activeLeases() == [again])

        // Only the holder can release it; then anyone can take it.
        #expect(try await database.releaseLease(name, owner: "replica-b") == false)
        #expect(try await database.releaseLease(name, owner: "replica-a"))
        #expect(try await database.releaseLease(name, owner: "replica-a") == false)
        #expect(try await database.activeLeases() == [])
        guard case .acquired(let taken) = try await database.acquireLease(name, owner: "replica-b", kind: "delete", ttl: Self.long) else {
            Issue.record("a released lease was refused")
            return
        }
        #expect(taken.owner == "replica-b")
    }

    @Test(arguments: Backend.all)
    func anExpiredLeaseIsTakenOverAndItsHolderLearnsAtRenewal(_ backend: Backend) async throws {
        let database = try await backend.makeDatabase()
        let lapsing = Lease.reconcilerName
        let kept = Lease.storeName("st_kept00000001")
        _ = try await database.acquireLease(lapsing, owner: "replica-a", kind: "leader", ttl: .milliseconds(50))
        _ = try await database.acquireLease(kept, owner: "replica-a", kind: "provision", ttl: Self.long)
        try await Task.sleep(for: .milliseconds(300))

        // Expired: no longer active, and another replica may take it.
        #expect(try await database.activeLeases().map(\.name) == [kept])
        guard case .acquired(let taken) = try await database.acquireLease(lapsing, owner: "replica-b", kind: "leader", ttl: Self.long) else {
            Issue.record("an expired lease was refused")
            return
        }
        #expect(taken.owner == "replica-b")

        // The old holder's renewal says which it lost; the rest are extended.
        let before = try #require(try await database.activeLeases().first { $0.name == kept })
        #expect(try await database.renewLeases([lapsing, kept], owner: "replica-a", ttl: Self.long) == [lapsing])
        let after = try #require(try await database.activeLeases().first { $0.name == kept })
        #expect(after.expiresAt >= before.expiresAt)
        #expect(try await database.activeLeases().map(\.owner) == ["replica-b", "replica-a"])
        // A name nobody holds is lost too.
        #expect(try await database.renewLeases(["store:st_nobody000001"], owner: "replica-a", ttl: Self.long) == ["store:st_nobody000001"])
        #expect(try await database.renewLeases([], owner: "replica-a", ttl: Self.long) == [])
    }

    /// A holder whose time ran out, but whom nobody replaced, keeps its lease by renewing it.
    @Test(arguments: Backend.all)
    func anExpiredLeaseNobodyTookIsRenewed(_ backend: Backend) async throws {
        let database = try await backend.makeDatabase()
        _ = try await database.acquireLease(Lease.reconcilerName, owner: "replica-a", kind: "leader", ttl: .milliseconds(50))
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await database.renewLeases([Lease.reconcilerName], owner: "replica-a", ttl: Self.long) == [])
        #expect(try await database.activeLeases().map(\.owner) == ["replica-a"])
    }

    @Test(arguments: Backend.all)
    func ofTwentyConcurrentClaimsOneWins(_ backend: Backend) async throws {
        let database = try await backend.makeDatabase()
        let outcomes = await concurrently(20) { index in
            try await database.acquireLease(Lease.reconcilerName, owner: "replica-\(index)", kind: "leader", ttl: Self.long)
        }
        let winners = try outcomes.compactMap { outcome -> Lease? in
            if case .acquired(let lease) = try outcome.get() { return lease }
            return nil
        }
        #expect(winners.count == 1)
        for outcome in outcomes {
            if case .held(let holder) = try outcome.get() { #expect(holder == winners.first) }
        }
    }

    /// Two connections to one PostgreSQL database, as two replicas have: twenty
    /// claims spread over both, one winner.
    @Test(.enabled(if: ThrowawayPostgres.enabled))
    func ofClaimsFromTwoReplicasOneWins() async throws {
        let url = try await Backend.newPostgresURL()
        let first = try await PostgresStoreDatabase.connect(url: url, logger: quietLogger)
        let second = try await PostgresStoreDatabase.connect(url: url, logger: quietLogger)
        let outcomes = await concurrently(20) { index in
            try await (index % 2 == 0 ? first : second).acquireLease(
                Lease.storeName("st_contested0001"), owner: "replica-\(index)", kind: "provision", ttl: Self.long
            )
        }
        let winners = try outcomes.filter { if case .acquired = try $0.get() { return true } else { return false } }
        #expect(winners.count == 1)
        #expect(try await second.activeLeases().count == 1)
        await first.close()
        await second.close()
    }
}

/// The runtime limits UpdateLimits stores, which every replica reads.
@Suite("Stored limits")
struct StoredLimitsTests {
    @Test(arguments: Backend.all)
    func limitsAreStoredByNameAndReadBack(_ backend: Backend) async throws {
        let database = try await backend.makeDatabase()
        #expect(try await database.storedLimits() == [:])
        try await database.storeLimits(["max_live_stores": 7, "creates_per_minute": 2])
        try await database.storeLimits(["max_live_stores": 9])
        try await database.storeLimits([:])
        #expect(try await database.storedLimits() == ["max_live_stores": 9, "creates_per_minute": 2])
    }
}

/// Reconcile requests: "reconcile now" asked of a replica that does not lead, answered
/// by the leader's pass.
@Suite("Reconcile requests: asked by one replica, answered by the leader")
struct ReconcileRequestTests {
    @Test(arguments: Backend.all)
    func aRequestIsPendingUntilAnsweredAndAnsweredOnce(_ backend: Backend) async throws {
        let database = try await backend.makeDatabase()
        #expect(try await database.pendingReconcileRequests() == [])
        let first = try await database.requestReconcile(by: "r2")
        let second = try await database.requestReconcile(by: "r3")
        #expect(second > first)
        #expect(try await database.pendingReconcileRequests() == [first, second])
        #expect(try await database.reconcileAnswer(first) == nil)

        try await database.answerReconcileRequests([first, second], report: #"{"report":{}}"#, by: "r1")
        #expect(try await database.pendingReconcileRequests() == [])
        #expect(try await database.reconcileAnswer(first) == ReconcileAnswer(report: #"{"report":{}}"#, replica: "r1"))
        // An answered request keeps its first answer.
        try await database.answerReconcileRequests([second], report: "{}", by: "r3")
        #expect(try await database.reconcileAnswer(second) == ReconcileAnswer(report: #"{"report":{}}"#, replica: "r1"))
        #expect(try await database.reconcileAnswer(second + 1000) == nil)
    }
}
