import ArgumentParser
import Foundation
import Logging
import PostgresStoreDatabase
import Provisioning
import RPCTestSupport
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

    @Option(help: """
        The store database: sqlite, postgresql (a throwaway server with PostgreSQL's durability defaults), \
        postgresql-nosync (fsync off, as in tests), both (sqlite,postgresql), or a comma-separated list, run in turn.
        """)
    var database: String = "sqlite"

    /// One backend's figures.
    struct Figures {
        var backend: BenchBackend
        var settings = ""
        var seeding = Duration.zero
        var reconcile: (median: Double, max: Double, listings: Int, corrections: Int, examined: Int) = (0, 0, 0, 0, 0)
        /// The pass's two reads alone, median of 5 each: the store rows, the cluster listing.
        var storeRead = 0.0
        var clusterListing = 0.0
        var startup: Duration?
        var startupRSS = 0
        var created = Duration.zero
        var allReady = Duration.zero
        var ready = 0
        var failed = 0
        var peakRSS = 0
    }

    func run() async throws {
        let backends = try BenchBackend.parse(database)
        let tool = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let daemonPath = daemon ?? tool.deletingLastPathComponent().appendingPathComponent("storeplatformd").path
        let scratch = "/tmp/spbench-lifecycle-\(getpid())"
        BenchCleanup.removeOnInterrupt(scratch)
        defer { try? FileManager.default.removeItem(atPath: scratch) }

        var results: [Figures] = []
        for backend in backends {
            let directory = scratch + "/" + backend.rawValue
            try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: directory + "/fresh/data", withIntermediateDirectories: true)
            results.append(try await BenchDatabaseServer.with(backend) { server in
                var figures = Figures(backend: backend)
                figures.settings = try await server.effectiveSettings()
                let option = try await seed(server, directory + "/data", &figures)
                try await reconcilePass(server, option, directory + "/data", &figures)
                try await startup(daemonPath, option, directory, &figures)
                try await createMany(server, daemonPath, directory + "/fresh", &figures)
                return figures
            })
        }
        report(results)
    }

    func report(_ results: [Figures]) {
        print("# storeplatform-bench lifecycle")
        print("")
        for figures in results { print("- \(figures.backend.rawValue): \(figures.settings)") }
        print("")
        print("| figure | " + results.map(\.backend.rawValue).joined(separator: " | ") + " |")
        print("|---|" + String(repeating: "---:|", count: results.count))
        func line(_ name: String, _ value: (Figures) -> String) {
            print("| \(name) | " + results.map(value).joined(separator: " | ") + " |")
        }
        line("seeding \(stores) ready stores") { Self.format($0.seeding) }
        line("reconcile pass over \(stores) stores: median / max of 5") {
            String(format: "%.1f / %.1f ms", $0.reconcile.median, $0.reconcile.max)
        }
        line("of which, timed alone (median of 5): reading the store rows / the cluster listing") {
            String(format: "%.1f / %.1f ms", $0.storeRead, $0.clusterListing)
        }
        line("cluster listings per pass; stores examined; corrections") {
            "\($0.reconcile.listings); \($0.reconcile.examined); \($0.reconcile.corrections)"
        }
        line("exec → first Health answer with \(stores) stores; RSS right after") {
            "\($0.startup.map(Self.format) ?? "did not start"); \($0.startupRSS / 1024) MiB"
        }
        line("\(creates) creates (\(inFlight) in flight): all answered / all ready or failed") {
            "\(Self.format($0.created)) / \(Self.format($0.allReady))"
        }
        line("ready; failed") { "\($0.ready); \($0.failed)" }
        line("daemon peak RSS during the creates") { "\($0.peakRSS / 1024) MiB" }
        print("")
        var load = [Double](repeating: 0, count: 3)
        if getloadavg(&load, 3) == 3 {
            print(String(format: "Load average at the end: %.2f (1 min), %.2f (5 min), %.2f (15 min).", load[0], load[1], load[2]))
        }
    }

    /// `stores` ready stores in a fresh database and the simulated cluster; the
    /// daemon's `--database` for it (`nil`: SQLite in `dataDir`).
    func seed(_ server: BenchDatabaseServer, _ dataDir: String, _ figures: inout Figures) async throws -> String? {
        let (option, database) = try await server.freshDatabase(dataDir: dataDir, prefix: "lifecycle")
        let started = ContinuousClock.now
        _ = try await database.seedReadyStores(stores, prefix: "bench", clusterPath: dataDir + "/simulated-cluster.sqlite")
        figures.seeding = ContinuousClock.now - started
        await database.close()
        return option
    }

    func reconcilePass(_ server: BenchDatabaseServer, _ option: String?, _ dataDir: String, _ figures: inout Figures) async throws {
        let database = try await server.open(option: option, dataDir: dataDir)
        let cluster = SimulatedCluster(
            state: try await simulatedClusterState(beside: database, sqlitePath: dataDir + "/simulated-cluster.sqlite"), configuration: .instant
        )
        let driver = CountingClusterDriver(cluster)
        let provisioner = Provisioner(
            database: database, driver: driver, events: StoreEventBus(), configuration: ProvisionerConfiguration(),
            logger: Logger(label: "bench")
        )
        let reconciler = Reconciler(provisioner: provisioner, configuration: .init(), logger: Logger(label: "bench"))
        // Listings after the warm-up pass's one.
        let listingsBefore = driver.listings + 1
        let (unsorted, corrections, examined) = try await provisioner.withRunning {
            _ = try await reconciler.reconcile()  // warm-up
            var durations: [Double] = []
            var corrections = 0
            var examined = 0
            for _ in 0..<5 {
                let report = try await reconciler.reconcile()
                durations.append(report.durationMilliseconds)
                corrections += report.corrections.count
                examined = report.storesExamined
            }
            return (durations, corrections, examined)
        }
        let durations = unsorted.sorted()
        figures.reconcile = (durations[2], durations[4], (driver.listings - listingsBefore) / 5, corrections, examined)
        // The phases of a pass, timed alone: where its time goes on each backend.
        func median(_ body: () async throws -> Void) async rethrows -> Double {
            var times: [Double] = []
            for _ in 0..<5 {
                let started = ContinuousClock.now
                try await body()
                let (seconds, attoseconds) = (ContinuousClock.now - started).components
                times.append(Double(seconds) * 1000 + Double(attoseconds) / 1e15)
            }
            return times.sorted()[2]
        }
        figures.storeRead = try await median { _ = try await database.stores(inStatuses: [.queued, .provisioning, .ready, .deleting]) }
        figures.clusterListing = try await median { _ = try await cluster.listManaged() }
        await database.close()
    }

    func startup(_ daemonPath: String, _ option: String?, _ scratch: String, _ figures: inout Figures) async throws {
        let socket = scratch + "/startup.sock"
        let started = ContinuousClock.now
        var arguments = ["--socket", socket, "--tcp", "off", "--data-dir", scratch + "/data", "--log-level", "warning", "--http", "off"]
        if let option { arguments += ["--database", option] }
        let process = try ChildProcess(executable: daemonPath, arguments: arguments)
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
        figures.startupRSS = process.residentKiB
        figures.startup = serving
        process.stop()
    }

    func createMany(_ server: BenchDatabaseServer, _ daemonPath: String, _ scratch: String, _ figures: inout Figures) async throws {
        let socket = scratch + "/d.sock"
        let (option, database) = try await server.freshDatabase(dataDir: scratch + "/data", prefix: "creates")
        await database.close()
        var arguments = [
            "--socket", socket, "--tcp", "off", "--data-dir", scratch + "/data", "--log-level", "warning", "--http", "off",
            "--sim-install-delay", "0", "--sim-ready-delay", "0", "--readiness-poll-ms", "1",
            "--max-live-stores", "1000000", "--requests-per-minute", "100000000", "--creates-per-minute", "100000000",
            "--max-concurrent-provisions", "64",
        ]
        if let option { arguments += ["--database", option] }
        let process = try ChildProcess(executable: daemonPath, arguments: arguments)
        try RPCBenchmark.waitForSocket(.unix(path: socket))
        let client = try await RPCClient.connect(to: .unix(path: socket))
        let watch = try client.serverStream(
            StorePlatformMethod.StoreService.watchStores, Storeplatform_V1_WatchStoresRequest()
        )
        try await Task.sleep(for: .milliseconds(200))  // let the watch subscribe
        let peak = PeakSampler(process)
        let outcome = try await CreateLoad.run(total: creates, inFlight: inFlight, clients: [client], watch: watch)
        peak.stop()
        await client.close()
        process.stop()
        figures.created = outcome.answered
        figures.allReady = outcome.ended
        figures.ready = outcome.ready
        figures.failed = outcome.failed
        figures.peakRSS = peak.peakKiB
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
