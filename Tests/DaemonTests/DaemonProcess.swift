import Foundation
import Logging
import PostgresStoreDatabase
import PostgresTestSupport
import ProcessTestSupport
import Provisioning
import StoreRPC
import Testing

/// Where `swift build` put the products: beside the running test bundle.
let productsDirectory: URL = {
    let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    return executable.deletingLastPathComponent()
}()

/// Runs a built product (storectl, storeplatformd) and waits for it; as `user`
/// (through setpriv) when given.
func runProduct(_ name: String, _ arguments: [String], user: UInt32? = nil) async throws -> CommandResult {
    let product = productsDirectory.appendingPathComponent(name).path
    if let user {
        return try await runCommand(
            "/usr/bin/setpriv", ["--reuid", "\(user)", "--regid", "\(user)", "--clear-groups", product] + arguments)
    }
    return try await runCommand(product, arguments)
}

/// The store database a test daemon runs on.
enum DaemonDatabase: Sendable, CustomTestStringConvertible {
    /// The embedded default: `storeplatform.sqlite` under the daemon's `--data-dir`.
    case sqlite
    /// A fresh database on the shared throwaway PostgreSQL server
    /// (Tests/PostgresTestSupport/ThrowawayPostgres.swift).
    case postgresql

    /// Both, for suites that run on each; PostgreSQL only where it is installed or
    /// required (`STOREPLATFORM_REQUIRE_POSTGRES=1`, as CI sets).
    static var all: [DaemonDatabase] { ThrowawayPostgres.enabled ? [.sqlite, .postgresql] : [.sqlite] }

    var testDescription: String { self == .sqlite ? "sqlite" : "postgresql" }

    /// The `--database` arguments for a new daemon: none for SQLite, a new empty
    /// database's URL for PostgreSQL.
    func arguments() async throws -> [String] {
        switch self {
        case .sqlite: return []
        case .postgresql:
            let server = try await ThrowawayPostgres.shared()
            return ["--database", try await server.createDatabase(prefix: "d", parameters: ["connect_timeout": "20"])]
        }
    }
}

/// A storeplatformd process on a temp socket, a free TCP port and a temp data dir.
final class DaemonProcess {
    let directory: String
    let socketPath: String
    /// The TCP port the daemon bound (it picks a free one itself); known after ``start()``.
    private(set) var tcpPort = 0
    /// The running daemon (or its launcher); set by ``start()`` or ``launch()``.
    private(set) var process: ChildProcess?
    let logPath: String
    /// The launcher (if any) and the daemon's path.
    private let command: [String]
    /// The daemon's arguments.
    let arguments: [String]

    /// - Parameters:
    ///   - launcher: a command that runs the daemon, such as `["/usr/bin/taskset", "-c", "0"]`.
    init(extraArguments: [String] = [], directory: String? = nil, launcher: [String] = []) throws {
        self.directory = try directory ?? makeTemporaryDirectory("spd")
        try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
        socketPath = self.directory + "/run/storeplatformd.sock"
        logPath = self.directory + "/daemon.log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let daemon = productsDirectory.appendingPathComponent("storeplatformd").path
        command = launcher + [daemon]
        let arguments = [
            // Port 0: the daemon binds a free port and logs it; parallel tests never race for one.
            "--socket", socketPath, "--tcp", "127.0.0.1:0", "--http", "127.0.0.1:0",
            "--data-dir", self.directory + "/data", "--grace-period", "5",
        ]
        self.arguments = arguments + extraArguments
    }

    /// The simulated cluster this daemon drives, read where the daemon keeps it: in
    /// its PostgreSQL database (`--database`), or in the SQLite file under its data
    /// directory.
    func simulatedCluster() async throws -> SimulatedCluster {
        let sqlitePath = directory + "/data/simulated-cluster.sqlite"
        guard let option = arguments.firstIndex(of: "--database").map({ arguments[$0 + 1] }) else {
            return try SimulatedCluster(path: sqlitePath, configuration: .instant)
        }
        let database = try await PostgresStoreDatabase.connect(url: option, logger: Logger(label: "test"))
        return SimulatedCluster(state: try await simulatedClusterState(beside: database, sqlitePath: sqlitePath), configuration: .instant)
    }

    var log: String {
        (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    }

    /// The daemon's process id (or its launcher's); 0 before it starts.
    var pid: pid_t { process?.pid ?? 0 }

    var isRunning: Bool { process?.isRunning ?? false }

    /// Starts the process without waiting for it to serve; its standard error goes to ``log``.
    func launch() throws {
        process = try ChildProcess(command[0], Array(command.dropFirst()) + arguments, stdout: .discard, stderr: .file(logPath))
    }

    /// Starts the daemon and waits until its socket answers Health.
    func start() async throws {
        try launch()
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let ended = process?.termination {
                Issue.record("daemon ended (\(ended)): \(log)")
                return
            }
            // The socket answers as soon as it is bound; the line with the TCP port
            // is logged a moment later.
            if log.contains(" serving"), let client = try? await RPCClient.connect(to: .unix(path: socketPath)) {
                await client.close()
                tcpPort = Self.boundTCPPort(in: log) ?? 0
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("daemon did not start serving: \(log)")
    }

    /// The port in the startup log's "tcp:127.0.0.1:PORT".
    static func boundTCPPort(in log: String) -> Int? {
        guard let range = log.range(of: "tcp:127.0.0.1:") else { return nil }
        return Int(log[range.upperBound...].prefix { $0.isNumber })
    }

    /// Sends `number` to the daemon while it runs.
    func signal(_ number: Int32) { process?.signal(number) }

    /// Sends SIGTERM and waits for the process to exit; its exit status.
    @discardableResult
    func terminate() async throws -> Int32 {
        signal(SIGTERM)
        return try await waitForExit(within: .seconds(30)) {
            "daemon ignored SIGTERM; its log ends:\n\(log.suffix(3000))"
        }
    }

    /// Waits for the process to exit, SIGKILLing it (and recording `issue`) when it
    /// has not after `within`; its exit status.
    @discardableResult
    func waitForExit(within: Duration, issue: () -> String) async throws -> Int32 {
        guard let process else { return -1 }
        return try await process.waitForExit(within: within) { Issue.record(Comment(rawValue: issue())) }.status
    }

    deinit {
        process?.signal(SIGKILL)
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// Polls `value` every 100 ms until it gives a value, failing after a generous bound.
func pollUntil<T>(_ what: String, within: Duration = .seconds(30), _ value: () async throws -> T?) async throws -> T {
    let deadline = ContinuousClock.now + within
    while ContinuousClock.now < deadline {
        if let value = try await value() { return value }
        try await Task.sleep(for: .milliseconds(100))
    }
    throw PollGaveUp(description: "gave up waiting until \(what)")
}

struct PollGaveUp: Error, CustomStringConvertible {
    var description: String
}
