import ArgumentParser
import Foundation
import Logging
import Provisioning
import StoreCore
import StoreDatabase
import StorePlatformProto
import StoreRPC
import Synchronization

/// The store lifecycle's three figures: a reconcile pass over many stores, many
/// creates through the daemon until all are ready, and daemon start-up with a
/// large database.
struct LifecycleBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lifecycle",
        abstract: "Reconcile pass over N stores, M creates until ready, start-up with N stores."
    )

    @Option(help: "The storeplatformd to measure (default: the one beside this tool).")
    var daemon: String?

    @Option(help: "Stores in the database for the reconcile and start-up figures.")
    var stores: Int = 10_000

    @Option(help: "Stores created through the daemon.")
    var creates: Int = 1_000

    @Option(help: "Creates in flight at once.")
    var inFlight: Int = 64

    func run() async throws {
        let tool = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let daemonPath = daemon ?? tool.deletingLastPathComponent().appendingPathComponent("storeplatformd").path
        let scratch = "/tmp/spbench-lifecycle-\(getpid())"
        try FileManager.default.createDirectory(atPath: scratch + "/data", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }

        print("# storeplatform-bench lifecycle")
        print("")
        try await seed(scratch + "/data")
        try await reconcilePass(scratch + "/data")
        try await startup(daemonPath, scratch)
        try await createMany(daemonPath, scratch + "/fresh")
    }

    /// `stores` ready stores in the database and the simulated cluster.
    func seed(_ dataDir: String) async throws {
        let database = try SQLiteStoreDatabase.open(path: dataDir + "/storeplatform.sqlite")
        let cluster = try SimulatedCluster(path: dataDir + "/simulated-cluster.sqlite", configuration: .instant)
        let now = Date()
        var seeded: [Store] = []
        for index in 0..<stores {
            var store = Store.queued(name: try StoreName.validate("bench-\(index)"), engine: WooCommerceEngine(), now: now)
            store.status = .ready
            store.url = "http://bench-\(index).stores.localhost"
            store.attempts = 1
            store.readyAt = now
            store.provisioningDurationMilliseconds = 1
            seeded.append(store)
        }
        let started = ContinuousClock.now
        try await database.importStores(seeded, actor: "bench")
        try cluster.seedInstalled(seeded.map { ($0.namespace, $0.id, $0.release) })
        print("Seeded \(stores) ready stores in \(Self.format(ContinuousClock.now - started)).")
        print("")
    }

    func reconcilePass(_ dataDir: String) async throws {
        let database = try SQLiteStoreDatabase.open(path: dataDir + "/storeplatform.sqlite")
        let cluster = try SimulatedCluster(path: dataDir + "/simulated-cluster.sqlite", configuration: .instant)
        let driver = CountingClusterDriver(cluster)
        let provisioner = Provisioner(
            database: database, driver: driver, events: StoreEventBus(), configuration: ProvisionerConfiguration(),
            logger: Logger(label: "bench")
        )
        let reconciler = Reconciler(provisioner: provisioner, configuration: .init(), logger: Logger(label: "bench"))
        // Listings after the warm-up pass's one.
        let listingsBefore = driver.listings + 1
        let (unsorted, corrections) = try await provisioner.withRunning {
            _ = try await reconciler.reconcile()  // warm-up
            var durations: [Double] = []
            var corrections = 0
            for _ in 0..<5 {
                let report = try await reconciler.reconcile()
                durations.append(report.durationMilliseconds)
                corrections += report.corrections.count
            }
            return (durations, corrections)
        }
        let durations = unsorted.sorted()
        print("## Reconcile pass over \(stores) stores")
        print("")
        print("| passes | median ms | max ms | cluster listings per pass | corrections |")
        print("|---:|---:|---:|---:|---:|")
        print(String(format: "| 5 | %.1f | %.1f | %d | %d |", durations[2], durations[4], (driver.listings - listingsBefore) / 5, corrections))
        print("")
    }

    func startup(_ daemonPath: String, _ scratch: String) async throws {
        let socket = scratch + "/startup.sock"
        let started = ContinuousClock.now
        let process = try ChildProcess(executable: daemonPath, arguments: [
            "--socket", socket, "--tcp", "off", "--data-dir", scratch + "/data", "--log-level", "warning", "--http", "off",
        ])
        var serving: Duration?
        while ContinuousClock.now - started < .seconds(30) {
            if let client = try? BlockingFrameSocket(connectingTo: .unix(path: socket)) {
                try client.sendFrame(RPCBenchmark.request(streamID: 1))
                if let frame = try client.receiveFrame(), (try? RPCBenchmark.verify(frame, streamID: 1)) != nil {
                    serving = ContinuousClock.now - started
                    break
                }
            }
            try await Task.sleep(for: .milliseconds(1))
        }
        let rss = process.residentKiB
        process.stop()
        print("## Start-up with \(stores) stores in the database")
        print("")
        print("| from exec to the first Health answer | RSS right after |")
        print("|---:|---:|")
        print("| \(serving.map(Self.format) ?? "did not start") | \(rss / 1024) MiB |")
        print("")
    }

    func createMany(_ daemonPath: String, _ scratch: String) async throws {
        let socket = scratch + "/d.sock"
        let process = try ChildProcess(executable: daemonPath, arguments: [
            "--socket", socket, "--tcp", "off", "--data-dir", scratch + "/data", "--log-level", "warning", "--http", "off",
            "--sim-install-delay", "0", "--sim-ready-delay", "0", "--readiness-poll-ms", "1",
            "--max-live-stores", "1000000", "--requests-per-minute", "100000000", "--creates-per-minute", "100000000",
            "--max-concurrent-provisions", "64",
        ])
        try RPCBenchmark.waitForSocket(.unix(path: socket))
        let client = try await RPCClient.connect(to: .unix(path: socket))
        let watch = try client.serverStream(
            StorePlatformMethod.StoreService.watchStores, Storeplatform_V1_WatchStoresRequest(), as: Storeplatform_V1_StoreEvent.self
        )
        try await Task.sleep(for: .milliseconds(200))  // let the watch subscribe
        let total = creates
        let started = ContinuousClock.now
        let peak = PeakSampler(process)
        let counter = Task {
            var ready = 0
            var failed = 0
            for try await event in watch {
                if event.toStatus == .ready { ready += 1 }
                if event.toStatus == .failed { failed += 1 }
                if ready + failed == total { break }
            }
            return (ready, failed, ContinuousClock.now)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            func submit() {
                let index = next
                next += 1
                group.addTask {
                    var request = Storeplatform_V1_CreateStoreRequest()
                    request.name = "load-\(index)"
                    _ = try await client.unary(StorePlatformMethod.StoreService.createStore, request, as: Storeplatform_V1_CreateStoreResponse.self)
                }
            }
            for _ in 0..<min(inFlight, total) { submit() }
            while try await group.next() != nil {
                if next < total { submit() }
            }
        }
        let created = ContinuousClock.now - started
        let (ready, failed, finished) = try await counter.value
        peak.stop()
        await client.close()
        process.stop()
        print("## \(total) creates until every store is ready (zero simulated delays, limits lifted)")
        print("")
        print("| creates answered | all ready or failed | ready | failed | daemon peak RSS |")
        print("|---:|---:|---:|---:|---:|")
        print("| \(Self.format(created)) | \(Self.format(finished - started)) | \(ready) | \(failed) | \(peak.peakKiB / 1024) MiB |")
        print("")
    }

    static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let milliseconds = Double(seconds) * 1000 + Double(attoseconds) / 1e15
        return milliseconds < 1000 ? String(format: "%.0f ms", milliseconds) : String(format: "%.2f s", milliseconds / 1000)
    }
}

/// Samples a process's peak RSS (VmHWM) until stopped.
final class PeakSampler: Sendable {
    private let pid: Int32
    private let state = Mutex<(peak: Int, running: Bool)>((0, true))

    init(_ process: ChildProcess) {
        pid = process.pid
        Thread.detachNewThread { [self] in
            while state.withLock({ $0.running }) {
                let value = ChildProcess.peakResidentKiB(pid: pid)
                state.withLock { $0.peak = max($0.peak, value) }
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
    }

    var peakKiB: Int {
        let value = ChildProcess.peakResidentKiB(pid: pid)
        return state.withLock { max($0.peak, value) }
    }

    func stop() {
        state.withLock { $0.running = false }
    }
}
