import Provisioning

/// Facts about the running daemon that Health reports.
public struct DaemonInfo: Sendable {
    public var version: String
    /// When the daemon started, Unix milliseconds.
    public var startedAtMilliseconds: Int64
    /// The cluster driver's kind, as the driver says.
    public var clusterDriver: ClusterDriverKind
    public var database: String

    public init(version: String, startedAtMilliseconds: Int64, clusterDriver: ClusterDriverKind, database: String) {
        self.version = version
        self.startedAtMilliseconds = startedAtMilliseconds
        self.clusterDriver = clusterDriver
        self.database = database
    }

    /// True when the cluster is the embedded simulator, not a real Kubernetes.
    public var clusterSimulated: Bool { clusterDriver.isSimulated }
}
