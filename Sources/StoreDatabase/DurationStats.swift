/// Summary of provisioning durations (for metrics), in milliseconds. Percentiles are
/// nearest-rank: the smallest value with at least p% of the values at or below it.
public struct DurationStats: Sendable, Equatable {
    /// How many stores the summary covers.
    public var count: Int
    public var averageMilliseconds: Double
    public var minimumMilliseconds: Double
    public var maximumMilliseconds: Double
    public var p50Milliseconds: Double
    public var p95Milliseconds: Double

    public init(
        count: Int,
        averageMilliseconds: Double,
        minimumMilliseconds: Double,
        maximumMilliseconds: Double,
        p50Milliseconds: Double,
        p95Milliseconds: Double
    ) {
        self.count = count
        self.averageMilliseconds = averageMilliseconds
        self.minimumMilliseconds = minimumMilliseconds
        self.maximumMilliseconds = maximumMilliseconds
        self.p50Milliseconds = p50Milliseconds
        self.p95Milliseconds = p95Milliseconds
    }

    /// No durations: every field zero.
    public static let zero = DurationStats(
        count: 0, averageMilliseconds: 0, minimumMilliseconds: 0, maximumMilliseconds: 0,
        p50Milliseconds: 0, p95Milliseconds: 0
    )

    /// The summary of `durations`, in any order; ``zero`` when empty.
    package init(durations: [Int64]) {
        guard !durations.isEmpty else {
            self = .zero
            return
        }
        let sorted = durations.sorted()
        // Nearest rank in integer arithmetic: rank = ceil(p * n / 100), 1-based.
        func percentile(_ p: Int) -> Double {
            let rank = (p * sorted.count + 99) / 100
            return Double(sorted[max(rank, 1) - 1])
        }
        self.init(
            count: sorted.count,
            averageMilliseconds: sorted.reduce(0.0) { $0 + Double($1) } / Double(sorted.count),
            minimumMilliseconds: Double(sorted.first!),
            maximumMilliseconds: Double(sorted.last!),
            p50Milliseconds: percentile(50),
            p95Milliseconds: percentile(95)
        )
    }
}
