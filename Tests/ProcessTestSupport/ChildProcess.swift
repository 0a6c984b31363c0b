import Foundation
import Synchronization

/// A program a test runs, started with `posix_spawn` and watched with `waitpid`.
///
/// Tests launch many programs at once (the daemon, storectl, the C and Python
/// clients, helm, openssl). Foundation's `Process` crashed the test process under
/// that load (a segfault in `Process.run()`, and `readDataToEndOfFile()` ending in
/// `try!` on an interrupted `read`), so every test launches through this type: the
/// child gets default signal dispositions, an empty signal mask and no descriptor
/// but its standard three; output is read on threads of its own that retry
/// interrupted reads.
public final class ChildProcess: Sendable {
    /// Where the child's standard output or error goes.
    public enum Output: Sendable {
        /// `/dev/null`.
        case discard
        /// This process's own.
        case inherit
        /// Appended to this file (created when missing).
        case file(String)
        /// Collected; read it with ``standardOutput`` / ``standardError``.
        case capture
        /// For standard error only: wherever standard output goes.
        case standardOutput
    }

    /// How the child ended.
    public enum Termination: Sendable, Equatable, CustomStringConvertible {
        case exited(Int32)
        case signaled(Int32)

        /// The exit code, or 128 + the signal as a shell reports it.
        public var status: Int32 {
            switch self {
            case .exited(let code): code
            case .signaled(let signal): 128 + signal
            }
        }

        public var description: String {
            switch self {
            case .exited(let code): "exit \(code)"
            case .signaled(let signal): "signal \(signal)"
            }
        }
    }

    public let pid: pid_t
    public let executable: String
    private let ended = Mutex<Termination?>(nil)
    private let captured = Mutex((stdout: [UInt8](), stderr: [UInt8](), openStreams: 0))

    /// Starts `executable` with `arguments`. `environment` entries are added to
    /// (or replace those of) this process's environment; `directory` is the
    /// child's working directory.
    public init(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], directory: String? = nil,
        stdout: Output = .discard, stderr: Output = .discard
    ) throws {
        self.executable = executable
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }

        var readEnds: [(fd: Int32, isStdout: Bool)] = []
        var parentCloses: [Int32] = []
        var started = false
        defer {
            parentCloses.forEach { close($0) }
            if !started { readEnds.forEach { close($0.fd) } }
        }
        var stdoutPipeWriteEnd: Int32?
        for (output, target) in [(stdout, STDOUT_FILENO), (stderr, STDERR_FILENO)] {
            switch output {
            case .discard:
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", O_WRONLY, 0)
            case .inherit:
                break
            case .file(let path):
                posix_spawn_file_actions_addopen(&actions, target, path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            case .capture:
                var fds: [Int32] = [0, 0]
                guard pipe(&fds) == 0 else { throw ChildProcessError("cannot make a pipe: errno \(errno)") }
                // Other programs this process starts must not hold the pipe open.
                fds.forEach { _ = fcntl($0, F_SETFD, FD_CLOEXEC) }
                readEnds.append((fds[0], target == STDOUT_FILENO))
                parentCloses.append(fds[1])
                posix_spawn_file_actions_adddup2(&actions, fds[1], target)
                if target == STDOUT_FILENO { stdoutPipeWriteEnd = fds[1] }
            case .standardOutput:
                precondition(target == STDERR_FILENO, "only standard error can follow standard output")
                if let writeEnd = stdoutPipeWriteEnd {
                    posix_spawn_file_actions_adddup2(&actions, writeEnd, STDERR_FILENO)
                } else {
                    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO)
                }
            }
        }
        if let directory { _ = Spawn.addChdir(&actions, directory) }
        _ = Spawn.addCloseFrom(&actions, 3)

        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let merged = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else {
            throw ChildProcessError("cannot start \(executable): \(String(cString: strerror(result)))")
        }
        self.pid = pid
        started = true
        captured.withLock { $0.openStreams = readEnds.count }
        for (fd, isStdout) in readEnds {
            // Holds the object until the pipe's end, when the child (and any
            // program it left running with the pipe) has gone.
            Thread.detachNewThread { [self] in self.drain(fd, isStdout: isStdout) }
        }
    }

    private func drain(_ fd: Int32, isStdout: Bool) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            captured.withLock {
                if isStdout { $0.stdout += buffer[..<count] } else { $0.stderr += buffer[..<count] }
            }
        }
        close(fd)
        captured.withLock { $0.openStreams -= 1 }
    }

    /// What the child printed so far on a captured standard output.
    public var standardOutput: String { captured.withLock { String(decoding: $0.stdout, as: UTF8.self) } }
    /// What the child printed so far on a captured standard error.
    public var standardError: String { captured.withLock { String(decoding: $0.stderr, as: UTF8.self) } }

    /// How the child ended, once it has (reaping it if it just did).
    public var termination: Termination? {
        ended.withLock { ended in
            if ended == nil {
                var status: Int32 = 0
                if waitpid(pid, &status, WNOHANG) == pid {
                    ended = Self.decode(status)
                }
            }
            return ended
        }
    }

    public var isRunning: Bool { termination == nil }

    /// Sends `signal` to the child while it runs.
    public func signal(_ signal: Int32) {
        ended.withLock { ended in
            if ended == nil { _ = kill(pid, signal) }
        }
    }

    /// Waits until the child has exited and its captured output is read to the
    /// end. After `limit` the child is SIGKILLed and `onTimeout` is called.
    @discardableResult
    public func waitForExit(within limit: Duration = .seconds(600), onTimeout: () -> Void = {}) async throws -> Termination {
        let deadline = ContinuousClock.now + limit
        var killed = false
        while true {
            if let termination, captured.withLock({ $0.openStreams == 0 }) { return termination }
            if ContinuousClock.now >= deadline {
                if isRunning && !killed {
                    signal(SIGKILL)
                    killed = true
                    onTimeout()
                }
                // Output held open by a grandchild is not waited for.
                if let termination { return termination }
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Waits for the child without a concurrency context (at process exit).
    public func waitBlocking() -> Termination {
        while true {
            if let termination { return termination }
            usleep(10_000)
        }
    }

    deinit {
        if termination == nil {
            kill(pid, SIGKILL)
            _ = waitBlocking()
        }
    }

    private static func decode(_ status: Int32) -> Termination {
        let signal = status & 0x7f
        return signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
    }
}

/// A program that could not be started.
public struct ChildProcessError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// What a program printed and how it ended.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Runs a program to its end and returns what it printed (standard error apart,
/// or merged into standard output with `mergingErrors`).
public func runCommand(
    _ executable: String, _ arguments: [String], environment: [String: String] = [:], directory: String? = nil,
    mergingErrors: Bool = false
) async throws -> CommandResult {
    let child = try ChildProcess(
        executable, arguments, environment: environment, directory: directory,
        stdout: .capture, stderr: mergingErrors ? .standardOutput : .capture
    )
    let termination = try await child.waitForExit()
    return CommandResult(status: termination.status, stdout: child.standardOutput, stderr: child.standardError)
}

/// glibc's `posix_spawn_file_actions_addchdir_np` (2.29) and
/// `posix_spawn_file_actions_addclosefrom_np` (2.34), which Swift's Glibc module
/// does not import; looked up once.
private enum Spawn {
    typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    static let addChdir: AddChdir = {
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addchdir_np") else {
            fatalError("glibc 2.29 or later is needed: posix_spawn_file_actions_addchdir_np is missing")
        }
        return unsafeBitCast(symbol, to: AddChdir.self)
    }()

    static let addCloseFrom: AddCloseFrom = {
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else {
            fatalError("glibc 2.34 or later is needed: posix_spawn_file_actions_addclosefrom_np is missing")
        }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }()
}
