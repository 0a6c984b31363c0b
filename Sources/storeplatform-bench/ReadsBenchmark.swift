import ArgumentParser
import Foundation
import PostgresStoreDatabase
import Provisioning
import StoreCore
import StoreDatabase

/// What a read costs the daemon, measured from outside: Health, GetStore and
/// ListStores (one page) over the Unix socket, driven by the C load client
/// (clients/c/tools/storeplatform-load.c), next to the same client against an
/// echo of Health's bytes (the client's own ceiling).
struct ReadsBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reads",
        abstract: "Health, GetStore and ListStores over the Unix socket from the C load client: latency, rate and daemon CPU per call."
    )

    @Option(help: "The storeplatformd to measure (default: the one beside this tool).")
    var daemon: String?

    @Option(help: "The C load client (built by `make -C clients/c load`).")
    var loadClient: String = "clients/c/build/storeplatform-load"

    @Option(help: "Ready stores seeded in the database.")
    var stores: Int = 1000

    @Option(help: "Stores per ListStores page.")
    var pageSize: Int = 10

    @Option(help: "Calls timed one at a time for each latency row.")
    var latencyCalls: Int = 20_000

    @Option(help: "Calls outstanding on the one connection for the rate rows.")
    var inFlight: Int = 64

    @Option(help: "Seconds of measurement per rate row.")
    var seconds: Double = 3

    @Option(help: "CreateStore calls timed one at a time (each creates a store, provisioned behind it).")
    var createCalls: Int = 2000

    @Option(help: """
        The store database: sqlite, postgresql (a throwaway server with PostgreSQL's durability defaults), \
        postgresql-nosync (fsync off, as in tests), both (sqlite,postgresql), or a comma-separated list, run in turn.
        """)
    var database: String = "sqlite"

    @Option(help: """
        How the daemon counts rate limits (lifted to 10^9 a minute, so every call is counted and admitted): local \
        (each replica its own buckets), shared (every call also takes its tokens from the database's shared buckets: \
        what several replicas need), or both, measured in turn on each database.
        """)
    var rateLimits: String = "local"

    func run() async throws {
        let backends = try BenchBackend.parse(database)
        let modes: [String]
        switch rateLimits {
        case "local", "shared": modes = [rateLimits]
        case "both": modes = ["local", "shared"]
        default: throw ValidationError("--rate-limits must be local, shared or both; got \(rateLimits.debugDescription)")
        }
        let tool = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let daemonPath = daemon ?? tool.deletingLastPathComponent().appendingPathComponent("storeplatformd").path
        _ = try CLoadClient(path: loadClient)
        let scratch = "/tmp/spbench-reads-\(getpid())"
        BenchCleanup.removeOnInterrupt(scratch)
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }

        let echo = try ChildProcess(executable: tool.path, arguments: ["echo-server", "--socket", scratch + "/echo.sock"])
        _ = echo.readLine { $0 == "ready" }
        defer { echo.stop() }
        let echoBase = ["--socket", scratch + "/echo.sock", "--pid", String(echo.pid), "--call", "health", "--echo"]
        let floor = Row(
            call: "echo floor (Health bytes)", backend: nil,
            latency: try load(echoBase + ["--calls", String(latencyCalls)]),
            rate: try load(echoBase + ["--in-flight", String(inFlight), "--seconds", String(seconds)])
        )

        var rows: [Row] = []
        var notes: [String] = []
        for backend in backends {
            for mode in modes {
                let (backendRows, note) = try await BenchDatabaseServer.with(backend) { server in
                    try await measure(server, daemonPath: daemonPath, scratch: scratch + "/\(backend.rawValue)-\(mode)", rateLimits: mode)
                }
                rows += backendRows
                notes.append(note)
            }
        }

        print("# storeplatform-bench reads")
        print("")
        print("Daemon: \(daemonPath). \(stores) ready stores; GetStore of one of them; ListStores of \(pageSize) a page;")
        print("CreateStore of a new name each call (zero simulated delays, limits lifted: each store is provisioned to ready")
        print("behind its answer, up to 64 at once). Rate limits: \(modes.joined(separator: ", then ")) (the database column says \"shared limits\"")
        print("when every call also took its tokens from the database's shared buckets). One connection on the Unix socket from the C load")
        print("client; latency over")
        print("\(latencyCalls) sequential calls (CreateStore: \(createCalls)), rate with \(inFlight) calls in flight over \(seconds) s.")
        print("CPU per call from /proc/PID/stat (10 ms ticks); \"database CPU\" is the PostgreSQL server's processes")
        print("(SQLite runs inside the daemon, so its share is in the daemon's column).")
        print("")
        for note in notes { print("- \(note)") }
        print("")
        print("| call | in flight | database | calls/s | p50 µs | p99 µs | daemon CPU µs/call | database CPU µs/call | client CPU µs/call | p50 vs Health |")
        print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
        Self.row(floor, 1, floor.latency, versus: nil)
        Self.row(floor, inFlight, floor.rate, versus: nil)
        var order: [String] = []
        for row in rows where !order.contains(row.call) { order.append(row.call) }
        for inFlightRow in [1, inFlight] {
            for call in order {
                for row in rows where row.call == call {
                    let health = rows.first { $0.call == "Health" && $0.backend == row.backend && $0.rateLimits == row.rateLimits }?.latency.p50
                    Self.row(row, inFlightRow, inFlightRow == 1 ? row.latency : row.rate, versus: inFlightRow == 1 ? health : nil)
                }
            }
        }
        print("")
        var load = [Double](repeating: 0, count: 3)
        if getloadavg(&load, 3) == 3 {
            print(String(format: "Load average at the end: %.2f (1 min), %.2f (5 min), %.2f (15 min).", load[0], load[1], load[2]))
        }
    }

    struct Row {
        var call: String
        var backend: BenchBackend?
        /// local or shared (``rateLimits``).
        var rateLimits = "local"
        var latency: LoadResult
        var rate: LoadResult
    }

    /// Every row on one backend: a fresh database seeded with `stores` stores, a daemon on it.
    func measure(_ server: BenchDatabaseServer, daemonPath: String, scratch: String, rateLimits: String) async throws -> ([Row], String) {
        try FileManager.default.createDirectory(atPath: scratch + "/data", withIntermediateDirectories: true)
        let (option, storeID) = try await seed(server, dataDir: scratch + "/data")
        var arguments = [
            "--socket", scratch + "/d.sock", "--tcp", "off", "--http", "off", "--data-dir", scratch + "/data",
            "--log-level", "warning", "--reconcile-interval", "3600",
            "--requests-per-minute", "1000000000", "--creates-per-minute", "1000000000", "--max-live-stores", "1000000000",
            "--sim-install-delay", "0", "--sim-ready-delay", "0", "--readiness-poll-ms", "1", "--max-concurrent-provisions", "64",
            "--shared-rate-limits", rateLimits == "shared" ? "on" : "off",
        ]
        if let option { arguments += ["--database", option] }
        let daemonProcess = try ChildProcess(executable: daemonPath, arguments: arguments)
        defer { daemonProcess.stop() }
        try RPCBenchmark.waitForSocket(.unix(path: scratch + "/d.sock"))
        try await Task.sleep(for: .seconds(1))

        var base = ["--socket", scratch + "/d.sock", "--pid", String(daemonProcess.pid)]
        if let pid = server.serverPID { base += ["--tree-pid", String(pid)] }
        let calls: [(name: String, arguments: [String])] = [
            ("Health", ["--call", "health"]),
            ("GetStore", ["--call", "get-store", "--store-id", storeID]),
            ("ListStores (\(pageSize))", ["--call", "list-stores", "--page-size", String(pageSize)]),
        ]
        var latencies: [LoadResult] = []
        for call in calls {
            latencies.append(try load(base + call.arguments + ["--calls", String(latencyCalls)]))
        }
        var rows: [Row] = []
        for (index, call) in calls.enumerated() {
            let rate = try load(base + call.arguments + ["--in-flight", String(inFlight), "--seconds", String(seconds)])
            rows.append(Row(call: call.name, backend: server.backend, rateLimits: rateLimits, latency: latencies[index], rate: rate))
        }
        // Last, as they leave stores behind: each create's provisioning runs on after its answer.
        let createLatency = try load(base + ["--call", "create-store", "--name-prefix", "one", "--calls", String(createCalls)])
        try await Self.waitUntilIdle(daemonProcess)
        let createRate = try load(
            base + ["--call", "create-store", "--name-prefix", "many", "--in-flight", String(inFlight), "--seconds", String(seconds)]
        )
        rows.append(Row(call: "CreateStore", backend: server.backend, rateLimits: rateLimits, latency: createLatency, rate: createRate))
        try await Self.waitUntilIdle(daemonProcess)
        let note = "\(server.backend.rawValue), \(rateLimits) rate limits: \(try await server.effectiveSettings()); daemon peak RSS \(daemonProcess.peakResidentKiB / 1024) MiB"
        return (rows, note)
    }

    /// Waits until the daemon has used less than 2 % of a core for half a second (the
    /// provisioning behind the creates is over), at most a minute.
    static func waitUntilIdle(_ process: ChildProcess) async throws {
        let started = ContinuousClock.now
        var before = process.cpuMicroseconds
        while ContinuousClock.now - started < .seconds(60) {
            try await Task.sleep(for: .milliseconds(500))
            let now = process.cpuMicroseconds
            if now - before < 10_000 { return }
            before = now
        }
    }

    /// `stores` ready stores in a fresh database and the simulated cluster (so the
    /// daemon's first reconcile pass finds nothing to correct); the daemon's
    /// `--database` (`nil`: SQLite in `dataDir`) and the id of the middle store.
    func seed(_ server: BenchDatabaseServer, dataDir: String) async throws -> (String?, String) {
        let (option, database) = try await server.freshDatabase(dataDir: dataDir, prefix: "reads")
        let seeded = try await database.seedReadyStores(stores, prefix: "read", clusterPath: dataDir + "/simulated-cluster.sqlite")
        await database.close()
        return (option, seeded[stores / 2].id)
    }

    typealias LoadResult = CLoadClient.Result

    /// Runs the C load client once.
    func load(_ arguments: [String]) throws -> LoadResult {
        try CLoadClient(path: loadClient).run(arguments)
    }

    static func row(_ row: Row, _ inFlight: Int, _ result: LoadResult, versus healthP50: Double?) {
        let p50 = result.p50.map { String(format: "%.1f", $0) } ?? "–"
        let p99 = result.p99.map { String(format: "%.1f", $0) } ?? "–"
        let versus = healthP50.flatMap { health in result.p50.map { String(format: "%.2f×", $0 / health) } } ?? "–"
        let calls = Double(result.calls)
        let databaseCPU = row.backend.map { $0 == .sqlite ? "in daemon" : String(format: "%.1f", Double(result.treeCPU) / calls) } ?? "–"
        print(String(
            format: "| %@ | %d | %@ | %.0f | %@ | %@ | %.1f | %@ | %.1f | %@ |",
            row.call, inFlight, row.backend.map { $0.rawValue + (row.rateLimits == "shared" ? ", shared limits" : "") } ?? "–", calls / result.seconds, p50, p99,
            Double(result.serverCPU) / calls, databaseCPU, Double(result.clientCPU) / calls, versus
        ))
    }
}
