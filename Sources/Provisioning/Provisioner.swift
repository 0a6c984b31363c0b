import Foundation
import Logging
import ServiceLifecycle
import StoreCore
import StoreDatabase
import Synchronization

/// The facade over the cluster: creates, deletes and retries stores as
/// background operations, one per store at a time (``OperationLocks``), at most
/// ``ProvisionerConfiguration/maxConcurrentProvisions`` provisioning at once.
/// Every status change is one database transaction with its audit row, and is
/// published to the event bus (by the database) only after it committed. Each step checks before
/// it acts, so an operation interrupted anywhere can run again from step 1.
///
/// A `Service`: the request methods take the store's lock and hand the operation to
/// ``run()``, which runs every operation as a child task of its own task group, so
/// the ServiceGroup's shutdown reaches them all. All operation state (the locks, the
/// slots, each operation's stop request and waiters) is one ``OperationTable`` behind
/// one lock.
public final class Provisioner: Service, Sendable {
    /// An accepted operation on its way to the service's task group.
    private struct Scheduled: Sendable {
        var lease: OperationLease
        var body: @Sendable (OperationLease) async -> Void
    }

    public let database: any StoreDatabase
    public let driver: any ClusterDriver
    public let events: StoreEventBus
    /// How long this replica's provisionings took, queued to ready.
    public let provisioningDurations = DurationBuckets(bounds: DurationBuckets.provisioningBounds)
    let configuration: ProvisionerConfiguration
    let logger: Logger
    private let state: Mutex<OperationTable>
    private let intake: (stream: AsyncStream<Scheduled>, continuation: AsyncStream<Scheduled>.Continuation)

    public init(
        database: any StoreDatabase,
        driver: any ClusterDriver,
        events: StoreEventBus,
        configuration: ProvisionerConfiguration,
        logger: Logger
    ) {
        self.database = database
        self.driver = driver
        self.events = events
        self.state = Mutex(OperationTable(maxConcurrentProvisions: configuration.maxConcurrentProvisions))
        self.intake = AsyncStream<Scheduled>.makeStream()
        self.configuration = configuration
        self.logger = logger
        // Committed changes reach watchers from the database, in audit-id order (and
        // the log at info, when configured).
        database.observeCommits { [events, logger, logsTransitions = configuration.logsTransitions] transition in
            if logsTransitions { Self.log(transition, to: logger) }
            events.publish(StoreEvent(
                store: transition.store, fromStatus: transition.event.fromStatus, toStatus: transition.store.status,
                action: transition.event.action, auditID: transition.event.id, time: transition.event.time
            ))
        }
    }

    /// One info line per committed status change: "store ready", with the store, the
    /// move, what caused it and who; a failure with its one-line headline (the whole
    /// reason is in the store and the audit log).
    private static func log(_ transition: Transition, to logger: Logger) {
        let event = transition.event
        let to = transition.store.status
        var metadata: Logger.Metadata = [
            "store": "\(event.storeID)",
            "name": "\(event.storeName)",
            "from": "\(event.fromStatus?.rawValue ?? "none")",
            "to": "\(to.rawValue)",
            "action": "\(event.action.rawValue)",
            "actor": "\(event.actor)",
        ]
        if let requestID = event.requestID { metadata["request-id"] = "\(requestID)" }
        if to == .failed { metadata["reason"] = "\(FailureHeadline.of(event.message))" }
        if to == .ready, !transition.store.url.isEmpty { metadata["url"] = "\(transition.store.url)" }
        logger.info("store \(to.rawValue)", metadata: metadata)
    }

    public var deadline: Duration { configuration.deadline }
    /// This daemon's name among replicas: the owner of its leases.
    public var replicaID: String { configuration.replicaID }
    public var maxConcurrentProvisions: Int { state.withLock { $0.slots.limit } }

    /// Raises or lowers the provisioning bound now; waiting operations that fit
    /// under a higher bound start at once, oldest first.
    public func setMaxConcurrentProvisions(_ limit: Int) {
        let granted = state.withLock { $0.setSlotLimit(limit) }
        for waiter in granted { waiter.resume() }
    }

    /// The per-store locks as they are now (a copy): which operations run, since when.
    public var locks: OperationLocks { state.withLock { $0.locks } }

    /// True while an operation of this process holds the store.
    public func isRunning(storeID: String) -> Bool {
        state.withLock { $0.isRunning(storeID: storeID) }
    }

    /// False once graceful shutdown began: requests answer UNAVAILABLE.
    var acceptsOperations: Bool { state.withLock { $0.phase == .accepting } }

    /// Throws UNAVAILABLE once graceful shutdown began.
    func checkAccepting() throws {
        try state.withLock { try $0.checkAccepting() }
    }

    // MARK: The service

    /// Runs every accepted operation in one task group until shutdown.
    ///
    /// On graceful shutdown the provisioner takes no new operation (requests answer
    /// UNAVAILABLE), every operation stops at its next step boundary (a cluster
    /// command under way finishes; a wait between steps ends at once) and `run()`
    /// returns once the group is empty. Operations still in a step after
    /// ``ProvisionerConfiguration/shutdownGracePeriod`` are cancelled, as they are
    /// when the task running `run()` is cancelled. Either way each store keeps its
    /// status (`queued`, `provisioning`, `deleting`) and the next start's reconcile
    /// pass resumes it from step 1.
    public func run() async throws {
        // The leases are renewed for as long as operations run.
        await withTaskGroup(of: Void.self) { renewal in
            renewal.addTask { await self.keepLeases() }
            await runOperations()
            renewal.cancelAll()
        }
        intake.continuation.finish()
        let waiters = state.withLock { $0.stop() }
        for waiter in waiters { waiter.resume() }
    }

    private func runOperations() async {
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                for await operation in intake.stream {
                    group.addTask { await self.perform(operation) }
                }
                // The intake ended: graceful shutdown began, or this task was cancelled
                // (then so are the operations, and the group only waits for them).
                if !Task.isCancelled, await !untilIdle(within: configuration.shutdownGracePeriod) {
                    logger.warning(
                        "store operations still running at the end of the shutdown grace period are cancelled; the next start resumes them",
                        metadata: ["operations": "\(state.withLock { $0.locks.count })"]
                    )
                    group.cancelAll()
                }
            }
        } onGracefulShutdown: {
            self.beginShutdown()
        }
    }

    private func beginShutdown() {
        let cancellers = state.withLock { $0.beginShutdown() }
        intake.continuation.finish()
        for canceller in cancellers { canceller.resume() }
    }

    /// Waits until no operation is left, or `limit` passed; true when none is left.
    private func untilIdle(within limit: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { race in
            race.addTask {
                await withTaskCancellationHandler {
                    await withCheckedContinuation { continuation in
                        let waiting = self.state.withLock { Task.isCancelled ? false : $0.waitUntilIdle(continuation) }
                        if !waiting { continuation.resume() }
                    }
                } onCancel: {
                    self.state.withLock { $0.stopWaitingUntilIdle() }?.resume()
                }
                return !Task.isCancelled
            }
            race.addTask {
                try? await Task.sleep(for: limit)
                return false
            }
            let idle = await race.next() ?? false
            race.cancelAll()
            return idle
        }
    }

    /// One operation, as a child task of the group: its body beside a watcher that
    /// cancels it when a delete takes the store over (or shutdown finds it between
    /// steps). The store's lock is let go when both are done.
    private func perform(_ operation: Scheduled) async {
        let lease = operation.lease
        if state.withLock({ $0.start(lease) }) {
            await withTaskGroup(of: Void.self) { watched in
                watched.addTask { await operation.body(lease) }
                watched.addTask { await self.waitForCancel(lease) }
                await watched.next()
                watched.cancelAll()
            }
        }
        await release(lease)
    }

    /// Returns when the operation must be cancelled, or when this task is (the
    /// operation ended).
    private func waitForCancel(_ lease: OperationLease) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let watching = state.withLock { Task.isCancelled ? false : $0.watch(lease, continuation) }
                if !watching { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.unwatch(lease) }?.resume()
        }
    }

    /// Hands an accepted operation to ``run()``. After shutdown began the intake is
    /// closed: the operation ends unstarted and its store keeps its status for the
    /// next start.
    func launch(_ lease: OperationLease, _ body: @escaping @Sendable (OperationLease) async -> Void) async {
        if case .terminated = intake.continuation.yield(Scheduled(lease: lease, body: body)) {
            await release(lease)
        }
    }

    /// Takes store `store`'s lock in this process, then its lease in the database
    /// for this replica (Sources/StoreDatabase/Lease.swift). Throws
    /// OPERATION_IN_PROGRESS while another operation holds the store, here or on
    /// another replica; UNAVAILABLE once shutdown began, or when the database does
    /// not answer.
    func register(_ store: Store, kind: OperationKind) async throws -> OperationLease {
        let lease = try state.withLock { try $0.register(storeID: store.id, storeName: store.name, kind: kind) }
        do {
            let outcome = try await database.acquireLease(
                Lease.storeName(store.id), owner: configuration.replicaID, kind: kind.rawValue, ttl: configuration.leaseTTL
            )
            if case .held(let holder) = outcome {
                throw OperationLocks.inProgress(kind, holder: holder.kind, since: holder.acquiredAt, storeName: store.name, replica: holder.owner)
            }
            state.withLock { $0.setHoldsLease(lease, true) }
            return lease
        } catch {
            let waiters = state.withLock { $0.end(lease) }
            for waiter in waiters { waiter.resume() }
            throw error
        }
    }

    /// The operation ended: its lease in the database, then its lock here, are let
    /// go. A lease the database does not take back lapses after its TTL.
    func release(_ lease: OperationLease) async {
        let (database, name, owner) = (database, Lease.storeName(lease.storeID), configuration.replicaID)
        state.withLock { $0.setHoldsLease(lease, false) }
        do {
            // In a task of its own: an operation that was cancelled gives its lease back too.
            try await Task { try await database.releaseLease(name, owner: owner) }.value
        } catch {
            logger.warning(
                "cannot give a store's lease back; it lapses by itself",
                metadata: ["store": "\(lease.storeID)", "ttl": "\(configuration.leaseTTL)", "error": "\(error)"]
            )
        }
        let waiters = state.withLock { $0.end(lease) }
        for waiter in waiters { waiter.resume() }
    }

    // MARK: Leases

    /// Renews the leases of this replica's operations every third of their TTL while
    /// ``run()`` runs. An operation whose lease another replica took over is
    /// cancelled (that replica runs the store now). When renewals have failed for
    /// two thirds of the TTL, every operation is cancelled: past the TTL another
    /// replica may take the stores over, and two must never work on one store.
    /// The stores keep their status and are resumed by whoever holds them next.
    private func keepLeases() async {
        let interval = configuration.leaseTTL / 3
        var lastRenewal = ContinuousClock.now
        while (try? await Task.sleep(for: interval)) != nil {
            let storeIDs = state.withLock { $0.storesHoldingLeases }
            guard !storeIDs.isEmpty else {
                lastRenewal = ContinuousClock.now
                continue
            }
            do {
                let lost = try await database.renewLeases(storeIDs.map(Lease.storeName), owner: configuration.replicaID, ttl: configuration.leaseTTL)
                lastRenewal = ContinuousClock.now
                for storeID in lost.compactMap(Lease.storeID(inName:)).sorted() {
                    logger.warning(
                        "another replica took this store's lease over; the operation here stops",
                        metadata: ["store": "\(storeID)"]
                    )
                    state.withLock { $0.leaseLost(storeID: storeID) }?.resume()
                }
            } catch {
                guard ContinuousClock.now - lastRenewal >= interval * 2 else { continue }
                logger.warning(
                    "store leases could not be renewed; every operation here stops before another replica may take its store over",
                    metadata: ["operations": "\(storeIDs.count)", "error": "\(error)"]
                )
                for storeID in storeIDs {
                    state.withLock { $0.cancel(storeID: storeID) }.canceller?.resume()
                }
            }
        }
    }


    // MARK: Requests

    /// Validates and records a new store (queued), then provisions it in the
    /// background. A repeated request with the same idempotency key from the same
    /// caller returns the first store. The caller, `actor`, is recorded as the
    /// store's owner. Throws ``PlatformError`` (MISSING_STORE_NAME,
    /// INVALID_STORE_NAME, INVALID_ENGINE, ENGINE_UNAVAILABLE, STORE_NAME_TAKEN,
    /// QUOTA_EXCEEDED; UNAVAILABLE once shutdown began).
    public func create(
        name: String,
        engine: String,
        actor: String,
        requestID: String?,
        idempotencyKey: String?,
        maxLiveStores: Int
    ) async throws -> Store {
        let storeName = try StoreName.validate(name)
        let engine = try StoreEngines.resolve(engine)
        try state.withLock { try $0.checkAccepting() }
        let store = Store.queued(name: storeName, engine: engine, owner: actor, now: Date())
        let outcome = try await database.createStore(
            store, maxLiveStores: maxLiveStores, requestedBy: actor, idempotencyKey: idempotencyKey, requestID: requestID
        )
        switch outcome {
        case .existing(let existing):
            return existing
        case .created(let created, _):
            // Shutdown may have begun while the store was written: it stays queued,
            // and the next start's reconcile pass provisions it.
            if let lease = try? await register(created, kind: .provision) {
                await launchProvisioning(created, lease: lease, action: .provision, message: "provisioning attempt 1")
            }
            return created
        }
    }

    /// Starts deleting a store. A provisioning operation still running on it is
    /// cancelled first (delete wins); a running delete answers OPERATION_IN_PROGRESS.
    public func delete(storeID: String, actor: String, requestID: String?) async throws -> Store {
        try state.withLock { try $0.checkAccepting() }
        let store = try await existingStore(storeID)
        if store.status == .queued || store.status == .provisioning {
            await withCheckedContinuation { continuation in
                let (canceller, resumeNow) = state.withLock { $0.cancel(storeID: storeID, except: .delete, thenResume: continuation) }
                canceller?.resume()
                if resumeNow { continuation.resume() }
            }
        }
        await awaitFinishingOperation(store)
        // The release must first be in a known revision (docs/ARCHITECTURE.md, "Upgrades
        // and rollbacks"), also while the reconciler has yet to resume the change.
        if store.status == .upgrading { throw Self.changeInProgress(store) }
        let lease = try await register(store, kind: .delete)
        let deleting: Transition
        do {
            deleting = try await commit(storeID, to: .deleting, action: .delete, actor: actor, requestID: requestID)
        } catch {
            await release(lease)
            throw error
        }
        await launch(lease) { lease in
            await self.runDeletion(deleting.store, action: .deleted, lease: lease)
        }
        return deleting.store
    }

    /// Queues a failed store again and provisions it from step 1.
    public func retry(storeID: String, actor: String, requestID: String?) async throws -> Store {
        try state.withLock { try $0.checkAccepting() }
        let store = try await existingStore(storeID)
        await awaitFinishingOperation(store)
        guard store.status == .failed else {
            throw PlatformError(
                .invalidStateTransition,
                "cannot retry store \"\(store.name)\": it is \(store.status.rawValue); retry applies to failed stores"
            )
        }
        let lease = try await register(store, kind: .retry)
        let queued: Transition
        do {
            queued = try await commit(storeID, to: .queued, expectedFrom: [.failed], action: .retry, actor: actor, requestID: requestID) {
                $0.errorMessage = ""
            }
        } catch {
            await release(lease)
            throw error
        }
        await launchProvisioning(
            queued.store, lease: lease, action: .provision, message: "provisioning attempt \(store.attempts + 1)", reinstall: true
        )
        return queued.store
    }

    /// An operation whose store already reached its end status is only cleaning
    /// up (letting go of its lock); a new request waits for it instead of answering
    /// OPERATION_IN_PROGRESS.
    func awaitFinishingOperation(_ store: Store) async {
        guard let current = state.withLock({ $0.lease(storeID: store.id) }) else { return }
        let finished: Set<StoreStatus> = current.kind == .delete ? [.deleted, .failed] : [.ready, .failed]
        guard finished.contains(store.status) else { return }
        await withCheckedContinuation { continuation in
            if !state.withLock({ $0.waitForEnd(current, continuation) }) { continuation.resume() }
        }
    }

    // MARK: Recovery (the reconciler)

    /// Provisions a queued store that no operation holds (after a restart, or a
    /// replica's loss). Returns false when an operation already holds the store
    /// (here or on another replica), shutdown began, or the database does not answer.
    @discardableResult
    public func resumeProvisioning(_ store: Store, reason: String) async -> Bool {
        guard let lease = try? await register(store, kind: .provision) else { return false }
        await launchProvisioning(store, lease: lease, action: .recovery, message: reason)
        return true
    }

    /// Sends a `provisioning` store whose attempt was interrupted (no operation
    /// holds it) back to the queue with `reason`, and provisions it again; the
    /// store's lease is taken first, so no other replica is working on it. Returns
    /// the queued store, or `nil` when an operation holds the store.
    public func requeueInterrupted(_ store: Store, reason: String, resumeReason: String) async throws -> Store? {
        guard let lease = try? await register(store, kind: .provision) else { return nil }
        let queued: Store
        do {
            queued = try await correct(store, to: .queued, reason: reason)
        } catch {
            await release(lease)
            throw error
        }
        await launchProvisioning(queued, lease: lease, action: .recovery, message: resumeReason)
        return queued
    }

    /// Finishes deleting a `deleting` store that no operation holds.
    @discardableResult
    public func resumeDeletion(_ store: Store) async -> Bool {
        guard let lease = try? await register(store, kind: .delete) else { return false }
        await launch(lease) { lease in
            await self.runDeletion(store, action: .recovery, lease: lease)
        }
        return true
    }

    /// Records a status change the reconciler decided (drift, a passed deadline,
    /// an interrupted attempt going back to the queue) and publishes it.
    public func correct(_ store: Store, to status: StoreStatus, reason: String) async throws -> Store {
        let action: AuditAction = status == .queued ? .recovery : .reconcile
        return try await commit(store.id, to: status, expectedFrom: [store.status], action: action, actor: "system", message: reason) {
            if status == .failed { $0.errorMessage = reason }
        }.store
    }

    // MARK: Step boundaries

    /// Throws `CancellationError` when the operation must stop before its next step.
    func checkpoint(_ lease: OperationLease) throws {
        if Task.isCancelled || state.withLock({ $0.shouldStop(lease) }) { throw CancellationError() }
    }

    /// Sleeps between steps. A shutdown that comes meanwhile cancels the sleep: no
    /// step is under way.
    func pause(for duration: Duration, _ lease: OperationLease) async throws {
        guard state.withLock({ $0.enterWait(lease) }) else { throw CancellationError() }
        var interrupted: (any Error)?
        do {
            try await Task.sleep(for: duration)
        } catch {
            interrupted = error
        }
        guard state.withLock({ $0.leaveWait(lease) }) else { throw CancellationError() }
        if let interrupted { throw interrupted }
    }

    /// Waits for a provisioning slot, first come first served. Throws
    /// `CancellationError` when the operation is cancelled first (a delete took over,
    /// or shutdown).
    private func acquireSlot(_ lease: OperationLease) async throws {
        let ready = try state.withLock { table -> Bool in
            guard table.enterWait(lease) else { throw CancellationError() }
            return table.takeSlotIfFree()
        }
        defer { _ = state.withLock { $0.leaveWait(lease) } }
        if ready { return }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: ProvisioningSlots.Waiter) in
                let granted = state.withLock { table -> [ProvisioningSlots.Waiter]? in
                    Task.isCancelled ? nil : table.waitForSlot(lease, continuation)
                }
                guard let granted else { return continuation.resume(throwing: CancellationError()) }
                for waiter in granted { waiter.resume() }
            }
        } onCancel: {
            state.withLock { $0.removeSlotWaiter(lease) }?.resume(throwing: CancellationError())
        }
    }

    private func releaseSlot() {
        let granted = state.withLock { $0.releaseSlot() }
        for waiter in granted { waiter.resume() }
    }

    // MARK: Operations

    /// `reinstall`: a user's retry replaces a release left by a failed attempt
    /// (crash-looping pods do not heal by waiting); recovery after a restart keeps it.
    private func launchProvisioning(_ store: Store, lease: OperationLease, action: AuditAction, message: String, reinstall: Bool = false) async {
        await launch(lease) { lease in
            do {
                try await self.acquireSlot(lease)
            } catch {
                return  // cancelled while queued: a delete took over, or shutdown
            }
            defer { self.releaseSlot() }
            await self.runProvisioning(store.id, action: action, message: message, reinstall: reinstall, lease: lease)
        }
    }

    private func runProvisioning(_ storeID: String, action: AuditAction, message: String, reinstall: Bool, lease: OperationLease) async {
        do {
            try checkpoint(lease)
        } catch {
            return
        }
        let started = await record(storeID, from: .queued, to: .provisioning, action: action, message: message) {
            $0.attempts += 1
            $0.provisioningStartedAt = Date()
            $0.errorMessage = ""
        }
        guard let store = started?.store else { return }
        // Only the cluster steps can fail the store; the database's own failures are
        // handled by ``record``, which never turns them into a store failure.
        let revision: Int
        do {
            revision = try await provisionSteps(store, reinstall: reinstall, lease: lease)
        } catch is CancellationError {
            return
        } catch {
            if Task.isCancelled { return }
            let reason = Self.reason(error)
            await record(storeID, from: .provisioning, to: .failed, action: .fail, message: reason) {
                $0.errorMessage = reason
            }
            return
        }
        let now = Date()
        let url = "\(configuration.urlScheme)://\(store.name).\(configuration.storeDomain)"
        // The install is the release's revision the driver reports, and the store's
        // history starts there: a reinstall restarted the release's numbers at 1.
        let installed = StoreRevision(
            storeID: storeID, revision: revision, version: store.version, status: .deployed,
            actor: store.owner.isEmpty ? "system" : store.owner,
            time: now, message: "install"
        )
        let ready = await record(
            storeID, from: .provisioning, to: .ready, action: .ready, message: "ready at \(url)", revisions: [installed],
            replacesRevisions: true
        ) {
            $0.url = url
            $0.revision = installed.revision
            if $0.readyAt == nil { $0.readyAt = now }
            if let started = $0.provisioningStartedAt {
                $0.provisioningDurationMilliseconds = Int64(now.timeIntervalSince(started) * 1000)
            }
        }
        if let milliseconds = ready?.store.provisioningDurationMilliseconds {
            provisioningDurations.record(.milliseconds(milliseconds))
        }
    }

    /// Namespace → Secret → Helm release (if absent) → readiness, each checked first.
    /// Returns the release's revision that runs: 1 when this attempt installed it (a
    /// new release, or one uninstalled first, starts its history at 1, as Helm numbers
    /// them); read from its history when an earlier attempt had.
    private func provisionSteps(_ store: Store, reinstall: Bool, lease: OperationLease) async throws -> Int {
        try checkpoint(lease)
        announce(.namespace, of: store)
        try await driver.ensureNamespace(store.namespace, storeID: store.id)
        let secret = StoreSecrets.secretName(release: store.release)
        // The values exist only inside this call, and the driver redacts the one command
        // that carries them. Nothing later is redacted here, on purpose: later steps never
        // hold them (the chart reads the Secret by name; readiness and events are the API
        // server's structured fields), and an attempt after the Secret exists does not know
        // them at all, so keeping them longer would only widen where they live.
        try checkpoint(lease)
        announce(.secret, of: store)
        try await driver.ensureSecret(namespace: store.namespace, name: secret, makeValues: StoreSecrets.generate)
        try checkpoint(lease)
        let request = releaseRequest(store)
        announce(.install, of: store)
        var installedHere = true
        while true {
            try checkpoint(lease)
            let status = try await driver.releaseStatus(namespace: store.namespace, release: store.release)
            switch status?.state {
            case nil:
                try await driver.installRelease(request)
            case .failed:
                try await reinstallRelease(store, request, lease: lease)
            case .deployed where reinstall:
                try await reinstallRelease(store, request, lease: lease)
            case .deployed:
                installedHere = false
            case .pending where reinstall:
                try await reinstallRelease(store, request, lease: lease)
            case .pending:
                // A helm command still running, or one that died before it recorded
                // how it ended; only the first is worth waiting for.
                let since = status?.since ?? store.provisioningStartedAt ?? Date()
                let age = Date().timeIntervalSince(since)
                if age >= Self.seconds(configuration.pendingReleaseTimeout) {
                    throw ProvisioningFailure(
                        String(
                            format: "release %@ has been pending since %@ (%.0f s, past helm's timeout of %.0f s): the helm command that installed it was interrupted (a daemon restart or an out-of-memory kill) before the setup Job finished; retry reinstalls it",
                            store.release, since.formatted(.iso8601), age, Self.seconds(configuration.pendingReleaseTimeout)
                        )
                    )
                }
                try await pause(for: configuration.pollInterval, lease)
                continue
            }
            break
        }
        announce(.readiness, of: store)
        try await waitUntilReady(store, since: store.provisioningStartedAt ?? Date(), lease: lease)
        if installedHere { return 1 }
        let history = try await driver.releaseHistory(namespace: store.namespace, release: store.release)
        return history.last { $0.state == .deployed }?.revision ?? history.last?.revision ?? 1
    }

    /// What installs (or upgrades) the store's release: every value set explicitly,
    /// its engine version's among them (``EngineVersion/chartValues``), so an upgrade
    /// carries nothing over from the revision before.
    func releaseRequest(_ store: Store) -> InstallRequest {
        var values = [
            "store.name": store.name,
            "store.id": store.id,
            "ingress.host": "\(store.name).\(configuration.storeDomain)",
            "credentials.secretName": StoreSecrets.secretName(release: store.release),
        ]
        if let issuer = configuration.tlsClusterIssuer {
            values["ingress.tls.enabled"] = "true"
            values["ingress.tls.clusterIssuer"] = issuer
        }
        let engine = StoreEngines.all.first { $0.name == store.engine }
        if let version = engine?.versions.first(where: { $0.name == store.version }) {
            values.merge(version.chartValues) { _, pinned in pinned }
            values[InstallRequest.versionKey] = version.name
        }
        return InstallRequest(
            namespace: store.namespace,
            release: store.release,
            chart: (try? StoreEngines.resolve(store.engine).chart) ?? "helm/store",
            values: values
        )
    }

    /// Tells watchers that `step` of provisioning `store` begins, when configured to.
    private func announce(_ step: ProvisioningStep, of store: Store) {
        guard configuration.publishesProgress else { return }
        events.publish(StoreEvent(
            store: store, fromStatus: .provisioning, toStatus: .provisioning, action: .progress, auditID: 0, time: Date(), step: step
        ))
    }

    /// Uninstalls the release, waits until its pods and volume claims are gone (a new
    /// install must not meet a dying claim of the old one), then installs it again.
    private func reinstallRelease(_ store: Store, _ request: InstallRequest, lease: OperationLease) async throws {
        try checkpoint(lease)
        try await driver.uninstallRelease(namespace: store.namespace, release: store.release)
        let started = ContinuousClock.now
        while true {
            let leftovers = try await driver.releaseLeftovers(namespace: store.namespace, release: store.release)
            if leftovers.isEmpty { break }
            let waited = ContinuousClock.now - started
            if waited >= configuration.cleanupTimeout {
                throw ProvisioningFailure(
                    String(format: "the previous release's resources are still there %.0f s after its uninstall: ", Self.seconds(waited))
                        + leftovers.joined(separator: ", ") + "; retry once they are gone"
                )
            }
            try await pause(for: configuration.pollInterval, lease)
        }
        try checkpoint(lease)
        try await driver.installRelease(request)
    }

    /// Polls the release's readiness until it is ready, failing, or past the deadline
    /// counted from `startedAt`; `changedAt`: see ``ClusterDriver/readiness(namespace:release:changedAt:)``.
    func waitUntilReady(_ store: Store, since startedAt: Date, changedAt: Date? = nil, lease: OperationLease) async throws {
        let deadlineSeconds = Self.seconds(configuration.deadline)
        while true {
            try checkpoint(lease)
            switch try await driver.readiness(namespace: store.namespace, release: store.release, changedAt: changedAt) {
            case .ready:
                return
            case .failing(let reason, let detail, let events):
                throw ProvisioningFailure(
                    "pods failing: \(reason): \(detail)" + (events.isEmpty ? "" : "; events: " + events.joined(separator: " | "))
                )
            case .progressing(let notReady):
                let elapsed = Date().timeIntervalSince(startedAt)
                if elapsed >= deadlineSeconds {
                    throw ProvisioningFailure(
                        String(format: "timed out after %.0f s waiting for readiness (deadline %.0f s); still not ready: ", elapsed, deadlineSeconds)
                            + notReady.joined(separator: ", ")
                    )
                }
                let remaining = deadlineSeconds - elapsed
                let wait = min(Self.seconds(configuration.pollInterval), remaining)
                try await pause(for: .milliseconds(Int64(max(1, wait * 1000))), lease)
            }
        }
    }

    /// Polls until the namespace is gone; one stuck Terminating fails the delete with
    /// what it still waits for.
    private func waitUntilNamespaceGone(_ namespace: String, lease: OperationLease) async throws {
        let started = ContinuousClock.now
        while let phase = try await driver.namespacePhase(namespace) {
            let waited = ContinuousClock.now - started
            if waited >= configuration.cleanupTimeout {
                let detail = if case .terminating(_, let detail) = phase { detail } else { "not terminating" }
                throw ProvisioningFailure(
                    String(format: "namespace %@ is still there %.0f s after its deletion was requested (%@)", namespace, Self.seconds(waited), detail)
                )
            }
            try await pause(for: configuration.pollInterval, lease)
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    /// Uninstall, then delete the namespace: either alone still cleans up what
    /// the other missed. The store is deleted once its namespace is gone.
    private func runDeletion(_ store: Store, action: AuditAction, lease: OperationLease) async {
        var uninstallProblem: String?
        do {
            try checkpoint(lease)
            try await driver.uninstallRelease(namespace: store.namespace, release: store.release)
        } catch is CancellationError {
            return
        } catch {
            if Task.isCancelled { return }
            uninstallProblem = Self.reason(error)
        }
        do {
            try checkpoint(lease)
            try await driver.deleteNamespace(store.namespace)
            try await waitUntilNamespaceGone(store.namespace, lease: lease)
        } catch is CancellationError {
            return
        } catch {
            if Task.isCancelled { return }
            let reason = "delete failed: " + [uninstallProblem, Self.reason(error)].compactMap { $0 }.joined(separator: "; ")
                + "; delete the store again to retry"
            await record(store.id, from: .deleting, to: .failed, action: .fail, message: reason) {
                $0.errorMessage = reason
            }
            return
        }
        let message = uninstallProblem.map { "release uninstall failed (\($0)); deleting the namespace removed everything" } ?? ""
        await record(store.id, from: .deleting, to: .deleted, action: action, message: message) {
            $0.deletedAt = Date()
        }
    }

    /// Commits a status change an operation reached, as "system". The store
    /// database not taking it (unavailable, or the store changed meanwhile) is never
    /// the store's failure: the change is logged once, as a warning, and `nil`
    /// returned; the operation then ends, the store keeps its status (`queued`,
    /// `provisioning` or `deleting`) and the reconciler's next pass resumes it from
    /// step 1, as after a restart.
    @discardableResult
    func record(
        _ storeID: String,
        from: StoreStatus,
        to status: StoreStatus,
        action: AuditAction,
        message: String,
        revisions: [StoreRevision] = [],
        replacesRevisions: Bool = false,
        update: @escaping @Sendable (inout Store) -> Void
    ) async -> Transition? {
        do {
            return try await commit(
                storeID, to: status, expectedFrom: [from], action: action, actor: "system", message: message,
                revisions: revisions, replacesRevisions: replacesRevisions, update: update
            )
        } catch {
            if error is CancellationError || Task.isCancelled { return nil }
            logger.warning(
                "the store database did not record a store's change; the store stays as it was, and the next reconcile pass resumes it",
                metadata: [
                    "store": "\(storeID)", "from": "\(from.rawValue)", "to": "\(status.rawValue)",
                    "code": "\((error as? PlatformError)?.code.rawValue ?? "?")",
                    "error": "\((error as? PlatformError)?.message ?? "\(error)")",
                ]
            )
            return nil
        }
    }

    // MARK: Helpers

    func existingStore(_ storeID: String) async throws -> Store {
        guard let store = try await database.store(id: storeID) else {
            throw PlatformError.storeNotFound(storeID)
        }
        return store
    }

    /// One transaction (status + audit row); the database announces it to watchers.
    func commit(
        _ storeID: String,
        to status: StoreStatus,
        expectedFrom: Set<StoreStatus>? = nil,
        action: AuditAction,
        actor: String,
        message: String = "",
        requestID: String? = nil,
        revisions: [StoreRevision] = [],
        replacesRevisions: Bool = false,
        update: @escaping @Sendable (inout Store) -> Void = { _ in }
    ) async throws -> Transition {
        try await database.transition(
            storeID: storeID, to: status, expectedFrom: expectedFrom, action: action, actor: actor,
            message: message, requestID: requestID, revisions: revisions, replacesRevisions: replacesRevisions, update: update
        )
    }

    static func reason(_ error: any Error) -> String {
        switch error {
        case let error as ClusterError: error.description
        case let error as ProvisioningFailure: error.description
        default: "\(error)"
        }
    }
}

/// Why a provisioning attempt failed, in words for the store's error message.
struct ProvisioningFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
