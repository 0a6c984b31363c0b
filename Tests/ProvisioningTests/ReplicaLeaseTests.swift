import Foundation
import Logging
import Testing

@testable import Provisioning
import StoreCore
import StoreDatabase

/// Two provisioners on one database, as two replicas are: each store's operations
/// belong to whoever holds its lease (Sources/StoreDatabase/Lease.swift).
@Suite("Replicas: store leases")
struct ReplicaLeaseTests {
    /// Replica A provisions a store (its readiness never comes in time); replica B
    /// leaves it alone: its reconcile pass skips it, a delete or a resume through B
    /// is refused naming A, and the lease shows A as the owner.
    @Test func anotherReplicasOperationIsLeftAlone() async throws {
        let a = try Harness(cluster: { $0.readyDelay = .seconds(60) }, provisioner: { $0.replicaID = "replica-a" })
        let b = try Harness(provisioner: { $0.replicaID = "replica-b" }, directory: a.directory, database: a.database)
        let store = try await a.create("shared")
        try await a.waitFor(store.id, [.provisioning])

        let report = try await b.reconciler.reconcile()
        #expect(report.corrections.isEmpty)
        #expect(await b.provisioner.resumeProvisioning(store, reason: "test") == false)
        let error = await #expect(throws: PlatformError.self) {
            try await b.provisioner.delete(storeID: store.id, actor: "uid:0", requestID: nil)
        }
        #expect(error?.code == .operationInProgress)
        #expect(error?.message.contains("on replica \"replica-a\" is still running on store \"shared\"") == true, "\(error?.message ?? "")")

        let leases = try await a.database.activeLeases()
        #expect(leases.map(\.name) == [Lease.storeName(store.id)])
        #expect(leases.map(\.owner) == ["replica-a"])
        #expect(leases.map(\.kind) == ["provision"])
        #expect(try await a.database.store(id: store.id)?.status == .provisioning)
    }

    /// An operation that runs for many TTLs keeps its lease by renewing it, and
    /// gives it back at its end.
    @Test func aLeaseIsRenewedWhileItsOperationRunsAndGivenBackAtItsEnd() async throws {
        let a = try Harness(
            cluster: { $0.readyDelay = .seconds(8) },
            provisioner: {
                $0.replicaID = "replica-a"
                $0.leaseTTL = .seconds(2)
            }
        )
        let store = try await a.create("long")
        try await a.waitFor(store.id, [.provisioning])
        try await Task.sleep(for: .seconds(6))  // three TTLs
        let outcome = try await a.database.acquireLease(Lease.storeName(store.id), owner: "replica-b", kind: "delete", ttl: .seconds(60))
        guard case .held(let holder) = outcome else {
            Issue.record("replica B took the lease of a running operation: \(outcome)")
            return
        }
        #expect(holder.owner == "replica-a")
        try await a.waitFor(store.id, [.ready])
        #expect(try await a.database.activeLeases() == [])
    }

    /// A replica that died holds its stores until their leases lapse; then another
    /// replica's reconcile pass takes them over and finishes them.
    @Test func aDeadReplicasStoresAreTakenOverOnceTheirLeasesLapse() async throws {
        let b = try Harness(provisioner: { $0.replicaID = "replica-b" })
        let store = Store.queued(name: try StoreName.validate("orphaned"), engine: try StoreEngines.resolve(""), owner: "uid:0", now: Date())
        _ = try await b.database.createStore(store, maxLiveStores: 10, requestedBy: "uid:0", idempotencyKey: nil, requestID: nil)
        let name = Lease.storeName(store.id)
        _ = try await b.database.acquireLease(name, owner: "replica-dead", kind: "provision", ttl: .seconds(600))
        #expect(try await b.reconciler.reconcile().corrections.isEmpty)

        // The lease lapses (as the dead replica's last renewal runs out).
        _ = try await b.database.acquireLease(name, owner: "replica-dead", kind: "provision", ttl: .milliseconds(1))
        try await Task.sleep(for: .milliseconds(50))
        let report = try await b.reconciler.reconcile()
        #expect(report.corrections.map(\.storeID) == [store.id])
        try await b.waitFor(store.id, [.ready])
        #expect(try await b.trail(store.id) == ["->queued:create", "queued>provisioning:recovery", "provisioning>ready:ready"])
    }

    /// An operation whose lease another replica took over stops at once; the store
    /// keeps its status for the new holder.
    @Test func anOperationWhoseLeaseWasTakenOverStops() async throws {
        let a = try Harness(
            cluster: { $0.readyDelay = .seconds(60) },
            provisioner: {
                $0.replicaID = "replica-a"
                $0.leaseTTL = .milliseconds(300)
            }
        )
        let store = try await a.create("contested")
        try await a.waitFor(store.id, [.provisioning])
        let name = Lease.storeName(store.id)
        #expect(try await a.database.releaseLease(name, owner: "replica-a"))
        _ = try await a.database.acquireLease(name, owner: "replica-b", kind: "provision", ttl: .seconds(60))

        let deadline = ContinuousClock.now + .seconds(20)
        while a.provisioner.isRunning(storeID: store.id) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(!a.provisioner.isRunning(storeID: store.id))
        #expect(try await a.database.store(id: store.id)?.status == .provisioning)
        #expect(try await a.database.activeLeases().map(\.owner) == ["replica-b"])
    }

    /// Two replicas' reconcilers at an interval of 100 ms: one leads and runs every
    /// periodic pass, the other runs none; when the leader stops it resigns, and the
    /// other leads from its next interval.
    @Test func oneReplicaLeadsTheReconcilerAndAnotherTakesOverWhenItStops() async throws {
        let a = try Harness(provisioner: { $0.replicaID = "replica-a" })
        let b = try Harness(provisioner: { $0.replicaID = "replica-b" }, directory: a.directory, database: a.database)
        var configuration = Reconciler.Configuration()
        configuration.interval = .milliseconds(100)
        configuration.leaderTTL = .seconds(600)  // the leader resigns; its lease never lapses here
        let first = Reconciler(provisioner: a.provisioner, configuration: configuration, logger: Logger(label: "test"))
        let second = Reconciler(provisioner: b.provisioner, configuration: configuration, logger: Logger(label: "test"))

        let firstRun = Task { try await first.run() }
        try await waitUntil { first.isLeader }
        let secondRun = Task { try await second.run() }
        try await waitUntil { second.periodicRounds >= 3 && first.totals.passes >= 3 }
        #expect(second.totals.passes == 0)
        #expect(!second.isLeader)
        #expect(try await a.database.activeLeases().filter { $0.name == Lease.reconcilerName }.map(\.owner) == ["replica-a"])

        firstRun.cancel()
        try await firstRun.value
        #expect(!first.isLeader)
        try await waitUntil { second.isLeader && second.totals.passes >= 2 }
        let passesAfter = first.totals.passes
        try await Task.sleep(for: .milliseconds(300))
        #expect(first.totals.passes == passesAfter)
        secondRun.cancel()
        try await secondRun.value
        #expect(try await a.database.activeLeases().isEmpty)
    }

    /// A leader that dies (stops renewing without resigning) leads no more once its
    /// lease lapses: then another replica leads.
    @Test func aDeadLeadersLeaseLapsesAndAnotherLeads() async throws {
        let b = try Harness(provisioner: { $0.replicaID = "replica-b" })
        _ = try await b.database.acquireLease(Lease.reconcilerName, owner: "replica-dead", kind: "leader", ttl: .seconds(600))
        var configuration = Reconciler.Configuration()
        configuration.interval = .milliseconds(50)
        let reconciler = Reconciler(provisioner: b.provisioner, configuration: configuration, logger: Logger(label: "test"))
        let running = Task { try await reconciler.run() }
        try await Task.sleep(for: .milliseconds(300))
        #expect(!reconciler.isLeader)
        #expect(reconciler.totals.passes == 0)

        _ = try await b.database.acquireLease(Lease.reconcilerName, owner: "replica-dead", kind: "leader", ttl: .milliseconds(1))
        try await waitUntil { reconciler.isLeader && reconciler.totals.passes >= 1 }
        running.cancel()
        try await running.value
    }

    private func waitUntil(within: Duration = .seconds(20), _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + within
        while !condition() && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(condition(), "not within \(within)")
    }
}
