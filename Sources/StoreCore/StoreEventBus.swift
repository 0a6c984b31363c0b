import Synchronization

/// Fans committed store transitions out to watchers (WatchStores, the HTTP event
/// stream). Publishers call ``publish(_:)`` only after the transition's
/// transaction committed. Each subscriber has its own bounded buffer: a watcher
/// that falls more than `bufferLimit` events behind loses the oldest ones rather
/// than growing the daemon's memory.
public final class StoreEventBus: Sendable {
    private struct Subscriber {
        var storeID: String?
        var continuation: AsyncStream<StoreEvent>.Continuation
    }

    private let subscribers = Mutex<(next: UInt64, all: [UInt64: Subscriber])>((0, [:]))
    private let bufferLimit: Int

    public init(bufferLimit: Int = 1000) {
        self.bufferLimit = bufferLimit
    }

    /// Events from now on, optionally only those of one store. The stream ends
    /// when the consumer stops iterating (or its task is cancelled).
    public func subscribe(storeID: String? = nil) -> AsyncStream<StoreEvent> {
        let (stream, continuation) = AsyncStream<StoreEvent>.makeStream(bufferingPolicy: .bufferingNewest(bufferLimit))
        let id = subscribers.withLock { state in
            state.next += 1
            state.all[state.next] = Subscriber(storeID: storeID, continuation: continuation)
            return state.next
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.all.removeValue(forKey: id) }
        }
        return stream
    }

    /// Delivers `event` to every matching subscriber. Never blocks.
    public func publish(_ event: StoreEvent) {
        let targets = subscribers.withLock { state in
            state.all.values.filter { $0.storeID == nil || $0.storeID == event.store.id }.map(\.continuation)
        }
        for continuation in targets {
            continuation.yield(event)
        }
    }

    /// Watchers connected now.
    public var subscriberCount: Int {
        subscribers.withLock { $0.all.count }
    }
}
