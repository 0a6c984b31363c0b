import Synchronization

/// Values derived from the store database (a rendered page of stores), kept
/// until the next write. Each value is stored with the database's write
/// generation read *before* the read it came from, and served only while that is
/// still the current generation — so a cached value is never older than the
/// last completed write.
public final class GenerationCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private let state = Mutex<(generation: UInt64, values: [Key: Value])>((0, [:]))
    private let capacity: Int

    /// - Parameter capacity: values kept per generation; past it the cache starts
    ///   over (distinct keys are few: the dashboard asks for the same pages).
    public init(capacity: Int = 64) {
        self.capacity = capacity
    }

    func value(for key: Key, generation: UInt64) -> Value? {
        state.withLock { $0.generation == generation ? $0.values[key] : nil }
    }

    func store(_ value: Value, for key: Key, generation: UInt64) {
        state.withLock { state in
            if state.generation != generation {
                // A value from before the current generation is already stale.
                guard generation > state.generation else { return }
                state = (generation, [:])
            }
            if state.values.count >= capacity { state.values.removeAll(keepingCapacity: true) }
            state.values[key] = value
        }
    }
}
