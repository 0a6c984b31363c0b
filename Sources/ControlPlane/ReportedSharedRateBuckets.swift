import Logging
import StoreCore
import Synchronization

/// The shared rate buckets as the daemon uses them: a warning when they cannot be
/// read (the replica's own buckets then decide alone, ``RateLimiter``), and a notice
/// when they can again; once per change, not once per call.
public final class ReportedSharedRateBuckets: SharedRateBuckets {
    private let base: any SharedRateBuckets
    private let logger: Logger
    private let failing = Atomic<Bool>(false)

    public init(_ base: any SharedRateBuckets, logger: Logger) {
        self.base = base
        self.logger = logger
    }

    public func takeRateTokens(identity: String, limits: RateLimits, isCreate: Bool) async throws -> SharedRateTake {
        do {
            let take = try await base.takeRateTokens(identity: identity, limits: limits, isCreate: isCreate)
            if failing.exchange(false, ordering: .acquiringAndReleasing) {
                logger.notice("the shared rate buckets answer again; every replica's calls count together")
            }
            return take
        } catch {
            if !(error is CancellationError), !failing.exchange(true, ordering: .acquiringAndReleasing) {
                logger.warning(
                    "the shared rate buckets cannot be read; until they can, this replica's own rate limits decide alone",
                    metadata: ["error": "\((error as? PlatformError)?.message ?? "\(error)")"]
                )
            }
            throw error
        }
    }
}
