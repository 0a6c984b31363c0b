import Foundation
import PostgresStoreDatabase
import ProcessTestSupport
import StoreDatabase
import Synchronization
import Testing

/// The simulated cluster's state (Sources/StoreDatabase/SimulatedClusterState.swift)
/// on both backends: its own SQLite file, or its own schema in PostgreSQL that every
/// replica shares. Attempts are counted in the transaction that decides them, a
/// release is recorded once however many replicas race to install it, and a
/// namespace goes with its releases and secrets.
@Suite("Simulated cluster state: counted attempts, one release, shared by replicas")
struct SimulatedClusterStateTests {
    /// Two handles on one state, as two replicas have: two SQLite connections to one
    /// file, or two pools on one PostgreSQL database.
    static func states(_ backend: Backend) async throws -> (any SimulatedClusterState, any SimulatedClusterState) {
        switch backend {
        case .sqlite:
            let directory = try makeTemporaryDirectory("spsim")
            let path = directory + "/simulated-cluster.sqlite"
            return (try SQLiteSimulatedClusterState(path: path), try SQLiteSimulatedClusterState(path: path))
        case .postgresql:
            let url = try await Backend.newPostgresURL()
            // Both open the schema at once, as replicas starting together do.
            async let first = PostgresSimulatedClusterState.open(on: try await PostgresStoreDatabase.connect(url: url, logger: quietLogger))
            async let second = PostgresSimulatedClusterState.open(on: try await PostgresStoreDatabase.connect(url: url, logger: quietLogger))
            return (try await first, try await second)
        }
    }

    static func release(_ name: String, in namespace: String = "store-a") -> SimulatedRelease {
        SimulatedRelease(namespace: namespace, name: name, chart: "helm/store", installedAt: 1_000, readyAt: 5_000, fault: nil)
    }

    @Test(arguments: Backend.all)
    func upgradesAndRollbacksAreNewRevisionsAndOnlyAnUpgradeDrawsAFault(_ backend: Backend) async throws {
        let (state, other) = try await Self.states(backend)
        let deploy: @Sendable (Int) -> SimulatedUpgradeDecision = { _ in .deploy(fault: nil) }
        #expect(try await state.changeRelease(
            namespace: "store-a", name: "shop", change: .upgrade(version: "b"), at: 2_000, readyAt: 3_000, decide: deploy
        ) == .releaseMissing)
        #expect(try await state.revisions(namespace: "store-a", name: "shop").isEmpty)

        try await state.addNamespace("store-a", storeID: "st_a", at: 1)
        var installed = Self.release("shop")
        installed.version = "a"
        #expect(try await state.install(installed) { _ in .install(fault: nil) } == .installed(fault: nil))
        let attempts = Mutex<[Int]>([])
        let decide: @Sendable (Int) -> SimulatedUpgradeDecision = { attempt in
            attempts.withLock { $0.append(attempt) }
            return [1: .commandFails, 2: .hookFails][attempt] ?? .deploy(fault: "upgrade-never-ready")
        }
        func change(_ change: SimulatedReleaseChange) async throws -> SimulatedChangeOutcome {
            try await other.changeRelease(namespace: "store-a", name: "shop", change: change, at: 2_000, readyAt: 3_000, decide: decide)
        }
        #expect(try await change(.upgrade(version: "b")) == .commandFailed(revision: 2))
        #expect(try await change(.upgrade(version: "b")) == .hookFailed(revision: 3))
        // Failed revisions leave the release as it was.
        #expect(try await state.release(namespace: "store-a", name: "shop")?.readyAt == 5_000)
        #expect(try await change(.upgrade(version: "b")) == .deployed(revision: 4))
        #expect(try await state.release(namespace: "store-a", name: "shop")?.fault == "upgrade-never-ready")
        #expect(try await state.release(namespace: "store-a", name: "shop")?.readyAt == 3_000)
        #expect(try await change(.rollback(to: 9)) == .revisionMissing)
        #expect(try await change(.rollback(to: 1)) == .deployed(revision: 5))
        #expect(try await state.release(namespace: "store-a", name: "shop")?.fault == nil)
        #expect(attempts.withLock { $0 } == [1, 2, 3])
        #expect(try await state.revisions(namespace: "store-a", name: "shop") == [
            SimulatedRevision(revision: 1, version: "a", status: "superseded"),
            SimulatedRevision(revision: 2, version: "b", status: "failed"),
            SimulatedRevision(revision: 3, version: "b", status: "failed"),
            SimulatedRevision(revision: 4, version: "b", status: "superseded"),
            SimulatedRevision(revision: 5, version: "a", status: "deployed"),
        ])

        // An uninstall takes the history with it, as helm's does.
        #expect(try await state.uninstall(namespace: "store-a", release: "shop") { _ in false } == false)
        #expect(try await state.revisions(namespace: "store-a", name: "shop").isEmpty)
        // A release from before revisions were kept reads as revision 1 of no version.
        try await state.seed([(namespace: "store-b", storeID: "st_b", release: "old")], chart: "helm/store", at: 1)
        #expect(try await state.revisions(namespace: "store-b", name: "old") == [SimulatedRevision(revision: 1, version: "", status: "deployed")])
    }

    @Test(arguments: Backend.all)
    func installsCountTheirAttemptsAndRecordTheFaultTheyDrew(_ backend: Backend) async throws {
        let (state, _) = try await Self.states(backend)
        #expect(try await state.install(Self.release("shop")) { _ in .install(fault: nil) } == .namespaceMissing)
        #expect(try await state.installCount(namespace: "store-a", release: "shop") == 0)

        try await state.addNamespace("store-a", storeID: "st_a", at: 1)
        let attempts = Mutex<[Int]>([])
        let decide: @Sendable (Int) -> SimulatedInstallDecision = { attempt in
            attempts.withLock { $0.append(attempt) }
            return attempt == 1 ? .fail : .install(fault: "crashloop")
        }
        #expect(try await state.install(Self.release("shop"), decide: decide) == .failed)
        #expect(try await state.release(namespace: "store-a", name: "shop") == nil)
        #expect(try await state.install(Self.release("shop"), decide: decide) == .installed(fault: "crashloop"))
        var recorded = Self.release("shop")
        recorded.fault = "crashloop"
        #expect(try await state.release(namespace: "store-a", name: "shop") == recorded)
        // Installed already: refused before an attempt is counted or decided.
        #expect(try await state.install(Self.release("shop"), decide: decide) == .releaseExists)
        #expect(attempts.withLock { $0 } == [1, 2])
        #expect(try await state.installCount(namespace: "store-a", release: "shop") == 2)
    }

    @Test(arguments: Backend.all)
    func aSecretIsMadeOnceInANamespaceThatExists(_ backend: Backend) async throws {
        let (state, other) = try await Self.states(backend)
        let made = Atomic<Int>(0)
        let keys: @Sendable () -> [String] = {
            made.add(1, ordering: .relaxed)
            return ["password", "admin-password"]
        }
        #expect(try await state.addSecret(namespace: "store-a", name: "db", keys: keys) == .namespaceMissing)
        try await state.addNamespace("store-a", storeID: "st_a", at: 1)
        // A second add keeps the first store id.
        try await other.addNamespace("store-a", storeID: "st_other", at: 2)
        #expect(try await other.namespaceExists("store-a"))
        #expect(try await state.addSecret(namespace: "store-a", name: "db", keys: keys) == .added)
        #expect(try await other.addSecret(namespace: "store-a", name: "db", keys: keys) == .existed)
        #expect(made.load(ordering: .relaxed) == 1)
        #expect(try await other.inventory().namespaces.map { "\($0.name)=\($0.storeID)" } == ["store-a=st_a"])
    }

    @Test(arguments: Backend.all)
    func uninstallsAndNamespaceDeletionsCountAttemptsAndMayFail(_ backend: Backend) async throws {
        let (state, _) = try await Self.states(backend)
        try await state.addNamespace("store-a", storeID: "st_a", at: 1)
        #expect(try await state.addSecret(namespace: "store-a", name: "db", keys: { ["password"] }) == .added)
        #expect(try await state.install(Self.release("shop")) { _ in .install(fault: nil) } == .installed(fault: nil))

        #expect(try await state.uninstall(namespace: "store-a", release: "shop") { $0 == 1 })
        #expect(try await state.release(namespace: "store-a", name: "shop") != nil)
        #expect(try await !state.uninstall(namespace: "store-a", release: "shop") { $0 == 1 })
        #expect(try await state.release(namespace: "store-a", name: "shop") == nil)

        #expect(try await state.install(Self.release("shop")) { _ in .install(fault: nil) } == .installed(fault: nil))
        #expect(try await state.deleteNamespace("store-a") { $0 == 1 })
        #expect(try await state.namespaceExists("store-a"))
        #expect(try await !state.deleteNamespace("store-a") { $0 == 1 })
        #expect(try await !state.namespaceExists("store-a"))
        #expect(try await state.inventory().releases.isEmpty)
        // Its secret went with it: made again in a new namespace of that name.
        try await state.addNamespace("store-a", storeID: "st_b", at: 3)
        #expect(try await state.addSecret(namespace: "store-a", name: "db", keys: { ["password"] }) == .added)
    }

    @Test(arguments: Backend.all)
    func seedingLeavesWhatExistsAndTheInventoryIsSorted(_ backend: Backend) async throws {
        let (state, other) = try await Self.states(backend)
        try await state.addNamespace("store-m", storeID: "st_m", at: 1)
        #expect(try await state.install(Self.release("m", in: "store-m")) { _ in .install(fault: "never-ready") } == .installed(fault: "never-ready"))
        try await other.seed(
            [("store-z", "st_z", "z"), ("store-m", "st_seeded", "m"), ("store-b", "st_b", "b"), ("store-b", "st_b", "b2")],
            chart: "helm/store", at: 7
        )
        let inventory = try await state.inventory()
        #expect(inventory.namespaces.map { "\($0.name)=\($0.storeID)" } == ["store-b=st_b", "store-m=st_m", "store-z=st_z"])
        #expect(inventory.releases.map { "\($0.namespace)/\($0.name)" } == ["store-b/b", "store-b/b2", "store-m/m", "store-z/z"])
        // The release that was there keeps its fault; seeded ones are ready at once.
        #expect(try await state.release(namespace: "store-m", name: "m")?.fault == "never-ready")
        let seeded = try #require(try await state.release(namespace: "store-z", name: "z"))
        #expect(seeded.installedAt == 7 && seeded.readyAt == 7 && seeded.fault == nil)
        try await other.removeRelease(namespace: "store-z", name: "z")
        #expect(try await state.release(namespace: "store-z", name: "z") == nil)
    }

    /// Twenty installs of one release through two replicas at once: one records it,
    /// the rest find it recorded, and only the one attempt is counted.
    @Test(arguments: Backend.all)
    func racingInstallsFromTwoReplicasRecordTheReleaseOnce(_ backend: Backend) async throws {
        let (first, second) = try await Self.states(backend)
        try await first.addNamespace("store-a", storeID: "st_a", at: 1)
        let outcomes = try await withThrowingTaskGroup(of: SimulatedInstallOutcome.self) { group in
            for index in 0..<20 {
                let state = index.isMultiple(of: 2) ? first : second
                group.addTask { try await state.install(Self.release("shop")) { _ in .install(fault: nil) } }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 == .installed(fault: nil) }.count == 1)
        #expect(outcomes.filter { $0 == .releaseExists }.count == 19)
        #expect(try await second.installCount(namespace: "store-a", release: "shop") == 1)
    }
}
