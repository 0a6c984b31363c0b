import ControlPlane
import Foundation
import Logging
import ProcessTestSupport
import Provisioning
import ProvisioningTestSupport
import StoreCore
import StoreDatabase
import Testing

/// The shared rate buckets are forgotten by one replica only, the one leading the
/// reconciler (Sources/ControlPlane/LimitsFollower.swift): two replicas on one
/// database, each with its limits follower, whose every round (2 s apart) prunes here.
@Suite("Full rate buckets: pruned by the reconciler's leader only")
struct RateBucketPruneTests {
    /// A replica's control plane and reconciler on the shared database.
    struct Replica {
        let controlPlane: ControlPlane
        let reconciler: Reconciler
        let stack: ProvisionerUnderTest

        init(_ id: String, database: any StoreDatabase, directory: String) throws {
            var provisioning = ProvisionerConfiguration()
            provisioning.replicaID = id
            let cluster = try SimulatedCluster(path: directory + "/cluster.sqlite", configuration: .instant)
            stack = ProvisionerUnderTest(database: database, driver: cluster, configuration: provisioning)
            var reconciling = Reconciler.Configuration()
            reconciling.interval = .milliseconds(100)
            reconciling.leaderTTL = .seconds(600)  // the leader resigns; its lease never lapses here
            reconciler = Reconciler(provisioner: stack.provisioner, configuration: reconciling, logger: Logger(label: "test"))
            controlPlane = ControlPlane(
                info: DaemonInfo(version: "test", startedAtMilliseconds: 1_700_000_000_000, clusterDriver: .simulated, database: "sqlite"),
                provisioner: stack.provisioner, reconciler: reconciler,
                rateLimiter: RateLimiter(limits: RateLimits(requestsPerMinute: 100, createsPerMinute: 10)),
                maxLiveStores: 10, logger: Logger(label: "test")
            )
        }
    }

    @Test func onlyTheLeaderPrunesAndTheNextLeaderTakesOver() async throws {
        let directory = try makeTemporaryDirectory("spprune")
        let database = try SQLiteStoreDatabase.open(path: directory + "/store.sqlite")
        let a = try Replica("replica-a", database: database, directory: directory)
        let b = try Replica("replica-b", database: database, directory: directory)
        let leading = Task { try await a.reconciler.run() }
        try await waitUntil { a.reconciler.isLeader }
        let following = Task { try await b.reconciler.run() }
        try await waitUntil { b.reconciler.periodicRounds >= 1 }

        let followerA = a.controlPlane.makeLimitsFollower(pruneInterval: .milliseconds(50))
        let followerB = b.controlPlane.makeLimitsFollower(pruneInterval: .milliseconds(50))
        let runA = Task { try await followerA.run() }
        let runB = Task { try await followerB.run() }
        try await waitUntil { followerA.rateBucketPrunes >= 2 }
        #expect(followerB.rateBucketPrunes == 0)
        #expect(!b.reconciler.isLeader)

        // A stops leading (it resigns); B leads from its next interval, and prunes.
        leading.cancel()
        try await leading.value
        let prunedByA = followerA.rateBucketPrunes
        try await waitUntil { b.reconciler.isLeader && followerB.rateBucketPrunes >= 2 }
        // At most one prune of A's was under way when it resigned.
        #expect(followerA.rateBucketPrunes <= prunedByA + 1)

        for task in [runA, runB, following] { task.cancel() }
        for task in [runA, runB, following] { try await task.value }
    }

    private func waitUntil(within: Duration = .seconds(30), _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + within
        while !condition() && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(condition(), "not within \(within)")
    }
}
