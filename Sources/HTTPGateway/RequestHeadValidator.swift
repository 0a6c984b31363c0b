import HTTPTypes
import NIOCore
import NIOHTTP1

/// Refuses requests whose head is unfit to answer, in the one error shape and
/// before anything else looks at them: an HTTP/1.1 request without exactly one
/// `Host` (400 INVALID_ARGUMENT, RFC 9112 §3.2), and a header section over the
/// limits (431 HEADERS_TOO_LARGE). NIO's decoder enforces the limits, as
/// ``GatewayConfiguration/maxHeaderCount`` and ``GatewayConfiguration/maxHeaderBytes``
/// set it up, and reports them as `HTTPParserError.headerOverflow`; this handler
/// turns that error into the 431 instead of Hummingbird's bare 400.
///
/// It sits right after NIO's HTTP/1 decoder (see ``GatewayHTTP1Channel``). A
/// refused request ends the connection: its answer is written once every earlier
/// request on the connection has its response (so responses stay in order),
/// with `Connection: close`, and then the output is closed; whatever the client
/// still sends is read and dropped until it closes too.
final class RequestHeadValidator: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let responder: GatewayResponder
    /// Requests passed on whose response has not ended yet.
    private var unanswered = 0
    /// Between a passed-on head and its end: a header overflow there is in the
    /// trailers of a request already being answered, not a request of its own.
    private var inBody = false
    private var refusal: Refusal?
    private var date = HTTPDate()

    private struct Refusal {
        var error: GatewayError
        var requestID: String
        var method: String
        var isSent = false
    }

    init(responder: GatewayResponder) {
        self.responder = responder
    }

    /// The refusal for a request head, or nil when it may go on.
    static func problem(with head: HTTPRequestHead) -> GatewayError? {
        let hosts = head.headers["Host"].count
        if (head.version.major, head.version.minor) >= (1, 1) && hosts != 1 { return .missingHost(count: hosts) }
        return nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard refusal == nil else { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            if let problem = Self.problem(with: head) {
                refuse(problem, requestID: InlineHealthHandler.value(of: "X-Request-Id", in: head), method: head.method.rawValue, context: context)
                return
            }
            unanswered += 1
            inBody = true
        case .body:
            break
        case .end:
            inBody = false
        }
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Once refused, the decoder's complaints about the rest of the input
        // (data received in its error state) are expected; nothing more to say.
        guard refusal == nil else { return }
        if let parserError = error as? HTTPParserError, parserError == .headerOverflow, !inBody {
            let limits = responder.configuration
            refuse(.headersTooLarge(maxCount: limits.maxHeaderCount, maxBytes: limits.maxHeaderBytes), requestID: nil, method: "unknown", context: context)
            return
        }
        context.fireErrorCaught(error)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        context.write(data, promise: promise)
        guard case .end = unwrapOutboundIn(data) else { return }
        // Never below zero: the bare 400 Hummingbird writes for a request that could
        // not be parsed was never counted.
        unanswered = max(0, unanswered - 1)
        if unanswered == 0 && refusal != nil { sendRefusal(context: context) }
    }

    private func refuse(_ error: GatewayError, requestID: String?, method: String, context: ChannelHandlerContext) {
        refusal = Refusal(error: error, requestID: responder.requestIDs.id(echoing: requestID), method: method)
        if unanswered == 0 { sendRefusal(context: context) }
    }

    private func sendRefusal(context: ChannelHandlerContext) {
        guard var refusal, !refusal.isSent else { return }
        refusal.isSent = true
        self.refusal = refusal
        let body = refusal.error.body
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: MediaTypes.json)
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        headers.add(name: "Connection", value: "close")
        headers.add(name: "X-Request-Id", value: refusal.requestID)
        headers.add(name: "Date", value: date.now())
        let status = HTTPResponseStatus(statusCode: refusal.error.status.code)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        // Closing only the output lets the answer reach the client even while it is
        // still sending: a full close with unread input would reset the connection.
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            channel.close(mode: .output, promise: nil)
        }
        responder.metrics.recordRequest(route: "refused", method: refusal.method, status: Int(status.code), duration: .zero)
    }
}
