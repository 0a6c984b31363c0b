import ControlPlane
import CoreMetrics
import Foundation
import HTTPTypes
import Hummingbird
import Prometheus
import StoreCore
import Synchronization

/// How requests reach the gateway's handlers.
public enum GatewayRouting: Sendable {
    /// The gateway's own: ``Route``, the CORS and metrics code of ``GatewayResponder``,
    /// and ``StaticFiles``. What the daemon always runs.
    case handWritten
    /// The same handlers behind Hummingbird's `Router` with its `CORSMiddleware`,
    /// `MetricsMiddleware` and `FileMiddleware` (``HummingbirdRouting``): the comparison
    /// `storeplatform-bench router` measures against, nothing the daemon offers.
    case hummingbirdRouter
    /// Hummingbird's `Router` and `FileMiddleware`, with the gateway's own CORS and
    /// metrics code: the routing (and the files) alone, for the same benchmark.
    case hummingbirdRouterOnly
}

/// The gateway's hot routes served through Hummingbird's `Router` and middlewares
/// instead of the gateway's own routing, so `storeplatform-bench router` can weigh
/// one against the other on the same daemon, database and handlers (BENCHMARKS.md,
/// "Hand-written routing against Hummingbird's Router").
///
/// It routes only what the benchmark measures and what it needs to start:
/// `GET /api/health` (when the pipeline passes it on), `GET /api/stores`,
/// `GET /api/stores/{id}`, `GET /api/versions`, `GET /metrics`, and the dashboard's
/// files. Everything the gateway's own routing keeps is listed beside the decision
/// in BENCHMARKS.md: a wrong method is 404 here, not 405; CORS preflights allow a
/// fixed list of methods, not the route's; metrics carry Hummingbird's names.
enum HummingbirdRouting {
    /// - Parameter middlewares: Hummingbird's CORS and metrics middlewares; without
    ///   them, the gateway's own code adds the CORS headers and records the metrics.
    static func responder(gateway: GatewayResponder, middlewares: Bool) -> RouterResponder<GatewayContext> {
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
