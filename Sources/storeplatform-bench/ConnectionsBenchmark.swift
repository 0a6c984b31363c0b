import ArgumentParser
import Foundation
import RPCTestSupport
import StorePlatformEnvelope
import StorePlatformProto
import StoreRPC

#if canImport(Glibc)
import Glibc
#endif

/// Thousands of idle connections spread over the three listeners while the
/// daemon's open-file limit is small: the daemon must stay up, refuse what is over
/// each listener's cap with the right answer, and keep answering an admin on the
/// Unix socket. The admin's Health round trips are measured before the flood (the
/// floor, same run) and during it.
struct ConnectionsBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connections",
        abstract: "Idle connections over the Unix, TCP and HTTP listeners under a small open-file limit; admin Health latency and RSS."
    )

    @Option(help: "The storeplatformd to measure (default: the one beside this tool).")
    var daemon: String?

    @Option(help: "Idle connections to open, spread evenly over the three listeners.")
    var connections = 5000

    @Option(help: "The daemon's open-file limit, soft and hard (prlimit).")
    var openFiles = 1024

    @Option(help: "Admin Health calls measured before and during the flood.")
    var calls = 500

    func run() async throws {
        let tool = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let daemonPath = daemon ?? tool.deletingLastPathComponent().appendingPathComponent("storeplatformd").path
        let scratch = "/tmp/spbench-connections-\(getpid())"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try Self.raiseOwnOpenFileLimit(to: connections + 256)

        // The Unix share of the flood comes from another local user (uid 65534, not an
        // admin), as an attacker's would: the socket is made world-writable for it.
        try FileManager.default.createDirectory(atPath: scratch + "/run", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let socket = scratch + "/run/storeplatformd.sock"
        let server = try ChildProcess(
            executable: "/usr/bin/prlimit",
            arguments: [
                "--nofile=\(openFiles):\(openFiles)", "--", daemonPath, "--socket", socket, "--tcp", "127.0.0.1:0", "--http", "127.0.0.1:0",
                "--data-dir", scratch + "/data", "--requests-per-minute", "1000000", "--socket-mode", "0666",
            ],
            readsStandardError: true
        )
        defer { server.stop() }
        guard let serving = server.readLine(until: { $0.contains(" serving") }),
            let tcpPort = Self.port(after: "tcp:127.0.0.1:", in: serving),
            let httpLine = server.readLine(until: { $0.contains("http gateway listening") }),
            let httpPort = Self.port(after: "http=127.0.0.1:", in: httpLine)
        else { throw ValidationError("the daemon did not start (is /usr/bin/prlimit there?)") }

        let idleRSS = server.residentKiB
        let before = try Self.adminHealth(socket: socket, calls: calls)

        // The flood: idle connections, a third on each listener; each sends nothing.
        let unixShare = connections / 3
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        holder.arguments = ["--reuid", "65534", "--regid", "65534", "--clear-groups", tool.path, "hold", "--socket", socket, "--count", "\(unixShare)"]
        let holderInput = Pipe(), holderOutput = Pipe()
        holder.standardInput = holderInput
        holder.standardOutput = holderOutput
        try holder.run()
        defer {
            try? holderInput.fileHandleForWriting.close()
            holder.waitUntilExit()
        }
        let held = String(decoding: holderOutput.fileHandleForReading.availableData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        var sockets: [BlockingFrameSocket] = []
        var failedConnects = 0
        for index in 0..<(connections - unixShare) {
            if let socket = Self.connect(.tcp(host: "127.0.0.1", port: index % 2 == 0 ? tcpPort : httpPort)) {
                sockets.append(socket)
            } else {
                failedConnects += 1
            }
        }
        try await Task.sleep(for: .seconds(2))
        let alive = kill(server.pid, 0) == 0
        let during = try Self.adminHealth(socket: socket, calls: calls)
        let floodRSS = server.residentKiB
        let refusedHTTP = try Self.httpStatus(port: httpPort)
        let refusedTCP = try Self.rpcRefusal(endpoint: .tcp(host: "127.0.0.1", port: tcpPort))
        let stillOpen = sockets.filter { Self.isOpen($0.descriptor) }.count

        print("# storeplatform-bench connections")
        print("")
        print("\(connections) idle connections (a third each on the Unix socket, RPC over TCP and HTTP), the daemon")
        print("under `prlimit --nofile=\(openFiles):\(openFiles)` with its default caps; \(calls) admin Health calls on a new")
        print("Unix connection (root, an admin uid) before and during the flood.")
        print("")
        print("| | daemon alive | admin Health p50 | p99 | max | daemon RSS |")
        print("|---|---|---:|---:|---:|---:|")
        print("| before the flood (floor) | yes | \(Self.micro(before.p50)) | \(Self.micro(before.p99)) | \(Self.micro(before.max)) | \(idleRSS / 1024) MiB |")
        print("| during the flood | \(alive ? "yes" : "NO") | \(Self.micro(during.p50)) | \(Self.micro(during.p99)) | \(Self.micro(during.max)) | \(floodRSS / 1024) MiB |")
        print("")
        print("Unix socket, as uid 65534: \(held). TCP and HTTP: \(connections - unixShare - failedConnects) opened, \(failedConnects) could not be;")
        print("still open after 2 s (admitted, idle timeout not yet reached): \(stillOpen) of them.")
        print("A new HTTP connection during the flood: \(refusedHTTP). A new RPC connection over TCP: \(refusedTCP).")
        print("Peak daemon RSS: \(server.peakResidentKiB / 1024) MiB.")
    }

    // MARK: Measurements

    struct Latencies {
        var p50: Duration
        var p99: Duration
        var max: Duration
    }

    static func adminHealth(socket: String, calls: Int) throws -> Latencies {
        let client = try BlockingFrameSocket(connectingTo: .unix(path: socket))
        var samples: [Duration] = []
        for call in 0..<calls {
            let streamID = UInt32(call * 2 + 1)
            let started = ContinuousClock.now
            try client.sendFrame(RPCBenchmark.request(streamID: streamID))
            guard let frame = try client.receiveFrame() else { throw ValidationError("the daemon closed the admin connection") }
            let envelope = try Storeplatform_V1_Envelope(serializedBytes: frame)
            guard envelope.streamID == streamID, envelope.status.code == .ok else {
                throw ValidationError("admin call \(call) refused: \(envelope.status.errorCode): \(envelope.status.message)")
            }
            samples.append(ContinuousClock.now - started)
        }
        samples.sort()
        return Latencies(p50: samples[samples.count / 2], p99: samples[samples.count * 99 / 100], max: samples[samples.count - 1])
    }

    /// What a new HTTP connection gets: its status line.
    static func httpStatus(port: Int) throws -> String {
        guard let socket = connect(.tcp(host: "127.0.0.1", port: port)) else { return "no connection" }
        try? socket.send(Array("GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8))
        var buffer = [UInt8](repeating: 0, count: 512)
        let count = read(socket.descriptor, &buffer, buffer.count)
        let text = String(decoding: buffer.prefix(max(0, count)), as: UTF8.self)
        return "`" + (text.split(separator: "\r\n").first.map(String.init) ?? "closed without an answer") + "`"
    }

    /// What a new RPC connection over TCP gets: the ERROR frame's status, or a Health answer.
    static func rpcRefusal(endpoint: RPCEndpoint) throws -> String {
        let client = try BlockingFrameSocket(connectingTo: endpoint, receiveTimeout: .seconds(5))
        try client.sendFrame(RPCBenchmark.request(streamID: 1))
        guard let frame = try client.receiveFrame() else { return "closed without a frame" }
        let envelope = try Storeplatform_V1_Envelope(serializedBytes: frame)
        return envelope.type == .error ? "ERROR frame, \(envelope.status.errorCode): \(envelope.status.message)" : "answered (\(envelope.type))"
    }

    // MARK: Sockets

    /// An idle connection, or nil when it could not be made.
    static func connect(_ endpoint: RPCEndpoint) -> BlockingFrameSocket? {
        try? BlockingFrameSocket(connectingTo: endpoint, receiveTimeout: nil)
    }

    /// Whether the peer has not closed the connection (a non-blocking peek).
    static func isOpen(_ descriptor: Int32) -> Bool {
        var byte: UInt8 = 0
        let count = recv(descriptor, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        return count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)
    }

    static func raiseOwnOpenFileLimit(to wanted: Int) throws {
        var limit = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        guard limit.rlim_max >= rlim_t(wanted) else {
            throw ValidationError("this benchmark needs \(wanted) open files; the hard limit is \(limit.rlim_max)")
        }
        limit.rlim_cur = max(limit.rlim_cur, rlim_t(wanted))
        setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
    }

    static func port(after marker: String, in line: String) -> Int? {
        guard let range = line.range(of: marker) else { return nil }
        return Int(line[range.upperBound...].prefix { $0.isNumber })
    }

    static func micro(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        return String(format: "%.0f µs", Double(seconds) * 1e6 + Double(attoseconds) / 1e12)
    }
}

/// Opens idle connections to a Unix socket and holds them until its standard input
/// closes: the other local user of ``ConnectionsBenchmark``.
struct HoldConnections: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "hold", abstract: "Hold idle Unix-socket connections (used by `connections`).", shouldDisplay: false)

    @Option var socket: String
    @Option var count: Int

    func run() throws {
        var open: [BlockingFrameSocket] = []
        for _ in 0..<count {
            if let held = ConnectionsBenchmark.connect(.unix(path: socket)) { open.append(held) }
        }
        // Wait for the daemon's answers: a refused connection is closed by it.
        Thread.sleep(forTimeInterval: 1)
        let admitted = open.filter { ConnectionsBenchmark.isOpen($0.descriptor) }.count
        FileHandle.standardOutput.write(Data("\(open.count) opened, \(admitted) still open (admitted), \(open.count - admitted) refused\n".utf8))
        _ = FileHandle.standardInput.readDataToEndOfFile()
    }
}
