import ControlPlane
import CoreMetrics
import Foundation
import HTTPGateway
import HTTPTypes
import Hummingbird
import Prometheus
import ServiceLifecycle
import StoreCore
import Synchronization

/// The gateway's hot routes served through Hummingbird's `Router` and middlewares
/// instead of the gateway's own routing, so `storeplatform-bench router` can weigh
/// one against the other on the same pipeline, database and handlers (BENCHMARKS.md,
/// "Hand-written routing against Hummingbird's Router"). Nothing the daemon runs:
/// it reaches the gateway's handlers through their `package` access
/// (Sources/HTTPGateway/GatewayResponder.swift).
///
/// It routes only what the benchmark measures and what it needs to start:
/// `GET /api/health` (when the pipeline passes it on), `GET /api/stores`,
/// `GET /api/stores/{id}`, `GET /api/versions`, `GET /metrics`, and the dashboard's
/// files. Everything the gateway's own routing keeps is listed beside the decision
/// in BENCHMARKS.md: a wrong method is 404 here, not 405; CORS preflights allow a
/// fixed list of methods, not the route's; metrics carry Hummingbird's names.
struct HummingbirdRouting: Service {
    let gateway: HTTPGateway
    /// Hummingbird's CORS and metrics middlewares; without them, the gateway's own
    /// code adds the CORS headers and records the metrics.
    let middlewares: Bool

    /// Serves the gateway's handlers behind the `Router`, on the gateway's own
    /// pipeline (``HTTPGateway/serve(_:gateway:)``), until a graceful shutdown.
    func run() async throws {
        let responder = try await gateway.makeResponder()
        try await gateway.serve(Self.responder(gateway: responder, middlewares: middlewares), gateway: responder)
    }

    /// The `Router` over `gateway`'s handlers, with or without Hummingbird's CORS and
    /// metrics middlewares (``middlewares``).
    private static func responder(gateway: GatewayResponder, middlewares: Bool) -> RouterResponder<GatewayContext> {
        let router = Router(context: GatewayContext.self)
        router.add(middleware: ErrorBodyMiddleware(gateway: gateway, finishes: !middlewares))
        if middlewares {
            bootstrapMetrics(registry: gateway.metrics.registry)
            router.add(middleware: MetricsMiddleware())
        }
        if middlewares && !gateway.configuration.corsOrigins.isEmpty {
            router.add(
                middleware: CORSMiddleware(
                    allowOrigin: .originBased,
                    allowHeaders: [.authorization, .contentType, .idempotencyKey, .xRequestID],
                    allowMethods: [.get, .head, .post, .delete, .options],
                    exposedHeaders: ["X-Request-Id", "Retry-After"],
                    maxAge: .seconds(600)
                )
            )
        }
        if let root = gateway.staticFiles.root {
            router.add(middleware: FileMiddleware(root, cacheControl: .init([(MediaType(type: .any), [.noCache])]), searchForIndexHtml: true))
        }
        let api = router.group("api")
        api.get("health") { request, context in try await answer(request, context, gateway) { _ in try gateway.healthResponse() } }
        api.get("stores") { request, context in
            try await answer(request, context, gateway) { call in try await gateway.listStores(request, call) }
        }
        api.get("stores/{id}") { request, context in
            let id = try context.parameters.require("id")
            return try await answer(request, context, gateway) { call in try await gateway.getStore(id, call) }
        }
        api.get("versions") { request, context in
            try await answer(request, context, gateway) { call in try gateway.json(await gateway.controlPlane.listEngineVersions(call)) }
        }
        router.get("metrics") { request, context in try await answer(request, context, gateway) { _ in try await gateway.prometheus() } }
        return router.buildResponder()
    }

    /// What the gateway's `respond` does around a handler: the request id (echoed or
    /// made), the checks and caller of ``GatewayResponder/checkedCall(_:context:requestID:)``,
    /// errors in the one body shape, `X-Request-Id` on the answer.
    private static func answer(
        _ request: Request, _ context: GatewayContext, _ gateway: GatewayResponder,
        _ handler: (CallContext) async throws -> Response
    ) async throws -> Response {
        let requestID = gateway.requestIDs.id(echoing: request.headers[.xRequestID])
        var response: Response
        do {
            response = try await handler(try gateway.checkedCall(request, context: context, requestID: requestID))
        } catch {
            response = errorResponse(error, path: request.uri.path, requestID: requestID)
        }
        response.headers[.xRequestID] = requestID
        return response
    }

    static func errorResponse(_ error: any Error, path: String, requestID: String) -> Response {
        switch error {
        case let error as GatewayError: error.response
        case let error as PlatformError: GatewayError(error).response
        case let error as HTTPError where error.status == .notFound: GatewayError.notFound(path: path).response
        default: GatewayError.internalError(requestID: requestID).response
        }
    }

    /// `MetricsMiddleware` records through the process's `MetricsSystem`: point it at
    /// the gateway's registry once, with Hummingbird's dotted names made Prometheus
    /// names.
    private static func bootstrapMetrics(registry: PrometheusCollectorRegistry) {
        bootstrapped.withLock { done in
            guard !done else { return }
            var factory = PrometheusMetricsFactory(registry: registry)
            factory.nameAndLabelSanitizer = { label, dimensions in
                (label.replacingOccurrences(of: ".", with: "_"), dimensions.map { ($0.replacingOccurrences(of: ".", with: "_"), $1) })
            }
            MetricsSystem.bootstrap(factory)
            done = true
        }
    }

    private static let bootstrapped = Mutex(false)
}

/// Errors from outside the handlers (no route, a file that is not there) in the
/// gateway's one body shape, with an `X-Request-Id`.
private struct ErrorBodyMiddleware: RouterMiddleware {
    typealias Context = GatewayContext
    let gateway: GatewayResponder

    /// Whether it adds the CORS headers and records the request's metrics with the
    /// gateway's own code (``GatewayResponder/finish(_:requestID:origin:)``, ``GatewayMetrics``).
    let finishes: Bool

    func handle(_ request: Request, context: GatewayContext, next: (Request, GatewayContext) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            let requestID = gateway.requestIDs.id(echoing: request.headers[.xRequestID])
            response = HummingbirdRouting.errorResponse(error, path: request.uri.path, requestID: requestID)
            response.headers[.xRequestID] = requestID
        }
        if finishes {
            if !gateway.configuration.corsOrigins.isEmpty {
                gateway.addCORSHeaders(to: &response.headers, origin: request.headers[.origin])
            }
            gateway.metrics.recordRequest(
                route: context.endpointPath ?? "static", method: request.method.rawValue, status: response.status.code,
                duration: ContinuousClock.now - started
            )
        }
        return response
    }
}
