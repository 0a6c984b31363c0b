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
/// It also keeps the read timeouts (``GatewayConfiguration/headerTimeout`` and
/// ``GatewayConfiguration/bodyTimeout``): ``RequestStartWatcher``, right before
/// the decoder, tells it when the first bytes of a request arrive while none is in
/// progress; from then the head must be in within the header timeout, and from the
/// head on, the body within the body timeout. Otherwise the client gets 408
/// REQUEST_TIMEOUT (when nothing of a response was sent for the request yet) and the
/// connection is closed. A keep-alive connection idle between requests, and a
/// response being written (an event stream), are not timed here.
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
    private let headerTimeout: TimeAmount?
    private let bodyTimeout: TimeAmount?
    /// Which part of a request is arriving, and since when.
    private var reading = Reading.idle
    private var timer: Scheduled<Void>?
    /// A read was asked for since bytes last came: the gateway is waiting on the
    /// client, so a timeout is the client's doing and not back-pressure's.
    private var waitingForClient = false
    /// A response head was written and its end not yet.
    private var responding = false
    /// Set once a timeout's answer is out: later writes for the timed-out request are dropped.
    private var timedOut = false
    private var context: ChannelHandlerContext?

    private enum Reading {
        case idle
        case head(since: NIODeadline)
        case body(since: NIODeadline)
    }

    private struct Refusal {
        var error: GatewayError
        var requestID: String
        var method: String
        var isSent = false
        var closesInput = false
    }

    init(responder: GatewayResponder) {
        self.responder = responder
        headerTimeout = responder.configuration.headerTimeout.map(Self.timeAmount)
        bodyTimeout = responder.configuration.bodyTimeout.map(Self.timeAmount)
    }

    static func timeAmount(_ duration: Duration) -> TimeAmount {
        let (seconds, attoseconds) = duration.components
        return .seconds(seconds) + .nanoseconds(attoseconds / 1_000_000_000)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimer()
        self.context = nil
    }

    // MARK: Read timeouts (called by ``RequestStartWatcher`` on the event loop)

    /// Bytes arrived from the client; before the decoder sees them.
    func bytesArriving() {
        waitingForClient = false
        if case .idle = reading, refusal == nil { reading = .head(since: .now()) }
    }

    /// The decoder has seen the bytes: time whatever part is still on its way.
    func bytesDecoded() {
        guard timer == nil, refusal == nil else { return }
        switch reading {
        case .idle: break
        case .head(let since): if let headerTimeout { arm(at: since + headerTimeout) }
        case .body(let since): if let bodyTimeout { arm(at: since + bodyTimeout) }
        }
    }

    /// A read was asked for: from now on the gateway waits for the client.
    func readRequested() {
        waitingForClient = true
    }

    private func arm(at deadline: NIODeadline) {
        guard let context else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            timer = nil
            expire()
        }
    }

    private func cancelTimer() {
        timer?.cancel()
        timer = nil
    }

    private func expire() {
        guard let context, refusal == nil, context.channel.isActive else { return }
        guard waitingForClient else {
            // The gateway stopped reading (back-pressure): not the client's delay. Look again later.
            switch reading {
            case .idle: return
            case .head: if let headerTimeout { arm(at: .now() + headerTimeout) }
            case .body: if let bodyTimeout { arm(at: .now() + bodyTimeout) }
            }
            return
        }
        switch reading {
        case .idle:
            return
        case .head:
            guard let timeout = responder.configuration.headerTimeout else { return }
            refuse(
                .requestTimeout(part: "head", timeout: timeout, flag: "--http-header-timeout"),
                requestID: nil, method: "unknown", closesInput: true, context: context
            )
        case .body:
            guard let timeout = responder.configuration.bodyTimeout else { return }
            if unanswered == 1 && !responding {
                // Nothing of this request's response is out, and no earlier one is pending.
                timedOut = true
                refusal = Refusal(
                    error: .requestTimeout(part: "body", timeout: timeout, flag: "--http-body-timeout"),
                    requestID: responder.requestIDs.id(echoing: nil), method: "unknown", closesInput: true
                )
                sendRefusal(context: context)
            } else {
                refusal = Refusal(error: .requestTimeout(part: "body", timeout: timeout, flag: "--http-body-timeout"), requestID: "", method: "unknown", isSent: true)
                context.close(promise: nil)
            }
        }
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
            cancelTimer()
            reading = .body(since: .now())
        case .body:
            break
        case .end:
            inBody = false
            cancelTimer()
            reading = .idle
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
        guard !timedOut else {
            // The 408 answered the timed-out request already; the connection is closing.
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        context.write(data, promise: promise)
        switch unwrapOutboundIn(data) {
        case .head(let head):
            // An interim answer (100 Continue) is not the response yet.
            if head.status.code >= 200 { responding = true }
            return
        case .body:
            return
        case .end:
            responding = false
        }
        // Never below zero: the bare 400 Hummingbird writes for a request that could
        // not be parsed was never counted.
        unanswered = max(0, unanswered - 1)
        if unanswered == 0 && refusal != nil { sendRefusal(context: context) }
    }

    private func refuse(_ error: GatewayError, requestID: String?, method: String, closesInput: Bool = false, context: ChannelHandlerContext) {
        cancelTimer()
        refusal = Refusal(error: error, requestID: responder.requestIDs.id(echoing: requestID), method: method, closesInput: closesInput)
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
        let closesInput = refusal.closesInput
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            channel.close(mode: .output, promise: nil)
            // A client that ran out of time may go on trickling for ever: the whole
            // connection goes a moment later, once the answer has had time to arrive.
            if closesInput {
                channel.eventLoop.scheduleTask(in: .seconds(1)) { channel.close(promise: nil) }
            }
        }
        if refusal.closesInput { timedOut = true }
        responder.metrics.recordRequest(route: "refused", method: refusal.method, status: Int(status.code), duration: .zero)
    }
}

/// Sits right before NIO's HTTP/1 decoder (after TLS, when there is TLS) and tells
/// ``RequestHeadValidator`` when request bytes arrive and when a read is asked
/// for, so it can time a request from its first byte.
final class RequestStartWatcher: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = Never

    private let validator: RequestHeadValidator

    init(validator: RequestHeadValidator) {
        self.validator = validator
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        validator.bytesArriving()
        context.fireChannelRead(data)
        validator.bytesDecoded()
    }

    func read(context: ChannelHandlerContext) {
        validator.readRequested()
        context.read()
    }
}
