import Foundation
import Logging
import StoreCore
import StoreDatabase
import Synchronization

/// Hands the commit observer every replica's committed transitions, in audit-id
/// order, each once: those this process commits, and those other replicas commit to
/// the same database (so WatchStores and the event stream of every replica see every
/// store's changes).
///
/// Audit ids follow commit order in every process (``PostgresStoreDatabase/auditLockKey``),
/// so the audit rows after the last one announced are exactly what is left to
/// announce. The relay keeps that last id:
///
/// - This process's commits are announced at once, before the write returns, when
///   their ids follow the last one; otherwise the rows in between (another replica's,
///   or none when a rolled-back transaction used the ids) are read first and
///   announced before them.
/// - Other replicas' commits are read when their notification arrives: every
///   audit row's insert sends `NOTIFY storeplatform_audit` with its id (delivered at
///   commit), and the relay LISTENs on the database's one listening connection
///   (ChannelListener.swift). A notification that is lost (the listening connection
///   broke, the server restarted) costs nothing but time: the relay also reads
///   every ``fallbackInterval``, always from the last id it announced, so it
///   catches up by id. (And at this process's next commit, whichever comes first.)
///   Their store is read as it is when the row is read (it may have moved on
///   since); this process's carry the store as saved.
///
/// Everything runs under one lock, so announcements never interleave.
final class CommitRelay: Sendable {
    /// How often other replicas' commits are read when no notification came.
    static let fallbackInterval: Duration = .seconds(1)
    /// The channel every audit row's insert notifies, with the row's id.
    static let channel = "storeplatform_audit"
    /// Rows read at most per query; the rest on the next.
    static let batch = 500

    private let lock = AsyncSerialLock()
    /// The last audit id announced; `nil` until ``run(_:)`` read where to start.
    private let last = Mutex<Int64?>(nil)
    /// Callers waiting for that start.
    private let starting = Mutex<[CheckedContinuation<Void, Never>]?>([])
    private let observer: @Sendable (Transition) -> Void
    private let logger: Logger
    private let fallback: Duration
    /// Set by a notification of a row after the last announced one.
    private let wakeup = Wakeup()

    init(observer: @escaping @Sendable (Transition) -> Void, fallbackInterval: Duration = CommitRelay.fallbackInterval, logger: Logger) {
        self.observer = observer
        self.fallback = fallbackInterval
        self.logger = logger
    }

    /// Announces `transitions`, just committed by this process (in id order), after
    /// whatever other replicas committed before them.
    ///
    /// The write must have begun after ``started()`` returned, so that its ids come
    /// after where the relay began.
    func committed(_ transitions: [Transition], on database: PostgresStoreDatabase) async {
        try? await lock.withLock {
            let after = last.withLock { $0 } ?? 0
            // A poll may have announced some already (read from the audit log).
            let transitions = transitions.filter { $0.event.id > after }
            guard let first = transitions.first?.event.id, let final = transitions.last?.event.id else { return }
            if first == after + 1 {
                announce(transitions)
                return
            }
            do {
                var from = after
                while from < first - 1 {
                    let between = try await database.auditEvents(after: from, storeID: nil, limit: Self.batch)
                        .filter { $0.id < first }
                    try await announceRead(between, on: database)
                    guard between.count == Self.batch, let newest = between.last?.id else { break }
                    from = newest
                }
            } catch {
                logger.warning(
                    "cannot read other replicas' changes before this one; watchers here miss them (they are in the audit log)",
                    metadata: ["after": "\(after)", "error": "\(error)"]
                )
            }
            announce(transitions)
            last.withLock { $0 = max($0 ?? final, final) }
        }
    }

    /// Reads and announces what other replicas committed since the last announced
    /// id, at each notification and every ``fallbackInterval``, until the task is
    /// cancelled.
    /// Announcements begin after the newest audit row when it starts; until that
    /// is read, this process's commits wait for it (a moment at start). `database`
    /// is held weakly: the relay ends with the database too.
    func run(_ database: @escaping @Sendable () -> PostgresStoreDatabase?) async {
        defer { markStarted() }  // also when it ends first: nobody waits for good
        while last.withLock({ $0 }) == nil {
            guard let current = database() else { return }
            if let newest = try? await current.listAudit(limit: 1, pageToken: "", storeID: nil).events.first?.id ?? 0 {
                last.withLock { $0 = $0 ?? newest }
                break
            }
            if (try? await Task.sleep(for: Self.fallbackInterval)) == nil { return }
        }
        markStarted()
        let listener = Task { await listen(database) }
        defer { listener.cancel() }
        while !Task.isCancelled {
            await wakeup.wait(upTo: fallback)
            guard !Task.isCancelled, let database = database() else { return }
            do {
                try await lock.withLock {
                    guard let after = last.withLock({ $0 }) else { return }
                    let rows = try await database.auditEvents(after: after, storeID: nil, limit: Self.batch)
                    try await announceRead(rows, on: database)
                }
            } catch {
                // The database is away: the next poll tries again from the same id.
                if Task.isCancelled { return }
            }
        }
    }

    /// LISTENs on ``channel`` (on the database's listening connection,
    /// ChannelListener.swift) and wakes the reader for every notification of a row
    /// after the last announced one (the fallback reads cover any it misses).
    private func listen(_ database: @escaping @Sendable () -> PostgresStoreDatabase?) async {
        guard let ids = database()?.listener.notifications(on: Self.channel, { Int64($0) ?? .max }) else { return }
        for await id in ids where id > (last.withLock { $0 } ?? 0) {
            wakeup.signal()
        }
    }

    /// Returns once ``run(_:)`` knows where announcements begin.
    func started() async {
        await withCheckedContinuation { continuation in
            let waiting = starting.withLock { waiters -> Bool in
                guard waiters != nil else { return false }
                waiters!.append(continuation)
                return true
            }
            if !waiting { continuation.resume() }
        }
    }

    private func markStarted() {
        let waiters = starting.withLock { waiters -> [CheckedContinuation<Void, Never>] in
            defer { waiters = nil }
            return waiters ?? []
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Announces rows read from the audit log, with their stores as they are now.
    private func announceRead(_ events: [AuditEvent], on database: PostgresStoreDatabase) async throws {
        guard !events.isEmpty else { return }
        let stores = try await database.stores(ids: Set(events.map(\.storeID)))
        for event in events {
            // A store row outlives its audit rows; one missing is skipped, not invented.
            if let store = stores[event.storeID] {
                observer(Transition(store: store, event: event))
            }
            last.withLock { $0 = max($0 ?? event.id, event.id) }
        }
    }

    private func announce(_ transitions: [Transition]) {
        for transition in transitions {
            observer(transition)
            last.withLock { $0 = max($0 ?? transition.event.id, transition.event.id) }
        }
    }
}
