import Foundation
import HTTPTypes
import HummingbirdCore
import Logging
import NIOCore
import NIOSSL
import StoreRPC
import NIOHTTP1
import NIOHTTPTypesHTTP1

/// Answers `GET /api/health` on the connection's event loop, in the channel
/// pipeline, the way the RPC server answers its inline methods: no task, no
/// async-sequence hop, no conversion to `HTTPRequest`/`Response` for the one
/// request a load balancer or a monitor sends most often. It sits between NIO's
/// HTTP/1 codec and Hummingbird's (see ``GatewayHTTP1Channel``); everything
/// else passes on to Hummingbird's responder unchanged.
///
/// The answer is the one the responder would give (same body from the same
/// ``HealthEncoder``, `X-Request-Id`, `Date`, CORS headers, request metrics), so
/// which path answered is invisible to the client. Responses stay in request
/// order: a health request is answered here only while no earlier request on the
/// connection is still waiting for its response; otherwise it goes to the
/// responder like any other. So does one that is not a kept-alive HTTP/1.1
/// request, so closing connections stays in one place, and any request while
/// the socket is not writable, so Hummingbird's backpressure still applies.
final class InlineHealthHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let responder: GatewayResponder
    private let instruments: RequestInstruments
    /// Requests passed on whose response has not ended yet.
    private var passedOn = 0
    /// The health request being answered here, between its head and its end.
    private var answering: (request: HTTPRequestHead, started: ContinuousClock.Instant)?
    private var needsFlush = false
    private var date = HTTPDate()

    init(responder: GatewayResponder) {
        self.responder = responder
        instruments = responder.metrics.requestInstruments(
            route: Route.health.template, method: HTTPRequest.Method.get.rawValue, status: 200
        )
    }

    /// Whether this request is one to answer here.
    static func answersInline(_ head: HTTPRequestHead) -> Bool {
        guard head.method == .GET, head.version == .http1_1, head.isKeepAlive else { return false }
        let uri = head.uri.utf8
        let path = "/api/health".utf8
        guard uri.starts(with: path) else { return false }
        return uri.count == path.count || uri[uri.index(uri.startIndex, offsetBy: path.count)] == UInt8(ascii: "?")
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            // While the socket cannot take more, health goes the responder's way too,
            // where Hummingbird stops reading until the client catches up: answers
            // to a client that pipelines and never reads must not pile up here.
            // A database that does not answer makes health a 503 with the reason,
            // which the responder builds.
            if passedOn == 0 && context.channel.isWritable && Self.answersInline(head)
                && responder.controlPlane.databaseAvailability.isAvailable
            {
                answering = (head, .now)
            } else {
                passedOn += 1
                context.fireChannelRead(data)
            }
        case .body:
            // A GET body means nothing to health; the responder ignores it too.
            if answering == nil { context.fireChannelRead(data) }
        case .end:
            guard let (head, started) = answering else {
                context.fireChannelRead(data)
                return
            }
            answering = nil
            answer(head, started: started, context: context)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if needsFlush {
            needsFlush = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // Never below zero: a response no request of ours asked for (the 400 for a
        // request that could not be parsed) must not hold back later answers.
        if case .end = unwrapOutboundIn(data) { passedOn = max(0, passedOn - 1) }
        context.write(data, promise: promise)
    }

    private func answer(_ request: HTTPRequestHead, started: ContinuousClock.Instant, context: ChannelHandlerContext) {
        let body = responder.health.body()
        var headers = HTTPHeaders()
        headers.reserveCapacity(4)
        headers.add(name: "Content-Type", value: MediaTypes.json)
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        headers.add(name: "X-Request-Id", value: responder.requestIDs.id(echoing: Self.value(of: "X-Request-Id", in: request)))
        headers.add(name: "Date", value: date.now())
        if !responder.configuration.corsOrigins.isEmpty {
            var cors = HTTPFields()
            responder.addCORSHeaders(to: &cors, origin: Self.value(of: "Origin", in: request))
            for field in cors { headers.add(name: field.name.rawName, value: field.value) }
        }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.write(wrapOutboundOut(.end(nil)), promise: nil)
        needsFlush = true
        instruments.record(ContinuousClock.now - started)
    }
}

extension InlineHealthHandler {
    /// A header's value as the responder sees it: repeated fields joined with
    /// ", ", as HTTP types' `HTTPFields` subscript does.
    static func value(of name: String, in request: HTTPRequestHead) -> String? {
        let values = request.headers[name]
        return values.isEmpty ? nil : values.joined(separator: ", ")
    }
}

/// Hummingbird's HTTP/1 child channel with the gateway's own handlers placed
/// between NIO's HTTP/1 codec and Hummingbird's conversion to HTTP types:
/// ``RequestHeadValidator`` first, then ``InlineHealthHandler``; and
/// ``RequestStartWatcher`` right before the decoder, for the read timeouts. NIO's decoder
/// gets the configured header limits.
struct GatewayHTTP1Channel: ServerChildChannel, HTTPChannelHandler {
    typealias Value = HTTP1Channel.Value

    let http1: HTTP1Channel
    let gateway: GatewayResponder

    var responder: HTTPChannelHandler.Responder { http1.responder }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        http1.setup(channel: channel, logger: logger).flatMapThrowing { value in
            try gateway.connections.admit(channel)
            let pipeline = channel.pipeline.syncOperations
            if let tls = gateway.configuration.tls {
                // The context current now: a reload changes what later connections get.
                let subjects = gateway.peerSubjects
                let peer = channel.remoteAddress?.description ?? "?"
                try pipeline.addHandler(
                    TLSPeerSubjectHandler(
                        record: { [channel] subject in subjects.record(subject, for: channel) },
                        refused: { error in
                            logger.info("TLS handshake refused", metadata: ["peer": "\(peer)", "error": "\(error)"])
                        }
                    ),
                    position: .first
                )
                try pipeline.addHandler(NIOSSLServerHandler(context: tls.context), position: .first)
            }
            let conversion = try pipeline.handler(type: HTTP1ToHTTPServerCodec.self)
            let validator = RequestHeadValidator(responder: gateway)
            try pipeline.addHandler(validator, position: .before(conversion))
            if gateway.configuration.headerTimeout != nil || gateway.configuration.bodyTimeout != nil {
                let decoder = try pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
                try pipeline.addHandler(RequestStartWatcher(validator: validator), position: .before(decoder))
            }
            try pipeline.addHandler(InlineHealthHandler(responder: gateway), position: .before(conversion))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await http1.handle(value: value, logger: logger)
    }

    static func builder(gateway: GatewayResponder) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            let limits = gateway.configuration
            let idle = limits.idleTimeout.map { TimeAmount.nanoseconds(Int64($0.components.seconds) * 1_000_000_000 + $0.components.attoseconds / 1_000_000_000) }
            let configuration = HTTP1Channel.Configuration(
                idleTimeout: idle,
                httpDecoderConfiguration: .init(
                    maxHeaderFieldSize: limits.maxHeaderBytes, maxHeaderListSize: limits.maxHeaderBytes,
                    maxHeaderFieldCount: limits.maxHeaderCount
                )
            )
            return GatewayHTTP1Channel(http1: HTTP1Channel(responder: responder, configuration: configuration), gateway: gateway)
        }
    }
}

/// The `Date` header's value (RFC 9110 IMF-fixdate), formatted at most once a
/// second; Hummingbird's responses carry the same header.
struct HTTPDate {
    private var second = 0
    private var text = ""

    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    mutating func now() -> String {
        var seconds = time(nil)
        if seconds != second || text.isEmpty {
            second = seconds
            var parts = tm()
            gmtime_r(&seconds, &parts)
            text = Self.format(parts)
        }
        return text
    }

    static func format(_ parts: tm) -> String {
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(1900 + parts.tm_year) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
