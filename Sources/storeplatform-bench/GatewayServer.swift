import ArgumentParser
import ControlPlane
import Foundation
import HTTPGateway
import Logging
import PostgresStoreDatabase
import Provisioning
import ServiceLifecycle
import StoreCore
import StoreDatabase

/// How `gateway-server` sends requests to the gateway's handlers.
enum GatewayRouting: String, CaseIterable, ExpressibleByArgument {
    /// The gateway's own: `Route`, the CORS and metrics code of `GatewayResponder`,
    /// and `StaticFiles`; ``HTTPGateway`` as storeplatformd serves it.
    case handWritten = "hand-written"
    /// The same handlers behind Hummingbird's `Router` with its `CORSMiddleware`,
    /// `MetricsMiddleware` and `FileMiddleware` (``HummingbirdRouting``).
    case hummingbirdRouter = "hummingbird-router"
    /// Hummingbird's `Router` and `FileMiddleware`, with the gateway's own CORS and
    /// metrics code: the routing (and the files) alone.
    case hummingbirdRouterOnly = "hummingbird-router-only"
}

/// The server `router` measures: the stack storeplatformd puts its gateway on (a
/// ``ControlPlane`` over SQLite and the simulated cluster in `--data-dir`, its
/// services running) with the gateway on 127.0.0.1, routed as `--routing` says.
/// Prints the bound port on a line of its own, then serves until SIGTERM or SIGINT.
struct GatewayServer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway-server",
        abstract: "Serve the HTTP gateway over the control plane in --data-dir, routed as --routing says (started by `router`).",
        shouldDisplay: false
    )

    @Option(help: "How requests reach the gateway's handlers; hand-written is the gateway storeplatformd serves.")
    var routing = GatewayRouting.handWritten

    @Option(help: "Port on 127.0.0.1; 0 picks a free one. The bound port is printed.")
    var port = 0

    @Option(help: "Directory of storeplatform.sqlite and simulated-cluster.sqlite, as storeplatformd's --data-dir.")
    var dataDir: String

    @Option(help: "The dashboard's files.")
    var dashboardDir = "clients/dashboard"

    @Option(name: .customLong("cors-origin"), help: "Origin allowed to call the gateway from a browser; repeatable.")
    var corsOrigins: [String] = []

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        let logger = Logger(label: "gateway-server")
        let database = try SQLiteStoreDatabase.open(path: dataDir + "/storeplatform.sqlite")
        let driver = SimulatedCluster(
            state: try await simulatedClusterState(beside: database, sqlitePath: dataDir + "/simulated-cluster.sqlite"),
            configuration: SimulatedClusterConfiguration()
        )
        // As storeplatformd with `--reconcile-interval 3600` and its rate limits lifted:
        // one reconcile pass at start, then nothing but the requests measured.
        var reconciling = Reconciler.Configuration()
        reconciling.interval = .seconds(3600)
        let controlPlane = ControlPlane(
            info: DaemonInfo(
                version: PlatformVersion.current, startedAtMilliseconds: Date().millisecondsSince1970, clusterDriver: driver.kind,
                database: database.backend
            ),
            database: database, driver: driver, provisioning: ProvisionerConfiguration(), reconciling: reconciling, eventBuffer: 1000,
            rateLimiter: RateLimiter(limits: RateLimits(requestsPerMinute: 1_000_000_000, createsPerMinute: 1_000_000_000)),
            access: AccessPolicy(adminUIDs: [0, getuid()]), maxLiveStores: 10, replayLimit: ControlPlane.defaultReplayLimit,
            logger: logger
        )
        var configuration = GatewayConfiguration()
        configuration.host = "127.0.0.1"
        configuration.port = port
        configuration.corsOrigins = Set(corsOrigins)
        configuration.dashboardDirectory = dashboardDir
        let gateway = HTTPGateway(
            controlPlane: controlPlane, configuration: configuration, logger: logger,
            onListening: { _, port in FileHandle.standardOutput.write(Data("\(port)\n".utf8)) }
        )
        let served: any Service =
            switch routing {
            case .handWritten: gateway
            case .hummingbirdRouter: HummingbirdRouting(gateway: gateway, middlewares: true)
            case .hummingbirdRouterOnly: HummingbirdRouting(gateway: gateway, middlewares: false)
            }
        let group = ServiceGroup(
            configuration: .init(
                services: controlPlane.makeServices().map { .init(service: $0) }
                    + [.init(service: served, successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
    }
}
