/// Facts about the running daemon that Health reports.
public struct DaemonInfo: Sendable {
    public var version: String
    /// When the daemon started, Unix milliseconds.
    public var startedAtMilliseconds: Int64
    /// "simulated" or "helm".
    public var clusterDriver: String
    /// True when the cluster is the embedded simulator, not a real Kubernetes.
    public var clusterSimulated: Bool
    public var database: String

    public init(version: String, startedAtMilliseconds: Int64, clusterDriver: String, clusterSimulated: Bool, database: String) {
        self.version = version
        self.startedAtMilliseconds = startedAtMilliseconds
        self.clusterDriver = clusterDriver
        self.clusterSimulated = clusterSimulated
        self.database = database
    }
}
