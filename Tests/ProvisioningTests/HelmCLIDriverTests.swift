import Foundation
import Logging
import Synchronization
import Testing

@testable import Provisioning
import StoreCore
import StoreDatabase

@Suite("HelmCLIDriver over fake helm and kubectl")
struct HelmCLIDriverTests {
    static let namespace = "store-shop-abc123"
    static let storeID = "st_k3q9x2abc123"
    static let pod = "shop-wordpress-5d4f9c7b8-x2kq9"

    // MARK: Namespace

    @Test func ensureNamespaceCreatesItLabelledOnceAndThenOnlyChecks() async throws {
        let fakes = try FakeTools()
        let driver = fakes.driver()
        let ns = Self.namespace

        try await driver.ensureNamespace(ns, storeID: Self.storeID)
        #expect(try fakes.calls() == [
            ["kubectl", "get", "namespace", ns, "-o", "json"],
            ["kubectl", "apply", "-f", "-"],
        ])
        let manifest = #"{"apiVersion":"v1","kind":"Namespace","metadata":{"labels":{"app.kubernetes.io/managed-by":"storeplatform","storeplatform.io/store-id":"st_k3q9x2abc123"},"name":"store-shop-abc123"}}"#
        #expect(try fakes.inputs() == [manifest])
        #expect(fakes.namespaceObject(ns) == manifest)

        try fakes.clearCalls()
        try await driver.ensureNamespace(ns, storeID: Self.storeID)
        #expect(try fakes.calls() == [["kubectl", "get", "namespace", ns, "-o", "json"]])
        #expect(try fakes.inputs().count == 1)
    }

    @Test func ensureNamespaceLabelsAnUnlabelledOneAndRefusesAnotherStoresOne() async throws {
        let fakes = try FakeTools()
        let driver = fakes.driver()
        try fakes.seedNamespace("store-bare-aaaaaa", labels: [:])
        try await driver.ensureNamespace("store-bare-aaaaaa", storeID: "st_aaaaaaaaaaaa")
        #expect(try fakes.calls().map { Array($0.prefix(2)) } == [["kubectl", "get"], ["kubectl", "apply"]])
        #expect(fakes.namespaceObject("store-bare-aaaaaa")?.contains(#""storeplatform.io/store-id":"st_aaaaaaaaaaaa""#) == true)

        try fakes.seedNamespace("store-taken-bbbbbb", labels: [HelmCLIDriver.managedByLabel: "storeplatform", HelmCLIDriver.storeIDLabel: "st_other"])
        try fakes.clearCalls()
        let error = await #expect(throws: ClusterError.self) {
            try await driver.ensureNamespace("store-taken-bbbbbb", storeID: "st_bbbbbbbbbbbb")
        }
        #expect(error?.output == "namespace store-taken-bbbbbb belongs to store st_other, not st_bbbbbbbbbbbb")
        #expect(try fakes.calls().count == 1)
    }

    @Test func globalFlagsGoToBothToolsUnderTheirOwnNames() async throws {
        let fakes = try FakeTools()
        let driver = fakes.driver(kubeconfig: "/etc/storeplatform/kubeconfig", context: "prod")
        try await driver.ensureNamespace(Self.namespace, storeID: Self.storeID)
        _ = try await driver.releaseStatus(namespace: Self.namespace, release: "shop")
        #expect(try fakes.calls() == [
            ["kubectl", "get", "namespace", Self.namespace, "-o", "json", "--kubeconfig", "/etc/storeplatform/kubeconfig", "--context", "prod"],
            ["kubectl", "apply", "-f", "-", "--kubeconfig", "/etc/storeplatform/kubeconfig", "--context", "prod"],
            ["helm", "status", "shop", "-n", Self.namespace, "-o", "json", "--kubeconfig", "/etc/storeplatform/kubeconfig", "--kube-context", "prod"],
        ])
    }

    // MARK: Secret

    @Test func ensureSecretPassesValuesOnStdinOnlyAndMakesThemOnce() async throws {
        let fakes = try FakeTools()
        let driver = fakes.driver()
        let ns = Self.namespace
        try await driver.ensureNamespace(ns, storeID: Self.storeID)
        try fakes.clearCalls()

        let made = Atomic<Int>(0)
        let values = StoreSecrets.generate()
        let makeValues: @Sendable () -> [String: String] = {
            made.add(1, ordering: .relaxed)
            return values
        }
        try await driver.ensureSecret(namespace: ns, name: "shop-credentials", makeValues: makeValues)
        #expect(try fakes.calls() == [
            ["kubectl", "get", "secret", "shop-credentials", "-n", ns, "-o", "name"],
            ["kubectl", "create", "-f", "-"],
        ])
        #expect(made.load(ordering: .relaxed) == 1)
        #expect(fakes.secretExists(namespace: ns, name: "shop-credentials"))

        let secretManifest = try #require(try fakes.inputs().last)
        let decoded = try JSONSerialization.jsonObject(with: Data(secretManifest.utf8)) as? [String: Any]
        #expect(decoded?["kind"] as? String == "Secret")
        #expect(decoded?["stringData"] as? [String: String] == values)
        let metadata = decoded?["metadata"] as? [String: Any]
        #expect(metadata?["name"] as? String == "shop-credentials")
        #expect(metadata?["namespace"] as? String == ns)
        #expect(metadata?["labels"] as? [String: String] == ["app.kubernetes.io/managed-by": "storeplatform"])

        try await driver.ensureSecret(namespace: ns, name: "shop-credentials", makeValues: makeValues)
        #expect(made.load(ordering: .relaxed) == 1)
        #expect(try fakes.calls().filter { $0.contains("create") }.count == 1)

        // No value in any argv line; each one in the stdin manifest.
        let log = fakes.callLog()
        #expect(values.count == 3 + StoreSecrets.wordpressKeys.count)
        for value in values.values {
            #expect(!log.contains(value))
            #expect(secretManifest.contains(value))
        }
    }

    @Test func ensureSecretFailureNeverCarriesAValue() async throws {
        let fakes = try FakeTools()
        let driver = fakes.driver()
        try await driver.ensureNamespace(Self.namespace, storeID: Self.storeID)
        // A tool that echoes part of its input in an error.
        try fakes.set("fail-kubectl-create", "The Secret \"shop-credentials\" is invalid: stringData[mysql-password]: Invalid value: \"pw-one-Xy7\"\n")
        let error = await #expect(throws: ClusterError.self) {
            try await driver.ensureSecret(namespace: Self.namespace, name: "shop-credentials") {
                ["mysql-password": "pw-one-Xy7", "mysql-root-password": "pw-two-Zq9"]
            }
        }
        #expect(error?.operation == "kubectl create secret shop-credentials")
        #expect(error?.output == "The Secret \"shop-credentials\" is invalid: stringData[mysql-password]: Invalid value: \"[redacted]\"")
        #expect(!fakes.callLog().contains("pw-one-Xy7"))
    }

    // MARK: Release

    @Test func releaseStatusMapsHelmStatusesAndNotFoundIsNil() async throws {
        let fakes = try FakeTools()
        let driver = fakes.driver()
        let ns = Self.namespace
        #expect(try await driver.releaseStatus(namespace: ns, release: "shop") == nil)
        #expect(try fakes.calls() == [["helm", "status", "shop", "-n", ns, "-o", "json"]])
        for (helmStatus, state) in [("deployed", ReleaseState.deployed), ("failed", .failed), ("pending-install", .pending),
                                    ("pending-upgrade", .pending), ("pending-rollback", .pending)] {
            try fakes.seedRelease(namespace: ns, name: "shop", status: helmStatus)
            #expect(try await driver.releaseStatus(namespace: ns, release: "shop") == state, "\(helmStatus)")
        }
    }

    @Test func installRunsOneHelmInstallWithStringValuesAndNoAtomic() async throws {
        let fakes = try FakeTools()
        let driver = fakes.driver()
        let ns = Self.namespace
        let request = InstallRequest(
            namespace: ns, release: "shop", chart: "helm/store",
            values: [
                "store.name": "shop", "store.id": Self.storeID, "ingress.host": "shop.stores.localhost",
                "credentials.secretName": "shop-credentials",
            ]
        )
        // The provisioner's order of steps, twice: the second pass installs nothing.
        for _ in 0..<2 {
            try await driver.ensureNamespace(ns, storeID: Self.storeID)
            try await driver.ensureSecret(namespace: ns, name: "shop-credentials", makeValues: StoreSecrets.generate)
            if try await driver.releaseStatus(namespace: ns, release: "shop") == nil {
                try await driver.installRelease(request)
            }
        }
        let installs = try fakes.calls().filter { $0.count > 1 && $0[1] == "install" }
        #expect(installs == [[
            "helm", "install", "shop", fakes.chartDirectory + "/store", "-n", ns,
            "--set-string", "credentials.secretName=shop-credentials",
            "--set-string", "ingress.host=shop.stores.localhost",
            "--set-string", "store.id=\(Self.storeID)",
            "--set-string", "store.name=shop",
            "--wait=false", "--timeout", "600s",
        ]])
        #expect(!fakes.callLog().contains("--atomic"))
        #expect(try fakes.calls().filter { $0.contains("apply") || $0.contains("create") }.count == 2)
        #expect(fakes.releaseStatus(namespace: ns, name: "shop") == "deployed")
        #expect(try await driver.releaseStatus(namespace: ns, release: "shop") == .deployed)
    }

    @Test func failingInstallCarriesHelmsExactStderr() async throws {
        let fakes = try FakeTools()
        let driver = fakes.driver()
        let stderr = "Error: INSTALLATION FAILED: Unable to continue with install: Service \"shop-wordpress\" in namespace \"store-shop-abc123\" exists and cannot be imported into the current release"
        try fakes.set("fail-helm-install", stderr + "\n")
        let error = await #expect(throws: ClusterError.self) {
            try await driver.installRelease(InstallRequest(namespace: Self.namespace, release: "shop", chart: "helm/store", values: [:]))
        }
        #expect(error?.operation == "helm install shop")
        #expect(error?.output == stderr)
        #expect(error?.description == "helm install shop failed: " + stderr)
    }

    @Test func uninstallSucceedsWhenTheReleaseIsMissingAndRemovesAPresentOne() async throws {
        let fakes = try FakeTools()
        let driver = fakes.driver()
        let ns = Self.namespace
        try await driver.uninstallRelease(namespace: ns, release: "shop")
        #expect(try fakes.calls() == [["helm", "uninstall", "shop", "-n", ns]])

        try fakes.seedRelease(namespace: ns, name: "shop")
        try await driver.uninstallRelease(namespace: ns, release: "shop")
        #expect(fakes.releaseStatus(namespace: ns, name: "shop") == nil)

        try fakes.set("fail-helm-uninstall", "Error: uninstallation completed with 1 error(s): context deadline exceeded\n")
        let error = await #expect(throws: ClusterError.self) {
            try await driver.uninstallRelease(namespace: ns, release: "shop")
        }
        #expect(error?.output == "Error: uninstallation completed with 1 error(s): context deadline exceeded")
    }

    // MARK: Readiness

    @Test func readinessReportsReadyAndWhatIsNotReadyYet() async throws {
        let fakes = try FakeTools()
        let driver = fakes.driver()
        let ns = Self.namespace
        #expect(try await driver.readiness(namespace: ns, release: "shop")
            == .progressing(notReady: ["no deployments or statefulsets labelled app.kubernetes.io/instance=shop yet"]))
        try fakes.seedRelease(namespace: ns, name: "shop")
        try fakes.set("pods", "progressing")
        #expect(try await driver.readiness(namespace: ns, release: "shop")
            == .progressing(notReady: ["deployment/shop-wordpress (0/1 ready)", "statefulset/shop-mysql (0/1 ready)"]))
        try fakes.set("pods", "ready")
        #expect(try await driver.readiness(namespace: ns, release: "shop") == .ready)
        let expected = ["kubectl", "get", "deployments,statefulsets,pods", "-n", ns, "-l", "app.kubernetes.io/instance=shop", "-o", "json"]
        #expect(try fakes.calls() == [expected, expected, expected])
    }

    @Test func crashLoopIsFailingWithTheReasonAndTheNewestEvents() async throws {
        let fakes = try FakeTools()
        let driver = fakes.driver()
        let ns = Self.namespace
        let pod = Self.pod
        try fakes.seedRelease(namespace: ns, name: "shop")
        try fakes.set("pods", "crashloop")
        let readiness = try await driver.readiness(namespace: ns, release: "shop")
        #expect(readiness == .failing(
            reason: "CrashLoopBackOff",
            detail: "pod \(pod): container wordpress is in CrashLoopBackOff (restarted 3 times, last exit code 1)",
            events: [
                "Warning BackOff pod/\(pod): Back-off restarting failed container wordpress in pod \(pod)",
                "Normal Pulled pod/\(pod): Container image \"wordpress:6.6-apache\" already present on machine",
                "Normal Started pod/\(pod): Started container wordpress",
                "Normal Created pod/\(pod): Created container wordpress",
                "Normal Pulling pod/\(pod): Pulling image \"wordpress:6.6-apache\"",
            ]
        ))
        #expect(try fakes.calls() == [
            ["kubectl", "get", "deployments,statefulsets,pods", "-n", ns, "-l", "app.kubernetes.io/instance=shop", "-o", "json"],
            ["kubectl", "get", "events", "-n", ns, "-o", "json"],
        ])
    }

    @Test func imagePullBackOffIsFailingWithTheWaitingMessage() async throws {
        let fakes = try FakeTools()
        let driver = fakes.driver()
        try fakes.seedRelease(namespace: Self.namespace, name: "shop")
        try fakes.set("pods", "imagepull")
        guard case .failing(let reason, let detail, let events) = try await driver.readiness(namespace: Self.namespace, release: "shop") else {
            Issue.record("not failing")
            return
        }
        #expect(reason == "ImagePullBackOff")
        #expect(detail == "pod \(Self.pod): container wordpress is waiting: ImagePullBackOff: Back-off pulling image \"wordpress:6.6-apache\"")
        #expect(events.count == 5)
    }

    // MARK: Namespace deletion

    @Test func deleteNamespaceDeletesOnlyAManagedOneAndIsDoneWhenItIsGone() async throws {
        let fakes = try FakeTools()
        let driver = fakes.driver()
        let ns = Self.namespace
        try await driver.deleteNamespace(ns)
        #expect(try fakes.calls() == [["kubectl", "get", "namespace", ns, "-o", "json"]])

        try await driver.ensureNamespace(ns, storeID: Self.storeID)
        try fakes.seedRelease(namespace: ns, name: "shop")
        try fakes.clearCalls()
        try await driver.deleteNamespace(ns)
        #expect(try fakes.calls() == [
            ["kubectl", "get", "namespace", ns, "-o", "json"],
            ["kubectl", "delete", "namespace", ns, "--ignore-not-found", "--wait=false"],
        ])
        #expect(fakes.namespaceObject(ns) == nil)
        #expect(fakes.releaseStatus(namespace: ns, name: "shop") == nil)

        try fakes.seedNamespace("kube-system", labels: [:])
        try fakes.clearCalls()
        let error = await #expect(throws: ClusterError.self) { try await driver.deleteNamespace("kube-system") }
        #expect(error?.output == "namespace kube-system is not labelled app.kubernetes.io/managed-by=storeplatform; refusing to delete it")
        #expect(try fakes.calls().count == 1)
        #expect(fakes.namespaceObject("kube-system") != nil)
    }

    // MARK: Listing

    @Test func listManagedIsTwoCommandsForFiftyStores() async throws {
        let fakes = try FakeTools()
        let driver = fakes.driver()
        var expectedNamespaces: [ClusterInventory.Namespace] = []
        var expectedReleases: [ClusterInventory.Release] = []
        for index in 0..<50 {
            let name = String(format: "store-s%02d-abc%03d", index, index)
            let id = String(format: "st_aaaaaaaaa%03d", index)
            try fakes.seedNamespace(name, labels: [HelmCLIDriver.managedByLabel: "storeplatform", HelmCLIDriver.storeIDLabel: id])
            let status = index == 7 ? "pending-install" : index == 8 ? "failed" : "deployed"
            try fakes.seedRelease(namespace: name, name: String(format: "s%02d", index), status: status)
            expectedNamespaces.append(.init(name: name, storeID: id))
            expectedReleases.append(.init(namespace: name, name: String(format: "s%02d", index), state: index == 7 ? .pending : index == 8 ? .failed : .deployed))
        }
        // Not the platform's: an unlabelled namespace with a release, and a managed
        // namespace already terminating.
        try fakes.seedNamespace("monitoring", labels: [:])
        try fakes.seedRelease(namespace: "monitoring", name: "prometheus")
        try fakes.seedNamespace("store-gone-zzzzzz", labels: [HelmCLIDriver.managedByLabel: "storeplatform", HelmCLIDriver.storeIDLabel: "st_zzzzzzzzzzzz"], terminating: true)

        let inventory = try await driver.listManaged()
        #expect(try fakes.calls() == [
            ["kubectl", "get", "namespaces", "-l", "app.kubernetes.io/managed-by=storeplatform", "-o", "json"],
            ["helm", "list", "--all-namespaces", "--all", "--max", "0", "-o", "json"],
        ])
        #expect(inventory.namespaces == expectedNamespaces)
        #expect(inventory.releases == expectedReleases)
    }

    @Test func listManagedOfAnEmptyCluster() async throws {
        let fakes = try FakeTools()
        let inventory = try await fakes.driver().listManaged()
        #expect(inventory == ClusterInventory(namespaces: [], releases: []))
    }

    // MARK: Commands that fail to finish or to start

    @Test func configurationDefaults() {
        let configuration = HelmCLIDriver.Configuration()
        #expect(configuration.helmPath == "helm")
        #expect(configuration.kubectlPath == "kubectl")
        #expect(configuration.kubeconfig == nil)
        #expect(configuration.context == nil)
        #expect(configuration.chartDirectory == "helm")
        #expect(configuration.commandTimeout == .seconds(120))
        #expect(configuration.installTimeout == .seconds(600))
        #expect(configuration.outputLimit == 65536)
        let driver = HelmCLIDriver(configuration: configuration)
        #expect(driver.name == "helm")
        #expect(driver.isSimulated == false)
    }

    @Test func aHangingCommandIsKilledAtTheTimeout() async throws {
        let fakes = try FakeTools()
        let driver = fakes.driver(timeout: .seconds(1))
        try fakes.set("hang-helm-status")
        let error = await #expect(throws: ClusterError.self) {
            try await driver.releaseStatus(namespace: Self.namespace, release: "shop")
        }
        #expect(error?.operation == "helm status shop")
        #expect(error?.output == "timed out after 1 s; the command was killed")
        let pid = try #require(fakes.pid("hang.pid"))
        let child = try #require(fakes.pid("hang-child.pid"))
        // The fake itself and the `sleep` it started (same process group) are gone.
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline, FakeTools.isRunning(pid) || FakeTools.isRunning(child) {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(!FakeTools.isRunning(pid))
        #expect(!FakeTools.isRunning(child))
    }

    @Test func aCancelledCallKillsItsCommand() async throws {
        let fakes = try FakeTools()
        let driver = fakes.driver(timeout: .seconds(60))
        try fakes.set("hang-kubectl-get")
        let task = Task { try await driver.readiness(namespace: Self.namespace, release: "shop") }
        let started = ContinuousClock.now + .seconds(10)
        while fakes.pid("hang-child.pid") == nil, ContinuousClock.now < started {
            try await Task.sleep(for: .milliseconds(20))
        }
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        let pid = try #require(fakes.pid("hang.pid"))
        let child = try #require(fakes.pid("hang-child.pid"))
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline, FakeTools.isRunning(pid) || FakeTools.isRunning(child) {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(!FakeTools.isRunning(pid))
        #expect(!FakeTools.isRunning(child))
    }

    @Test func aMissingExecutableSaysItCannotRun() async throws {
        let fakes = try FakeTools()
        var configuration = fakes.driver().configuration
        configuration.helmPath = fakes.directory + "/nowhere/helm"
        let error = await #expect(throws: ClusterError.self) {
            try await HelmCLIDriver(configuration: configuration).releaseStatus(namespace: Self.namespace, release: "shop")
        }
        #expect(error?.operation == "helm status shop")
        #expect(error?.output.hasPrefix("cannot run \(fakes.directory)/nowhere/helm: ") == true, "\(error?.output ?? "")")
    }

    @Test func failureOutputIsCapped() async throws {
        let fakes = try FakeTools()
        let driver = fakes.driver(outputLimit: 1024)
        try fakes.set("fail-helm-uninstall", "Error: " + String(repeating: "x", count: 200_000) + "\n")
        let error = await #expect(throws: ClusterError.self) {
            try await driver.uninstallRelease(namespace: Self.namespace, release: "shop")
        }
        #expect(error?.output == "Error: " + String(repeating: "x", count: 1024 - 7) + "\n[output truncated to 1024 bytes]")
    }

    // MARK: End to end

    @Test func provisionerTakesAStoreToReadyAndDeletesItThroughTheCLIs() async throws {
        let fakes = try FakeTools()
        let (database, provisioner) = try Self.provisioner(fakes)
        let created = try provisioner.create(name: "shop", engine: "", actor: "uid:0", requestID: nil, idempotencyKey: nil, maxLiveStores: 10)
        let ready = try await Self.waitFor(database, provisioner, created.id, .ready)
        #expect(ready.url == "http://shop.stores.localhost")
        #expect(fakes.releaseStatus(namespace: ready.namespace, name: "shop") == "deployed")
        #expect(fakes.secretExists(namespace: ready.namespace, name: "shop-credentials"))
        #expect(fakes.namespaceObject(ready.namespace)?.contains(#""storeplatform.io/store-id":"\#(created.id)""#) == true)

        let inventory = try await provisioner.driver.listManaged()
        #expect(inventory.namespaces == [.init(name: ready.namespace, storeID: created.id)])
        #expect(inventory.releases == [.init(namespace: ready.namespace, name: "shop", state: .deployed)])

        _ = try await provisioner.delete(storeID: created.id, actor: "uid:0", requestID: nil)
        let deleted = try await Self.waitFor(database, provisioner, created.id, .deleted)
        #expect(deleted.status == .deleted)
        #expect(fakes.namespaceObject(ready.namespace) == nil)
        #expect(fakes.releaseStatus(namespace: ready.namespace, name: "shop") == nil)

        let subcommands = try fakes.calls().map { $0[0] + " " + $0[1] }
        #expect(subcommands.filter { $0 == "helm install" }.count == 1)
        #expect(subcommands.filter { $0 == "helm uninstall" }.count == 1)
        #expect(subcommands.filter { $0 == "kubectl delete" }.count == 1)
        // The generated passwords went to kubectl's stdin and nowhere else.
        let secret = try #require(try fakes.inputs().first { $0.contains(#""kind":"Secret""#) })
        let values = try #require(
            (try JSONSerialization.jsonObject(with: Data(secret.utf8)) as? [String: Any])?["stringData"] as? [String: String]
        )
        #expect(values.count == 3 + StoreSecrets.wordpressKeys.count)
        for value in values.values {
            #expect(!fakes.callLog().contains(value))
            #expect(try database.store(id: created.id)?.errorMessage.contains(value) == false)
        }
    }

    @Test func provisionerRecordsACrashLoopWithItsEvents() async throws {
        let fakes = try FakeTools()
        try fakes.set("pods", "crashloop")
        let (database, provisioner) = try Self.provisioner(fakes)
        let created = try provisioner.create(name: "shop", engine: "", actor: "uid:0", requestID: nil, idempotencyKey: nil, maxLiveStores: 10)
        let failed = try await Self.waitFor(database, provisioner, created.id, .failed)
        #expect(failed.errorMessage.hasPrefix(
            "pods failing: CrashLoopBackOff: pod \(Self.pod): container wordpress is in CrashLoopBackOff (restarted 3 times, last exit code 1); events: Warning BackOff pod/\(Self.pod)"
        ), "\(failed.errorMessage)")
    }

    // MARK: Helpers

    static func provisioner(_ fakes: FakeTools) throws -> (StoreDatabase, Provisioner) {
        let database = try StoreDatabase.open(path: fakes.directory + "/store.sqlite")
        var configuration = ProvisionerConfiguration()
        configuration.pollInterval = .milliseconds(20)
        configuration.deadline = .seconds(60)
        let provisioner = Provisioner(
            database: database, driver: fakes.driver(), events: StoreEventBus(), configuration: configuration, logger: Logger(label: "test")
        )
        return (database, provisioner)
    }

    /// Waits (generously) for the store to reach `status` with its operation finished.
    static func waitFor(_ database: StoreDatabase, _ provisioner: Provisioner, _ id: String, _ status: StoreStatus) async throws -> Store {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let store = try database.store(id: id), store.status == status, !provisioner.isRunning(storeID: id) {
                return store
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        let store = try #require(try database.store(id: id))
        Issue.record("store \(id) did not reach \(status); it is \(store.status.rawValue): \(store.errorMessage)")
        return store
    }
}
