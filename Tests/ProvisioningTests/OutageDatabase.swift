import Foundation
import Synchronization

import StoreCore
import StoreDatabase

/// A ``StoreDatabase`` that can be made unreachable: it passes every call to `base`
/// (a SQLiteStoreDatabase) until an outage begins, then fails every call with
/// UNAVAILABLE naming the database, as `PostgresStoreDatabase` does while its server
/// is down, until ``restore()``. An outage begins with ``goDownNow()``, or at the
/// first transition that a trigger set with ``goDown(at:lastingCalls:)`` matches
/// (that transition is refused, nothing of it written).
final class OutageDatabase: StoreDatabase {
    private struct State {
        var down = false
        /// Calls refused so far, in all outages.
        var refused = 0
        /// Refused calls left before the database answers again by itself; nil: until
        /// ``restore()``.
        var callsLeft: Int?
        var trigger: (match: @Sendable (StatusChange) -> Bool, lasting: Int?)?
    }

    let base: any StoreDatabase
    private let state = Mutex(State())

    init(_ base: any StoreDatabase) {
        self.base = base
    }

    /// The refusal every call gets during an outage, worded as the PostgreSQL backend
    /// words it.
    var unavailable: PlatformError {
        PlatformError(.unavailable, "the store database \(location) cannot be reached: an outage made by the test; try again once it is back")
    }

    /// The next transition `match` accepts begins an outage of `lasting` refused calls
    /// (that transition included), or one until ``restore()`` when nil.
    func goDown(at match: @escaping @Sendable (StatusChange) -> Bool, lastingCalls lasting: Int? = nil) {
        state.withLock { $0.trigger = (match, lasting) }
    }

    /// An outage from now until ``restore()``.
    func goDownNow() {
        state.withLock {
            $0.down = true
            $0.callsLeft = nil
        }
    }

    /// The database answers again.
    func restore() {
        state.withLock {
            $0.down = false
            $0.callsLeft = nil
            $0.trigger = nil
        }
    }

    var isDown: Bool { state.withLock { $0.down } }
    var refusedCalls: Int { state.withLock { $0.refused } }

    /// Throws ``unavailable`` while the database is down (starting an outage first
    /// when `change` matches the trigger).
    private func gate(_ change: StatusChange? = nil) throws {
        let refuse = state.withLock { state -> Bool in
            if let change, let trigger = state.trigger, trigger.match(change) {
                state.trigger = nil
                state.down = true
                state.callsLeft = trigger.lasting
            }
            guard state.down else { return false }
            state.refused += 1
            if let left = state.callsLeft {
                state.callsLeft = left - 1
                if left - 1 <= 0 {
                    state.down = false
                    state.callsLeft = nil
                }
            }
            return true
        }
        if refuse { throw unavailable }
    }

    var backend: String { base.backend }
    var location: String { base.location }
    var writeGeneration: UInt64 { base.writeGeneration }

    func observeCommits(_ observer: @escaping @Sendable (Transition) -> Void) {
        base.observeCommits(observer)
    }

    func checkAvailable() async throws {
        try gate()
        try await base.checkAvailable()
    }

    func close() async {
        await base.close()
    }

    func createStore(_ store: Store, maxLiveStores: Int, requestedBy: String, idempotencyKey: String?, requestID: String?) async throws
        -> CreateOutcome
    {
        try gate()
        return try await base.createStore(
            store, maxLiveStores: maxLiveStores, requestedBy: requestedBy, idempotencyKey: idempotencyKey, requestID: requestID
        )
    }

    func importStores(_ stores: [Store], actor: String) async throws {
        try gate()
        try await base.importStores(stores, actor: actor)
    }

    func transition(_ change: StatusChange) async throws -> Transition {
        try gate(change)
        return try await base.transition(change)
    }

    func update(storeID: String, _ update: @escaping @Sendable (inout Store) -> Void) async throws -> Store {
        try gate()
        return try await base.update(storeID: storeID, update)
    }

    func store(id: String) async throws -> Store? {
        try gate()
        return try await base.store(id: id)
    }

    func storeRevisions(storeID: String) async throws -> [StoreRevision] {
        try gate()
        return try await base.storeRevisions(storeID: storeID)
    }

    func liveStore(named name: String) async throws -> Store? {
        try gate()
        return try await base.liveStore(named: name)
    }

    func stores(ids: Set<String>) async throws -> [String: Store] {
        try gate()
        return try await base.stores(ids: ids)
    }

    func listStores(statuses: Set<StoreStatus>, nameContains: String, pageSize: Int, pageToken: String) async throws -> (stores: [Store], nextPageToken: String) {
        try gate()
        return try await base.listStores(statuses: statuses, nameContains: nameContains, pageSize: pageSize, pageToken: pageToken)
    }

    func stores(inStatuses statuses: Set<StoreStatus>) async throws -> [Store] {
        try gate()
        return try await base.stores(inStatuses: statuses)
    }

    func liveStoreCount() async throws -> Int {
        try gate()
        return try await base.liveStoreCount()
    }

    func listAudit(limit: Int, pageToken: String, storeID: String?) async throws -> (events: [AuditEvent], nextPageToken: String) {
        try gate()
        return try await base.listAudit(limit: limit, pageToken: pageToken, storeID: storeID)
    }

    func auditEvents(after afterID: Int64, storeID: String?, limit: Int) async throws -> [AuditEvent] {
        try gate()
        return try await base.auditEvents(after: afterID, storeID: storeID, limit: limit)
    }

    func activityTimes(since: Date, amongLast scanLimit: Int) async throws -> [(activity: Activity, time: Date)] {
        try gate()
        return try await base.activityTimes(since: since, amongLast: scanLimit)
    }

    func recentFailures(limit: Int) async throws -> [RecentFailure] {
        try gate()
        return try await base.recentFailures(limit: limit)
    }

    func auditCount(storeID: String?) async throws -> Int {
        try gate()
        return try await base.auditCount(storeID: storeID)
    }

    func countsByStatus() async throws -> [StoreStatus: Int] {
        try gate()
        return try await base.countsByStatus()
    }

    func provisioningDurationStats() async throws -> DurationStats {
        try gate()
        return try await base.provisioningDurationStats()
    }

    func acquireLease(_ name: String, owner: String, kind: String, ttl: Duration) async throws -> LeaseOutcome {
        try gate()
        return try await base.acquireLease(name, owner: owner, kind: kind, ttl: ttl)
    }

    func renewLeases(_ names: [String], owner: String, ttl: Duration) async throws -> Set<String> {
        try gate()
        return try await base.renewLeases(names, owner: owner, ttl: ttl)
    }

    func releaseLease(_ name: String, owner: String) async throws -> Bool {
        try gate()
        return try await base.releaseLease(name, owner: owner)
    }

    func activeLeases() async throws -> [Lease] {
        try gate()
        return try await base.activeLeases()
    }

    func storedLimits() async throws -> [String: Int] {
        try gate()
        return try await base.storedLimits()
    }

    func storeLimits(_ limits: [String: Int]) async throws {
        try gate()
        try await base.storeLimits(limits)
    }

    func takeRateTokens(identity: String, limits: RateLimits, isCreate: Bool) async throws -> SharedRateTake {
        try gate()
        return try await base.takeRateTokens(identity: identity, limits: limits, isCreate: isCreate)
    }

    func forgetFullRateBuckets() async throws {
        try gate()
        try await base.forgetFullRateBuckets()
    }

    func insertFleetUpgrade(_ fleet: FleetUpgrade) async throws {
        try gate()
        try await base.insertFleetUpgrade(fleet)
    }

    func fleetUpgrade(id: String) async throws -> StoredFleetUpgrade? {
        try gate()
        return try await base.fleetUpgrade(id: id)
    }

    func activeFleetUpgrade() async throws -> StoredFleetUpgrade? {
        try gate()
        return try await base.activeFleetUpgrade()
    }

    func latestFleetUpgrades(limit: Int) async throws -> [StoredFleetUpgrade] {
        try gate()
        return try await base.latestFleetUpgrades(limit: limit)
    }

    func replaceFleetUpgrade(_ fleet: FleetUpgrade, generation: Int64) async throws -> Int64? {
        try gate()
        return try await base.replaceFleetUpgrade(fleet, generation: generation)
    }

    func leaseReleases() -> AsyncStream<String> {
        base.leaseReleases()
    }

    func reconcileRequestEvents() -> AsyncStream<ReconcileRequestEvent>? {
        base.reconcileRequestEvents()
    }

    func requestReconcile(by replica: String) async throws -> Int64 {
        try gate()
        return try await base.requestReconcile(by: replica)
    }

    func pendingReconcileRequests() async throws -> [Int64] {
        try gate()
        return try await base.pendingReconcileRequests()
    }

    func answerReconcileRequests(_ ids: [Int64], report: String, by replica: String) async throws {
        try gate()
        try await base.answerReconcileRequests(ids, report: report, by: replica)
    }

    func reconcileAnswer(_ id: Int64) async throws -> ReconcileAnswer? {
        try gate()
        return try await base.reconcileAnswer(id)
    }
}
