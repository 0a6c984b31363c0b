import ControlPlane
import Logging
import StoreCore
import Synchronization
import Testing

/// A replica whose shared rate buckets cannot be read says so once, and once
/// more when they answer again (Sources/ControlPlane/ReportedSharedRateBuckets.swift).
@Suite struct ReportedSharedRateBucketsTests {
    /// Shared buckets that fail while `down` is set.
    final class Buckets: SharedRateBuckets {
        let down = Atomic<Bool>(false)

        func takeRateTokens(identity: String, limits: RateLimits, isCreate: Bool) async throws -> SharedRateTake {
            if down.load(ordering: .acquiring) { throw PlatformError(.unavailable, "the store database cannot be reached") }
            return SharedRateTake(admitted: true, requestTokens: 1, createTokens: 1)
        }
    }

    /// The messages logged, in order.
    final class Lines: Sendable {
        let all = Mutex<[String]>([])
    }

    /// Keeps every message logged through it.
    struct Recorder: LogHandler {
        let lines: Lines
        var logLevel: Logger.Level = .trace
        var metadata: Logger.Metadata = [:]

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            lines.all.withLock { $0.append("\(event.level) \(event.message) \(event.metadata?["error"].map { "\($0)" } ?? "")") }
        }
    }

    @Test func anOutageIsLoggedOnceAndTheReturnOnce() async throws {
        let lines = Lines()
        let buckets = Buckets()
        let reported = ReportedSharedRateBuckets(buckets, logger: Logger(label: "test") { _ in Recorder(lines: lines) })
        let limits = RateLimits(requestsPerMinute: 30, createsPerMinute: 5)
        _ = try await reported.takeRateTokens(identity: "uid:1", limits: limits, isCreate: false)
        buckets.down.store(true, ordering: .releasing)
        for _ in 0..<3 {
            await #expect(throws: PlatformError.self) { try await reported.takeRateTokens(identity: "uid:1", limits: limits, isCreate: false) }
        }
        buckets.down.store(false, ordering: .releasing)
        for _ in 0..<2 { _ = try await reported.takeRateTokens(identity: "uid:1", limits: limits, isCreate: false) }
        #expect(lines.all.withLock { $0 } == [
            "warning the shared rate buckets cannot be read; until they can, this replica's own rate limits decide alone the store database cannot be reached",
            "notice the shared rate buckets answer again; every replica's calls count together ",
        ])
    }
}
