/// One rule of a Role or ClusterRole, with Kubernetes' matching (`rbac/v1`
/// `RuleAllows`) and coverage (`validation.Covers`, for the escalation check).
struct PolicyRule: Sendable, Hashable {
    var verbs: [String]
    var apiGroups: [String]
    var resources: [String]
    var resourceNames: [String]
    var nonResourceURLs: [String]

    init(verbs: [String], apiGroups: [String] = [], resources: [String] = [], resourceNames: [String] = [], nonResourceURLs: [String] = []) {
        self.verbs = verbs
        self.apiGroups = apiGroups
        self.resources = resources
        self.resourceNames = resourceNames
        self.nonResourceURLs = nonResourceURLs
    }

    init(_ json: JSON) {
        func strings(_ key: String) -> [String] { json[key]?.array?.compactMap(\.string) ?? [] }
        self.init(
            verbs: strings("verbs"), apiGroups: strings("apiGroups"), resources: strings("resources"),
            resourceNames: strings("resourceNames"), nonResourceURLs: strings("nonResourceURLs")
        )
    }

    /// The rules of a Role or ClusterRole object.
    static func rules(of role: JSON) -> [PolicyRule] {
        (role["rules"]?.array ?? []).map(PolicyRule.init)
    }

    /// What `system:discovery` and `system:public-info-viewer` give every
    /// authenticated user: discovery, OpenAPI, version and health paths.
    static let discovery = PolicyRule(
        verbs: ["get"],
        nonResourceURLs: ["/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*", "/version", "/version/", "/healthz", "/livez", "/readyz"]
    )

    func allows(_ check: AuthorizationCheck) -> Bool {
        guard Self.matches(verbs, check.verb) else { return false }
        if let path = check.path {
            return nonResourceURLs.contains { Self.url($0, covers: path) }
        }
        // A rule limited to names never matches a request without one (a create, a list).
        let nameMatches = resourceNames.isEmpty || check.name.map(resourceNames.contains) == true
        return Self.matches(apiGroups, check.group) && resourceMatches(check) && nameMatches
    }

    private func resourceMatches(_ check: AuthorizationCheck) -> Bool {
        let combined = check.rbacResource
        return resources.contains { rule in
            if rule == "*" || rule == combined { return true }
            // "*/status" matches every resource's status subresource.
            guard let subresource = check.subresource else { return false }
            return rule == "*/" + subresource
        }
    }

    /// Whether these rules together grant everything `other` grants: every atomic
    /// permission of `other` (one verb, group, resource and name, or one verb and
    /// URL) is covered by one of `rules`. Returns the atomic rules not covered.
    static func uncovered(by rules: [PolicyRule], _ other: PolicyRule) -> [PolicyRule] {
        var missing: [PolicyRule] = []
        for verb in other.verbs {
            for url in other.nonResourceURLs {
                let atom = PolicyRule(verbs: [verb], nonResourceURLs: [url])
                if !rules.contains(where: { $0.covers(atom) }) { missing.append(atom) }
            }
            for group in other.apiGroups {
                for resource in other.resources {
                    let names = other.resourceNames.isEmpty ? [nil] : other.resourceNames.map(Optional.some)
                    for name in names {
                        let atom = PolicyRule(verbs: [verb], apiGroups: [group], resources: [resource], resourceNames: name.map { [$0] } ?? [])
                        if !rules.contains(where: { $0.covers(atom) }) { missing.append(atom) }
                    }
                }
            }
        }
        return missing
    }

    /// Whether this rule grants all of an atomic rule (one verb, group, resource and
    /// at most one name; or one verb and one URL).
    private func covers(_ atom: PolicyRule) -> Bool {
        guard Self.matches(verbs, atom.verbs[0]) else { return false }
        if let url = atom.nonResourceURLs.first {
            return nonResourceURLs.contains { Self.url($0, covers: url) }
        }
        guard Self.matches(apiGroups, atom.apiGroups[0]) else { return false }
        let resource = atom.resources[0]
        let resourceCovered = resources.contains { rule in
            rule == "*" || rule == resource
                || (resource.contains("/") && rule == "*/" + resource.split(separator: "/", maxSplits: 1)[1])
        }
        guard resourceCovered else { return false }
        if resourceNames.isEmpty { return true }
        return atom.resourceNames.first.map(resourceNames.contains) ?? false
    }

    private static func matches(_ values: [String], _ value: String) -> Bool {
        values.contains("*") || values.contains(value)
    }

    /// A rule's URL: exact, or a prefix ending in "*".
    private static func url(_ rule: String, covers path: String) -> Bool {
        if rule == "*" || rule == path { return true }
        return rule.hasSuffix("*") && path.hasPrefix(String(rule.dropLast()))
    }

    /// Atomic rules merged as Kubernetes' `CompactRules` merges them: the verbs of
    /// rules on the same group, resource and names (or URL) in one rule.
    static func compact(_ rules: [PolicyRule]) -> [PolicyRule] {
        var merged: [PolicyRule] = []
        for rule in rules {
            if let index = merged.firstIndex(where: {
                $0.apiGroups == rule.apiGroups && $0.resources == rule.resources && $0.resourceNames == rule.resourceNames
                    && $0.nonResourceURLs == rule.nonResourceURLs
            }) {
                merged[index].verbs += rule.verbs.filter { !merged[index].verbs.contains($0) }
            } else {
                merged.append(rule)
            }
        }
        return merged
    }

    /// Kubernetes' compact form, as the escalation error prints it.
    var compactDescription: String {
        func list(_ values: [String]) -> String { "[" + values.map { "\"\($0)\"" }.joined(separator: " ") + "]" }
        if !nonResourceURLs.isEmpty {
            return "{NonResourceURLs:\(list(nonResourceURLs)), Verbs:\(list(verbs))}"
        }
        let names = resourceNames.isEmpty ? "" : ", ResourceNames:\(list(resourceNames))"
        return "{APIGroups:\(list(apiGroups)), Resources:\(list(resources))\(names), Verbs:\(list(verbs))}"
    }
}
