import Foundation
import Testing

@testable import Provisioning
import StoreCore
import StoreDatabase

@Suite("Reconciler")
struct ReconcilerTests {
    @Test func interruptedProvisioningGoesBackToTheQueueAndCompletesWithOneInstall() async throws {
        // A first daemon starts provisioning, then stops mid-way (its tasks cancelled).
        let first = try Harness(cluster: { $0.readyDelay = .milliseconds(800) })
        let store = try await first.create("shop")
        try await first.waitFor(store.id, [.provisioning])
        try await Task.sleep(for: .milliseconds(100))
        await first.stop()
        #expect(try await first.database.store(id: store.id)?.status == .provisioning)

        // A second daemon on the same state: one reconcile pass resumes it.
        let second = try Harness(cluster: { $0.readyDelay = .milliseconds(800) }, directory: first.directory, database: first.database)
        let report = try await second.reconciler.reconcile()
        #expect(report.corrections.map(\.to) == [.queued])
        #expect(second.driver.listings == 1)
        let ready = try await second.waitFor(store.id, [.ready])
        #expect(try await second.cluster.installCount(namespace: ready.namespace, release: ready.release) == 1)
        #expect(try await second.trail(store.id) == [
            "->queued:create", "queued>provisioning:provision", "provisioning>queued:recovery", "queued>provisioning:recovery",
            "provisioning>ready:ready",
        ])
    }

    @Test func provisioningPastItsDeadlineFails() async throws {
        let first = try Harness(cluster: { $0.readyDelay = .seconds(30) })
        let store = try await first.create("shop")
        try await first.waitFor(store.id, [.provisioning])
        await first.stop()
        let second = try Harness(provisioner: { $0.deadline = .milliseconds(1) }, directory: first.directory, database: first.database)
        let report = try await second.reconciler.reconcile()
        #expect(report.corrections.map(\.to) == [.failed])
        let failed = try await #require(try second.database.store(id: store.id))
        #expect(failed.status == .failed)
        #expect(failed.errorMessage.hasPrefix("provisioning deadline passed: started"))
    }

    @Test func readyStoreWhoseReleaseVanishedFailsWithDrift() async throws {
        let harness = try Harness()
        let store = try await harness.create("shop")
        let ready = try await harness.waitFor(store.id, [.ready])
        try await harness.cluster.simulateReleaseVanished(namespace: ready.namespace, release: ready.release)
        let report = try await harness.reconciler.reconcile()
        #expect(report.corrections.count == 1)
        #expect(report.corrections.first?.reason == "drift: release shop vanished from the cluster; retry to reinstall or delete the store")
        let failed = try await #require(try harness.database.store(id: store.id))
        #expect(failed.status == .failed)
        #expect(try await harness.trail(store.id).last == "ready>failed:reconcile")
        // A second pass finds nothing more to do.
        #expect(try await harness.reconciler.reconcile().corrections.isEmpty)
    }

    @Test func orphanNamespacesAreReportedAndDeletedOnlyWhenConfigured() async throws {
        let harness = try Harness()
        try await harness.cluster.simulateOrphanNamespace("store-ghost-abcdef", storeID: "st_gone")
        let report = try await harness.reconciler.reconcile()
        #expect(report.orphanNamespaces == ["store-ghost-abcdef"])
        #expect(report.deletedOrphans.isEmpty)

        var configuration = Reconciler.Configuration()
        configuration.deleteOrphans = true
        let deleting = Reconciler(provisioner: harness.provisioner, configuration: configuration, logger: .init(label: "test"))
        #expect(try await deleting.reconcile().deletedOrphans == ["store-ghost-abcdef"])
        #expect(try await harness.cluster.listManaged().namespaces.isEmpty)
    }

    @Test func interruptedDeletionIsFinished() async throws {
        let first = try Harness(cluster: { $0.uninstallDelay = .seconds(30) })
        let store = try await first.create("shop")
        try await first.waitFor(store.id, [.ready])
        _ = try await first.provisioner.delete(storeID: store.id, actor: "uid:0", requestID: nil)
        try await Task.sleep(for: .milliseconds(100))
        await first.stop()
        #expect(try await first.database.store(id: store.id)?.status == .deleting)

        let second = try Harness(directory: first.directory, database: first.database)
        let report = try await second.reconciler.reconcile()
        #expect(report.corrections.map(\.reason) == ["resumed interrupted deletion"])
        try await second.waitFor(store.id, [.deleted])
        #expect(try await second.trail(store.id).last == "deleting>deleted:recovery")
    }

    @Test func onePassListsTheClusterOnceWhateverTheNumberOfStores() async throws {
        let harness = try Harness()
        for index in 0..<25 { _ = try await harness.create("shop-\(index)") }
        for store in try await harness.database.stores(inStatuses: [.queued, .provisioning, .ready]) {
            try await harness.waitFor(store.id, [.ready])
        }
        let before = harness.driver.listings
        let report = try await harness.reconciler.reconcile()
        #expect(report.storesExamined == 25)
        #expect(harness.driver.listings == before + 1)
        #expect(report.corrections.isEmpty)
    }
}
