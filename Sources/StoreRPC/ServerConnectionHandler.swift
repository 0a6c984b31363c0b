import Logging
import NIOCore

/// The event-loop side of a server connection. It owns the connection's
/// ``ServerConnectionState`` and touches it only on its loop:
///
/// - it splits the bytes read into frames (``FrameDecoder``), parses each frame's
///   envelope (``WireEnvelope``) and admits requests in frame order (the state's
///   rules, the router's metadata check, ``CallAuthentication``, ``RequestID``);
/// - it answers refusals and inline methods right there; a read's answers leave
///   together, in one buffer, when the read completes (or every 2 KiB);
/// - it passes every other admitted call on to the connection's async loop,
///   which runs it as a task (``ServerConnection``), and takes the task's answer
///   back on the loop to write it;
/// - it ends calls early: a deadline's timer, a CANCEL frame;
/// - with an idle timeout, it closes a connection that read nothing for that
///   long (an `IdleStateHandler` ahead of it says so) while none of its calls
///   runs: an idle client, or one stuck half-way through a frame, gives its place
///   back. A quiet connection whose call still runs (a WatchStores stream) stays.
///
/// Its stored properties are touched only on its event loop, and no access to one
/// overlaps another access to it, so they are `@exclusivity(unchecked)`: run-time
/// exclusivity checks, these accesses' among them, were about a tenth of the
/// daemon's CPU per Health call (BENCHMARKS.md, "RPC").
final class ServerConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = AdmittedCall
    typealias OutboundOut = ByteBuffer

    /// A call admitted on the event loop, for the async loop to run.
    struct AdmittedCall: Sendable {
        let handler: RPCRouter.Handler
        let payload: ByteBuffer
        let context: RPCContext
    }

    @exclusivity(unchecked) private var frames: FrameDecoder
    /// Bytes read and not yet split into frames: the start of a frame still coming.
    @exclusivity(unchecked) private var received = ServerConnectionHandler.nothingReceived
    private static let nothingReceived = ByteBufferAllocator().buffer(capacity: 0)
    /// Frames already handled are dropped from ``received`` once they take this much.
    private static let compactionThreshold = 64 * 1024
    private let router: RPCRouter
    private let authentication: CallAuthentication
    private let logger: Logger
    /// The connection's listener is full: frames are ignored while the async
    /// loop refuses the connection.
    private let isRefused: Bool
    @exclusivity(unchecked) private var state: ServerConnectionState
    /// Who is on the other end; the certificate subject is added once the TLS
    /// handshake is done.
    @exclusivity(unchecked) private(set) var peer: RPCPeer
    /// The last authorization that passed and the identity it gave: a
    /// connection's tokens do not change, so neither does the answer.
    @exclusivity(unchecked) private var authenticated: (authorization: String?, identity: String)?
    @exclusivity(unchecked) private var context: ChannelHandlerContext?
    /// A frame did not parse: the connection is being failed; the rest is ignored.
    @exclusivity(unchecked) private var failed = false
    /// The answers written during this read, one frame after another; written
    /// and flushed when the read completes, or when they reach
    /// ``answersFlushedEarly``.
    @exclusivity(unchecked) private var readAnswers = ByteBuffer()
    /// A read's answers are written as soon as they reach this many bytes (a
    /// dozen Health answers) rather than all at the read's end, so the client
    /// works on the first answers while the daemon makes the rest: at 64 calls in
    /// flight that took Health from 0.26 to 0.35 M calls/s for one more write
    /// per dozen calls (BENCHMARKS.md, "The transport as a state machine").
    private static let answersFlushedEarly = 2048
    /// A flush of answers written by tasks is due on the loop.
    @exclusivity(unchecked) private var flushScheduled = false
    /// The method the connection's last request named, and its route: a client
    /// mostly calls one method after another, so the next request's name is read
    /// as this string (``WireEnvelope/init(parsing:knownMethod:)``) and its route
    /// is not looked up again.
    @exclusivity(unchecked) private var lastMethod = ""
    @exclusivity(unchecked) private var lastRoute: RPCRouter.Route?
    /// The router's metadata check passed empty metadata (it depends on the
    /// metadata alone, so it need not run again for empty metadata).
    @exclusivity(unchecked) private var emptyMetadataPasses = false

    init(
        peer: RPCPeer,
        router: RPCRouter,
        authentication: CallAuthentication,
        maxInFlight: Int,
        maxFrameLength: Int,
        isRefused: Bool,
        logger: Logger
    ) {
        self.frames = FrameDecoder(maxFrameLength: maxFrameLength)
        self.peer = peer
        self.router = router
        self.authentication = authentication
        self.state = ServerConnectionState(maxInFlight: maxInFlight)
        self.isRefused = isRefused
        self.logger = logger
    }

    /// The subject of the client's verified TLS certificate, recorded when the
    /// handshake is done, before any request is read.
    func recordCertificateSubject(_ subject: String) {
        peer.certificateSubject = subject
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    // MARK: Reading (frame order)

    /// Bytes as read (after TLS): split into frames here, with ``FrameDecoder``'s
    /// rules, each frame handled before the next is looked at.
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed, !isRefused else { return }
        var bytes = unwrapInboundIn(data)
        if received.readableBytes == 0 {
            received = bytes
        } else {
            received.writeBuffer(&bytes)
        }
        do {
            while !failed, let frame = try frames.decode(buffer: &received) {
                read(frame, context: context)
            }
        } catch {
            failed = true
            context.fireErrorCaught(error)
        }
        if received.readableBytes == 0 || failed {
            // Let go of the read's buffer, so the channel can read into it again.
            received = Self.nothingReceived
        } else if received.readerIndex >= Self.compactionThreshold {
            received.discardReadBytes()
        }
    }

    /// One frame's envelope.
    private func read(_ frame: ByteBuffer, context: ChannelHandlerContext) {
        let envelope: WireEnvelope
        do {
            envelope = try WireEnvelope(parsing: frame, knownMethod: lastMethod)
        } catch {
            failed = true
            context.fireErrorCaught(RPCProtocolError.malformedEnvelope("\(error)"))
            return
        }
        switch envelope.type {
        case .request:
            admit(envelope, context: context)
        case .cancel:
            end(envelope.streamID, with: .cancelled("cancelled by the client"), requestID: nil)
        default:
            let refusal = RPCError.invalidArgument("frame type \(envelope.type) is not one a client sends; send REQUEST or CANCEL")
            write(envelope.streamID, type: .response, status: refusal.status, requestID: nil, duringRead: true)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushReadAnswers(context: context)
        context.fireChannelReadComplete()
    }

    private func flushReadAnswers(context: ChannelHandlerContext) {
        guard readAnswers.readableBytes > 0 else { return }
        context.writeAndFlush(wrapOutboundOut(readAnswers), promise: nil)
        // Written at once unless the socket is full, so the next answers
        // usually find the storage free again.
        readAnswers.clear()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            if !state.hasCalls {
                context.close(promise: nil)
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func admit(_ envelope: WireEnvelope, context: ChannelHandlerContext) {
        let streamID = envelope.streamID
        let metadata = envelope.metadata
        let metadataProblem = checkMetadata(metadata)
        // A caller's id is echoed only once it passed the check.
        let incomingID = metadataProblem == nil && !metadata.isEmpty ? metadata["request-id"] : nil
        let requestID = incomingID.flatMap { $0.isEmpty ? nil : $0 } ?? RequestID.make()
        if envelope.method != lastMethod {
            lastMethod = envelope.method
            lastRoute = router.route(for: envelope.method)
        }
        let route = lastRoute
        let isStream = if case .serverStream = route?.handler { true } else { false }
        let isInline = switch route?.handler {
        case .inline, .inlineRequestOnly: true
        default: false
        }

        func refuse(_ error: RPCError) {
            write(streamID, type: isStream ? .streamEnd : .response, status: error.status, requestID: requestID, duringRead: true)
        }

        if let refusal = state.admit(streamID: streamID, holdsPlace: !isInline) { return refuse(refusal) }
        if let metadataProblem { return refuse(metadataProblem) }
        guard let route else {
            return refuse(.unimplemented("unknown method \"\(envelope.method)\""))
        }
        let identity: String
        switch authenticate(authorization: metadata.isEmpty ? nil : metadata["authorization"]) {
        case .success(let name): identity = name
        case .failure(let refusal): return refuse(refusal)
        }
        let timeout = envelope.timeoutMs
        func makeCall() -> RPCContext {
            RPCContext(
                method: envelope.method,
                streamID: streamID,
                requestID: requestID,
                metadata: metadata,
                peer: peer,
                identity: identity,
                deadline: timeout > 0 ? .now + .milliseconds(Int64(clamping: timeout)) : nil
            )
        }
        switch route.handler {
        case .inline(let handle):
            let call = makeCall()
            return answerInline(streamID, requestID: requestID, call: { call }) { try handle(envelope.payload, call) }
        case .inlineRequestOnly(let answer):
            return answerInline(streamID, requestID: requestID, call: makeCall) { try answer(envelope.payload) }
        case .unary, .serverStream:
            break
        }
        let call = makeCall()
        var timer: Scheduled<Void>?
        if timeout > 0 {
            timer = context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(clamping: timeout))) { [self] in
                end(streamID, with: .deadlineExceeded("deadline of \(timeout) ms exceeded"), requestID: requestID)
            }
        }
        state.register(streamID, isStream: isStream, timer: timer)
        context.fireChannelRead(wrapInboundOut(AdmittedCall(handler: route.handler, payload: envelope.payload, context: call)))
    }

    /// Answers an inline call while its frame is read: the handler's answer, or
    /// the status of what it threw (`call` makes the call's context for that).
    private func answerInline(
        _ streamID: UInt32, requestID: String, call: () -> RPCContext, _ answer: () throws -> ByteBuffer
    ) {
        do {
            write(streamID, type: .response, payload: try answer(), status: .ok, requestID: requestID, duringRead: true)
        } catch {
            write(streamID, type: .response, status: status(for: error, call()), requestID: requestID, duringRead: true)
        }
    }

    /// The caller's identity, from the connection's last answer when the
    /// authorization is the same.
    private func authenticate(authorization: String?) -> Result<String, RPCError> {
        if let authenticated, authenticated.authorization == authorization {
            return .success(authenticated.identity)
        }
        let result = authentication.identity(of: peer, authorization: authorization)
        if case .success(let identity) = result {
            authenticated = (authorization, identity)
        }
        return result
    }

    /// The router's metadata check as the refusal it calls for; nil when it passes.
    private func checkMetadata(_ metadata: [String: String]) -> RPCError? {
        guard let check = router.metadataCheck else { return nil }
        if metadata.isEmpty && emptyMetadataPasses { return nil }
        let problem = Self.run(check, on: metadata)
        if metadata.isEmpty && problem == nil { emptyMetadataPasses = true }
        return problem
    }

    private static func run(_ check: @Sendable ([String: String]) throws -> Void, on metadata: [String: String]) -> RPCError? {
        do {
            try check(metadata)
            return nil
        } catch let error as any RPCStatusConvertible {
            return RPCError(error.rpcStatus)
        } catch {
            return .invalidArgument("\(error)")
        }
    }

    // MARK: Running calls (their tasks hand back here, on the loop)

    /// Gives an admitted call its task; cancels the task when the call already
    /// ended (cancelled or past its deadline before it started).
    func attach(_ task: Task<Void, Never>, to streamID: UInt32) {
        if !state.attach(task, to: streamID) {
            task.cancel()
        }
    }

    /// A unary call's handler returned: writes its answer, unless the call already
    /// ended, and forgets the call.
    func finish(_ call: RPCContext, _ result: Result<ByteBuffer, any Error>) {
        var written: EventLoopFuture<Void>?
        if endOnce(call.streamID) != nil {
            switch result {
            case .success(let payload):
                written = write(call.streamID, type: .response, payload: payload, status: .ok, requestID: call.requestID)
            case .failure(let error):
                written = write(call.streamID, type: .response, status: status(for: error, call), requestID: call.requestID)
            }
        }
        forget(call.streamID, after: written)
    }

    /// A stream's handler returned (`nil`) or threw: writes STREAM_END, unless the
    /// call already ended, and forgets the call.
    func finishStream(_ call: RPCContext, error: (any Error)?) {
        var written: EventLoopFuture<Void>?
        if endOnce(call.streamID) != nil {
            let final = error.map { status(for: $0, call) } ?? .ok
            written = write(call.streamID, type: .streamEnd, status: final, requestID: call.requestID)
        }
        forget(call.streamID, after: written)
    }

    /// Writes one message of a running stream; the future completes once it is
    /// written (backpressure). Nil when the call is over.
    func send(_ message: ByteBuffer, on streamID: UInt32) -> EventLoopFuture<Void>? {
        guard state.isRunning(streamID) else { return nil }
        return write(streamID, type: .streamMessage, payload: message, status: nil, requestID: nil)
    }

    /// Stops admitting calls; closes the connection once running calls finish.
    func drain() {
        if state.drain() {
            context?.close(promise: nil)
        }
    }

    /// Ends every call as the connection closes: their timers and tasks are
    /// cancelled; the tasks are returned to be waited for.
    func endAll() -> [Task<Void, Never>] {
        let calls = state.endAll()
        var tasks: [Task<Void, Never>] = []
        for call in calls {
            call.timer?.cancel()
            if let task = call.task {
                task.cancel()
                tasks.append(task)
            }
        }
        return tasks
    }

    /// Ends a running call early (deadline, CANCEL): cancels its task and sends
    /// the final frame, unless the call already ended.
    private func end(_ streamID: UInt32, with error: RPCError, requestID: String?) {
        guard let call = endOnce(streamID) else { return }
        call.task?.cancel()
        write(streamID, type: call.isStream ? .streamEnd : .response, status: error.status, requestID: requestID)
    }

    /// The call's first ending: its timer is cancelled and it is returned; nil
    /// when it had already ended.
    private func endOnce(_ streamID: UInt32) -> ServerConnectionState.Call? {
        guard let call = state.end(streamID) else { return nil }
        call.timer?.cancel()
        return call
    }

    /// Forgets a call whose handler returned; closes a draining connection after
    /// its last call's final frame is written.
    private func forget(_ streamID: UInt32, after written: EventLoopFuture<Void>?) {
        guard state.remove(streamID), let context else { return }
        if let written {
            written.whenComplete { _ in context.close(promise: nil) }
        } else {
            context.close(promise: nil)
        }
    }

    private func status(for error: any Error, _ call: RPCContext) -> RPCStatus {
        switch error {
        case let error as any RPCStatusConvertible:
            return error.rpcStatus
        case is CancellationError:
            return RPCError.cancelled("the call was cancelled").status
        default:
            logger.error("call failed", metadata: ["request-id": "\(call.requestID)", "method": "\(call.method)", "error": "\(error)"])
            return RPCStatus(
                code: .internal, errorCode: "INTERNAL_ERROR",
                message: "internal error; the daemon's log has the details under request id \(call.requestID)"
            )
        }
    }

    // MARK: Writing

    /// Writes one frame. An answer written while reading joins the read's other
    /// answers in one buffer, written when the read completes; one written for a
    /// task has a flush run after the jobs the loop holds now, so the answers of
    /// calls that finish together leave in one system call. A write made after
    /// that flush started schedules the next one: none is left unflushed. Nil
    /// once the handler has left the pipeline, and for an answer written while
    /// reading.
    @discardableResult
    private func write(
        _ streamID: UInt32,
        type: StorePlatformFrameType,
        payload: ByteBuffer? = nil,
        status: RPCStatus?,
        requestID: String?,
        duringRead: Bool = false
    ) -> EventLoopFuture<Void>? {
        guard let context else { return nil }
        if duringRead {
            WireEnvelope.writeFrame(
                into: &readAnswers, streamID: streamID, type: type, payload: payload, status: status, requestID: requestID
            )
            if readAnswers.readableBytes >= Self.answersFlushedEarly {
                flushReadAnswers(context: context)
            }
            return nil
        }
        let frame = WireEnvelope.frame(
            streamID: streamID, type: type, payload: payload, status: status, requestID: requestID,
            allocator: context.channel.allocator
        )
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.write(wrapOutboundOut(frame), promise: promise)
        if !flushScheduled {
            flushScheduled = true
            context.eventLoop.assumeIsolated().execute { [self] in
                flushScheduled = false
                self.context?.flush()
            }
        }
        return promise.futureResult
    }
}

@available(*, unavailable)
extension ServerConnectionHandler: Sendable {}
