/// One kind of object the double serves, as discovery describes it.
public struct APIResource: Sendable, Hashable {
    /// "" for the core group.
    public var group: String
    public var version: String
    public var kind: String
    /// The plural resource name in URLs ("deployments").
    public var name: String
    public var namespaced: Bool
    public var shortNames: [String]
    /// `kubectl get all` lists the resources in the "all" category.
    public var inCategoryAll: Bool { ["pods", "services", "deployments", "statefulsets", "replicasets", "daemonsets", "jobs", "cronjobs", "horizontalpodautoscalers"].contains(name) }

    public var groupVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
    /// The path prefix of the group version: /api/v1 or /apis/apps/v1.
    public var basePath: String { group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)" }
    /// "deployments.apps", "pods": the form `kubectl get` and RBAC rules use.
    public var qualifiedName: String { group.isEmpty ? name : "\(name).\(group)" }

    init(_ group: String, _ version: String, _ kind: String, _ name: String, namespaced: Bool = true, shortNames: [String] = []) {
        self.group = group
        self.version = version
        self.kind = kind
        self.name = name
        self.namespaced = namespaced
        self.shortNames = shortNames
    }

    static let verbs: [JSON] = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

    /// Every resource the double serves: what helm/store and helm/platform render,
    /// and what the platform's helm and kubectl commands read.
    public static let all: [APIResource] = [
        APIResource("", "v1", "Namespace", "namespaces", namespaced: false, shortNames: ["ns"]),
        APIResource("", "v1", "Pod", "pods", shortNames: ["po"]),
        APIResource("", "v1", "Service", "services", shortNames: ["svc"]),
        APIResource("", "v1", "Secret", "secrets"),
        APIResource("", "v1", "ConfigMap", "configmaps", shortNames: ["cm"]),
        APIResource("", "v1", "ServiceAccount", "serviceaccounts", shortNames: ["sa"]),
        APIResource("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", shortNames: ["pvc"]),
        APIResource("", "v1", "Event", "events", shortNames: ["ev"]),
        APIResource("", "v1", "ResourceQuota", "resourcequotas", shortNames: ["quota"]),
        APIResource("", "v1", "LimitRange", "limitranges", shortNames: ["limits"]),
        APIResource("", "v1", "Endpoints", "endpoints", shortNames: ["ep"]),
        APIResource("apps", "v1", "Deployment", "deployments", shortNames: ["deploy"]),
        APIResource("apps", "v1", "StatefulSet", "statefulsets", shortNames: ["sts"]),
        APIResource("apps", "v1", "ReplicaSet", "replicasets", shortNames: ["rs"]),
        APIResource("apps", "v1", "DaemonSet", "daemonsets", shortNames: ["ds"]),
        APIResource("batch", "v1", "Job", "jobs"),
        APIResource("batch", "v1", "CronJob", "cronjobs", shortNames: ["cj"]),
        APIResource("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", shortNames: ["netpol"]),
        APIResource("networking.k8s.io", "v1", "Ingress", "ingresses", shortNames: ["ing"]),
        APIResource("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", shortNames: ["hpa"]),
        APIResource("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", shortNames: ["pdb"]),
        APIResource("rbac.authorization.k8s.io", "v1", "Role", "roles"),
        APIResource("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
        APIResource("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", namespaced: false),
        APIResource("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", namespaced: false),
        APIResource("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicy", "validatingadmissionpolicies", namespaced: false),
        APIResource(
            "admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicyBinding", "validatingadmissionpolicybindings", namespaced: false
        ),
        APIResource("events.k8s.io", "v1", "Event", "events", shortNames: ["ev"]),
    ]

    static func find(groupVersion: String, name: String) -> APIResource? {
        all.first { $0.groupVersion == groupVersion && $0.name == name }
    }

    static func find(apiVersion: String, kind: String) -> APIResource? {
        all.first { $0.groupVersion == apiVersion && $0.kind == kind }
    }

    /// Group versions in discovery order (core first).
    static var groupVersions: [(group: String, version: String)] {
        var seen: [String] = []
        var result: [(String, String)] = []
        for resource in all where !seen.contains(resource.groupVersion) {
            seen.append(resource.groupVersion)
            result.append((resource.group, resource.version))
        }
        return result
    }
}

/// The discovery and OpenAPI documents helm and kubectl read before anything else.
enum Discovery {
    static let serverVersion: JSON = [
        "major": "1", "minor": "33", "gitVersion": "v1.33.0", "gitCommit": "kubernetes-api-double",
        "gitTreeState": "clean", "buildDate": "2025-04-23T00:00:00Z", "goVersion": "go1.24.2",
        "compiler": "gc", "platform": "linux/amd64",
    ]

    static let coreVersions: JSON = [
        "kind": "APIVersions", "versions": ["v1"],
        "serverAddressByClientCIDRs": [["clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"]],
    ]

    static var groupList: JSON {
        var groups: [String: [String]] = [:]
        var order: [String] = []
        for (group, version) in APIResource.groupVersions where !group.isEmpty {
            if groups[group] == nil { order.append(group) }
            groups[group, default: []].append(version)
        }
        let items: [JSON] = order.map { group in
            let versions: [JSON] = groups[group]!.map { ["groupVersion": .string("\(group)/\($0)"), "version": .string($0)] }
            return ["name": .string(group), "versions": .array(versions), "preferredVersion": versions[0]]
        }
        return ["kind": "APIGroupList", "apiVersion": "v1", "groups": .array(items)]
    }

    static func resourceList(groupVersion: String) -> JSON? {
        let resources = APIResource.all.filter { $0.groupVersion == groupVersion }
        guard !resources.isEmpty else { return nil }
        let items: [JSON] = resources.map { resource in
            [
                "name": .string(resource.name), "singularName": .string(resource.kind.lowercased()),
                "namespaced": .bool(resource.namespaced), "kind": .string(resource.kind),
                "verbs": .array(APIResource.verbs), "shortNames": .array(resource.shortNames.map { .string($0) }),
                "categories": resource.inCategoryAll ? ["all"] : [],
            ]
        }
        return ["kind": "APIResourceList", "apiVersion": "v1", "groupVersion": .string(groupVersion), "resources": .array(items)]
    }

    /// `/openapi/v3`: where each group version's document is.
    static var openAPIRoot: JSON {
        var paths: [String: JSON] = [:]
        for (group, version) in APIResource.groupVersions {
            let path = group.isEmpty ? "api/\(version)" : "apis/\(group)/\(version)"
            paths[path] = ["serverRelativeURL": .string("/openapi/v3/\(path)?hash=double")]
        }
        return ["paths": .object(paths)]
    }

    /// A group version's OpenAPI v3 document, reduced to what clients check: a PATCH
    /// operation per kind that declares the `fieldValidation` query parameter, so
    /// helm and kubectl leave validation to the server (which accepts any field).
    static func openAPIDocument(path: String) -> JSON? {
        let resources = APIResource.all.filter { $0.basePath == "/" + path }
        guard !resources.isEmpty else { return nil }
        var paths: [String: JSON] = [:]
        for resource in resources {
            let item = resource.namespaced
                ? "\(resource.basePath)/namespaces/{namespace}/\(resource.name)/{name}"
                : "\(resource.basePath)/\(resource.name)/{name}"
            paths[item] = [
                "patch": [
                    "operationId": .string("patch\(resource.kind)"),
                    "parameters": [["name": "fieldValidation", "in": "query", "schema": ["type": "string"]]],
                    "responses": ["200": ["description": "OK"]],
                    "x-kubernetes-action": "patch",
                    "x-kubernetes-group-version-kind": [
                        "group": .string(resource.group), "version": .string(resource.version), "kind": .string(resource.kind),
                    ],
                ],
            ]
        }
        return [
            "openapi": "3.0.0", "info": ["title": "Kubernetes API double", "version": "v1.33.0"],
            "paths": .object(paths), "components": ["schemas": [:]],
        ]
    }
}
