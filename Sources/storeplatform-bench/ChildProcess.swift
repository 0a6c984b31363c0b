import Foundation
import Synchronization

/// A server process the benchmark starts and measures through /proc.
final class ChildProcess {
    let process = Process()
    private let output = Pipe()
    private var unread = Data()

    /// - Parameter readsStandardError: ``readLine(until:)`` reads standard error (where
    ///   the daemon logs) instead of standard output.
    init(executable: String, arguments: [String], readsStandardError: Bool = false) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if readsStandardError {
            process.standardError = output
            process.standardOutput = FileHandle.nullDevice
        } else {
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
        }
        try process.run()
        let pid = process.processIdentifier
        _ = Self.running.withLock { $0.insert(pid) }
    }

    /// The children started and not stopped yet, for ``terminateAll()``.
    private static let running = Mutex<Set<Int32>>([])

    /// Sends SIGTERM to every child still running (the benchmark is interrupted), and
    /// SIGKILL to those still there 3 s later (a daemon whose database was just
    /// stopped may not finish its graceful shutdown).
    static func terminateAll() {
        let pids = running.withLock { $0 }
        for pid in pids { kill(pid, SIGTERM) }
        let deadline = ContinuousClock.now + .seconds(3)
        var left = pids
        while !left.isEmpty, ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.05)
            left = left.filter { pid in
                // Gone, or a zombie waiting to be reaped: over.
                guard let fields = Self.stat(pid) else { return false }
                return fields.first != "Z"
            }
        }
        for pid in left { kill(pid, SIGKILL) }
    }

    var pid: Int32 { process.processIdentifier }

    /// Reads standard output lines until one satisfies `accept`; lines before it
    /// are consumed, lines after it stay for the next call.
    func readLine(until accept: (String) -> Bool) -> String? {
        while true {
            while let newline = unread.firstIndex(of: 0x0A) {
                let line = String(decoding: unread[..<newline], as: UTF8.self)
                unread.removeSubrange(...newline)
                if accept(line) { return line }
            }
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { return nil }
            unread.append(chunk)
        }
    }

    /// The first line of output that is a number: the port a server started by the
    /// benchmark (`canned-http-server`, `gateway-server`) prints once it listens.
    func readPort() -> Int? {
        readLine(until: { Int($0) != nil }).flatMap(Int.init)
    }

    /// Reads and drops the rest of the output on a thread of its own, so a child
    /// that goes on logging never blocks on a full pipe.
    func discardOutput() {
        let handle = output.fileHandleForReading
        Thread.detachNewThread {
            while !handle.availableData.isEmpty {}
        }
    }

    /// Resident set size now, in KiB (VmRSS).
    var residentKiB: Int { statusField("VmRSS:") }
    /// Peak resident set size, in KiB (VmHWM).
    var peakResidentKiB: Int { Self.peakResidentKiB(pid: pid) }

    static func peakResidentKiB(pid: Int32) -> Int {
        field("VmHWM:", in: (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? "")
    }
    /// Context switches so far, voluntary plus involuntary, over all threads.
    var contextSwitches: Int {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.reduce(0) { total, task in
            let text = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/status", encoding: .utf8)) ?? ""
            return total + Self.field("voluntary_ctxt_switches:", in: text) + Self.field("nonvoluntary_ctxt_switches:", in: text)
        }
    }
    /// User plus system CPU time so far, in microseconds.
    var cpuMicroseconds: Int {
        guard let fields = Self.stat(pid) else { return 0 }
        // After the command name: state is field 3, utime 14 and stime 15 (1-based in proc(5)).
        let ticks = (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)
        return ticks * 1_000_000 / Int(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// The fields of /proc/PID/stat after the command name (field 3, the state,
    /// first); nil when the process is gone.
    static func stat(_ pid: Int32) -> [Substring]? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = text.lastIndex(of: ")") else {
            return nil
        }
        return text[text.index(after: close)...].split(separator: " ")
    }

    private func statusField(_ name: String) -> Int {
        Self.field(name, in: (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? "")
    }

    private static func field(_ name: String, in text: String) -> Int {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name) }) else { return 0 }
        return Int(line.dropFirst(name.count).split(whereSeparator: \.isWhitespace).first ?? "") ?? 0
    }

    func stop() {
        if process.isRunning {
            kill(pid, SIGTERM)
            process.waitUntilExit()
        }
        _ = Self.running.withLock { $0.remove(process.processIdentifier) }
    }

    deinit { stop() }
}
