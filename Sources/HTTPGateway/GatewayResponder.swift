import ControlPlane
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import StoreCore
import StorePlatformProto
import StoreRPC

extension HTTPField.Name {
    package static let xRequestID = Self("X-Request-Id")!
    static let xForwardedFor = Self("X-Forwarded-For")!
    package static let idempotencyKey = Self("Idempotency-Key")!
    static let accessControlRequestMethod = Self("Access-Control-Request-Method")!
    static let xForwardedHost = Self("X-Forwarded-Host")!
    static let xForwardedProto = Self("X-Forwarded-Proto")!
}

/// Answers every request of the gateway: routing, the checks on changes
/// (cross-site, JSON bodies, the token), caller identity, errors in the one body
/// shape, `X-Request-Id`, CORS and request metrics. The handlers themselves (GatewayResponder+API.swift, +Upgrades, +Fleet) only translate
/// between HTTP and the ``ControlPlane`` methods the RPC server calls too.
///
/// `package`, with the few members it needs, for the benchmark that serves the same
/// handlers behind Hummingbird's `Router` (Sources/storeplatform-bench/HummingbirdRouting.swift);
/// none of it is public API.
package struct GatewayResponder: HTTPResponder {
    package typealias Context = GatewayContext

    package let controlPlane: ControlPlane
    package let configuration: GatewayConfiguration
    package let metrics: GatewayMetrics
    let streams: EventStreams
    let health: HealthEncoder
    package let staticFiles: StaticFiles
    /// The open connections, against the configured cap.
    let connections: ConnectionLimit
    package let requestIDs = RequestIDs()
    /// Verified client certificates of open TLS connections.
    let peerSubjects = TLSPeerSubjects()
    /// Pages of GET /api/stores as JSON, until the next write to the database.
    let storesPages = GenerationCache<Storeplatform_V1_ListStoresRequest, ByteBuffer>()
    let logger: Logger

    package func respond(to request: Request, context: GatewayContext) async throws -> Response {
        let started = ContinuousClock.now
        let requestID = requestIDs.id(echoing: request.headers[.xRequestID])
        let route = Route(path: request.uri.path)
        var response: Response
        do {
            response = try await dispatch(request, route: route, context: context, requestID: requestID)
        } catch let error as GatewayError {
            response = error.response
        } catch let error as PlatformError {
            if error.code == .internalError {
                logger.error("request failed", metadata: ["request-id": "\(requestID)", "error": "\(error)", "cause": "\(error.cause.map { "\($0)" } ?? "-")"])
            }
            response = GatewayError(error).response
        } catch let error as HTTPError where error.status == .contentTooLarge {
            response = GatewayError.payloadTooLarge(limit: configuration.maxBodyBytes).response
        } catch is NIOTooManyBytesError {
            // A body without Content-Length that grew past the limit while being read.
            response = GatewayError.payloadTooLarge(limit: configuration.maxBodyBytes).response
        } catch {
            logger.error(
                "unexpected error", metadata: ["request-id": "\(requestID)", "path": "\(request.uri.path)", "error": "\(error)"]
            )
            response = GatewayError.internalError(requestID: requestID).response
        }
        if request.method == .head {
            // The GET's headers without its body; a GET of unknown length (the event
            // stream) has no Content-Length, and its HEAD must not claim 0.
            let hasLength = response.headers[.contentLength] != nil
            response = response.createHeadResponse()
            if !hasLength { response.headers[.contentLength] = nil }
        }
        finish(&response.headers, requestID: requestID, origin: request.headers[.origin])
        metrics.recordRequest(
            route: route.template, method: request.method.rawValue, status: response.status.code,
            duration: ContinuousClock.now - started
        )
        return response
    }

    /// What every answer carries: `X-Request-Id`, and the CORS headers when
    /// origins are configured (``InlineHealthHandler`` adds the same to health).
    func finish(_ headers: inout HTTPFields, requestID: String, origin: String?) {
        headers[.xRequestID] = requestID
        if !configuration.corsOrigins.isEmpty { addCORSHeaders(to: &headers, origin: origin) }
    }

    private func dispatch(_ request: Request, route: Route, context: GatewayContext, requestID: String) async throws -> Response {
        let allowed = route.methods
        guard !allowed.isEmpty else { throw GatewayError.notFound(path: request.uri.path) }
        guard allowed.contains(request.method) else {
            if request.method == .options && !configuration.corsOrigins.isEmpty {
                return preflight(allowed: allowed)
            }
            throw GatewayError.methodNotAllowed(request.method, path: request.uri.path, allowed: allowed)
        }
        let call = try checkedCall(request, context: context, requestID: requestID)
        switch (route, request.method) {
        case (.health, _): return try healthResponse()
        case (.stores, .post): return try await createStore(request, call)
        case (.stores, _): return try await listStores(request, call)
        case (.store(let id), .delete): return try await deleteStore(id, call)
        case (.store(let id), _): return try await getStore(id, call)
        case (.retry(let id), _): return try await retryStore(id, call)
        case (.revisions(let reference), _): return try await listStoreRevisions(reference, call)
        case (.upgrade(let reference), _): return try await upgradeStore(reference, request, call)
        case (.rollback(let reference), _): return try await rollbackStore(reference, request, call)
        case (.versions, _): return try json(await controlPlane.listEngineVersions(call))
        case (.fleetUpgrades, .post): return try await upgradeFleet(request, call)
        case (.fleetUpgrades, _): return try await listFleetUpgrades(request, call)
        case (.fleetUpgrade(let id), _): return try await getFleetUpgrade(id, call)
        case (.changeFleetUpgrade(let id, let change), _): return try await changeFleetUpgrade(id, change, call)
        case (.fleetUpgradeEvents(let id), _): return try await fleetUpgradeEvents(id, request, call)
        case (.audit, _): return try await listAudit(request, call)
        case (.metrics, _): return try json(await controlPlane.metrics(call))
        case (.events, .head): return try await eventStreamHead(request, call)
        case (.events, _): return try await events(request, context: context, call)
        case (.prometheus, _): return try await prometheus()
        case (.staticFile(let path), _): return try staticFiles.response(for: path)
        case (.unknownAPI, _): throw GatewayError.notFound(path: request.uri.path)
        }
    }

    /// The checks every routed request passes (the token's transport; for changes,
    /// the cross-site check and the JSON rule for bodies), then who is calling.
    package func checkedCall(_ request: Request, context: GatewayContext, requestID: String) throws -> CallContext {
        try checkTokenTransport(request, context: context)
        if Self.mutatingMethods.contains(request.method) {
            try CrossSiteCheck(allowedOrigins: configuration.corsOrigins).check(
                origin: request.headers[.origin], fetchSite: request.headers[.secFetchSite],
                ownOrigin: ownOrigin(request, context: context)
            )
            try requireJSONBody(request)
        }
        return CallContext(
            caller: try callerIdentity(request, context: context), requestID: requestID, idempotencyKey: request.headers[.idempotencyKey]
        )
    }

    /// Methods that change something: each goes through the cross-site check, the
    /// JSON rule for bodies and, with tokens configured, must carry one.
    static let mutatingMethods: Set<HTTPRequest.Method> = [.post, .put, .patch, .delete]

    /// The origin the request was sent to: its scheme and `Host`, or what a
    /// trusted proxy says they were (`X-Forwarded-Proto`, `X-Forwarded-Host`).
    func ownOrigin(_ request: Request, context: GatewayContext) -> WebOrigin? {
        var scheme = configuration.tls != nil ? "https" : request.head.scheme ?? "http"
        var authority = request.head.authority
        if let peer = context.peerAddress, configuration.trustedProxies.contains(peer) {
            func first(_ value: String?) -> String? {
                value?.split(separator: ",").first.map { $0.trimmingCharacters(in: .whitespaces) }
            }
            if let forwarded = first(request.headers[.xForwardedProto]) { scheme = forwarded }
            if let forwarded = first(request.headers[.xForwardedHost]) { authority = forwarded }
        }
        return authority.flatMap { WebOrigin(scheme: scheme, authority: $0) }
    }

    /// A change with a body must say it is JSON. An HTML form can only send
    /// form encodings and text/plain without a CORS preflight, so this is half of
    /// the defence against cross-site forms; a body-less retry or delete passes.
    private func requireJSONBody(_ request: Request) throws {
        let hasBody = request.headers[.transferEncoding] != nil || request.headers[.contentLength].map { Int($0) != 0 } == true
        guard hasBody else { return }
        let contentType = request.headers[.contentType]
        guard let contentType, MediaTypes.isJSON(contentType) else {
            let sent = contentType.map { "Content-Type: \($0)" } ?? "no Content-Type"
            throw PlatformError(
                .unsupportedMediaType,
                "\(request.method.rawValue) \(request.uri.path) takes a JSON body, and the request had \(sent); "
                    + "send the body as JSON with Content-Type: application/json"
            )
        }
    }

    /// A bearer token in clear text from another host is refused (``TokenTransport``),
    /// unless the gateway speaks TLS, a trusted proxy says the client did
    /// (`X-Forwarded-Proto: https`), or plain tokens are allowed.
    private func checkTokenTransport(_ request: Request, context: GatewayContext) throws {
        guard let authorization = request.headers[.authorization], authorization.hasPrefix("Bearer "),
            configuration.tls == nil, !configuration.allowPlainTokens
        else { return }
        let peer = context.peerAddress ?? ""
        if TokenTransport.isLoopback(peer) { return }
        if configuration.trustedProxies.contains(peer),
            request.headers[.xForwardedProto]?.split(separator: ",").first?.trimmingCharacters(in: .whitespaces).lowercased() == "https"
        {
            return
        }
        throw PlatformError(.unauthenticated, TokenTransport.refusal)
    }

    /// Who the caller is: `cert:<subject>` for a verified client certificate;
    /// `token:NAME` when tokens are configured and it sent a valid one; otherwise
    /// `http:<address>`, the peer's address or the first `X-Forwarded-For` address
    /// when the peer is a trusted proxy. With tokens configured, a change with
    /// neither a certificate nor a valid token is UNAUTHENTICATED.
    func callerIdentity(_ request: Request, context: GatewayContext) throws -> Principal {
        if configuration.tls != nil, let subject = peerSubjects.subject(of: context.connection) {
            return Principal(.cert, subject)
        }
        if let tokens = configuration.tokens?.current {
            if let name = tokens.match(authorization: request.headers[.authorization]) {
                return Principal(.token, name)
            }
            if Self.mutatingMethods.contains(request.method) {
                throw PlatformError(
                    .unauthenticated, "this gateway requires a token for changes: send Authorization: Bearer <token>"
                )
            }
        }
        let peer = context.peerAddress ?? "unknown"
        if configuration.trustedProxies.contains(peer), let forwarded = request.headers[.xForwardedFor],
            let first = forwarded.split(separator: ",").first
        {
            let client = first.trimmingCharacters(in: .whitespaces)
            if !client.isEmpty { return Principal(.http, client) }
        }
        return Principal(.http, peer.isEmpty ? "unknown" : peer)
    }

    private func preflight(allowed: [HTTPRequest.Method]) -> Response {
        var headers = HTTPFields()
        headers[.accessControlAllowMethods] = (allowed + [.options]).map(\.rawValue).joined(separator: ", ")
        headers[.accessControlAllowHeaders] = "Authorization, Content-Type, Idempotency-Key, X-Request-Id"
        headers[.accessControlMaxAge] = "600"
        return Response(status: .noContent, headers: headers)
    }

    /// Adds `Access-Control-Allow-Origin` for a configured origin only; a preflight
    /// from any other origin gets no CORS headers, so the browser refuses it. Not
    /// Hummingbird's `CORSMiddleware`, which allows one fixed list of methods on every
    /// path and costs more per request (BENCHMARKS.md, "Hand-written routing against
    /// Hummingbird's Router").
    package func addCORSHeaders(to headers: inout HTTPFields, origin: String?) {
        headers.append(HTTPField(name: .vary, value: "Origin"))
        guard let origin, configuration.corsOrigins.contains(origin) || configuration.corsOrigins.contains("*") else {
            headers[.accessControlAllowMethods] = nil
            headers[.accessControlAllowHeaders] = nil
            headers[.accessControlMaxAge] = nil
            return
        }
        headers[.accessControlAllowOrigin] = origin
        headers[.accessControlExposeHeaders] = "X-Request-Id, Retry-After"
    }
}
