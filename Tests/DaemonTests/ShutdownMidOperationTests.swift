import Foundation
import Provisioning
import StorePlatformProto
import StoreRPC
import Testing

@Suite("Stopping the daemon mid-operation")
struct ShutdownMidOperationTests {
    /// Slow simulated installs and uninstalls, so SIGTERM surely lands while one
    /// store is being provisioned and another deleted; a grace period of 3 s.
    static let arguments = [
        "--sim-install-delay", "6", "--sim-ready-delay", "0.5", "--sim-uninstall-delay", "6", "--readiness-poll-ms", "50",
        "--requests-per-minute", "100000", "--creates-per-minute", "100000", "--reconcile-interval", "3600",
        "--grace-period", "3",
    ]

    /// SIGTERM while a store is provisioning and another is deleting, with
    /// `storectl delete --wait` and `storectl watch` connected: the daemon exits
    /// (status 0, within the bound ``DaemonProcess/terminate()`` allows: no hang),
    /// the clients exit by themselves,
    /// and after a restart on the same data the reconcile pass finishes both
    /// operations: one store ends ready, the other deleted, and each audit trail
    /// is complete, every row starting where the one before it ended.
    @Test func sigtermWhileProvisioningAndDeletingExitsAndTheRestartFinishesBoth() async throws {
        let first = try DaemonProcess(extraArguments: Self.arguments)
        try await first.start()
        let client = try await RPCClient.connect(to: .unix(path: first.socketPath))
        let leaving = try await client.create("leaving")
        try await client.waitFor(leaving.id, [.ready])

        let watcher = try BackgroundProduct("storectl", ["watch", "--socket", first.socketPath])
        let staying = try await client.create("staying")
        let deleter = try BackgroundProduct("storectl", ["delete", leaving.id, "--wait", "--socket", first.socketPath])
        try await client.waitFor(staying.id, [.provisioning])
        try await client.waitFor(leaving.id, [.deleting])
        // Both operations are under way (each sleeps 6 s in the simulated cluster).
        #expect(try await client.store(staying.id).status == .provisioning)
        #expect(try await client.store(leaving.id).status == .deleting)
        await client.close()

        #expect(try await first.terminate() == 0)
        #expect(first.log.contains("storeplatformd stopped"), "\(first.log.suffix(2000))")
        // The clients were cut off, not left hanging: both exit by themselves.
        let deleterStatus = try await deleter.exitStatus()
        let watcherStatus = try await watcher.exitStatus()
        // On a loaded machine the uninstall may still end within the grace period;
        // either way storectl reports what it saw.
        if deleterStatus == 0 {
            #expect(deleter.stdout.contains("deleted"), "storectl delete --wait: \(deleter.stdout)")
        } else {
            #expect(!deleter.stderr.isEmpty, "storectl delete --wait exited \(deleterStatus) saying nothing")
        }
        #expect(watcherStatus == 0 || watcherStatus == 3, "storectl watch: \(watcher.stderr)")

        let second = try DaemonProcess(extraArguments: Self.arguments, directory: first.directory)
        try await second.start()
        let after = try await RPCClient.connect(to: .unix(path: second.socketPath))
        let ready = try await after.waitFor(staying.id, [.ready, .failed], within: .seconds(120))
        #expect(ready.status == .ready, "\(ready.errorMessage)")
        let deleted = try await after.waitFor(leaving.id, [.deleted, .failed], within: .seconds(120))
        #expect(deleted.status == .deleted, "\(deleted.errorMessage)")

        let stayingTrail = try await after.audit(storeID: staying.id)
        let leavingTrail = try await after.audit(storeID: leaving.id)
        #expect(stayingTrail.first?.action == "create")
        #expect(stayingTrail.last?.toStatus == .ready)
        #expect(leavingTrail.first?.action == "create")
        #expect(leavingTrail.contains { $0.action == "delete" && $0.toStatus == .deleting })
        #expect(leavingTrail.last?.toStatus == .deleted)
        for trail in [stayingTrail, leavingTrail] {
            for (previous, next) in zip(trail, trail.dropFirst()) {
                #expect(previous.toStatus == next.fromStatus, "gap: \(previous.action) to \(previous.toStatus), then \(next.action) from \(next.fromStatus)")
            }
        }
        // The cluster holds the staying store's release and nothing of the deleted one.
        let cluster = try await second.simulatedCluster()
        #expect(try await cluster.namespacePhase(ready.namespace) != nil)
        #expect(try await cluster.namespacePhase(deleted.namespace) == nil)
        await after.close()
        #expect(try await second.terminate() == 0)
    }
}
