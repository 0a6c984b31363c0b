import Foundation
import ProcessTestSupport
import StorePlatformProto
import StoreRPC
import Testing

/// Fleet upgrades through the daemon process (docs/ARCHITECTURE.md, "Fleet
/// upgrades"): storectl's fleet commands with a fault of one store from `--sim-fault
/// FAULT@NAME`, and `kill -9` mid-fleet.
@Suite("Fleet upgrades through the daemon process")
struct FleetDaemonTests {
    private func fleetUpgrade(_ client: RPCClient, _ id: String = "") async throws -> Storeplatform_V1_FleetUpgrade {
        var request = Storeplatform_V1_GetFleetUpgradeRequest()
        request.id = id
        return try await client.unary(M.FleetService.getFleetUpgrade, request).fleetUpgrade
    }

    @Test func storectlFleetUpgradeStopsAtTheSeededFailureAndSaysWhatMoved() async throws {
        let daemon = try DaemonProcess(extraArguments: quickCluster + ["--sim-fault", "upgrade-error@shop-3"])
        try await daemon.start()
        let socket = ["--socket", daemon.socketPath]
        let client = try await RPCClient.connect(to: .unix(path: daemon.socketPath))
        var ids: [String: String] = [:]
        for index in 1...6 { ids["shop-\(index)"] = try await client.create("shop-\(index)").id }
        for id in ids.values { try await client.waitFor(id, [.ready]) }

        let none = try await runProduct("storectl", ["fleet", "status"] + socket)
        #expect(none.status == 1)
        #expect(none.stderr.contains("NOT_FOUND: there has been no fleet upgrade"), "\(none.stderr)")

        let run = try await runProduct("storectl", ["fleet", "upgrade", "6.8-wc9.8", "--wave-size", "2", "--wait"] + socket)
        #expect(run.status == 1, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("shop-3  rolled-back: "), "\(run.stdout)")
        #expect(run.stdout.contains("wave 1  shop-1  upgraded"), "\(run.stdout)")
        #expect(run.stdout.contains("fleet upgrade stopped: 3 upgraded, 1 rolled back, 0 failed, 0 skipped, 2 not started"), "\(run.stdout)")
        #expect(run.stderr.contains("stopped: 3 upgraded, 1 rolled back"), "\(run.stderr)")

        let fleet = try await fleetUpgrade(client)
        #expect(fleet.state == .stopped)
        #expect(fleet.stores.filter { $0.outcome == .upgraded }.map(\.name) == ["shop-1", "shop-2", "shop-4"])
        #expect(fleet.stores.filter { $0.outcome == .waiting }.map(\.name) == ["shop-5", "shop-6"])
        #expect(try await client.store(ids["shop-4"]!).version == "6.8-wc9.8")
        #expect(try await client.store(ids["shop-3"]!).version == "6.9-wc10.3")
        #expect(try await client.store(ids["shop-5"]!).version == "6.9-wc10.3")

        let status = try await runProduct("storectl", ["fleet", "status", fleet.id] + socket)
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("STATE           stopped"), "\(status.stdout)")
        #expect(status.stdout.contains("UPGRADE FAILED"), "\(status.stdout)")
        let listed = try await runProduct("storectl", ["fleet", "list"] + socket)
        #expect(listed.stdout.contains("\(fleet.id)  6.8-wc9.8  stopped  2/3"), "\(listed.stdout)")
        // The audit log has its steps, naming the fleet upgrade where a store's row names the store.
        let audit = try await runProduct("storectl", ["audit", "--limit", "100"] + socket)
        #expect(audit.status == 0, "\(audit.stderr)")
        let steps = audit.stdout.split(separator: "\n").filter { $0.contains("fleet \(fleet.id)") }
        #expect(steps.map { $0.split(separator: " ", omittingEmptySubsequences: true)[2] }
            == ["fleet-end", "fleet-stop", "fleet-wave", "fleet-wave", "fleet-start"], "\(audit.stdout)")

        // Ended: nothing to pause. The rest goes with a second fleet upgrade, by name.
        let pause = try await runProduct("storectl", ["fleet", "pause"] + socket)
        #expect(pause.status == 1)
        #expect(pause.stderr.contains("NOT_FOUND: no fleet upgrade is active"), "\(pause.stderr)")
        let rest = try await runProduct(
            "storectl", ["fleet", "upgrade", "6.8-wc9.8", "--store", "shop-6", "--store", "shop-5", "--store", "shop-3", "--wait"] + socket
        )
        #expect(rest.status == 0, "\(rest.stdout)\(rest.stderr)")
        let second = try await fleetUpgrade(client)
        #expect(second.stores.map(\.name) == ["shop-6", "shop-5", "shop-3"])
        #expect(second.upgraded == 3)
        await client.close()
        try await daemon.terminate()
    }

    @Test(arguments: DaemonDatabase.all)
    func killMinus9MidFleetThenRestartTheFleetCompletesEachStoreUpgradedOnce(database: DaemonDatabase) async throws {
        // Each upgrade's pods take 1 s to be ready: the kill comes during wave 2.
        let arguments = [
            "--sim-install-delay", "0.05", "--sim-ready-delay", "1", "--readiness-poll-ms", "50",
            "--requests-per-minute", "100000", "--creates-per-minute", "100000", "--reconcile-interval", "3600",
            "--lease-ttl", "2",
        ] + (try await database.arguments())
        let first = try DaemonProcess(extraArguments: arguments)
        try await first.start()
        let client = try await RPCClient.connect(to: .unix(path: first.socketPath))
        var stores: [Storeplatform_V1_Store] = []
        for index in 1...6 { stores.append(try await client.create("shop-\(index)")) }
        for store in stores { try await client.waitFor(store.id, [.ready], within: .seconds(60)) }
        var request = Storeplatform_V1_UpgradeFleetRequest()
        request.version = "6.8-wc9.8"
        request.waveSize = 2
        let id = try await client.unary(M.FleetService.upgradeFleet, request).fleetUpgrade.id
        _ = try await pollUntil("wave 2 under way") {
            try await fleetUpgrade(client, id).currentWave == 2 ? true : nil
        }
        await client.close()
        first.signal(SIGKILL)
        try await first.waitForExit(within: .seconds(30)) { "the daemon outlived SIGKILL" }

        let second = try DaemonProcess(extraArguments: arguments, directory: first.directory)
        try await second.start()
        let after = try await RPCClient.connect(to: .unix(path: second.socketPath))
        let ended = try await pollUntil("the fleet upgrade's end", within: .seconds(120)) {
            let fleet = try await fleetUpgrade(after, id)
            return fleet.endedMs > 0 ? fleet : nil
        }
        #expect(ended.state == .completed, "\(ended.steps.map(\.message))")
        #expect(ended.upgraded == 6)
        let cluster = try await second.simulatedCluster()
        for store in stores {
            // Installed, then upgraded once: the resumed upgrades found their revisions made.
            #expect(try await cluster.revisionVersions(namespace: store.namespace, release: store.release) == ["6.9-wc10.3", "6.8-wc9.8"])
            #expect(try await after.store(store.id).version == "6.8-wc9.8")
        }
        await after.close()
        try await second.terminate()
    }
}
