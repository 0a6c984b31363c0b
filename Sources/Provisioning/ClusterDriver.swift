import Foundation

/// The cluster drivers there are: `--cluster`'s values.
public enum ClusterDriverKind: String, Sendable, CaseIterable {
    /// The embedded simulator, ``SimulatedCluster``: no real cluster.
    case simulated
    /// The real helm and kubectl, ``HelmCLIDriver``.
    case helm

    /// True for the embedded simulator (no real cluster).
    public var isSimulated: Bool { self == .simulated }
}

/// The seam between the platform and Kubernetes. Every method checks before it
/// acts, so calling it again after a crash or a retry never duplicates anything.
/// The Provisioner and the Reconciler are its only callers.
public protocol ClusterDriver: Sendable {
    /// Which driver this is.
    var kind: ClusterDriverKind { get }

    /// Creates the namespace, labelled as managed by the platform with the store
    /// id, unless it exists.
    func ensureNamespace(_ namespace: String, storeID: String) async throws
    /// Creates the store's Secret unless it exists. `makeValues` is called only
    /// when it is created; the values never leave the cluster driver.
    func ensureSecret(namespace: String, name: String, makeValues: @Sendable () -> [String: String]) async throws
    /// The release's state and when it last changed, or nil when no such release exists.
    func releaseStatus(namespace: String, release: String) async throws -> ReleaseStatus?
    /// Installs a release (no `--atomic`: a failed install stays for inspection).
    func installRelease(_ request: InstallRequest) async throws
    /// How far the release's workloads are from serving. After an upgrade or a
    /// rollback, `changedAt` is when it began: pods made before it belong to the
    /// revision being replaced, whose failures are not the new revision's (they
    /// count as not ready until they are gone).
    func readiness(namespace: String, release: String, changedAt: Date?) async throws -> Readiness
    /// Uninstalls the release; succeeds when it is already gone.
    func uninstallRelease(namespace: String, release: String) async throws
    /// What of an uninstalled release is still in the cluster: pods and volume claims
    /// still terminating ("persistentvolumeclaim/data-shop-mysql-0 (terminating)").
    /// Empty once everything is gone, so a new install starts clean.
    func releaseLeftovers(namespace: String, release: String) async throws -> [String]
    /// Asks for the namespace and everything left in it to be deleted; succeeds when
    /// it is already gone or going. The deletion finishes in the background:
    /// ``namespacePhase(_:)`` tells when it is over.
    func deleteNamespace(_ namespace: String) async throws
    /// The namespace's phase, or nil once it is gone.
    func namespacePhase(_ namespace: String) async throws -> NamespacePhase?
    /// Every managed namespace and release, in one call (one listing per reconcile pass).
    func listManaged() async throws -> ClusterInventory
    /// Upgrades the installed release to `request` as a new revision, every value
    /// set explicitly (never carried over from the previous revision), and returns
    /// when the command and the chart's post-upgrade hook (the WooCommerce setup Job:
    /// its database migrations) have finished; readiness is awaited apart. Throws
    /// ``ClusterError`` when the command or the hook fails (the release then has a
    /// failed revision).
    func upgradeRelease(_ request: InstallRequest) async throws
    /// Rolls the release back to `revision`, as a new revision (Helm's numbering).
    func rollbackRelease(namespace: String, release: String, to revision: Int) async throws
    /// The release's revisions, oldest first; empty when there is no such release.
    func releaseHistory(namespace: String, release: String) async throws -> [ReleaseRevision]
}

/// What to install for a store. Values carry names and hosts, never secrets:
/// the chart reads credentials from the Secret the driver made.
public struct InstallRequest: Sendable, Equatable {
    public var namespace: String
    public var release: String
    public var chart: String
    public var values: [String: String]

    public init(namespace: String, release: String, chart: String, values: [String: String]) {
        self.namespace = namespace
        self.release = release
        self.chart = chart
        self.values = values
    }

    /// The value that names the engine version a release installs (``EngineVersion/name``),
    /// which the chart keeps as a label and drivers record with each revision.
    public static let versionKey = "store.version"
}

public enum ReleaseState: String, Sendable, Equatable {
    case deployed
    case failed
    /// pending-install, pending-upgrade or pending-rollback: a helm command is running,
    /// or died before it could record how it ended.
    case pending
}

/// A release's state and when it last changed (the start of a pending operation).
public struct ReleaseStatus: Sendable, Equatable {
    public var state: ReleaseState
    /// nil when the tool did not say.
    public var since: Date?

    public init(_ state: ReleaseState, since: Date? = nil) {
        self.state = state
        self.since = since
    }
}

public enum NamespacePhase: Sendable, Equatable {
    case active
    /// Being deleted; `detail` says what it still waits for, when the cluster says.
    case terminating(since: Date?, detail: String)
}

/// One revision of a release, as the cluster's release history keeps it.
public struct ReleaseRevision: Sendable, Equatable {
    public enum State: String, Sendable, Equatable {
        /// The revision that runs.
        case deployed
        /// A later revision replaced it.
        case superseded
        /// Its install, upgrade or rollback (or its hook) failed.
        case failed
        /// A command is installing it, or died before it recorded how it ended.
        case pending
    }

    public var revision: Int
    public var state: State

    public init(revision: Int, state: State) {
        self.revision = revision
        self.state = state
    }
}

/// The readiness of a store's workloads.
public enum Readiness: Sendable, Equatable {
    case ready
    /// Still starting; `notReady` names what is not ready yet.
    case progressing(notReady: [String])
    /// A pod is failing in a way that will not fix itself (CrashLoopBackOff,
    /// ImagePullBackOff): the reason, details and recent events.
    case failing(reason: String, detail: String, events: [String])
}

/// The cluster's managed resources, from one listing.
public struct ClusterInventory: Sendable, Equatable {
    public struct Namespace: Sendable, Equatable {
        public var name: String
        /// The store id label on the namespace.
        public var storeID: String
        /// Being deleted (still there: a finalizer or its contents hold it).
        public var terminating: Bool

        public init(name: String, storeID: String, terminating: Bool = false) {
            self.name = name
            self.storeID = storeID
            self.terminating = terminating
        }
    }

    public struct Release: Sendable, Equatable {
        public var namespace: String
        public var name: String
        public var state: ReleaseState
    }

    public var namespaces: [Namespace]
    public var releases: [Release]

    public init(namespaces: [Namespace], releases: [Release]) {
        self.namespaces = namespaces
        self.releases = releases
    }
}

/// A cluster command that failed, with the tool's exact output.
public struct ClusterError: Error, Sendable, CustomStringConvertible {
    /// What was attempted: "helm install shop", "kubectl delete namespace …".
    public var operation: String
    /// The exact output (stderr, then stdout), capped.
    public var output: String

    public init(operation: String, output: String) {
        self.operation = operation
        self.output = output
    }

    public var description: String { "\(operation) failed: \(output)" }
}

extension ClusterDriver {
    /// ``readiness(namespace:release:changedAt:)`` of every pod: an install's.
    public func readiness(namespace: String, release: String) async throws -> Readiness {
        try await readiness(namespace: namespace, release: release, changedAt: nil)
    }
}
