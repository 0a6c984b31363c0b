import ArgumentParser
import Foundation
import StorePlatformProto
import StoreRPC

/// Creates to ready through 1, 2 and 3 replicas on one PostgreSQL database: does
/// adding replicas add provisioning throughput? Each replica provisions at most
/// `--max-concurrent-provisions` stores at once against a simulated cluster with
/// fixed install and readiness delays, so the cluster's pace (not this machine's
/// CPU) bounds each replica, as a real cluster's does.
struct ReplicasBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replicas",
        abstract: "N creates until ready through 1, 2 and 3 replicas on one PostgreSQL database."
    )

    @Option(help: "The storeplatformd to measure (default: the one beside this tool).")
    var daemon: String?

    @Option(help: "Stores created in each run.")
    var creates: Int = 200

    @Option(help: "Replica counts to run, comma-separated.")
    var replicas: String = "1,2,3"

    @Option(help: "Simulated install and readiness delays, seconds each.")
    var delay: Double = 0.5

    @Option(help: "Provisions at once per replica.")
    var provisionsPerReplica: Int = 4

    @Option(help: "Creates in flight at once (spread over the replicas).")
    var inFlight: Int = 16

    struct Figures {
        var replicas: Int
        var answered = Duration.zero
        var allReady = Duration.zero
        var ready = 0
        var failed = 0
        var daemonCPU = 0.0
    }

    func run() async throws {
        let counts = replicas.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !counts.isEmpty, counts.allSatisfy({ $0 >= 1 }) else { throw ValidationError("--replicas takes counts of 1 or more, such as 1,2,3") }
        let tool = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let daemonPath = daemon ?? tool.deletingLastPathComponent().appendingPathComponent("storeplatformd").path
        let scratch = "/tmp/spbench-replicas-\(getpid())"
        BenchCleanup.removeOnInterrupt(scratch)
        defer { try? FileManager.default.removeItem(atPath: scratch) }

        let results = try await BenchDatabaseServer.with(.postgresql) { server in
            var results: [Figures] = []
            for count in counts {
                results.append(try await measure(count, server: server, daemonPath: daemonPath, scratch: scratch + "/\(count)"))
            }
            return (results, try await server.effectiveSettings())
        }
        report(results.0, settings: results.1)
    }

    func measure(_ count: Int, server: BenchDatabaseServer, daemonPath: String, scratch: String) async throws -> Figures {
        try FileManager.default.createDirectory(atPath: scratch + "/data", withIntermediateDirectories: true)
        let (option, database) = try await server.freshDatabase(dataDir: scratch + "/data", prefix: "replicas")
        await database.close()
        var processes: [ChildProcess] = []
        var sockets: [String] = []
        defer { for process in processes { process.stop() } }
        for index in 1...count {
            let socket = scratch + "/r\(index).sock"
            processes.append(try ChildProcess(executable: daemonPath, arguments: [
                "--database", option ?? "", "--replica-id", "r\(index)", "--socket", socket, "--tcp", "off", "--http", "off",
                "--data-dir", scratch + "/data", "--log-level", "warning",
                "--sim-install-delay", "\(delay)", "--sim-ready-delay", "\(delay)", "--readiness-poll-ms", "50",
                "--max-concurrent-provisions", "\(provisionsPerReplica)", "--reconcile-interval", "3600",
                "--max-live-stores", "1000000", "--requests-per-minute", "100000000", "--creates-per-minute", "100000000",
            ]))
            try RPCBenchmark.waitForSocket(.unix(path: socket))
            sockets.append(socket)
        }
        var clients: [RPCClient] = []
        for socket in sockets { clients.append(try await RPCClient.connect(to: .unix(path: socket))) }
        // One watch on the first replica sees every replica's transitions.
        let watch = try clients[0].serverStream(
            StorePlatformMethod.StoreService.watchStores, Storeplatform_V1_WatchStoresRequest(), as: Storeplatform_V1_StoreEvent.self
        )
        try await Task.sleep(for: .milliseconds(300))  // let the watch subscribe
        let cpuBefore = Double(processes.map(\.cpuMicroseconds).reduce(0, +)) / 1e6
        let outcome = try await CreateLoad.run(total: creates, inFlight: inFlight, clients: clients, watch: watch)
        for client in clients { await client.close() }
        var figures = Figures(replicas: count)
        figures.answered = outcome.answered
        figures.allReady = outcome.ended
        figures.ready = outcome.ready
        figures.failed = outcome.failed
        figures.daemonCPU = Double(processes.map(\.cpuMicroseconds).reduce(0, +)) / 1e6 - cpuBefore
        return figures
    }

    func report(_ results: [Figures], settings: String) {
        print("# storeplatform-bench replicas")
        print("")
        print("\(creates) creates (\(inFlight) in flight, spread over the replicas) until ready, on one PostgreSQL database (\(settings)).")
        print("Simulated cluster shared by the replicas (one --data-dir): install \(delay) s + readiness \(delay) s per store,")
        print("\(provisionsPerReplica) provisions at once per replica. One WatchStores stream on the first replica counts every replica's stores.")
        print("The floor: one replica can provision at most \(provisionsPerReplica) / \(2 * delay) s = "
            + String(format: "%.1f", Double(provisionsPerReplica) / (2 * delay)) + " stores/s.")
        print("")
        print("| replicas | all answered | all ready | ready; failed | stores/s | vs 1 replica | daemons' CPU |")
        print("|---:|---:|---:|---:|---:|---:|---:|")
        let base = results.first { $0.replicas == 1 }.map { Double($0.ready + $0.failed) / Self.seconds($0.allReady) }
        for figures in results {
            let rate = Double(figures.ready + figures.failed) / Self.seconds(figures.allReady)
            let speedup = base.map { String(format: "%.2f×", rate / $0) } ?? "–"
            print("| \(figures.replicas) | \(LifecycleBenchmark.format(figures.answered)) | \(LifecycleBenchmark.format(figures.allReady)) | "
                + "\(figures.ready); \(figures.failed) | " + String(format: "%.1f", rate) + " | \(speedup) | "
                + String(format: "%.1f s", figures.daemonCPU) + " |")
        }
        print("")
        var load = [Double](repeating: 0, count: 3)
        if getloadavg(&load, 3) == 3 {
            print(String(format: "Load average at the end: %.2f (1 min), %.2f (5 min), %.2f (15 min).", load[0], load[1], load[2]))
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
