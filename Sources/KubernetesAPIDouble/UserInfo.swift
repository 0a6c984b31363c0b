/// Who a bearer token stands for, as authentication hands it to the authorizer.
struct UserInfo: Sendable, Hashable {
    var name: String
    var groups: [String]

    /// The kubeconfig's default user. In `system:masters`, which RBAC never asks about.
    static let admin = UserInfo(name: "kubernetes-admin", groups: ["system:masters", "system:authenticated"])

    /// A service account's user and groups, as the API server names them.
    static func serviceAccount(namespace: String, name: String) -> UserInfo {
        UserInfo(
            name: "system:serviceaccount:\(namespace):\(name)",
            groups: ["system:serviceaccounts", "system:serviceaccounts:\(namespace)", "system:authenticated"]
        )
    }

    var isUnrestricted: Bool { groups.contains("system:masters") }

    /// Whether a binding's subject names this user: `User` by name, `Group` by
    /// membership, `ServiceAccount` by namespace and name (a RoleBinding's
    /// subject without a namespace means the binding's own).
    func matches(subject: JSON, bindingNamespace: String?) -> Bool {
        let name = subject["name"]?.string ?? ""
        switch subject["kind"]?.string {
        case "User": return name == self.name
        case "Group": return groups.contains(name)
        case "ServiceAccount":
            let namespace = subject["namespace"]?.string.flatMap { $0.isEmpty ? nil : $0 } ?? bindingNamespace
            guard let namespace else { return false }
            return self.name == "system:serviceaccount:\(namespace):\(name)"
        default: return false
        }
    }
}
