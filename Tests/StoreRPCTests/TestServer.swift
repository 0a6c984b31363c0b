import Foundation
import Logging
import NIOCore
import ProcessTestSupport
import RPCTestSupport
import StorePlatformProto
import Synchronization
import Testing

@testable import StoreRPC

typealias Request = Storeplatform_V1_GetStoreRequest
typealias Reply = Storeplatform_V1_Store

/// Counters the test handlers keep, so tests can see what happened inside the server.
final class Probe: Sendable {
    let started = Atomic<Int>(0)
    let cancelled = Atomic<Int>(0)
    let activeStreams = Atomic<Int>(0)
}

enum TestMethod {
    static let echo = RPCMethod<Request, Reply>("/test.v1.Test/Echo")
    static let inlineEcho = RPCMethod<Request, Reply>("/test.v1.Test/InlineEcho")
    static let slow = RPCMethod<Request, Reply>("/test.v1.Test/Slow")
    static let peer = RPCMethod<Request, Reply>("/test.v1.Test/Peer")
    static let ticks = RPCStreamMethod<Request, Reply>("/test.v1.Test/Ticks")
    static let fail = RPCMethod<Request, Reply>("/test.v1.Test/Fail")
}

/// A server on a fresh temp Unix socket and an ephemeral TCP port, with test methods:
/// Echo and InlineEcho (id back as the store id; request id as the name), Slow (sleeps `id` milliseconds, noticing
/// cancellation), Peer (caller's identity), Admin (admin-only), Ticks (a stream
/// until cancelled), Fail (throws a non-RPC error).
struct TestServer {
    let server: RPCServer
    let probe: Probe
    let directory: String
    let runTask: Task<Void, any Error>

    var socketPath: String { server.unixSocketPath! }
    var unix: RPCEndpoint { .unix(path: socketPath) }
    var tcp: RPCEndpoint { .tcp(host: "127.0.0.1", port: server.tcpPort!) }

    static func makeDirectory() throws -> String {
        try makeTemporaryDirectory("sprpc")
    }

    /// - Parameter metadataCheck: the router's check of every request's metadata, if any.
    static func start(
        directory: String? = nil,
        configure: (inout RPCServerConfiguration) -> Void = { _ in },
        metadataCheck: (@Sendable ([String: String]) throws -> Void)? = nil
    ) async throws -> TestServer {
        let directory = try directory ?? makeDirectory()
        let probe = Probe()
        var configuration = RPCServerConfiguration(
            unixSocket: .init(path: directory + "/run/test.sock"),
            tcp: .init(port: 0)
        )
        configure(&configuration)
        let server = try await RPCServer.bind(
            configuration: configuration,
            router: {
                var router = makeRouter(probe)
                if let metadataCheck { router.checkMetadata(metadataCheck) }
                return router
            }(),
            logger: Logger(label: "test-server")
        )
        let runTask = Task { try await server.run() }
        return TestServer(server: server, probe: probe, directory: directory, runTask: runTask)
    }

    /// Graceful shutdown, waiting until `run()` returned.
    func stop() async throws {
        server.shutdown()
        try await runTask.value
        try? FileManager.default.removeItem(atPath: directory)
    }

    static func makeRouter(_ probe: Probe) -> RPCRouter {
        var router = RPCRouter()
        router.unary(TestMethod.echo) { (request: Request, context: RPCContext) in
            var reply = Reply()
            reply.id = request.id
            reply.name = context.requestID
            return reply
        }
        router.inline(TestMethod.inlineEcho) { (request: Request, context: RPCContext) in
            var reply = Reply()
            reply.id = request.id
            reply.name = context.requestID
            return reply
        }
        router.unary(TestMethod.slow) { (request: Request, _: RPCContext) in
            probe.started.add(1, ordering: .relaxed)
            do {
                try await Task.sleep(for: .milliseconds(Int(request.id) ?? 0))
            } catch {
                probe.cancelled.add(1, ordering: .relaxed)
                throw error
            }
            var reply = Reply()
            reply.id = request.id
            return reply
        }
        router.unary(TestMethod.peer) { (_: Request, context: RPCContext) in
            var reply = Reply()
            reply.name = context.identity
            reply.namespace = context.peer.transport.rawValue
            reply.attempts = context.peer.uid ?? 999_999
            reply.createdAtMs = Int64(context.peer.pid ?? -1)
            reply.updatedAtMs = Int64(context.peer.gid ?? 999_999)
            return reply
        }
        router.unary(TestMethod.fail) { (_: Request, _: RPCContext) -> Reply in
            struct Boom: Error {}
            throw Boom()
        }
        router.serverStream(TestMethod.ticks) { (request: Request, _: RPCContext, writer: RPCStreamWriter<Reply>) in
            probe.activeStreams.add(1, ordering: .relaxed)
            defer { probe.activeStreams.subtract(1, ordering: .relaxed) }
            let limit = Int(request.id) ?? Int.max
            var tick = 0
            do {
                while tick < limit {
                    var reply = Reply()
                    reply.attempts = UInt32(tick)
                    try await writer.send(reply)
                    tick += 1
                    try await Task.sleep(for: .milliseconds(5))
                }
            } catch {
                probe.cancelled.add(1, ordering: .relaxed)
                throw error
            }
        }
        return router
    }
}

func request(_ id: String) -> Request {
    var request = Request()
    request.id = id
    return request
}

/// Waits for `condition` with a generous bound (never asserts speed).
func eventually(_ what: Comment, within: Duration = .seconds(10), _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + within
    while !condition() {
        if ContinuousClock.now > deadline {
            Issue.record("timed out waiting: \(what)")
            return
        }
        try await Task.sleep(for: .milliseconds(10))
    }
}

/// A raw connection for the cases a real client never sends. Its blocking reads
/// run on a thread of their own, never on the concurrency pool that the in-process
/// server's handlers need (Dispatch's global queues share threads with that pool).
///
/// `@unchecked Sendable`: each test uses its connection from one task, one call
/// at a time; the socket is never touched concurrently.
final class RawConnection: @unchecked Sendable {
    let socket: BlockingFrameSocket

    init(_ endpoint: RPCEndpoint) throws {
        socket = try BlockingFrameSocket(connectingTo: endpoint)
    }

    func send(_ envelope: Envelope) throws {
        try socket.sendFrame(envelope.serializedBytes())
    }

    func send(bytes: [UInt8]) throws {
        try socket.send(bytes)
    }

    func sendFrame(_ body: [UInt8]) throws {
        try socket.sendFrame(body)
    }

    func receive() async throws -> Envelope? {
        try await offPool { try self.socket.receiveFrame().map { try Envelope(serializedBytes: $0) } }
    }

    func isClosedByPeer() async throws -> Bool {
        try await offPool { try self.socket.isClosedByPeer() }
    }

    private func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
        }
    }
}

func requestEnvelope(stream: UInt32, method: some CustomStringConvertible, payload: [UInt8]? = nil, id: String = "x") throws -> Envelope {
    var envelope = Envelope()
    envelope.streamID = stream
    envelope.type = .request
    envelope.method = "\(method)"
    envelope.payload = try payload.map { Data($0) } ?? request(id).serializedData()
    return envelope
}
