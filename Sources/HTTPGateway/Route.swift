import Foundation
import Hummingbird
import StoreCore

/// What a request path names. Matching is by path only; the method is checked
/// against ``methods`` afterwards so a known path with the wrong method gets 405,
/// not 404.
///
/// Hand-written rather than Hummingbird's `Router`, by measurement: the `Router`
/// answered GET /api/versions at 0.37–0.93× this rate, for 17–26 µs more CPU per
/// request, and answers a wrong method 404 (BENCHMARKS.md, "Hand-written routing
/// against Hummingbird's Router").
enum Route: Equatable {
    case stores
    case store(id: String)
    case retry(id: String)
    /// A store's revisions; `id` is an id or a live store's name.
    case revisions(id: String)
    /// `id` is an id or a live store's name.
    case upgrade(id: String)
    /// `id` is an id or a live store's name.
    case rollback(id: String)
    /// The engine versions stores can run.
    case versions
    /// Fleet upgrades: the latest (GET), or a new one (POST).
    case fleetUpgrades
    /// One fleet upgrade; `id` is its id, or "" for `current` (``FleetUpgradeReference``).
    case fleetUpgrade(id: String)
    /// Pause, resume or cancel a fleet upgrade; `id` as for ``fleetUpgrade(id:)``.
    case changeFleetUpgrade(id: String, FleetUpgrade.Change)
    /// A fleet upgrade as Server-Sent Events, until it has ended; `id` as for ``fleetUpgrade(id:)``.
    case fleetUpgradeEvents(id: String)
    case audit
    case metrics
    case health
    case events
    case prometheus
    /// Anything under /api/ that is not one of the above.
    case unknownAPI
    /// Anything else: a dashboard file (path as requested, still percent-encoded).
    case staticFile(String)

    init(path: String) {
        switch path {
        case "/api/stores": self = .stores
        case "/api/versions": self = .versions
        case "/api/fleet-upgrades": self = .fleetUpgrades
        case "/api/audit": self = .audit
        case "/api/metrics": self = .metrics
        case "/api/health": self = .health
        case "/api/events": self = .events
        case "/metrics": self = .prometheus
        case "/api", "/api/": self = .unknownAPI
        default:
            guard path.hasPrefix("/api/") else {
                self = .staticFile(path)
                return
            }
            let parts = path.dropFirst("/api/".count).split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count >= 2, !parts[1].isEmpty, let id = parts[1].removingPercentEncoding else {
                self = .unknownAPI
                return
            }
            switch (parts[0], parts.count) {
            case ("stores", 2): self = .store(id: id)
            case ("stores", 3) where parts[2] == "retry": self = .retry(id: id)
            case ("stores", 3) where parts[2] == "revisions": self = .revisions(id: id)
            case ("stores", 3) where parts[2] == "upgrade": self = .upgrade(id: id)
            case ("stores", 3) where parts[2] == "rollback": self = .rollback(id: id)
            case ("fleet-upgrades", 2): self = .fleetUpgrade(id: FleetUpgradeReference(id).id)
            case ("fleet-upgrades", 3) where parts[2] == "events": self = .fleetUpgradeEvents(id: FleetUpgradeReference(id).id)
            case ("fleet-upgrades", 3):
                guard let change = FleetUpgrade.Change(rawValue: String(parts[2])) else {
                    self = .unknownAPI
                    return
                }
                self = .changeFleetUpgrade(id: FleetUpgradeReference(id).id, change)
            default: self = .unknownAPI
            }
        }
    }

    /// The methods this route answers; empty for unknown routes. HEAD goes
    /// wherever GET does: the same status and headers, no body.
    var methods: [HTTPRequest.Method] {
        switch self {
        case .stores: [.get, .head, .post]
        case .store: [.get, .head, .delete]
        case .fleetUpgrades: [.get, .head, .post]
        case .retry, .upgrade, .rollback, .changeFleetUpgrade: [.post]
        case .fleetUpgrade, .fleetUpgradeEvents, .revisions, .versions, .audit, .metrics, .health, .events, .prometheus, .staticFile: [.get, .head]
        case .unknownAPI: []
        }
    }

    /// The route's label in metrics: a template, so cardinality stays bounded.
    var template: String {
        switch self {
        case .stores: "/api/stores"
        case .store: "/api/stores/{id}"
        case .retry: "/api/stores/{id}/retry"
        case .revisions: "/api/stores/{id}/revisions"
        case .upgrade: "/api/stores/{id}/upgrade"
        case .rollback: "/api/stores/{id}/rollback"
        case .versions: "/api/versions"
        case .fleetUpgrades: "/api/fleet-upgrades"
        case .fleetUpgrade: "/api/fleet-upgrades/{id}"
        case .changeFleetUpgrade(_, let change): "/api/fleet-upgrades/{id}/\(change.rawValue)"
        case .fleetUpgradeEvents: "/api/fleet-upgrades/{id}/events"
        case .audit: "/api/audit"
        case .metrics: "/api/metrics"
        case .health: "/api/health"
        case .events: "/api/events"
        case .prometheus: "/metrics"
        case .unknownAPI: "unmatched"
        case .staticFile: "static"
        }
    }
}
