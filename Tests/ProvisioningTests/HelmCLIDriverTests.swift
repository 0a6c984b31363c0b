import Foundation
import Logging
import Synchronization
import Testing

@testable import Provisioning
import StoreCore
import StoreDatabase

/// What only fake executables can show: the exact argv (secret values never in
/// it), killing at a timeout or a cancel, launch failures and capped output. The
/// lifecycle itself runs with the real tools in HelmDriverOnAPIDoubleTests.
@Suite("HelmCLIDriver over fake helm and kubectl")
struct HelmCLIDriverTests {
    static let namespace = "store-shop-abc123"
    static let storeID = "st_k3q9x2abc123"
    static let pod = "shop-wordpress-5d4f9c7b8-x2kq9"

    // MARK: Namespace

    @Test func globalFlagsGoToBothToolsUnderTheirOwnNames() async throws {
        let fakes = try FakeTools()
        let driver = fakes.driver(kubeconfig: "/etc/storeplatform/kubeconfig", context: "prod")
        try fakes.seedNamespace(Self.namespace, labels: [:])
        try await driver.ensureSecret(namespace: Self.namespace, name: "shop-credentials", makeValues: StoreSecrets.generate)
        _ = try await driver.releaseStatus(namespace: Self.namespace, release: "shop")
        #expect(try fakes.calls() == [
            ["kubectl", "get", "secret", "shop-credentials", "-n", Self.namespace, "-o", "name", "--kubeconfig", "/etc/storeplatform/kubeconfig", "--context", "prod"],
            ["kubectl", "create", "-f", "-", "--kubeconfig", "/etc/storeplatform/kubeconfig", "--context", "prod"],
            ["helm", "status", "shop", "-n", Self.namespace, "-o", "json", "--kubeconfig", "/etc/storeplatform/kubeconfig", "--kube-context", "prod"],
        ])
    }

    // MARK: Secret

    @Test func ensureSecretPassesValuesOnStdinOnlyAndMakesThemOnce() async throws {
        let fakes = try FakeTools()
        let driver = fakes.driver()
        let ns = Self.namespace
        try fakes.seedNamespace(ns, labels: [:])

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
        try fakes.seedNamespace(Self.namespace, labels: [:])
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

    /// A generated password (the alphabet of ``StoreSecrets``).
    static let password = "Xk7pQ2mN9vR4tW8yZ3bC6dF5gH2jK7Lm"

    @Test func theDriverRedactsBase64FormsAnApiServerEchoes() async throws {
        let fakes = try FakeTools()
        let driver = fakes.driver()
        try fakes.seedNamespace(Self.namespace, labels: [:])
        try fakes.set(
            "fail-kubectl-create",
            #"Error from server (Forbidden): admission webhook "secrets.example.com" denied the request: data.mysql-password="WGs3cFEybU45dlI0dFc4eVozYkM2ZEY1Z0gyaks3TG0=" looks weak"# + "\n"
        )
        let error = await #expect(throws: ClusterError.self) {
            try await driver.ensureSecret(namespace: Self.namespace, name: "shop-credentials") {
                ["mysql-password": Self.password]
            }
        }
        #expect(
            error?.output
                == #"Error from server (Forbidden): admission webhook "secrets.example.com" denied the request: data.mysql-password="[redacted]" looks weak"#
        )
    }

    @Test func aCaptureCutInTheMiddleOfAPasswordLeavesNoPartOfIt() async throws {
        let fakes = try FakeTools()
        let driver = fakes.driver(outputLimit: 1024)
        try fakes.seedNamespace(Self.namespace, labels: [:])
        // 1,008 bytes, then the password: the 1,024-byte capture keeps its first half.
        let head = "Error from server (Invalid): " + String(repeating: "x", count: 1008 - 29 - 7) + "value: "
        #expect(head.utf8.count == 1008)
        try fakes.set("fail-kubectl-create", head + Self.password + " is not allowed\n")
        let error = await #expect(throws: ClusterError.self) {
            try await driver.ensureSecret(namespace: Self.namespace, name: "shop-credentials") {
                ["mysql-password": Self.password]
            }
        }
        #expect(error?.output == head + "[redacted]\n[output truncated to 1024 bytes]")
    }

    // MARK: Release

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

    // MARK: Readiness

    // MARK: Namespace deletion

    // MARK: Listing

    // MARK: Commands that fail to finish or to start

    @Test func configurationDefaults() {
        let configuration = HelmCLIDriver.Configuration()
        #expect(configuration.helmPath == "helm")
        #expect(configuration.kubectlPath == "kubectl")
        #expect(configuration.kubeconfig == nil)
        #expect(configuration.context == nil)
        #expect(configuration.chartDirectory == "helm")
        #expect(configuration.commandTimeout == .seconds(120))
        #expect(configuration.installTimeout == .seconds(300))
        #expect(configuration.valuesFiles.isEmpty)
        #expect(configuration.storeClusterRole == nil)
        #expect(configuration.requiredComponents == ["wordpress", "mysql"])
        #expect(configuration.outputLimit == 65536)
        let driver = HelmCLIDriver(configuration: configuration)
        #expect(driver.kind == .helm)
        #expect(!driver.kind.isSimulated)
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
}
