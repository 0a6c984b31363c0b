import Synchronization

/// A clock that moves only when a test advances it.
final class ManualClock: Sendable {
    private let instant = Mutex(ContinuousClock.now)

    var now: ContinuousClock.Instant {
        instant.withLock { $0 }
    }

    func advance(by duration: Duration) {
        instant.withLock { $0 += duration }
    }

    /// The closure ``RateLimiter`` takes.
    var reader: @Sendable () -> ContinuousClock.Instant {
        { [self] in now }
    }
}
