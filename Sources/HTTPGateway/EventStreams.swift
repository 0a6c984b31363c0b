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

    /// Chunks (events and keep-alives) one stream holds for a client that does not
    /// read; past them the client has fallen behind.
    static let chunkLimit = 64

    /// The body of a `text/event-stream` response: a `: connected` comment, the
    /// events a reconnecting client missed (`replay`), the current state when a
    /// store was named, then one `event: store` per committed transition and a
    /// `: keep-alive` comment whenever `keepAlive` passes. A client that stops
    /// reading gets at most ``chunkLimit`` chunks queued; past that, or when the
    /// bus had to stop feeding it, the stream ends with `event: behind` naming
    /// the last event id it was sent, and the client reconnects with that
    /// `Last-Event-ID` (or `?after=`, see `GatewayResponder.watchRequest`) to catch up. Ends also when the client goes away (the
    /// next write fails) and at shutdown.
    /// A partial replay (the client missed more than one replay holds) ends with
    /// `event: behind` right after it, so the client comes back for the rest
    /// instead of skipping it.
    func body(_ watch: StoreWatch, keepAlive: Duration) -> ResponseBody {
        ResponseBody { writer in
            let (chunks, continuation) = AsyncStream<ByteBuffer>.makeStream(bufferingPolicy: .bufferingOldest(Self.chunkLimit))
            guard let id = self.register(continuation) else {
                try await writer.finish(nil)
                return
            }
            defer { self.remove(id) }
            let behind = BehindMark()
            let changes = watch.changes
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    var last = watch.replayedUpTo
                    for await event in changes.events where watch.isNew(event) {
                        if case .dropped = continuation.yield(Self.frame(event)) {
                            behind.set(last)
                            break
                        }
                        last = event.auditID
                    }
                    if changes.fellBehind { behind.set(last) }
                    continuation.finish()
                }
                group.addTask {
                    while (try? await Task.sleep(for: keepAlive)) != nil {
                        continuation.yield(ByteBuffer(string: ": keep-alive\n\n"))
                    }
                }
                do {
                    try await writer.write(ByteBuffer(string: ": connected\n\n"))
                    for event in watch.replay { try await writer.write(Self.frame(event)) }
                    if watch.replayIsPartial {
                        try await writer.write(Self.behindFrame(watch.replayedUpTo))
                    } else {
                        if let current = watch.current { try await writer.write(Self.frame(current)) }
                        for await chunk in chunks { try await writer.write(chunk) }
                        if let last = behind.lastEventID { try await writer.write(Self.behindFrame(last)) }
                    }
                } catch {
                    // The client went away; nothing to tell it.
                }
                group.cancelAll()
            }
            try? await writer.finish(nil)
        }
    }

    /// The end of a stream whose client fell behind: the last event id it was sent
    /// (the client reconnects with it as `Last-Event-ID` or `?after=`), and a second before it does.
    static func behindFrame(_ lastEventID: Int64) -> ByteBuffer {
        ByteBuffer(
            string: "retry: 1000\nevent: behind\ndata: {\"lastEventId\":\"\(lastEventID)\",\"message\":\"this stream fell behind and ended; reconnect with Last-Event-ID \(lastEventID) (or to /api/events?after=\(lastEventID)) to receive what followed\"}\n\n"
        )
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

/// Where a stream's client fell behind: the last event id it was sent, once known.
private final class BehindMark: Sendable {
    private let value = Atomic<Int64>(-1)

    /// Keeps the first id set: the point where the client stopped getting events.
    func set(_ lastEventID: Int64) {
        _ = value.compareExchange(expected: -1, desired: lastEventID, ordering: .relaxed)
    }

    var lastEventID: Int64? {
        let last = value.load(ordering: .relaxed)
        return last < 0 ? nil : last
    }
}
