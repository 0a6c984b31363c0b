/// How the provisioner runs store operations.
public struct ProvisionerConfiguration: Sendable {
    /// Provisioning operations at once; the rest stay `queued`.
    public var maxConcurrentProvisions = 4
    /// Whether every committed status change is logged at info ("store ready", with
    /// the store, the move, the action, the actor). The daemon turns it on; embedded
    /// uses (tests, benchmarks) keep their output quiet by default.
    public var logsTransitions = false
    /// Whether watchers hear each provisioning step as it begins (events with action
    /// "progress", audit id 0, from this replica only). The daemon turns it on.
    public var publishesProgress = false
    /// How long a provisioning attempt may take before it fails: the install (helm's
    /// own timeout, shorter) and then readiness.
    public var deadline: Duration = .seconds(600)
    /// How often readiness, cleanup and a pending release are checked while waiting.
    /// Each readiness check is one LIST of the store's pods.
    public var pollInterval: Duration = .seconds(2)
    /// A release still pending this long after its helm command began is taken as
    /// abandoned (that command was killed: a restart, an OOM kill): helm's install
    /// timeout plus the minute the driver gives helm to record how it ended.
    public var pendingReleaseTimeout: Duration = .seconds(360)
    /// How long a reinstall waits for the old release's pods and volume claims to be
    /// gone, and a delete for the namespace to be gone, before it fails.
    public var cleanupTimeout: Duration = .seconds(300)
    /// How long a graceful shutdown lets operations reach their next step boundary (a
    /// helm or kubectl command under way finishes) before it cancels them (the command
    /// is killed). Either way the store keeps its status and the next start resumes it.
    public var shutdownGracePeriod: Duration = .seconds(20)
    /// This daemon's name among the replicas that share one database: the owner of
    /// the leases it takes (Sources/StoreDatabase/Lease.swift). Unique per replica;
    /// the same across a restart lets the new process take its predecessor's leases
    /// at once rather than after they expire.
    public var replicaID = "storeplatformd"
    /// How long a store's lease lasts unless renewed; it is renewed every third of
    /// it while the operation runs. A replica that dies holds its stores this long.
    public var leaseTTL: Duration = .seconds(30)
    /// Stores are served at `<scheme>://<name>.<storeDomain>`.
    public var storeDomain = "stores.localhost"
    /// The cert-manager ClusterIssuer that gives each store's Ingress a certificate;
    /// nil: no TLS. With one, store URLs are https.
    public var tlsClusterIssuer: String?

    public var urlScheme: String { tlsClusterIssuer == nil ? "http" : "https" }

    public init() {}
}
