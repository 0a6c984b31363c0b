import ControlPlane
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import StoreCore

/// The HTTP gateway of the daemon: the REST API under `/api`, a Server-Sent
/// Events stream of store changes, Prometheus `/metrics` and the dashboard's
/// static files, all on one Hummingbird server.
///
/// Every API call goes to the same ``ControlPlane`` method the RPC server uses,
/// in-process. Run it as a `Service` in the daemon's `ServiceGroup`: a graceful
/// shutdown ends open event streams, lets running requests finish and then
/// closes the listener.
public struct HTTPGateway: Service {
    private let controlPlane: ControlPlane
    private let configuration: GatewayConfiguration
    private let logger: Logger
    private let onListening: @Sendable (_ host: String, _ port: Int) async -> Void

    /// - Parameter onListening: called once the socket is bound, with the bound
    ///   address and port (the real one when the configured port is 0).
    public init(
        controlPlane: ControlPlane,
        configuration: GatewayConfiguration,
        logger: Logger,
        onListening: @escaping @Sendable (_ host: String, _ port: Int) async -> Void = { _, _ in }
    ) {
        self.controlPlane = controlPlane
        self.configuration = configuration
        self.logger = logger
        self.onListening = onListening
    }

    public func run() async throws {
        let responder = try await makeResponder()
        try await serve(responder, gateway: responder)
    }

    /// The responder ``run()`` serves: the gateway's routing and handlers over its
    /// own metrics, event streams and dashboard files. Benchmarks in this package put
    /// other routing in front of the same handlers
    /// (Sources/storeplatform-bench/HummingbirdRouting.swift).
    package func makeResponder() async throws -> GatewayResponder {
        let metrics = GatewayMetrics()
        let streams = EventStreams()
        let responder = GatewayResponder(
            controlPlane: controlPlane,
            configuration: configuration,
            metrics: metrics,
            streams: streams,
            health: try HealthEncoder(controlPlane: controlPlane),
            staticFiles: try await StaticFiles.load(directory: configuration.dashboardDirectory),
            connections: ConnectionLimit(limit: configuration.maxConnections),
            logger: logger
        )
        if configuration.dashboardDirectory != nil && responder.staticFiles.root == nil {
            logger.notice(
                "dashboard directory not found; / answers a short note instead",
                metadata: ["dashboard-dir": "\(configuration.dashboardDirectory ?? "")"]
            )
        }
        return responder
    }

    /// Serves `responder` behind the gateway's pipeline (``GatewayHTTP1Channel``:
    /// header limits, timeouts, the connection cap, health on the event loop) until a
    /// graceful shutdown; `gateway` is the responder the pipeline's own answers come from.
    package func serve(_ responder: some HTTPResponder<GatewayContext>, gateway: GatewayResponder) async throws {
        let onListening = onListening
        let streams = gateway.streams
        let app = Application(
            responder: responder,
            // Heads are checked and health answered in each connection's pipeline
            // (RequestHeadValidator, InlineHealthHandler).
            server: GatewayHTTP1Channel.builder(gateway: gateway),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port)),
            onServerRunning: { channel in
                let address = channel.localAddress
                await onListening(address?.ipAddress ?? "", address?.port ?? 0)
            },
            logger: logger
        )
        try await withGracefulShutdownHandler {
            do {
                try await app.run()
            } catch {
                // Most often the bind: say which address, and how to choose another.
                throw GatewayConfigurationError(
                    "HTTP gateway on \(configuration.host):\(configuration.port) failed: \(error); choose another address with --http, or --http off"
                )
            }
        } onGracefulShutdown: {
            streams.shutDown()
        }
    }
}
