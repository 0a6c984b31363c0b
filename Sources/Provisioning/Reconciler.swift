import Foundation
import Logging
import ServiceLifecycle
import StoreCore
import StoreDatabase
import Synchronization

/// What one reconcile pass changed.
public struct ReconcileReport: Sendable, Equatable, Codable {
    public struct Correction: Sendable, Equatable, Codable {
        public var storeID: String
        public var storeName: String
        public var from: StoreStatus
        public var to: StoreStatus
        public var reason: String
    }

    public var corrections: [Correction] = []
    /// Managed namespaces that belong to no live store; one already being deleted is
    /// marked " (terminating)".
    public var orphanNamespaces: [String] = []
    /// Orphans this pass deleted (when orphan deletion is on).
    public var deletedOrphans: [String] = []
    /// Which pass this was since the reconciler started, counting from 1.
    public var pass = 0
    public var storesExamined = 0
    public var durationMilliseconds: Double = 0
    /// Cluster listings this pass made (always 1: one batched call).
    public var clusterListings = 0
}

/// Makes the database and the cluster agree: at startup, every interval (with
/// jitter) and on demand. One batched cluster listing per pass, then:
/// interrupted provisioning resumes (or fails once past its deadline), ready
/// stores whose release or namespace vanished fail with a drift reason,
/// interrupted deletions resume, and namespaces without a live store are
/// reported (and deleted when configured). Every status change is an audited
/// transition.
public final class Reconciler: Service, Sendable {
    public struct Configuration: Sendable {
        public var interval: Duration = .seconds(30)
        /// ± this fraction of the interval, so replicas and restarts spread out.
        public var jitter: Double = 0.1
        public var deleteOrphans = false
        /// How long the leader's lease lasts unless it renews it (at every interval);
        /// nil: three intervals. A leader that dies leads no more after it.
        public var leaderTTL: Duration?
        /// Where the database tells every replica of reconcile requests and their
        /// answers (PostgreSQL's notifications), how often the leader looks for
        /// requests and a replica that asked looks for its answer all the same, for
        /// one whose notification was missed (a broken listening connection). Without
        /// them (SQLite) both look every ``Reconciler/requestPoll``.
        public var requestFallbackPoll: Duration = .seconds(5)
        public init() {}

        var effectiveLeaderTTL: Duration { leaderTTL ?? interval * 3 }
    }

    private let provisioner: Provisioner
    private let configuration: Configuration
    private let logger: Logger
    private let counters = Mutex<(passes: Int, corrections: Int)>((0, 0))
    private let leading = Atomic<Bool>(false)
    private let rounds = Atomic<Int>(0)
    private let requestLooks = Atomic<Int>(0)
    /// One pass at a time (``reconcile()``).
    private let flight = Mutex(Flight())

    public init(provisioner: Provisioner, configuration: Configuration, logger: Logger) {
        self.provisioner = provisioner
        self.configuration = configuration
        self.logger = logger
    }

    /// Passes run and corrections made since start.
    public var totals: (passes: Int, corrections: Int) {
        counters.withLock { $0 }
    }

    /// Whether this replica leads: only the leader runs the periodic passes.
    public var isLeader: Bool { leading.load(ordering: .relaxed) }

    /// Intervals the periodic loop has finished: a pass run, a pass that failed, or
    /// (on a follower) a claim of the lead that another replica held.
    public var periodicRounds: Int { rounds.load(ordering: .relaxed) }

    /// Times this replica, leading, read which reconcile requests wait: when the
    /// database told it of one, else every ``Configuration/requestFallbackPoll``
    /// (every ``requestPoll`` where the database tells nothing).
    public var requestChecks: Int { requestLooks.load(ordering: .relaxed) }

    /// Runs a pass at startup, then one every interval until shutdown, while this
    /// replica leads the reconciler.
    ///
    /// Several replicas share one database; each interval every replica claims or
    /// renews the leader's lease (``Lease/reconcilerName``), and only the one that
    /// holds it runs the pass, so there is one periodic pass per interval across them
    /// all. A leader that stops resigns (gives the lease back) and the next replica to
    /// claim it leads from its next interval; one that dies leads no more once its
    /// lease lapses (``Configuration/leaderTTL``).
    public func run() async throws {
        // A graceful shutdown cancels the loop, even mid-sleep or mid-pass (a pass
        // is safe to cut short: every correction is its own transaction).
        try? await cancelWhenGracefulShutdown { [self] in
            try await leadAndReconcile()
        }
        await resign()
    }

    private func leadAndReconcile() async throws {
        // A follower tries to lead as soon as the leader resigns (it gives its lease
        // back, and the database tells every replica), not only at its next interval.
        let resigned = Wakeup()
        let releases = provisioner.database.leaseReleases()
        let listener = Task { [self] in
            for await name in releases where name == Lease.reconcilerName && !isLeader { resigned.signal() }
        }
        defer { listener.cancel() }
        // The leader answers another replica's "reconcile now" as soon as the
        // database tells every replica of it, not only at its next look.
        let requests = provisioner.database.reconcileRequestEvents()
        let requested = requests.map { _ in Wakeup() }
        let requestListener = Self.signal(requested, at: .requested, of: requests)
        defer { requestListener.cancel() }
        // A pass that fails (the store database or the cluster cannot be reached)
        // is tried again at the next interval, never sooner. The same failure
        // again is logged at debug level only, so an outage is one warning.
        var lastFailure: String?
        var failedPasses = 0
        while !Task.isCancelled {
            do {
                guard try await claimLeadership() else {
                    rounds.add(1, ordering: .relaxed)
                    try await sleepOneInterval(resigned: resigned, requested: requested)
                    continue
                }
                let report = try await reconcile()
                if lastFailure != nil {
                    logger.notice("reconcile passes work again", metadata: ["failedPasses": "\(failedPasses)"])
                    lastFailure = nil
                    failedPasses = 0
                }
                if !report.corrections.isEmpty || !report.orphanNamespaces.isEmpty {
                    logger.info(
                        "reconcile pass",
                        metadata: [
                            "corrections": "\(report.corrections.count)", "orphans": "\(report.orphanNamespaces.count)",
                            "examined": "\(report.storesExamined)",
                        ]
                    )
                }
            } catch {
                if Task.isCancelled { break }
                let failure = (error as? PlatformError)?.message ?? "\(error)"
                failedPasses += 1
                if failure == lastFailure {
                    logger.debug("reconcile pass failed again", metadata: ["error": "\(failure)", "failedPasses": "\(failedPasses)"])
                } else {
                    logger.warning(
                        "reconcile pass failed; trying again every interval until it works",
                        metadata: ["error": "\(failure)", "interval": "\(configuration.interval)"]
                    )
                }
                lastFailure = failure
            }
            rounds.add(1, ordering: .relaxed)
            try await sleepOneInterval(resigned: resigned, requested: requested)
        }
    }

    /// Sleeps one interval (with jitter). Meanwhile the leader answers other
    /// replicas' "reconcile now": as each is stored (`requested`, when the database
    /// tells of them), else every ``requestPoll``; a follower wakes early when the
    /// leader resigns (`resigned`), to lead at once.
    private func sleepOneInterval(resigned: Wakeup, requested: Wakeup?) async throws {
        let jitter = 1 + Double.random(in: -configuration.jitter...configuration.jitter)
        let wait = Double(configuration.interval.wholeMilliseconds) * jitter
        let end = ContinuousClock.now + .milliseconds(Int64(max(1, wait)))
        guard isLeader else {
            await resigned.wait(upTo: end - .now)
            try Task.checkCancellation()
            return
        }
        while ContinuousClock.now < end {
            if let requested {
                await requested.wait(upTo: min(configuration.requestFallbackPoll, end - .now))
                try Task.checkCancellation()
            } else {
                try await Task.sleep(for: min(Self.requestPoll, end - .now))
            }
            if isLeader { await answerRequests() }
        }
    }

    // MARK: Reconcile now, on the leader

    /// How often the leader looks for other replicas' reconcile requests, and a
    /// replica that asked for its answer, where the database does not tell of them
    /// (``StoreDatabase/reconcileRequestEvents()``).
    public static let requestPoll = Duration.milliseconds(250)

    /// How long a replica that does not lead waits for the leader's answer: long
    /// enough for a leader that died to be replaced (its lease's TTL and an
    /// interval) and for the new one to run the pass.
    var requestTimeout: Duration { configuration.effectiveLeaderTTL + configuration.interval + .seconds(60) }

    /// What a leader answers a reconcile request with: the pass's report, or why
    /// the pass failed.
    struct RequestAnswer: Codable {
        var report: ReconcileReport?
        var errorCode: String?
        var errorMessage: String?
    }

    /// "Reconcile now" from any replica: a pass on the replica that leads the
    /// reconciler, so passes never overlap across replicas. The leader runs it
    /// itself; another replica stores a request in the database, which the leader
    /// answers with its next pass (one pass answers every request waiting when it
    /// starts), and returns the leader's report. The leader hears of the request and
    /// the asker of the answer from the database at once on PostgreSQL (else they look
    /// every ``Configuration/requestFallbackPoll``), every ``requestPoll`` on SQLite.
    ///
    /// - Returns: the report and the replica that ran the pass.
    /// - Throws: what the pass threw (on the leader too); ``ErrorCode/unavailable``
    ///   when no leader answered within ``requestTimeout``.
    public func reconcileNow() async throws -> (report: ReconcileReport, replica: String) {
        if isLeader { return (try await reconcile(), provisioner.replicaID) }
        let database = provisioner.database
        // Heard from before the request is stored, so that its answer is not missed.
        let events = database.reconcileRequestEvents()
        let answered = Wakeup()
        let listener = Self.signal(answered, at: .answered, of: events)
        defer { listener.cancel() }
        let poll = events == nil ? Self.requestPoll : configuration.requestFallbackPoll
        let id = try await database.requestReconcile(by: provisioner.replicaID)
        let timeout = requestTimeout
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let answer = try await database.reconcileAnswer(id) {
                let body = try JSONDecoder().decode(RequestAnswer.self, from: Data(answer.report.utf8))
                if let report = body.report { return (report, answer.replica) }
                let code = body.errorCode.flatMap(ErrorCode.init(rawValue:)) ?? .internalError
                throw PlatformError(code, "the reconcile pass on replica \(answer.replica) failed: \(body.errorMessage ?? "no reason given")")
            }
            await answered.wait(upTo: min(poll, deadline - .now))
            try Task.checkCancellation()
        }
        throw PlatformError(
            .unavailable,
            "no replica leading the reconciler answered within \(timeout.components.seconds) s; "
                + "check that the replicas can reach the store database, then try again"
        )
    }

    /// A task that signals `wakeup` at each `event` of `events` (none when either is
    /// nil) until it is cancelled.
    private static func signal(
        _ wakeup: Wakeup?, at event: ReconcileRequestEvent, of events: AsyncStream<ReconcileRequestEvent>?
    ) -> Task<Void, Never> {
        Task {
            guard let wakeup, let events else { return }
            for await happened in events where happened == event { wakeup.signal() }
        }
    }

    /// On the leader: one pass for the reconcile requests waiting now, answered with
    /// its report (or its failure, so no request waits for a pass that cannot run).
    private func answerRequests() async {
        let database = provisioner.database
        requestLooks.add(1, ordering: .relaxed)
        guard let ids = try? await database.pendingReconcileRequests(), !ids.isEmpty else { return }
        var answer = RequestAnswer()
        do {
            answer.report = try await reconcile()
        } catch {
            if Task.isCancelled { return }
            let failure = error as? PlatformError
            answer.errorCode = (failure?.code ?? .internalError).rawValue
            answer.errorMessage = failure?.message ?? "\(error)"
        }
        do {
            let json = String(decoding: try JSONEncoder().encode(answer), as: UTF8.self)
            try await database.answerReconcileRequests(ids, report: json, by: provisioner.replicaID)
        } catch {
            logger.warning("cannot answer other replicas' reconcile requests", metadata: ["requests": "\(ids.count)", "error": "\(error)"])
        }
    }

    /// Claims the leader's lease, or renews it when this replica holds it; whether
    /// this replica leads now. Gaining and losing the lead are logged.
    private func claimLeadership() async throws -> Bool {
        let outcome = try await provisioner.database.acquireLease(
            Lease.reconcilerName, owner: provisioner.replicaID, kind: "leader", ttl: configuration.effectiveLeaderTTL
        )
        let leads: Bool
        if case .acquired = outcome { leads = true } else { leads = false }
        if leading.exchange(leads, ordering: .relaxed) != leads {
            if leads {
                logger.notice("this replica leads the reconciler", metadata: ["replica": "\(provisioner.replicaID)"])
            } else if case .held(let holder) = outcome {
                logger.notice("another replica leads the reconciler", metadata: ["leader": "\(holder.owner)"])
            }
        }
        return leads
    }

    /// Gives the leader's lease back, so another replica leads from its next
    /// interval rather than after the lease lapses.
    private func resign() async {
        guard leading.exchange(false, ordering: .relaxed) else { return }
        let (database, owner) = (provisioner.database, provisioner.replicaID)
        // In a task of its own: run() ends cancelled.
        _ = try? await Task { try await database.releaseLease(Lease.reconcilerName, owner: owner) }.value
    }

    /// Passes begun since start (the number of the latest).
    public var passesStarted: Int {
        flight.withLock { $0.passesStarted }
    }

    /// A pass whose report reflects the state after this call began.
    ///
    /// Single flight, without polling: at most one pass runs at a time. A caller that
    /// arrives while a pass runs cannot take that pass's report, since the pass may have
    /// read the database and the cluster before the caller's request; it waits for that
    /// pass to end. Then the first of the callers that waited runs the next pass and the
    /// others join it rather than running one each: it starts after all of their requests,
    /// so its report serves every one of them, and a burst of requests costs one pass.
    public func reconcile() async throws -> ReconcileReport {
        while true {
            switch try await takeTurn() {
            case .run:
                let result: Result<ReconcileReport, any Error>
                do {
                    result = .success(try await pass())
                } catch {
                    result = .failure(error)
                }
                let (next, joiners) = flight.withLock { $0.passEnded() }
                for joiner in joiners { joiner.continuation.resume(returning: .report(result)) }
                next?.continuation.resume(returning: .run)
                return try result.get()
            case .report(let result):
                // The caller that ran the pass was cancelled, not this one: take another turn.
                if case .failure(let error) = result, error is CancellationError, !Task.isCancelled { continue }
                return try result.get()
            }
        }
    }

    /// Runs a pass at once when none runs; otherwise waits for the running pass to end,
    /// then runs the next one or joins it.
    private func takeTurn() async throws -> Flight.Turn {
        let id: UInt64? = flight.withLock { $0.start() }
        guard let id else { return .run }
        let turn = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let now = flight.withLock { flight -> Flight.Turn? in
                    Task.isCancelled ? .report(.failure(CancellationError())) : flight.queue(id, continuation)
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            flight.withLock { $0.leave(id) }?.resume(returning: .report(.failure(CancellationError())))
        }
        if case .report(.failure(let error)) = turn, error is CancellationError, Task.isCancelled { throw error }
        return turn
    }

    /// One pass, never two at once (the caller holds the turn).
    private func pass() async throws -> ReconcileReport {
        let started = ContinuousClock.now
        var report = ReconcileReport()
        report.pass = flight.withLock { flight in
            flight.passesStarted += 1
            return flight.passesStarted
        }
        let database = provisioner.database
        let listedAt = Date()
        let inventory = try await provisioner.driver.listManaged()
        report.clusterListings = 1
        let namespaces = Set(inventory.namespaces.filter { !$0.terminating }.map(\.name))
        let terminating = Set(inventory.namespaces.filter(\.terminating).map(\.name))
        let releases = Set(inventory.releases.map { "\($0.namespace)/\($0.name)" })

        let stores = try await database.stores(inStatuses: [.queued, .provisioning, .ready, .deleting, .upgrading])
        report.storesExamined = stores.count
        // Stores another replica is working on are that replica's (their leases say so).
        let elsewhere = Set(try await database.activeLeases().filter { $0.owner != provisioner.replicaID }.compactMap(\.storeID))
        let deadline = Double(provisioner.deadline.wholeMilliseconds) / 1000
        let now = Date()

        func record(_ store: Store, _ to: StoreStatus, _ reason: String) {
            report.corrections.append(.init(storeID: store.id, storeName: store.name, from: store.status, to: to, reason: reason))
        }
        // The list was read before each store's turn: an operation may have ended
        // since (or begun, and ended). The pass acts on a store only as it is now, and
        // only when that is still as listed and no operation here holds it; otherwise
        // it would take the lock of a store that needs nothing, and a caller's change
        // asked for the moment the store turned ready would meet OPERATION_IN_PROGRESS.
        func unchanged(_ listed: Store) async throws -> Store? {
            guard let store = try await database.store(id: listed.id), store.status == listed.status,
                store.updatedAt == listed.updatedAt, !provisioner.isRunning(storeID: store.id)
            else { return nil }
            return store
        }

        for listed in stores where !provisioner.isRunning(storeID: listed.id) && !elsewhere.contains(listed.id) {
            do {
                // Ready stores are checked against the listing as listed (most of them need
                // nothing); every other status is acted on, so it is read again first.
                guard let store = listed.status == .ready ? listed : try await unchanged(listed) else { continue }
                switch store.status {
                case .queued:
                    if await provisioner.resumeProvisioning(store, reason: Self.resumed("no provisioning was running")) {
                        record(store, .provisioning, "resumed queued store")
                    }
                case .provisioning:
                    let elapsed = now.timeIntervalSince(store.provisioningStartedAt ?? store.updatedAt)
                    if elapsed >= deadline {
                        let reason = String(format: "provisioning deadline passed: started %.0f s ago, limit %.0f s, and no attempt was running", elapsed, deadline)
                        _ = try await provisioner.correct(store, to: .failed, reason: reason)
                        record(store, .failed, reason)
                    } else {
                        let reason = "interrupted provisioning attempt \(store.attempts) goes back to the queue"
                        let resumed = Self.resumed("attempt \(store.attempts) was interrupted")
                        if try await provisioner.requeueInterrupted(store, reason: reason, resumeReason: resumed) != nil {
                            record(store, .queued, reason)
                        }
                    }
                case .ready:
                    // A store that turned ready after the cluster was listed may have
                    // installed its release after that too: the next pass checks it.
                    guard store.updatedAt < listedAt else { break }
                    var missing: [String] = []
                    if terminating.contains(store.namespace) {
                        missing.append("namespace \(store.namespace) (terminating)")
                    } else if !namespaces.contains(store.namespace) {
                        missing.append("namespace \(store.namespace)")
                    }
                    if !releases.contains("\(store.namespace)/\(store.release)") { missing.append("release \(store.release)") }
                    if !missing.isEmpty, let store = try await unchanged(store) {
                        let reason = "drift: \(missing.joined(separator: " and ")) vanished from the cluster; retry to reinstall or delete the store"
                        _ = try await provisioner.correct(store, to: .failed, reason: reason)
                        record(store, .failed, reason)
                    }
                case .deleting:
                    if await provisioner.resumeDeletion(store) {
                        record(store, .deleted, "resumed interrupted deletion")
                    }
                case .upgrading:
                    if await provisioner.resumeChange(store) {
                        record(store, .ready, "resumed interrupted upgrade to revision \(store.revision) (\(store.version))")
                    }
                case .failed, .deleted:
                    break
                }
            } catch {
                logger.warning("reconcile could not correct store", metadata: ["store": "\(listed.id)", "error": "\(error)"])
            }
        }

        let owners = Set(stores.filter { $0.status != .deleted }.map(\.namespace))
        let failedNamespaces = try await Set(database.stores(inStatuses: [.failed]).map(\.namespace))
        for namespace in inventory.namespaces where !owners.contains(namespace.name) && !failedNamespaces.contains(namespace.name) {
            // A terminating orphan stays reported until it is really gone: one stuck on a
            // finalizer needs a person.
            report.orphanNamespaces.append(namespace.terminating ? "\(namespace.name) (terminating)" : namespace.name)
            if configuration.deleteOrphans, !namespace.terminating {
                do {
                    try await provisioner.driver.deleteNamespace(namespace.name)
                    report.deletedOrphans.append(namespace.name)
                } catch {
                    logger.warning("cannot delete orphan namespace", metadata: ["namespace": "\(namespace.name)", "error": "\(error)"])
                }
            }
        }

        let elapsed = (ContinuousClock.now - started).components
        report.durationMilliseconds = Double(elapsed.seconds) * 1000 + Double(elapsed.attoseconds) / 1e15
        counters.withLock { counters in
            counters.passes += 1
            counters.corrections += report.corrections.count
        }
        return report
    }
}

extension Reconciler {
    /// The audit message of a provisioning the reconciler resumes: work that no
    /// operation of this process carries on (the daemon restarted, or the store
    /// database was unavailable when the operation tried to record its progress).
    static func resumed(_ what: String) -> String {
        "resumed: \(what) (a daemon restart or a store database outage ended it)"
    }
}

extension Reconciler {
    /// Who runs the reconcile pass and who waits: pure state behind the reconciler's
    /// lock. The continuations it returns are resumed after the lock is let go.
    struct Flight {
        enum Turn: Sendable {
            /// Run the next pass.
            case run
            /// The report of a pass that started after the request.
            case report(Result<ReconcileReport, any Error>)
        }

        typealias Waiter = (id: UInt64, continuation: CheckedContinuation<Turn, Never>)

        var passesStarted = 0
        private var running = false
        /// Waiting for the running pass: it started after their requests.
        private var joiners: [Waiter] = []
        /// Arrived while the running pass ran: they wait for the next one.
        private var queued: [Waiter] = []
        private var nextID: UInt64 = 0

        /// Takes the turn when no pass runs (nil); otherwise an id to queue with.
        mutating func start() -> UInt64? {
            if !running {
                running = true
                return nil
            }
            nextID += 1
            return nextID
        }

        /// Queues a caller that arrived while a pass ran; `.run` when that pass ended
        /// meanwhile (the caller runs the next one at once).
        mutating func queue(_ id: UInt64, _ continuation: CheckedContinuation<Turn, Never>) -> Turn? {
            guard running else {
                running = true
                return .run
            }
            queued.append((id, continuation))
            return nil
        }

        /// A waiting caller gave up (its task was cancelled).
        mutating func leave(_ id: UInt64) -> CheckedContinuation<Turn, Never>? {
            if let index = queued.firstIndex(where: { $0.id == id }) { return queued.remove(at: index).continuation }
            if let index = joiners.firstIndex(where: { $0.id == id }) { return joiners.remove(at: index).continuation }
            return nil
        }

        /// The running pass ended: its joiners get its report; of the callers that
        /// arrived during it, the first runs the next pass and the rest join that one.
        mutating func passEnded() -> (next: Waiter?, joiners: [Waiter]) {
            let finished = joiners
            guard !queued.isEmpty else {
                running = false
                joiners = []
                return (nil, finished)
            }
            let next = queued.removeFirst()
            joiners = queued
            queued = []
            return (next, finished)
        }
    }
}
