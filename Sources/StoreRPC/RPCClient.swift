import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import SwiftProtobuf
import Synchronization

/// An async client on one connection: many calls in flight at once, answers in
/// any order, server streams, cancellation (task cancellation sends CANCEL) and
/// deadlines. Safe to share between tasks.
public final class RPCClient: Sendable {
    /// The answer to a successful unary call.
    public struct Response: Sendable {
        public var payload: Data
        /// Response metadata; "request-id" is always there.
        public var metadata: [String: String]
    }

    public let endpoint: RPCEndpoint
    /// Over TLS: the daemon's certificate as "SUBJECT serial HEX valid until DATE".
    public let serverCertificate: String?
    private let channel: any Channel
    private let handler: NIOLoopBound<ClientHandler>
    private let defaultMetadata: [String: String]
    private let nextKey = Atomic<UInt64>(0)

    private init(
        endpoint: RPCEndpoint, channel: any Channel, handler: NIOLoopBound<ClientHandler>, metadata: [String: String],
        serverCertificate: String? = nil
    ) {
        self.endpoint = endpoint
        self.serverCertificate = serverCertificate
        self.channel = channel
        self.handler = handler
        self.defaultMetadata = metadata
    }

    /// Connects to a daemon. `metadata` goes on every call (for example
    /// `["authorization": "Bearer <token>"]`); `tls` makes a TCP connection speak
    /// TLS, and the connect waits for its handshake. Throws ``RPCError`` with
    /// UNAVAILABLE when nothing listens there or the handshake fails (the message
    /// says why: certificate not trusted or expired, client certificate wanted).
    public static func connect(
        to endpoint: RPCEndpoint,
        metadata: [String: String] = [:],
        tls: RPCClientTLS? = nil,
        maxFrameLength: Int = FrameDecoder.defaultMaxFrameLength,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> RPCClient {
        let bootstrap = ClientBootstrap(group: group).connectTimeout(.seconds(10))
        let tlsContext = try tls?.makeContext()
        let handshake = group.any().makePromise(of: NIOSSLCertificate?.self)
        let initializer: @Sendable (any Channel) -> EventLoopFuture<(any Channel, NIOLoopBound<ClientHandler>)> = { channel in
            channel.eventLoop.makeCompletedFuture {
                let handler = ClientHandler()
                let handlers = channel.pipeline.syncOperations
                if let tls, let tlsContext, case .tcp(let host, _) = endpoint {
                    try handlers.addHandler(NIOSSLClientHandler(context: tlsContext, serverHostname: tls.hostname(for: host)))
                    try handlers.addHandler(TLSHandshakeWaiter(done: handshake))
                }
                try handlers.addHandler(ByteToMessageHandler(FrameDecoder(maxFrameLength: maxFrameLength)))
                try handlers.addHandler(handler)
                return (channel, NIOLoopBound(handler, eventLoop: channel.eventLoop))
            }
        }
        do {
            let (channel, handler) =
                switch endpoint {
                case .unix(let path):
                    try await bootstrap.connect(unixDomainSocketPath: path, channelInitializer: initializer)
                case .tcp(let host, let port):
                    try await bootstrap.channelOption(.socketOption(.tcp_nodelay), value: 1)
                        .connect(host: host, port: port, channelInitializer: initializer)
                }
            var serverCertificate: String?
            if tls != nil {
                do {
                    serverCertificate = try await handshake.futureResult.get()?.summary
                } catch {
                    try? await channel.close()
                    throw error
                }
            } else {
                handshake.succeed(nil)
            }
            return RPCClient(endpoint: endpoint, channel: channel, handler: handler, metadata: metadata, serverCertificate: serverCertificate)
        } catch let error as RPCError {
            throw error
        } catch {
            handshake.fail(error)
            if let tls, "\(error)".contains("CERTIFICATE_VERIFY_FAILED"),
                let certificate = await serverCertificate(at: endpoint, tls: tls, group: group)
            {
                throw RPCError.unavailable("TLS handshake with \(endpoint) failed: \(TLSFailure.explainUntrusted(certificate, caFile: tls.caFile))")
            }
            if let explained = TLSFailure.explain(error) {
                throw RPCError.unavailable("TLS handshake with \(endpoint) failed: \(explained)")
            }
            throw RPCError.unavailable("cannot connect to \(endpoint): \(error)")
        }
    }

    /// The certificate a daemon presents, read without verifying it, to tell why
    /// verification failed.
    private static func serverCertificate(at endpoint: RPCEndpoint, tls: RPCClientTLS, group: any EventLoopGroup) async -> NIOSSLCertificate? {
        guard case .tcp(let host, let port) = endpoint, let context = try? tls.makeContext(verify: false) else { return nil }
        let handshake = group.any().makePromise(of: NIOSSLCertificate?.self)
        do {
            let channel = try await ClientBootstrap(group: group).connectTimeout(.seconds(10))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let handlers = channel.pipeline.syncOperations
                        try handlers.addHandler(NIOSSLClientHandler(context: context, serverHostname: tls.hostname(for: host)))
                        try handlers.addHandler(TLSHandshakeWaiter(done: handshake))
                    }
                }
                .connect(host: host, port: port).get()
            let certificate = try? await handshake.futureResult.get()
            try? await channel.close()
            return certificate
        } catch {
            handshake.fail(error)
            return nil
        }
    }

    /// Closes the connection; calls still waiting fail with UNAVAILABLE.
    public func close() async {
        try? await channel.close()
    }

    // MARK: Unary

    /// Calls a unary method: the request and the response have its types.
    public func unary<Request: Message, Response: Message>(
        _ method: RPCMethod<Request, Response>,
        _ request: Request,
        metadata: [String: String] = [:],
        timeout: Duration? = nil
    ) async throws -> Response {
        let response = try await exchange(method.name, payload: RPCRouter.encode(request), metadata: metadata, timeout: timeout)
        do {
            return try Response(serializedBytes: ProtobufBytes(response.payload))
        } catch {
            throw RPCError(code: .internal, errorCode: "MALFORMED_RESPONSE", message: "response is not a valid \(Response.protoMessageName): \(error)")
        }
    }

    /// Calls a unary method with raw payload bytes. Throws ``RPCError`` carrying
    /// the server's status when the call fails.
    public func call(
        _ method: String,
        payload: Data,
        metadata: [String: String] = [:],
        timeout: Duration? = nil
    ) async throws -> Response {
        let response = try await exchange(method, payload: ByteBuffer(bytes: payload), metadata: metadata, timeout: timeout)
        return Response(payload: Data(response.payload.readableBytesView), metadata: response.metadata)
    }

    /// One unary call: its answer when the status is OK.
    private func exchange(
        _ method: String,
        payload: ByteBuffer,
        metadata: [String: String],
        timeout: Duration?
    ) async throws -> WireEnvelope {
        let key = nextKey.add(1, ordering: .relaxed).newValue
        let request = makeRequest(method, payload: payload, metadata: metadata, timeout: timeout)
        let promise = channel.eventLoop.makePromise(of: WireEnvelope.self)
        let timer = timeout.map { scheduleLocalDeadline(key: key, after: $0) }
        defer { timer?.cancel() }
        let envelope = try await withTaskCancellationHandler {
            onLoop { $0.start(key: key, request: request, pending: .unary(promise)) }
            defer { onLoop { $0.finished(key: key) } }
            return try await promise.futureResult.get()
        } onCancel: {
            onLoop { $0.cancel(key: key, with: RPCError.cancelled("the call was cancelled")) }
        }
        let status = envelope.statusOrOK
        guard status.code == .ok else {
            throw RPCError(status, metadata: envelope.metadata)
        }
        return envelope
    }

    // MARK: Server streams

    /// Calls a server-streaming method. The returned sequence yields each message
    /// and ends when the server ends the stream (throwing its status if not OK).
    /// Cancelling the consuming task, or dropping the sequence, sends CANCEL.
    public func serverStream<Request: Message, Response: Message>(
        _ method: RPCStreamMethod<Request, Response>,
        _ request: Request,
        metadata: [String: String] = [:],
        timeout: Duration? = nil
    ) throws -> RPCResponseStream<Response> {
        let key = nextKey.add(1, ordering: .relaxed).newValue
        let envelope = makeRequest(method.name, payload: try RPCRouter.encode(request), metadata: metadata, timeout: timeout)
        let (stream, continuation) = AsyncThrowingStream<WireEnvelope, any Error>.makeStream()
        let timer = timeout.map { scheduleLocalDeadline(key: key, after: $0) }
        continuation.onTermination = { [self] reason in
            timer?.cancel()
            if case .cancelled = reason {
                onLoop { $0.cancel(key: key, with: RPCError.cancelled("the stream was cancelled")) }
            } else {
                onLoop { $0.finished(key: key) }
            }
        }
        onLoop { $0.start(key: key, request: envelope, pending: .stream(continuation)) }
        return RPCResponseStream(envelopes: stream)
    }

    // MARK: Helpers

    private func makeRequest(_ method: String, payload: ByteBuffer, metadata: [String: String], timeout: Duration?) -> WireEnvelope {
        var request = WireEnvelope()
        request.type = .request
        request.method = method
        request.payload = payload
        request.metadata = defaultMetadata.merging(metadata) { _, call in call }
        if let timeout {
            let (seconds, attoseconds) = timeout.components
            request.timeoutMs = UInt64(max(1, seconds * 1000 + attoseconds / 1_000_000_000_000_000))
        }
        return request
    }

    /// A local backstop for deadlines, a little after the server's own, for a
    /// server that does not answer at all.
    private func scheduleLocalDeadline(key: UInt64, after timeout: Duration) -> Scheduled<Void> {
        let (seconds, attoseconds) = timeout.components
        let nanoseconds = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        let handler = self.handler
        return channel.eventLoop.scheduleTask(in: .nanoseconds(nanoseconds) + .milliseconds(200)) {
            handler.value.cancel(key: key, with: RPCError.deadlineExceeded("no answer within the deadline of \(timeout)"))
        }
    }

    private func onLoop(_ body: @escaping @Sendable (ClientHandler) -> Void) {
        let handler = self.handler
        if channel.eventLoop.inEventLoop {
            body(handler.value)
        } else {
            channel.eventLoop.execute { body(handler.value) }
        }
    }
}

/// The messages of one server stream, decoded.
public struct RPCResponseStream<Message: SwiftProtobuf.Message>: AsyncSequence, Sendable {
    public typealias Element = Message
    let envelopes: AsyncThrowingStream<WireEnvelope, any Error>

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncThrowingStream<WireEnvelope, any Error>.AsyncIterator

        public mutating func next() async throws -> Message? {
            guard let envelope = try await base.next() else { return nil }
            do {
                return try Message(serializedBytes: ProtobufBytes(envelope.payload))
            } catch {
                throw RPCError(code: .internal, errorCode: "MALFORMED_RESPONSE", message: "stream message is not a valid \(Message.protoMessageName): \(error)")
            }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: envelopes.makeAsyncIterator())
    }
}
