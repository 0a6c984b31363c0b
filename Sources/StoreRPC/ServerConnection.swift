import Foundation
import Logging
import NIOCore
import Synchronization

/// One accepted connection's calls. Admission (stream ids, limits,
/// authentication and the caller's identity in ``CallAuthentication``, request ids in
/// ``RequestID``) happens on the event loop, in frame order, in
/// ``ServerConnectionHandler``; inline methods are answered right there, and every
/// other call is handed to the connection's async loop, which runs it as a task.
/// A call ends exactly once — by its handler, its deadline, a CANCEL or the
/// connection closing — and only that first ending writes a final frame.
final class ServerConnection: Sendable {
    private struct Call {
        var task: Task<Void, Never>?
        var timer: Scheduled<Void>?
        var isStream: Bool
        var finished = false
    }

    private struct State {
        var calls: [UInt32: Call] = [:]
        var lastStreamID: UInt32 = 0
        var draining = false
        var certificateSubject: String?
    }

    /// A call admitted on the event loop, waiting for the async loop to run it.
    struct AdmittedCall: Sendable {
        let handler: RPCRouter.Handler
        let payload: Data
        let context: RPCContext
        let responseMetadata: [String: String]
    }

    let channel: any Channel
    /// The peer as accepted; ``peer`` adds the certificate subject.
    private let acceptedPeer: RPCPeer
    /// Why the connection may not stay (its listener is full): set when it was
    /// accepted; its frames are then ignored and it is closed with this status.
    let refusal: RPCStatus?
    private let router: RPCRouter
    private let authentication: CallAuthentication
    private let maxInFlight: Int
    private let logger: Logger
    private let state = Mutex(State())
    /// True while a flush of answers written by tasks is scheduled; read and
    /// written on the event loop only (atomic so the class stays `Sendable`).
    private let flushScheduled = Atomic<Bool>(false)
    /// Where the calls' tasks run: this connection's event loop.
    private let executor: EventLoopTaskExecutor

    init(
        refusal: RPCStatus? = nil,
        channel: any Channel,
        peer: RPCPeer,
        router: RPCRouter,
        tokens: BearerTokens?,
        refusesTokens: Bool = false,
        acceptsClientCertificates: Bool = false,
        maxInFlight: Int,
        logger: Logger
    ) {
        self.refusal = refusal
        self.channel = channel
        self.executor = EventLoopTaskExecutor(loop: channel.eventLoop)
        self.acceptedPeer = peer
        self.router = router
        self.authentication = CallAuthentication(
            tokens: tokens, refusesTokens: refusesTokens, acceptsClientCertificates: acceptsClientCertificates
        )
        self.maxInFlight = maxInFlight
        self.logger = logger
    }

    /// The subject of the client's verified TLS certificate, set once the
    /// handshake is done (before any request is read).
    var certificateSubject: String? {
        get { state.withLock { $0.certificateSubject } }
        set { state.withLock { $0.certificateSubject = newValue } }
    }

    /// Who is on the other end, the certificate subject included.
    var peer: RPCPeer {
        var peer = acceptedPeer
        peer.certificateSubject = certificateSubject
        return peer
    }

    /// True while any call of this connection has not ended.
    var hasCallsRunning: Bool {
        state.withLock { !$0.calls.isEmpty }
    }

    // MARK: Admission (event loop, frame order)

    /// What to do with one frame from the client.
    enum Admission {
        /// Write this answer now (a refusal, or an inline method's response).
        case answer(Envelope)
        /// Run this call on the async side.
        case run(AdmittedCall)
        /// Nothing to do.
        case nothing
    }

    /// Decides what one frame from the client means. Called on the event loop,
    /// one frame at a time, in the order they arrived.
    func admit(_ envelope: Envelope) -> Admission {
        if refusal != nil { return .nothing }
        switch envelope.type {
        case .request:
            return admitRequest(envelope)
        case .cancel:
            end(envelope.streamID, with: RPCError.cancelled("cancelled by the client"))
            return .nothing
        default:
            return .answer(Self.envelope(
                envelope.streamID, type: .response,
                status: RPCError.invalidArgument("frame type \(envelope.type) is not one a client sends; send REQUEST or CANCEL").status,
                metadata: [:]
            ))
        }
    }

    private func admitRequest(_ envelope: Envelope) -> Admission {
        let streamID = envelope.streamID
        let metadataProblem = checkMetadata(envelope.metadata)
        // A caller's id is echoed only once it passed the check.
        let incomingID = metadataProblem == nil ? envelope.metadata["request-id"] : nil
        let requestID = incomingID.flatMap { $0.isEmpty ? nil : $0 } ?? RequestID.make()
        let responseMetadata = ["request-id": requestID]
        let route = router.route(for: envelope.method)
        let isStream = if case .serverStream = route?.handler { true } else { false }
        let isInline = if case .inline = route?.handler { true } else { false }

        func refuse(_ error: RPCError) -> Admission {
            .answer(Self.envelope(streamID, type: isStream ? .streamEnd : .response, status: error.status, metadata: responseMetadata))
        }

        let admission: RPCError? = state.withLock { state in
            if streamID % 2 == 0 {
                return .invalidArgument("stream id \(streamID) is even; clients use odd stream ids")
            }
            if streamID <= state.lastStreamID {
                return .invalidArgument(
                    "stream id \(streamID) is not greater than the last one on this connection (\(state.lastStreamID)); stream ids strictly increase"
                )
            }
            state.lastStreamID = streamID
            if state.draining {
                return .unavailable("the daemon is shutting down; reconnect and retry")
            }
            if !isInline && state.calls.count >= maxInFlight {
                return .resourceExhausted("too many calls in flight on this connection (limit \(maxInFlight)); wait for some to finish")
            }
            return nil
        }
        if let admission { return refuse(admission) }
        if let metadataProblem { return refuse(metadataProblem) }

        guard let route else {
            return refuse(.unimplemented("unknown method \"\(envelope.method)\""))
        }
        let peer = peer
        let identity: String
        switch authentication.identity(of: peer, authorization: envelope.metadata["authorization"]) {
        case .success(let name): identity = name
        case .failure(let refusal): return refuse(refusal)
        }
        let timeout = envelope.timeoutMs
        let context = RPCContext(
            method: envelope.method,
            streamID: streamID,
            requestID: requestID,
            metadata: envelope.metadata,
            peer: peer,
            identity: identity,
            deadline: timeout > 0 ? .now + .milliseconds(Int64(clamping: timeout)) : nil
        )
        if case .inline(let handle) = route.handler {
            do {
                let response = try handle(envelope.payload, context)
                return .answer(Self.envelope(streamID, type: .response, payload: response, status: .ok, metadata: responseMetadata))
            } catch {
                return refuse(RPCError(status(for: error, context)))
            }
        }
        state.withLock { state in
            var call = Call(isStream: isStream)
            if timeout > 0 {
                call.timer = channel.eventLoop.scheduleTask(in: .milliseconds(Int64(clamping: timeout))) {
                    self.end(streamID, with: RPCError.deadlineExceeded("deadline of \(timeout) ms exceeded"), metadata: responseMetadata)
                }
            }
            state.calls[streamID] = call
        }
        return .run(AdmittedCall(handler: route.handler, payload: envelope.payload, context: context, responseMetadata: responseMetadata))
    }

    /// The router's metadata check as the refusal it calls for; nil when it passes.
    private func checkMetadata(_ metadata: [String: String]) -> RPCError? {
        guard let check = router.metadataCheck else { return nil }
        do {
            try check(metadata)
            return nil
        } catch let error as any RPCStatusConvertible {
            return RPCError(error.rpcStatus)
        } catch {
            return .invalidArgument("\(error)")
        }
    }

    // MARK: Running calls (async side)

    /// Starts the task of an admitted call, unless it already ended (cancelled or
    /// past its deadline before it got here).
    func start(_ call: AdmittedCall) {
        let streamID = call.context.streamID
        state.withLock { state in
            guard state.calls[streamID]?.finished == false else {
                state.calls[streamID] = nil
                return
            }
            state.calls[streamID]?.task = Task(executorPreference: executor) {
                await self.run(call)
            }
        }
    }

    private func run(_ call: AdmittedCall) async {
        let streamID = call.context.streamID
        let metadata = call.responseMetadata
        var written: EventLoopFuture<Void>?
        switch call.handler {
        case .inline(let handle):
            written = finish(streamID, Result { try handle(call.payload, call.context) }, call)
        case .unary(let handle):
            let result: Result<Data, any Error>
            do {
                result = .success(try await handle(call.payload, call.context))
            } catch {
                result = .failure(error)
            }
            written = finish(streamID, result, call)
        case .serverStream(let handle):
            let sink = RPCStreamSink { [self] message in
                guard isRunning(streamID) else { throw CancellationError() }
                try await write(Self.envelope(streamID, type: .streamMessage, payload: message, status: nil, metadata: [:])).get()
            }
            var final = RPCStatus.ok
            do {
                try await handle(call.payload, call.context, sink)
            } catch {
                final = status(for: error, call.context)
            }
            if markFinished(streamID) {
                written = write(Self.envelope(streamID, type: .streamEnd, status: final, metadata: metadata))
            }
        }
        let closeNow = state.withLock { state in
            state.calls[streamID] = nil
            return state.draining && state.calls.isEmpty
        }
        if closeNow {
            if let written {
                written.whenComplete { _ in self.channel.close(promise: nil) }
            } else {
                channel.close(promise: nil)
            }
        }
    }

    /// Writes a unary call's answer if the call has not already ended.
    private func finish(_ streamID: UInt32, _ result: Result<Data, any Error>, _ call: AdmittedCall) -> EventLoopFuture<Void>? {
        guard markFinished(streamID) else { return nil }
        switch result {
        case .success(let payload):
            return write(Self.envelope(streamID, type: .response, payload: payload, status: .ok, metadata: call.responseMetadata))
        case .failure(let error):
            return write(Self.envelope(streamID, type: .response, status: status(for: error, call.context), metadata: call.responseMetadata))
        }
    }

    private func status(for error: any Error, _ context: RPCContext) -> RPCStatus {
        switch error {
        case let error as any RPCStatusConvertible:
            return error.rpcStatus
        case is CancellationError:
            return RPCError.cancelled("the call was cancelled").status
        default:
            logger.error("call failed", metadata: ["request-id": "\(context.requestID)", "method": "\(context.method)", "error": "\(error)"])
            return RPCStatus(
                code: .internal, errorCode: "INTERNAL_ERROR",
                message: "internal error; the daemon's log has the details under request id \(context.requestID)"
            )
        }
    }

    /// Ends a running call early (deadline, CANCEL): cancels its task and sends
    /// the final frame, unless the call already ended.
    private func end(_ streamID: UInt32, with error: RPCError, metadata: [String: String] = [:]) {
        let ended: (task: Task<Void, Never>?, isStream: Bool)? = state.withLock { state in
            guard var call = state.calls[streamID], !call.finished else { return nil }
            call.finished = true
            call.timer?.cancel()
            state.calls[streamID] = call
            return (call.task, call.isStream)
        }
        guard let ended else { return }
        ended.task?.cancel()
        write(Self.envelope(streamID, type: ended.isStream ? .streamEnd : .response, status: error.status, metadata: metadata))
    }

    /// Marks the call finished; true when this caller is the first to end it.
    private func markFinished(_ streamID: UInt32) -> Bool {
        state.withLock { state in
            guard var call = state.calls[streamID], !call.finished else { return false }
            call.finished = true
            call.timer?.cancel()
            state.calls[streamID] = call
            return true
        }
    }

    private func isRunning(_ streamID: UInt32) -> Bool {
        state.withLock { $0.calls[streamID].map { !$0.finished } ?? false }
    }

    // MARK: Connection lifetime

    /// Stops admitting calls; closes the connection once running calls finish.
    func drain() {
        let idle = state.withLock { state in
            state.draining = true
            return state.calls.isEmpty
        }
        if idle { channel.close(promise: nil) }
    }

    /// Cancels every running call and waits until each handler has returned, so
    /// nothing of this connection outlives it.
    func cancelAllAndWait() async {
        let tasks = state.withLock { state in
            state.draining = true
            var tasks: [Task<Void, Never>] = []
            for (id, var call) in state.calls {
                call.finished = true
                call.timer?.cancel()
                state.calls[id] = call
                if let task = call.task { tasks.append(task) }
            }
            return tasks
        }
        for task in tasks {
            task.cancel()
        }
        for task in tasks {
            await task.value
        }
    }

    /// Sends a connection-level ERROR frame on stream 0, then closes.
    func fail(with status: RPCStatus) async {
        try? await channel.writeAndFlush(Self.envelope(0, type: .error, status: status, metadata: [:]))
        try? await channel.close()
    }

    // MARK: Writing

    /// Writes `envelope` on the connection's event loop; the flush follows once the
    /// loop has run the tasks already ready (``writeOnLoop(_:)``).
    @discardableResult
    private func write(_ envelope: Envelope) -> EventLoopFuture<Void> {
        let loop = channel.eventLoop
        if loop.inEventLoop {
            return writeOnLoop(envelope)
        }
        return loop.flatSubmit { self.writeOnLoop(envelope) }
    }

    /// On the event loop: writes `envelope` and, unless one is already due, has a
    /// flush run after the tasks the loop holds now, so the answers of calls that
    /// finish together leave in one system call instead of one each. A write made
    /// after that flush started schedules the next one: none is left unflushed.
    private func writeOnLoop(_ envelope: Envelope) -> EventLoopFuture<Void> {
        let promise = channel.eventLoop.makePromise(of: Void.self)
        channel.write(envelope, promise: promise)
        if !flushScheduled.exchange(true, ordering: .relaxed) {
            channel.eventLoop.execute {
                self.flushScheduled.store(false, ordering: .relaxed)
                self.channel.flush()
            }
        }
        return promise.futureResult
    }

    static func envelope(
        _ streamID: UInt32,
        type: StorePlatformFrameType,
        payload: Data = Data(),
        status: RPCStatus?,
        metadata: [String: String]
    ) -> Envelope {
        var envelope = Envelope()
        envelope.streamID = streamID
        envelope.type = type
        envelope.payload = payload
        if let status { envelope.status = status.proto }
        envelope.metadata = metadata
        return envelope
    }
}
