import Foundation

/// The production driver: runs `helm` and `kubectl` as subprocesses (argument
/// arrays, never a shell) and parses their JSON output.
///
/// Every method checks before it acts, so it can run again after a crash or a
/// retry without duplicating anything. Each command has a timeout (the command
/// and everything it started are killed at it) and capped output. A command that
/// fails — a non-zero exit, a timeout, or an executable that cannot start — throws
/// ``ClusterError`` with the tool's exact output (stderr, then stdout, capped).
/// Secret values travel only on `kubectl`'s standard input, never in argv, an
/// error or a log.
///
/// The commands, per method (global flags `--kubeconfig`, `--kube-context` /
/// `--context` follow each command when configured):
/// - ``ensureNamespace(_:storeID:)``: `kubectl get namespace NS -o json`; when it is
///   absent or lacks the labels, `kubectl apply -f -` of a Namespace manifest.
/// - ``ensureSecret(namespace:name:makeValues:)``: `kubectl get secret NAME -n NS -o name`;
///   when absent, `kubectl create -f -` of a Secret manifest.
/// - ``releaseStatus(namespace:release:)``: `helm status RELEASE -n NS -o json`.
/// - ``installRelease(_:)``: `helm install RELEASE CHART -n NS --set-string k=v … --wait=false
///   --timeout 600s` (``Configuration/installTimeout``).
/// - ``readiness(namespace:release:)``: `kubectl get deployments,statefulsets,pods -n NS
///   -l app.kubernetes.io/instance=RELEASE -o json`, plus `kubectl get events -n NS -o json`
///   once when a pod is failing.
/// - ``uninstallRelease(namespace:release:)``: `helm uninstall RELEASE -n NS`.
/// - ``deleteNamespace(_:)``: `kubectl get namespace NS -o json`, then (when it is there and
///   managed by the platform) `kubectl delete namespace NS --ignore-not-found --wait=false`.
/// - ``listManaged()``: exactly two commands, however many stores there are:
///   `kubectl get namespaces -l app.kubernetes.io/managed-by=storeplatform -o json` and
///   `helm list --all-namespaces --all --max 0 -o json`.
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
        /// How long one command may run before it and its children are killed (SIGTERM, then SIGKILL).
        public var commandTimeout: Duration
        /// helm's own `--timeout` for `helm install`, which waits for the chart's
        /// post-install setup Job even with `--wait=false`. The install command is
        /// killed only a minute after it, so helm gets to record a failed release first.
        public var installTimeout: Duration
        /// The most output a failure reports, and the most stderr kept, in bytes.
        public var outputLimit: Int
        /// The most standard output kept from a command whose JSON is parsed (a namespace
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
            commandTimeout: Duration = .seconds(120),
            installTimeout: Duration = .seconds(600),
            outputLimit: Int = 64 * 1024,
            jsonOutputLimit: Int = 32 * 1024 * 1024,
            terminationGracePeriod: Duration = .seconds(5)
        ) {
            self.helmPath = helmPath
            self.kubectlPath = kubectlPath
            self.kubeconfig = kubeconfig
            self.context = context
            self.chartDirectory = chartDirectory
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
    /// Container waiting reasons that do not fix themselves by waiting.
    public static let failingReasons: Set<String> = ["CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "InvalidImageName"]
    /// How many of the newest events a failing readiness carries.
    public static let eventLimit = 5

    public let name = "helm"
    public let isSimulated = false
    public let configuration: Configuration
    private let runner: CommandRunner

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
        let operation = "kubectl get namespace \(namespace)"
        let result = try await kubectl(["get", "namespace", namespace, "-o", "json"], operation: operation, parsesJSON: true)
        if result.succeeded {
            let existing = try decode(KubernetesJSON.Namespace.self, result, operation: operation)
            let labels = existing.metadata.labels ?? [:]
            if existing.status?.phase == "Terminating" {
                throw ClusterError(
                    operation: "ensure namespace \(namespace)",
                    output: "namespace \(namespace) is being deleted (Terminating); try again once it is gone"
                )
            }
            if let owner = labels[Self.storeIDLabel], owner != storeID {
                throw ClusterError(
                    operation: "ensure namespace \(namespace)",
                    output: "namespace \(namespace) belongs to store \(owner), not \(storeID)"
                )
            }
            if labels[Self.managedByLabel] == Self.managedByValue, labels[Self.storeIDLabel] == storeID {
                return
            }
            // It exists without the platform's labels (a namespace made by hand, or
            // by an older attempt): labelling it is what adoption means here.
        } else if !Self.isNotFound(result) {
            throw failure(operation, result)
        }
        let manifest = KubernetesManifest.namespace(
            namespace, labels: [Self.managedByLabel: Self.managedByValue, Self.storeIDLabel: storeID]
        )
        let apply = "kubectl apply namespace \(namespace)"
        let applied = try await kubectl(["apply", "-f", "-"], input: KubernetesManifest.json(manifest), operation: apply)
        guard applied.succeeded else { throw failure(apply, applied) }
    }

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
        let created = try await kubectl(["create", "-f", "-"], input: KubernetesManifest.json(manifest), operation: create)
        if created.succeeded { return }
        // Made by a concurrent attempt between the check and the create: it exists, as wanted.
        if created.standardError.contains("AlreadyExists") { return }
        let error = failure(create, created)
        throw ClusterError(operation: error.operation, output: Self.redact(error.output, values: Array(values.values)))
    }

    public func releaseStatus(namespace: String, release: String) async throws -> ReleaseState? {
        let operation = "helm status \(release)"
        let result = try await helm(["status", release, "-n", namespace, "-o", "json"], operation: operation, parsesJSON: true)
        if !result.succeeded {
            if Self.isReleaseNotFound(result) { return nil }
            throw failure(operation, result)
        }
        let status = try decode(KubernetesJSON.HelmRelease.self, result, operation: operation).info?.status ?? ""
        return Self.releaseState(helmStatus: status) ?? .failed
    }

    public func installRelease(_ request: InstallRequest) async throws {
        var arguments = ["install", request.release, chartPath(request.chart), "-n", request.namespace]
        for key in request.values.keys.sorted() {
            arguments += ["--set-string", "\(key)=\(Self.escapeSetValue(request.values[key]!))"]
        }
        // No --atomic: a failed install stays for inspection. Readiness is polled by
        // the provisioner, not waited for by helm; hooks (the setup Job) still are.
        arguments += ["--wait=false", "--timeout", Self.goDuration(configuration.installTimeout)]
        let operation = "helm install \(request.release)"
        let result = try await helm(arguments, operation: operation, timeout: configuration.installTimeout + .seconds(60))
        guard result.succeeded else { throw failure(operation, result) }
    }

    public func readiness(namespace: String, release: String) async throws -> Readiness {
        let operation = "kubectl get deployments,statefulsets,pods -l \(Self.instanceLabel)=\(release)"
        let result = try await kubectl(
            ["get", "deployments,statefulsets,pods", "-n", namespace, "-l", "\(Self.instanceLabel)=\(release)", "-o", "json"],
            operation: operation, parsesJSON: true
        )
        guard result.succeeded else { throw failure(operation, result) }
        let items = try decode(KubernetesJSON.List<KubernetesJSON.Workload>.self, result, operation: operation).items

        var failing: [(reason: String, detail: String)] = []
        for pod in items where pod.kind == "Pod" {
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

        let workloads = items.filter { $0.kind == "Deployment" || $0.kind == "StatefulSet" }
        if workloads.isEmpty {
            return .progressing(notReady: ["no deployments or statefulsets labelled \(Self.instanceLabel)=\(release) yet"])
        }
        let notReady = workloads.compactMap { workload -> String? in
            let wanted = workload.spec?.replicas ?? 1
            let ready = workload.status?.readyReplicas ?? 0
            return ready >= wanted ? nil : "\(workload.kind.lowercased())/\(workload.metadata.name) (\(ready)/\(wanted) ready)"
        }
        return notReady.isEmpty ? .ready : .progressing(notReady: notReady)
    }

    public func uninstallRelease(namespace: String, release: String) async throws {
        let operation = "helm uninstall \(release)"
        let result = try await helm(["uninstall", release, "-n", namespace], operation: operation)
        if result.succeeded || Self.isReleaseNotFound(result) { return }
        throw failure(operation, result)
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
        if existing.status?.phase == "Terminating" { return }
        let delete = "kubectl delete namespace \(namespace)"
        let deleted = try await kubectl(["delete", "namespace", namespace, "--ignore-not-found", "--wait=false"], operation: delete)
        guard deleted.succeeded else { throw failure(delete, deleted) }
    }

    /// Two commands whatever the number of stores: the managed namespaces, then every
    /// release in the cluster, of which those in managed namespaces are kept.
    /// Namespaces already terminating are left out (they are on their way out), and
    /// so are releases being or already uninstalled.
    public func listManaged() async throws -> ClusterInventory {
        let listNamespaces = "kubectl get namespaces -l \(Self.managedByLabel)=\(Self.managedByValue)"
        let namespaceResult = try await kubectl(
            ["get", "namespaces", "-l", "\(Self.managedByLabel)=\(Self.managedByValue)", "-o", "json"],
            operation: listNamespaces, parsesJSON: true
        )
        guard namespaceResult.succeeded else { throw failure(listNamespaces, namespaceResult) }
        let namespaces = try decode(KubernetesJSON.List<KubernetesJSON.Namespace>.self, namespaceResult, operation: listNamespaces).items
            .filter { $0.status?.phase != "Terminating" }
            .map { ClusterInventory.Namespace(name: $0.metadata.name, storeID: $0.metadata.labels?[Self.storeIDLabel] ?? "") }
            .sorted { $0.name < $1.name }

        // helm cannot filter by namespace label. `--all` includes pending and failed
        // releases (the default shows deployed and failed only); `--max 0` lifts the
        // default cap of 256.
        let listReleases = "helm list --all-namespaces"
        let releaseResult = try await helm(["list", "--all-namespaces", "--all", "--max", "0", "-o", "json"], operation: listReleases, parsesJSON: true)
        guard releaseResult.succeeded else { throw failure(listReleases, releaseResult) }
        let managed = Set(namespaces.map(\.name))
        let output = releaseResult.standardOutput.trimmingTrailingWhitespace()
        // Old helm versions print nothing at all for an empty list.
        let entries = output.isEmpty ? [] : try decode([KubernetesJSON.HelmListEntry].self, releaseResult, operation: listReleases)
        let releases = entries
            .filter { managed.contains($0.namespace) }
            .compactMap { entry -> ClusterInventory.Release? in
                let status = entry.status ?? ""
                guard status != "uninstalled", status != "uninstalling" else { return nil }
                return ClusterInventory.Release(namespace: entry.namespace, name: entry.name, state: Self.releaseState(helmStatus: status) ?? .failed)
            }
            .sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
        return ClusterInventory(namespaces: namespaces, releases: releases)
    }

    // MARK: Commands

    private func kubectl(_ arguments: [String], input: String? = nil, operation: String, parsesJSON: Bool = false) async throws -> CommandResult {
        var global: [String] = []
        if let kubeconfig = configuration.kubeconfig { global += ["--kubeconfig", kubeconfig] }
        if let context = configuration.context { global += ["--context", context] }
        return try await run(configuration.kubectlPath, arguments + global, input: input, operation: operation, parsesJSON: parsesJSON, timeout: nil)
    }

    private func helm(_ arguments: [String], operation: String, parsesJSON: Bool = false, timeout: Duration? = nil) async throws -> CommandResult {
        var global: [String] = []
        if let kubeconfig = configuration.kubeconfig { global += ["--kubeconfig", kubeconfig] }
        if let context = configuration.context { global += ["--kube-context", context] }
        return try await run(configuration.helmPath, arguments + global, input: nil, operation: operation, parsesJSON: parsesJSON, timeout: timeout)
    }

    /// Runs a command; a timeout or a launch failure becomes a ``ClusterError`` here,
    /// a non-zero exit is left to the caller (some mean "not found").
    private func run(
        _ executable: String, _ arguments: [String], input: String?, operation: String, parsesJSON: Bool, timeout: Duration?
    ) async throws -> CommandResult {
        let limit = parsesJSON ? max(configuration.jsonOutputLimit, configuration.outputLimit) : configuration.outputLimit
        let result: CommandResult
        do {
            result = try await runner.run(Command(executable, arguments, input: input, outputLimit: limit), timeout: timeout)
        } catch let error as CommandLaunchError {
            throw ClusterError(operation: operation, output: error.description)
        }
        if case .timedOut(let timeout) = result.termination {
            let output = result.combinedOutput(limit: configuration.outputLimit)
            throw ClusterError(
                operation: operation,
                output: "timed out after \(Self.seconds(timeout)) s; the command was killed" + (output.isEmpty ? "" : "\n" + output)
            )
        }
        return result
    }

    private func failure(_ operation: String, _ result: CommandResult) -> ClusterError {
        var output = result.combinedOutput(limit: configuration.outputLimit)
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

    /// helm's "Error: release: not found" (status) and
    /// "Error: uninstall: Release not loaded: x: release: not found" (uninstall).
    static func isReleaseNotFound(_ result: CommandResult) -> Bool {
        result.termination == .exited(1) && result.standardError.contains("release: not found")
    }

    /// helm's release status as the platform's; nil for statuses it has no word for.
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

    static func redact(_ text: String, values: [String]) -> String {
        values.filter { !$0.isEmpty }.reduce(text) { $0.replacingOccurrences(of: $1, with: "[redacted]") }
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
