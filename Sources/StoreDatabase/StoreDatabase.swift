import Foundation
import StoreCore

/// The platform's store records and audit log: the one storage seam that
/// ControlPlane, Provisioner and Reconciler use (docs/ARCHITECTURE.md,
/// "Persistence"). Two backends keep the same contract, and one test suite
/// (Tests/StoreDatabaseTests) runs against both:
/// - ``SQLiteStoreDatabase``: one SQLite file through GRDB, the embedded default;
/// - `PostgresStoreDatabase` (Sources/PostgresStoreDatabase): PostgreSQL through
///   postgres-nio, for several replicas.
///
/// Every method is async and never blocks the calling thread: the daemon's event
/// loops run Swift's tasks, and a database wait must not stall the connections
/// that share a loop. Every method throws only ``PlatformError``: domain failures
/// with their own codes; a database that cannot be reached as
/// ``ErrorCode/unavailable``, naming the database; anything else unexpected as
/// ``ErrorCode/internalError`` with the database's error as its `cause`.
///
/// A status change and its audit row are written in one transaction, so a crash
/// never leaves one without the other. Dates are kept to the millisecond: values a
/// backend returns are the values it stored, so a store read back equals the store
/// a write returned.
public protocol StoreDatabase: SharedRateBuckets {
    /// Which backend this is, for Health and logs: `sqlite` or `postgresql`.
    var backend: String { get }

    /// Where the data lives, for logs and messages, without any password: a file
    /// path, or a PostgreSQL URL's host, port and database.
    var location: String { get }

    /// How many write transactions this process has run on the database. Read it
    /// *before* a read: while it still has that value, no write of this process has
    /// completed since, so whatever was derived from the read is still current (see
    /// `GenerationCache`).
    var writeGeneration: UInt64 { get }

    /// Sets the one observer of committed status changes: it is called with every
    /// audit row this process writes (a create's, a transition's, an import's) and
    /// the store as saved with it, only after its transaction committed, one call at
    /// a time, in audit-id order. It must return quickly and must not call the
    /// database (the Provisioner publishes to the event bus from here). A watcher
    /// resumes "after the last id it received"; were a lower id announced after a
    /// higher one, a watcher that ended in between would skip it for good.
    func observeCommits(_ observer: @escaping @Sendable (Transition) -> Void)

    /// Answers when the database can be reached and used now (one trivial query);
    /// throws ``ErrorCode/unavailable`` naming the database otherwise. For readiness.
    func checkAvailable() async throws

    /// Releases the connections. Calls after it fail.
    func close() async

    // MARK: Writes

    /// Inserts a new queued store, its `create` audit row (actor `requestedBy`, from
    /// no status to queued, at the store's `createdAt`) and its revision 1 (pending,
    /// its version, "install") in one transaction.
    ///
    /// Inside that same transaction, in this order:
    /// - if `idempotencyKey` is non-empty and this `requestedBy` already created a store
    ///   with it (in any status), returns ``CreateOutcome/existing(_:)`` with that store
    ///   and writes nothing; an empty key counts as no key;
    /// - if a live store (any status but deleted) has the same name, throws
    ///   ``ErrorCode/storeNameTaken`` naming that store and its status;
    /// - if `maxLiveStores` or more stores are live, throws ``ErrorCode/quotaExceeded``.
    ///
    /// The checks hold under any number of concurrent callers: N callers with room
    /// for M stores give exactly M creations. A unique index on live names backs the
    /// name check up (also reported as `storeNameTaken`).
    ///
    /// - Returns: the store as saved (dates to the millisecond) and its audit row.
    /// - Throws: the errors above; ``ErrorCode/internalError`` when `store` is not
    ///   ``StoreStatus/queued`` or its id exists already.
    func createStore(
        _ store: Store,
        maxLiveStores: Int,
        requestedBy: String,
        idempotencyKey: String?,
        requestID: String?
    ) async throws -> CreateOutcome

    /// Inserts stores exactly as given (any status), each with one "import" audit row
    /// from no status to its status, all in one transaction. For seeding a database
    /// (benchmarks, moving from another platform); the usual path for new stores is
    /// ``createStore(_:maxLiveStores:requestedBy:idempotencyKey:requestID:)``.
    /// Throws ``ErrorCode/storeNameTaken`` when two live stores share a name.
    func importStores(_ stores: [Store], actor: String) async throws

    /// Moves a store to another status and writes its audit row, in one transaction,
    /// as ``StatusChange`` describes.
    ///
    /// Loads the store (locking its row); when `expectedFrom` is non-nil, its current
    /// status must be in it (so a background step that raced with another change
    /// fails instead of overwriting it); checks the move against
    /// ``StoreStatus/transitions``; applies `update` to the loaded store; sets
    /// `status` to `to` and `updatedAt` to `now`; saves it and inserts one audit row
    /// (`actor`, `action`, from the old status to `to`, `message`, `requestID`, at
    /// `now`). Either all of it is written or nothing.
    ///
    /// - Returns: the store as saved (dates to the millisecond) and the audit row.
    /// - Throws: ``ErrorCode/notFound`` (`no store with id "…"`) when there is no such
    ///   store; ``ErrorCode/invalidStateTransition`` when the status is not in
    ///   `expectedFrom` or the move is illegal; ``ErrorCode/storeNameTaken`` when
    ///   `update` renames the store to a live store's name; ``ErrorCode/internalError``
    ///   when `update` changes the id.
    func transition(_ change: StatusChange) async throws -> Transition

    /// The store's revisions (``StoreRevision``), newest first; empty for a store
    /// recorded before revisions were, or none with that id.
    func storeRevisions(storeID: String) async throws -> [StoreRevision]

    /// Changes fields of a store without changing its status (an error message, a URL,
    /// a start time) in one transaction, and writes no audit row. Fields change
    /// exactly as `update` sets them: `updatedAt` moves only if `update` moves it.
    ///
    /// - Returns: the store as saved (dates to the millisecond).
    /// - Throws: ``ErrorCode/notFound`` when there is no such store;
    ///   ``ErrorCode/storeNameTaken`` when `update` renames the store to a live
    ///   store's name; ``ErrorCode/internalError`` when `update` changes the id or the
    ///   status (status changes are transitions, which write their audit row).
    func update(storeID: String, _ update: @escaping @Sendable (inout Store) -> Void) async throws -> Store

    // MARK: Stores

    /// The store with this id, in any status (deleted ones too); `nil` if none.
    func store(id: String) async throws -> Store?

    /// The live (not deleted) store with this name; `nil` if none. Names are unique
    /// among live stores, so there is at most one.
    func liveStore(named name: String) async throws -> Store?

    /// The stores with these ids, by id, in one read; ids with no store are left out.
    func stores(ids: Set<String>) async throws -> [String: Store]

    /// One page of stores, newest first (`createdAt` descending, then `id` descending).
    ///
    /// - Parameters:
    ///   - statuses: only stores in these statuses; empty means every status.
    ///   - nameContains: only stores whose name contains this text, byte for byte;
    ///     empty means every name.
    ///   - pageSize: 1...500; 0 means 50.
    ///   - pageToken: "" for the first page, else a `nextPageToken` this method
    ///     returned. Paging is by key (the last row's `createdAt` and `id`), so each
    ///     store appears exactly once across pages even while stores are added.
    /// - Returns: the page and the token of the next one, "" on the last page.
    /// - Throws: ``ErrorCode/invalidArgument`` for a page size out of 0...500 or a token
    ///   this server did not issue (`page token is not one this server issued`).
    func listStores(
        statuses: Set<StoreStatus>,
        nameContains: String,
        pageSize: Int,
        pageToken: String
    ) async throws -> (stores: [Store], nextPageToken: String)

    /// Every store in one of `statuses`, oldest first (`createdAt`, then `id`): what
    /// the reconciler compares with the cluster. An empty set gives no stores.
    func stores(inStatuses statuses: Set<StoreStatus>) async throws -> [Store]

    /// How many stores are live (any status but deleted): what the quota counts.
    func liveStoreCount() async throws -> Int

    // MARK: Audit

    /// One page of the audit log, newest first (descending row id).
    ///
    /// - Parameters:
    ///   - limit: 1...1000; 0 means 50.
    ///   - pageToken: "" for the first page, else a `nextPageToken` this method
    ///     returned: the page continues before that row.
    ///   - storeID: only that store's rows; `nil` means every store.
    /// - Returns: the rows and the token of the next page, "" on the last page.
    /// - Throws: ``ErrorCode/invalidArgument`` for a limit out of 0...1000 or a token
    ///   this server did not issue.
    func listAudit(limit: Int, pageToken: String, storeID: String?) async throws -> (events: [AuditEvent], nextPageToken: String)

    /// Stores' audit rows written after the row `afterID`, oldest first, at most
    /// `limit`: what a watcher that last saw `afterID` missed. A fleet upgrade's steps
    /// are left out (they name no store).
    func auditEvents(after afterID: Int64, storeID: String?, limit: Int) async throws -> [AuditEvent]

    /// The last `limit` audit rows that moved a store to ``StoreStatus/failed``, newest
    /// first, with the reason in their message, each with the store's next
    /// transition after it and its status now, in one read. `limit` 0 or less gives none.
    func recentFailures(limit: Int) async throws -> [RecentFailure]

    /// What each audit row written at or after `since` counts as in the last hour's
    /// activity (a create, or a transition to failed; other rows are left out), with
    /// its time, among the last `scanLimit` rows of the log (so the read stays bounded
    /// however long the log is), oldest first.
    func activityTimes(since: Date, amongLast scanLimit: Int) async throws -> [(activity: Activity, time: Date)]

    /// How many audit rows there are, for one store or (`nil`) for all.
    func auditCount(storeID: String?) async throws -> Int

    // MARK: Metrics

    /// How many stores are in each status, deleted included; every status is a key,
    /// with 0 when no store is in it. Read from one snapshot.
    func countsByStatus() async throws -> [StoreStatus: Int]

    /// Count, average, minimum, maximum, p50 and p95 (nearest rank) of the stores'
    /// `provisioningDurationMilliseconds`, over the stores that have one; every field
    /// zero when none has.
    func provisioningDurationStats() async throws -> DurationStats

    // MARK: Leases (Lease.swift)

    /// Takes lease `name` for `owner` until `ttl` from now (the database's clock)
    /// when nobody holds it, its holder's time ran out, or `owner` holds it already
    /// (then it is extended, keeping its `acquiredAt` and taking `kind`). Atomic
    /// across replicas: of any number of callers, one gets ``LeaseOutcome/acquired(_:)``.
    /// - Returns: the caller's lease, or ``LeaseOutcome/held(_:)`` with the other
    ///   holder's when it has not expired.
    func acquireLease(_ name: String, owner: String, kind: String, ttl: Duration) async throws -> LeaseOutcome

    /// Extends, to `ttl` from now, those of `names` that `owner` still holds (even
    /// when their time just ran out, as long as nobody took them over).
    /// - Returns: the names `owner` no longer holds: another replica took them over,
    ///   or they were released.
    func renewLeases(_ names: [String], owner: String, ttl: Duration) async throws -> Set<String>

    /// Gives lease `name` up when `owner` holds it; returns whether it did.
    @discardableResult
    func releaseLease(_ name: String, owner: String) async throws -> Bool

    /// Every lease that has not expired, by name.
    func activeLeases() async throws -> [Lease]

    /// The names of leases as any replica releases them (a leader that resigns:
    /// ``Lease/reconcilerName``), for as long as the stream is iterated; best effort
    /// (a release can be missed, so waiters also try on their own schedule).
    func leaseReleases() -> AsyncStream<String>

    // MARK: Runtime limits

    /// The limits UpdateLimits stored (`max_live_stores`, `requests_per_minute`,
    /// `creates_per_minute`, `max_concurrent_provisions`): they outlive restarts and
    /// reach every replica. Empty until the first UpdateLimits.
    func storedLimits() async throws -> [String: Int]

    /// Stores these limits (each name once; the others keep their value).
    func storeLimits(_ limits: [String: Int]) async throws

    // MARK: Reconcile requests

    /// Asks the replica that leads the reconciler for a pass ("reconcile now" on a
    /// replica that does not lead); returns the request's id.
    func requestReconcile(by replica: String) async throws -> Int64

    /// The requests no pass has answered yet, oldest first.
    func pendingReconcileRequests() async throws -> [Int64]

    /// Answers requests `ids` with one pass's report (JSON, ``ReconcileReport``'s)
    /// run by `replica`, and forgets answers over an hour old.
    func answerReconcileRequests(_ ids: [Int64], report: String, by replica: String) async throws

    /// The answer to request `id`: the report and the replica that ran the pass;
    /// nil while unanswered (or forgotten).
    func reconcileAnswer(_ id: Int64) async throws -> ReconcileAnswer?

    /// What any replica does with reconcile requests as it happens, for as long as
    /// the stream is iterated: a request stored (the leader answers it), requests
    /// answered (their askers read the answer). Best effort: an event can be missed,
    /// so waiters also look on a slow schedule of their own. Nil when this backend
    /// tells nobody (SQLite: one process), and then waiters look every
    /// `Reconciler.requestPoll`.
    func reconcileRequestEvents() -> AsyncStream<ReconcileRequestEvent>?

    // MARK: Fleet upgrades (FleetUpgrade.swift)

    /// Stores a new fleet upgrade, active, as generation 1, and its steps as audit
    /// rows in the same transaction.
    ///
    /// - Throws: ``ErrorCode/fleetUpgradeInProgress`` when another one is active
    ///   (the message names it).
    func insertFleetUpgrade(_ fleet: FleetUpgrade) async throws

    /// Fleet upgrade `id` as last stored; nil when there is none.
    func fleetUpgrade(id: String) async throws -> StoredFleetUpgrade?

    /// The active fleet upgrade, if one is.
    func activeFleetUpgrade() async throws -> StoredFleetUpgrade?

    /// The latest `limit` fleet upgrades, newest first.
    func latestFleetUpgrades(limit: Int) async throws -> [StoredFleetUpgrade]

    /// Replaces fleet upgrade `fleet.id` with `fleet` if it is still the stored
    /// `generation`; returns the new generation, or nil when another writer replaced
    /// it first (read it again and redo the change). Its steps not yet in the audit
    /// log (steps are only ever added) are written there in the same transaction.
    func replaceFleetUpgrade(_ fleet: FleetUpgrade, generation: Int64) async throws -> Int64?

    // MARK: Shared rate buckets (SharedRateBuckets.swift; takeRateTokens)

    /// Forgets the buckets nobody used for ``SharedRateTake/fullAfterSeconds``: they
    /// are full again, as good as none.
    func forgetFullRateBuckets() async throws
}

extension StoreDatabase {
    /// ``transition(_:)`` with a ``StatusChange`` of these fields.
    public func transition(
        storeID: String,
        to: StoreStatus,
        expectedFrom: Set<StoreStatus>? = nil,
        action: AuditAction,
        actor: String,
        message: String = "",
        requestID: String? = nil,
        now: Date = Date(),
        revisions: [StoreRevision] = [],
        replacesRevisions: Bool = false,
        update: @escaping @Sendable (inout Store) -> Void = { _ in }
    ) async throws -> Transition {
        try await transition(StatusChange(
            storeID: storeID, to: to, expectedFrom: expectedFrom, action: action, actor: actor,
            message: message, requestID: requestID, now: now, revisions: revisions, replacesRevisions: replacesRevisions,
            update: update
        ))
    }

    /// ``listStores(statuses:nameContains:pageSize:pageToken:)`` of every name.
    public func listStores(
        statuses: Set<StoreStatus>, pageSize: Int, pageToken: String
    ) async throws -> (stores: [Store], nextPageToken: String) {
        try await listStores(statuses: statuses, nameContains: "", pageSize: pageSize, pageToken: pageToken)
    }

    /// How many audit rows there are in all.
    public func auditCount() async throws -> Int {
        try await auditCount(storeID: nil)
    }
}

extension StoreRevision {
    /// The check both backends make before writing `self` over the row of its store
    /// and number (recorded with `version`, `status` and `rollbackTo`): only the same
    /// revision moving on (pending → deployed → superseded, …) may; a new revision
    /// given a number already recorded is refused, never written over it.
    package func requireSameRevision(version: String, status: String, rollbackTo: Int?) throws {
        guard self.status != .pending, self.version == version, self.rollbackTo == rollbackTo else {
            throw PlatformError(
                .internalError,
                "store \(storeID) already has a revision \(revision) (\(version), \(status)); a revision number is never reused, "
                    + "so revision \(revision) (\(self.version), \(self.status.rawValue)) is not recorded"
            )
        }
    }

    /// A new store's first revision, which its provisioning deploys.
    package static func install(of store: Store, actor: String) -> StoreRevision {
        StoreRevision(
            storeID: store.id, revision: max(1, store.revision), version: store.version, status: .pending, actor: actor,
            time: store.createdAt, message: "install"
        )
    }
}

extension Store {
    /// The check both backends' `createStore` make first: a new store is `queued`.
    package func requireNew() throws {
        guard status == .queued else {
            throw PlatformError(.internalError, "a new store must be queued; store \(id) is \(status.rawValue)")
        }
    }
}

/// An idempotency key as stored: an empty one is no key.
package func storedIdempotencyKey(_ key: String?) -> String? {
    key.flatMap { $0.isEmpty ? nil : $0 }
}

/// What happened to reconcile requests (``StoreDatabase/reconcileRequestEvents()``);
/// the raw value is the notification's payload on PostgreSQL.
public enum ReconcileRequestEvent: String, Sendable {
    /// A replica stored a request.
    case requested
    /// A pass answered one or more requests.
    case answered
}

/// A pass's answer to a reconcile request (``StoreDatabase/reconcileAnswer(_:)``).
public struct ReconcileAnswer: Sendable, Equatable {
    /// The pass's report, as JSON.
    public var report: String
    /// The replica that ran the pass.
    public var replica: String

    public init(report: String, replica: String) {
        self.report = report
        self.replica = replica
    }

    /// How long an answer is kept (an hour): its requester has long had it.
    public static let keptMilliseconds: Int64 = 3_600_000
}
