/// RBAC for one request: puts each question to the authorizer, keeps every question
/// and answer, and refuses what RBAC does not allow with the API server's own
/// Forbidden Status. For a user RBAC does not restrict (the admin, or every user
/// when the double does not enforce RBAC) it asks nothing and records nothing.
struct RequestAuthorization {
    let user: UserInfo?
    private let authorizer: RBACAuthorizer?
    private(set) var checks: [AuthorizationCheck] = []

    init(user: UserInfo?, enforced: Bool, cluster: ClusterState) {
        self.user = user
        authorizer = enforced && !(user?.isUnrestricted ?? false) ? RBACAuthorizer(cluster: cluster) : nil
    }

    /// An enforcing double answers a missing or unknown token with 401.
    func requireAuthenticated() throws(APIError) {
        if authorizer != nil, user == nil {
            throw APIError(code: 401, reason: "Unauthorized", message: "Unauthorized")
        }
    }

    /// Refuses the check with 403 Forbidden unless RBAC allows it.
    mutating func require(_ check: AuthorizationCheck) throws(APIError) {
        guard let authorizer, let user else { return }
        var check = check
        let (allowed, reason) = authorizer.authorize(check, user: user)
        check.allowed = allowed
        checks.append(check)
        if !allowed { throw Self.forbidden(check, user: user, reason: reason) }
    }

    /// The API server's escalation check on writing a RoleBinding or
    /// ClusterRoleBinding: allowed when the user may `bind` the role it refers to,
    /// or already holds every permission of that role where the binding applies
    /// (its namespace, or the cluster). The role must exist.
    mutating func requireNoEscalation(binding: JSON, resource: APIResource, namespace: String?, name: String) throws(APIError) {
        guard let authorizer, let user else { return }
        let roleRef = binding["roleRef"] ?? [:]
        let roleResource = roleRef["kind"]?.string == "Role" ? RBACAuthorizer.roles : RBACAuthorizer.clusterRoles
        var bind = AuthorizationCheck(
            verb: "bind", group: RBACAuthorizer.group, resource: roleResource.name, namespace: namespace, name: roleRef["name"]?.string ?? ""
        )
        bind.allowed = authorizer.authorize(bind, user: user).allowed
        checks.append(bind)
        if bind.allowed { return }
        let granted = try authorizer.roleRules(roleRef, namespace: namespace)
        let held = authorizer.rules(for: user, namespace: namespace).rules
        let missing = PolicyRule.compact(granted.flatMap { PolicyRule.uncovered(by: held, $0) })
        if missing.isEmpty { return }
        let groups = user.groups.map { "\"\($0)\"" }.joined(separator: " ")
        let lines = Set(missing.map(\.compactDescription)).sorted().joined(separator: "\n")
        throw APIError(
            code: 403, reason: "Forbidden",
            message: "\(resource.qualifiedName) \"\(name)\" is forbidden: user \"\(user.name)\" (groups=[\(groups)]) is attempting to grant RBAC permissions not currently held:\n\(lines)",
            details: ["name": .string(name), "group": .string(resource.group), "kind": .string(resource.name)]
        )
    }

    /// The message Kubernetes' authorization filter writes (`forbiddenMessage`),
    /// wrapped as `NewForbidden` wraps it.
    static func forbidden(_ check: AuthorizationCheck, user: UserInfo, reason: String) -> APIError {
        var message: String
        if let path = check.path {
            message = "forbidden: User \"\(user.name)\" cannot \(check.verb) path \"\(path)\""
        } else {
            let scope = check.namespace.map { "in the namespace \"\($0)\"" } ?? "at the cluster scope"
            let subject = check.group.isEmpty ? check.resource : "\(check.resource).\(check.group)"
            message = (check.name.map { "\(subject) \"\($0)\"" } ?? subject)
                + " is forbidden: User \"\(user.name)\" cannot \(check.verb) resource \"\(check.rbacResource)\" in API group \"\(check.group)\" \(scope)"
        }
        if !reason.isEmpty { message += ": " + reason }
        var details: JSON = ["group": .string(check.group), "kind": .string(check.resource)]
        if let name = check.name { details["name"] = .string(name) }
        return APIError(code: 403, reason: "Forbidden", message: message, details: check.path == nil ? details : nil)
    }
}
