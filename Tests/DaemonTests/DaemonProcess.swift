import Foundation
import PostgresTestSupport
import StoreRPC
import Testing

/// Where `swift build` put the products: beside the running test bundle.
let productsDirectory: URL = {
    let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    return executable.deletingLastPathComponent()
}()

/// The outcome of running a command to completion.
struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs a built product (storectl, storeplatformd) and waits for it. The
/// blocking wait runs on a thread of its own, never on the concurrency pool that
/// in-process servers of other tests need.
func runProduct(_ name: String, _ arguments: [String], user: UInt32? = nil) async throws -> CommandResult {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            continuation.resume(with: Result { try runProductBlocking(name, arguments, user: user) })
        }
    }
}

private func runProductBlocking(_ name: String, _ arguments: [String], user: UInt32?) throws -> CommandResult {
    let process = Process()
    if let user {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        process.arguments = ["--reuid", "\(user)", "--regid", "\(user)", "--clear-groups", productsDirectory.appendingPathComponent(name).path] + arguments
    } else {
        process.executableURL = productsDirectory.appendingPathComponent(name)
        process.arguments = arguments
    }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return CommandResult(
        status: process.terminationStatus,
        stdout: String(decoding: stdout, as: UTF8.self),
        stderr: String(decoding: stderr, as: UTF8.self)
    )
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
    let process = Process()
    let logPath: String

    /// - Parameter launcher: a command that runs the daemon, such as `["/usr/bin/taskset", "-c", "0"]`.
    init(extraArguments: [String] = [], directory: String? = nil, launcher: [String] = []) throws {
        self.directory = directory ?? "/tmp/spd-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
        socketPath = self.directory + "/run/storeplatformd.sock"
        logPath = self.directory + "/daemon.log"
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let daemon = productsDirectory.appendingPathComponent("storeplatformd")
        if let command = launcher.first {
            process.executableURL = URL(fileURLWithPath: command)
            process.arguments = launcher.dropFirst() + [daemon.path] + arguments + extraArguments
        } else {
            process.executableURL = daemon
            process.arguments = arguments + extraArguments
        }
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = FileHandle.nullDevice
    }

    var arguments: [String] {
        // Port 0: the daemon binds a free port and logs it; parallel tests never race for one.
        [
            "--socket", socketPath, "--tcp", "127.0.0.1:0", "--http", "127.0.0.1:0",
            "--data-dir", directory + "/data", "--grace-period", "5",
        ]
    }

    var log: String {
        (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    }

    /// Starts the daemon and waits until its socket answers Health.
    func start() async throws {
        try process.run()
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if !process.isRunning {
                Issue.record("daemon exited with \(process.terminationStatus): \(log)")
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

    /// Sends SIGTERM and waits for the process to exit; returns its status.
    @discardableResult
    func terminate() async throws -> Int32 {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        return try await waitForExit(of: process, within: .seconds(30)) {
            "daemon ignored SIGTERM; its log ends:\n\(log.suffix(3000))"
        }
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// Waits for `process` to exit, SIGKILLing it (and recording `issue`) when it has
/// not after `within`; its status.
func waitForExit(of process: Process, within: Duration, issue: () -> String) async throws -> Int32 {
    let deadline = ContinuousClock.now + within
    while process.isRunning && ContinuousClock.now < deadline {
        try await Task.sleep(for: .milliseconds(20))
    }
    if process.isRunning {
        kill(process.processIdentifier, SIGKILL)
        Issue.record(Comment(rawValue: issue()))
    }
    await withCheckedContinuation { continuation in
        Thread.detachNewThread {
            process.waitUntilExit()
            continuation.resume()
        }
    }
    return process.terminationStatus
}
