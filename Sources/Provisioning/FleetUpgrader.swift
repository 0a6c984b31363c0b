import Foundation
import Logging
import ServiceLifecycle
import StoreCore
import StoreDatabase

/// Runs fleet upgrades (StoreCore's ``FleetUpgrade``; docs/ARCHITECTURE.md, "Fleet
/// upgrades"): each store's upgrade is the provisioner's own (``Provisioner/upgrade(storeID:to:actor:requestID:context:)``,
/// with its lock, lease, automatic rollback and crash recovery); this starts them
/// wave by wave and reads how each ended from the store database.
///
/// The fleet upgrade lives in the database, so any replica can run it: the one that
/// holds the `fleet-upgrade` lease does, one round at a time, and a replica that dies
/// loses it after one lease TTL to the next that looks. Every round reads before it
/// acts: a store marked upgrading without a revision (the runner stopped between
/// marking it and starting it) is looked at, and started only when its store shows
/// no upgrade to the target version. Pause, resume and cancel are written by any
/// replica (``change(_:_:actor:)``); every write names the generation it replaces,
/// so none is lost.
public final class FleetUpgrader: Service, Sendable {
    public struct Configuration: Sendable {
        /// How often the runner looks at an active fleet upgrade besides when a store's
        /// upgrade ends here.
        public var activeInterval: Duration = .seconds(1)
        /// How often a replica looks for an active fleet upgrade nobody runs (another
        /// replica's, whose runner died). A fleet upgrade started here starts at once.
        public var idleInterval: Duration = .seconds(5)

        public init() {}
    }

    /// The lease whose holder runs the active fleet upgrade.
    public static let leaseName = "fleet-upgrade"

    private let provisioner: Provisioner
    private let configuration: Configuration
    private let logger: Logger
    private let wakeup = Wakeup()

    public init(provisioner: Provisioner, configuration: Configuration = .init(), logger: Logger) {
        self.provisioner = provisioner
        self.configuration = configuration
        self.logger = logger
    }

    private var database: any StoreDatabase { provisioner.database }

    // MARK: Starting and changing

    /// Selects the stores and stores a new running fleet upgrade of them to
    /// `versionName`; the runner starts its first wave at once.
    ///
    /// - Throws: ``PlatformError``: INVALID_ARGUMENT (no version, a size out of
    ///   range, names that repeat or are invalid), UNKNOWN_VERSION, NOT_FOUND (a named
    ///   store that is not live), FLEET_UPGRADE_IN_PROGRESS, UNAVAILABLE.
    public func start(
        to versionName: String, selector: FleetUpgrade.Selector, waveSize: Int, maxUnavailable: Int, failureBudget: Int, actor: String
    ) async throws -> StoredFleetUpgrade {
        try provisioner.checkAccepting()
        guard !versionName.allSatisfy(\.isWhitespace) else {
            throw PlatformError(.invalidArgument, "version is required: one of the engine versions storectl versions lists")
        }
        let waveSize = waveSize == 0 ? FleetUpgrade.defaultWaveSize : waveSize
        let maxUnavailable = maxUnavailable == 0 ? waveSize : maxUnavailable
        guard (1...FleetUpgrade.maxStores).contains(waveSize) else {
            throw PlatformError(.invalidArgument, "wave size must be 1 to \(FleetUpgrade.maxStores) stores, not \(waveSize)")
        }
        guard maxUnavailable <= waveSize else {
            throw PlatformError(
                .invalidArgument,
                "max unavailable (\(maxUnavailable)) cannot exceed the wave size (\(waveSize)): a wave's stores are all that may upgrade at once"
            )
        }
        guard failureBudget >= 0 else { throw PlatformError(.invalidArgument, "the failure budget cannot be negative") }
        let stores = try await select(selector)
        guard !stores.isEmpty else {
            throw PlatformError(.invalidArgument, "no live store matches the selection; nothing to upgrade")
        }
        // Every selected store's engine must have the version (its name as the engine spells it).
        var target = versionName
        for engine in Set(stores.map(\.engine)) {
            guard let known = StoreEngines.all.first(where: { $0.name == engine }) else {
                throw PlatformError(.invalidArgument, "stores of engine \"\(engine)\" are selected, which this daemon has no versions of")
            }
            target = try known.version(named: versionName).name
        }
        let fleet = FleetUpgrade(
            id: FleetUpgrade.newID(), version: target, selector: selector, waveSize: waveSize, maxUnavailable: maxUnavailable,
            failureBudget: failureBudget, actor: actor, stores: stores.map { ($0.id, $0.name, $0.version) }, now: Date()
        )
        try await database.insertFleetUpgrade(fleet)
        logger.info(
            "fleet upgrade started",
            metadata: ["fleet": "\(fleet.id)", "version": "\(target)", "stores": "\(stores.count)", "waves": "\(fleet.waveCount)", "actor": "\(actor)"]
        )
        wakeup.signal()
        return StoredFleetUpgrade(fleet: fleet, generation: 1)
    }

    /// The live stores `selector` names: the named ones in the order given, or
    /// every live store in its statuses, by name.
    private func select(_ selector: FleetUpgrade.Selector) async throws -> [Store] {
        if !selector.names.isEmpty {
            guard selector.statuses.isEmpty else {
                throw PlatformError(.invalidArgument, "select stores by names or by statuses, not both")
            }
            guard selector.names.count <= FleetUpgrade.maxStores else {
                throw PlatformError(.invalidArgument, "at most \(FleetUpgrade.maxStores) stores by name, not \(selector.names.count)")
            }
            var seen = Set<String>()
            var stores: [Store] = []
            for raw in selector.names {
                let name = try StoreName.validate(raw)
                guard seen.insert(name.value).inserted else {
                    throw PlatformError(.invalidArgument, "store \(name.value.quotedForMessage) is named twice")
                }
                guard let store = try await database.liveStore(named: name.value) else {
                    throw PlatformError(.notFound, "no live store is named \(name.value.quotedForMessage)")
                }
                stores.append(store)
            }
            return stores
        }
        let live = StoreStatus.allCases.filter { $0 != .deleted }
        if let dead = selector.statuses.first(where: { !live.contains($0) }) {
            throw PlatformError(.invalidArgument, "\(dead.rawValue) stores cannot be upgraded; select among \(live.map(\.rawValue).joined(separator: ", "))")
        }
        let stores = try await database.stores(inStatuses: Set(selector.statuses.isEmpty ? live : selector.statuses))
        guard stores.count <= FleetUpgrade.maxStores else {
            throw PlatformError(.invalidArgument, "\(stores.count) stores match; one fleet upgrade takes at most \(FleetUpgrade.maxStores)")
        }
        return stores.sorted { ($0.name, $0.id) < ($1.name, $1.id) }
    }

    /// Pauses, resumes or cancels fleet upgrade `id` (the active one when empty).
    ///
    /// - Throws: ``PlatformError``: NOT_FOUND; INVALID_STATE_TRANSITION.
    public func change(_ id: String, _ change: FleetUpgrade.Change, actor: String) async throws -> StoredFleetUpgrade {
        while true {
            var stored = try await find(id, activeOnly: true)
            try stored.fleet.apply(change, actor: actor, now: Date())
            if let generation = try await database.replaceFleetUpgrade(stored.fleet, generation: stored.generation) {
                stored.generation = generation
                logger.info("fleet upgrade \(change.rawValue)", metadata: ["fleet": "\(stored.fleet.id)", "actor": "\(actor)"])
                wakeup.signal()
                return stored
            }
        }
    }

    /// Fleet upgrade `id`; when empty, the active one, or (unless `activeOnly`) the latest.
    ///
    /// - Throws: ``PlatformError`` NOT_FOUND.
    public func find(_ id: String, activeOnly: Bool = false) async throws -> StoredFleetUpgrade {
        if !id.isEmpty {
            guard let stored = try await database.fleetUpgrade(id: id) else {
                throw PlatformError(.notFound, "no fleet upgrade has id \"\(id)\"")
            }
            return stored
        }
        if let active = try await database.activeFleetUpgrade() { return active }
        if !activeOnly, let latest = try await database.latestFleetUpgrades(limit: 1).first { return latest }
        throw PlatformError(.notFound, activeOnly ? "no fleet upgrade is active" : "there has been no fleet upgrade")
    }

    // MARK: Running

    /// Runs rounds until shutdown: at once when a fleet upgrade starts or a store's
    /// upgrade ends here, else every ``Configuration/activeInterval`` while one is
    /// active and every ``Configuration/idleInterval`` while none is.
    public func run() async throws {
        let events = provisioner.events.subscribe()
        let listener = Task { [wakeup] in
            for await event in events.events where [.upgraded, .rolledBack, .fail, .deleted].contains(event.action) {
                wakeup.signal()
            }
        }
        defer { listener.cancel() }
        try? await cancelWhenGracefulShutdown { [self] in
            var lastFailure: String?
            while !Task.isCancelled {
                var active = false
                do {
                    active = try await round()
                    lastFailure = nil
                } catch {
                    if Task.isCancelled { break }
                    let failure = (error as? PlatformError)?.message ?? "\(error)"
                    if failure != lastFailure {
                        logger.warning("a fleet upgrade round failed; trying again", metadata: ["error": "\(failure)"])
                    }
                    lastFailure = failure
                    active = true
                }
                await wakeup.wait(upTo: active ? configuration.activeInterval : configuration.idleInterval)
            }
        }
        _ = try? await database.releaseLease(Self.leaseName, owner: provisioner.replicaID)
    }

    /// One round over the active fleet upgrade, if this replica holds (or takes) its
    /// lease: how the started stores' upgrades ended, then the next stores started.
    /// Returns whether a fleet upgrade is still active.
    @discardableResult
    public func round() async throws -> Bool {
        guard var stored = try await database.activeFleetUpgrade() else { return false }
        let lease = try await database.acquireLease(
            Self.leaseName, owner: provisioner.replicaID, kind: "fleet", ttl: provisioner.configuration.leaseTTL
        )
        guard case .acquired = lease else { return true }
        // A pause or cancel written between two reads only costs the round: the next
        // one starts from what is stored.
        guard let observed = try await observe(stored) else { return true }
        stored = observed
        while stored.fleet.state.isActive, !stored.fleet.toStart.isEmpty {
            guard let started = try await startNext(stored) else { return true }
            stored = started
        }
        if !stored.fleet.state.isActive {
            logger.info(
                "fleet upgrade ended",
                metadata: ["fleet": "\(stored.fleet.id)", "state": "\(stored.fleet.state.rawValue)", "summary": "\(stored.fleet.summary)"]
            )
            _ = try await database.releaseLease(Self.leaseName, owner: provisioner.replicaID)
            return false
        }
        return true
    }

    /// Reads the stores marked upgrading and records how each stands; stores what
    /// changed. Nil when another writer replaced the fleet upgrade first.
    private func observe(_ stored: StoredFleetUpgrade) async throws -> StoredFleetUpgrade? {
        var fleet = stored.fleet
        let marked = fleet.entries.indices.filter { fleet.entries[$0].outcome == .upgrading }
        if !marked.isEmpty {
            let stores = try await database.stores(ids: Set(marked.map { fleet.entries[$0].storeID }))
            for index in marked {
                try await observe(index, of: &fleet, store: stores[fleet.entries[index].storeID])
            }
        }
        fleet.settle(now: Date())
        return try await save(fleet, over: stored)
    }

    /// Where the upgrade of store `index` (marked upgrading) stands.
    private func observe(_ index: Int, of fleet: inout FleetUpgrade, store: Store?) async throws {
        let entry = fleet.entries[index]
        let now = Date()
        guard let store, store.status != .deleted, store.status != .deleting else {
            fleet.set(index, .skipped, message: "deleted during the fleet upgrade", now: now)
            return
        }
        if entry.revision == 0 {
            // Marked, but not known to have started: the runner stopped in between.
            if store.status == .upgrading, store.version == fleet.version {
                fleet.set(index, .upgrading, revision: store.revision, now: now)
            } else if store.status == .ready, store.version == fleet.version, entry.fromVersion != fleet.version {
                fleet.set(index, .upgraded, revision: store.revision, now: now)
            } else if fleet.state != .running {
                // Not started, and no store starts now: it waits (and ends not started).
                fleet.set(index, .waiting, now: now)
            } else {
                let start = try await start(index, of: fleet, store: store)
                fleet.set(index, start.outcome, message: start.message, revision: start.revision, now: now)
            }
            return
        }
        switch store.status {
        case .upgrading:
            break
        case .ready where store.version == fleet.version && store.revision >= entry.revision:
            fleet.set(index, .upgraded, revision: entry.revision, now: now)
        case .ready:
            let reason = try await database.storeRevisions(storeID: store.id).first { $0.revision == entry.revision }?.message
            fleet.set(index, .rolledBack, message: reason ?? "rolled back to revision \(store.revision) (\(store.version))", now: now)
        case .failed:
            fleet.set(index, .failed, message: store.errorMessage, now: now)
        default:
            fleet.set(index, .failed, message: "the store is \(store.status.rawValue)", now: now)
        }
    }

    /// Marks the next stores to start as upgrading (stored first, so a restart knows
    /// they may have started), then starts each and stores how that went. Nil when
    /// another writer replaced the fleet upgrade first.
    private func startNext(_ stored: StoredFleetUpgrade) async throws -> StoredFleetUpgrade? {
        var fleet = stored.fleet
        let next = fleet.toStart
        let now = Date()
        for index in next { fleet.set(index, .upgrading, now: now) }
        guard let marked = try await save(fleet, over: stored) else { return nil }
        fleet = marked.fleet
        let stores = try await database.stores(ids: Set(next.map { fleet.entries[$0].storeID }))
        // The wave's upgrades start together: each is a few database and cluster calls.
        let plan = fleet
        let started = try await withThrowingTaskGroup(of: (Int, Start).self) { group in
            for index in next {
                let store = stores[plan.entries[index].storeID]
                group.addTask { (index, try await self.start(index, of: plan, store: store)) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for (index, start) in started.sorted(by: { $0.0 < $1.0 }) {
            fleet.set(index, start.outcome, message: start.message, revision: start.revision, now: Date())
        }
        fleet.settle(now: Date())
        return try await save(fleet, over: marked)
    }

    /// How starting one store went.
    private struct Start: Sendable {
        var outcome: FleetUpgrade.Outcome
        var message = ""
        var revision: Int?
    }

    /// Starts the upgrade of store `index` of `fleet`, or says why it does not move.
    ///
    /// - Throws: UNAVAILABLE (the cluster or the database did not answer, or shutdown
    ///   began): the store stays marked without a revision, so a later round looks again.
    private func start(_ index: Int, of fleet: FleetUpgrade, store: Store?) async throws -> Start {
        guard let store, store.status != .deleted else { return Start(outcome: .skipped, message: "deleted during the fleet upgrade") }
        if store.version == fleet.version {
            return Start(outcome: .skipped, message: "already runs \(fleet.version)")
        }
        guard store.status == .ready else {
            return Start(outcome: .skipped, message: "was \(store.status.rawValue) when its wave came; only ready stores are upgraded")
        }
        let entry = fleet.entries[index]
        do {
            let upgrading = try await provisioner.upgrade(
                storeID: store.id, to: fleet.version, actor: fleet.actor, requestID: nil,
                context: "fleet upgrade \(fleet.id), wave \(entry.wave) of \(fleet.waveCount)"
            )
            return Start(outcome: .upgrading, revision: upgrading.revision)
        } catch let error as PlatformError {
            switch error.code {
            case .operationInProgress, .alreadyOnVersion, .invalidStateTransition, .notFound:
                return Start(outcome: .skipped, message: error.message)
            case .unavailable:
                throw error
            default:
                return Start(outcome: .failed, message: "its upgrade could not start: \(error.message)")
            }
        }
    }

    /// Stores `fleet` over `stored`; nil when another writer replaced it first.
    private func save(_ fleet: FleetUpgrade, over stored: StoredFleetUpgrade) async throws -> StoredFleetUpgrade? {
        guard fleet != stored.fleet else { return stored }
        guard let generation = try await database.replaceFleetUpgrade(fleet, generation: stored.generation) else { return nil }
        return StoredFleetUpgrade(fleet: fleet, generation: generation)
    }
}
