import ArgumentParser
import Foundation
import KubernetesAPIDouble
import Logging
import Provisioning
import StoreCore
import StoreDatabase

/// What the Helm cluster driver asks of the Kubernetes API: requests per
/// provisioning and per reconcile pass, counted by the Kubernetes API double (a
/// stand-in for an API server, not a cluster) while the real helm and kubectl run.
/// "Before" replays the exact commands the driver ran before the real-cluster
/// work (commit 7e83bc2: readiness as three LISTs every 500 ms, `helm list -A
/// --all` over Secret records); "after" runs today's driver.
struct KubeAPIBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kube-api",
        abstract: "API requests per provisioning and per reconcile pass, on the Kubernetes API double with the real helm and kubectl."
    )

    @Option(help: "Where scripts/install-kube-tools put helm-v3, helm-v4, kubectl-v1.32 and kubectl-v1.33.")
    var tools = ".tools/bin"

    @Option(help: "The charts directory (helm/).")
    var charts = "helm"

    @Option(parsing: .upToNextOption, help: "Store counts for the reconcile pass.")
    var stores: [Int] = [10, 100, 1000]

    @Option(help: "Helm revisions per release in the second reconcile series (upgrades leave them).")
    var revisions = 3

    @Option(help: "Seconds the double's pods take to become ready after an install.")
    var readyAfter = 10.0

    func run() async throws {
        let scratch = "/tmp/spbench-kube-\(getpid())"
        try FileManager.default.createDirectory(atPath: scratch + "/home", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        // helm and kubectl keep their discovery cache under $HOME, as in the daemon's pod.
        setenv("HOME", scratch + "/home", 1)
        let charts = URL(fileURLWithPath: self.charts).standardizedFileURL.path
        let tools = URL(fileURLWithPath: self.tools).standardizedFileURL.path

        print("# storeplatform-bench kube-api")
        print("")
        print("Requests counted by the Kubernetes API double (a stand-in for an API server, not a cluster);")
        print("helm \(try Self.output(tools + "/helm-v3", ["version", "--short"])), helm \(try Self.output(tools + "/helm-v4", ["version", "--short"])),")
        print("pods ready \(readyAfter) s after the install. Discovery = /api, /apis, /version, /openapi (kubectl and helm cache it under $HOME).")
        print("")
        print("## One store, create → ready")
        print("")
        print("| driver | helm | requests | discovery | get | list | watch | create | update | patch | delete | readiness LISTs | seconds |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        let (_, secretRecord) = try await provisionBefore(tools: tools, charts: charts, scratch: scratch)
        var configMapRecord: JSON?
        for major in ["v3", "v4"] {
            configMapRecord = try await provisionAfter(major: major, tools: tools, charts: charts, scratch: scratch)
        }
        print("")
        print("## One reconcile pass over N stores")
        print("")
        print("Each store: a managed namespace and its release record(s), the payload copied from a real install.")
        print("")
        print("| driver | stores | revisions each | requests (resource) | response bytes | seconds |")
        print("|---|---:|---:|---:|---:|---:|")
        for revisionCount in [1, revisions] {
            for count in stores {
                try await reconcileBefore(count, revisionCount, record: secretRecord, tools: tools)
                try await reconcileAfter(count, revisionCount, record: try Self.require(configMapRecord), tools: tools, charts: charts, scratch: scratch)
            }
        }
        let helm4 = try Self.run(tools + "/helm-v4", ["list", "--all-namespaces", "--all", "--max", "0", "-o", "json"], environment: [:])
        print("")
        print("Before, with helm 4: `helm list --all` → exit \(helm4.status): \(helm4.output.trimmingCharacters(in: .whitespacesAndNewlines))")
    }

    // MARK: Provisioning

    /// Today's driver through the Provisioner; returns one release record (a ConfigMap).
    func provisionAfter(major: String, tools: String, charts: String, scratch: String) async throws -> JSON {
        let api = try await KubernetesAPIDouble.start(behavior: behavior())
        defer { Task { try await api.stop() } }
        let kubeconfig = scratch + "/after-\(major).kubeconfig"
        try api.writeKubeconfig(to: kubeconfig)
        let driver = HelmCLIDriver(configuration: .init(
            helmPath: tools + "/helm-\(major)", kubectlPath: tools + "/kubectl-\(major == "v3" ? "v1.32" : "v1.33")", kubeconfig: kubeconfig,
            chartDirectory: charts
        ))
        let database = try SQLiteStoreDatabase.open(path: scratch + "/after-\(major).sqlite")
        let provisioner = Provisioner(
            database: database, driver: driver, events: StoreEventBus(), configuration: ProvisionerConfiguration(), logger: Logger(label: "bench")
        )
        let record: JSON? = try await provisioner.withRunning {
            var record: JSON?
            // The first store warms helm's and kubectl's discovery caches; the second is measured.
            for (index, name) in ["warmup", "measured"].enumerated() {
                api.clearRequests()
                let started = ContinuousClock.now
                let store = try await provisioner.create(name: name, engine: "", actor: "bench", requestID: nil, idempotencyKey: nil, maxLiveStores: 10)
                while true {
                    let current = try await database.store(id: store.id)
                    if current?.status == .ready { break }
                    if current?.status == .failed { throw BenchError("\(name) failed: \(current?.errorMessage ?? "")") }
                    try await Task.sleep(for: .milliseconds(50))
                }
                if index == 1 {
                    print(Self.row("after", "helm \(major)", api.requests, namespace: store.namespace, seconds: ContinuousClock.now - started))
                    record = try api.objects("configmaps", namespace: store.namespace, labelSelector: "owner=helm").first
                }
            }
            return record
        }
        return try Self.require(record)
    }

    /// The commands the driver ran before (7e83bc2), in its order, with helm 3 and its
    /// default Secret storage; readiness polled every 500 ms until the pods are ready.
    /// Returns one release record (a Secret).
    func provisionBefore(tools: String, charts: String, scratch: String) async throws -> (Int, JSON) {
        let api = try await KubernetesAPIDouble.start(behavior: behavior())
        defer { Task { try await api.stop() } }
        let kubeconfig = scratch + "/before.kubeconfig"
        try api.writeKubeconfig(to: kubeconfig)
        let kubectl = tools + "/kubectl-v1.32", helm = tools + "/helm-v3"
        let global = ["--kubeconfig", kubeconfig]
        var record: JSON?
        for (index, name) in ["warmup", "measured"].enumerated() {
            api.clearRequests()
            let started = ContinuousClock.now
            let namespace = "store-\(name)-abc123", release = name, secret = "\(name)-credentials"
            _ = try Self.run(kubectl, ["get", "namespace", namespace, "-o", "json"] + global)
            let namespaceManifest = #"{"apiVersion":"v1","kind":"Namespace","metadata":{"labels":{"app.kubernetes.io/managed-by":"storeplatform","storeplatform.io/store-id":"st_bench"},"name":"\#(namespace)"}}"#
            try Self.expect(Self.run(kubectl, ["apply", "-f", "-"] + global, input: namespaceManifest), "kubectl apply namespace")
            _ = try Self.run(kubectl, ["get", "secret", secret, "-n", namespace, "-o", "name"] + global)
            let secretManifest = #"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"\#(secret)","namespace":"\#(namespace)"},"stringData":{"mysql-password":"x","mysql-root-password":"y","wordpress-admin-password":"z"},"type":"Opaque"}"#
            try Self.expect(Self.run(kubectl, ["create", "-f", "-"] + global, input: secretManifest), "kubectl create secret")
            _ = try Self.run(helm, ["status", release, "-n", namespace, "-o", "json"] + global)
            try Self.expect(
                Self.run(helm, [
                    "install", release, charts + "/store", "-n", namespace, "--set-string", "credentials.secretName=\(secret)",
                    "--set-string", "ingress.host=\(name).stores.localhost", "--set-string", "store.id=st_bench", "--set-string", "store.name=\(name)",
                    "--wait=false", "--timeout", "600s",
                ] + global),
                "helm install"
            )
            while true {
                _ = try Self.run(kubectl, ["get", "deployments,statefulsets,pods", "-n", namespace, "-l", "app.kubernetes.io/instance=\(release)", "-o", "json"] + global)
                let pods = try api.objects("pods", namespace: namespace, labelSelector: "app.kubernetes.io/instance=\(release)")
                let ready = pods.filter { $0[path: "metadata.labels"]?["app.kubernetes.io/component"]?.string != "setup" }
                    .allSatisfy { pod in pod[path: "status.conditions"]?.array?.contains { $0["type"] == "Ready" && $0["status"] == "True" } == true }
                if ready, !pods.isEmpty { break }
                try await Task.sleep(for: .milliseconds(500))
            }
            if index == 1 {
                print(Self.row("before (7e83bc2)", "helm v3", api.requests, namespace: namespace, seconds: ContinuousClock.now - started))
                record = try api.objects("secrets", namespace: namespace, labelSelector: "owner=helm").first
            }
        }
        return (0, try Self.require(record))
    }

    func behavior() -> Behavior {
        var behavior = Behavior()
        behavior.podStartDelay = .seconds(readyAfter)
        return behavior
    }

    // MARK: Reconcile

    /// `count` managed namespaces, each with `revisions` release records of `resource`
    /// (the newest deployed, the others superseded), payloads copied from `record`.
    static func seed(_ api: KubernetesAPIDouble, count: Int, revisions: Int, resource: String, record: JSON) throws {
        for index in 0..<count {
            let namespace = String(format: "store-bench-%04d-abc123", index)
            try api.seed("namespaces", [
                "metadata": ["name": .string(namespace), "labels": ["app.kubernetes.io/managed-by": "storeplatform", "storeplatform.io/store-id": .string("st_\(index)")]],
            ])
            for revision in 1...revisions {
                var copy = record
                var labels = record[path: "metadata.labels"]?.object ?? [:]
                labels["name"] = .string("bench-\(index)")
                labels["version"] = .string(String(revision))
                labels["status"] = revision == revisions ? "deployed" : "superseded"
                copy["metadata"] = ["name": .string("sh.helm.release.v1.bench-\(index).v\(revision)"), "labels": .object(labels)]
                try api.seed(resource, namespace: namespace, copy)
            }
        }
    }

    func reconcileBefore(_ count: Int, _ revisionCount: Int, record: JSON, tools: String) async throws {
        let api = try await KubernetesAPIDouble.start()
        defer { Task { try await api.stop() } }
        let kubeconfig = "/tmp/spbench-kube-\(getpid())/reconcile-before.kubeconfig"
        try api.writeKubeconfig(to: kubeconfig)
        try Self.seed(api, count: count, revisions: revisionCount, resource: "secrets", record: record)
        let global = ["--kubeconfig", kubeconfig]
        _ = try Self.run(tools + "/kubectl-v1.32", ["get", "namespaces", "-o", "name"] + global)  // discovery cache warm
        api.clearRequests()
        let started = ContinuousClock.now
        try Self.expect(Self.run(tools + "/kubectl-v1.32", ["get", "namespaces", "-l", "app.kubernetes.io/managed-by=storeplatform", "-o", "json"] + global), "kubectl get namespaces")
        try Self.expect(Self.run(tools + "/helm-v3", ["list", "--all-namespaces", "--all", "--max", "0", "-o", "json"] + global), "helm list")
        print(Self.reconcileRow("before (7e83bc2)", count, revisionCount, api.requests, ContinuousClock.now - started))
    }

    func reconcileAfter(_ count: Int, _ revisionCount: Int, record: JSON, tools: String, charts: String, scratch: String) async throws {
        let api = try await KubernetesAPIDouble.start()
        defer { Task { try await api.stop() } }
        let kubeconfig = scratch + "/reconcile-after.kubeconfig"
        try api.writeKubeconfig(to: kubeconfig)
        try Self.seed(api, count: count, revisions: revisionCount, resource: "configmaps", record: record)
        let driver = HelmCLIDriver(configuration: .init(helmPath: tools + "/helm-v4", kubectlPath: tools + "/kubectl-v1.33", kubeconfig: kubeconfig, chartDirectory: charts))
        _ = try await driver.listManaged()  // discovery cache warm
        api.clearRequests()
        let started = ContinuousClock.now
        let inventory = try await driver.listManaged()
        guard inventory.releases.count == count, inventory.namespaces.count == count else {
            throw BenchError("the listing found \(inventory.releases.count) releases in \(inventory.namespaces.count) namespaces, not \(count)")
        }
        print(Self.reconcileRow("after", count, revisionCount, api.requests, ContinuousClock.now - started))
    }

    // MARK: Output

    static func row(_ driver: String, _ helm: String, _ requests: [RecordedRequest], namespace: String, seconds: Duration) -> String {
        let discovery = requests.filter(\.resource.isEmpty).count
        func verb(_ name: String) -> Int { requests.filter { !$0.resource.isEmpty && $0.verb == name }.count }
        let readiness = requests.filter {
            $0.verb == "list" && $0.namespace == namespace && ["pods", "deployments.apps", "statefulsets.apps"].contains($0.resource) && $0.tool == "kubectl"
        }.count
        let cells = [requests.count, discovery, verb("get"), verb("list"), verb("watch"), verb("create"), verb("update"), verb("patch"), verb("delete"), readiness]
        return "| \(driver) | \(helm) | " + cells.map(String.init).joined(separator: " | ") + " | \(format(seconds)) |"
    }

    static func reconcileRow(_ driver: String, _ count: Int, _ revisions: Int, _ requests: [RecordedRequest], _ seconds: Duration) -> String {
        let resource = requests.filter { !$0.resource.isEmpty }
        let bytes = resource.map(\.responseBytes).reduce(0, +)
        return "| \(driver) | \(count) | \(revisions) | \(resource.count) | \(bytes.formatted()) | \(format(seconds)) |"
    }

    static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        return String(format: "%.2f", Double(seconds) + Double(attoseconds) / 1e18)
    }

    // MARK: Processes

    static func run(_ executable: String, _ arguments: [String], input: String? = nil, environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let output = Pipe(), stdin = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try stdin.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    static func output(_ executable: String, _ arguments: [String]) throws -> String {
        try run(executable, arguments).output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func expect(_ result: (status: Int32, output: String), _ what: String) throws {
        guard result.status == 0 else { throw BenchError("\(what) failed (exit \(result.status)): \(result.output)") }
    }

    static func require<T>(_ value: T?) throws -> T {
        guard let value else { throw BenchError("no release record was made") }
        return value
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
