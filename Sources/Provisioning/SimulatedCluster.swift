import Foundation
import StoreCore
import StoreDatabase

/// The embedded default cluster: a simulator (like KWOK), not Kubernetes. Its
/// state — namespaces, secrets' key names, releases — lives beside the store
/// database (``SimulatedClusterState``): in its own SQLite file under the data
/// directory, or in its own schema of the PostgreSQL database that replicas
/// share, so it survives a daemon restart and every replica sees one cluster.
/// Readiness is derived from timestamps (no background process); faults come from
/// ``SimulatedClusterConfiguration``. It counts installs per release so tests can
/// prove nothing is installed twice.
public final class SimulatedCluster: ClusterDriver {
    public let kind = ClusterDriverKind.simulated
    public let configuration: SimulatedClusterConfiguration
    /// Where the state lives.
    public let state: any SimulatedClusterState

    public init(state: any SimulatedClusterState, configuration: SimulatedClusterConfiguration) {
        self.state = state
        self.configuration = configuration
    }

    /// With its state in the SQLite file at `path` (created when missing).
    public convenience init(path: String, configuration: SimulatedClusterConfiguration) throws {
        self.init(state: try SQLiteSimulatedClusterState(path: path), configuration: configuration)
    }

    // MARK: ClusterDriver

    public func ensureNamespace(_ namespace: String, storeID: String) async throws {
        try await state.addNamespace(namespace, storeID: storeID, at: Date().millisecondsSince1970)
    }

    public func ensureSecret(namespace: String, name: String, makeValues: @Sendable () -> [String: String]) async throws {
        // The values are made only for a secret that does not exist yet (and only
        // their key names are kept).
        let outcome = try await withoutActuallyEscaping(makeValues) { makeValues in
            try await state.addSecret(namespace: namespace, name: name, keys: { makeValues().keys.sorted() })
        }
        if outcome == .namespaceMissing {
            throw ClusterError(operation: "create secret \(name)", output: "Error from server (NotFound): namespaces \"\(namespace)\" not found")
        }
    }

    public func releaseStatus(namespace: String, release: String) async throws -> ReleaseStatus? {
        try await state.release(namespace: namespace, name: release)
            .map { ReleaseStatus(.deployed, since: Date(timeIntervalSince1970: Double($0.installedAt) / 1000)) }
    }

    public func installRelease(_ request: InstallRequest) async throws {
        let now = Date().millisecondsSince1970
        let release = SimulatedRelease(
            namespace: request.namespace, name: request.release, chart: request.chart, installedAt: now,
            readyAt: now + (configuration.installDelay + configuration.readyDelay).wholeMilliseconds, fault: nil,
            version: request.values[InstallRequest.versionKey] ?? ""
        )
        let outcome = try await state.install(release) { [self] attempt in
            let fault = installFault(namespace: request.namespace, release: request.release, attempt: attempt)
            return fault == .installError ? .fail : .install(fault: fault?.rawValue)
        }
        switch outcome {
        case .namespaceMissing:
            throw ClusterError(
                operation: "helm install \(request.release)",
                output: "Error: INSTALLATION FAILED: create: failed to create: namespaces \"\(request.namespace)\" not found"
            )
        case .releaseExists:
            throw ClusterError(operation: "helm install \(request.release)", output: "Error: INSTALLATION FAILED: cannot re-use a name that is still in use")
        case .failed:
            throw ClusterError(
                operation: "helm install \(request.release)",
                output: "Error: INSTALLATION FAILED: timed out waiting for the condition (simulated fault install-error)"
            )
        case .installed:
            try await Self.sleep(configuration.installDelay)
        }
    }

    public func readiness(namespace: String, release: String, changedAt: Date?) async throws -> Readiness {
        guard let row = try await state.release(namespace: namespace, name: release) else {
            return .progressing(notReady: ["release \(release) is not installed"])
        }
        let now = Date().millisecondsSince1970
        if now < row.installedAt + configuration.replacedPodsLinger.wholeMilliseconds,
            let replaced = try await state.revisions(namespace: namespace, name: release).dropLast().last
        {
            // The replaced revision's pods were made before the change.
            let pod = "\(release)-wordpress-r\(replaced.revision)"
            if let changedAt, changedAt.millisecondsSince1970 <= row.installedAt {
                return .progressing(notReady: ["pod \(pod) not ready (CrashLoopBackOff; made before the change, being replaced)"])
            }
            return .failing(
                reason: "CrashLoopBackOff", detail: "pod \(pod): container wordpress is in CrashLoopBackOff (restarted 5 times, last exit code 1)",
                events: ["Warning BackOff pod/\(pod): Back-off restarting failed container wordpress"]
            )
        }
        let fault = row.fault.flatMap(SimulatedClusterConfiguration.Fault.init(rawValue:))
        let notReady = ["deployment/\(release)-wordpress (0/1 ready)", "statefulset/\(release)-mysql (0/1 ready)"]
        // Faults show once the pods would have started: halfway to ready.
        let faultVisible = now >= row.installedAt + (row.readyAt - row.installedAt) / 2
        switch fault {
        case .crashLoop where faultVisible:
            return .failing(
                reason: "CrashLoopBackOff",
                detail: "pod \(release)-wordpress-0: container wordpress is in CrashLoopBackOff (restarted 3 times, last exit code 1)",
                events: [
                    "Warning BackOff pod/\(release)-wordpress-0: Back-off restarting failed container wordpress",
                    "Normal Pulled pod/\(release)-wordpress-0: Container image \"wordpress:6.6-apache\" already present on machine",
                ]
            )
        case .imagePull where faultVisible:
            return .failing(
                reason: "ImagePullBackOff",
                detail: "pod \(release)-wordpress-0: container wordpress is waiting: ImagePullBackOff",
                events: [
                    "Warning Failed pod/\(release)-wordpress-0: Failed to pull image \"wordpress:6.6-apache\": rpc error: code = NotFound (simulated)",
                    "Normal BackOff pod/\(release)-wordpress-0: Back-off pulling image \"wordpress:6.6-apache\"",
                ]
            )
        case .neverReady, .crashLoop, .imagePull, .upgradeNeverReady:
            return .progressing(notReady: notReady)
        default:
            return now >= row.readyAt ? .ready : .progressing(notReady: notReady)
        }
    }

    public func uninstallRelease(namespace: String, release: String) async throws {
        let failed = try await state.uninstall(namespace: namespace, release: release) { [self] attempt in
            deleteFails(namespace: namespace, attempt: attempt)
        }
        if failed {
            throw ClusterError(
                operation: "helm uninstall \(release)",
                output: "Error: uninstallation completed with 1 error(s): context deadline exceeded (simulated fault delete-failure)"
            )
        }
        try await Self.sleep(configuration.uninstallDelay)
    }

    /// The simulator removes a release's objects with it: nothing is left behind.
    public func releaseLeftovers(namespace: String, release: String) async throws -> [String] {
        []
    }

    /// Namespaces are deleted at once here: there is never a Terminating one.
    public func namespacePhase(_ namespace: String) async throws -> NamespacePhase? {
        try await state.namespaceExists(namespace) ? .active : nil
    }

    public func deleteNamespace(_ namespace: String) async throws {
        let failed = try await state.deleteNamespace(namespace) { [self] attempt in
            deleteFails(namespace: namespace, attempt: attempt)
        }
        if failed {
            throw ClusterError(
                operation: "kubectl delete namespace \(namespace)",
                output: "Error from server (InternalError): Internal error occurred: namespace \(namespace) is stuck terminating (simulated fault delete-failure)"
            )
        }
    }

    public func upgradeRelease(_ request: InstallRequest) async throws {
        let version = request.values[InstallRequest.versionKey] ?? ""
        let outcome = try await change(namespace: request.namespace, release: request.release, .upgrade(version: version)) { [self] attempt in
            switch upgradeFault(namespace: request.namespace, release: request.release, attempt: attempt) {
            case .upgradeError: .commandFails
            case .migrationError: .hookFails
            case let fault: .deploy(fault: fault?.rawValue)
            }
        }
        let operation = "helm upgrade \(request.release)"
        switch outcome {
        case .releaseMissing, .revisionMissing:
            throw ClusterError(operation: operation, output: "Error: UPGRADE FAILED: \"\(request.release)\" has no deployed releases")
        case .commandFailed(let revision):
            throw ClusterError(
                operation: operation,
                output: "Error: UPGRADE FAILED: release \(request.release) failed, revision \(revision): context deadline exceeded (simulated fault upgrade-error)"
            )
        case .hookFailed(let revision):
            throw ClusterError(
                operation: operation,
                output: "Error: UPGRADE FAILED: post-upgrade hooks failed: 1 error occurred: job \(request.release)-setup failed: BackoffLimitExceeded "
                    + "(revision \(revision); the setup Job's WooCommerce database migration exited 1; simulated fault migration-error)"
            )
        case .deployed:
            try await Self.sleep(configuration.installDelay)
        }
    }

    public func rollbackRelease(namespace: String, release: String, to revision: Int) async throws {
        let outcome = try await change(namespace: namespace, release: release, .rollback(to: revision)) { _ in .deploy(fault: nil) }
        switch outcome {
        case .releaseMissing:
            throw ClusterError(operation: "helm rollback \(release)", output: "Error: release: not found")
        case .revisionMissing:
            throw ClusterError(operation: "helm rollback \(release)", output: "Error: release has no \(revision) version")
        case .commandFailed, .hookFailed, .deployed:
            try await Self.sleep(configuration.installDelay)
        }
    }

    public func releaseHistory(namespace: String, release: String) async throws -> [ReleaseRevision] {
        try await state.revisions(namespace: namespace, name: release).map {
            ReleaseRevision(revision: $0.revision, state: ReleaseRevision.State(rawValue: $0.status) ?? .failed)
        }
    }

    /// A new revision of the release, ready after the simulated install and ready delays.
    private func change(
        namespace: String, release: String, _ change: SimulatedReleaseChange,
        decide: @escaping @Sendable (Int) -> SimulatedUpgradeDecision
    ) async throws -> SimulatedChangeOutcome {
        let now = Date().millisecondsSince1970
        return try await state.changeRelease(
            namespace: namespace, name: release, change: change, at: now,
            readyAt: now + (configuration.installDelay + configuration.readyDelay).wholeMilliseconds, decide: decide
        )
    }

    /// The engine version of each of the release's revisions, oldest first (for tests).
    public func revisionVersions(namespace: String, release: String) async throws -> [String] {
        try await state.revisions(namespace: namespace, name: release).map(\.version)
    }

    public func listManaged() async throws -> ClusterInventory {
        let (namespaces, releases) = try await state.inventory()
        return ClusterInventory(
            namespaces: namespaces.map { ClusterInventory.Namespace(name: $0.name, storeID: $0.storeID) },
            releases: releases.map { ClusterInventory.Release(namespace: $0.namespace, name: $0.name, state: .deployed) }
        )
    }

    // MARK: For tests and operators

    /// How many times `helm install` ran for a release (successful or not).
    public func installCount(namespace: String, release: String) async throws -> Int {
        try await state.installCount(namespace: namespace, release: release)
    }

    /// Adds namespaces and releases that are ready at once, in one transaction,
    /// without faults: for seeding a large simulated cluster (benchmarks).
    public func seedInstalled(_ stores: [(namespace: String, storeID: String, release: String)], chart: String = "helm/store") async throws {
        try await state.seed(stores, chart: chart, at: Date().millisecondsSince1970)
    }

    /// Removes a release behind the platform's back (drift, for tests).
    public func simulateReleaseVanished(namespace: String, release: String) async throws {
        try await state.removeRelease(namespace: namespace, name: release)
    }

    /// Creates a managed namespace no store owns (an orphan, for tests).
    public func simulateOrphanNamespace(_ namespace: String, storeID: String) async throws {
        try await state.addNamespace(namespace, storeID: storeID, at: Date().millisecondsSince1970)
    }

    // MARK: Faults

    private func installFault(namespace: String, release: String, attempt: Int) -> SimulatedClusterConfiguration.Fault? {
        guard attempt <= configuration.faultAttempts else { return nil }
        if let fault = storeFault(namespace: namespace, among: SimulatedClusterConfiguration.Fault.installFaults) { return fault }
        let draw = unitDraw(namespace, release, "install")
        var threshold = 0.0
        for fault in SimulatedClusterConfiguration.Fault.installFaults {
            threshold += configuration.faults[fault] ?? 0
            if draw < threshold { return fault }
        }
        return nil
    }

    /// The fault of upgrade attempt `attempt` of a release, drawn as an install's is.
    private func upgradeFault(namespace: String, release: String, attempt: Int) -> SimulatedClusterConfiguration.Fault? {
        guard attempt <= configuration.faultAttempts else { return nil }
        if let fault = storeFault(namespace: namespace, among: SimulatedClusterConfiguration.Fault.upgradeFaults) { return fault }
        let draw = unitDraw(namespace, release, "upgrade")
        var threshold = 0.0
        for fault in SimulatedClusterConfiguration.Fault.upgradeFaults {
            threshold += configuration.faults[fault] ?? 0
            if draw < threshold { return fault }
        }
        return nil
    }

    /// The fault ``SimulatedClusterConfiguration/storeFaults`` names for the store whose
    /// namespace this is (``Store/name(inNamespace:)``), if it is one of `kinds`.
    private func storeFault(namespace: String, among kinds: [SimulatedClusterConfiguration.Fault]) -> SimulatedClusterConfiguration.Fault? {
        guard !configuration.storeFaults.isEmpty, let name = Store.name(inNamespace: namespace) else { return nil }
        return configuration.storeFaults[name].flatMap { kinds.contains($0) ? $0 : nil }
    }

    private func deleteFails(namespace: String, attempt: Int) -> Bool {
        guard attempt <= configuration.faultAttempts, let probability = configuration.faults[.deleteFailure] else { return false }
        return unitDraw(namespace, "", "delete") < probability
    }

    /// A number in [0, 1) fixed by the seed and the inputs (FNV-1a, then a mix).
    private func unitDraw(_ parts: String...) -> Double {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325 ^ configuration.seed
        for byte in parts.joined(separator: "\u{1F}").utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        hash ^= hash >> 33
        hash = hash &* 0xff51_afd7_ed55_8ccd
        hash ^= hash >> 33
        return Double(hash >> 11) / Double(1 << 53)
    }

    private static func sleep(_ duration: Duration) async throws {
        if duration > .zero { try await Task.sleep(for: duration) }
    }
}
