import ControlPlane
import Hummingbird
import StoreCore
import Synchronization

/// The open Server-Sent Events streams, so a graceful shutdown can end them: an
/// event stream never finishes by itself, and the HTTP server waits for every
/// response to finish before it stops.
final class EventStreams: Sendable {
    private struct State {
        var next = 0
        var open: [Int: AsyncStream<ByteBuffer>.Continuation] = [:]
        var isShutDown = false
    }

    private let state = Mutex(State())

    /// Registers a stream's continuation; nil once shutdown has begun.
    func register(_ continuation: AsyncStream<ByteBuffer>.Continuation) -> Int? {
        state.withLock { state in
            guard !state.isShutDown else { return nil }
            state.next += 1
            state.open[state.next] = continuation
            return state.next
        }
    }

    func remove(_ id: Int) {
        _ = state.withLock { $0.open.removeValue(forKey: id) }
    }

    /// Ends every open stream and refuses new ones.
    func shutDown() {
        let open = state.withLock { state in
            state.isShutDown = true
            defer { state.open = [:] }
            return Array(state.open.values)
        }
        for continuation in open { continuation.finish() }
    }

    var count: Int { state.withLock { $0.open.count } }

    /// The body of a `text/event-stream` response: a `: connected` comment, the
    /// current state when a store was named, then one `event: store` per committed
    /// transition and a `: keep-alive` comment whenever `keepAlive` passes. Ends
    /// when the client goes away (the next write fails), at shutdown, or when the
    /// change stream ends.
    func body(current: StoreEvent?, changes: AsyncStream<StoreEvent>, keepAlive: Duration) -> ResponseBody {
        ResponseBody { writer in
            let (chunks, continuation) = AsyncStream<ByteBuffer>.makeStream(bufferingPolicy: .bufferingNewest(1000))
            guard let id = self.register(continuation) else {
                try await writer.finish(nil)
                return
            }
            defer { self.remove(id) }
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await event in changes { continuation.yield(Self.frame(event)) }
                    continuation.finish()
                }
                group.addTask {
                    while (try? await Task.sleep(for: keepAlive)) != nil {
                        continuation.yield(ByteBuffer(string: ": keep-alive\n\n"))
                    }
                }
                do {
                    try await writer.write(ByteBuffer(string: ": connected\n\n"))
                    if let current { try await writer.write(Self.frame(current)) }
                    for await chunk in chunks { try await writer.write(chunk) }
                } catch {
                    // The client went away; nothing to tell it.
                }
                group.cancelAll()
            }
            try? await writer.finish(nil)
        }
    }

    /// One event: `id:` is the audit row, so a client can tell events apart.
    static func frame(_ event: StoreEvent) -> ByteBuffer {
        var buffer = ByteBuffer(string: "id: \(event.auditID)\nevent: store\ndata: ")
        // A proto message of plain fields always encodes; the fallback keeps the
        // stream well-formed should that ever change.
        let json: [UInt8] = (try? event.proto.jsonUTF8Bytes()) ?? Array("{}".utf8)
        buffer.writeBytes(json)
        buffer.writeString("\n\n")
        return buffer
    }
}
