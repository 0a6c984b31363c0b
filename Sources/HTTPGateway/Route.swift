import Foundation
import Hummingbird

/// What a request path names. Matching is by path only; the method is checked
/// against ``methods`` afterwards so a known path with the wrong method gets 405,
/// not 404.
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
            guard parts.count >= 2, parts[0] == "stores", !parts[1].isEmpty,
                let id = parts[1].removingPercentEncoding
            else {
                self = .unknownAPI
                return
            }
            switch parts.count {
            case 2: self = .store(id: id)
            case 3 where parts[2] == "retry": self = .retry(id: id)
            case 3 where parts[2] == "revisions": self = .revisions(id: id)
            case 3 where parts[2] == "upgrade": self = .upgrade(id: id)
            case 3 where parts[2] == "rollback": self = .rollback(id: id)
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
        case .retry, .upgrade, .rollback: [.post]
        case .revisions, .versions, .audit, .metrics, .health, .events, .prometheus, .staticFile: [.get, .head]
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
