import Foundation
import ProcessTestSupport
import Provisioning
import StorePlatformProto
import StoreRPC
import Testing

extension RPCClient {
    func upgrade(_ id: String, to version: String) async throws -> Storeplatform_V1_Store {
        var request = Storeplatform_V1_UpgradeStoreRequest()
        request.id = id
        request.version = version
        return try await unary(M.StoreService.upgradeStore, request).store
    }

    func revisions(_ id: String) async throws -> [String] {
        var request = Storeplatform_V1_ListStoreRevisionsRequest()
        request.id = id
        return try await unary(M.StoreService.listStoreRevisions, request).revisions.map {
            "\($0.revision):\($0.version):\($0.status)"
        }
    }
}

/// Upgrades and rollbacks through the daemon process (docs/ARCHITECTURE.md, "Upgrades
/// and rollbacks"): storectl's commands, the guards' codes on the wire, a fault from
/// `--sim-fault`, and `kill -9` mid-upgrade.
@Suite("Upgrades and rollbacks through the daemon process")
struct UpgradeDaemonTests {
    @Test(arguments: DaemonDatabase.all)
    func storectlUpgradesRollsBackAndListsRevisionsAndVersions(database: DaemonDatabase) async throws {
        let daemon = try DaemonProcess(extraArguments: quickCluster + (try await database.arguments()))
        try await daemon.start()
        let socket = ["--socket", daemon.socketPath]

        let versions = try await runProduct("storectl", ["versions"] + socket)
        #expect(versions.status == 0, "\(versions.stderr)")
        #expect(versions.stdout.contains("6.8-wc9.8 "))
        #expect(versions.stdout.contains("6.9-wc10.3 *"))
        let listed = try await runProduct("storectl", ["versions", "--json"] + socket)
        #expect(try Storeplatform_V1_ListEngineVersionsResponse(jsonString: listed.stdout).versions.map(\.name) == ["6.8-wc9.8", "6.9-wc10.3"])

        let created = try await runProduct("storectl", ["create", "shop", "--wait"] + socket)
        #expect(created.status == 0, "\(created.stdout)\(created.stderr)")

        let upgraded = try await runProduct("storectl", ["upgrade", "shop", "6.8-wc9.8", "--wait"] + socket)
        #expect(upgraded.status == 0, "\(upgraded.stdout)\(upgraded.stderr)")
        #expect(upgraded.stdout.contains("upgrading"))
        #expect(upgraded.stdout.contains("ready at http://shop.stores.localhost"))
        let client = try await RPCClient.connect(to: .unix(path: daemon.socketPath))
        let id = try await client.unary(M.StoreService.getStore, { var r = Storeplatform_V1_GetStoreRequest(); r.name = "shop"; return r }()).store.id
        var store = try await client.store(id)
        #expect(store.version == "6.8-wc9.8")
        #expect(store.revision == 2)

        let revisions = try await runProduct("storectl", ["revisions", "shop"] + socket)
        #expect(revisions.status == 0, "\(revisions.stderr)")
        let rows = revisions.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).prefix(3).joined(separator: " ") }
        #expect(rows == ["REVISION VERSION STATUS", "2 6.8-wc9.8 deployed", "1 6.9-wc10.3 superseded"])

        let rolledBack = try await runProduct("storectl", ["rollback", "shop", "1", "--wait"] + socket)
        #expect(rolledBack.status == 0, "\(rolledBack.stdout)\(rolledBack.stderr)")
        store = try await client.store(id)
        #expect(store.version == "6.9-wc10.3")
        #expect(store.revision == 3)
        #expect(try await client.revisions(id) == ["3:6.9-wc10.3:deployed", "2:6.8-wc9.8:superseded", "1:6.9-wc10.3:superseded"])
        let trail = try await client.audit(storeID: id).map(\.action).suffix(4)
        #expect(Array(trail) == ["upgrade", "upgraded", "rollback", "upgraded"])

        // The guards, each with its code, through storectl and on the wire.
        let same = try await runProduct("storectl", ["upgrade", "shop", "6.9-wc10.3"] + socket)
        #expect(same.status == 1)
        #expect(same.stderr.contains("ALREADY_ON_VERSION"), "\(same.stderr)")
        let unknown = try await runProduct("storectl", ["upgrade", "shop", "9.9-wc99"] + socket)
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("UNKNOWN_VERSION"), "\(unknown.stderr)")
        let noRevision = try await runProduct("storectl", ["rollback", "shop", "9"] + socket)
        #expect(noRevision.status == 1)
        #expect(noRevision.stderr.contains("UNKNOWN_REVISION"), "\(noRevision.stderr)")
        #expect(await errorCode { _ = try await client.upgrade("st_nosuchstore0", to: "6.8-wc9.8") } == "NOT_FOUND")
        _ = try await client.delete(id)
        try await client.waitFor(id, [.deleted])
        #expect(await errorCode { _ = try await client.upgrade(id, to: "6.8-wc9.8") } == "INVALID_STATE_TRANSITION")
        await client.close()
        try await daemon.terminate()
    }

    @Test func aSeededUpgradeFaultIsRolledBackAndStorectlWaitSaysSo() async throws {
        let daemon = try DaemonProcess(extraArguments: quickCluster + ["--sim-fault", "migration-error"])
        try await daemon.start()
        let socket = ["--socket", daemon.socketPath]
        let created = try await runProduct("storectl", ["create", "shop", "--wait"] + socket)
        #expect(created.status == 0, "\(created.stdout)\(created.stderr)")

        let upgraded = try await runProduct("storectl", ["upgrade", "shop", "6.8-wc9.8", "--wait"] + socket)
        #expect(upgraded.status == 1)
        #expect(upgraded.stderr.contains("revision 2 of store shop (st_"), "\(upgraded.stderr)")
        #expect(upgraded.stderr.contains("failed and was rolled back: it runs revision 3 (6.9-wc10.3) again"), "\(upgraded.stderr)")

        let client = try await RPCClient.connect(to: .unix(path: daemon.socketPath))
        let id = try await client.unary(M.StoreService.getStore, { var r = Storeplatform_V1_GetStoreRequest(); r.name = "shop"; return r }()).store.id
        let store = try await client.store(id)
        #expect(store.status == .ready)
        #expect(store.version == "6.9-wc10.3")
        let last = try #require(try await client.audit(storeID: id).last)
        #expect(last.action == "rolled-back")
        #expect(last.message.contains("post-upgrade hooks failed"), "\(last.message)")
        #expect(last.message.hasSuffix("rolled back to revision 1 (6.9-wc10.3) as revision 3"), "\(last.message)")
        await client.close()
        try await daemon.terminate()
    }

    @Test(arguments: DaemonDatabase.all)
    func killMinus9MidUpgradeThenRestartTheUpgradeEndsOnce(database: DaemonDatabase) async throws {
        // The upgraded pods take 3 s to be ready: the kill comes while they are awaited.
        let arguments = [
            "--sim-install-delay", "0.1", "--sim-ready-delay", "3", "--readiness-poll-ms", "50",
            "--requests-per-minute", "100000", "--creates-per-minute", "100000", "--reconcile-interval", "3600",
        ] + (try await database.arguments())
        let first = try DaemonProcess(extraArguments: arguments)
        try await first.start()
        let client = try await RPCClient.connect(to: .unix(path: first.socketPath))
        let id = try await client.create("shop").id
        try await client.waitFor(id, [.ready])
        let upgrading = try await client.upgrade(id, to: "6.8-wc9.8")
        #expect(upgrading.status == .upgrading)
        await client.close()
        let cluster = try await first.simulatedCluster()
        let store = upgrading
        _ = try await pollUntil("the upgrade's revision in the cluster") {
            try await cluster.revisionVersions(namespace: store.namespace, release: store.release).count == 2 ? true : nil
        }
        first.signal(SIGKILL)
        try await first.waitForExit(within: .seconds(30)) { "the daemon outlived SIGKILL" }

        let second = try DaemonProcess(extraArguments: arguments, directory: first.directory)
        try await second.start()
        let after = try await RPCClient.connect(to: .unix(path: second.socketPath))
        let ready = try await after.waitFor(id, [.ready, .failed], within: .seconds(60))
        #expect(ready.status == .ready)
        #expect(ready.version == "6.8-wc9.8")
        #expect(ready.revision == 2)
        // The upgrade command ran once: the resumed operation found its revision made.
        #expect(try await cluster.revisionVersions(namespace: store.namespace, release: store.release) == ["6.9-wc10.3", "6.8-wc9.8"])
        let trail = try await after.audit(storeID: id).map { "\($0.fromStatus)>\($0.toStatus):\($0.action)" }
        #expect(Array(trail.suffix(2)) == ["ready>upgrading:upgrade", "upgrading>ready:upgraded"])
        #expect(try await after.revisions(id) == ["2:6.8-wc9.8:deployed", "1:6.9-wc10.3:superseded"])
        await after.close()
        try await second.terminate()
    }
}
