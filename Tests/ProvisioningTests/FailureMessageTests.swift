import Foundation
import Logging
import ProcessTestSupport
import ProvisioningTestSupport
import Testing

@testable import Provisioning
import StoreCore
import StoreDatabase

/// A driver failure far longer than any message the platform keeps, through the
/// real HelmCLIDriver (fake helm) and the Provisioner into the database.
@Suite struct FailureMessageTests {
    @Test func anOverLongDriverFailureIsStoredAsHeadMarkerAndTail() async throws {
        let fakes = try FakeTools()
        let directory = try makeTemporaryDirectory("spfail")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let database = try SQLiteStoreDatabase.open(path: directory + "/store.sqlite")
        var configuration = ProvisionerConfiguration()
        configuration.pollInterval = .milliseconds(20)
        let provisioner = Provisioner(
            database: database, driver: fakes.driver(), events: StoreEventBus(), configuration: configuration, logger: Logger(label: "test")
        )
        let running = RunningProvisioner(provisioner)
        // 200,000 bytes of helm output, no whitespace but the newlines between lines of 40.
        let line = String(repeating: "e", count: 29)
        let stderr = (0..<5000).map { String(format: "%010d", $0) + line + "\n" }.joined()
        try fakes.set("fail-helm-install", stderr)

        let created = try await provisioner.create(
            name: "shop", engine: "", actor: "uid:0", requestID: nil, idempotencyKey: nil, maxLiveStores: 10
        )
        let failed = try await waitForStore(created.id, [.failed], database: database, provisioner: provisioner, within: .seconds(60))

        // The driver keeps 64 KiB of the output; the database keeps 2 KiB of each end of that.
        let reason = "helm install shop failed: " + String(decoding: Array(stderr.utf8.prefix(65536)), as: UTF8.self)
            + "\n[output truncated to 65536 bytes]"
        #expect(reason.utf8.count == 65596)
        let head = String(decoding: Array(reason.utf8.prefix(2048)), as: UTF8.self)
        let tail = String(decoding: Array(reason.utf8.suffix(2048)), as: UTF8.self)
        let expected = head + "… [61500 bytes cut] …" + tail
        #expect(failed.errorMessage == expected)
        #expect(failed.errorMessage.utf8.count == 2048 + 2048 + "… [61500 bytes cut] …".utf8.count)

        let fail = try #require(try await database.listAudit(limit: 10, pageToken: "", storeID: created.id).events.first)
        #expect(fail.action == .fail)
        #expect(fail.message == expected)
        #expect(try await database.recentFailures(limit: 1).first?.event.message == expected)
        await running.stop()
    }
}
