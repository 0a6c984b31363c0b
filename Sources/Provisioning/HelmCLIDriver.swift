import Foundation
import Synchronization

/// The production driver: runs `helm` and `kubectl` as subprocesses (argument
/// arrays, never a shell) and parses their output. Works with helm 3 and helm 4
/// (both run in the tests, against a Kubernetes API double).
///
/// Every method checks before it acts, so it can run again after a crash or a
/// retry without duplicating anything. Each command has a timeout (the command
/// and everything it started are killed at it) and capped output. A command that
/// fails — a non-zero exit, a timeout, or an executable that cannot start — throws
/// ``ClusterError`` with the tool's exact output (stderr, then stdout, capped).
/// Secret values travel only on `kubectl`'s standard input, never in argv, an
/// error or a log: the output of that one command is redacted (``SecretRedactor``,
/// every encoding) before any cut.
///
/// Helm keeps its release records in ConfigMaps (`HELM_DRIVER=configmap` for every
/// helm command): the values the driver passes carry names and hosts, never
/// credentials, so the records hold nothing secret, and the reconcile listing can
/// read them without any permission on Secrets outside the stores' namespaces.
///
/// The commands, per method (global flags `--kubeconfig`, `--kube-context` /
/// `--context` follow each command when configured):
/// - ``ensureNamespace(_:storeID:)``: `kubectl create -f -` of a Namespace labelled as
///   managed, with the store id and Pod Security `restricted`; when it exists,
///   `kubectl get namespace NS -o json` and, when labels are missing,
///   `kubectl label namespace NS … --overwrite`. Then, when a store role is configured,
///   `kubectl create -f -` of the RoleBinding that gives the platform's service
///   account that role in the namespace (already there: nothing to do; refused because
///   the admission policy's cache has not seen the new namespace yet: tried again).
/// - ``ensureSecret(namespace:name:makeValues:)``: `kubectl get secret NAME -n NS -o name`;
///   when absent, `kubectl create -f -` of a Secret manifest.
/// - ``releaseStatus(namespace:release:)``: `helm status RELEASE -n NS -o json`.
/// - ``installRelease(_:)``: `helm install RELEASE CHART -n NS [-f FILE …] --set-string k=v …
///   --wait=false --timeout T` (``Configuration/installTimeout``; `--wait=hookOnly` on
///   helm 4, whose major version `helm version --short` tells once).
/// - ``readiness(namespace:release:)``: one `kubectl get pods -n NS -l
///   app.kubernetes.io/instance=RELEASE -o json`, plus `kubectl get events -n NS -o json`
///   once when a pod is failing.
/// - ``uninstallRelease(namespace:release:)``: `helm uninstall RELEASE -n NS`.
/// - ``releaseLeftovers(namespace:release:)``: `kubectl get pods,persistentvolumeclaims -n NS
///   -l app.kubernetes.io/instance=RELEASE -o json`.
/// - ``deleteNamespace(_:)``: `kubectl get namespace NS -o json`, then (when it is there,
///   managed by the platform and not already terminating) `kubectl delete namespace NS
///   --ignore-not-found --wait=false`.
/// - ``namespacePhase(_:)``: `kubectl get namespace NS -o json`.
/// - ``listManaged()``: exactly two commands, however many stores and revisions there are:
///   `kubectl get namespaces -l app.kubernetes.io/managed-by=storeplatform -o json` and
///   `kubectl get configmaps -A -l owner=helm,status!=superseded --show-labels --no-headers`
///   (the API server's table: names and labels only, never the release payloads).
public struct HelmCLIDriver: ClusterDriver {
    /// Where the tools are and how they reach the cluster.
    public struct Configuration: Sendable {
        /// `helm`: a path, or a name looked up in `PATH`.
        public var helmPath: String
        /// `kubectl`: a path, or a name looked up in `PATH`.
        public var kubectlPath: String
        /// Passed as `--kubeconfig` to both tools; nil uses their defaults (`KUBECONFIG`, ~/.kube/config).
        public var kubeconfig: String?
        /// Passed as `--kube-context` to helm and `--context` to kubectl; nil uses the current context.
        public var context: String?
        /// The directory holding the charts: the chart `helm/store` installs from `<chartDirectory>/store`.
        public var chartDirectory: String
        /// The operator's values files (storage class, registry, ingress class,
        /// resources…), passed to `helm install` with `-f` in order, under the driver's
        /// own `--set-string` values, which always win.
        public var valuesFiles: [String]
        /// The ClusterRole bound in each store namespace to ``serviceAccount`` (the
        /// RoleBinding is named ``roleBindingName``); nil: none is made (the driver's
        /// credentials already reach every namespace, as with an admin kubeconfig).
        public var storeClusterRole: String?
        /// The platform's service account as `NAMESPACE/NAME`, the subject of that binding.
        public var serviceAccount: String?
        /// The `app.kubernetes.io/component` values whose pods must all be Ready.
        public var requiredComponents: [String]
        /// How long one command may run before it and its children are killed (SIGTERM, then SIGKILL).
        public var commandTimeout: Duration
        /// helm's own `--timeout` for `helm install`, which waits for the chart's
        /// post-install setup Job even with `--wait=false`. The install command is
        /// killed only a minute after it, so helm gets to record a failed release first.
        /// Keep it well under the provisioning deadline, which also covers readiness.
        public var installTimeout: Duration
        /// The most output a failure reports, and the most stderr kept, in bytes.
        public var outputLimit: Int
        /// The most standard output kept from a command whose output is parsed (a namespace
        /// list grows with the number of stores; `helm status` includes the whole chart).
        public var jsonOutputLimit: Int
        /// Between SIGTERM and SIGKILL when a command is killed.
        public var terminationGracePeriod: Duration

        public init(
            helmPath: String = "helm",
            kubectlPath: String = "kubectl",
            kubeconfig: String? = nil,
            context: String? = nil,
            chartDirectory: String = "helm",
            valuesFiles: [String] = [],
            storeClusterRole: String? = nil,
            serviceAccount: String? = nil,
            requiredComponents: [String] = ["wordpress", "mysql"],
            commandTimeout: Duration = .seconds(120),
            installTimeout: Duration = .seconds(300),
            outputLimit: Int = 64 * 1024,
            jsonOutputLimit: Int = 32 * 1024 * 1024,
            terminationGracePeriod: Duration = .seconds(5)
        ) {
            self.helmPath = helmPath
            self.kubectlPath = kubectlPath
            self.kubeconfig = kubeconfig
            self.context = context
            self.chartDirectory = chartDirectory
            self.valuesFiles = valuesFiles
            self.storeClusterRole = storeClusterRole
            self.serviceAccount = serviceAccount
            self.requiredComponents = requiredComponents
            self.commandTimeout = commandTimeout
            self.installTimeout = installTimeout
            self.outputLimit = outputLimit
            self.jsonOutputLimit = jsonOutputLimit
            self.terminationGracePeriod = terminationGracePeriod
        }
    }

    /// The label every namespace and Secret the platform makes carries.
    public static let managedByLabel = "app.kubernetes.io/managed-by"
    public static let managedByValue = "storeplatform"
    /// The label holding the owning store's id, on its namespace.
    public static let storeIDLabel = "storeplatform.io/store-id"
    /// The label the chart puts on every workload of a release.
    public static let instanceLabel = "app.kubernetes.io/instance"
    /// The label naming a pod's part of the store (wordpress, mysql, setup).
    public static let componentLabel = "app.kubernetes.io/component"
    /// Pod Security Admission: store namespaces enforce (and audit and warn on) `restricted`.
    public static let podSecurityLabels = [
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/warn": "restricted",
    ]
    /// The RoleBinding made in each store namespace.
    public static let roleBindingName = "storeplatform"
    /// Container waiting reasons that do not fix themselves by waiting. ErrImagePull is
    /// not one: a registry hiccup clears on the next pull, and one that does not turns
    /// into ImagePullBackOff.
    public static let failingReasons: Set<String> = [
        "CrashLoopBackOff", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError", "CreateContainerError",
    ]
    /// How many of the newest events a failing readiness carries.
    public static let eventLimit = 5
    /// Helm's storage for release records (see the type's documentation).
    public static let helmEnvironment = ["HELM_DRIVER": "configmap"]

    public let kind = ClusterDriverKind.helm
    public let configuration: Configuration
    private let runner: CommandRunner
    /// helm's major version once asked (3 or 4: their flags differ); 0 until then.
    private let helmVersion = HelmVersion()

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        runner = CommandRunner(
            timeout: configuration.commandTimeout,
            errorLimit: configuration.outputLimit,
            gracePeriod: configuration.terminationGracePeriod
        )
    }

    // MARK: ClusterDriver

    public func ensureNamespace(_ namespace: String, storeID: String) async throws {
        let wanted = Self.podSecurityLabels.merging([Self.managedByLabel: Self.managedByValue, Self.storeIDLabel: storeID]) { $1 }
        let create = "kubectl create namespace \(namespace)"
        let created = try await kubectl(
            ["create", "-f", "-"], input: KubernetesManifest.json(KubernetesManifest.namespace(namespace, labels: wanted)), operation: create
        )
        if !created.succeeded {
            guard Self.isAlreadyExists(created) else { throw failure(create, created) }
            try await adoptNamespace(namespace, storeID: storeID, wanted: wanted)
        }
        try await ensureRoleBinding(namespace: namespace)
    }

    /// An existing namespace: refused when it is going away or another store's, labelled
    /// when labels are missing (made by hand, or by an older version of the platform).
    private func adoptNamespace(_ namespace: String, storeID: String, wanted: [String: String]) async throws {
        let operation = "kubectl get namespace \(namespace)"
        let result = try await kubectl(["get", "namespace", namespace, "-o", "json"], operation: operation, parsesJSON: true)
        guard result.succeeded else { throw failure(operation, result) }
        let existing = try decode(KubernetesJSON.Namespace.self, result, operation: operation)
        let labels = existing.metadata.labels ?? [:]
        if existing.isTerminating {
            throw ClusterError(
                operation: "ensure namespace \(namespace)",
                output: "namespace \(namespace) is being deleted (Terminating); try again once it is gone"
            )
        }
        if let owner = labels[Self.storeIDLabel], owner != storeID {
            throw ClusterError(operation: "ensure namespace \(namespace)", output: "namespace \(namespace) belongs to store \(owner), not \(storeID)")
        }
        let missing = wanted.filter { labels[$0.key] != $0.value }
        if missing.isEmpty { return }
        let label = "kubectl label namespace \(namespace)"
        let labelled = try await kubectl(
            ["label", "namespace", namespace] + missing.keys.sorted().map { "\($0)=\(missing[$0]!)" } + ["--overwrite"], operation: label
        )
        guard labelled.succeeded else { throw failure(label, labelled) }
    }

    private func ensureRoleBinding(namespace: String) async throws {
        guard let role = configuration.storeClusterRole, let account = configuration.serviceAccount else { return }
        let parts = account.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw ClusterError(operation: "ensure role binding", output: "service account \"\(account)\" is not NAMESPACE/NAME")
        }
        let binding = KubernetesManifest.roleBinding(
            Self.roleBindingName, namespace: namespace, clusterRole: role, serviceAccount: parts[1], serviceAccountNamespace: parts[0],
            labels: [Self.managedByLabel: Self.managedByValue]
        )
        let operation = "kubectl create rolebinding \(Self.roleBindingName)"
        // The admission policy reads the namespace from the API server's cache, which
        // may not have the namespace made a moment ago: a refusal naming it as not
        // found is tried again, a few times, a second apart.
        for attempt in 1...Self.roleBindingAttempts {
            let result = try await kubectl(["create", "-f", "-"], input: KubernetesManifest.json(binding), operation: operation)
            if result.succeeded || Self.isAlreadyExists(result) { return }
            guard attempt < Self.roleBindingAttempts, result.standardError.contains("\"\(namespace)\" not found") else {
                throw failure(operation, result)
            }
            try await Task.sleep(for: .seconds(1))
        }
    }

    /// How many times the RoleBinding's create is tried while its new namespace is not found.
    static let roleBindingAttempts = 4

    public func ensureSecret(namespace: String, name: String, makeValues: @Sendable () -> [String: String]) async throws {
        let operation = "kubectl get secret \(name)"
        let result = try await kubectl(["get", "secret", name, "-n", namespace, "-o", "name"], operation: operation)
        if result.succeeded { return }
        guard Self.isNotFound(result) else { throw failure(operation, result) }

        let values = makeValues()
        let manifest = KubernetesManifest.secret(
            name, namespace: namespace, labels: [Self.managedByLabel: Self.managedByValue], values: values
        )
        // `create`, not `apply`: apply would copy the whole manifest, values included,
        // into a last-applied-configuration annotation.
        let create = "kubectl create secret \(name)"
        // The only command that ever holds the values (on its stdin), so the only
        // output that can echo them: redacted on every path, timeouts included.
        let redactor = SecretRedactor(values: values.values)
        let created = try await kubectl(
            ["create", "-f", "-"], input: KubernetesManifest.json(manifest), operation: create, redacting: redactor
        )
        if created.succeeded { return }
        // Made by a concurrent attempt between the check and the create: it exists, as wanted.
        if Self.isAlreadyExists(created) { return }
        throw failure(create, created, redacting: redactor)
    }

    public func releaseStatus(namespace: String, release: String) async throws -> ReleaseStatus? {
        let operation = "helm status \(release)"
        let result = try await helm(["status", release, "-n", namespace, "-o", "json"], operation: operation, parsesJSON: true)
        if !result.succeeded {
            if Self.isReleaseNotFound(result) { return nil }
            throw failure(operation, result)
        }
        let info = try decode(KubernetesJSON.HelmRelease.self, result, operation: operation).info
        let state = Self.releaseState(helmStatus: info?.status ?? "") ?? .failed
        return ReleaseStatus(state, since: info?.last_deployed.flatMap(KubernetesJSON.date))
    }

    public func installRelease(_ request: InstallRequest) async throws {
        let arguments = ["install", request.release, chartPath(request.chart), "-n", request.namespace]
        try await runRelease("helm install \(request.release)", arguments + (try await valueArguments(request)))
    }

    /// `helm upgrade` with every value given again (`--reset-values`, the chart's
    /// defaults under the request's values): never `--reuse-values`, whose carried-over
    /// values would hide drift between what the platform asked for and what runs.
    public func upgradeRelease(_ request: InstallRequest) async throws {
        let arguments = ["upgrade", request.release, chartPath(request.chart), "-n", request.namespace, "--reset-values"]
        try await runRelease("helm upgrade \(request.release)", arguments + (try await valueArguments(request)))
    }

    /// `helm rollback` to `revision`, which helm records as a new revision.
    public func rollbackRelease(namespace: String, release: String, to revision: Int) async throws {
        let arguments = ["rollback", release, String(revision), "-n", namespace, "--timeout", Self.goDuration(configuration.installTimeout)]
        try await runRelease("helm rollback \(release) \(revision)", arguments)
    }

    public func releaseHistory(namespace: String, release: String) async throws -> [ReleaseRevision] {
        let operation = "helm history \(release)"
        let result = try await helm(["history", release, "-n", namespace, "-o", "json"], operation: operation, parsesJSON: true)
        if !result.succeeded {
            if Self.isReleaseNotFound(result) { return [] }
            throw failure(operation, result)
        }
        return try decode([KubernetesJSON.HelmRevision].self, result, operation: operation)
            .map { ReleaseRevision(revision: $0.revision, state: Self.revisionState(helmStatus: $0.status ?? "")) }
            .sorted { $0.revision < $1.revision }
    }

    /// The values files, then each value as `--set-string`, then how long to wait.
    /// No --atomic: a failed install stays for inspection. Readiness is polled by the
    /// provisioner, not waited for by helm; hooks (the setup Job) still are. helm 4
    /// names that --wait=hookOnly and warns about --wait=false.
    private func valueArguments(_ request: InstallRequest) async throws -> [String] {
        var arguments: [String] = []
        for file in configuration.valuesFiles {
            arguments += ["-f", file]
        }
        for key in request.values.keys.sorted() {
            arguments += ["--set-string", "\(key)=\(Self.escapeSetValue(request.values[key]!))"]
        }
        let wait = try await helmMajorVersion() >= 4 ? "--wait=hookOnly" : "--wait=false"
        return arguments + [wait, "--timeout", Self.goDuration(configuration.installTimeout)]
    }

    /// Runs a helm command that changes a release, within helm's own timeout and a minute.
    private func runRelease(_ operation: String, _ arguments: [String]) async throws {
        let result = try await helm(arguments, operation: operation, timeout: configuration.installTimeout + .seconds(60))
        guard result.succeeded else { throw failure(operation, result) }
    }

    public func readiness(namespace: String, release: String, changedAt: Date?) async throws -> Readiness {
        let operation = "kubectl get pods -l \(Self.instanceLabel)=\(release)"
        let result = try await kubectl(
            ["get", "pods", "-n", namespace, "-l", "\(Self.instanceLabel)=\(release)", "-o", "json"],
            operation: operation, parsesJSON: true
        )
        guard result.succeeded else { throw failure(operation, result) }
        // Pods being deleted, and pods that ended (evicted, or a Job's), are not the
        // workloads' current pods.
        let pods = try decode(KubernetesJSON.List<KubernetesJSON.Pod>.self, result, operation: operation).items
            .filter { $0.metadata.deletionTimestamp == nil && !["Succeeded", "Failed"].contains($0.status?.phase ?? "") }

        var failing: [(reason: String, detail: String)] = []
        // `helm upgrade` and `helm rollback` return once the manifests are applied,
        // before the controllers replaced the pods: a pod made before the change is
        // the old revision's, and its failure not the new one's.
        for pod in pods where !pod.predates(changedAt) {
            let statuses = (pod.status?.initContainerStatuses ?? []) + (pod.status?.containerStatuses ?? [])
            for container in statuses {
                guard let reason = container.state?.waiting?.reason, Self.failingReasons.contains(reason) else { continue }
                failing.append((reason, Self.describe(pod: pod.metadata.name, container: container, reason: reason)))
            }
        }
        if let first = failing.first {
            return .failing(
                reason: first.reason,
                detail: failing.map(\.detail).joined(separator: "; "),
                events: await recentEvents(namespace: namespace)
            )
        }

        var notReady: [String] = []
        for component in configuration.requiredComponents {
            let members = pods.filter { $0.metadata.labels?[Self.componentLabel] == component }
            if members.isEmpty {
                notReady.append("\(component): no pod yet")
            }
            for pod in members where !pod.isReady {
                let waiting = ((pod.status?.containerStatuses ?? []).compactMap { $0.state?.waiting?.reason }).first
                notReady.append("\(component): pod \(pod.metadata.name) not ready (\(pod.status?.phase ?? "unknown")\(waiting.map { ", \($0)" } ?? ""))")
            }
        }
        return notReady.isEmpty ? .ready : .progressing(notReady: notReady)
    }

    public func uninstallRelease(namespace: String, release: String) async throws {
        let operation = "helm uninstall \(release)"
        let result = try await helm(["uninstall", release, "-n", namespace], operation: operation)
        if result.succeeded || Self.isReleaseNotFound(result) { return }
        throw failure(operation, result)
    }

    public func releaseLeftovers(namespace: String, release: String) async throws -> [String] {
        let operation = "kubectl get pods,persistentvolumeclaims -l \(Self.instanceLabel)=\(release)"
        let result = try await kubectl(
            ["get", "pods,persistentvolumeclaims", "-n", namespace, "-l", "\(Self.instanceLabel)=\(release)", "-o", "json"],
            operation: operation, parsesJSON: true
        )
        if Self.isNotFound(result) { return [] }
        guard result.succeeded else { throw failure(operation, result) }
        // A hook Job's pods are not in the way: helm deletes the old Job before it
        // makes the new one (before-hook-creation). A claim is in the way only while
        // it is going: terminating, or still owned by the StatefulSet the uninstall
        // removed (the garbage collector has yet to delete it). A claim kept on
        // purpose (no owner: retained data) is what the new install should find.
        return try decode(KubernetesJSON.List<KubernetesJSON.Pod>.self, result, operation: operation).items
            .filter { item in
                let owners = (item.metadata.ownerReferences ?? []).compactMap(\.kind)
                if item.kind == "PersistentVolumeClaim" {
                    return item.metadata.deletionTimestamp != nil || owners.contains("StatefulSet")
                }
                return !owners.contains("Job")
            }
            .map { item in
            "\(item.kind?.lowercased() ?? "object")/\(item.metadata.name)" + (item.metadata.deletionTimestamp != nil ? " (terminating)" : "")
        }
    }

    public func deleteNamespace(_ namespace: String) async throws {
        let operation = "kubectl get namespace \(namespace)"
        let result = try await kubectl(["get", "namespace", namespace, "-o", "json"], operation: operation, parsesJSON: true)
        if !result.succeeded {
            if Self.isNotFound(result) { return }
            throw failure(operation, result)
        }
        // Never delete what the platform did not make, whatever name it is handed.
        let existing = try decode(KubernetesJSON.Namespace.self, result, operation: operation)
        guard existing.metadata.labels?[Self.managedByLabel] == Self.managedByValue else {
            throw ClusterError(
                operation: "kubectl delete namespace \(namespace)",
                output: "namespace \(namespace) is not labelled \(Self.managedByLabel)=\(Self.managedByValue); refusing to delete it"
            )
        }
        if existing.isTerminating { return }
        let delete = "kubectl delete namespace \(namespace)"
        let deleted = try await kubectl(["delete", "namespace", namespace, "--ignore-not-found", "--wait=false"], operation: delete)
        guard deleted.succeeded else { throw failure(delete, deleted) }
    }

    public func namespacePhase(_ namespace: String) async throws -> NamespacePhase? {
        let operation = "kubectl get namespace \(namespace)"
        let result = try await kubectl(["get", "namespace", namespace, "-o", "json"], operation: operation, parsesJSON: true)
        if !result.succeeded {
            if Self.isNotFound(result) { return nil }
            throw failure(operation, result)
        }
        let existing = try decode(KubernetesJSON.Namespace.self, result, operation: operation)
        guard existing.isTerminating else { return .active }
        let conditions = (existing.status?.conditions ?? []).filter { $0.status == "True" }.compactMap(\.message)
        return .terminating(
            since: existing.metadata.deletionTimestamp.flatMap(KubernetesJSON.date),
            detail: conditions.isEmpty ? "no condition reported" : conditions.joined(separator: "; ")
        )
    }

    /// Two commands whatever the number of stores and revisions: the managed namespaces,
    /// then the newest record of every release that is not superseded, as the API
    /// server's table (names and labels only). Terminating namespaces are listed and
    /// marked; releases being or already uninstalled are left out.
    public func listManaged() async throws -> ClusterInventory {
        let listNamespaces = "kubectl get namespaces -l \(Self.managedByLabel)=\(Self.managedByValue)"
        let namespaceResult = try await kubectl(
            ["get", "namespaces", "-l", "\(Self.managedByLabel)=\(Self.managedByValue)", "-o", "json"],
            operation: listNamespaces, parsesJSON: true
        )
        guard namespaceResult.succeeded else { throw failure(listNamespaces, namespaceResult) }
        let namespaces = try decode(KubernetesJSON.List<KubernetesJSON.Namespace>.self, namespaceResult, operation: listNamespaces).items
            .map {
                ClusterInventory.Namespace(name: $0.metadata.name, storeID: $0.metadata.labels?[Self.storeIDLabel] ?? "", terminating: $0.isTerminating)
            }
            .sorted { $0.name < $1.name }

        let listReleases = "kubectl get configmaps -A -l owner=helm,status!=superseded"
        let releaseResult = try await kubectl(
            ["get", "configmaps", "-A", "-l", "owner=helm,status!=superseded", "--show-labels", "--no-headers"],
            operation: listReleases, parsesJSON: true
        )
        guard releaseResult.succeeded else { throw failure(listReleases, releaseResult) }
        if releaseResult.standardOutputTruncated {
            throw ClusterError(operation: listReleases, output: "the output is longer than \(configuration.jsonOutputLimit) bytes (jsonOutputLimit)")
        }
        let managed = Set(namespaces.map(\.name))
        var newest: [String: (version: Int, release: ClusterInventory.Release)] = [:]
        for record in Self.releaseRecords(releaseResult.standardOutput) where managed.contains(record.namespace) {
            let key = "\(record.namespace)/\(record.name)"
            if let seen = newest[key], seen.version >= record.version { continue }
            newest[key] = (record.version, ClusterInventory.Release(namespace: record.namespace, name: record.name, state: record.state))
        }
        let releases = newest.values.map(\.release).sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
        return ClusterInventory(namespaces: namespaces, releases: releases)
    }

    /// Release records from `kubectl get configmaps -A --show-labels --no-headers`:
    /// `NAMESPACE NAME … LABELS` per line, the labels Helm sets on each record
    /// (`name`, `owner=helm`, `status`, `version`). Uninstalled or uninstalling
    /// records, and records without a name or version, are skipped.
    static func releaseRecords(_ table: String) -> [(namespace: String, name: String, version: Int, state: ReleaseState)] {
        table.split(separator: "\n").compactMap { line in
            let columns = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard columns.count >= 3 else { return nil }
            var labels: [String: String] = [:]
            for pair in columns.last!.split(separator: ",") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2 { labels[String(parts[0])] = String(parts[1]) }
            }
            guard let name = labels["name"], let version = labels["version"].flatMap({ Int($0) }) else { return nil }
            let status = labels["status"] ?? ""
            guard status != "uninstalled", status != "uninstalling" else { return nil }
            return (String(columns[0]), name, version, releaseState(helmStatus: status) ?? .failed)
        }
    }

    // MARK: Commands

    /// helm's major version, asked once (`helm version --short`: "v3.17.2+gcc0bbbd").
    private func helmMajorVersion() async throws -> Int {
        let known = helmVersion.major.load(ordering: .relaxed)
        if known != 0 { return known }
        let operation = "helm version"
        let result = try await helm(["version", "--short"], operation: operation, global: false)
        guard result.succeeded else { throw failure(operation, result) }
        let text = result.standardOutput.trimmingTrailingWhitespace()
        guard text.hasPrefix("v"), let major = Int(text.dropFirst().prefix { $0.isNumber }) else {
            throw ClusterError(operation: operation, output: "cannot read a version from \"\(text)\"")
        }
        guard major == 3 || major == 4 else {
            throw ClusterError(operation: operation, output: "helm \(text) is not supported; use helm 3 or 4")
        }
        helmVersion.major.store(major, ordering: .relaxed)
        return major
    }

    private func kubectl(
        _ arguments: [String], input: String? = nil, operation: String, parsesJSON: Bool = false, redacting redactor: SecretRedactor? = nil
    ) async throws -> CommandResult {
        var global: [String] = []
        if let kubeconfig = configuration.kubeconfig { global += ["--kubeconfig", kubeconfig] }
        if let context = configuration.context { global += ["--context", context] }
        return try await run(
            configuration.kubectlPath, arguments + global, input: input, operation: operation, parsesJSON: parsesJSON, timeout: nil,
            redacting: redactor
        )
    }

    private func helm(
        _ arguments: [String], operation: String, parsesJSON: Bool = false, timeout: Duration? = nil, global withGlobalFlags: Bool = true
    ) async throws -> CommandResult {
        var global: [String] = []
        if let kubeconfig = configuration.kubeconfig { global += ["--kubeconfig", kubeconfig] }
        if let context = configuration.context { global += ["--kube-context", context] }
        return try await run(
            configuration.helmPath, arguments + (withGlobalFlags ? global : []), input: nil, operation: operation, parsesJSON: parsesJSON, timeout: timeout,
            environment: Self.helmEnvironment
        )
    }

    /// Runs a command; a timeout or a launch failure becomes a ``ClusterError`` here,
    /// a non-zero exit is left to the caller (some mean "not found").
    private func run(
        _ executable: String, _ arguments: [String], input: String?, operation: String, parsesJSON: Bool, timeout: Duration?,
        environment: [String: String] = [:], redacting redactor: SecretRedactor? = nil
    ) async throws -> CommandResult {
        let limit = parsesJSON ? max(configuration.jsonOutputLimit, configuration.outputLimit) : configuration.outputLimit
        let result: CommandResult
        do {
            result = try await runner.run(Command(executable, arguments, input: input, outputLimit: limit, environment: environment), timeout: timeout)
        } catch let error as CommandLaunchError {
            throw ClusterError(operation: operation, output: error.description)
        }
        if case .timedOut(let timeout) = result.termination {
            let output = result.combinedOutput(limit: configuration.outputLimit, redacting: redactor)
            throw ClusterError(
                operation: operation,
                output: "timed out after \(Self.seconds(timeout)) s; the command was killed" + (output.isEmpty ? "" : "\n" + output)
            )
        }
        return result
    }

    /// A failed command as an error: its output, redacted with `redactor` before the
    /// output limit cuts it.
    private func failure(_ operation: String, _ result: CommandResult, redacting redactor: SecretRedactor? = nil) -> ClusterError {
        var output = result.combinedOutput(limit: configuration.outputLimit, redacting: redactor)
        if output.isEmpty {
            switch result.termination {
            case .exited(let code): output = "exit status \(code), no output"
            case .signaled(let signal): output = "killed by signal \(signal), no output"
            case .timedOut(let timeout): output = "timed out after \(Self.seconds(timeout)) s"
            }
        }
        return ClusterError(operation: operation, output: output)
    }

    private func decode<T: Decodable>(_ type: T.Type, _ result: CommandResult, operation: String) throws -> T {
        if result.standardOutputTruncated {
            throw ClusterError(
                operation: operation,
                output: "the output is longer than \(configuration.jsonOutputLimit) bytes (jsonOutputLimit); cannot parse it"
            )
        }
        do {
            return try KubernetesJSON.decode(type, from: result.standardOutput)
        } catch {
            let output = String(decoding: Array(result.standardOutput.utf8.prefix(configuration.outputLimit)), as: UTF8.self)
            throw ClusterError(operation: operation, output: "cannot parse the output as JSON (\(error)): \(output)")
        }
    }

    /// The namespace's newest events as "Type Reason kind/name: message". Events only
    /// explain a failure, so not getting them is reported in their place.
    private func recentEvents(namespace: String) async -> [String] {
        let operation = "kubectl get events"
        do {
            let result = try await kubectl(["get", "events", "-n", namespace, "-o", "json"], operation: operation, parsesJSON: true)
            guard result.succeeded else { return ["events unavailable: \(failure(operation, result).output)"] }
            let events = try decode(KubernetesJSON.List<KubernetesJSON.Event>.self, result, operation: operation).items
            let newestFirst = events.enumerated().sorted { lhs, rhs in
                let (left, right) = (lhs.element.time ?? .distantPast, rhs.element.time ?? .distantPast)
                return left != right ? left > right : lhs.offset > rhs.offset
            }
            return newestFirst.prefix(Self.eventLimit).map { Self.describe(event: $0.element) }
        } catch {
            if let error = error as? ClusterError { return ["events unavailable: \(error.output)"] }
            return ["events unavailable: \(error)"]
        }
    }

    private func chartPath(_ chart: String) -> String {
        if chart.hasPrefix("/") { return chart }
        let name = chart.hasPrefix("helm/") ? String(chart.dropFirst("helm/".count)) : chart
        return configuration.chartDirectory.hasSuffix("/") ? configuration.chartDirectory + name : configuration.chartDirectory + "/" + name
    }

    // MARK: Output interpretation

    /// kubectl's "Error from server (NotFound): namespaces \"x\" not found" (exit 1).
    static func isNotFound(_ result: CommandResult) -> Bool {
        result.termination == .exited(1) && result.standardError.contains("(NotFound)")
    }

    /// kubectl's "Error from server (AlreadyExists): … already exists" (exit 1).
    static func isAlreadyExists(_ result: CommandResult) -> Bool {
        result.termination == .exited(1) && result.standardError.contains("(AlreadyExists)")
    }

    /// helm's "Error: release: not found" (status) and
    /// "Error: uninstall: Release not loaded: x: release: not found" (uninstall).
    static func isReleaseNotFound(_ result: CommandResult) -> Bool {
        result.termination == .exited(1) && result.standardError.contains("release: not found")
    }

    /// helm's release status as the platform's; nil for statuses it has no word for.
    /// A revision's state in `helm history`; an uninstalled or unknown one counts as failed.
    static func revisionState(helmStatus: String) -> ReleaseRevision.State {
        switch helmStatus {
        case "superseded": .superseded
        default: releaseState(helmStatus: helmStatus).map { ReleaseRevision.State(rawValue: $0.rawValue) ?? .failed } ?? .failed
        }
    }

    static func releaseState(helmStatus: String) -> ReleaseState? {
        switch helmStatus {
        case "deployed": .deployed
        case "failed": .failed
        case "pending-install", "pending-upgrade", "pending-rollback": .pending
        default: nil
        }
    }

    /// `--set-string` splits on commas and treats backslashes as escapes.
    static func escapeSetValue(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: ",", with: "\\,")
    }

    static func describe(pod: String, container: KubernetesJSON.ContainerStatus, reason: String) -> String {
        if reason == "CrashLoopBackOff" {
            var detail = "pod \(pod): container \(container.name) is in CrashLoopBackOff (restarted \(container.restartCount ?? 0) times"
            if let exitCode = container.lastState?.terminated?.exitCode { detail += ", last exit code \(exitCode)" }
            return detail + ")"
        }
        let message = container.state?.waiting?.message.map { ": \($0)" } ?? ""
        return "pod \(pod): container \(container.name) is waiting: \(reason)\(message)"
    }

    static func describe(event: KubernetesJSON.Event) -> String {
        let object = event.involvedObject.map { "\(($0.kind ?? "").lowercased())/\($0.name ?? "")" } ?? "-"
        let message = (event.message ?? "").trimmingTrailingWhitespace().replacingOccurrences(of: "\n", with: " ")
        return "\(event.type ?? "-") \(event.reason ?? "-") \(object): \(message)"
    }

    /// A Go duration for helm's flags, in whole seconds (rounded up).
    static func goDuration(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        return "\(seconds + (attoseconds > 0 ? 1 : 0))s"
    }

    static func seconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        if attoseconds == 0 { return "\(seconds)" }
        return String(format: "%.1f", Double(seconds) + Double(attoseconds) / 1e18)
    }
}

/// helm's major version, shared by every copy of a driver (an atomic cannot be
/// copied, so it lives in a class).
private final class HelmVersion: Sendable {
    let major = Atomic<Int>(0)
}
