import Foundation
import Logging
import NIOCore
import Provisioning
import StoreCore
import StoreDatabase
import StorePlatformProto
import StoreRPC
import Synchronization

/// The service layer: one handler per RPC, shared by every transport. The RPC
/// server reaches it through ``makeRouter()``; the HTTP gateway calls the same
/// methods in-process. Every transport hands each call over as a ``CallContext``:
/// who the caller is (a ``Principal``), the request's id, its idempotency key;
/// each handler first asks ``access`` whether that caller may call it (and, for a
/// retry or delete, change that store), then applies the guards (rate limit per
/// caller, validation, quota, transition table, operation lock) through the
/// provisioner and the database. A refusal is PERMISSION_DENIED saying what was
/// missing. The role is checked before the rate limit, so a role refusal costs no
/// budget; so are a create's name and engine; the owner after it (the store must be
/// read), as one request, never a create.
///
/// Every caller is at least a viewer, so the reads check nothing but the rate
/// limit; changes need the operator role, the admin methods the admin role.
public final class ControlPlane: Sendable {
    public let info: DaemonInfo
    // Reached through the methods below only: every transport goes through them.
    let provisioner: Provisioner
    let reconciler: Reconciler
    let rateLimiter: RateLimiter
    /// Runs fleet upgrades; a service the daemon runs.
    public let fleetUpgrader: FleetUpgrader
    /// Whether the database answers, for Health; a service the daemon runs.
    public let databaseAvailability: DatabaseAvailability
    /// Who may do what; replaced as a whole by ``replaceAccess(_:)`` (SIGHUP).
    public var access: AccessPolicy { accessPolicy.withLock { $0 } }
    private let accessPolicy: Mutex<AccessPolicy>
    private let startedAt: NIODeadline
    private let healthAnswer: HealthAnswer
    private let maxLiveStores: Atomic<Int>
    private let quotaRefusals = Atomic<Int>(0)
    /// The live store count a refused create last read, until the next write
    /// (one key: there is one count).
    private let liveCounts = GenerationCache<Int, Int>(capacity: 1)
    private let logger: Logger
    /// The most transitions one resumed watch replays; a watcher further behind is
    /// told it fell behind after them and resumes from there.
    public let replayLimit: Int

    /// Makes `policy` decide every call from now on (calls already admitted keep
    /// the decision they got).
    public func replaceAccess(_ policy: AccessPolicy) {
        accessPolicy.withLock { $0 = policy }
    }

    public init(
        info: DaemonInfo,
        provisioner: Provisioner,
        reconciler: Reconciler,
        rateLimiter: RateLimiter,
        access: AccessPolicy = AccessPolicy(adminUIDs: [0, UInt32(getuid())]),
        maxLiveStores: Int,
        replayLimit: Int = ControlPlane.defaultReplayLimit,
        fleetUpgrader: FleetUpgrader? = nil,
        logger: Logger
    ) {
        self.replayLimit = max(1, replayLimit)
        self.fleetUpgrader = fleetUpgrader ?? FleetUpgrader(provisioner: provisioner, logger: logger)
        self.info = info
        self.provisioner = provisioner
        self.reconciler = reconciler
        self.rateLimiter = rateLimiter
        self.databaseAvailability = DatabaseAvailability(database: provisioner.database, logger: logger)
        self.accessPolicy = Mutex(access)
        self.maxLiveStores = Atomic(maxLiveStores)
        self.startedAt = .now()
        // Serializing a message of strings, a bool and numbers cannot fail.
        self.healthAnswer = try! HealthAnswer(Self.health(info, deadline: provisioner.deadline, problem: "", uptime: 0))
        self.logger = logger
    }

    var database: any StoreDatabase { provisioner.database }

    /// The service that keeps this replica's limits at what UpdateLimits stored (and
    /// forgets the full rate buckets every `pruneInterval` while this replica leads
    /// the reconciler).
    public func makeLimitsFollower(pruneInterval: Duration = LimitsFollower.pruneInterval) -> LimitsFollower {
        LimitsFollower(controlPlane: self, database: database, pruneInterval: pruneInterval, logger: logger)
    }

    // MARK: PlatformService

    /// Seconds since this control plane was made (the daemon's uptime).
    public var uptimeSeconds: Double {
        Double(uptimeNanoseconds) / 1e9
    }

    private var uptimeNanoseconds: UInt64 {
        NIODeadline.now().uptimeNanoseconds - startedAt.uptimeNanoseconds
    }

    /// Readiness and identity: NOT_SERVING while the database does not answer
    /// (``DatabaseAvailability``'s last check). Touches no database, so it stays cheap.
    public func health() -> Storeplatform_V1_HealthResponse {
        Self.health(info, deadline: provisioner.deadline, problem: databaseAvailability.problem, uptime: uptimeSeconds)
    }

    private static func health(
        _ info: DaemonInfo, deadline: Duration, problem: String, uptime: Double
    ) -> Storeplatform_V1_HealthResponse {
        var response = Storeplatform_V1_HealthResponse()
        response.status = problem.isEmpty ? "SERVING" : "NOT_SERVING"
        response.databaseProblem = problem
        response.version = info.version
        response.uptimeSeconds = uptime
        response.clusterDriver = info.clusterDriver.rawValue
        response.clusterSimulated = info.clusterSimulated
        response.startedAtMs = info.startedAtMilliseconds
        response.database = info.database
        response.provisionDeadlineMs = deadline.wholeMilliseconds
        return response
    }

    /// ``health()`` serialized, as the RPC server answers it on the event loop:
    /// while the database answers, the pre-encoded answer with the uptime spliced
    /// in (``HealthAnswer``), no message built.
    func encodedHealth() throws -> ByteBuffer {
        guard databaseAvailability.isAvailable else {
            let bytes: [UInt8] = try health().serializedBytes()
            return ByteBuffer(bytes: bytes)
        }
        return healthAnswer.encoded(uptimeNanoseconds: uptimeNanoseconds)
    }

    /// GetMetrics (and `/api/metrics`): the caller's rate limit, then the
    /// snapshot's response with the recent failures and the last hour's activity,
    /// which only this call reads (a Prometheus scrape needs neither).
    public func metrics(_ call: CallContext) async throws -> Storeplatform_V1_GetMetricsResponse {
        try await rateLimiter.check(identity: call.caller.description, isCreate: false)
        var response = try await metricsSnapshot().response
        response.recentFailures = try await recentFailures()
        response.lastHour = try await lastHour(now: Date())
        return response
    }

    /// Everything the platform's metrics report that a Prometheus scrape reads too:
    /// GetMetrics, `/api/metrics` and the gateway's `/metrics` all start from it.
    public struct MetricsSnapshot: Sendable {
        /// GetMetrics' answer without `recent_failures` and `last_hour`: store counts
        /// and durations from the database (every replica's), and this replica's
        /// counters (platform.proto says which).
        public var response: Storeplatform_V1_GetMetricsResponse
        /// This replica's provisioning durations, queued to ready, recorded by its
        /// provisioner as each store became ready.
        public var provisioningDurations: DurationBuckets.Snapshot
    }

    /// A ``MetricsSnapshot`` now. Not rate-limited: a scrape is not a caller's call.
    public func metricsSnapshot() async throws -> MetricsSnapshot {
        var response = Storeplatform_V1_GetMetricsResponse()
        let counts = try await database.countsByStatus()
        response.storesByStatus = StoreStatus.allCases.map { status in
            var count = Storeplatform_V1_StatusCount()
            count.status = status.proto
            count.count = UInt64(counts[status] ?? 0)
            return count
        }
        let stats = try await database.provisioningDurationStats()
        response.provisioning.count = UInt64(stats.count)
        response.provisioning.avgMs = stats.averageMilliseconds
        response.provisioning.minMs = stats.minimumMilliseconds
        response.provisioning.maxMs = stats.maximumMilliseconds
        response.provisioning.p50Ms = stats.p50Milliseconds
        response.provisioning.p95Ms = stats.p95Milliseconds
        response.rateLimitedTotal = UInt64(rateLimiter.refusals)
        response.quotaRefusalsTotal = UInt64(quotaRefusals.load(ordering: .relaxed))
        // Every replica's, as `storectl operations` lists them (the leader's lease is none).
        response.activeOperations = UInt64(try await database.activeLeases().filter { $0.storeID != nil }.count)
        let totals = reconciler.totals
        response.reconcilePasses = UInt64(totals.passes)
        response.reconcileCorrections = UInt64(totals.corrections)
        response.maxLiveStores = UInt32(clamping: maxLiveStores.load(ordering: .relaxed))
        let durations = provisioner.provisioningDurations.snapshot
        response.provisioningBuckets = durations.buckets
        return MetricsSnapshot(response: response, provisioningDurations: durations)
    }

    /// The last 10 failures (transitions to failed), newest first, each with what
    /// followed it (the store's next transition: a retry or a delete; none while it
    /// is still failed) and its status now, in one read.
    private func recentFailures() async throws -> [Storeplatform_V1_FailureRecord] {
        try await database.recentFailures(limit: 10).map { recent in
            var failure = Storeplatform_V1_FailureRecord()
            failure.storeID = recent.event.storeID
            failure.storeName = recent.event.storeName
            failure.reason = recent.event.message
            failure.summary = FailureHeadline.of(recent.event.message)
            failure.timeMs = milliseconds(recent.event.time)
            failure.storeStatus = recent.storeStatus.proto
            // From failed, a store moves on only by a retry (to queued) or a delete.
            failure.resolution = switch recent.followedBy {
            case nil: .open
            case .deleting, .deleted: .deleted
            default: .retried
            }
            return failure
        }
    }

    /// Creates and failures (transitions to failed, as ``recentFailures()`` counts
    /// them) in twelve five-minute spans ending at `now`, oldest first, from the
    /// latest 10,000 audit rows (a bounded read), in one read.
    private func lastHour(now: Date) async throws -> [Storeplatform_V1_ActivityBucket] {
        let span: TimeInterval = 300
        let start = now.addingTimeInterval(-12 * span)
        var buckets = (0..<12).map { index in
            var bucket = Storeplatform_V1_ActivityBucket()
            bucket.startMs = milliseconds(start.addingTimeInterval(Double(index) * span))
            return bucket
        }
        for (activity, time) in try await database.activityTimes(since: start, amongLast: 10_000) {
            let index = min(11, max(0, Int(time.timeIntervalSince(start) / span)))
            switch activity {
            case .create: buckets[index].creates += 1
            case .failure: buckets[index].failures += 1
            }
        }
        return buckets
    }

    public func listAudit(_ request: Storeplatform_V1_ListAuditRequest, _ call: CallContext) async throws -> Storeplatform_V1_ListAuditResponse {
        try await rateLimiter.check(identity: call.caller.description, isCreate: false)
        let page = try await database.listAudit(
            limit: Int(request.limit), pageToken: request.pageToken, storeID: request.storeID.isEmpty ? nil : request.storeID
        )
        var response = Storeplatform_V1_ListAuditResponse()
        response.events = page.events.map(\.proto)
        response.nextPageToken = page.nextPageToken
        return response
    }

    // MARK: StoreService

    /// Creates a store owned by the caller, an operator. Its idempotency key (nil or empty: none) must follow
    /// ``RequestMetadata/idempotencyKey``; a bad one is INVALID_ARGUMENT before anything
    /// else, the rate limit included.
    public func createStore(
        _ request: Storeplatform_V1_CreateStoreRequest, _ call: CallContext
    ) async throws -> Storeplatform_V1_CreateStoreResponse {
        try RequestMetadata.idempotencyKey.check(call.idempotencyKey)
        try authorize(.operator, call.caller, "CreateStore")
        // Checked before the rate limit, so a mistyped name or engine costs no create.
        _ = try StoreName.validate(request.name)
        _ = try StoreEngines.resolve(request.engine)
        try await checkCreateRate(call.caller)
        do {
            var response = Storeplatform_V1_CreateStoreResponse()
            response.store = try await provisioner.create(
                name: request.name, engine: request.engine, actor: call.caller.description, requestID: call.requestID,
                idempotencyKey: call.idempotencyKey,
                maxLiveStores: maxLiveStores.load(ordering: .relaxed)
            ).proto
            return response
        } catch let error as PlatformError where error.code == .quotaExceeded {
            quotaRefusals.add(1, ordering: .relaxed)
            throw error
        }
    }

    /// The caller's create budget. When it is spent and the quota is full as well,
    /// the refusal is the quota's: waiting for the rate limit would only lead to it.
    /// Either way it is counted once, under the code the caller gets. The live count
    /// is read only for a refused create, and then at most once per write to the
    /// database (``liveCounts``), so a burst of refused creates does not become a
    /// burst of database reads.
    private func checkCreateRate(_ caller: Principal) async throws {
        do {
            try await rateLimiter.check(identity: caller.description, isCreate: true, countsRefusal: false)
        } catch let error as PlatformError where error.code == .rateLimited {
            let limit = maxLiveStores.load(ordering: .relaxed)
            let live = try await liveStoreCount()
            guard live >= limit else {
                rateLimiter.countRefusal()
                throw error
            }
            quotaRefusals.add(1, ordering: .relaxed)
            throw PlatformError.quotaExceeded(limit: limit, live: live)
        }
    }

    /// How many stores are live, as of this replica's last write to the database.
    private func liveStoreCount() async throws -> Int {
        let generation = database.writeGeneration
        if let live = liveCounts.value(for: 0, generation: generation) { return live }
        let live = try await database.liveStoreCount()
        liveCounts.store(live, for: 0, generation: generation)
        return live
    }

    public func getStore(_ request: Storeplatform_V1_GetStoreRequest, _ call: CallContext) async throws -> Storeplatform_V1_GetStoreResponse {
        try await rateLimiter.check(identity: call.caller.description, isCreate: false)
        var response = Storeplatform_V1_GetStoreResponse()
        response.store = try await requestedStore(request).proto
        return response
    }

    /// GetStore's store: by id (any status), or the live store with that name.
    private func requestedStore(_ request: Storeplatform_V1_GetStoreRequest) async throws -> Store {
        try await requestedStore(id: request.id, name: request.name)
    }

    /// The store a request names: by `id` (any status), or the live store named
    /// `name`; exactly one of them given (INVALID_ARGUMENT otherwise).
    func requestedStore(id: String, name: String) async throws -> Store {
        switch (id.isEmpty, name.isEmpty) {
        case (false, true):
            return try await existingStore(id)
        case (true, false):
            guard let store = try await database.liveStore(named: name) else {
                throw PlatformError(
                    .notFound, "no live store is named \(name.quotedForMessage); a deleted store is found by its id only"
                )
            }
            return store
        case (false, false):
            throw PlatformError(.invalidArgument, "give the store's id or its name, not both")
        case (true, true):
            throw PlatformError(
                .invalidArgument, "id or name is required: the store's id, as CreateStore or ListStores return it, or the name of a live store"
            )
        }
    }

    public func listStores(_ request: Storeplatform_V1_ListStoresRequest, _ call: CallContext) async throws -> Storeplatform_V1_ListStoresResponse {
        try await rateLimiter.check(identity: call.caller.description, isCreate: false)
        return try await page(request)
    }

    /// ``listStores(_:_:)`` rendered by `render` (the gateway's JSON), served
    /// from `cache` when the same page was rendered since the last write. The rate
    /// limit applies to every call; only the read and the rendering are saved.
    public func listStores<Rendered: Sendable>(
        _ request: Storeplatform_V1_ListStoresRequest, _ call: CallContext,
        cache: GenerationCache<Storeplatform_V1_ListStoresRequest, Rendered>,
        render: (Storeplatform_V1_ListStoresResponse) throws -> Rendered
    ) async throws -> Rendered {
        try await rateLimiter.check(identity: call.caller.description, isCreate: false)
        let generation = database.writeGeneration
        if let cached = cache.value(for: request, generation: generation) { return cached }
        let rendered = try await render(page(request))
        cache.store(rendered, for: request, generation: generation)
        return rendered
    }

    private func page(_ request: Storeplatform_V1_ListStoresRequest) async throws -> Storeplatform_V1_ListStoresResponse {
        let statuses = try Set(request.statuses.map(StoreStatus.init(proto:)))
        guard StoreName.canContain(request.nameContains) else {
            throw PlatformError(
                .invalidArgument,
                "name_contains \(request.nameContains.quotedForMessage) cannot be part of a store name: names hold only "
                    + "lower-case letters a-z, digits 0-9 and '-', at most \(StoreName.maxLength) characters"
            )
        }
        let page = try await database.listStores(
            statuses: statuses, nameContains: request.nameContains, pageSize: Int(request.pageSize), pageToken: request.pageToken
        )
        var response = Storeplatform_V1_ListStoresResponse()
        response.stores = page.stores.map(\.proto)
        response.nextPageToken = page.nextPageToken
        return response
    }

    public func deleteStore(_ request: Storeplatform_V1_DeleteStoreRequest, _ call: CallContext) async throws
        -> Storeplatform_V1_DeleteStoreResponse
    {
        try await checkChange(of: request.id, by: call.caller, "DeleteStore")
        var response = Storeplatform_V1_DeleteStoreResponse()
        response.store = try await provisioner.delete(storeID: request.id, actor: call.caller.description, requestID: call.requestID).proto
        return response
    }

    public func retryStore(_ request: Storeplatform_V1_RetryStoreRequest, _ call: CallContext) async throws
        -> Storeplatform_V1_RetryStoreResponse
    {
        try await checkChange(of: request.id, by: call.caller, "RetryStore")
        var response = Storeplatform_V1_RetryStoreResponse()
        response.store = try await provisioner.retry(storeID: request.id, actor: call.caller.description, requestID: call.requestID).proto
        return response
    }

    /// Starts upgrading a ready store (by id, or a live store's name) to another
    /// engine version; the caller must be an operator that may change the store.
    public func upgradeStore(
        _ request: Storeplatform_V1_UpgradeStoreRequest, _ call: CallContext
    ) async throws -> Storeplatform_V1_UpgradeStoreResponse {
        let store = try await storeToChange(id: request.id, name: request.name, by: call.caller, "UpgradeStore")
        var response = Storeplatform_V1_UpgradeStoreResponse()
        response.store = try await provisioner.upgrade(
            storeID: store.id, to: request.version, actor: call.caller.description, requestID: call.requestID
        ).proto
        return response
    }

    /// Starts rolling a ready store back to an earlier revision, as a new revision.
    public func rollbackStore(
        _ request: Storeplatform_V1_RollbackStoreRequest, _ call: CallContext
    ) async throws -> Storeplatform_V1_RollbackStoreResponse {
        let store = try await storeToChange(id: request.id, name: request.name, by: call.caller, "RollbackStore")
        var response = Storeplatform_V1_RollbackStoreResponse()
        response.store = try await provisioner.rollback(
            storeID: store.id, to: Int(request.revision), actor: call.caller.description, requestID: call.requestID
        ).proto
        return response
    }

    /// An operator's change of store `id`: the caller's role, its rate and its right
    /// to change that store, checked in that order.
    private func checkChange(of id: String, by caller: Principal, _ method: String) async throws {
        try authorize(.operator, caller, method)
        try await rateLimiter.check(identity: caller.description, isCreate: false)
        try await authorizeChange(of: id, by: caller, method)
    }

    /// The store an operator's change names (by id, or a live store's name), once the
    /// caller's role, its rate and its right to change that store are checked.
    private func storeToChange(id: String, name: String, by caller: Principal, _ method: String) async throws -> Store {
        try authorize(.operator, caller, method)
        try await rateLimiter.check(identity: caller.description, isCreate: false)
        let store = try await requestedStore(id: id, name: name)
        try await authorizeChange(of: store.id, by: caller, method)
        return store
    }

    /// What ``watchStores(_:_:)`` checks before subscribing (the rate limit,
    /// and that a named store exists), without subscribing; the named store.
    public func checkWatch(_ request: Storeplatform_V1_WatchStoresRequest, _ call: CallContext) async throws -> Store? {
        try await rateLimiter.check(identity: call.caller.description, isCreate: false)
        return request.storeID.isEmpty ? nil : try await existingStore(request.storeID)
    }

    /// The most transitions one resumed watch replays unless configured otherwise.
    public static let defaultReplayLimit = 5000

    /// Committed transitions from now on, optionally of one store, until the
    /// consumer stops. When a store is named (it must exist), the stream starts
    /// with its current state (action "current"), read after subscribing, so a
    /// watcher never misses a change between looking and listening. With
    /// `after_audit_id`, it starts instead with the transitions committed after
    /// that id (read page by page after subscribing, see ``StoreWatch/replay(_:)``;
    /// live events already replayed are to be skipped by id).
    public func watchStores(_ request: Storeplatform_V1_WatchStoresRequest, _ call: CallContext) async throws -> StoreWatch {
        guard request.afterAuditID >= 0 else {
            throw PlatformError(.invalidArgument, "after_audit_id must not be negative; 0 watches from now on")
        }
        let before = try await checkWatch(request, call)
        let changes = provisioner.events.subscribe(storeID: before == nil ? nil : request.storeID)
        // Nothing may throw from here on, or the subscription would outlive the call.
        let storeID = before == nil ? nil : request.storeID
        func watch(current: StoreEvent?) -> StoreWatch {
            StoreWatch(
                current: current, resumedAfter: request.afterAuditID, changes: changes,
                includesProgress: request.includeProgress, replayLimit: replayLimit
            ) { [self] after, limit in
                try await storeEvents(after: after, storeID: storeID, limit: limit)
            }
        }
        guard request.afterAuditID == 0, let before else { return watch(current: nil) }
        let store = (try? await database.store(id: request.storeID)) ?? before
        return watch(current: StoreEvent(
            store: store, fromStatus: store.status, toStatus: store.status, action: .current, auditID: 0, time: store.updatedAt
        ))
    }

    /// The transitions committed after audit row `auditID`, oldest first, at most
    /// `limit`, optionally of one store: what a watcher that fell behind, or lost its
    /// connection, missed. Each carries the store as it is now (the audit log keeps
    /// the transition, not the whole store at the time).
    public func storeEvents(after auditID: Int64, storeID: String?, limit: Int) async throws -> [StoreEvent] {
        let rows = try await database.auditEvents(after: auditID, storeID: storeID, limit: limit)
        let stores = try await database.stores(ids: Set(rows.map(\.storeID)))
        return rows.compactMap { row in
            guard let store = stores[row.storeID], let toStatus = row.toStatus else { return nil }
            return StoreEvent(store: store, fromStatus: row.fromStatus, toStatus: toStatus, action: row.action, auditID: row.id, time: row.time)
        }
    }

    // MARK: AdminService

    public func reconcile(_ call: CallContext) async throws -> Storeplatform_V1_ReconcileResponse {
        try authorize(.admin, call.caller, "Reconcile")
        let (report, replica) = try await reconciler.reconcileNow()
        var response = Storeplatform_V1_ReconcileResponse()
        response.corrections = report.corrections.map { correction in
            var proto = Storeplatform_V1_Correction()
            proto.storeID = correction.storeID
            proto.storeName = correction.storeName
            proto.fromStatus = correction.from.proto
            proto.toStatus = correction.to.proto
            proto.reason = correction.reason
            return proto
        }
        response.orphanNamespaces = report.orphanNamespaces
        response.deletedOrphans = report.deletedOrphans
        response.durationMs = report.durationMilliseconds
        response.storesExamined = UInt64(report.storesExamined)
        response.replica = replica
        return response
    }

    /// Every replica's running store operations, from their leases in the database.
    public func listOperations(_ call: CallContext) async throws -> Storeplatform_V1_ListOperationsResponse {
        try authorize(.admin, call.caller, "ListOperations")
        let leases = try await database.activeLeases().filter { $0.storeID != nil }
        let stores = try await database.stores(ids: Set(leases.compactMap(\.storeID)))
        var response = Storeplatform_V1_ListOperationsResponse()
        response.operations = leases.sorted { ($0.acquiredAt, $0.name) < ($1.acquiredAt, $1.name) }.map { lease in
            var operation = Storeplatform_V1_Operation()
            operation.storeID = lease.storeID ?? ""
            operation.storeName = stores[operation.storeID]?.name ?? ""
            operation.kind = lease.kind
            operation.startedAtMs = milliseconds(lease.acquiredAt)
            operation.replica = lease.owner
            operation.leaseExpiresAtMs = milliseconds(lease.expiresAt)
            return operation
        }
        return response
    }

    /// The limits in force, for an admin (GetLimits).
    public func limits(_ call: CallContext) throws -> Storeplatform_V1_Limits {
        try authorize(.admin, call.caller, "GetLimits")
        return limits()
    }

    func limits() -> Storeplatform_V1_Limits {
        var limits = Storeplatform_V1_Limits()
        limits.maxLiveStores = UInt32(clamping: maxLiveStores.load(ordering: .relaxed))
        let rates = rateLimiter.limits
        limits.requestsPerMinute = UInt32(clamping: rates.requestsPerMinute)
        limits.createsPerMinute = UInt32(clamping: rates.createsPerMinute)
        limits.maxConcurrentProvisions = UInt32(clamping: provisioner.maxConcurrentProvisions)
        return limits
    }

    /// Applies the fields that are set; each must be at least 1. They are stored in
    /// the database first: they outlive a restart (over the flags) and reach every
    /// replica within ``LimitsFollower/interval``.
    public func updateLimits(_ request: Storeplatform_V1_UpdateLimitsRequest, _ call: CallContext) async throws -> Storeplatform_V1_Limits {
        try authorize(.admin, call.caller, "UpdateLimits")
        let fields: [(String, Bool, UInt32)] = [
            (LimitName.maxLiveStores, request.hasMaxLiveStores, request.maxLiveStores),
            (LimitName.requestsPerMinute, request.hasRequestsPerMinute, request.requestsPerMinute),
            (LimitName.createsPerMinute, request.hasCreatesPerMinute, request.createsPerMinute),
            (LimitName.maxConcurrentProvisions, request.hasMaxConcurrentProvisions, request.maxConcurrentProvisions),
        ]
        for (name, isSet, value) in fields where isSet && value == 0 {
            throw PlatformError(.invalidArgument, "\(name) must be at least 1")
        }
        var changed: [String: Int] = [:]
        for (name, isSet, value) in fields where isSet { changed[name] = Int(value) }
        try await database.storeLimits(changed)
        apply(changed)
        logger.notice("limits updated", metadata: ["by": "\(call.caller)", "limits": "\(limitsDescription)"])
        return limits()
    }

    /// Puts `stored` limits (by ``LimitName``) in force here; returns whether any changed.
    @discardableResult
    func apply(_ stored: [String: Int]) -> Bool {
        var changed = false
        if let value = stored[LimitName.maxLiveStores], maxLiveStores.exchange(value, ordering: .relaxed) != value { changed = true }
        var rates = rateLimiter.limits
        if let value = stored[LimitName.requestsPerMinute] { rates.requestsPerMinute = value }
        if let value = stored[LimitName.createsPerMinute] { rates.createsPerMinute = value }
        if rates != rateLimiter.limits {
            rateLimiter.update(limits: rates)
            changed = true
        }
        if let value = stored[LimitName.maxConcurrentProvisions], provisioner.maxConcurrentProvisions != value {
            provisioner.setMaxConcurrentProvisions(value)
            changed = true
        }
        return changed
    }

    /// The limits in force, on one line for the log.
    var limitsDescription: String {
        let limits = limits()
        return "\(LimitName.maxLiveStores)=\(limits.maxLiveStores) \(LimitName.requestsPerMinute)=\(limits.requestsPerMinute) "
            + "\(LimitName.createsPerMinute)=\(limits.createsPerMinute) \(LimitName.maxConcurrentProvisions)=\(limits.maxConcurrentProvisions)"
    }

    // MARK: Helpers

    /// Refuses unless `caller` has at least `role`; refusals are logged (the audit
    /// log records status changes only).
    @discardableResult
    func authorize(_ role: Role, _ caller: Principal, _ method: String) throws -> AccessGrant {
        do {
            return try access.require(role, of: caller, for: method)
        } catch let error as PlatformError {
            logger.notice("refused", metadata: ["caller": "\(caller)", "method": "\(method)", "reason": "\(error.message)"])
            throw error
        }
    }

    /// Refuses unless `caller` may change store `id` (retry or delete it): an
    /// operator limited to its own stores must be its owner. NOT_FOUND when there is
    /// no such store.
    private func authorizeChange(of id: String, by caller: Principal, _ method: String) async throws {
        guard access.grant(for: caller).ownStoresOnly else { return try requireID(id) }
        let store = try await existingStore(id)
        do {
            try access.requireChange(of: store, by: caller, for: method)
        } catch let error as PlatformError {
            logger.notice("refused", metadata: ["caller": "\(caller)", "method": "\(method)", "store": "\(id)", "reason": "\(error.message)"])
            throw error
        }
    }

    private func requireID(_ id: String) throws {
        guard !id.isEmpty else { throw PlatformError(.invalidArgument, "id is required: the store's id, as CreateStore or ListStores return it") }
    }

    private func existingStore(_ id: String) async throws -> Store {
        try requireID(id)
        guard let store = try await database.store(id: id) else {
            throw PlatformError.storeNotFound(id)
        }
        return store
    }
}
