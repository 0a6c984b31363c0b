import Foundation
import Logging
import ProcessTestSupport
import Testing

@testable import Provisioning
import StoreCore
import StoreDatabase

/// The store database refusing a call while an operation runs: a database failure
/// is never a store failure. The operation ends, the store keeps its status and a
/// reconcile pass after the database is back finishes the work.
@Suite("Provisioner and Reconciler under a store database outage")
struct ProvisionerOutageTests {
    /// How long the database stays away once the outage begins.
    enum Outage: String, CaseIterable, CustomTestStringConvertible {
        /// It refuses the one call and answers the next: the operation's own
        /// attempt to record a failure would go through.
        case oneCall
        /// It refuses everything until the test brings it back.
        case untilRestored

        var refusedCalls: Int? { self == .oneCall ? 1 : nil }
        var testDescription: String { rawValue }
    }

    /// A harness whose database is an ``OutageDatabase`` over SQLite; also returns
    /// SQLite itself, to read what the database holds during the outage.
    static func harness(cluster: (inout SimulatedClusterConfiguration) -> Void = { _ in }) throws
        -> (Harness, OutageDatabase, SQLiteStoreDatabase)
    {
        let directory = try makeTemporaryDirectory("spprov")
        let sqlite = try SQLiteStoreDatabase.open(path: directory + "/store.sqlite")
        let database = OutageDatabase(sqlite)
        return (try Harness(cluster: cluster, directory: directory, database: database), database, sqlite)
    }

    @Test(arguments: Outage.allCases)
    func storeWhoseReadyCommitWasRefusedIsNotFailedAndBecomesReadyAfterAReconcilePass(outage: Outage) async throws {
        let (harness, database, sqlite) = try Self.harness()
        database.goDown(at: { $0.to == .ready }, lastingCalls: outage.refusedCalls)
        let store = try await harness.create("shop")
        try await waitUntil("the ready commit is refused and the operation ends") {
            database.refusedCalls >= 1 && !harness.provisioner.isRunning(storeID: store.id)
        }
        // The cluster holds a ready store; the database still says provisioning, and
        // nothing marked it failed.
        let left = try #require(try await sqlite.store(id: store.id))
        #expect(left.status == .provisioning)
        #expect(left.errorMessage == "")
        #expect(try await sqlite.recentFailures(limit: 10).isEmpty)

        if outage == .untilRestored {
            // A pass while the database is away fails with its UNAVAILABLE and changes nothing.
            let error = await #expect(throws: PlatformError.self) { try await harness.reconciler.reconcile() }
            #expect(error?.code == .unavailable)
            #expect(error?.message == database.unavailable.message)
            #expect(try await sqlite.store(id: store.id)?.status == .provisioning)
            database.restore()
        }
        let report = try await harness.reconciler.reconcile()
        #expect(report.corrections.map(\.to) == [.queued])
        let ready = try await harness.waitFor(store.id, [.ready])
        #expect(ready.errorMessage == "")
        #expect(ready.url == "http://shop.stores.localhost")
        // Resumed from step 1, which found the release installed: no second install.
        #expect(try await harness.cluster.installCount(namespace: ready.namespace, release: ready.release) == 1)
        #expect(try await harness.trail(store.id) == [
            "->queued:create", "queued>provisioning:provision", "provisioning>queued:recovery", "queued>provisioning:recovery",
            "provisioning>ready:ready",
        ])
    }

    @Test(arguments: Outage.allCases)
    func deleteWhoseDeletedCommitWasRefusedStaysDeletingAndAReconcilePassFinishesIt(outage: Outage) async throws {
        let (harness, database, sqlite) = try Self.harness()
        let store = try await harness.create("shop")
        let ready = try await harness.waitFor(store.id, [.ready])
        database.goDown(at: { $0.to == .deleted }, lastingCalls: outage.refusedCalls)
        _ = try await harness.provisioner.delete(storeID: store.id, actor: "uid:0", requestID: nil)
        try await waitUntil("the deleted commit is refused and the operation ends") {
            database.refusedCalls >= 1 && !harness.provisioner.isRunning(storeID: store.id)
        }
        let left = try #require(try await sqlite.store(id: store.id))
        #expect(left.status == .deleting)
        #expect(left.errorMessage == "")
        #expect(try await harness.cluster.namespacePhase(ready.namespace) == nil)

        if outage == .untilRestored {
            let error = await #expect(throws: PlatformError.self) { try await harness.reconciler.reconcile() }
            #expect(error?.code == .unavailable)
            #expect(try await sqlite.store(id: store.id)?.status == .deleting)
            database.restore()
        }
        let report = try await harness.reconciler.reconcile()
        #expect(report.corrections.map(\.reason) == ["resumed interrupted deletion"])
        let deleted = try await harness.waitFor(store.id, [.deleted])
        #expect(deleted.errorMessage == "")
        #expect(try await harness.trail(store.id).suffix(2) == ["ready>deleting:delete", "deleting>deleted:recovery"])
    }

    @Test func refusedProvisioningStartIsResumedByThePeriodicPassOnceTheDatabaseIsBack() async throws {
        let (harness, database, sqlite) = try Self.harness()
        // The store is written; its provisioning cannot record its start.
        database.goDown(at: { $0.to == .provisioning })
        let store = try await harness.create("shop")
        try await waitUntil("the provisioning start is refused and the operation ends") {
            database.refusedCalls >= 1 && !harness.provisioner.isRunning(storeID: store.id)
        }
        #expect(try await sqlite.store(id: store.id)?.status == .queued)

        var configuration = Reconciler.Configuration()
        configuration.interval = .milliseconds(100)
        let reconciler = Reconciler(provisioner: harness.provisioner, configuration: configuration, logger: Logger(label: "test"))
        let running = Task { try await reconciler.run() }
        defer { running.cancel() }

        // Passes keep failing while the database is away (the claim of the lead
        // first), each after its interval: the loop neither stops nor spins.
        let watched = ContinuousClock.now
        let passesBefore = reconciler.periodicRounds
        try await waitUntil("three passes fail") { reconciler.periodicRounds >= passesBefore + 3 }
        let passes = reconciler.periodicRounds - passesBefore
        let elapsed = ContinuousClock.now - watched
        // Every pass waits at least 90 % of the interval (the jitter) after the one
        // before it, so no more passes can have started than that allows.
        let allowed = Int(Provisioner.seconds(elapsed) / (0.9 * Provisioner.seconds(configuration.interval))) + 1
        #expect(passes <= allowed, "\(passes) passes in \(elapsed)")
        #expect(try await sqlite.store(id: store.id)?.status == .queued)

        // Only the periodic pass resumes the store: the loop survived the failed passes.
        database.restore()
        let ready = try await harness.waitFor(store.id, [.ready])
        #expect(ready.attempts == 1)
        #expect(try await harness.trail(store.id) == ["->queued:create", "queued>provisioning:recovery", "provisioning>ready:ready"])
        let resumed = try await sqlite.listAudit(limit: 10, pageToken: "", storeID: store.id).events
            .first { $0.action == .recovery }
        #expect(resumed?.message == "resumed: no provisioning was running (a daemon restart or a store database outage ended it)")
    }

    @Test func clusterFailureStillFailsTheStoreWhenTheDatabaseAnswers() async throws {
        // The database hiccup handling must not swallow real failures.
        let (harness, _, _) = try Self.harness(cluster: { $0.faults = [.installError: 1] })
        let store = try await harness.create("shop")
        let failed = try await harness.waitFor(store.id, [.failed])
        #expect(failed.errorMessage.contains("INSTALLATION FAILED"), "\(failed.errorMessage)")
    }
}

/// Polls `condition` until it holds, failing the test after a generous bound.
func waitUntil(_ what: String, within: Duration = .seconds(20), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + within
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    Issue.record("gave up waiting until \(what)")
    throw CancellationError()
}
