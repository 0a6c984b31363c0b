import Foundation
import StoreCore
import StoreDatabase
import StorePlatformProto

/// Fleet upgrades (FleetUpgrader.swift): starting and changing one needs an
/// operator who may change every store (an operator limited to its own stores
/// cannot upgrade others'), reading them any caller.
extension ControlPlane {
    public func upgradeFleet(_ request: Storeplatform_V1_UpgradeFleetRequest, _ call: CallContext) async throws -> Storeplatform_V1_UpgradeFleetResponse {
        try await authorizeFleetChange(call, "UpgradeFleet")
        let selector = FleetUpgrade.Selector(
            names: request.selector.names, statuses: try request.selector.statuses.map(StoreStatus.init(proto:))
        )
        let stored = try await fleetUpgrader.start(
            to: request.version, selector: selector, waveSize: Int(request.waveSize), maxUnavailable: Int(request.maxUnavailable),
            failureBudget: Int(request.failureBudget), actor: call.caller.description
        )
        var response = Storeplatform_V1_UpgradeFleetResponse()
        response.fleetUpgrade = stored.fleet.proto
        return response
    }

    public func getFleetUpgrade(_ request: Storeplatform_V1_GetFleetUpgradeRequest, _ call: CallContext) async throws -> Storeplatform_V1_GetFleetUpgradeResponse {
        try await rateLimiter.check(identity: call.caller.description, isCreate: false)
        var response = Storeplatform_V1_GetFleetUpgradeResponse()
        response.fleetUpgrade = try await fleetUpgrader.find(request.id).fleet.proto
        return response
    }

    public func listFleetUpgrades(_ request: Storeplatform_V1_ListFleetUpgradesRequest, _ call: CallContext) async throws -> Storeplatform_V1_ListFleetUpgradesResponse {
        try await rateLimiter.check(identity: call.caller.description, isCreate: false)
        let limit = request.limit == 0 ? 20 : min(Int(request.limit), 100)
        var response = Storeplatform_V1_ListFleetUpgradesResponse()
        response.fleetUpgrades = try await database.latestFleetUpgrades(limit: limit).map { stored in
            var fleet = stored.fleet.proto
            fleet.stores = []
            fleet.steps = []
            return fleet
        }
        return response
    }

    /// Pauses, resumes or cancels a fleet upgrade (the active one when `request.id` is empty).
    public func changeFleetUpgrade(
        _ change: FleetUpgrade.Change, _ request: Storeplatform_V1_ChangeFleetUpgradeRequest, _ call: CallContext
    ) async throws -> Storeplatform_V1_ChangeFleetUpgradeResponse {
        try await authorizeFleetChange(call, change.methodName)
        var response = Storeplatform_V1_ChangeFleetUpgradeResponse()
        response.fleetUpgrade = try await fleetUpgrader.change(request.id, change, actor: call.caller.description).fleet.proto
        return response
    }

    /// The fleet upgrade now, then again at every change, until it has ended and
    /// that was sent: `send` is called with each. Reads the stored value every
    /// ``fleetWatchInterval``, so a watcher on any replica sees every runner's changes.
    public func watchFleetUpgrade(
        _ request: Storeplatform_V1_WatchFleetUpgradeRequest, _ call: CallContext,
        _ send: (Storeplatform_V1_FleetUpgrade) async throws -> Void
    ) async throws {
        try await rateLimiter.check(identity: call.caller.description, isCreate: false)
        var stored = try await fleetUpgrader.find(request.id)
        let id = stored.fleet.id
        try await send(stored.fleet.proto)
        while stored.fleet.state.isActive {
            try await Task.sleep(for: Self.fleetWatchInterval)
            guard let now = try await database.fleetUpgrade(id: id) else { return }
            if now.generation != stored.generation { try await send(now.fleet.proto) }
            stored = now
        }
    }

    /// How often a fleet upgrade's watch reads it.
    static let fleetWatchInterval: Duration = .milliseconds(250)

    /// Operators that may change every store, and admins, within their rate.
    private func authorizeFleetChange(_ call: CallContext, _ method: String) async throws {
        let grant = try authorize(.operator, call.caller, method)
        guard !grant.ownStoresOnly else {
            throw PlatformError(
                .permissionDenied,
                "\(method) changes every selected store, and \(call.caller) may change only its own stores; ask an operator of every store"
            )
        }
        try await rateLimiter.check(identity: call.caller.description, isCreate: false)
    }
}

extension FleetUpgrade.Change {
    var methodName: String {
        switch self {
        case .pause: "PauseFleetUpgrade"
        case .resume: "ResumeFleetUpgrade"
        case .cancel: "CancelFleetUpgrade"
        }
    }
}

extension FleetUpgrade {
    /// The wire message of this fleet upgrade.
    public var proto: Storeplatform_V1_FleetUpgrade {
        var fleet = Storeplatform_V1_FleetUpgrade()
        fleet.id = id
        fleet.version = version
        fleet.selector.names = selector.names
        fleet.selector.statuses = selector.statuses.map(\.proto)
        fleet.waveSize = UInt32(clamping: waveSize)
        fleet.maxUnavailable = UInt32(clamping: maxUnavailable)
        fleet.failureBudget = UInt32(clamping: failureBudget)
        fleet.state = state.proto
        fleet.actor = actor
        fleet.createdMs = createdAt.millisecondsSince1970
        fleet.updatedMs = updatedAt.millisecondsSince1970
        fleet.endedMs = endedAt?.millisecondsSince1970 ?? 0
        fleet.currentWave = UInt32(clamping: currentWave)
        fleet.waveCount = UInt32(clamping: waveCount)
        fleet.stores = entries.map { entry in
            var store = Storeplatform_V1_FleetUpgradeStore()
            store.storeID = entry.storeID
            store.name = entry.name
            store.wave = UInt32(clamping: entry.wave)
            store.fromVersion = entry.fromVersion
            store.outcome = entry.outcome.proto
            store.message = entry.message
            store.revision = UInt32(clamping: entry.revision)
            store.updatedMs = entry.updatedAt.millisecondsSince1970
            return store
        }
        fleet.steps = steps.map { step in
            var wire = Storeplatform_V1_FleetUpgradeStep()
            wire.timeMs = step.time.millisecondsSince1970
            wire.action = step.action
            wire.actor = step.actor
            wire.message = step.message
            return wire
        }
        fleet.waiting = UInt32(count(.waiting))
        fleet.upgrading = UInt32(count(.upgrading))
        fleet.upgraded = UInt32(count(.upgraded))
        fleet.rolledBack = UInt32(count(.rolledBack))
        fleet.failed = UInt32(count(.failed))
        fleet.skipped = UInt32(count(.skipped))
        return fleet
    }
}

extension FleetUpgrade.State {
    var proto: Storeplatform_V1_FleetUpgradeState {
        switch self {
        case .running: .running
        case .paused: .paused
        case .cancelling: .cancelling
        case .stopping: .stopping
        case .completed: .completed
        case .cancelled: .cancelled
        case .stopped: .stopped
        }
    }
}

extension FleetUpgrade.Outcome {
    var proto: Storeplatform_V1_FleetStoreOutcome {
        switch self {
        case .waiting: .waiting
        case .upgrading: .upgrading
        case .upgraded: .upgraded
        case .rolledBack: .rolledBack
        case .failed: .failed
        case .skipped: .skipped
        }
    }
}
