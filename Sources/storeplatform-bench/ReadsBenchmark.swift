import ArgumentParser
import Foundation
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

    func run() async throws {
        let tool = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let daemonPath = daemon ?? tool.deletingLastPathComponent().appendingPathComponent("storeplatformd").path
        guard FileManager.default.isExecutableFile(atPath: loadClient) else {
            throw ValidationError("no load client at \(loadClient): run `make -C clients/c load` (scripts/bench reads does)")
        }
        let scratch = "/tmp/spbench-reads-\(getpid())"
        try FileManager.default.createDirectory(atPath: scratch + "/data", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let storeID = try await seed(scratch + "/data")

        let daemonProcess = try ChildProcess(executable: daemonPath, arguments: [
            "--socket", scratch + "/d.sock", "--tcp", "off", "--http", "off", "--data-dir", scratch + "/data",
            "--log-level", "warning", "--reconcile-interval", "3600",
            "--requests-per-minute", "1000000000", "--creates-per-minute", "1000000000",
        ])
        defer { daemonProcess.stop() }
        try RPCBenchmark.waitForSocket(.unix(path: scratch + "/d.sock"))
        let echo = try ChildProcess(executable: tool.path, arguments: ["echo-server", "--socket", scratch + "/echo.sock"])
        _ = echo.readLine { $0 == "ready" }
        defer { echo.stop() }
        try await Task.sleep(for: .seconds(1))

        print("# storeplatform-bench reads")
        print("")
        print("Daemon: \(daemonPath). \(stores) ready stores; GetStore of one of them; ListStores of \(pageSize) a page.")
        print("One connection on the Unix socket from the C load client; latency over \(latencyCalls) sequential calls,")
        print("rate with \(inFlight) calls in flight over \(seconds) s. CPU per call from /proc/PID/stat (10 ms ticks).")
        print("")
        print("| call | in flight | calls/s | p50 µs | p99 µs | daemon CPU µs/call | client CPU µs/call | p50 vs Health |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        let socket = scratch + "/d.sock"
        let rows: [(name: String, socket: String, pid: Int32, arguments: [String])] = [
            ("echo floor (Health bytes)", scratch + "/echo.sock", echo.pid, ["--call", "health", "--echo"]),
            ("Health", socket, daemonProcess.pid, ["--call", "health"]),
            ("GetStore", socket, daemonProcess.pid, ["--call", "get-store", "--store-id", storeID]),
            ("ListStores (\(pageSize))", socket, daemonProcess.pid, ["--call", "list-stores", "--page-size", String(pageSize)]),
        ]
        var healthP50: Double?
        var rates: [(String, LoadResult)] = []
        for row in rows {
            let base = ["--socket", row.socket, "--pid", String(row.pid)] + row.arguments
            let latency = try load(base + ["--calls", String(latencyCalls)])
            if row.name == "Health" { healthP50 = latency.p50 }
            let versus = row.socket == socket ? healthP50.flatMap { health in latency.p50.map { String(format: "%.2f×", $0 / health) } } ?? "–" : "–"
            Self.row(row.name, 1, latency, versus: versus)
            rates.append((row.name, try load(base + ["--in-flight", String(inFlight), "--seconds", String(seconds)])))
        }
        for (name, rate) in rates {
            Self.row(name, inFlight, rate, versus: "–")
        }
        print("")
        print("storeplatformd peak RSS: \(daemonProcess.peakResidentKiB / 1024) MiB.")
        var load = [Double](repeating: 0, count: 3)
        if getloadavg(&load, 3) == 3 {
            print(String(format: "Load average at the end: %.2f (1 min), %.2f (5 min).", load[0], load[1]))
        }
    }

    /// `stores` ready stores in the database and the simulated cluster (so the
    /// daemon's first reconcile pass finds nothing to correct); the id of the middle one.
    func seed(_ dataDir: String) async throws -> String {
        let database = try SQLiteStoreDatabase.open(path: dataDir + "/storeplatform.sqlite")
        let cluster = try SimulatedCluster(path: dataDir + "/simulated-cluster.sqlite", configuration: .instant)
        let now = Date()
        var seeded: [Store] = []
        for index in 0..<stores {
            var store = Store.queued(name: try StoreName.validate("read-\(index)"), engine: WooCommerceEngine(), now: now)
            store.status = .ready
            store.url = "http://read-\(index).stores.localhost"
            store.attempts = 1
            store.readyAt = now
            store.provisioningDurationMilliseconds = 1
            seeded.append(store)
        }
        try await database.importStores(seeded, actor: "bench")
        try cluster.seedInstalled(seeded.map { ($0.namespace, $0.id, $0.release) })
        await database.close()
        return seeded[stores / 2].id
    }

    struct LoadResult {
        var calls: Int
        var seconds: Double
        var p50: Double?
        var p99: Double?
        var serverCPU: Int
        var clientCPU: Int
    }

    /// Runs the C load client once and reads its one line of key=value pairs.
    func load(_ arguments: [String]) throws -> LoadResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: loadClient)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ValidationError("the load client failed (\(arguments.joined(separator: " "))); its error is above")
        }
        var values: [String: Double] = [:]
        for pair in text.split(whereSeparator: \.isWhitespace) {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2, let value = Double(parts[1]) { values[String(parts[0])] = value }
        }
        guard let calls = values["calls"], let seconds = values["seconds"], calls > 0 else {
            throw ValidationError("cannot read the load client's output: \(text)")
        }
        return LoadResult(
            calls: Int(calls), seconds: seconds, p50: values["p50_us"], p99: values["p99_us"],
            serverCPU: Int(values["server_cpu_us"] ?? 0), clientCPU: Int(values["client_cpu_us"] ?? 0)
        )
    }

    static func row(_ name: String, _ inFlight: Int, _ result: LoadResult, versus: String) {
        let p50 = result.p50.map { String(format: "%.1f", $0) } ?? "–"
        let p99 = result.p99.map { String(format: "%.1f", $0) } ?? "–"
        print(String(
            format: "| %@ | %d | %.0f | %@ | %@ | %.1f | %.1f | %@ |",
            name, inFlight, Double(result.calls) / result.seconds, p50, p99,
            Double(result.serverCPU) / Double(result.calls), Double(result.clientCPU) / Double(result.calls), versus
        ))
    }
}
