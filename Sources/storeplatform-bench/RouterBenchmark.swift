import ArgumentParser
import Foundation

/// The gateway's own routing (Route, its CORS and metrics code, StaticFiles) against
/// Hummingbird's Router over the same handlers (``HummingbirdRouting``), once with
/// Hummingbird's `CORSMiddleware`, `MetricsMiddleware` and `FileMiddleware` and once
/// with the Router and `FileMiddleware` alone: three ``GatewayServer``s on copies of
/// one database, all pinned to one core, wrk on the other, measured in turn on each
/// route, round after round, next to wrk's ceiling (a server that answers every
/// request with one fixed 200). BENCHMARKS.md, "Hand-written routing against
/// Hummingbird's Router".
struct RouterBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "router",
        abstract: "wrk against the gateway's own routing and Hummingbird's Router, alternating, next to wrk's ceiling."
    )

    @Option(help: "Seconds per wrk run.")
    var seconds: Int = 5

    @Option(help: "Rounds; each measures every route once on both, in alternating order.")
    var rounds: Int = 3

    @Option(help: "Open connections per wrk run.")
    var connections: Int = 64

    @Option(help: "Core for the servers; wrk gets the other one.")
    var serverCore: Int = 0

    @Option(help: "The dashboard's files, for the static-file route.")
    var dashboardDir = "clients/dashboard"

    /// The gateway's own routing; Hummingbird's Router with its CORS, metrics and file
    /// middlewares; the Router and files alone, with the gateway's own CORS and metrics
    /// code (so the two Router rows split the cost by piece).
    static let variants = GatewayRouting.allCases.map(\.rawValue)

    /// Sent on every request, so both sides run their CORS code on every answer.
    static let origin = "http://dashboard.example"

    struct Target {
        let name: String
        let path: String
    }

    static let targets = [
        Target(name: "GET /api/health", path: "/api/health"),
        Target(name: "GET /api/versions", path: "/api/versions"),
        Target(name: "GET /api/stores (100)", path: "/api/stores?page_size=100"),
        Target(name: "GET /index.html", path: "/index.html"),
    ]

    func validate() throws {
        guard seconds > 0, rounds > 0, connections > 0 else { throw ValidationError("--seconds, --rounds and --connections must be positive") }
        guard serverCore == 0 || serverCore == 1 else { throw ValidationError("--server-core is 0 or 1; wrk gets the other") }
    }

    func run() async throws {
        for tool in ["wrk", "taskset", "curl"] where !HTTPBenchmark.onPath(tool) {
            throw ValidationError("\(tool) is not installed (apt-get install wrk util-linux curl)")
        }
        guard FileManager.default.fileExists(atPath: dashboardDir + "/index.html") else {
            throw ValidationError("no index.html in \(dashboardDir); run from the repository or pass --dashboard-dir")
        }
        BenchCleanup.installSignalHandlers()
        let tool = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let scratch = "/tmp/spbench-router-\(getpid())"
        BenchCleanup.removeOnInterrupt(scratch)
        defer { try? FileManager.default.removeItem(atPath: scratch) }

        // One database, copied, so the servers answer the same stores with the same ids.
        for variant in Self.variants {
            try FileManager.default.createDirectory(atPath: "\(scratch)/\(variant)", withIntermediateDirectories: true)
        }
        try await HTTPBenchmark.seedStores(path: scratch + "/hand-written/storeplatform.sqlite")
        // With its write-ahead log, where the seeded rows may still be.
        for file in try FileManager.default.contentsOfDirectory(atPath: scratch + "/hand-written") {
            for variant in Self.variants.dropFirst() {
                try FileManager.default.copyItem(atPath: "\(scratch)/hand-written/\(file)", toPath: "\(scratch)/\(variant)/\(file)")
            }
        }
        let core = String(serverCore)
        let clientCore = serverCore == 0 ? "1" : "0"
        var servers: [(name: String, port: Int, process: ChildProcess)] = []
        defer { for server in servers { server.process.stop() } }
        for variant in Self.variants {
            let process = try ChildProcess(executable: "/usr/bin/taskset", arguments: [
                "-c", core, tool.path, "gateway-server", "--routing", variant, "--cors-origin", Self.origin,
                "--dashboard-dir", dashboardDir, "--data-dir", "\(scratch)/\(variant)",
            ])
            guard let port = process.readPort() else {
                throw ValidationError("the \(variant) gateway server did not start")
            }
            servers.append((variant, port, process))
            try HTTPBenchmark.waitForHTTP(port: port, path: "/api/health")
        }
        let canned = try ChildProcess(executable: "/usr/bin/taskset", arguments: ["-c", core, tool.path, "canned-http-server"])
        defer { canned.stop() }
        guard let cannedPort = canned.readPort() else {
            throw ValidationError("the canned server did not start")
        }
        for server in servers.dropFirst() { try Self.checkSameAnswers(hand: servers[0].port, router: server.port) }

        print("# storeplatform-bench router")
        print("")
        print(
            "wrk -t1 -c\(connections) -d\(seconds)s --latency -H 'Origin: \(Self.origin)', pinned to core \(clientCore); "
                + "the gateway servers and the canned server pinned to core \(serverCore). Rate limits lifted; 100 stores; "
                + "\(rounds) rounds, the routings in turn (in reverse order in even rounds)."
        )
        print("")
        print("| round | target | routing | requests/s | p50 ms | p99 ms | server µs CPU/req | wrk µs CPU/req |")
        print("|---:|---|---|---:|---:|---:|---:|---:|")
        var rates: [String: [Double]] = [:]
        var cpus: [String: [Double]] = [:]
        for round in 1...rounds {
            let ceiling = try measure(port: cannedPort, path: "/", process: canned, clientCore: clientCore)
            Self.row(round, "wrk's ceiling (fixed 200)", "-", ceiling)
            for target in Self.targets {
                let order = round % 2 == 1 ? servers : Array(servers.reversed())
                for server in order {
                    let result = try measure(port: server.port, path: target.path, process: server.process, clientCore: clientCore)
                    Self.row(round, target.name, server.name, result)
                    rates["\(target.name)|\(server.name)", default: []].append(result.wrk.rate)
                    cpus["\(target.name)|\(server.name)", default: []].append(result.cpuPerRequest)
                }
            }
        }
        print("")
        print("| target | routing | req/s (median) | vs hand-written, per round | server µs CPU/req (median) |")
        print("|---|---|---:|---|---:|")
        for target in Self.targets {
            let hand = rates["\(target.name)|hand-written"] ?? []
            for variant in Self.variants {
                let mine = rates["\(target.name)|\(variant)"] ?? []
                let ratios = zip(mine, hand).map { String(format: "%.3f", $0 / $1) }.joined(separator: ", ")
                let cpu = Self.median(cpus["\(target.name)|\(variant)"] ?? [])
                print(String(format: "| %@ | %@ | %.0f | %@ | %.1f |", target.name, variant, Self.median(mine), ratios, cpu))
            }
        }
        print("")
        var load = [Double](repeating: 0, count: 3)
        if getloadavg(&load, 3) == 3 {
            print(String(format: "Load average at the end: %.2f (1 min), %.2f (5 min), %.2f (15 min).", load[0], load[1], load[2]))
        }
    }

    struct Measurement {
        var wrk: HTTPBenchmark.WrkResult
        /// The server's user and system CPU over the run, in microseconds.
        var serverCPUMicroseconds: Int

        var cpuPerRequest: Double { Double(serverCPUMicroseconds) / Double(max(wrk.requests, 1)) }
    }

    func measure(port: Int, path: String, process: ChildProcess, clientCore: String) throws -> Measurement {
        let before = process.cpuMicroseconds
        let result = try HTTPBenchmark.wrk(
            port: port, path: path, core: clientCore, connections: connections, seconds: seconds, headers: ["Origin: \(Self.origin)"]
        )
        return Measurement(wrk: result, serverCPUMicroseconds: process.cpuMicroseconds - before)
    }

    /// Both answer every measured route alike: 200 with bodies of the same length
    /// (not the same bytes: each server's start-up reconcile finds the seeded stores
    /// missing from its simulated cluster and stamps its own times on them; health
    /// has its uptime, so it is left out: the pipeline answers it the same for all),
    /// so the figures compare routing, not different work.
    static func checkSameAnswers(hand: Int, router: Int) throws {
        for target in targets where target.path != "/api/health" {
            let (handBody, routerBody) = (try HTTPBenchmark.get(port: hand, path: target.path), try HTTPBenchmark.get(port: router, path: target.path))
            guard handBody.utf8.count == routerBody.utf8.count else {
                throw ValidationError(
                    "\(target.path) answers differently through the two routings (\(handBody.utf8.count) and \(routerBody.utf8.count) bytes); "
                        + "the comparison would be unfair"
                )
            }
        }
    }

    static func row(_ round: Int, _ target: String, _ routing: String, _ measurement: Measurement) {
        let requests = Double(max(measurement.wrk.requests, 1))
        print(
            String(
                format: "| %d | %@ | %@ | %.0f | %.2f | %.2f | %.1f | %.1f |", round, target, routing, measurement.wrk.rate,
                measurement.wrk.p50, measurement.wrk.p99, measurement.cpuPerRequest,
                Double(measurement.wrk.clientCPUMicroseconds) / requests
            )
        )
    }

    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}
