import Foundation
import KubernetesAPIDouble
import Testing

@testable import Provisioning

/// helm/platform's RBAC as the real helm renders it: the ClusterRole bound
/// cluster-wide, the store ClusterRole the driver binds per store namespace, and
/// the ClusterRoleBinding.
struct PlatformRBAC {
    /// One permission a role grants: one verb on one resource (and name), where the
    /// role is bound. The chart has no wildcards (scripts/check-manifests refuses
    /// them), so a grant matches a check by equality.
    struct Grant: Hashable, Comparable, CustomStringConvertible {
        var role: String
        var group: String
        var resource: String
        var verb: String
        var resourceName: String?
        /// Bound by the ClusterRoleBinding (everywhere), or by the driver's
        /// RoleBindings (in store namespaces only).
        var clusterWide: Bool

        /// Whether the grant allowed the check: same verb, resource and name, in a
        /// scope where the role is bound.
        func allowed(_ check: AuthorizationCheck, storeNamespaces: Set<String>) -> Bool {
            check.allowed && check.isResourceRequest && check.verb == verb && check.group == group && check.rbacResource == resource
                && (resourceName == nil || check.name == resourceName)
                && (clusterWide || check.namespace.map(storeNamespaces.contains) == true)
        }

        var description: String {
            let qualified = group.isEmpty ? resource : "\(resource).\(group)"
            let name = resourceName.map { " \($0)" } ?? ""
            return "\(role): \(verb) \(qualified)\(name) (\(clusterWide ? "cluster-wide" : "in store namespaces"))"
        }

        static func < (lhs: Grant, rhs: Grant) -> Bool { lhs.description < rhs.description }
    }

    static let release = "storeplatform"
    static let namespace = "storeplatform"

    /// The rendered ClusterRoles and ClusterRoleBindings.
    var objects: [JSON]

    /// The chart's RBAC, rendered with `major`'s helm. kubectl turns the YAML into
    /// JSON (`create --dry-run=client -o json`, against the double as admin): the
    /// suite needs kubectl anyway, and it reads the YAML exactly as `kubectl apply`
    /// would, so the tests need no YAML parser of their own and no Python.
    static func render(_ major: HelmMajor, api: KubernetesAPIDouble, directory: String) async throws -> PlatformRBAC {
        let runner = CommandRunner(timeout: .seconds(60), errorLimit: 64 * 1024)
        let template = try await runner.run(Command(
            major.helm, ["template", release, repositoryRoot + "/helm/platform", "-n", namespace], outputLimit: 4 * 1024 * 1024
        ))
        try #require(template.succeeded, "helm template: \(template.standardError)")
        let adminConfig = directory + "/admin-kubeconfig"
        try api.writeKubeconfig(to: adminConfig)
        let converted = try await runner.run(Command(
            major.kubectl, ["create", "--dry-run=client", "--validate=false", "-o", "json", "-f", "-", "--kubeconfig", adminConfig],
            input: template.standardOutput, outputLimit: 4 * 1024 * 1024
        ))
        try #require(converted.succeeded, "kubectl create --dry-run=client: \(converted.standardError)")
        let rbacKinds: Set<String> = ["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"]
        let objects = try Self.documents(converted.standardOutput).flatMap { $0["kind"]?.string == "List" ? $0["items"]?.array ?? [] : [$0] }
            .filter { rbacKinds.contains($0["kind"]?.string ?? "") }
        return PlatformRBAC(objects: objects)
    }

    /// kubectl prints one JSON object per input object, one after the other.
    static func documents(_ text: String) throws -> [JSON] {
        var documents: [JSON] = []
        var depth = 0, inString = false, escaped = false
        var start: String.Index?
        for index in text.indices {
            let character = text[index]
            if inString {
                if escaped { escaped = false } else if character == "\\" { escaped = true } else if character == "\"" { inString = false }
                continue
            }
            switch character {
            case "\"": inString = true
            case "{", "[":
                if depth == 0 { start = index }
                depth += 1
            case "}", "]":
                depth -= 1
                if depth == 0, let begin = start { documents.append(try JSON.parse(String(text[begin...index]))) }
            default: break
            }
        }
        return documents
    }

    var clusterRoles: [JSON] { objects.filter { $0["kind"]?.string == "ClusterRole" } }
    var clusterRoleBindings: [JSON] { objects.filter { $0["kind"]?.string == "ClusterRoleBinding" } }

    /// Adds the rendered objects to the double, as `helm install` of helm/platform would.
    func seed(_ api: KubernetesAPIDouble) throws {
        for object in objects {
            let kind = object["kind"]?.string ?? ""
            let resource = kind.lowercased() + "s.rbac.authorization.k8s.io"
            let namespace = kind.hasPrefix("Cluster") ? nil : object[path: "metadata.namespace"]?.string ?? Self.namespace
            try api.seed(resource, namespace: namespace, object)
        }
    }

    /// Every permission the ClusterRoles grant, atomically: bound cluster-wide when a
    /// ClusterRoleBinding refers to the role, else in store namespaces (the driver's
    /// RoleBindings).
    var grants: [Grant] {
        let boundClusterWide = Set(clusterRoleBindings.compactMap { $0[path: "roleRef.name"]?.string })
        var grants: Set<Grant> = []
        for role in clusterRoles {
            let name = role[path: "metadata.name"]?.string ?? ""
            for rule in role["rules"]?.array ?? [] {
                func strings(_ key: String) -> [String] { rule[key]?.array?.compactMap(\.string) ?? [] }
                let names: [String?] = strings("resourceNames").isEmpty ? [nil] : strings("resourceNames")
                for group in strings("apiGroups") {
                    for resource in strings("resources") {
                        for verb in strings("verbs") {
                            for resourceName in names {
                                grants.insert(Grant(
                                    role: name, group: group, resource: resource, verb: verb, resourceName: resourceName,
                                    clusterWide: boundClusterWide.contains(name)
                                ))
                            }
                        }
                    }
                }
            }
        }
        return grants.sorted()
    }
}
