import ArgumentParser
import Foundation
import StorePlatformProto
import StoreRPC
import Synchronization

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

    @Flag(help: "Also measure the reconciler's leader fail-over: three replicas, the leader killed (kill -9), then the next stopped (SIGTERM).")
    var failover = false

    @Option(help: "Reconcile interval for the fail-over run, seconds (the leader's lease lasts three).")
    var failoverInterval: Double = 1

    struct Figures {
        var replicas: Int
        var answered = Duration.zero
        var allReady = Duration.zero
        var ready = 0
        var failed = 0
        var daemonCPU = 0.0
        var databaseCPU = 0.0
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
            let failovers = failover
                ? try await measureFailover(server: server, daemonPath: daemonPath, scratch: scratch + "/failover") : []
            return (results, failovers, try await server.effectiveSettings())
        }
        report(results.0, settings: results.2)
        if !results.1.isEmpty { reportFailover(results.1) }
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
                "--data-dir", scratch + "/data-r\(index)", "--log-level", "warning",
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
            StorePlatformMethod.StoreService.watchStores, Storeplatform_V1_WatchStoresRequest()
        )
        try await Task.sleep(for: .milliseconds(300))  // let the watch subscribe
        let cpuBefore = Double(processes.map(\.cpuMicroseconds).reduce(0, +)) / 1e6
        let databaseBefore = server.serverPID.map(Self.treeCPUSeconds) ?? 0
        let outcome = try await CreateLoad.run(total: creates, inFlight: inFlight, clients: clients, watch: watch)
        for client in clients { await client.close() }
        var figures = Figures(replicas: count)
        figures.answered = outcome.answered
        figures.allReady = outcome.ended
        figures.ready = outcome.ready
        figures.failed = outcome.failed
        figures.daemonCPU = Double(processes.map(\.cpuMicroseconds).reduce(0, +)) / 1e6 - cpuBefore
        figures.databaseCPU = (server.serverPID.map(Self.treeCPUSeconds) ?? 0) - databaseBefore
        return figures
    }

    /// CPU seconds of process `root` and its children, live and reaped (PostgreSQL's
    /// postmaster and its backends), from /proc.
    static func treeCPUSeconds(_ root: Int32) -> Double {
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        // After the command name (1-based in proc(5)): ppid 4, utime 14, stime 15, cutime 16, cstime 17.
        var total = 0.0
        if let fields = ChildProcess.stat(root) { total += fields[11...14].compactMap { Double($0) }.reduce(0, +) }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(name), let fields = ChildProcess.stat(pid), Int32(fields[1]) == root else { continue }
            total += fields[11...12].compactMap { Double($0) }.reduce(0, +)
        }
        return total / ticks
    }

    /// One leader fail-over: how it ended the old leader, and how long until another led.
    struct Failover {
        var how: String
        var took: Duration
    }

    /// Three replicas reconciling every `failoverInterval`: the leader is killed
    /// (kill -9), and the time until another replica logs that it leads is taken;
    /// then that leader is stopped (SIGTERM: it resigns) and the time taken again.
    func measureFailover(server: BenchDatabaseServer, daemonPath: String, scratch: String) async throws -> [Failover] {
        try FileManager.default.createDirectory(atPath: scratch + "/data", withIntermediateDirectories: true)
        let (option, database) = try await server.freshDatabase(dataDir: scratch + "/data", prefix: "failover")
        await database.close()
        let leads = Mutex<[(replica: Int, at: ContinuousClock.Instant)]>([])
        var processes: [ChildProcess] = []
        defer { for process in processes { process.stop() } }
        for index in 0..<3 {
            let process = try ChildProcess(executable: daemonPath, arguments: [
                "--database", option ?? "", "--replica-id", "f\(index)", "--socket", scratch + "/f\(index).sock", "--tcp", "off",
                "--http", "off", "--data-dir", scratch + "/data-f\(index)", "--log-level", "notice", "--reconcile-interval", "\(failoverInterval)",
            ], readsStandardError: true)
            processes.append(process)
            nonisolated(unsafe) let reader = process  // read from this thread only
            Thread.detachNewThread {
                while let line = reader.readLine(until: { _ in true }) {
                    if line.contains("this replica leads the reconciler") {
                        let now = ContinuousClock.now
                        leads.withLock { $0.append((index, now)) }
                    } else if !line.contains(" notice ") {
                        FileHandle.standardError.write(Data("replica f\(index): \(line)\n".utf8))
                    }
                }
            }
        }
        func leaderAfter(_ instant: ContinuousClock.Instant, except gone: Set<Int>) async throws -> (replica: Int, at: ContinuousClock.Instant) {
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline {
                if let lead = leads.withLock({ $0.first { $0.at >= instant && !gone.contains($0.replica) } }) { return lead }
                try await Task.sleep(for: .milliseconds(5))
            }
            throw ValidationError("no replica led within 60 s")
        }
        let first = try await leaderAfter(.now - .seconds(3600), except: [])
        // Kill mid-way through an interval, not just after a renewal.
        try await Task.sleep(for: .seconds(failoverInterval * 1.5))
        let killed = ContinuousClock.now
        kill(processes[first.replica].pid, SIGKILL)
        let second = try await leaderAfter(killed, except: [first.replica])
        try await Task.sleep(for: .seconds(failoverInterval * 1.5))
        let stopped = ContinuousClock.now
        kill(processes[second.replica].pid, SIGTERM)
        let third = try await leaderAfter(stopped, except: [first.replica, second.replica])
        return [
            Failover(how: "kill -9 of the leader", took: second.at - killed),
            Failover(how: "SIGTERM of the leader (it resigns)", took: third.at - stopped),
        ]
    }

    func reportFailover(_ failovers: [Failover]) {
        print("")
        print("Leader fail-over: three replicas reconciling every \(failoverInterval) s (the leader's lease lasts "
            + "\(3 * failoverInterval) s, renewed every interval; followers try to lead every interval, and at once when the leader resigns). "
            + "Time from the leader's end "
            + "until another replica logs that it leads:")
        print("")
        print("| how the leader ended | another led after | bound (lease + one interval) |")
        print("|---|---:|---:|")
        for failover in failovers {
            print("| \(failover.how) | \(LifecycleBenchmark.format(failover.took)) | " + String(format: "%.1f s", 4 * failoverInterval) + " |")
        }
    }

    func report(_ results: [Figures], settings: String) {
        print("# storeplatform-bench replicas")
        print("")
        print("\(creates) creates (\(inFlight) in flight, spread over the replicas) until ready, on one PostgreSQL database (\(settings)).")
        print("Simulated cluster shared by the replicas (in the database; each has a --data-dir of its own): install \(delay) s + readiness \(delay) s per store,")
        print("\(provisionsPerReplica) provisions at once per replica. One WatchStores stream on the first replica counts every replica's stores.")
        if delay > 0 {
            print("The floor: one replica can provision at most \(provisionsPerReplica) / \(2 * delay) s = "
                + String(format: "%.1f", Double(provisionsPerReplica) / (2 * delay)) + " stores/s.")
        } else {
            print("No simulated delays: the work is CPU, the daemons' and PostgreSQL's, on this machine's "
                + "\(ProcessInfo.processInfo.activeProcessorCount) cores.")
        }
        print("")
        print("| replicas | all answered | all ready | ready; failed | stores/s | vs 1 replica | daemons' CPU | PostgreSQL's CPU | CPU ms per store |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        let base = results.first { $0.replicas == 1 }.map { Double($0.ready + $0.failed) / Self.seconds($0.allReady) }
        for figures in results {
            let rate = Double(figures.ready + figures.failed) / Self.seconds(figures.allReady)
            let speedup = base.map { String(format: "%.2f×", rate / $0) } ?? "–"
            print("| \(figures.replicas) | \(LifecycleBenchmark.format(figures.answered)) | \(LifecycleBenchmark.format(figures.allReady)) | "
                + "\(figures.ready); \(figures.failed) | " + String(format: "%.1f", rate) + " | \(speedup) | "
                + String(format: "%.1f s | %.1f s | %.1f |", figures.daemonCPU, figures.databaseCPU,
                    (figures.daemonCPU + figures.databaseCPU) * 1000 / Double(max(1, figures.ready + figures.failed))))
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
