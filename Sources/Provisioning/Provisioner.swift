import Foundation
import Logging
import StoreCore
import StoreDatabase
import Synchronization

/// The facade over the cluster: creates, deletes and retries stores as
/// background operations, one per store at a time (``OperationLocks``), at most
/// ``ProvisionerConfiguration/maxConcurrentProvisions`` provisioning at once.
/// Every status change is one database transaction with its audit row, and is
/// published to the event bus (by the database) only after it committed. Each step checks before
/// it acts, so an operation interrupted anywhere can run again from step 1.
public final class Provisioner: Sendable {
    private struct Running {
        var task: Task<Void, Never>
        var kind: OperationKind
    }

    public let database: any StoreDatabase
    public let driver: any ClusterDriver
    public let events: StoreEventBus
    public let locks: OperationLocks
    private let slots: ProvisioningSlots
    private let configuration: ProvisionerConfiguration
    private let logger: Logger
    private let running = Mutex<[String: Running]>([:])

    public init(
        database: any StoreDatabase,
        driver: any ClusterDriver,
        events: StoreEventBus,
        locks: OperationLocks = OperationLocks(),
        configuration: ProvisionerConfiguration,
        logger: Logger
    ) {
        self.database = database
        self.driver = driver
        self.events = events
        self.locks = locks
        self.slots = ProvisioningSlots(limit: configuration.maxConcurrentProvisions)
        self.configuration = configuration
        self.logger = logger
        // Committed changes reach watchers from the database, in audit-id order.
        database.observeCommits { [events] transition in
            events.publish(StoreEvent(
                store: transition.store, fromStatus: transition.event.fromStatus, toStatus: transition.event.toStatus,
                action: transition.event.action, auditID: transition.event.id, time: transition.event.time
            ))
        }
    }

    public var deadline: Duration { configuration.deadline }
    public var maxConcurrentProvisions: Int { slots.limit }

    public func setMaxConcurrentProvisions(_ limit: Int) {
        slots.setLimit(limit)
    }

    /// True while an operation of this process runs on the store.
    public func isRunning(storeID: String) -> Bool {
        running.withLock { $0[storeID] != nil }
    }

    // MARK: Requests

    /// Validates and records a new store (queued), then provisions it in the
    /// background. A repeated request with the same idempotency key from the same
    /// caller returns the first store. The caller, `actor`, is recorded as the
    /// store's owner. Throws ``PlatformError`` (MISSING_STORE_NAME,
    /// INVALID_STORE_NAME, INVALID_ENGINE, ENGINE_UNAVAILABLE, STORE_NAME_TAKEN,
    /// QUOTA_EXCEEDED).
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
        let store = Store.queued(name: storeName, engine: engine, owner: actor, now: Date())
        let outcome = try await database.createStore(
            store, maxLiveStores: maxLiveStores, requestedBy: actor, idempotencyKey: idempotencyKey, requestID: requestID
        )
        switch outcome {
        case .existing(let existing):
            return existing
        case .created(let created, _):
            let lease = try locks.acquire(storeID: created.id, storeName: created.name, kind: .provision)
            launchProvisioning(created, lease: lease, action: "provision", message: "provisioning attempt 1")
            return created
        }
    }

    /// Starts deleting a store. A provisioning operation still running on it is
    /// cancelled first (delete wins); a running delete answers OPERATION_IN_PROGRESS.
    public func delete(storeID: String, actor: String, requestID: String?) async throws -> Store {
        let store = try await existingStore(storeID)
        if let current = running.withLock({ $0[storeID] }), current.kind != .delete,
            store.status == .queued || store.status == .provisioning
        {
            current.task.cancel()
            await current.task.value
        }
        await awaitFinishingOperation(store)
        let lease = try locks.acquire(storeID: store.id, storeName: store.name, kind: .delete)
        let deleting: Transition
        do {
            deleting = try await commit(storeID, to: .deleting, action: "delete", actor: actor, requestID: requestID)
        } catch {
            locks.release(lease)
            throw error
        }
        launch(deleting.store, kind: .delete, lease: lease) {
            await self.runDeletion(deleting.store, action: "deleted")
        }
        return deleting.store
    }

    /// Queues a failed store again and provisions it from step 1.
    public func retry(storeID: String, actor: String, requestID: String?) async throws -> Store {
        let store = try await existingStore(storeID)
        await awaitFinishingOperation(store)
        guard store.status == .failed else {
            throw PlatformError(
                .invalidStateTransition,
                "cannot retry store \"\(store.name)\": it is \(store.status.rawValue); retry applies to failed stores"
            )
        }
        let lease = try locks.acquire(storeID: store.id, storeName: store.name, kind: .retry)
        let queued: Transition
        do {
            queued = try await commit(storeID, to: .queued, expectedFrom: [.failed], action: "retry", actor: actor, requestID: requestID) {
                $0.errorMessage = ""
            }
        } catch {
            locks.release(lease)
            throw error
        }
        launchProvisioning(
            queued.store, lease: lease, action: "provision", message: "provisioning attempt \(store.attempts + 1)", reinstall: true
        )
        return queued.store
    }

    /// An operation whose store already reached its end status is only cleaning
    /// up (releasing its lock); a new request waits for it instead of answering
    /// OPERATION_IN_PROGRESS.
    private func awaitFinishingOperation(_ store: Store) async {
        guard let current = running.withLock({ $0[store.id] }) else { return }
        let finished: Set<StoreStatus> = current.kind == .delete ? [.deleted, .failed] : [.ready, .failed]
        if finished.contains(store.status) {
            await current.task.value
        }
    }

    // MARK: Recovery (the reconciler)

    /// Provisions a queued store that has no operation in this process (after a
    /// restart). Returns false when an operation already holds the store.
    @discardableResult
    public func resumeProvisioning(_ store: Store, reason: String) -> Bool {
        guard let lease = try? locks.acquire(storeID: store.id, storeName: store.name, kind: .provision) else { return false }
        launchProvisioning(store, lease: lease, action: "recovery", message: reason)
        return true
    }

    /// Finishes deleting a `deleting` store that has no operation in this process.
    @discardableResult
    public func resumeDeletion(_ store: Store) -> Bool {
        guard let lease = try? locks.acquire(storeID: store.id, storeName: store.name, kind: .delete) else { return false }
        launch(store, kind: .delete, lease: lease) {
            await self.runDeletion(store, action: "recovery")
        }
        return true
    }

    /// Records a status change the reconciler decided (drift, a passed deadline,
    /// an interrupted attempt going back to the queue) and publishes it.
    public func correct(_ store: Store, to status: StoreStatus, reason: String) async throws -> Store {
        let action = status == .queued ? "recovery" : "reconcile"
        return try await commit(store.id, to: status, expectedFrom: [store.status], action: action, actor: "system", message: reason) {
            if status == .failed { $0.errorMessage = reason }
        }.store
    }

    /// Cancels every running operation and waits for each to stop. Stores keep
    /// their status; the next start's reconcile pass resumes them.
    public func shutdown() async {
        let tasks = running.withLock { $0.values.map(\.task) }
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
    }

    // MARK: Operations

    /// `reinstall`: a user's retry replaces a release left by a failed attempt
    /// (crash-looping pods do not heal by waiting); recovery after a restart keeps it.
    private func launchProvisioning(_ store: Store, lease: OperationLease, action: String, message: String, reinstall: Bool = false) {
        launch(store, kind: lease.kind, lease: lease) {
            do {
                try await self.slots.acquire()
            } catch {
                return  // cancelled while queued: a delete took over, or shutdown
            }
            defer { self.slots.release() }
            await self.runProvisioning(store.id, action: action, message: message, reinstall: reinstall)
        }
    }

    /// Runs `body` as the store's one background operation, holding its lock until it ends.
    private func launch(_ store: Store, kind: OperationKind, lease: OperationLease, _ body: @escaping @Sendable () async -> Void) {
        running.withLock { running in
            let task = Task {
                await body()
                self.running.withLock { running in
                    _ = running.removeValue(forKey: store.id)
                }
                self.locks.release(lease)
            }
            running[store.id] = Running(task: task, kind: kind)
        }
    }

    private func runProvisioning(_ storeID: String, action: String, message: String, reinstall: Bool) async {
        let started: Transition
        do {
            started = try await commit(storeID, to: .provisioning, expectedFrom: [.queued], action: action, actor: "system", message: message) {
                $0.attempts += 1
                $0.provisioningStartedAt = Date()
                $0.errorMessage = ""
            }
        } catch {
            logger.warning("provisioning not started", metadata: ["store": "\(storeID)", "error": "\(error)"])
            return
        }
        let store = started.store
        do {
            try await provisionSteps(store, reinstall: reinstall)
            let now = Date()
            let url = "\(configuration.urlScheme)://\(store.name).\(configuration.storeDomain)"
            _ = try await commit(storeID, to: .ready, expectedFrom: [.provisioning], action: "ready", actor: "system", message: "ready at \(url)") {
                $0.url = url
                if $0.readyAt == nil { $0.readyAt = now }
                if let started = $0.provisioningStartedAt {
                    $0.provisioningDurationMilliseconds = Int64(now.timeIntervalSince(started) * 1000)
                }
            }
        } catch is CancellationError {
            return
        } catch {
            if Task.isCancelled { return }
            let reason = Self.reason(error)
            do {
                _ = try await commit(storeID, to: .failed, expectedFrom: [.provisioning], action: "fail", actor: "system", message: reason) {
                    $0.errorMessage = reason
                }
            } catch {
                logger.error("cannot record failure", metadata: ["store": "\(storeID)", "error": "\(error)"])
            }
        }
    }

    /// Namespace → Secret → Helm release (if absent) → readiness, each checked first.
    private func provisionSteps(_ store: Store, reinstall: Bool) async throws {
        try Task.checkCancellation()
        try await driver.ensureNamespace(store.namespace, storeID: store.id)
        let secret = StoreSecrets.secretName(release: store.release)
        // The values exist only inside this call, and the driver redacts the one command
        // that carries them. Nothing later is redacted here, on purpose: later steps never
        // hold them (the chart reads the Secret by name; readiness and events are the API
        // server's structured fields), and an attempt after the Secret exists does not know
        // them at all, so keeping them longer would only widen where they live.
        try await driver.ensureSecret(namespace: store.namespace, name: secret, makeValues: StoreSecrets.generate)
        try Task.checkCancellation()
        var values = [
            "store.name": store.name,
            "store.id": store.id,
            "ingress.host": "\(store.name).\(configuration.storeDomain)",
            "credentials.secretName": secret,
        ]
        if let issuer = configuration.tlsClusterIssuer {
            values["ingress.tls.enabled"] = "true"
            values["ingress.tls.clusterIssuer"] = issuer
        }
        let request = InstallRequest(
            namespace: store.namespace,
            release: store.release,
            chart: (try? StoreEngines.resolve(store.engine).chart) ?? "helm/store",
            values: values
        )
        while true {
            let status = try await driver.releaseStatus(namespace: store.namespace, release: store.release)
            switch status?.state {
            case nil:
                try await driver.installRelease(request)
            case .failed:
                try await reinstallRelease(store, request)
            case .deployed where reinstall:
                try await reinstallRelease(store, request)
            case .deployed:
                break
            case .pending where reinstall:
                try await reinstallRelease(store, request)
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
                try await Task.sleep(for: configuration.pollInterval)
                continue
            }
            break
        }
        try await waitUntilReady(store)
    }

    /// Uninstalls the release, waits until its pods and volume claims are gone (a new
    /// install must not meet a dying claim of the old one), then installs it again.
    private func reinstallRelease(_ store: Store, _ request: InstallRequest) async throws {
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
            try await Task.sleep(for: configuration.pollInterval)
        }
        try await driver.installRelease(request)
    }

    private func waitUntilReady(_ store: Store) async throws {
        let startedAt = store.provisioningStartedAt ?? Date()
        let deadlineSeconds = Self.seconds(configuration.deadline)
        while true {
            try Task.checkCancellation()
            switch try await driver.readiness(namespace: store.namespace, release: store.release) {
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
                try await Task.sleep(for: .milliseconds(Int64(max(1, wait * 1000))))
            }
        }
    }

    /// Polls until the namespace is gone; one stuck Terminating fails the delete with
    /// what it still waits for.
    private func waitUntilNamespaceGone(_ namespace: String) async throws {
        let started = ContinuousClock.now
        while let phase = try await driver.namespacePhase(namespace) {
            let waited = ContinuousClock.now - started
            if waited >= configuration.cleanupTimeout {
                let detail = if case .terminating(_, let detail) = phase { detail } else { "not terminating" }
                throw ProvisioningFailure(
                    String(format: "namespace %@ is still there %.0f s after its deletion was requested (%@)", namespace, Self.seconds(waited), detail)
                )
            }
            try await Task.sleep(for: configuration.pollInterval)
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    /// Uninstall, then delete the namespace: either alone still cleans up what
    /// the other missed. The store is deleted once its namespace is gone.
    private func runDeletion(_ store: Store, action: String) async {
        var uninstallProblem: String?
        do {
            try await driver.uninstallRelease(namespace: store.namespace, release: store.release)
        } catch {
            if Task.isCancelled { return }
            uninstallProblem = Self.reason(error)
        }
        do {
            try Task.checkCancellation()
            try await driver.deleteNamespace(store.namespace)
            try await waitUntilNamespaceGone(store.namespace)
            let message = uninstallProblem.map { "release uninstall failed (\($0)); deleting the namespace removed everything" } ?? ""
            _ = try await commit(store.id, to: .deleted, expectedFrom: [.deleting], action: action, actor: "system", message: message) {
                $0.deletedAt = Date()
            }
        } catch is CancellationError {
            return
        } catch let error as PlatformError {
            logger.error("cannot record deletion", metadata: ["store": "\(store.id)", "error": "\(error)"])
        } catch {
            if Task.isCancelled { return }
            let reason = "delete failed: " + [uninstallProblem, Self.reason(error)].compactMap { $0 }.joined(separator: "; ")
                + "; delete the store again to retry"
            do {
                _ = try await commit(store.id, to: .failed, expectedFrom: [.deleting], action: "fail", actor: "system", message: reason) {
                    $0.errorMessage = reason
                }
            } catch {
                logger.error("cannot record failure", metadata: ["store": "\(store.id)", "error": "\(error)"])
            }
        }
    }

    // MARK: Helpers

    private func existingStore(_ storeID: String) async throws -> Store {
        guard let store = try await database.store(id: storeID) else {
            throw PlatformError(.notFound, "no store with id \"\(storeID)\"")
        }
        return store
    }

    /// One transaction (status + audit row); the database announces it to watchers.
    private func commit(
        _ storeID: String,
        to status: StoreStatus,
        expectedFrom: Set<StoreStatus>? = nil,
        action: String,
        actor: String,
        message: String = "",
        requestID: String? = nil,
        update: @escaping @Sendable (inout Store) -> Void = { _ in }
    ) async throws -> Transition {
        try await database.transition(
            storeID: storeID, to: status, expectedFrom: expectedFrom, action: action, actor: actor,
            message: message, requestID: requestID, update: update
        )
    }

    private static func reason(_ error: any Error) -> String {
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
