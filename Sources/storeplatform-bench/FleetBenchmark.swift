import ArgumentParser
import Foundation
import StoreCore
import StoreDatabase
import StorePlatformProto
import StoreRPC
import Synchronization

/// A fleet upgrade of many simulated stores (zero delays): its total time and the
/// daemon's memory, next to two peers measured in the same run: the same upgrades
/// started as one UpgradeStore call each by a client, each awaited by reading the
/// store, in waves as the fleet upgrade runs them (a wave after the one before has
/// ended), and with a wave's worth in flight all the time (no waves at all).
struct FleetBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet",
        abstract: "Fleet upgrade of N simulated stores: total time and daemon RSS, next to the same upgrades as single calls."
    )

    @Option(help: "The storeplatformd to measure (default: the one beside this tool).")
    var daemon: String?

    @Option(help: "Ready stores seeded, all upgraded.")
    var stores: Int = 1000

    @Option(help: "Stores per wave (and the peer's calls in flight).")
    var waveSize: Int = 50

    @Option(help: "The store database: sqlite, postgresql, postgresql-nosync, both, or a comma-separated list, run in turn.")
    var database: String = "sqlite"

    static let target = "6.8-wc9.8"

    struct Figures {
        var backend: BenchBackend
        var way: String
        var total: Duration
        var upgraded: Int
        var outcome: String
        var idleKiB: Int
        var peakKiB: Int
        var afterKiB: Int
        var cpuMicroseconds: Int
    }

    func run() async throws {
        let backends = try BenchBackend.parse(database)
        let tool = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let daemonPath = daemon ?? tool.deletingLastPathComponent().appendingPathComponent("storeplatformd").path
        let scratch = "/tmp/spbench-fleet-\(getpid())"
        BenchCleanup.removeOnInterrupt(scratch)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        var rows: [Figures] = []
        var notes: [String] = []
        for backend in backends {
            try await BenchDatabaseServer.with(backend) { server in
                for way in Way.allCases {
                    rows.append(try await measure(server, daemonPath: daemonPath, scratch: scratch + "/\(backend.rawValue)-\(way)", way: way))
                }
                notes.append("\(backend.rawValue): \(try await server.effectiveSettings())")
            }
        }
        print("# storeplatform-bench fleet")
        print("")
        print("Daemon: \(daemonPath). \(stores) ready stores on 6.9-wc10.3 moved to \(Self.target) on the simulated cluster with zero")
        print("delays. \"fleet upgrade\": one UpgradeFleet in waves of \(waveSize), timed from the call to the fleet upgrade's end")
        print("(GetFleetUpgrade polled every 50 ms). The peers: one UpgradeStore per store from one client, each awaited by")
        print("polling GetStore every 5 ms; \"single calls in waves\" starts \(waveSize) and waits for all of them before the next")
        print("\(waveSize) (the fleet upgrade's order), \"single calls, \(waveSize) in flight\" starts the next store as soon as one ends.")
        print("RSS from /proc/PID/status: idle before, peak (VmHWM) and after. Daemon CPU from /proc/PID/stat over the run.")
        print("")
        for note in notes { print("- \(note)") }
        print("")
        print("| database | way | stores upgraded | total | per store | daemon CPU | RSS idle | RSS peak | RSS after | outcome |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
        for row in rows {
            let seconds = Double(row.total.components.seconds) + Double(row.total.components.attoseconds) / 1e18
            print(String(
                format: "| %@ | %@ | %d | %.2f s | %.1f ms | %.2f s | %.1f MiB | %.1f MiB | %.1f MiB | %@ |",
                row.backend.rawValue, row.way, row.upgraded, seconds, seconds * 1000 / Double(max(1, row.upgraded)),
                Double(row.cpuMicroseconds) / 1e6, Double(row.idleKiB) / 1024, Double(row.peakKiB) / 1024, Double(row.afterKiB) / 1024,
                row.outcome
            ))
        }
        print("")
        var load = [Double](repeating: 0, count: 3)
        if getloadavg(&load, 3) == 3 {
            print(String(format: "Load average at the end: %.2f (1 min), %.2f (5 min), %.2f (15 min).", load[0], load[1], load[2]))
        }
    }

    /// A fresh database seeded with `stores` ready stores, a daemon on it, and the
    /// upgrade of all of them: by one fleet upgrade, or by single calls.
    enum Way: String, CaseIterable {
        case fleet = "fleet upgrade"
        case waves = "single calls in waves"
        case inFlight = "single calls, in flight"
    }

    func measure(_ server: BenchDatabaseServer, daemonPath: String, scratch: String, way: Way) async throws -> Figures {
        let fleet = way == .fleet
        try FileManager.default.createDirectory(atPath: scratch + "/data", withIntermediateDirectories: true)
        let (option, database) = try await server.freshDatabase(dataDir: scratch + "/data", prefix: fleet ? "fleet" : "calls")
        let seeded = try await database.seedReadyStores(stores, prefix: "shop", clusterPath: scratch + "/data/simulated-cluster.sqlite")
        await database.close()
        let socket = scratch + "/d.sock"
        var arguments = [
            "--socket", socket, "--tcp", "off", "--http", "off", "--data-dir", scratch + "/data", "--log-level", "warning",
            "--reconcile-interval", "3600", "--requests-per-minute", "1000000000", "--creates-per-minute", "1000000000",
            "--max-live-stores", "1000000000", "--sim-install-delay", "0", "--sim-ready-delay", "0", "--readiness-poll-ms", "1",
        ]
        if let option { arguments += ["--database", option] }
        let process = try ChildProcess(executable: daemonPath, arguments: arguments)
        defer { process.stop() }
        try RPCBenchmark.waitForSocket(.unix(path: socket))
        try await Task.sleep(for: .seconds(1))
        let idle = process.residentKiB
        let cpuBefore = process.cpuMicroseconds
        let peak = PeakSampler(process)
        let client = try await RPCClient.connect(to: .unix(path: socket))
        let started = ContinuousClock.now
        let upgraded: Int
        let outcome: String
        if fleet {
            var request = Storeplatform_V1_UpgradeFleetRequest()
            request.version = Self.target
            request.waveSize = UInt32(waveSize)
            let id = try await client.unary(StorePlatformMethod.FleetService.upgradeFleet, request).fleetUpgrade.id
            var get = Storeplatform_V1_GetFleetUpgradeRequest()
            get.id = id
            while true {
                let fleet = try await client.unary(StorePlatformMethod.FleetService.getFleetUpgrade, get).fleetUpgrade
                if fleet.endedMs > 0 {
                    upgraded = Int(fleet.upgraded)
                    outcome = "\(fleet.state), \(fleet.waveCount) waves"
                    break
                }
                try await Task.sleep(for: .milliseconds(50))
            }
        } else {
            let ids = seeded.map(\.id)
            // In waves: one group per wave; in flight: one group for all, each task taking the next store.
            let groups = way == .waves ? stride(from: 0, to: ids.count, by: waveSize).map { Array(ids[$0..<min($0 + waveSize, ids.count)]) } : [ids]
            var done = 0
            for group in groups {
                let next = NextIndex()
                done += try await withThrowingTaskGroup(of: Int.self) { tasks in
                    for _ in 0..<min(waveSize, group.count) {
                        tasks.addTask {
                            var upgraded = 0
                            while let index = next.take(below: group.count) {
                                if try await Self.upgradeAndAwait(group[index], client) { upgraded += 1 }
                            }
                            return upgraded
                        }
                    }
                    return try await tasks.reduce(0, +)
                }
            }
            upgraded = done
            outcome = way == .waves ? "\(groups.count) waves" : "\(waveSize) in flight"
        }
        let total = ContinuousClock.now - started
        peak.stop()
        await client.close()
        return Figures(
            backend: server.backend, way: way == .inFlight ? "single calls, \(waveSize) in flight" : way.rawValue, total: total, upgraded: upgraded, outcome: outcome,
            idleKiB: idle, peakKiB: peak.peakKiB, afterKiB: process.residentKiB, cpuMicroseconds: process.cpuMicroseconds - cpuBefore
        )
    }
}

extension FleetBenchmark {
    /// Upgrades store `id` with one UpgradeStore call and reads it until it is no
    /// longer upgrading; whether it then runs the target version.
    static func upgradeAndAwait(_ id: String, _ client: RPCClient) async throws -> Bool {
        var request = Storeplatform_V1_UpgradeStoreRequest()
        request.id = id
        request.version = target
        _ = try await client.unary(StorePlatformMethod.StoreService.upgradeStore, request)
        var get = Storeplatform_V1_GetStoreRequest()
        get.id = id
        while true {
            let store = try await client.unary(StorePlatformMethod.StoreService.getStore, get).store
            if store.status != .upgrading { return store.version == target }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}

/// Hands out 0, 1, 2, … to tasks sharing a list.
private final class NextIndex: Sendable {
    private let next = Mutex(0)

    func take(below count: Int) -> Int? {
        next.withLock { value in
            guard value < count else { return nil }
            defer { value += 1 }
            return value
        }
    }
}
