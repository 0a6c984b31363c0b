import Logging
import Provisioning
import StoreCore
import StoreDatabase

/// A provisioner and its reconciler wired as the daemon wires them, for the
/// harnesses of every layer's tests (ProvisioningTests, HTTPGatewayTests): the
/// provisioner's service runs (``RunningProvisioner``) unless `runs` is false.
public struct ProvisionerUnderTest: Sendable {
    public let provisioner: Provisioner
    public let reconciler: Reconciler
    /// The provisioner's service, running until stopped or the end of the test;
    /// nil when the test runs it itself.
    public let running: RunningProvisioner?

    public init(
        database: any StoreDatabase, driver: any ClusterDriver, configuration: ProvisionerConfiguration,
        events: StoreEventBus = StoreEventBus(), runs: Bool = true
    ) {
        let logger = Logger(label: "test")
        provisioner = Provisioner(database: database, driver: driver, events: events, configuration: configuration, logger: logger)
        reconciler = Reconciler(provisioner: provisioner, configuration: .init(), logger: logger)
        running = runs ? RunningProvisioner(provisioner) : nil
    }
}
