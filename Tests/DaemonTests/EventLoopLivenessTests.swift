import Foundation
import GRDB
import ProcessTestSupport
import StorePlatformProto
import StoreRPC
import Synchronization
import Testing

/// No synchronous database or file call runs on an event loop: while another
/// connection holds SQLite's write lock, a CreateStore waits for it, and the
/// daemon, pinned to one CPU so that it runs a single event loop, still answers
/// Health and GetStore on the same RPC connection and on the gateway.
@Suite struct EventLoopLivenessTests {
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/taskset")))
    func readsAreAnsweredWhileAWriteWaitsForTheDatabaseLock() async throws {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let allowed = try #require(status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") })
        let cpu = try #require(allowed.dropFirst("Cpus_allowed_list:".count).trimmingCharacters(in: .whitespaces)
            .split(whereSeparator: { $0 == "," || $0 == "-" }).first)
        let daemon = try DaemonProcess(extraArguments: quickCluster, launcher: ["/usr/bin/taskset", "-c", String(cpu)])
        try await daemon.start()
        let httpPort = try await port(after: "url=http://127.0.0.1:", in: daemon)
        let client = try await RPCClient.connect(to: .unix(path: daemon.socketPath))
        let existing = try await client.create("liveness-read")
        // Settled first, so that the lock below is not waiting on its provisioning.
        try await client.waitFor(existing.id, [.ready])

        // Another connection to the daemon's database file takes the write lock
        // and holds it for 3 s, well within the daemon's busy timeout of 5 s.
        let lock = try WriteLockHolder(path: daemon.directory + "/data/storeplatform.sqlite")
        try await lock.acquire(holdingFor: 3)
        let created = Flag()
        let create = Task {
            defer { created.set() }
            return try await client.create("liveness-write")
        }

        // Reads keep being answered while the create waits for the lock. Each is
        // bounded generously (1.5 s, half the time the lock is held): this checks
        // that they are answered at all, not how fast.
        var readsWhileCreateWaited = 0
        func answered() {
            if !created.isSet && lock.isHeld { readsWhileCreateWaited += 1 }
        }
        while lock.isHeld {
            let health = try await client.unary(
                StorePlatformMethod.PlatformService.health, Storeplatform_V1_HealthRequest(), timeout: .milliseconds(1500)
            )
            #expect(health.status == "SERVING")
            answered()
            var get = Storeplatform_V1_GetStoreRequest()
            get.id = existing.id
            let store = try await client.unary(
                StorePlatformMethod.StoreService.getStore, get, timeout: .milliseconds(1500)
            ).store
            #expect(store.id == existing.id)
            answered()
            #expect(try await httpStatus(port: httpPort, path: "/api/health") == 200)
            answered()
            #expect(try await httpStatus(port: httpPort, path: "/api/stores/\(existing.id)") == 200)
            answered()
            try await Task.sleep(for: .milliseconds(50))
        }
        // Reads were answered while the create waited; then it went through.
        #expect(readsWhileCreateWaited >= 1)
        let store = try await create.value
        #expect(store.name == "liveness-write")
        await client.close()
        #expect(try await daemon.terminate() == 0)
    }
}

/// No event-loop thread makes a file-system call once the daemon serves: the daemon
/// runs under `strace -f`, takes creates, reads, deletes, audit and metrics calls, the
/// dashboard's files and the REST API, and every system call of a thread named
/// `NIO-SGLTN-…` (NIO's event loops, which also run the daemon's Swift tasks) after
/// "serving" is checked: none opens, stats or syncs a file, and
/// none reads or writes a descriptor that is a regular file — except its log lines on
/// standard error (a pipe when deployed; here a file).
@Suite struct EventLoopSystemCallTests {
    static let strace = "/usr/bin/strace"
    /// Every call that names a path, and every call on a file's descriptor that is not
    /// also a socket's (SQLite reads and writes with pread64/pwrite64; a plain read or
    /// write of a file needs an open first, which is traced): tracing each socket read
    /// and write too would slow the daemon down several times. accept4 shows that the
    /// event loops were traced at all.
    static let traced = "%file,pread64,pwrite64,preadv,pwritev,preadv2,pwritev2,fsync,fdatasync,sync_file_range,ftruncate,fcntl,flock,lseek,accept4"

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: strace)), arguments: DaemonDatabase.all)
    func eventLoopThreadsMakeNoFileCallsWhileServing(_ database: DaemonDatabase) async throws {
        let directory = temporaryPath("spd")
        let trace = directory + "-strace.txt"
        defer { try? FileManager.default.removeItem(atPath: trace) }
        let daemon = try DaemonProcess(
            extraArguments: quickCluster + (try await database.arguments()), directory: directory,
            launcher: [Self.strace, "-f", "-qq", "-ttt", "-y", "-e", "trace=\(Self.traced)", "-o", trace]
        )
        try await daemon.start()
        let daemonPID = try #require(Self.child(of: daemon.pid), "strace started no daemon")
        // Serving: the RPC listeners and then the gateway have logged their addresses
        // (start-up reads files on purpose, such as the dashboard's and the cgroup's).
        let httpPort = try await port(after: "url=http://127.0.0.1:", in: daemon)
        let serving = Date().timeIntervalSince1970

        let client = try await RPCClient.connect(to: .unix(path: daemon.socketPath))
        var ids: [String] = []
        for index in 0..<3 { ids.append(try await client.create("syscalls-\(index)").id) }
        for id in ids { try await client.waitFor(id, [.ready]) }
        for id in ids {
            _ = try await client.store(id)
            _ = try await client.audit(storeID: id)
        }
        _ = try await client.delete(ids[0])
        try await client.waitFor(ids[0], [.deleted])
        for path in ["/", "/app.js", "/style.css", "/api/health", "/api/stores", "/api/stores/\(ids[1])", "/metrics"] {
            #expect(try await httpStatus(port: httpPort, path: path) == 200, "GET \(path)")
        }
        await client.close()

        let threads = Self.threads(of: daemonPID)
        let eventLoops = threads.filter { Self.isEventLoop($0.value) }
        #expect(!eventLoops.isEmpty, "no event-loop thread among the daemon's: \(Set(threads.values).sorted())")
        // SIGTERM to the daemon itself; strace exits with it. Shutting down (the socket
        // file removed, the database closed) is not serving: the check ends here.
        let stopping = Date().timeIntervalSince1970
        kill(daemonPID, SIGTERM)
        let deadline = ContinuousClock.now + .seconds(60)
        while kill(daemonPID, 0) == 0 && daemon.isRunning && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(try await daemon.terminate() == 0)

        let calls = try String(contentsOfFile: trace, encoding: .utf8).split(separator: "\n")
        let offending = calls.filter { line in
            let fields = line.split(separator: " ", maxSplits: 2)
            guard fields.count == 3, let tid = Int32(fields[0]), eventLoops[tid] != nil,
                let time = Double(fields[1]), time >= serving, time < stopping
            else { return false }
            return Self.touchesAFile(fields[2], log: daemon.logPath)
        }
        #expect(offending.isEmpty, "file calls on event-loop threads:\n\(offending.prefix(30).joined(separator: "\n"))")
        // The trace saw the work at all: the event loops read and wrote sockets.
        let socketCalls = calls.filter { line in
            guard let tid = Int32(line.prefix { $0 != " " }), eventLoops[tid] != nil else { return false }
            return line.contains("accept4(")
        }.count
        #expect(socketCalls > 0, "the trace shows no accept4 on an event-loop thread")
    }

    /// NIO names its event-loop threads `NIO-ELT-<group>-#<n>`, the singleton group's
    /// (installed as Swift's global executor) `NIO-SGLTN-<group>-#<n>`; its blocking
    /// thread pool's are `SGLTN-TP-#<n>`.
    static func isEventLoop(_ name: String) -> Bool {
        name.hasPrefix("NIO-ELT-") || name.hasPrefix("NIO-SGLTN-")
    }

    /// A call that names a path, syncs, or reads or writes a descriptor `strace -y`
    /// shows as a file path (sockets, pipes, eventfds and epoll show as `socket:[…]`,
    /// `pipe:[…]`, `anon_inode:[…]`).
    static func touchesAFile(_ call: Substring, log: String) -> Bool {
        guard let name = call.split(separator: "(", maxSplits: 1).first else { return false }
        let pathCalls: Set<Substring> = [
            "open", "openat", "openat2", "stat", "lstat", "newfstatat", "statx", "access", "faccessat", "faccessat2",
            "readlink", "readlinkat", "unlink", "unlinkat", "rename", "renameat", "renameat2", "mkdir", "mkdirat",
            "truncate", "chmod", "fchmodat", "chown", "fchownat", "utimensat",
        ]
        if pathCalls.contains(name) { return true }
        if ["fsync", "fdatasync", "sync_file_range", "ftruncate", "flock"].contains(name) { return true }
        // read(7</tmp/…/storeplatform.sqlite>, …), pread64(…), write(…), fcntl(…) …
        guard let open = call.firstIndex(of: "<"), let close = call[open...].firstIndex(of: ">") else { return false }
        let target = call[call.index(after: open)..<close]
        return target.hasPrefix("/") && target != log
    }

    /// The first child of `pid` (strace's tracee).
    static func child(of pid: Int32) -> Int32? {
        let text = try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)
        return text?.split(separator: " ").first.flatMap { Int32($0) }
    }

    /// Thread id → name, from /proc.
    static func threads(of pid: Int32) -> [Int32: String] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        var names: [Int32: String] = [:]
        for task in tasks {
            guard let tid = Int32(task), let name = try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/comm", encoding: .utf8)
            else { continue }
            names[tid] = name.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return names
    }
}

/// A flag one task sets and another reads.
private final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .sequentiallyConsistent) }
    func set() { value.store(true, ordering: .sequentiallyConsistent) }
}

/// A second SQLite connection to a database file that holds its write lock
/// (`BEGIN IMMEDIATE`) on a thread of its own for a while.
private final class WriteLockHolder: Sendable {
    private let queue: DatabaseQueue
    private let held = Flag()
    private let released = Flag()

    /// The daemon writes too (a store's transitions, the reconcile loop), so taking
    /// the lock waits for the daemon's own write to end, as long as one may take.
    init(path: String) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(60)
        queue = try DatabaseQueue(path: path, configuration: configuration)
    }

    /// True from when ``acquire(holdingFor:)`` returns until the lock is let go.
    var isHeld: Bool { held.isSet && !released.isSet }

    /// Takes the lock, returns once it is held, and lets go of it `seconds` later.
    func acquire(holdingFor seconds: UInt32) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            Thread.detachNewThread { [self] in
                do {
                    try queue.writeWithoutTransaction { db in
                        try db.execute(sql: "BEGIN IMMEDIATE")
                        held.set()
                        continuation.resume()
                        sleep(seconds)
                        try db.execute(sql: "COMMIT")
                        released.set()
                    }
                } catch {
                    released.set()
                    if !held.isSet { continuation.resume(throwing: error) }
                }
            }
        }
    }
}

/// The status code of a plain HTTP/1.1 GET. Generous (1.5 s): a gateway whose event
/// loop is blocked answers nothing.
private func httpStatus(port: Int, path: String) async throws -> Int {
    try await blockingHTTPGet(port: port, path: path, timeout: 1.5).status
}
