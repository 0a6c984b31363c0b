import StoreCore
import Testing

@Suite struct DurationBucketsTests {
    /// Each duration counts in every bucket whose bound it does not pass, as
    /// Prometheus's cumulative `le` buckets; the count and the sum take them all.
    @Test func durationsCountInTheirBucketsCumulatively() {
        let buckets = DurationBuckets(bounds: [.seconds(1), .milliseconds(100), .seconds(10)])
        #expect(buckets.bounds == [.milliseconds(100), .seconds(1), .seconds(10)])
        for duration: Duration in [.milliseconds(50), .milliseconds(100), .milliseconds(101), .seconds(3), .seconds(60)] {
            buckets.record(duration)
        }
        let snapshot = buckets.snapshot
        #expect(snapshot.cumulativeCounts == [2, 3, 4])
        #expect(snapshot.count == 5)
        #expect(snapshot.sum == .milliseconds(50 + 100 + 101 + 3000 + 60_000))
    }
}
