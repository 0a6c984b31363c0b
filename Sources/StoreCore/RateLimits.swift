/// The per-caller rate limits ``RateLimiter`` enforces (docs/ARCHITECTURE.md, "Rate
/// limits, quotas, locks").
///
/// Each limit is both the refill rate (tokens per minute) and the burst a caller can spend
/// at once. `0` means *refuse everything* of that class; `Int.max` means *never refuse*
/// (see ``unlimited``). Negative values are treated as `0`.
public struct RateLimits: Sendable, Equatable {
    /// Requests of any kind per caller per minute. A create counts here too.
    public var requestsPerMinute: Int
    /// Store creations per caller per minute.
    public var createsPerMinute: Int

    /// The design's defaults: 30 requests and 5 creates per minute.
    public init(requestsPerMinute: Int = 30, createsPerMinute: Int = 5) {
        self.requestsPerMinute = requestsPerMinute
        self.createsPerMinute = createsPerMinute
    }

    /// No limits at all: nothing is refused and no caller is tracked.
    public static let unlimited = RateLimits(requestsPerMinute: .max, createsPerMinute: .max)
}
