import Logging
import NIOCore

/// One accepted connection as the server's async side holds it. The calls'
/// state lives on the event loop, in ``ServerConnectionHandler``; this class runs
/// each admitted call as a task on that loop and hands everything back to the
/// handler there: the task itself, a unary answer, a stream's messages and its
/// end, draining, and the final cancellation when the connection goes.
final class ServerConnection: Sendable {
    typealias AdmittedCall = ServerConnectionHandler.AdmittedCall

    let channel: any Channel
    /// Why the connection may not stay (its listener is full): set when it was
    /// accepted; its frames are then ignored and it is closed with this status.
    let refusal: RPCStatus?
    /// The peer as accepted, for when the handler is gone.
    private let acceptedPeer: RPCPeer
    private let handler: NIOLoopBound<ServerConnectionHandler>
    /// Where the calls' tasks run: this connection's event loop.
    private let executor: EventLoopTaskExecutor

    /// Made on the channel's event loop, with the handler it hands calls back to.
    init(refusal: RPCStatus?, channel: any Channel, peer: RPCPeer, handler: ServerConnectionHandler) {
        self.refusal = refusal
        self.channel = channel
        self.acceptedPeer = peer
        self.handler = NIOLoopBound(handler, eventLoop: channel.eventLoop)
        self.executor = EventLoopTaskExecutor(loop: channel.eventLoop)
    }

    /// Records the subject of the client's verified TLS certificate, on the event
    /// loop once the handshake is done (before any request is read).
    func recordCertificateSubject(_ subject: String) {
        handler.value.recordCertificateSubject(subject)
    }

    /// Who is on the other end, the certificate subject included (for the log):
    /// the handler's record of it, read on the loop.
    func peer() async -> RPCPeer {
        (try? await channel.eventLoop.submit { self.handler.value.peer }.get()) ?? acceptedPeer
    }

    // MARK: Running calls

    /// Starts the task of an admitted call. The handler cancels it at once when
    /// the call already ended (cancelled or past its deadline before it got here).
    func start(_ call: AdmittedCall) {
        let task = Task(executorPreference: executor) {
            await self.run(call)
        }
        onLoop { $0.attach(task, to: call.context.streamID) }
    }

    private func run(_ call: AdmittedCall) async {
        switch call.handler {
        case .inline(let handle):
            let result = Result { try handle(call.payload, call.context) }
            onLoop { $0.finish(call.context, result) }
        case .inlineRequestOnly(let answer):
            let result = Result { try answer(call.payload) }
            onLoop { $0.finish(call.context, result) }
        case .unary(let handle):
            let result: Result<ByteBuffer, any Error>
            do {
                result = .success(try await handle(call.payload, call.context))
            } catch {
                result = .failure(error)
            }
            onLoop { $0.finish(call.context, result) }
        case .serverStream(let handle):
            let streamID = call.context.streamID
            let sink = RPCStreamSink { [self] message in
                try await send(message, on: streamID)
            }
            var failure: (any Error)?
            do {
                try await handle(call.payload, call.context, sink)
            } catch {
                failure = error
            }
            onLoop { [failure] in $0.finishStream(call.context, error: failure) }
        }
    }

    /// Writes one message of a running stream and waits until it is written
    /// (backpressure); throws `CancellationError` once the call is over.
    private func send(_ message: ByteBuffer, on streamID: UInt32) async throws {
        let loop = channel.eventLoop
        let written =
            loop.inEventLoop
            ? handler.value.send(message, on: streamID)
            : try await loop.submit { self.handler.value.send(message, on: streamID) }.get()
        guard let written else { throw CancellationError() }
        try await written.get()
    }

    /// Runs `body` with the handler on the event loop: at once when already there
    /// (a call's task runs on its connection's loop), else as the loop's next job.
    private func onLoop(_ body: @escaping @Sendable (ServerConnectionHandler) -> Void) {
        let loop = channel.eventLoop
        if loop.inEventLoop {
            body(handler.value)
        } else {
            loop.execute { body(self.handler.value) }
        }
    }

    // MARK: Connection lifetime

    /// Stops admitting calls; closes the connection once running calls finish.
    func drain() {
        onLoop { $0.drain() }
    }

    /// Cancels every running call and waits until each handler has returned, so
    /// nothing of this connection outlives it.
    func cancelAllAndWait() async {
        let tasks = (try? await channel.eventLoop.submit { self.handler.value.endAll() }.get()) ?? []
        for task in tasks {
            await task.value
        }
    }

    /// Sends a connection-level ERROR frame on stream 0, then closes: its own
    /// side first, so the client reads the frame and then the end of the stream;
    /// the connection ends when the client closes too, or after
    /// ``lingerAfterError``. Closing outright while the client's last bytes are
    /// still unread would reset the connection (TCP and Unix sockets alike), and a
    /// reset can destroy the ERROR frame before the client reads it.
    func fail(with status: RPCStatus) async {
        let frame = WireEnvelope.frame(streamID: 0, type: .error, status: status, allocator: channel.allocator)
        try? await channel.writeAndFlush(frame)
        let channel = channel
        do {
            try await channel.close(mode: .output)
            let deadline = channel.eventLoop.scheduleTask(in: Self.lingerAfterError) { channel.close(promise: nil) }
            try? await channel.closeFuture.get()
            deadline.cancel()
        } catch {
            // A transport that cannot close one side (TLS may not) closes both.
            try? await channel.close()
        }
    }

    /// How long a connection that was sent an ERROR frame waits for its client
    /// to close.
    static let lingerAfterError = TimeAmount.seconds(2)
}
