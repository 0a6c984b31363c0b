import ControlPlane
import Foundation
import HTTPGateway
import Logging
import ProcessTestSupport
import Provisioning
import ProvisioningTestSupport
import ServiceLifecycle
import StoreCore
import StoreDatabase
import StorePlatformProto
import StoreRPC
import SwiftProtobuf
import Testing

/// A real ControlPlane on a temporary database and a simulated cluster (instant,
/// unless a test configures delays or faults), with the gateway served live on a
/// free port.
struct GatewayHarness {
    let directory: String
    let database: StoreDatabase
    let provisioner: Provisioner
    let controlPlane: ControlPlane
    let rateLimiter: RateLimiter
    /// The provisioner's service, running for the harness's lifetime.
    let running: RunningProvisioner
    /// Whether ``withGateway(_:_:)`` runs the fleet upgrader beside the gateway, as the
    /// daemon does; without it a started fleet upgrade moves no store.
    let runsFleetUpgrades: Bool

    init(
        limits: RateLimits = RateLimits(requestsPerMinute: 100_000, createsPerMinute: 100_000), maxLiveStores: Int = 100,
        eventBuffer: Int = 1000, access: AccessPolicy = AccessPolicy(adminUIDs: []),
        replayLimit: Int = ControlPlane.defaultReplayLimit, cluster: SimulatedClusterConfiguration = .instant,
        runsFleetUpgrades: Bool = false
    ) throws {
        self.runsFleetUpgrades = runsFleetUpgrades
        directory = try makeTemporaryDirectory("sphttp")
        database = try SQLiteStoreDatabase.open(path: directory + "/store.sqlite")
        let cluster = try SimulatedCluster(path: directory + "/cluster.sqlite", configuration: cluster)
        var configuration = ProvisionerConfiguration()
        configuration.pollInterval = .milliseconds(20)
        let logger = Logger(label: "test")
        let stack = ProvisionerUnderTest(
            database: database, driver: cluster, configuration: configuration, events: StoreEventBus(bufferLimit: eventBuffer)
        )
        provisioner = stack.provisioner
        let reconciler = stack.reconciler
        running = stack.running!
        let frozen = ContinuousClock.now
        rateLimiter = RateLimiter(limits: limits, now: { frozen })
        var fleet = FleetUpgrader.Configuration()
        fleet.activeInterval = .milliseconds(50)
        fleet.idleInterval = .milliseconds(200)
        controlPlane = ControlPlane(
            info: DaemonInfo(
                version: "test", startedAtMilliseconds: 1_700_000_000_000, clusterDriver: .simulated,
                database: "sqlite"
            ),
            // A frozen clock: buckets never refill during a test, so a refusal's
            // Retry-After is exact however slowly the machine runs.
            provisioner: provisioner, reconciler: reconciler, rateLimiter: rateLimiter,
            access: access, maxLiveStores: maxLiveStores, replayLimit: replayLimit,
            fleetUpgrader: FleetUpgrader(provisioner: provisioner, configuration: fleet, logger: logger), logger: logger
        )
    }

    /// Runs the gateway on 127.0.0.1, port 0, calls `body` with the bound port,
    /// then shuts the gateway down gracefully and waits for it to stop.
    func withGateway(
        _ configure: (inout GatewayConfiguration) -> Void = { _ in },
        _ body: @escaping @Sendable (Int) async throws -> Void
    ) async throws {
        var configuration = GatewayConfiguration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configuration.dashboardDirectory = nil
        configure(&configuration)
        let (ports, portContinuation) = AsyncStream<Int>.makeStream()
        let gateway = HTTPGateway(
            controlPlane: controlPlane, configuration: configuration, logger: Logger(label: "test-gateway"),
            onListening: { _, port in portContinuation.yield(port) }
        )
        let services: [any Service] = runsFleetUpgrades ? [controlPlane.fleetUpgrader, gateway] : [gateway]
        let group = ServiceGroup(services: services, logger: Logger(label: "test-group"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw ClientError("the gateway never listened") }
            do {
                try await body(port)
            } catch {
                await group.triggerGracefulShutdown()
                try? await tasks.waitForAll()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    /// The same ControlPlane served over RPC on a Unix socket in the harness's
    /// directory while `body` runs (given the socket's path); shut down after it.
    func withRPCServer<T: Sendable>(_ body: (String) async throws -> T) async throws -> T {
        let path = directory + "/rpc.sock"
        let server = try await RPCServer.bind(
            configuration: RPCServerConfiguration(unixSocket: .init(path: path)),
            router: controlPlane.makeRouter(), logger: Logger(label: "test-rpc")
        )
        let running = Task { try await server.run() }
        defer {
            server.shutdown()
            running.cancel()
        }
        return try await body(path)
    }

    /// Polls GET /api/stores/{id} until the store has `status` (a bound on a hang, as ``hangBound`` is).
    func waitFor(port: Int, id: String, status: String, within seconds: Double = 120) async throws -> Storeplatform_V1_Store {
        let deadline = ContinuousClock.now + .seconds(seconds)
        var last = ""
        while ContinuousClock.now < deadline {
            let response = try await RawHTTPClient.send(port: port, "GET", "/api/stores/\(id)")
            last = response.body
            if response.status == 200 {
                let store = try Storeplatform_V1_Store(apiJSON: response.body)
                if store.status == StoreStatus(rawValue: status)?.proto { return store }
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw ClientError("store \(id) did not reach \(status); last answer: \(last)")
    }
}

/// The exact error body the gateway must send.
func errorBody(_ code: String, _ message: String) -> String {
    #"{"error":{"code":"\#(code)","message":"\#(message)"}}"#
}
