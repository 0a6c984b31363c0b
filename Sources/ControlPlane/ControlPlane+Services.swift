import Logging
import Provisioning
import ServiceLifecycle
import StoreCore
import StoreDatabase

extension ControlPlane {
    /// A control plane over `database` and `driver`, with a provisioner and a
    /// reconciler of its own: the stack storeplatformd serves
    /// (Sources/storeplatformd/DaemonCommand.swift), and the one
    /// `storeplatform-bench gateway-server` puts a gateway on. Run
    /// ``makeServices()`` beside it.
    package convenience init(
        info: DaemonInfo,
        database: any StoreDatabase,
        driver: any ClusterDriver,
        provisioning: ProvisionerConfiguration,
        reconciling: Reconciler.Configuration,
        eventBuffer: Int,
        rateLimiter: RateLimiter,
        access: AccessPolicy,
        maxLiveStores: Int,
        replayLimit: Int,
        logger: Logger
    ) {
        let provisioner = Provisioner(
            database: database, driver: driver, events: StoreEventBus(bufferLimit: eventBuffer), configuration: provisioning, logger: logger
        )
        self.init(
            info: info, provisioner: provisioner,
            reconciler: Reconciler(provisioner: provisioner, configuration: reconciling, logger: logger),
            rateLimiter: rateLimiter, access: access, maxLiveStores: maxLiveStores, replayLimit: replayLimit, logger: logger
        )
    }

    /// The services this control plane needs running, in the order a `ServiceGroup`
    /// starts them: the provisioner before the reconciler and the fleet upgrader that
    /// hand it work, so it stops after them. The transports (RPC server, HTTP gateway)
    /// go after these, so they stop first.
    package func makeServices() -> [any Service] {
        [databaseAvailability, makeLimitsFollower(), provisioner, reconciler, fleetUpgrader]
    }
}
