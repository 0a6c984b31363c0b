import Synchronization

/// Fans committed store transitions out to watchers (WatchStores, the HTTP event
/// stream). Publishers call ``publish(_:)`` only after the transition's
/// transaction committed. Each subscriber has its own bounded buffer: a watcher
/// that falls `bufferLimit` events behind is not fed more and is not grown
/// without bound either; its stream ends after the events it still has, and its
/// subscription says it fell behind, so it can be told and catch up from the
/// audit log. Nothing is dropped silently.
public final class StoreEventBus: Sendable {
    private struct Subscriber {
        var storeID: String?
        var continuation: AsyncStream<StoreEvent>.Continuation
        var overflow: StoreEventSubscription.Overflow
    }

    private let subscribers = Mutex<(next: UInt64, all: [UInt64: Subscriber])>((0, [:]))
    /// One publish at a time, so a subscriber's "fell behind" is decided before any
    /// later event can reach it: what it received stays a contiguous run.
    private let publishing = Mutex(())
    public let bufferLimit: Int

    public init(bufferLimit: Int = 1000) {
        self.bufferLimit = bufferLimit
    }

    /// Events from now on, optionally only those of one store. The stream ends
    /// when the consumer stops iterating (or its task is cancelled), or after the
    /// buffered events once the consumer fell behind.
    public func subscribe(storeID: String? = nil) -> StoreEventSubscription {
        let (stream, continuation) = AsyncStream<StoreEvent>.makeStream(bufferingPolicy: .bufferingOldest(bufferLimit))
        let overflow = StoreEventSubscription.Overflow()
        let id = subscribers.withLock { state in
            state.next += 1
            state.all[state.next] = Subscriber(storeID: storeID, continuation: continuation, overflow: overflow)
            return state.next
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.all.removeValue(forKey: id) }
        }
        return StoreEventSubscription(events: stream, overflow: overflow)
    }

    /// Delivers `event` to every matching subscriber. Never blocks. A subscriber
    /// whose buffer is full is marked as fallen behind and its stream finished.
    public func publish(_ event: StoreEvent) {
        publishing.withLock { _ in
            let targets = subscribers.withLock { state in
                state.all.values.filter { $0.storeID == nil || $0.storeID == event.store.id }
            }
            for target in targets where !target.overflow.fellBehind.load(ordering: .acquiring) {
                if case .dropped = target.continuation.yield(event) {
                    target.overflow.fellBehind.store(true, ordering: .releasing)
                    target.continuation.finish()
                }
            }
        }
    }

    /// Watchers connected now.
    public var subscriberCount: Int {
        subscribers.withLock { $0.all.count }
    }
}

/// One watcher's events, and whether they ended because the watcher fell behind.
public struct StoreEventSubscription: Sendable {
    final class Overflow: Sendable {
        let fellBehind = Atomic<Bool>(false)
    }

    /// Transitions in commit order; a contiguous run from the subscription on.
    public let events: AsyncStream<StoreEvent>
    let overflow: Overflow

    /// True once the bus stopped feeding ``events`` because the consumer fell a
    /// whole buffer behind: everything after the last event it received was not
    /// delivered (read it from the audit log, after that event's audit id).
    public var fellBehind: Bool {
        overflow.fellBehind.load(ordering: .acquiring)
    }
}
