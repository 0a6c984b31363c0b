/// How the provisioner runs store operations.
public struct ProvisionerConfiguration: Sendable {
    /// Provisioning operations at once; the rest stay `queued`.
    public var maxConcurrentProvisions = 4
    /// How long a provisioning attempt may take before it fails.
    public var deadline: Duration = .seconds(600)
    /// How often readiness is checked while waiting.
    public var pollInterval: Duration = .milliseconds(500)
    /// Stores are served at `<scheme>://<name>.<storeDomain>`.
    public var storeDomain = "stores.localhost"
    public var urlScheme = "http"

    public init() {}
}
