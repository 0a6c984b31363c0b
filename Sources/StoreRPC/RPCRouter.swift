import NIOCore
import SwiftProtobuf

/// The method table: full method name → handler. Who may call what is not the
/// transport's business: handlers get the caller's identity (``RPCContext/identity``)
/// and decide. Handlers are typed; the router decodes requests and encodes responses, so a
/// payload that does not parse is answered INVALID_ARGUMENT before any handler runs.
public struct RPCRouter: Sendable {
    enum Handler: Sendable {
        case inline(@Sendable (ByteBuffer, RPCContext) throws -> ByteBuffer)
        /// An inline method whose answer depends on its request alone: no call
        /// context is made for it.
        case inlineRequestOnly(@Sendable (ByteBuffer) throws -> ByteBuffer)
        case unary(@Sendable (ByteBuffer, RPCContext) async throws -> ByteBuffer)
        case serverStream(@Sendable (ByteBuffer, RPCContext, RPCStreamSink) async throws -> Void)
    }

    struct Route: Sendable {
        var handler: Handler
    }

    private(set) var routes: [String: Route] = [:]
    /// Run on every REQUEST's metadata before its call is admitted; see ``checkMetadata(_:)``.
    private(set) var metadataCheck: (@Sendable ([String: String]) throws -> Void)?

    public init() {}

    /// Sets the check every REQUEST's metadata must pass, whatever its method, before
    /// the call is admitted. The check runs on the event loop, so it must be cheap and
    /// never block. What it throws refuses that call alone (its status when it is
    /// ``RPCStatusConvertible``, INVALID_ARGUMENT otherwise); the connection stays up.
    /// Its answer must depend on the metadata alone: a connection checks empty
    /// metadata, what most requests carry, once and reuses the answer.
    public mutating func checkMetadata(_ check: @escaping @Sendable ([String: String]) throws -> Void) {
        metadataCheck = check
    }

    /// Registers a unary method. Registering the same name twice is a programming error.
    public mutating func unary<Request: Message, Response: Message>(
        _ method: RPCMethod<Request, Response>,
        _ handler: @escaping @Sendable (Request, RPCContext) async throws -> Response
    ) {
        add(method.name, Route(handler: .unary { payload, context in
            let request = try Self.decode(Request.self, payload)
            return try await Self.encode(handler(request, context))
        }))
    }

    /// Registers a unary method answered inline, on the connection's event loop,
    /// as soon as its frame is read: no task, no thread hop, flushed with the
    /// other answers of the same read. Only for handlers that never block and
    /// finish in microseconds (Health); everything else uses ``unary(_:_:)``.
    public mutating func inline<Request: Message, Response: Message>(
        _ method: RPCMethod<Request, Response>,
        _ handler: @escaping @Sendable (Request, RPCContext) throws -> Response
    ) {
        add(method.name, Route(handler: .inline { payload, context in
            let request = try Self.decode(Request.self, payload)
            return try Self.encode(handler(request, context))
        }))
    }

    /// ``inline(_:_:)`` for a handler that answers with its `Response` already
    /// serialized (a pre-encoded answer, as Health's is), from the request alone:
    /// the bytes are sent as they are, and no call context is made for it.
    public mutating func inline<Request: Message, Response: Message>(
        _ method: RPCMethod<Request, Response>,
        encoded handler: @escaping @Sendable (Request) throws -> ByteBuffer
    ) {
        add(method.name, Route(handler: .inlineRequestOnly { payload in
            try handler(Self.decode(Request.self, payload))
        }))
    }

    /// Registers a server-streaming method: the handler sends messages through the
    /// writer and returns (STREAM_END OK) or throws (STREAM_END with its status).
    public mutating func serverStream<Request: Message, Response: Message>(
        _ method: RPCStreamMethod<Request, Response>,
        _ handler: @escaping @Sendable (Request, RPCContext, RPCStreamWriter<Response>) async throws -> Void
    ) {
        add(method.name, Route(handler: .serverStream { payload, context, sink in
            let request = try Self.decode(Request.self, payload)
            try await handler(request, context, RPCStreamWriter(sink: sink))
        }))
    }

    private mutating func add(_ method: String, _ route: Route) {
        precondition(routes[method] == nil, "method \(method) registered twice")
        routes[method] = route
    }

    func route(for method: String) -> Route? {
        routes[method]
    }

    private static func decode<Request: Message>(_ type: Request.Type, _ payload: ByteBuffer) throws -> Request {
        if payload.readableBytes == 0 { return Request() }
        do {
            return try Request(serializedBytes: ProtobufBytes(payload))
        } catch {
            throw RPCError.invalidArgument("payload is not a valid \(Request.protoMessageName): \(error)")
        }
    }

    /// A message serialized straight into a `ByteBuffer`.
    static func encode(_ message: some Message) throws -> ByteBuffer {
        let bytes: ProtobufBytes = try message.serializedBytes()
        return bytes.buffer
    }
}

/// Sends serialized stream messages of one call; see ``RPCStreamWriter``.
struct RPCStreamSink: Sendable {
    let send: @Sendable (ByteBuffer) async throws -> Void
}

/// Sends the messages of one server stream, in order. `send` waits while the
/// connection cannot take more (backpressure) and throws `CancellationError`
/// once the call is over (cancelled, past its deadline, or disconnected).
public struct RPCStreamWriter<Message: SwiftProtobuf.Message>: Sendable {
    let sink: RPCStreamSink

    public func send(_ message: Message) async throws {
        try await sink.send(RPCRouter.encode(message))
    }
}
