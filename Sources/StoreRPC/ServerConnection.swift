import Foundation
import Logging
import NIOCore
import Synchronization

/// One accepted connection: admits requests (stream ids, limits, authentication,
/// access), runs each call as its own task, and writes responses in completion
/// order. A call ends exactly once — by its handler, its deadline, a CANCEL or the
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
    }

    let channel: any Channel
    let peer: RPCPeer
    private let router: RPCRouter
    private let tokens: BearerTokens?
    private let adminUIDs: Set<UInt32>
    private let maxInFlight: Int
    private let logger: Logger
    private let state = Mutex(State())

    init(
        channel: any Channel,
        peer: RPCPeer,
        router: RPCRouter,
        tokens: BearerTokens?,
        adminUIDs: Set<UInt32>,
        maxInFlight: Int,
        logger: Logger
    ) {
        self.channel = channel
        self.peer = peer
        self.router = router
        self.tokens = tokens
        self.adminUIDs = adminUIDs
        self.maxInFlight = maxInFlight
        self.logger = logger
    }

    /// Calls admitted and not yet returned from their handlers.
    var inFlight: Int { state.withLock { $0.calls.count } }

    // MARK: Inbound

    /// Handles one frame from the client. Called in order, by one reader.
    func receive(_ envelope: Envelope) {
        switch envelope.type {
        case .request:
            startCall(envelope)
        case .cancel:
            end(envelope.streamID, with: RPCError.cancelled("cancelled by the client"))
        default:
            reply(
                to: envelope.streamID, type: .response,
                status: RPCError.invalidArgument("frame type \(envelope.type) is not one a client sends; send REQUEST or CANCEL").status,
                metadata: [:]
            )
        }
    }

    private func startCall(_ envelope: Envelope) {
        let streamID = envelope.streamID
        let requestID = envelope.metadata["request-id"].flatMap { $0.isEmpty ? nil : $0 } ?? Self.makeRequestID()
        let responseMetadata = ["request-id": requestID]
        let route = router.route(for: envelope.method)
        let isStream = if case .serverStream = route?.handler { true } else { false }

        func refuse(_ error: RPCError) {
            reply(to: streamID, type: isStream ? .streamEnd : .response, status: error.status, metadata: responseMetadata)
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
            if state.calls.count >= maxInFlight {
                return .resourceExhausted("too many calls in flight on this connection (limit \(maxInFlight)); wait for some to finish")
            }
            return nil
        }
        if let admission { return refuse(admission) }

        guard let route else {
            return refuse(.unimplemented("unknown method \"\(envelope.method)\""))
        }
        let identity: String
        switch peer.transport {
        case .unix:
            identity = "uid:\(peer.uid.map(String.init) ?? "?")"
        case .tcp:
            if let tokens {
                guard let number = tokens.match(authorization: envelope.metadata["authorization"]) else {
                    return refuse(.unauthenticated("this listener needs metadata \"authorization: Bearer <token>\" with a valid token"))
                }
                identity = "token:\(number)"
            } else {
                identity = "tcp:\(peer.address ?? "?")"
            }
        }
        if route.access == .admin {
            guard peer.transport == .unix, let uid = peer.uid, adminUIDs.contains(uid) else {
                let who = peer.transport == .unix ? "uid \(peer.uid.map(String.init) ?? "?") is not an admin uid" : "callers over TCP are not admins"
                return refuse(.permissionDenied("\(envelope.method) is an admin method: call it over the Unix socket as an allowed uid (\(who))"))
            }
        }

        var deadline: ContinuousClock.Instant?
        if envelope.timeoutMs > 0 {
            deadline = .now + .milliseconds(Int64(clamping: envelope.timeoutMs))
        }
        let context = RPCContext(
            method: envelope.method,
            streamID: streamID,
            requestID: requestID,
            metadata: envelope.metadata,
            peer: peer,
            identity: identity,
            deadline: deadline
        )
        let payload = envelope.payload
        let timeout = envelope.timeoutMs
        state.withLock { state in
            var call = Call(isStream: isStream)
            call.task = Task {
                await self.run(route.handler, payload: payload, context: context, metadata: responseMetadata)
            }
            if timeout > 0 {
                call.timer = channel.eventLoop.scheduleTask(in: .milliseconds(Int64(clamping: timeout))) {
                    self.end(streamID, with: RPCError.deadlineExceeded("deadline of \(timeout) ms exceeded"), metadata: responseMetadata)
                }
            }
            state.calls[streamID] = call
        }
    }

    // MARK: Running calls

    private func run(_ handler: RPCRouter.Handler, payload: Data, context: RPCContext, metadata: [String: String]) async {
        let streamID = context.streamID
        var written: EventLoopFuture<Void>?
        switch handler {
        case .unary(let handle):
            do {
                let response = try await handle(payload, context)
                if markFinished(streamID) {
                    written = write(streamID, type: .response, payload: response, status: .ok, metadata: metadata)
                }
            } catch {
                if markFinished(streamID) {
                    written = write(streamID, type: .response, status: status(for: error, context), metadata: metadata)
                }
            }
        case .serverStream(let handle):
            let sink = RPCStreamSink { [self] message in
                guard isRunning(streamID) else { throw CancellationError() }
                try await write(streamID, type: .streamMessage, payload: message, status: nil, metadata: [:]).get()
            }
            var final = RPCStatus.ok
            do {
                try await handle(payload, context, sink)
            } catch {
                final = status(for: error, context)
            }
            if markFinished(streamID) {
                written = write(streamID, type: .streamEnd, status: final, metadata: metadata)
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
        write(streamID, type: ended.isStream ? .streamEnd : .response, status: error.status, metadata: metadata)
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
        var envelope = Envelope()
        envelope.streamID = 0
        envelope.type = .error
        envelope.status = status.proto
        try? await channel.writeAndFlush(envelope)
        try? await channel.close()
    }

    // MARK: Writing

    @discardableResult
    private func write(
        _ streamID: UInt32,
        type: StorePlatformFrameType,
        payload: Data = Data(),
        status: RPCStatus?,
        metadata: [String: String]
    ) -> EventLoopFuture<Void> {
        var envelope = Envelope()
        envelope.streamID = streamID
        envelope.type = type
        envelope.payload = payload
        if let status { envelope.status = status.proto }
        envelope.metadata = metadata
        return channel.writeAndFlush(envelope)
    }

    private func reply(to streamID: UInt32, type: StorePlatformFrameType, status: RPCStatus, metadata: [String: String]) {
        write(streamID, type: type, status: status, metadata: metadata)
    }

    private static func makeRequestID() -> String {
        let value = UInt64.random(in: 0...UInt64.max)
        let hex = String(value, radix: 16)
        return "req-" + String(repeating: "0", count: 16 - hex.count) + hex
    }
}
