import Logging
import ServiceLifecycle
import StoreCore
import StoreDatabase
import Synchronization

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
/// tried again at the next interval (the limits in force stay). Once a minute, on
/// the replica that leads the reconciler, it also forgets the shared rate buckets
/// that are full again (SharedRateBuckets.swift).
public final class LimitsFollower: Service, Sendable {
    public static let interval: Duration = .seconds(2)
    /// How often the leader forgets the full rate buckets.
    public static let pruneInterval: Duration = .seconds(SharedRateTake.fullAfterSeconds)

    private let controlPlane: ControlPlane
    private let database: any StoreDatabase
    private let pruneInterval: Duration
    private let logger: Logger
    private let prunes = Atomic<Int>(0)

    init(controlPlane: ControlPlane, database: any StoreDatabase, pruneInterval: Duration, logger: Logger) {
        self.controlPlane = controlPlane
        self.database = database
        self.pruneInterval = pruneInterval
        self.logger = logger
    }

    /// Times this replica forgot the full rate buckets.
    public var rateBucketPrunes: Int { prunes.load(ordering: .relaxed) }

    /// Whether this replica forgets the full rate buckets: the buckets are shared, so
    /// one replica is enough, and the one that leads the reconciler is one that
    /// exists already (docs/ARCHITECTURE.md, "Reconciliation"): asking costs no
    /// query, unlike a lease of its own, and when the leader dies another leads
    /// within the lease's TTL. Buckets a pause leaves behind are only rows, forgotten
    /// at the next prune. With SQLite the one replica leads.
    private var prunesRateBuckets: Bool { controlPlane.reconciler.isLeader }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            var first = true
            var lastPrune = ContinuousClock.now
            while !Task.isCancelled {
                if ContinuousClock.now - lastPrune >= self.pruneInterval {
                    lastPrune = .now
                    if self.prunesRateBuckets, (try? await self.database.forgetFullRateBuckets()) != nil {
                        self.prunes.add(1, ordering: .relaxed)
                    }
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
