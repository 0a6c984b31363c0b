import Foundation
import ProcessTestSupport
import ProvisioningTestSupport
import Synchronization
import Testing

@testable import Provisioning
import StoreCore
import StoreDatabase

/// A provisioner on a temporary database and a simulated cluster in a temp dir.
struct Harness {
    let directory: String
    let database: StoreDatabase
    let cluster: SimulatedCluster
    let driver: CountingClusterDriver
    let provisioner: Provisioner
    let reconciler: Reconciler
    /// The provisioner's service, running until ``stop()`` or the end of the test;
    /// nil when the test runs it itself.
    let running: RunningProvisioner?

    init(
        cluster configure: (inout SimulatedClusterConfiguration) -> Void = { _ in },
        provisioner configureProvisioner: (inout ProvisionerConfiguration) -> Void = { _ in },
        directory: String? = nil,
        database: StoreDatabase? = nil,
        wrap: (any ClusterDriver) -> any ClusterDriver = { $0 },
        runs: Bool = true
    ) throws {
        self.directory = try directory ?? makeTemporaryDirectory("spprov")
        try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
        var simulated = SimulatedClusterConfiguration.instant
        configure(&simulated)
        self.database = try database ?? SQLiteStoreDatabase.open(path: self.directory + "/store.sqlite")
        cluster = try SimulatedCluster(path: self.directory + "/cluster.sqlite", configuration: simulated)
        driver = CountingClusterDriver(cluster)
        var configuration = ProvisionerConfiguration()
        configuration.pollInterval = .milliseconds(20)
        configureProvisioner(&configuration)
        let stack = ProvisionerUnderTest(database: self.database, driver: wrap(driver), configuration: configuration, runs: runs)
        (provisioner, reconciler, running) = (stack.provisioner, stack.reconciler, stack.running)
    }

    /// Stops the provisioner as a daemon that stops mid-operation does: its operations
    /// are cancelled, their stores keep their status.
    func stop() async {
        await running?.stop()
    }

    func create(_ name: String, maxLiveStores: Int = 100, key: String? = nil) async throws -> Store {
        try await provisioner.create(name: name, engine: "", actor: "uid:0", requestID: nil, idempotencyKey: key, maxLiveStores: maxLiveStores)
    }

    /// Waits (generously) until the store is in one of `statuses`, and returns it.
    @discardableResult
    func waitFor(_ id: String, _ statuses: Set<StoreStatus>, within: Duration = .seconds(20)) async throws -> Store {
        try await waitForStore(id, statuses, database: database, provisioner: provisioner, within: within)
    }

    /// The store's audit trail as "from>to:action" strings, oldest first.
    func trail(_ id: String) async throws -> [String] {
        try await database.listAudit(limit: 1000, pageToken: "", storeID: id).events.reversed().map {
            "\($0.fromStatus?.rawValue ?? "-")>\($0.toStatus?.rawValue ?? "-"):\($0.action)"
        }
    }
}

/// Waits (generously) until the store is in one of `statuses`, and returns it. An end
/// status counts once its operation has let go of the store.
func waitForStore(
    _ id: String, _ statuses: Set<StoreStatus>, database: StoreDatabase, provisioner: Provisioner, within: Duration
) async throws -> Store {
    let deadline = ContinuousClock.now + within
    while ContinuousClock.now < deadline {
        if let store = try await database.store(id: id), statuses.contains(store.status),
            [.queued, .provisioning, .deleting].contains(store.status) || !provisioner.isRunning(storeID: id)
        {
            return store
        }
        try await Task.sleep(for: .milliseconds(10))
    }
    let store = try await database.store(id: id)
    Issue.record("store \(id) did not reach \(statuses); it is \(store?.status.rawValue ?? "missing"): \(store?.errorMessage ?? "")")
    return try #require(store)
}
