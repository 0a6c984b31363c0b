import Logging
import ServiceLifecycle
import StoreCore
import StoreDatabase
import Synchronization

/// Whether the store database answers, for readiness: Health and `/api/health`
/// report it, and a load balancer stops sending work to a daemon whose database
/// is down. A service that checks the database every ``interval`` (one trivial
/// query, bounded by ``timeout``) and keeps the last answer; reading it is one
/// atomic load, so the health answers made on the event loop stay cheap.
///
/// It decides nothing else: while the database is down, calls that need it fail
/// by themselves with UNAVAILABLE naming the database, and work again once it is
/// back, with no restart.
public final class DatabaseAvailability: Service, Sendable {
    private let database: any StoreDatabase
    private let interval: Duration
    private let timeout: Duration
    private let logger: Logger
    private let available = Atomic<Bool>(true)
    private let lastProblem = Mutex<String>("")

    /// Starts as available: the daemon opened the database before it serves.
    public init(database: any StoreDatabase, interval: Duration = .seconds(1), timeout: Duration = .seconds(2), logger: Logger) {
        self.database = database
        self.interval = interval
        self.timeout = timeout
        self.logger = logger
    }

    /// Empty while the database answers; otherwise why the last check failed.
    public var problem: String {
        available.load(ordering: .acquiring) ? "" : lastProblem.withLock { $0 }
    }

    public var isAvailable: Bool {
        available.load(ordering: .acquiring)
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown { [self] in
            while !Task.isCancelled {
                await check()
                try await Task.sleep(for: interval)
            }
        }
    }

    /// One check now; logs each change between available and not.
    public func check() async {
        let outcome = await Self.probe(database, timeout: timeout)
        if let problem = outcome {
            lastProblem.withLock { $0 = problem }
            if available.exchange(false, ordering: .acquiringAndReleasing) {
                logger.error("the store database is unavailable; not ready until it answers", metadata: ["problem": "\(problem)"])
            }
        } else if !available.exchange(true, ordering: .acquiringAndReleasing) {
            logger.notice("the store database answers again; ready", metadata: ["database": "\(database.location)"])
        }
    }

    /// `nil` when the database answered within `timeout`, else why not.
    private static func probe(_ database: any StoreDatabase, timeout: Duration) async -> String? {
        await withTaskGroup(of: String?.self) { group in
            group.addTask {
                do {
                    try await database.checkAvailable()
                    return nil
                } catch let error as PlatformError {
                    return error.message
                } catch {
                    return "\(error)"
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return Task.isCancelled ? nil : "the store database \(database.location) did not answer within \(timeout)"
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }
}
