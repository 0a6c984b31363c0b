/// One question put to RBAC, and its answer: the attributes Kubernetes' authorizer
/// sees (`authorizer.Attributes`).
public struct AuthorizationCheck: Sendable, Hashable, CustomStringConvertible {
    /// get, list, watch, create, update, patch, delete, deletecollection, bind…
    public var verb: String
    /// The API group, "" for the core group; empty for a non-resource path too.
    public var group: String
    /// The plural resource as RBAC rules name it ("deployments"); empty for a
    /// non-resource path (discovery, OpenAPI, /version).
    public var resource: String
    public var subresource: String?
    /// nil at cluster scope: cluster-scoped resources and lists across all namespaces.
    public var namespace: String?
    /// The object's name; for a list or watch, the `metadata.name` its field selector
    /// requires, as the API server fills it in.
    public var name: String?
    /// The path, for a non-resource request.
    public var path: String?
    public var allowed: Bool

    public var isResourceRequest: Bool { path == nil }

    /// `resource` and `subresource` as one RBAC resource: "pods/log".
    public var rbacResource: String { resource + (subresource.map { "/\($0)" } ?? "") }

    public var description: String {
        let answer = allowed ? "allowed" : "denied"
        guard isResourceRequest else { return "\(verb) \(path ?? "") \(answer)" }
        let qualified = group.isEmpty ? rbacResource : "\(rbacResource).\(group)"
        let scope = namespace.map { "in \($0)" } ?? "at cluster scope"
        return "\(verb) \(qualified)\(name.map { " \($0)" } ?? "") \(scope) \(answer)"
    }

    init(verb: String, group: String, resource: String, subresource: String? = nil, namespace: String?, name: String?, allowed: Bool = false) {
        self.verb = verb
        self.group = group
        self.resource = resource
        self.subresource = subresource
        self.namespace = namespace
        self.name = name
        self.path = nil
        self.allowed = allowed
    }

    init(verb: String, path: String) {
        self.verb = verb
        self.group = ""
        self.resource = ""
        self.path = path
        self.allowed = false
    }
}
