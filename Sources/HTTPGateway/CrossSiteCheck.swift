import HTTPTypes
import StoreCore

extension HTTPField.Name {
    static let secFetchSite = Self("Sec-Fetch-Site")!
}

/// Refuses changes that a browser sends on behalf of another site (cross-site
/// request forgery): a page elsewhere can make the operator's browser POST a form
/// or a `fetch` to the gateway, but it cannot hide where the request came from.
///
/// A request passes when it carries neither `Origin` nor a cross-site
/// `Sec-Fetch-Site` (curl, storectl, services), when its `Origin` is the gateway's
/// own (scheme, host and port of the URL it was sent to, from `Host`), or when its
/// `Origin` is one of the configured CORS origins. Anything else is
/// PERMISSION_DENIED (403), with a message that says how to allow the origin.
struct CrossSiteCheck: Sendable {
    /// Origins allowed besides the gateway's own (`--cors-origin`); `*` allows any.
    let allowedOrigins: Set<String>

    /// - Parameters:
    ///   - origin: the request's `Origin` header.
    ///   - fetchSite: the request's `Sec-Fetch-Site` header.
    ///   - ownOrigin: the origin the request was sent to; nil when the request
    ///     named no usable `Host`, so no `Origin` can be the gateway's own.
    /// - Throws: ``PlatformError`` with ``ErrorCode/permissionDenied``.
    func check(origin: String?, fetchSite: String?, ownOrigin: WebOrigin?) throws {
        if let origin, allowedOrigins.contains(origin) || allowedOrigins.contains("*") { return }
        // "same-site" is still another origin (another port, a sibling subdomain):
        // only "same-origin" and "none" (typed by the user) say the page is ours.
        let site = fetchSite?.lowercased()
        let browserSaysForeign = site == "cross-site" || site == "same-site"
        guard let origin else {
            if browserSaysForeign { throw Self.refusal(fetchSite: site ?? "", origin: nil) }
            return
        }
        guard let parsed = WebOrigin(header: origin), let ownOrigin, parsed == ownOrigin else {
            throw Self.refusal(origin: origin, ownOrigin: ownOrigin)
        }
        if browserSaysForeign { throw Self.refusal(fetchSite: site ?? "", origin: origin) }
    }

    static func refusal(origin: String, ownOrigin: WebOrigin?) -> PlatformError {
        let own = ownOrigin.map { "this gateway's origin (\($0))" } ?? "this gateway's origin (the request has no usable Host header)"
        return PlatformError(
            .permissionDenied,
            "cross-site request refused: Origin \(origin) is neither \(own) nor an origin allowed with --cors-origin; "
                + "send changes from the dashboard's own origin, or allow this origin with --cors-origin \(origin)"
        )
    }

    static func refusal(fetchSite: String, origin: String?) -> PlatformError {
        let allow = origin.map { "allow it with --cors-origin \($0)" } ?? "allow its origin with --cors-origin"
        return PlatformError(
            .permissionDenied,
            "cross-site request refused: the browser sent it from another site (Sec-Fetch-Site: \(fetchSite)); "
                + "send changes from the dashboard's own origin, or \(allow)"
        )
    }
}
