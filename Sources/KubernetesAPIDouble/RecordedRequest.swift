/// One request as the double saw it: what RBAC would have to allow.
public struct RecordedRequest: Sendable, Hashable, CustomStringConvertible {
    /// RBAC's verb: get, list, watch, create, update, patch, delete, deletecollection;
    /// for paths that are not resources (discovery, OpenAPI) the HTTP method, lower-cased.
    public var verb: String
    /// "deployments.apps", "pods"; empty for discovery and OpenAPI paths.
    public var resource: String
    public var subresource: String?
    /// nil for cluster-scoped resources and for lists across all namespaces.
    public var namespace: String?
    public var name: String?
    /// The request path without its query, for non-resource requests.
    public var path: String
    /// "helm", "kubectl" or the user agent's first word.
    public var tool: String
    public var status: Int
    public var responseBytes: Int
    /// Who the bearer token says made the request: "kubernetes-admin" for
    /// ``KubernetesAPIDouble/token``, "system:serviceaccount:NS:NAME" for a
    /// ``KubernetesAPIDouble/serviceAccountToken(namespace:name:)``; nil for a
    /// missing or unknown token.
    public var user: String?
    /// What RBAC was asked while serving the request, in order: the request itself,
    /// then what the API server asks on its own (`create` for a server-side apply
    /// that creates; `bind` for a binding's role). Empty when RBAC was not asked: the
    /// double does not enforce it, or the user is the admin.
    public var authorization: [AuthorizationCheck] = []

    public var description: String {
        let scope = namespace.map { " -n \($0)" } ?? ""
        let target = resource.isEmpty ? path : resource + (subresource.map { "/\($0)" } ?? "") + (name.map { " \($0)" } ?? "")
        return "\(tool) \(verb) \(target)\(scope) → \(status)"
    }
}
