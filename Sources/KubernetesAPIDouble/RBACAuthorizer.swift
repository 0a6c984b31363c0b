/// Kubernetes' RBAC authorizer over the Roles, ClusterRoles, RoleBindings and
/// ClusterRoleBindings the double holds: a user may do what a rule allows in a role
/// bound to them, cluster-wide by a ClusterRoleBinding, or in one namespace by a
/// RoleBinding there (to a ClusterRole or to a Role of that namespace). Requests at
/// cluster scope (cluster-scoped resources, lists and watches across all
/// namespaces) need a cluster-wide grant. Discovery paths are open to everybody, as
/// `system:discovery` makes them. Aggregated ClusterRoles are not resolved.
struct RBACAuthorizer {
    let cluster: ClusterState

    static let group = "rbac.authorization.k8s.io"
    static let roles = APIResource.find(groupVersion: "\(group)/v1", name: "roles")!
    static let clusterRoles = APIResource.find(groupVersion: "\(group)/v1", name: "clusterroles")!
    static let roleBindings = APIResource.find(groupVersion: "\(group)/v1", name: "rolebindings")!
    static let clusterRoleBindings = APIResource.find(groupVersion: "\(group)/v1", name: "clusterrolebindings")!

    /// Whether some rule bound to `user` in the check's scope allows it; with the
    /// reason RBAC gives on a refusal (bindings to roles that do not exist).
    func authorize(_ check: AuthorizationCheck, user: UserInfo) -> (allowed: Bool, reason: String) {
        let (rules, errors) = rules(for: user, namespace: check.namespace)
        if rules.contains(where: { $0.allows(check) }) { return (true, "") }
        return (false, errors.isEmpty ? "" : "RBAC: [" + errors.joined(separator: ", ") + "]")
    }

    /// Every rule that applies to `user` in `namespace` (nil: the cluster-wide ones
    /// only), and the bindings whose role is missing.
    func rules(for user: UserInfo, namespace: String?) -> (rules: [PolicyRule], errors: [String]) {
        var rules = [PolicyRule.discovery]
        var errors: [String] = []
        for binding in objects(Self.clusterRoleBindings, namespace: nil) where bindsRole(binding, to: user, namespace: nil) {
            do { rules += try roleRules(binding["roleRef"] ?? [:], namespace: nil) } catch { errors.append(error.message) }
        }
        if let namespace {
            for binding in objects(Self.roleBindings, namespace: namespace) where bindsRole(binding, to: user, namespace: namespace) {
                do { rules += try roleRules(binding["roleRef"] ?? [:], namespace: namespace) } catch { errors.append(error.message) }
            }
        }
        return (rules, errors)
    }

    /// The rules of the role a `roleRef` names: a ClusterRole, or a Role in
    /// `namespace`. A missing role is NotFound.
    func roleRules(_ roleRef: JSON, namespace: String?) throws(APIError) -> [PolicyRule] {
        let name = roleRef["name"]?.string ?? ""
        let resource: APIResource
        switch roleRef["kind"]?.string {
        case "ClusterRole": resource = Self.clusterRoles
        case "Role" where namespace != nil: resource = Self.roles
        default:
            throw APIError(code: 422, reason: "Invalid", message: "roleRef.kind: Unsupported value: \"\(roleRef["kind"]?.string ?? "")\"")
        }
        do {
            return PolicyRule.rules(of: try cluster.get(resource, namespace: resource.namespaced ? namespace : nil, name: name))
        } catch {
            throw APIError(code: 404, reason: "NotFound", message: "\(resource.kind.lowercased()).\(Self.group) \"\(name)\" not found")
        }
    }

    private func bindsRole(_ binding: JSON, to user: UserInfo, namespace: String?) -> Bool {
        (binding["subjects"]?.array ?? []).contains { user.matches(subject: $0, bindingNamespace: namespace) }
    }

    private func objects(_ resource: APIResource, namespace: String?) -> [JSON] {
        cluster.list(resource, namespace: namespace, labels: LabelSelector(nil), fields: FieldSelector(nil)).items
    }
}
