import Foundation
import GRDB
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
                StorePlatformMethod.PlatformService.health, Storeplatform_V1_HealthRequest(),
                as: Storeplatform_V1_HealthResponse.self, timeout: .milliseconds(1500)
            )
            #expect(health.status == "SERVING")
            answered()
            var get = Storeplatform_V1_GetStoreRequest()
            get.id = existing.id
            let store = try await client.unary(
                StorePlatformMethod.StoreService.getStore, get, as: Storeplatform_V1_GetStoreResponse.self, timeout: .milliseconds(1500)
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

    init(path: String) throws {
        queue = try DatabaseQueue(path: path)
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

/// The status code of a plain HTTP/1.1 GET, read on a thread of its own.
private func httpStatus(port: Int, path: String) async throws -> Int {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            continuation.resume(with: Result { try blockingHTTPStatus(port: port, path: path) })
        }
    }
}

private struct HTTPFailure: Error, CustomStringConvertible {
    var description: String
}

private func blockingHTTPStatus(port: Int, path: String) throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw HTTPFailure(description: "socket failed") }
    defer { close(fd) }
    // Generous: a gateway whose event loop is blocked answers nothing.
    var timeout = timeval(tv_sec: 1, tv_usec: 500_000)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { throw HTTPFailure(description: "cannot connect to the gateway on port \(port)") }
    let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
    guard write(fd, request, request.count) == request.count else { throw HTTPFailure(description: "write failed") }
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while !received.contains(0x0A) {
        let count = read(fd, &buffer, buffer.count)
        guard count > 0 else { throw HTTPFailure(description: "GET \(path): no answer within 1.5 s") }
        received += buffer[..<count]
    }
    let line = String(decoding: received.prefix { $0 != 0x0D && $0 != 0x0A }, as: UTF8.self)
    let fields = line.split(separator: " ")
    guard fields.count >= 2, let status = Int(fields[1]) else { throw HTTPFailure(description: "not an HTTP status line: \(line)") }
    return status
}
