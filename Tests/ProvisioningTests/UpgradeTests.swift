import Foundation
import ProcessTestSupport
import Synchronization
import Testing

@testable import Provisioning
import StoreCore
import StoreDatabase

@Suite("Upgrades and rollbacks on the simulated cluster")
struct UpgradeTests {
    /// A ready store named "shop" on the older version, 6.8-wc9.8, as revision 2: new
    /// stores get the default (the newest, 6.9-wc10.3), so it is moved there first.
    private func readyOnOldVersion(_ harness: Harness) async throws -> Store {
        let created = try await harness.create("shop")
        let ready = try await harness.waitFor(created.id, [.ready])
        #expect(ready.version == "6.9-wc10.3")
        #expect(ready.revision == 1)
        _ = try await harness.provisioner.upgrade(storeID: ready.id, to: "6.8-wc9.8", actor: "uid:0", requestID: nil)
        let old = try await harness.waitFor(ready.id, [.ready, .failed])
        #expect(old.status == .ready)
        #expect(old.version == "6.8-wc9.8")
        #expect(old.revision == 2)
        return old
    }

    private func revisions(_ harness: Harness, _ store: Store) async throws -> [String] {
        try await harness.database.storeRevisions(storeID: store.id).map { "\($0.revision):\($0.version):\($0.status.rawValue)" }
    }

    @Test func anUpgradeEndsReadyOnTheNewVersionAsANewRevision() async throws {
        let harness = try Harness()
        let old = try await readyOnOldVersion(harness)

        let upgrading = try await harness.provisioner.upgrade(storeID: old.id, to: "6.9-wc10.3", actor: "token:ci", requestID: "r1")
        #expect(upgrading.status == .upgrading)
        #expect(upgrading.version == "6.9-wc10.3")
        #expect(upgrading.revision == 3)
        let ready = try await harness.waitFor(old.id, [.ready, .failed])
        #expect(ready.status == .ready)
        #expect(ready.version == "6.9-wc10.3")
        #expect(ready.revision == 3)
        #expect(ready.errorMessage == "")
        #expect(try await revisions(harness, ready) == ["3:6.9-wc10.3:deployed", "2:6.8-wc9.8:superseded", "1:6.9-wc10.3:superseded"])
        #expect(try await harness.trail(old.id).suffix(2) == ["ready>upgrading:upgrade", "upgrading>ready:upgraded"])
        let upgrade = try #require(try await harness.database.storeRevisions(storeID: old.id).first)
        #expect(upgrade.actor == "token:ci")
        #expect(upgrade.message == "upgrade from 6.8-wc9.8")
        // The cluster's release has the same history, each revision with the version it installs.
        #expect(try await harness.cluster.revisionVersions(namespace: ready.namespace, release: ready.release)
            == ["6.9-wc10.3", "6.8-wc9.8", "6.9-wc10.3"])
        #expect(try await harness.cluster.installCount(namespace: ready.namespace, release: ready.release) == 1)
    }

    @Test(arguments: [
        (SimulatedClusterConfiguration.Fault.upgradeError, "UPGRADE FAILED: release shop failed, revision 2"),
        (.migrationError, "post-upgrade hooks failed"),
        (.upgradeNeverReady, "timed out after"),
    ])
    func aFailedUpgradeIsRolledBackAndTheStoreEndsReadyOnItsOldVersion(
        fault: SimulatedClusterConfiguration.Fault, reason: String
    ) async throws {
        // Faults hit the first upgrade attempt of a release only.
        let harness = try Harness(
            cluster: { $0.faults = [fault: 1]; $0.readyDelay = .milliseconds(50) },
            provisioner: { $0.deadline = .seconds(2) }
        )
        let created = try await harness.create("shop")
        let first = try await harness.waitFor(created.id, [.ready])
        // The upgrade fails and is rolled back: revision 3 runs 6.9-wc10.3 again.
        _ = try await harness.provisioner.upgrade(storeID: first.id, to: "6.8-wc9.8", actor: "uid:0", requestID: nil)
        let rolledBack = try await harness.waitFor(first.id, [.ready, .failed])
        #expect(rolledBack.status == .ready)
        #expect(rolledBack.version == "6.9-wc10.3")
        #expect(rolledBack.revision == 3)
        #expect(rolledBack.errorMessage == "")
        #expect(try await revisions(harness, rolledBack) == ["3:6.9-wc10.3:deployed", "2:6.8-wc9.8:rolled-back", "1:6.9-wc10.3:superseded"])
        #expect(try await harness.trail(first.id).suffix(2) == ["ready>upgrading:upgrade", "upgrading>ready:rolled-back"])

        // Both reasons are recorded: the audit row of the rollback, and the failed revision.
        let audit = try #require(try await harness.database.listAudit(limit: 1, pageToken: "", storeID: first.id).events.first)
        #expect(audit.message.hasPrefix("upgrade to 6.8-wc9.8 failed: "), "\(audit.message)")
        #expect(audit.message.contains(reason), "\(audit.message)")
        #expect(audit.message.hasSuffix("; rolled back to revision 1 (6.9-wc10.3) as revision 3"), "\(audit.message)")
        let failed = try #require(try await harness.database.storeRevisions(storeID: first.id).first { $0.revision == 2 })
        #expect(failed.message.contains(reason), "\(failed.message)")
        // The failed revision never ran: it is no revision to roll back to.
        let notRan = await #expect(throws: PlatformError.self) {
            _ = try await harness.provisioner.rollback(storeID: first.id, to: 2, actor: "uid:0", requestID: nil)
        }
        #expect(notRan?.code == .unknownRevision)
        #expect(notRan?.message == "revision 2 of store \"shop\" never ran (it is rolled-back); its earlier revisions: 1")

        // The second attempt is past the seeded faults: it succeeds.
        _ = try await harness.provisioner.upgrade(storeID: first.id, to: "6.8-wc9.8", actor: "uid:0", requestID: nil)
        let upgraded = try await harness.waitFor(first.id, [.ready, .failed])
        #expect(upgraded.status == .ready)
        #expect(upgraded.version == "6.8-wc9.8")
        #expect(upgraded.revision == 4)
    }

    @Test func aRollbackToANamedRevisionIsANewRevisionWithItsVersion() async throws {
        let harness = try Harness()
        let old = try await readyOnOldVersion(harness)
        _ = try await harness.provisioner.upgrade(storeID: old.id, to: "6.9-wc10.3", actor: "uid:0", requestID: nil)
        try await harness.waitFor(old.id, [.ready])

        let rolling = try await harness.provisioner.rollback(storeID: old.id, to: 2, actor: "token:ops", requestID: nil)
        #expect(rolling.status == .upgrading)
        #expect(rolling.version == "6.8-wc9.8")
        #expect(rolling.revision == 4)
        let ready = try await harness.waitFor(old.id, [.ready, .failed])
        #expect(ready.status == .ready)
        #expect(ready.version == "6.8-wc9.8")
        #expect(ready.revision == 4)
        #expect(try await revisions(harness, ready)
            == ["4:6.8-wc9.8:deployed", "3:6.9-wc10.3:superseded", "2:6.8-wc9.8:superseded", "1:6.9-wc10.3:superseded"])
        let rollback = try #require(try await harness.database.storeRevisions(storeID: old.id).first)
        #expect(rollback.rollbackTo == 2)
        #expect(rollback.message == "rollback to revision 2")
        #expect(try await harness.trail(old.id).suffix(2) == ["ready>upgrading:rollback", "upgrading>ready:upgraded"])
        #expect(try await harness.cluster.revisionVersions(namespace: ready.namespace, release: ready.release).last == "6.8-wc9.8")
    }

    @Test func theGuardsAnswerTheirCodes() async throws {
        let harness = try Harness(cluster: { $0.faults = [.crashLoop: 1] }, provisioner: { $0.deadline = .seconds(2) })
        let broken = try await harness.create("broken")
        try await harness.waitFor(broken.id, [.failed])
        let healthy = try await harness.create("shop")
        // crashloop hits every install: a healthy store comes from the retry (attempt 2).
        try await harness.waitFor(healthy.id, [.failed])
        _ = try await harness.provisioner.retry(storeID: healthy.id, actor: "uid:0", requestID: nil)
        let ready = try await harness.waitFor(healthy.id, [.ready])

        func refusal(_ body: () async throws -> Store) async -> PlatformError? {
            await #expect(throws: PlatformError.self) { _ = try await body() }
        }
        let unknown = await refusal { try await harness.provisioner.upgrade(storeID: ready.id, to: "7.0-wc11", actor: "uid:0", requestID: nil) }
        #expect(unknown?.code == .unknownVersion)
        #expect(unknown?.message == "engine \"woocommerce\" has no version \"7.0-wc11\"; its versions: 6.8-wc9.8, 6.9-wc10.3")
        let same = await refusal { try await harness.provisioner.upgrade(storeID: ready.id, to: "6.9-wc10.3", actor: "uid:0", requestID: nil) }
        #expect(same?.code == .alreadyOnVersion)
        #expect(same?.message == "store \"shop\" already runs version 6.9-wc10.3 (revision 1); nothing to upgrade")
        let empty = await refusal { try await harness.provisioner.upgrade(storeID: ready.id, to: " ", actor: "uid:0", requestID: nil) }
        #expect(empty?.code == .invalidArgument)
        let notReady = await refusal { try await harness.provisioner.upgrade(storeID: broken.id, to: "6.8-wc9.8", actor: "uid:0", requestID: nil) }
        #expect(notReady?.code == .invalidStateTransition)
        #expect(notReady?.message == "cannot upgrade store \"broken\": it is failed; upgrade applies to ready stores")
        let noRevision = await refusal { try await harness.provisioner.rollback(storeID: ready.id, to: 7, actor: "uid:0", requestID: nil) }
        #expect(noRevision?.code == .unknownRevision)
        #expect(noRevision?.message == "store \"shop\" has no revision 7 to roll back to; it has no earlier revision")
        let current = await refusal { try await harness.provisioner.rollback(storeID: ready.id, to: 1, actor: "uid:0", requestID: nil) }
        #expect(current?.code == .unknownRevision)

        _ = try await harness.provisioner.delete(storeID: broken.id, actor: "uid:0", requestID: nil)
        try await harness.waitFor(broken.id, [.deleted])
        let deleted = await refusal { try await harness.provisioner.upgrade(storeID: broken.id, to: "6.8-wc9.8", actor: "uid:0", requestID: nil) }
        #expect(deleted?.code == .invalidStateTransition)
        #expect(deleted?.message == "cannot upgrade store \"broken\": it is deleted; upgrade applies to ready stores")
        let missing = await refusal { try await harness.provisioner.upgrade(storeID: "st_nosuchstore0", to: "6.8-wc9.8", actor: "uid:0", requestID: nil) }
        #expect(missing?.code == .notFound)
    }

    @Test func aSecondOperationDuringAnUpgradeIsOperationInProgress() async throws {
        // The upgraded pods take a while to be ready: the upgrade holds the store meanwhile.
        let harness = try Harness(cluster: { $0.readyDelay = .milliseconds(1500) })
        let created = try await harness.create("shop")
        let ready = try await harness.waitFor(created.id, [.ready])
        _ = try await harness.provisioner.upgrade(storeID: ready.id, to: "6.8-wc9.8", actor: "uid:0", requestID: nil)
        let again = await #expect(throws: PlatformError.self) {
            _ = try await harness.provisioner.upgrade(storeID: ready.id, to: "6.8-wc9.8", actor: "uid:0", requestID: nil)
        }
        #expect(again?.code == .operationInProgress)
        let delete = await #expect(throws: PlatformError.self) {
            _ = try await harness.provisioner.delete(storeID: ready.id, actor: "uid:0", requestID: nil)
        }
        #expect(delete?.code == .operationInProgress)
        let upgraded = try await harness.waitFor(ready.id, [.ready, .failed])
        #expect(upgraded.version == "6.8-wc9.8")
    }

    @Test func aFailedUpgradeWhoseRollbackFailsTooEndsFailedWithBothReasons() async throws {
        let harness = try Harness(
            cluster: { $0.faults = [.upgradeError: 1] },
            wrap: { ScriptedDriver(base: $0, refusesRollbacks: true) }
        )
        let created = try await harness.create("shop")
        let ready = try await harness.waitFor(created.id, [.ready])
        _ = try await harness.provisioner.upgrade(storeID: ready.id, to: "6.8-wc9.8", actor: "uid:0", requestID: nil)
        let failed = try await harness.waitFor(ready.id, [.ready, .failed])
        #expect(failed.status == .failed)
        #expect(failed.errorMessage.hasPrefix("upgrade to 6.8-wc9.8 failed: helm upgrade shop failed: Error: UPGRADE FAILED"), "\(failed.errorMessage)")
        #expect(failed.errorMessage.hasSuffix(
            "; the automatic rollback to revision 1 (6.9-wc10.3) failed too: helm rollback shop 1 failed: Error: the API server is gone"
        ), "\(failed.errorMessage)")
        // The store records the version it ran before, which a retry reinstalls.
        #expect(failed.version == "6.9-wc10.3")
        #expect(failed.revision == 1)
        #expect(try await revisions(harness, failed) == ["2:6.8-wc9.8:failed", "1:6.9-wc10.3:deployed"])
        #expect(try await harness.trail(ready.id).suffix(2) == ["ready>upgrading:upgrade", "upgrading>failed:fail"])
    }

    @Test func aHistoryReadFailingAfterASuccessfulRollbackDoesNotFailTheStore() async throws {
        let harness = try Harness(
            cluster: { $0.faults = [.upgradeError: 1] },
            wrap: { ScriptedDriver(base: $0, historyFailuresAfterRollback: 1) }
        )
        let created = try await harness.create("shop")
        let ready = try await harness.waitFor(created.id, [.ready])
        _ = try await harness.provisioner.upgrade(storeID: ready.id, to: "6.8-wc9.8", actor: "uid:0", requestID: nil)
        let rolledBack = try await harness.waitFor(ready.id, [.ready, .failed])
        #expect(rolledBack.status == .ready, "\(rolledBack.errorMessage)")
        #expect(rolledBack.version == "6.9-wc10.3")
        #expect(rolledBack.revision == 3)
        #expect(try await revisions(harness, rolledBack) == ["3:6.9-wc10.3:deployed", "2:6.8-wc9.8:rolled-back", "1:6.9-wc10.3:superseded"])
        #expect(try await harness.trail(ready.id).suffix(2) == ["ready>upgrading:upgrade", "upgrading>ready:rolled-back"])
    }

    @Test func aRollbackInterruptedByAStopIsFinishedByTheReconcilerOnce() async throws {
        let directory = try makeTemporaryDirectory("spupgrade")
        let first = try Harness(directory: directory)
        let created = try await first.create("shop")
        try await first.waitFor(created.id, [.ready])
        _ = try await first.provisioner.upgrade(storeID: created.id, to: "6.8-wc9.8", actor: "uid:0", requestID: nil)
        try await first.waitFor(created.id, [.ready])
        await first.stop()

        // Pods now take 2 s to be ready: the stop comes while the rollback waits for them.
        let second = try Harness(cluster: { $0.readyDelay = .seconds(2) }, directory: directory)
        let rolling = try await second.provisioner.rollback(storeID: created.id, to: 1, actor: "uid:0", requestID: nil)
        #expect(rolling.revision == 3)
        await second.stop()
        #expect(try await second.database.store(id: created.id)?.status == .upgrading)

        let third = try Harness(cluster: { $0.readyDelay = .seconds(2) }, directory: directory)
        // No operation holds the store yet, and still a delete must wait for the rollback.
        let delete = await #expect(throws: PlatformError.self) {
            _ = try await third.provisioner.delete(storeID: created.id, actor: "uid:0", requestID: nil)
        }
        #expect(delete?.code == .operationInProgress)
        _ = try await third.reconciler.reconcile()
        // The resumed operation is the rollback it was, for ListOperations.
        #expect(third.provisioner.locks.active.map(\.kind) == [.rollback])
        let ready = try await third.waitFor(created.id, [.ready, .failed], within: .seconds(30))
        #expect(ready.status == .ready)
        #expect(ready.version == "6.9-wc10.3")
        #expect(ready.revision == 3)
        // Revision 3 was made once, by the interrupted rollback or by the resumed one.
        #expect(try await third.cluster.revisionVersions(namespace: ready.namespace, release: ready.release)
            == ["6.9-wc10.3", "6.8-wc9.8", "6.9-wc10.3"])
        #expect(try await third.trail(created.id).suffix(2) == ["ready>upgrading:rollback", "upgrading>ready:upgraded"])
    }

    @Test func afterARetryReinstallsTheReleaseTheRevisionsAreHelmsAgain() async throws {
        let harness = try Harness()
        let old = try await readyOnOldVersion(harness)
        // Drift fails the store on revision 2; the retry reinstalls: Helm restarts at 1.
        try await harness.cluster.simulateReleaseVanished(namespace: old.namespace, release: old.release)
        _ = try await harness.reconciler.reconcile()
        try await harness.waitFor(old.id, [.failed])
        _ = try await harness.provisioner.retry(storeID: old.id, actor: "uid:0", requestID: nil)
        let reinstalled = try await harness.waitFor(old.id, [.ready, .failed])
        #expect(reinstalled.status == .ready)
        #expect(reinstalled.revision == 1)
        #expect(try await revisions(harness, reinstalled) == ["1:6.8-wc9.8:deployed"])

        let upgrading = try await harness.provisioner.upgrade(storeID: old.id, to: "6.9-wc10.3", actor: "uid:0", requestID: nil)
        #expect(upgrading.revision == 2)
        try await harness.waitFor(old.id, [.ready])
        let rolling = try await harness.provisioner.rollback(storeID: old.id, to: 1, actor: "uid:0", requestID: nil)
        #expect(rolling.revision == 3)
        let ready = try await harness.waitFor(old.id, [.ready, .failed])
        #expect(ready.status == .ready)
        #expect(ready.version == "6.8-wc9.8")
        #expect(ready.revision == 3)
        #expect(try await revisions(harness, ready) == ["3:6.8-wc9.8:deployed", "2:6.9-wc10.3:superseded", "1:6.8-wc9.8:superseded"])
        // The release's history is the store's, number for number.
        #expect(try await harness.cluster.revisionVersions(namespace: ready.namespace, release: ready.release)
            == ["6.8-wc9.8", "6.9-wc10.3", "6.8-wc9.8"])
    }

    @Test func theCrashLoopingPodsOfTheRevisionBeingReplacedDoNotFailTheChange() async throws {
        // For a second after each change the pods of the revision before still crash-loop;
        // the new revision's pods are ready after 1.5 s.
        let harness = try Harness(cluster: { $0.replacedPodsLinger = .seconds(1); $0.readyDelay = .milliseconds(1500) })
        let created = try await harness.create("shop")
        let ready = try await harness.waitFor(created.id, [.ready], within: .seconds(30))
        _ = try await harness.provisioner.upgrade(storeID: ready.id, to: "6.8-wc9.8", actor: "uid:0", requestID: nil)
        let upgraded = try await harness.waitFor(ready.id, [.ready, .failed], within: .seconds(30))
        #expect(upgraded.status == .ready, "\(upgraded.errorMessage)")
        #expect(upgraded.version == "6.8-wc9.8")
        #expect(upgraded.revision == 2)
        _ = try await harness.provisioner.rollback(storeID: ready.id, to: 1, actor: "uid:0", requestID: nil)
        let rolledBack = try await harness.waitFor(ready.id, [.ready, .failed], within: .seconds(30))
        #expect(rolledBack.status == .ready, "\(rolledBack.errorMessage)")
        #expect(rolledBack.version == "6.9-wc10.3")
        #expect(rolledBack.revision == 3)
        #expect(try await harness.trail(ready.id).suffix(4)
            == ["ready>upgrading:upgrade", "upgrading>ready:upgraded", "ready>upgrading:rollback", "upgrading>ready:upgraded"])
    }

    @Test func anUpgradeWhoseHelmWasKilledIsRolledBackOncePastHelmsTimeout() async throws {
        let directory = try makeTemporaryDirectory("spupgrade")
        let first = try Harness(directory: directory, wrap: { ScriptedDriver(base: $0, hangsAfterUpgrade: true) })
        let created = try await first.create("shop")
        let ready = try await first.waitFor(created.id, [.ready])
        _ = try await first.provisioner.upgrade(storeID: ready.id, to: "6.8-wc9.8", actor: "uid:0", requestID: nil)
        while try await first.cluster.revisionVersions(namespace: ready.namespace, release: ready.release).count < 2 {
            try await Task.sleep(for: .milliseconds(20))
        }
        await first.stop()

        // Helm was killed with it: revision 2 stays pending-upgrade, past helm's timeout.
        let second = try Harness(
            provisioner: { $0.pendingReleaseTimeout = .zero }, directory: directory,
            wrap: { ScriptedDriver(base: $0, pendingRevision: 2) }
        )
        _ = try await second.reconciler.reconcile()
        let rolledBack = try await second.waitFor(ready.id, [.ready, .failed])
        #expect(rolledBack.status == .ready, "\(rolledBack.errorMessage)")
        #expect(rolledBack.version == "6.9-wc10.3")
        #expect(rolledBack.revision == 3)
        #expect(try await revisions(second, rolledBack) == ["3:6.9-wc10.3:deployed", "2:6.8-wc9.8:rolled-back", "1:6.9-wc10.3:superseded"])
        #expect(try await second.trail(ready.id).suffix(2) == ["ready>upgrading:upgrade", "upgrading>ready:rolled-back"])
        let audit = try #require(try await second.database.listAudit(limit: 1, pageToken: "", storeID: ready.id).events.first)
        #expect(audit.message.hasPrefix("upgrade to 6.8-wc9.8 failed: revision 2 of release shop has been pending for "), "\(audit.message)")
    }

    @Test func anUpgradeInterruptedByAStopIsFinishedByTheReconciler() async throws {
        let directory = try makeTemporaryDirectory("spupgrade")
        let first = try Harness(cluster: { $0.readyDelay = .seconds(2) }, directory: directory)
        let created = try await first.create("shop")
        let ready = try await first.waitFor(created.id, [.ready], within: .seconds(30))
        _ = try await first.provisioner.upgrade(storeID: ready.id, to: "6.8-wc9.8", actor: "uid:0", requestID: nil)
        await first.stop()
        #expect(try await first.database.store(id: ready.id)?.status == .upgrading)

        let second = try Harness(cluster: { $0.readyDelay = .seconds(2) }, directory: directory)
        let report = try await second.reconciler.reconcile()
        #expect(report.corrections.map(\.storeID) == [ready.id])
        let upgraded = try await second.waitFor(ready.id, [.ready, .failed], within: .seconds(30))
        #expect(upgraded.status == .ready)
        #expect(upgraded.version == "6.8-wc9.8")
        #expect(upgraded.revision == 2)
        // The upgrade command ran once: the resumed operation found revision 2 made.
        #expect(try await second.cluster.revisionVersions(namespace: ready.namespace, release: ready.release) == ["6.9-wc10.3", "6.8-wc9.8"])
    }
}

/// The simulated cluster, with what it cannot do by itself: `helm rollback` fails
/// (the path where even the automatic rollback of a failed upgrade fails); `helm
/// upgrade` never returns once it made its revision; the history shows a revision
/// `pending` for good (the helm command that made it was killed).
private final class ScriptedDriver: ClusterDriver {
    let base: any ClusterDriver
    let refusesRollbacks: Bool
    let hangsAfterUpgrade: Bool
    let pendingRevision: Int?
    /// How many history reads after the next rollback fail, as a lost connection would.
    let historyFailuresAfterRollback: Mutex<Int>
    init(
        base: any ClusterDriver, refusesRollbacks: Bool = false, hangsAfterUpgrade: Bool = false, pendingRevision: Int? = nil,
        historyFailuresAfterRollback: Int = 0
    ) {
        self.base = base
        self.refusesRollbacks = refusesRollbacks
        self.hangsAfterUpgrade = hangsAfterUpgrade
        self.pendingRevision = pendingRevision
        self.historyFailuresAfterRollback = Mutex(historyFailuresAfterRollback)
        self.rolledBack = Mutex(false)
    }
    private let rolledBack: Mutex<Bool>

    var kind: ClusterDriverKind { base.kind }
    func ensureNamespace(_ namespace: String, storeID: String) async throws { try await base.ensureNamespace(namespace, storeID: storeID) }
    func ensureSecret(namespace: String, name: String, makeValues: @Sendable () -> [String: String]) async throws {
        try await base.ensureSecret(namespace: namespace, name: name, makeValues: makeValues)
    }
    func releaseStatus(namespace: String, release: String) async throws -> ReleaseStatus? {
        try await base.releaseStatus(namespace: namespace, release: release)
    }
    func installRelease(_ request: InstallRequest) async throws { try await base.installRelease(request) }
    func readiness(namespace: String, release: String, changedAt: Date?) async throws -> Readiness {
        try await base.readiness(namespace: namespace, release: release, changedAt: changedAt)
    }
    func uninstallRelease(namespace: String, release: String) async throws { try await base.uninstallRelease(namespace: namespace, release: release) }
    func releaseLeftovers(namespace: String, release: String) async throws -> [String] {
        try await base.releaseLeftovers(namespace: namespace, release: release)
    }
    func deleteNamespace(_ namespace: String) async throws { try await base.deleteNamespace(namespace) }
    func namespacePhase(_ namespace: String) async throws -> NamespacePhase? { try await base.namespacePhase(namespace) }
    func listManaged() async throws -> ClusterInventory { try await base.listManaged() }
    func upgradeRelease(_ request: InstallRequest) async throws {
        try await base.upgradeRelease(request)
        if hangsAfterUpgrade { try await Task.sleep(for: .seconds(3600)) }
    }
    func rollbackRelease(namespace: String, release: String, to revision: Int) async throws {
        guard !refusesRollbacks else {
            throw ClusterError(operation: "helm rollback \(release) \(revision)", output: "Error: the API server is gone")
        }
        try await base.rollbackRelease(namespace: namespace, release: release, to: revision)
        rolledBack.withLock { $0 = true }
    }
    func releaseHistory(namespace: String, release: String) async throws -> [ReleaseRevision] {
        let fails = rolledBack.withLock { rolledBack in
            historyFailuresAfterRollback.withLock { remaining in
                guard rolledBack, remaining > 0 else { return false }
                remaining -= 1
                return true
            }
        }
        if fails {
            throw ClusterError(operation: "helm history \(release)", output: "Error: Kubernetes cluster unreachable: connection refused")
        }
        return try await base.releaseHistory(namespace: namespace, release: release).map {
            $0.revision == pendingRevision ? ReleaseRevision(revision: $0.revision, state: .pending) : $0
        }
    }
}

@Suite("A change asked for the moment the last one ended")
struct ChangeRightAfterTheLastTests {
    /// The store is ready the moment its last change commits, and its operation lets
    /// go of it just after: a change asked for in between waits for that, never
    /// answering OPERATION_IN_PROGRESS.
    @Test(arguments: [false, true])
    func anUpgradeAskedForTheMomentTheStoreIsReadyIsAccepted(rolledBack: Bool) async throws {
        let harness = try Harness(cluster: { if rolledBack { $0.faults = [.upgradeError: 1]; $0.faultAttempts = 100 } })
        let created = try await harness.create("shop")
        var store = try await harness.waitFor(created.id, [.ready])
        for round in 0..<20 {
            let target = round % 2 == 0 || rolledBack ? "6.8-wc9.8" : "6.9-wc10.3"
            _ = try await harness.provisioner.upgrade(storeID: store.id, to: target, actor: "uid:0", requestID: nil)
            store = try await harness.waitFor(store.id, [.ready])
            #expect(store.version == (rolledBack ? "6.9-wc10.3" : target))
        }
    }

    /// The same, for several stores at once, created and then changed over and over
    /// while the reconciler runs passes back to back. A pass lists the stores, then
    /// looks at each in turn: one it listed mid-change it acts on only if it still is,
    /// so it never takes the lock of a store whose change just ended; and one that
    /// turned ready after it listed the cluster is not taken for drift.
    @Test func changesAndCreatesMeetNoReconcilePassInTheirWay() async throws {
        let harness = try Harness()
        let passes = Task {
            while !Task.isCancelled { _ = try? await harness.reconciler.reconcile() }
        }
        defer { passes.cancel() }
        let ids = try await withThrowingTaskGroup(of: String.self) { group in
            for name in (1...6).map({ "shop-\($0)" }) {
                group.addTask { try await self.changeOverAndOver(name, harness) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(ids.count == 6)
        for id in ids {
            #expect(try await harness.trail(id).filter { $0.hasSuffix(":reconcile") || $0.hasSuffix(":recovery") }.isEmpty)
        }
    }

    /// Creates store `name`, then upgrades it back and forth, each upgrade asked for
    /// the moment the last one ended; returns its id.
    private func changeOverAndOver(_ name: String, _ harness: Harness) async throws -> String {
        let created = try await harness.create(name)
        var store = try await harness.waitFor(created.id, [.ready, .failed])
        #expect(store.status == .ready, "\(store.name): \(store.errorMessage)")
        for round in 0..<15 {
            let target = round % 2 == 0 ? "6.8-wc9.8" : "6.9-wc10.3"
            _ = try await harness.provisioner.upgrade(storeID: store.id, to: target, actor: "uid:0", requestID: nil)
            store = try await harness.waitFor(store.id, [.ready, .failed])
            #expect(store.status == .ready && store.version == target, "\(store.name): \(store.errorMessage)")
        }
        return store.id
    }
}
