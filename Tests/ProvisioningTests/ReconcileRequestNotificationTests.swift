import Foundation
import Logging
import PostgresStoreDatabase
import PostgresTestSupport
import Testing

@testable import Provisioning
import StoreCore
import StoreDatabase

/// "Reconcile now" asked of a replica that does not lead, on PostgreSQL: the
/// database tells the leader of the request and the asker of the answer
/// (`NOTIFY storeplatform_reconcile`), so an idle leader reads no requests table on a
/// schedule (Sources/Provisioning/Reconciler.swift, `reconcileNow()`).
@Suite("Reconcile requests by notification on PostgreSQL", .enabled(if: ThrowawayPostgres.enabled))
struct ReconcileRequestNotificationTests {
    /// With the fallback looks an hour apart, only notifications can carry a
    /// request to the leader and its answer back: each request is answered by the
    /// leader's pass, which read the requests once for it; while idle it reads
    /// them not at all.
    @Test func aFollowersRequestIsAnsweredByNotificationAndAnIdleLeaderLooksForNone() async throws {
        let server = try await ThrowawayPostgres.shared()
        let url = try await server.createDatabase(prefix: "rn", parameters: ["connect_timeout": "20", "statement_timeout": "30000"])
        let databaseA = try await PostgresStoreDatabase.connect(url: url + "&application_name=replica-a", logger: Logger(label: "test"))
        let databaseB = try await PostgresStoreDatabase.connect(url: url + "&application_name=replica-b", logger: Logger(label: "test"))
        let a = try Harness(provisioner: { $0.replicaID = "replica-a" }, database: databaseA)
        let b = try Harness(provisioner: { $0.replicaID = "replica-b" }, directory: a.directory, database: databaseB)
        var configuration = Reconciler.Configuration()
        configuration.interval = .seconds(3600)
        configuration.requestFallbackPoll = .seconds(3600)
        let leader = Reconciler(provisioner: a.provisioner, configuration: configuration, logger: Logger(label: "test"))
        let follower = Reconciler(provisioner: b.provisioner, configuration: configuration, logger: Logger(label: "test"))
        let leading = Task { try await leader.run() }
        try await waitUntil { leader.isLeader && leader.totals.passes == 1 }
        let following = Task { try await follower.run() }
        try await waitUntil { follower.periodicRounds >= 1 }
        // Both LISTEN on the requests' channel (a notification before that is missed).
        try await waitUntil {
            databaseA.listeningChannels.contains("storeplatform_reconcile")
                && databaseB.listeningChannels.contains("storeplatform_reconcile")
        }
        #expect(!follower.isLeader)

        // Idle: the leader's start looked for no requests, nor does its waiting.
        try await Task.sleep(for: .seconds(2))
        #expect(leader.requestChecks == 0)

        for round in 1...2 {
            let (report, replica) = try await answerWithin(.seconds(120)) { try await follower.reconcileNow() }
            #expect(replica == "replica-a")
            #expect(report.pass == 1 + round)
            #expect(leader.requestChecks == round)
        }
        #expect(follower.totals.passes == 0)
        #expect(try await databaseA.pendingReconcileRequests() == [])

        leading.cancel()
        following.cancel()
        try await leading.value
        try await following.value
        await databaseA.close()
        await databaseB.close()
    }

    /// `body`'s value, or a failure once `bound` passed (a request nobody hears of
    /// would wait for the fallback's hour).
    private func answerWithin<T: Sendable>(_ bound: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: bound)
                return nil
            }
            defer { group.cancelAll() }
            guard let value = try await group.next() ?? nil else {
                throw PlatformError(.unavailable, "no answer within \(bound): the notifications did not arrive")
            }
            return value
        }
    }

    private func waitUntil(within: Duration = .seconds(60), _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + within
        while !condition() && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(condition(), "not within \(within)")
    }
}
