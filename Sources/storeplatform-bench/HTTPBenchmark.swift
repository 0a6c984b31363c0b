import ArgumentParser
import Foundation
import ProcessTestSupport
import RPCTestSupport
import StoreCore
import StoreDatabase
import StoreRPC

/// The gateway under wrk next to a plain Node.js http server answering the same
/// health JSON, both pinned to one core and wrk to the other.
struct HTTPBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "http",
        abstract: "wrk against GET /api/health and GET /api/stores (100 stores), next to Node.js on the same pinning."
    )

    @Option(help: "The storeplatformd to measure (default: the one beside this tool).")
    var daemon: String?

    @Option(help: "Seconds per wrk run.")
    var seconds: Int = 10

    @Option(help: "Open connections per wrk run.")
    var connections: Int = 64

    @Option(help: "Core for the servers; wrk gets the other one.")
    var serverCore: Int = 0

    func run() async throws {
        for tool in ["wrk", "node", "taskset"] where !Self.onPath(tool) {
            throw ValidationError("\(tool) is not installed (apt-get install wrk nodejs util-linux)")
        }
        let tool = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let daemonPath = daemon ?? tool.deletingLastPathComponent().appendingPathComponent("storeplatformd").path
        let scratch = "/tmp/spbench-http-\(getpid())"
        try FileManager.default.createDirectory(atPath: scratch + "/data", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }

        try await Self.seedStores(path: scratch + "/data/storeplatform.sqlite")

        let daemonPort = try freeLoopbackPort()
        let nodePort = try freeLoopbackPort()
        let core = String(serverCore)
        let gateway = try ChildProcess(executable: "/usr/bin/taskset", arguments: [
            "-c", core, daemonPath, "--socket", scratch + "/d.sock", "--tcp", "off", "--http", "127.0.0.1:\(daemonPort)",
            "--data-dir", scratch + "/data", "--log-level", "warning", "--reconcile-interval", "3600",
            "--requests-per-minute", "1000000000", "--creates-per-minute", "1000000000",
        ])
        try Self.waitForHTTP(port: daemonPort, path: "/api/health")
        let health = try Self.get(port: daemonPort, path: "/api/health")
        let script = """
            const http = require('http');
            const body = JSON.stringify(\(health));
            http.createServer((req, res) => {
              res.writeHead(200, {'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body)});
              res.end(body);
            }).listen(\(nodePort), '127.0.0.1');
            """
        try script.write(toFile: scratch + "/server.js", atomically: true, encoding: .utf8)
        let node = try ChildProcess(executable: "/usr/bin/taskset", arguments: ["-c", core, "/usr/bin/node", scratch + "/server.js"])
        try Self.waitForHTTP(port: nodePort, path: "/")
        let clientCore = serverCore == 0 ? "1" : "0"

        print("# storeplatform-bench http")
        print("")
        print("wrk -t1 -c\(connections) -d\(seconds)s --latency, pinned to core \(clientCore); servers pinned to core \(serverCore). Rate limits lifted; 100 stores in the database.")
        print("")
        print("| target | requests/s | p50 ms | p99 ms | vs Node |")
        print("|---|---:|---:|---:|---:|")
        let nodeResult = try wrk(port: nodePort, path: "/", core: clientCore)
        let healthResult = try wrk(port: daemonPort, path: "/api/health", core: clientCore)
        let storesResult = try wrk(port: daemonPort, path: "/api/stores?page_size=100", core: clientCore)
        Self.row("node http, same health JSON", nodeResult, versus: nil)
        Self.row("gateway GET /api/health", healthResult, versus: nodeResult)
        Self.row("gateway GET /api/stores (100 stores)", storesResult, versus: nodeResult)
        print("")
        gateway.stop()
        node.stop()
    }

    /// 100 ready stores (web-0 … web-99) for GET /api/stores, in a new SQLite database.
    static func seedStores(path: String) async throws {
        let database = try SQLiteStoreDatabase.open(path: path)
        let now = Date()
        try await database.importStores(
            (0..<100).map { index in
                var store = Store.queued(name: try! StoreName.validate("web-\(index)"), engine: WooCommerceEngine(), now: now)
                store.status = .ready
                store.url = "http://web-\(index).stores.localhost"
                return store
            },
            actor: "bench"
        )
    }

    struct WrkResult {
        var rate: Double
        var p50: Double
        var p99: Double
        /// Requests answered in the run.
        var requests: Int
        /// wrk's own user and system CPU time over the run, in microseconds.
        var clientCPUMicroseconds: Int
    }

    func wrk(port: Int, path: String, core: String) throws -> WrkResult {
        try Self.wrk(port: port, path: path, core: core, connections: connections, seconds: seconds)
    }

    /// One wrk run (one thread) pinned to `core`, with `headers` on every request.
    static func wrk(port: Int, path: String, core: String, connections: Int, seconds: Int, headers: [String] = []) throws -> WrkResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/taskset")
        process.arguments = ["-c", core, "wrk", "-t1", "-c\(connections)", "-d\(seconds)s", "--latency"]
            + headers.flatMap { ["-H", $0] } + ["http://127.0.0.1:\(port)\(path)"]
        let output = Pipe()
        process.standardOutput = output
        let cpuBefore = childrenCPUMicroseconds()
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let clientCPU = childrenCPUMicroseconds() - cpuBefore
        func number(after label: String) -> Double? {
            guard let line = text.split(separator: "\n").first(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix(label) }) else { return nil }
            let fields = line.split(whereSeparator: \.isWhitespace)
            return fields.count > 1 ? Self.milliseconds(String(fields[1])) : nil
        }
        guard let rateLine = text.split(separator: "\n").first(where: { $0.hasPrefix("Requests/sec:") }),
            let rate = Double(rateLine.split(whereSeparator: \.isWhitespace).last ?? ""),
            let p50 = number(after: "50%"), let p99 = number(after: "99%"),
            let requestsLine = text.split(separator: "\n").first(where: { $0.contains(" requests in ") }),
            let requests = Int(requestsLine.split(whereSeparator: \.isWhitespace).first ?? "")
        else {
            throw ValidationError("cannot read wrk's output:\n\(text)")
        }
        if text.contains("Non-2xx") {
            throw ValidationError("wrk saw non-2xx answers from \(path):\n\(text)")
        }
        return WrkResult(rate: rate, p50: p50, p99: p99, requests: requests, clientCPUMicroseconds: clientCPU)
    }

    /// User plus system CPU of the children waited for so far (wrk, once it has exited).
    static func childrenCPUMicroseconds() -> Int {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_CHILDREN.rawValue), &usage)
        func micro(_ time: timeval) -> Int { Int(time.tv_sec) * 1_000_000 + Int(time.tv_usec) }
        return micro(usage.ru_utime) + micro(usage.ru_stime)
    }

    /// wrk prints "812.00us", "1.23ms" or "2.00s".
    static func milliseconds(_ text: String) -> Double? {
        if text.hasSuffix("us"), let value = Double(text.dropLast(2)) { return value / 1000 }
        if text.hasSuffix("ms"), let value = Double(text.dropLast(2)) { return value }
        if text.hasSuffix("s"), let value = Double(text.dropLast(1)) { return value * 1000 }
        return nil
    }

    static func row(_ name: String, _ result: WrkResult, versus node: WrkResult?) {
        let versus = node.map { String(format: "%.2f× rate, p99 %.2f×", result.rate / $0.rate, result.p99 / $0.p99) } ?? "1.00×"
        print(String(format: "| %@ | %.0f | %.2f | %.2f | %@ |", name, result.rate, result.p50, result.p99, versus))
    }

    static func onPath(_ name: String) -> Bool {
        (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").contains {
            FileManager.default.isExecutableFile(atPath: "\($0)/\(name)")
        }
    }

    /// The body of a GET, through curl (a bench-only dependency, like wrk).
    static func get(port: Int, path: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["curl", "-sf", "--max-time", "2", "http://127.0.0.1:\(port)\(path)"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let body = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ValidationError("GET \(path) on port \(port) failed") }
        return body
    }

    static func waitForHTTP(port: Int, path: String) throws {
        for _ in 0..<300 {
            if (try? get(port: port, path: path)) != nil { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw ValidationError("nothing answered HTTP on port \(port)")
    }
}
