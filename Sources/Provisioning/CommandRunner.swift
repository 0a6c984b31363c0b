import Subprocess

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One external command: an executable and its argument array. There is never
/// a shell in between, so no argument is ever re-parsed or expanded.
struct Command: Sendable {
    /// An absolute or relative path (anything with a `/`), or a name looked up in `PATH`.
    var executable: String
    var arguments: [String]
    /// Written to the command's standard input, which is then closed. This is how
    /// anything that must not show in argv (visible to every user in /proc) travels.
    var input: String?
    /// Standard output beyond this many bytes is read and dropped.
    var outputLimit: Int
    /// Set in the command's environment, over what the daemon's own environment has.
    var environment: [String: String]

    init(_ executable: String, _ arguments: [String], input: String? = nil, outputLimit: Int, environment: [String: String] = [:]) {
        self.executable = executable
        self.arguments = arguments
        self.input = input
        self.outputLimit = outputLimit
        self.environment = environment
    }
}

/// What a finished command left behind.
struct CommandResult: Sendable, Equatable {
    enum Termination: Sendable, Equatable {
        case exited(Int32)
        case signaled(Int32)
        /// Still running at the timeout: it was killed (its whole process group).
        case timedOut(Duration)
    }

    var termination: Termination
    var standardOutput: String
    var standardError: String
    /// More output was produced than the limits kept.
    var standardOutputTruncated = false
    var standardErrorTruncated = false

    var succeeded: Bool { termination == .exited(0) }

    /// Standard error, then standard output, without trailing blank lines, at most
    /// `limit` bytes: what a failure reports. With a `redactor`, each stream is redacted
    /// first, before this cut and knowing where the capture limits cut it.
    func combinedOutput(limit: Int, redacting redactor: SecretRedactor? = nil) -> String {
        var streams = [standardError, standardOutput]
        if let redactor {
            streams = [
                redactor.redact(standardError, cutAtEnd: standardErrorTruncated),
                redactor.redact(standardOutput, cutAtEnd: standardOutputTruncated),
            ]
        }
        let parts = streams.map { $0.trimmingTrailingWhitespace() }.filter { !$0.isEmpty }
        var text = parts.joined(separator: "\n")
        var truncated = standardErrorTruncated || standardOutputTruncated
        if text.utf8.count > limit {
            text = String(decoding: text.utf8.prefix(limit), as: UTF8.self)
            truncated = true
        }
        return truncated ? text + "\n[output truncated to \(limit) bytes]" : text
    }
}

/// A command that could not be run at all (missing executable, not executable, …).
struct CommandLaunchError: Error, Sendable, CustomStringConvertible {
    var executable: String
    var reason: String
    var description: String { "cannot run \(executable): \(reason)" }
}

/// Runs commands through swift-subprocess with a timeout and capped output.
///
/// Each command starts in a session (and process group) of its own. At the
/// timeout, or when the calling task is cancelled, the whole group gets SIGTERM,
/// then SIGKILL after ``gracePeriod``, so nothing the command started outlives
/// it. Standard output and standard error are read concurrently while the command
/// runs (a chatty command never blocks on a full pipe) and kept up to their limits.
struct CommandRunner: Sendable {
    /// How long one command may run before it is killed.
    var timeout: Duration
    /// Standard error beyond this many bytes is read and dropped.
    var errorLimit: Int
    /// Between SIGTERM and SIGKILL.
    var gracePeriod: Duration = .seconds(5)

    init(timeout: Duration, errorLimit: Int, gracePeriod: Duration = .seconds(5)) {
        self.timeout = timeout
        self.errorLimit = errorLimit
        self.gracePeriod = gracePeriod
    }

    /// Runs `command` to its end (or its timeout: `timeout`, else the runner's).
    /// A non-zero exit and a timeout are results, not errors. Throws
    /// ``CommandLaunchError`` when the command cannot start, and `CancellationError`
    /// when the calling task was cancelled (the command is killed first).
    func run(_ command: Command, timeout: Duration? = nil) async throws -> CommandResult {
        _ = Self.ignoreBrokenPipes
        var options = PlatformOptions()
        options.createSession = true
        options.teardownSequence = [.send(signal: .terminate, toProcessGroup: true, allowedDurationToNextStep: gracePeriod)]
        let executable: Executable = command.executable.contains("/")
            ? .path(.init(command.executable)) : .name(command.executable)
        let input = command.input.map { Array($0.utf8) }
        let limits = (output: command.outputLimit, error: errorLimit)
        let timeout = timeout ?? self.timeout
        let gracePeriod = gracePeriod

        let execution: ExecutionResult<Capture, SequenceOutput, SequenceOutput>
        do {
            execution = try await Subprocess.run(
                executable,
                arguments: Arguments(command.arguments),
                environment: .inherit.updating(command.environment.reduce(into: [:]) { $0[Environment.Key(stringLiteral: $1.key)] = $1.value }),
                platformOptions: options,
                input: .inputWriter,
                output: .sequence,
                error: .sequence
            ) { execution in
                await Self.supervise(execution, input: input, limits: limits, timeout: timeout, gracePeriod: gracePeriod)
            }
        } catch let error as SubprocessError {
            throw CommandLaunchError(executable: command.executable, reason: "\(error)")
        }
        let capture = execution.closureResult
        if capture.cancelled { throw CancellationError() }
        let termination: CommandResult.Termination
        if capture.timedOut {
            termination = .timedOut(timeout)
        } else {
            switch execution.terminationStatus {
            case .exited(let code): termination = .exited(code)
            case .signaled(let signal): termination = .signaled(signal)
            }
        }
        return CommandResult(
            termination: termination,
            standardOutput: capture.output.text,
            standardError: capture.error.text,
            standardOutputTruncated: capture.output.truncated,
            standardErrorTruncated: capture.error.truncated
        )
    }

    // MARK: Supervision

    private struct Captured: Sendable {
        var text = ""
        var truncated = false
    }

    private struct Capture: Sendable {
        var output = Captured()
        var error = Captured()
        var timedOut = false
        var cancelled = false
    }

    private enum Event: Sendable {
        case inputClosed
        case output(Captured)
        case error(Captured)
        case exited
        case watchStopped
        case deadline
        case timerCancelled
    }

    /// Feeds stdin, drains stdout and stderr, and kills the process group at the
    /// deadline or on cancellation. Returns once the process has exited.
    private static func supervise(
        _ execution: Execution<CustomWriteInput, SequenceOutput, SequenceOutput>,
        input: [UInt8]?,
        limits: (output: Int, error: Int),
        timeout: Duration,
        gracePeriod: Duration
    ) async -> Capture {
        await withTaskGroup(of: Event.self) { group in
            group.addTask {
                let writer = execution.standardInputWriter
                // A command that exits without reading its input is not an error
                // here: its exit status says what happened.
                if let input, !input.isEmpty { _ = try? await writer.write(input) }
                try? await writer.finish()
                return .inputClosed
            }
            group.addTask { .output(await collect(execution.standardOutput, limit: limits.output)) }
            group.addTask { .error(await collect(execution.standardError, limit: limits.error)) }
            group.addTask {
                do {
                    try await Task.sleep(for: timeout)
                    return .deadline
                } catch {
                    return .timerCancelled
                }
            }

            let pid = execution.processIdentifier.value
            var capture = Capture()
            var openStreams = 2
            var finished = false
            while let event = await group.next() {
                switch event {
                case .inputClosed, .watchStopped:
                    break
                case .output(let captured):
                    capture.output = captured
                    openStreams -= 1
                case .error(let captured):
                    capture.error = captured
                    openStreams -= 1
                case .exited:
                    finished = true
                    group.cancelAll()
                case .deadline where !finished:
                    finished = true
                    // It may have exited a moment ago, with its streams not drained yet.
                    if !hasExited(pid) {
                        capture.timedOut = true
                        await terminate(execution, gracePeriod: gracePeriod)
                    }
                case .timerCancelled where !finished:
                    // Only the caller's cancellation stops the timer before the end.
                    finished = true
                    capture.cancelled = true
                    await terminate(execution, gracePeriod: gracePeriod)
                case .deadline, .timerCancelled:
                    break
                }
                if openStreams == 0, !finished {
                    // Both streams closed: normally the process is exiting. Watch for
                    // its exit so the timer can stop; one that closed its streams
                    // but runs on still meets the deadline.
                    openStreams = -1
                    group.addTask {
                        var pause = Duration.milliseconds(1)
                        while !hasExited(pid) {
                            if Task.isCancelled { return .watchStopped }
                            try? await Task.sleep(for: pause)
                            pause = min(pause * 2, .milliseconds(50))
                        }
                        return .exited
                    }
                }
            }
            return capture
        }
    }

    /// SIGTERM to the process group, SIGKILL after the grace period; returns once
    /// the process has exited.
    private static func terminate(
        _ execution: Execution<CustomWriteInput, SequenceOutput, SequenceOutput>, gracePeriod: Duration
    ) async {
        await execution.teardown(using: [.send(signal: .terminate, toProcessGroup: true, allowedDurationToNextStep: gracePeriod)])
        // The teardown stops once the leader is gone; members of its group that
        // ignored SIGTERM would live on. The leader is not reaped before the run's
        // body returns, so its process group id cannot have been reused yet.
        _ = kill(-execution.processIdentifier.value, SIGKILL)
    }

    /// Reads a stream to its end, keeping at most `limit` bytes.
    private static func collect(_ stream: SubprocessOutputSequence, limit: Int) async -> Captured {
        var bytes: [UInt8] = []
        var truncated = false
        do {
            for try await buffer in stream {
                buffer.withUnsafeBytes { raw in
                    let room = max(0, limit - bytes.count)
                    bytes.append(contentsOf: raw.prefix(room))
                    if raw.count > room { truncated = true }
                }
            }
        } catch {
            // A failed read ends the capture; the exit status still tells the story.
        }
        return Captured(text: String(decoding: bytes, as: UTF8.self), truncated: truncated)
    }

    /// True once the child has exited, without reaping it (swift-subprocess reaps it).
    private static func hasExited(_ pid: pid_t) -> Bool {
        var info = siginfo_t()
        guard waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 else {
            return errno == ECHILD  // already reaped
        }
        #if canImport(Glibc)
        return info._sifields._sigchld.si_pid != 0
        #elseif canImport(Musl)
        return info.__si_fields.__si_common.__first.__piduid.si_pid != 0
        #else
        return info.si_pid != 0
        #endif
    }

    /// Writing to the stdin of a command that already exited raises SIGPIPE, which
    /// would end the whole daemon. Ignored once, process-wide, as servers do;
    /// swift-subprocess resets signal dispositions in the children it starts.
    private static let ignoreBrokenPipes: Void = {
        _ = signal(SIGPIPE, SIG_IGN)
    }()
}

extension String {
    func trimmingTrailingWhitespace() -> String {
        var text = Substring(self)
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return String(text)
    }
}
