import Foundation
import Testing

@testable import Provisioning
import StoreCore
import StoreDatabase

@Suite("Provisioner on the simulated cluster")
struct ProvisionerTests {
    @Test func createdStoreBecomesReadyThroughEveryStep() async throws {
        let harness = try Harness()
        let events = harness.provisioner.events.subscribe().events
        let created = try await harness.create("shop")
        #expect(created.status == .queued)
        let ready = try await harness.waitFor(created.id, [.ready])
        #expect(ready.url == "http://shop.stores.localhost")
        #expect(ready.attempts == 1)
        #expect(ready.readyAt != nil)
        #expect(ready.provisioningDurationMilliseconds != nil)
        #expect(try await harness.trail(created.id) == ["->queued:create", "queued>provisioning:provision", "provisioning>ready:ready"])
        #expect(try await harness.cluster.installCount(namespace: ready.namespace, release: ready.release) == 1)
        let inventory = try await harness.cluster.listManaged()
        #expect(inventory.namespaces.map(\.name) == [ready.namespace])
        #expect(inventory.namespaces.first?.storeID == created.id)

        var seen: [StoreStatus] = []
        for await event in events {
            seen.append(event.toStatus)
            if event.toStatus == .ready { break }
        }
        #expect(seen == [.queued, .provisioning, .ready])
    }

    @Test(arguments: [
        (SimulatedClusterConfiguration.Fault.installError, "INSTALLATION FAILED"),
        (.crashLoop, "pods failing: CrashLoopBackOff"),
        (.imagePull, "pods failing: ImagePullBackOff"),
        (.neverReady, "still not ready: deployment/shop-wordpress (0/1 ready), statefulset/shop-mysql (0/1 ready)"),
    ])
    func faultEndsFailedWithItsReasonAndRetryReachesReady(fault: SimulatedClusterConfiguration.Fault, reason: String) async throws {
        let harness = try Harness(
            cluster: { $0.faults = [fault: 1]; $0.readyDelay = .milliseconds(100) },
            // Long enough for a healthy retry on a loaded machine; never-ready still fails at it.
            provisioner: { $0.deadline = .seconds(3) }
        )
        let store = try await harness.create("shop")
        let failed = try await harness.waitFor(store.id, [.failed])
        #expect(failed.errorMessage.contains(reason), "\(failed.errorMessage)")
        if fault == .crashLoop {
            #expect(failed.errorMessage.contains("events: Warning BackOff"))
        }
        if fault == .neverReady {
            #expect(failed.errorMessage.hasPrefix("timed out after"))
        }
        let retried = try await harness.provisioner.retry(storeID: store.id, actor: "uid:0", requestID: "r1")
        #expect(retried.status == .queued)
        #expect(retried.errorMessage == "")
        let ready = try await harness.waitFor(store.id, [.ready])
        #expect(ready.attempts == 2)
        // A retry replaces whatever the failed attempt left: exactly one more install.
        #expect(try await harness.cluster.installCount(namespace: ready.namespace, release: ready.release) == 2)
        #expect(try await harness.trail(store.id).suffix(4) == [
            "provisioning>failed:fail", "failed>queued:retry", "queued>provisioning:provision", "provisioning>ready:ready",
        ])
    }

    @Test func retryOnAStoreThatIsNotFailedIsRefused() async throws {
        let harness = try Harness()
        let store = try await harness.create("shop")
        try await harness.waitFor(store.id, [.ready])
        let error = await #expect(throws: PlatformError.self) {
            _ = try await harness.provisioner.retry(storeID: store.id, actor: "uid:0", requestID: nil)
        }
        #expect(error?.code == .invalidStateTransition)
        #expect(error?.message == "cannot retry store \"shop\": it is ready; retry applies to failed stores")
    }

    @Test func deleteRemovesReleaseAndNamespace() async throws {
        let harness = try Harness()
        let store = try await harness.create("shop")
        try await harness.waitFor(store.id, [.ready])
        let deleting = try await harness.provisioner.delete(storeID: store.id, actor: "uid:0", requestID: nil)
        #expect(deleting.status == .deleting)
        let deleted = try await harness.waitFor(store.id, [.deleted])
        #expect(deleted.deletedAt != nil)
        #expect(try await harness.cluster.listManaged() == ClusterInventory(namespaces: [], releases: []))
        // The name is free again; the new store gets its own namespace.
        let again = try await harness.create("shop")
        #expect(again.namespace != store.namespace)
        try await harness.waitFor(again.id, [.ready])
    }

    @Test func deleteDuringProvisioningCancelsItAndCleansUp() async throws {
        let harness = try Harness(cluster: { $0.readyDelay = .seconds(30) })
        let store = try await harness.create("slow")
        try await harness.waitFor(store.id, [.provisioning])
        _ = try await harness.provisioner.delete(storeID: store.id, actor: "uid:0", requestID: nil)
        try await harness.waitFor(store.id, [.deleted])
        #expect(try await harness.trail(store.id) == ["->queued:create", "queued>provisioning:provision", "provisioning>deleting:delete", "deleting>deleted:deleted"])
        #expect(try await harness.cluster.listManaged().namespaces.isEmpty)
    }

    @Test func deleteFailureEndsFailedAndASecondDeleteSucceeds() async throws {
        let harness = try Harness(cluster: { $0.faults = [.deleteFailure: 1] })
        let store = try await harness.create("shop")
        try await harness.waitFor(store.id, [.ready])
        _ = try await harness.provisioner.delete(storeID: store.id, actor: "uid:0", requestID: nil)
        let failed = try await harness.waitFor(store.id, [.failed])
        #expect(failed.errorMessage.hasPrefix("delete failed: helm uninstall shop failed:"))
        #expect(failed.errorMessage.contains("kubectl delete namespace"))
        _ = try await harness.provisioner.delete(storeID: store.id, actor: "uid:0", requestID: nil)
        try await harness.waitFor(store.id, [.deleted])
    }

    @Test func aSecondOperationOnTheSameStoreIsRefusedWhileOneRuns() async throws {
        let harness = try Harness(cluster: { $0.uninstallDelay = .seconds(2) })
        let store = try await harness.create("shop")
        try await harness.waitFor(store.id, [.ready])
        _ = try await harness.provisioner.delete(storeID: store.id, actor: "uid:0", requestID: nil)
        let error = await #expect(throws: PlatformError.self) {
            _ = try await harness.provisioner.delete(storeID: store.id, actor: "uid:0", requestID: nil)
        }
        #expect(error?.code == .operationInProgress)
        #expect(harness.provisioner.locks.active.map(\.kind) == [.delete])
        try await harness.waitFor(store.id, [.deleted])
    }

    @Test func atMostTheConfiguredNumberProvisionAtOnce() async throws {
        let harness = try Harness(cluster: { $0.readyDelay = .milliseconds(300) }, provisioner: { $0.maxConcurrentProvisions = 2 })
        let events = harness.provisioner.events.subscribe().events
        var stores: [Store] = []
        for index in 0..<6 { stores.append(try await harness.create("shop-\(index)")) }
        var provisioning = Set<String>()
        var peak = 0
        var ready = 0
        for await event in events {
            switch event.toStatus {
            case .provisioning: provisioning.insert(event.store.id)
            case .ready, .failed:
                provisioning.remove(event.store.id)
                ready += 1
            default: break
            }
            peak = max(peak, provisioning.count)
            if ready == stores.count { break }
        }
        #expect(peak == 2)
    }

    @Test func secretsNeverReachTheDatabaseOrTheStore() async throws {
        let harness = try Harness()
        let store = try await harness.create("shop")
        let ready = try await harness.waitFor(store.id, [.ready])
        // The platform's database holds no credential; the simulated cluster keeps
        // only the Secret's key names, like `kubectl get secret` without values.
        for file in ["store.sqlite", "store.sqlite-wal"] {
            let bytes = (try? Data(contentsOf: URL(fileURLWithPath: harness.directory + "/" + file))) ?? Data()
            #expect(!String(decoding: bytes, as: UTF8.self).contains("password"), "\(file)")
        }
        #expect(!"\(ready)".contains("password"))
        #expect(StoreSecrets.password().count == 32)
        #expect(StoreSecrets.password() != StoreSecrets.password())
    }
}
