import ControlPlane
import Hummingbird
import StoreCore
import StorePlatformProto

/// The routes of fleet upgrades (docs/ARCHITECTURE.md, "Fleet upgrades"): each builds
/// the request message of the FleetService RPC of the same name and answers what the
/// ControlPlane answers, as the other /api handlers do. A fleet upgrade in the path is
/// its id, or `current` (``FleetUpgradeReference``).
extension GatewayResponder {
    /// `POST /api/fleet-upgrades` with `{"version": "...", "selector": {...}, "waveSize": N, ...}`:
    /// UpgradeFleet; 202 with the fleet upgrade, running. Statuses in the selector are
    /// spelled as the API writes them (`"ready"`).
    func upgradeFleet(_ request: Request, _ call: CallContext) async throws -> Response {
        let example = #"{"version": "6.8-wc9.8", "selector": {"statuses": ["ready"]}, "waveSize": 5}"#
        let message: Storeplatform_V1_UpgradeFleetRequest = try decode(await readBody(request), what: example)
        return try json(await controlPlane.upgradeFleet(message, call).fleetUpgrade, status: .accepted)
    }

    /// `GET /api/fleet-upgrades?limit=N`: ListFleetUpgrades, newest first, without their
    /// stores and steps.
    func listFleetUpgrades(_ request: Request, _ call: CallContext) async throws -> Response {
        var message = Storeplatform_V1_ListFleetUpgradesRequest()
        message.limit = try number(request.uri.queryParameters["limit"], name: "limit")
        return try json(await controlPlane.listFleetUpgrades(message, call))
    }

    /// `GET /api/fleet-upgrades/{id or current}`: GetFleetUpgrade, with its stores and log.
    func getFleetUpgrade(_ id: String, _ call: CallContext) async throws -> Response {
        var message = Storeplatform_V1_GetFleetUpgradeRequest()
        message.id = id
        return try json(await controlPlane.getFleetUpgrade(message, call).fleetUpgrade)
    }

    /// `POST /api/fleet-upgrades/{id or current}/pause|resume|cancel`: PauseFleetUpgrade,
    /// ResumeFleetUpgrade or CancelFleetUpgrade; 200 with the fleet upgrade as changed.
    func changeFleetUpgrade(_ id: String, _ change: FleetUpgrade.Change, _ call: CallContext) async throws -> Response {
        var message = Storeplatform_V1_ChangeFleetUpgradeRequest()
        message.id = id
        return try json(await controlPlane.changeFleetUpgrade(change, message, call).fleetUpgrade)
    }

    /// `GET /api/fleet-upgrades/{id or current}/events`: WatchFleetUpgrade as Server-Sent
    /// Events (``EventStreams/body(fleetUpgrade:keepAlive:)``). The fleet upgrade is read
    /// first (GetFleetUpgrade), so a refusal is an HTTP error rather than a broken
    /// stream, and `current` is settled once: the stream follows that fleet upgrade.
    /// HEAD answers the same checks and headers without a stream.
    func fleetUpgradeEvents(_ id: String, _ request: Request, _ call: CallContext) async throws -> Response {
        if request.method != .head, streams.count >= configuration.maxEventStreams {
            throw PlatformError(.unavailable, "too many event streams are open (limit \(configuration.maxEventStreams)); try again later")
        }
        var get = Storeplatform_V1_GetFleetUpgradeRequest()
        get.id = id
        let fleet = try await controlPlane.getFleetUpgrade(get, call).fleetUpgrade
        guard request.method != .head else {
            return Response(status: .ok, headers: Self.eventStreamHeaders, body: .init { _ in })
        }
        var message = Storeplatform_V1_WatchFleetUpgradeRequest()
        message.id = fleet.id
        let (watch, controlPlane) = (message, controlPlane)
        return Response(
            status: .ok, headers: Self.eventStreamHeaders,
            body: streams.body(
                fleetUpgrade: { send in try await controlPlane.watchFleetUpgrade(watch, call, send) }, keepAlive: configuration.keepAliveInterval
            )
        )
    }
}

/// A fleet upgrade as a path names it: its id (`fu_…`), or `current`: for reads the
/// active one, else the latest; for pause, resume and cancel the active one (the RPC
/// requests' empty `id`). No id can be `current`.
struct FleetUpgradeReference {
    let text: String

    init(_ text: String) { self.text = text }

    static let current = "current"

    /// The request messages' `id`.
    var id: String { text == Self.current ? "" : text }
}
