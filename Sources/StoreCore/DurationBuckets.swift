import Synchronization

/// Durations counted into fixed buckets, as Prometheus histograms keep them: the
/// work records each duration where it happens, and any reader (GetMetrics,
/// `/metrics`) takes a ``Snapshot``. Thread-safe; recording is one lock and a few
/// additions.
public final class DurationBuckets: Sendable {
    /// The buckets' upper bounds, ascending; a last bucket (+Inf) counts the rest.
    public let bounds: [Duration]
    private let state: Mutex<Snapshot>

    /// What the histogram holds at one moment.
    public struct Snapshot: Sendable, Equatable {
        /// The buckets' upper bounds, ascending.
        public var bounds: [Duration]
        /// For each bound, how many durations were at most it (cumulative, as
        /// Prometheus's `le` buckets); ``count`` is the +Inf bucket.
        public var cumulativeCounts: [Int]
        public var count: Int
        public var sum: Duration
    }

    public init(bounds: [Duration]) {
        self.bounds = bounds.sorted()
        self.state = Mutex(Snapshot(bounds: self.bounds, cumulativeCounts: Array(repeating: 0, count: bounds.count), count: 0, sum: .zero))
    }

    public func record(_ duration: Duration) {
        state.withLock { state in
            for index in state.bounds.indices where duration <= state.bounds[index] {
                state.cumulativeCounts[index] += 1
            }
            state.count += 1
            state.sum += duration
        }
    }

    public var snapshot: Snapshot {
        state.withLock { $0 }
    }

    /// The buckets of provisioning durations (queued to ready): 10 ms to 10 min.
    public static let provisioningBounds: [Duration] = [
        .milliseconds(10), .milliseconds(100), .milliseconds(500), .seconds(1), .seconds(5), .seconds(10),
        .seconds(30), .seconds(60), .seconds(120), .seconds(300), .seconds(600),
    ]
}
