import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import StoreRPC

@main
enum Entry {
    static func main() async {
        // One event loop per CPU the process may run on, as NIO already does for a
        // cgroup CPU quota (it counts the machine's cores but not the affinity
        // mask), unless NIO_SINGLETON_GROUP_LOOP_COUNT says otherwise.
        if ProcessInfo.processInfo.environment["NIO_SINGLETON_GROUP_LOOP_COUNT"] == nil,
            let allowed = CPUAffinity.allowedCount(), allowed < System.coreCount
        {
            NIOSingletons.groupLoopCountSuggestion = allowed
        }
        // Run Swift concurrency on NIO's event loops, so a call's handler resumes on
        // the thread that read its frame instead of hopping to another pool and
        // back. Must happen first, on the main thread, before any task starts.
        _ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        // With TZ unset, glibc checks /etc/localtime (a stat) on every localtime_r, which
        // the text log handler calls for each line's time; TZ naming that same file
        // keeps the zone loaded once. (Not Foundation's name for the zone: asking for it
        // loads ICU's time zone data, 2 MiB of the idle daemon; BENCHMARKS.md, "RPC".)
        if getenv("TZ") == nil {
            setenv("TZ", access("/etc/localtime", F_OK) == 0 ? ":/etc/localtime" : "UTC", 1)
        }
        let (arguments, fromEnvironment) = options()
        var command: any ParsableCommand
        do {
            command = try DaemonCommand.parseAsRoot(arguments)
        } catch where DaemonCommand.exitCode(for: error) != .success {
            // A value from the environment that does not parse or validate: say
            // which variable set it. (--help and --version end here too, as success.)
            let message = DaemonCommand.message(for: error)
            let flags = message.split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "-") })
                .filter { $0.hasPrefix("--") }.map { String($0.dropFirst(2)) }
            if let variable = flags.lazy.compactMap({ EnvironmentOption.variable(behind: $0, in: fromEnvironment) }).first {
                FileHandle.standardError.write(Data("Error: \(message) (set by \(variable))\n".utf8))
                exit(DaemonCommand.exitCode(for: error).rawValue)
            }
            DaemonCommand.exit(withError: error)
        } catch {
            DaemonCommand.exit(withError: error)
        }
        do {
            // The daemon itself, or what --help asked for.
            if var daemon = command as? any AsyncParsableCommand {
                try await daemon.run()
            } else {
                try command.run()
            }
        } catch {
            DaemonCommand.exit(withError: error)
        }
    }

    /// The command line with the environment's options before it
    /// (EnvironmentOption.swift), and those options alone.
    private static func options() -> (arguments: [String], fromEnvironment: [String]) {
        let commandLine = Array(CommandLine.arguments.dropFirst())
        do {
            let arguments = try EnvironmentOption.arguments(commandLine, environment: ProcessInfo.processInfo.environment)
            return (arguments, Array(arguments.dropLast(commandLine.count)))
        } catch {
            DaemonCommand.exit(withError: ValidationError("\(error)"))
        }
    }
}
