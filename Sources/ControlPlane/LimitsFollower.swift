import Logging
import ServiceLifecycle
import StoreCore
import StoreDatabase

/// The names of the runtime limits as the database stores them (and as
/// UpdateLimits' errors name them).
public enum LimitName {
    public static let maxLiveStores = "max_live_stores"
    public static let requestsPerMinute = "requests_per_minute"
    public static let createsPerMinute = "creates_per_minute"
    public static let maxConcurrentProvisions = "max_concurrent_provisions"
}

/// Keeps this replica's limits at what UpdateLimits stored in the database: at
/// start (a stored limit outlives a restart, over the flag) and every ``interval``,
/// so a change made through any replica reaches them all. A read that fails is
/// tried again at the next interval (the limits in force stay). Once a minute it
/// also forgets the shared rate buckets that are full again (SharedRateBuckets.swift).
public final class LimitsFollower: Service, Sendable {
    public static let interval: Duration = .seconds(2)

    private let controlPlane: ControlPlane
    private let database: any StoreDatabase
    private let logger: Logger

    init(controlPlane: ControlPlane, database: any StoreDatabase, logger: Logger) {
        self.controlPlane = controlPlane
        self.database = database
        self.logger = logger
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            var first = true
            var lastPrune = ContinuousClock.now
            while !Task.isCancelled {
                if ContinuousClock.now - lastPrune >= .seconds(SharedRateTake.fullAfterSeconds) {
                    lastPrune = .now
                    try? await self.database.forgetFullRateBuckets()
                }
                if let stored = try? await self.database.storedLimits(), self.controlPlane.apply(stored) {
                    self.logger.notice(
                        first ? "limits stored by UpdateLimits are in force" : "limits changed through another replica",
                        metadata: ["limits": "\(self.controlPlane.limitsDescription)"]
                    )
                }
                first = false
                try await Task.sleep(for: Self.interval)
            }
        }
    }
}
