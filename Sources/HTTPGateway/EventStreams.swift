import ControlPlane
import Hummingbird
import StoreCore
import StorePlatformProto
import Synchronization

/// The open Server-Sent Events streams, so a graceful shutdown can end them: an
/// event stream never finishes by itself, and the HTTP server waits for every
/// response to finish before it stops.
final class EventStreams: Sendable {
    private struct State {
        var next = 0
        /// What ends each open stream.
        var open: [Int: @Sendable () -> Void] = [:]
        var isShutDown = false
    }

    private let state = Mutex(State())

    /// Registers a stream's continuation; nil once shutdown has begun.
    func register(_ continuation: AsyncStream<Chunk>.Continuation) -> Int? {
        register(finish: { continuation.finish() })
    }

    /// Registers what ends a stream at shutdown; nil once shutdown has begun.
    func register(finish: @escaping @Sendable () -> Void) -> Int? {
        state.withLock { state in
            guard !state.isShutDown else { return nil }
            state.next += 1
            state.open[state.next] = finish
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
        for finish in open { finish() }
    }

    var count: Int { state.withLock { $0.open.count } }

    /// What a stream queues for its client: a live event, or a keep-alive comment.
    enum Chunk: Sendable {
        case event(StoreEvent)
        case keepAlive
    }

    /// Chunks (events and keep-alives) one stream holds for a client that does not
    /// read; past them the client has fallen behind.
    static let chunkLimit = 64

    /// The kernel send buffer of a connection that becomes an event stream. A
    /// stream is long-lived and sends little at a time; left to itself the kernel
    /// grows a stalled client's buffer to megabytes, which would hold thousands of
    /// events for it outside every bound here. With this, a client that stops
    /// reading fills it, then the stream's queue, and is told it fell behind.
    static let sendBufferBytes = 64 * 1024

    /// The body of a `text/event-stream` response: a `: connected` comment, the
    /// events a reconnecting client missed (the watch's replay, read page by page),
    /// the current state when a store was named, then one `event: store` per
    /// committed transition and a `: keep-alive` comment whenever `keepAlive`
    /// passes. A client that stops reading gets at most ``chunkLimit`` chunks
    /// queued; past that, or when the bus had to stop feeding it, the stream ends
    /// with `event: behind` naming the last event id it was sent, and the client
    /// reconnects with that `Last-Event-ID` (or `?after=`, see
    /// `GatewayResponder.watchRequest`) to catch up. Ends also when the client
    /// goes away (the next write fails) and at shutdown.
    /// A partial replay (the client missed more than one replay holds) ends with
    /// `event: behind` right after it, so the client comes back for the rest
    /// instead of skipping it.
    func body(_ watch: StoreWatch, keepAlive: Duration) -> ResponseBody {
        ResponseBody { writer in
            let (chunks, continuation) = AsyncStream<Chunk>.makeStream(bufferingPolicy: .bufferingOldest(Self.chunkLimit))
            guard let id = self.register(continuation) else {
                try await writer.finish(nil)
                return
            }
            defer { self.remove(id) }
            let dropped = DroppedMark()
            let changes = watch.changes
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await event in changes.events {
                        if case .dropped = continuation.yield(.event(event)) {
                            dropped.set()
                            break
                        }
                    }
                    continuation.finish()
                }
                group.addTask {
                    while (try? await Task.sleep(for: keepAlive)) != nil {
                        continuation.yield(.keepAlive)
                    }
                }
                // The last event id the client was sent: live events the replay
                // already sent are skipped by it, and a stream that fell behind names it.
                var last = watch.resumedAfter
                do {
                    try await writer.write(ByteBuffer(string: ": connected\n\n"))
                    let replayed = try await watch.replay { try await writer.write(Self.frame($0)) }
                    last = replayed.lastAuditID
                    if replayed.isPartial {
                        try await writer.write(Self.behindFrame(last))
                    } else {
                        if let current = watch.current { try await writer.write(Self.frame(current)) }
                        for await chunk in chunks {
                            switch chunk {
                            case .keepAlive:
                                try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                            case .event(let event) where watch.sends(event, after: last):
                                try await writer.write(Self.frame(event))
                                if event.action != .progress { last = event.auditID }
                            case .event:
                                continue
                            }
                        }
                        if dropped.isSet || changes.fellBehind {
                            try await writer.write(Self.behindFrame(last))
                        }
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

    /// One event: `id:` is the audit row, so a client can tell events apart. A
    /// progress event has none (it is not in the audit log), so a client's last
    /// event id stays its last transition's.
    static func frame(_ event: StoreEvent) -> ByteBuffer {
        var buffer = ByteBuffer(string: event.action == .progress ? "event: store\ndata: " : "id: \(event.auditID)\nevent: store\ndata: ")
        // A proto message of plain fields always encodes; the fallback keeps the
        // stream well-formed should that ever change.
        let json: [UInt8] = (try? APIJSON.encode(event.proto)) ?? Array("{}".utf8)
        buffer.writeBytes(json)
        buffer.writeString("\n\n")
        return buffer
    }
}

extension EventStreams {
    /// What a fleet upgrade's stream queues for its client.
    private enum FleetChunk: Sendable {
        case fleet(Storeplatform_V1_FleetUpgrade)
        case failure(PlatformError)
        case keepAlive
    }

    /// Chunks one fleet upgrade's stream holds for a client that does not read; past
    /// them the oldest are dropped. Each event is the whole fleet upgrade, so a slow
    /// client misses states in between, never the newest (and the last of all, the
    /// ended one, is never followed by anything that could push it out).
    static let fleetChunkLimit = 8

    /// The body of a fleet upgrade's `text/event-stream`: a `: connected` comment, then
    /// one `event: fleet-upgrade` holding the whole fleet upgrade (``APIJSON``) now and
    /// at each change `watch` reports (WatchFleetUpgrade), and a `: keep-alive` comment
    /// whenever `keepAlive` passes. Ends once the fleet upgrade has ended and that was
    /// sent, when the client goes away, and at shutdown; a watch refused midway (the
    /// rate limit, the database) ends with `event: refused` and the error's body (not
    /// `event: error`, which an EventSource would take for its own connection error).
    func body(
        fleetUpgrade watch: @escaping @Sendable (_ send: (Storeplatform_V1_FleetUpgrade) async throws -> Void) async throws -> Void,
        keepAlive: Duration
    ) -> ResponseBody {
        ResponseBody { writer in
            let (chunks, continuation) = AsyncStream<FleetChunk>.makeStream(bufferingPolicy: .bufferingNewest(Self.fleetChunkLimit))
            guard let id = self.register(finish: { continuation.finish() }) else {
                try await writer.finish(nil)
                return
            }
            defer { self.remove(id) }
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    do {
                        try await watch { fleet in _ = continuation.yield(.fleet(fleet)) }
                    } catch let error as PlatformError {
                        continuation.yield(.failure(error))
                    } catch {
                        // Cancelled: the client went away, or shutdown.
                    }
                    continuation.finish()
                }
                group.addTask {
                    while (try? await Task.sleep(for: keepAlive)) != nil {
                        continuation.yield(.keepAlive)
                    }
                }
                do {
                    try await writer.write(ByteBuffer(string: ": connected\n\n"))
                    for await chunk in chunks {
                        switch chunk {
                        case .keepAlive: try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                        case .fleet(let fleet): try await writer.write(Self.fleetFrame(fleet))
                        case .failure(let error):
                            var frame = ByteBuffer(string: "event: refused\ndata: ")
                            frame.writeImmutableBuffer(GatewayError(error).body)
                            frame.writeString("\n\n")
                            try await writer.write(frame)
                        }
                    }
                } catch {
                    // The client went away; nothing to tell it.
                }
                group.cancelAll()
            }
            try? await writer.finish(nil)
        }
    }

    /// One state of a fleet upgrade: `event: fleet-upgrade` and its JSON on one line.
    static func fleetFrame(_ fleet: Storeplatform_V1_FleetUpgrade) -> ByteBuffer {
        var buffer = ByteBuffer(string: "event: fleet-upgrade\ndata: ")
        // A proto message of plain fields always encodes; the fallback keeps the
        // stream well-formed should that ever change.
        buffer.writeBytes((try? APIJSON.encode(fleet)) ?? Array("{}".utf8))
        buffer.writeString("\n\n")
        return buffer
    }
}

/// Set when a stream's queue was full and an event had to be dropped: its client
/// fell behind.
private final class DroppedMark: Sendable {
    private let value = Atomic<Bool>(false)

    func set() { value.store(true, ordering: .relaxed) }

    var isSet: Bool { value.load(ordering: .relaxed) }
}
