import ArgumentParser
import Foundation
import NIOSSL
import ProcessTestSupport
import RPCTestSupport
import StorePlatformProto
import StoreRPC

/// Unary Health over the daemon's Unix socket and TCP, next to an echo of the same
/// bytes over the same kind of socket (the floor). One blocking client thread
/// drives both, so the difference between the rows is the server's. Then plain
/// TCP next to TLS, each with its own echo floor, driven by one NIO client
/// (NIOFrameLoad) for both, since TLS needs one.
struct RPCBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rpc",
        abstract: "Health latency and throughput over Unix and TCP, each next to its echo floor."
    )

    @Option(help: "The storeplatformd to measure (default: the one beside this tool).")
    var daemon: String?

    @Option(help: "Seconds of measurement per throughput row.")
    var seconds: Double = 3

    @Option(help: "Calls timed one at a time for the latency rows.")
    var latencyCalls: Int = 20_000

    @Option(help: "In-flight levels for the throughput rows.")
    var inFlight: [Int] = [1, 16, 64]

    @Option(help: "In-flight level of the TLS rows' throughput (0 skips the TLS rows).")
    var tlsInFlight: Int = 64

    @Option(help: "The C load client (make -C clients/c load) that drives the floor and the daemon in the last Unix rows.")
    var loadClient: String = "clients/c/build/storeplatform-load"

    func run() throws {
        let tool = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let directory = tool.deletingLastPathComponent()
        let daemonPath = daemon ?? directory.appendingPathComponent("storeplatformd").path
        let scratch = "/tmp/spbench-\(getpid())"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }

        let port = try freeLoopbackPort()
        let daemonProcess = try ChildProcess(executable: daemonPath, arguments: [
            "--socket", scratch + "/d.sock", "--tcp", "127.0.0.1:\(port)", "--data-dir", scratch + "/data", "--log-level", "warning", "--http", "off",
        ])
        try Self.waitForSocket(.unix(path: scratch + "/d.sock"))
        Thread.sleep(forTimeInterval: 1)
        let idleRSS = daemonProcess.residentKiB

        let echoUnix = try ChildProcess(executable: tool.path, arguments: ["echo-server", "--socket", scratch + "/echo.sock"])
        _ = echoUnix.readLine { $0 == "ready" }
        let echoTCP = try ChildProcess(executable: tool.path, arguments: ["echo-server", "--tcp"])
        let echoPort = echoTCP.readLine { Int($0) != nil }.flatMap { Int($0) } ?? 0
        _ = echoTCP.readLine { $0 == "ready" }

        print("# storeplatform-bench rpc")
        print("")
        print("Unary Health (\(try Self.request(streamID: 1).count + 4)-byte request frame); floor = echo of the same bytes, no protobuf, no dispatch.")
        print("One client thread per row; latency over \(latencyCalls) sequential calls; throughput over \(seconds) s per row.")
        print("")
        print("| transport | server | in flight | calls/s | p50 µs | p99 µs | server ctx switches/call | server CPU µs/call | vs floor |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|")

        let targets: [(String, RPCEndpoint, ChildProcess, RPCEndpoint, ChildProcess)] = [
            ("unix", .unix(path: scratch + "/d.sock"), daemonProcess, .unix(path: scratch + "/echo.sock"), echoUnix),
            ("tcp", .tcp(host: "127.0.0.1", port: port), daemonProcess, .tcp(host: "127.0.0.1", port: echoPort), echoTCP),
        ]
        for (transport, rpcEndpoint, rpcServer, echoEndpoint, echoServer) in targets {
            // Latency: one call at a time.
            let floorLatency = try Self.measureLatency(echoEndpoint, calls: latencyCalls, server: echoServer)
            let rpcLatency = try Self.measureLatency(rpcEndpoint, calls: latencyCalls, server: rpcServer)
            Self.row(transport, "echo floor", 1, floorLatency, floor: nil)
            Self.row(transport, "storeplatformd", 1, rpcLatency, floor: floorLatency)
            for level in inFlight where level > 1 {
                let floor = try Self.measureThroughput(echoEndpoint, inFlight: level, seconds: seconds, server: echoServer)
                let rpc = try Self.measureThroughput(rpcEndpoint, inFlight: level, seconds: seconds, server: rpcServer)
                Self.row(transport, "echo floor", level, floor, floor: nil)
                Self.row(transport, "storeplatformd", level, rpc, floor: floor)
            }
        }
        try measureWithCClient(
            daemonSocket: scratch + "/d.sock", daemon: daemonProcess, echoSocket: scratch + "/echo.sock", echo: echoUnix
        )
        if tlsInFlight > 0 {
            try measureTLS(daemonPath: daemonPath, tool: tool.path, scratch: scratch, plainPort: port, plainDaemon: daemonProcess)
        }
        print("")
        print("storeplatformd RSS: \(idleRSS / 1024).\(idleRSS % 1024 * 10 / 1024) MiB idle after start, \(daemonProcess.peakResidentKiB / 1024) MiB peak after the runs.")
        daemonProcess.stop()
        echoUnix.stop()
        echoTCP.stop()
    }

    /// The Unix rows again, with the C load client driving both the floor and the
    /// daemon: it keeps many calls in flight at a lower cost per call than the blocking
    /// Swift client, so the floor's rate is the server side's, not the client's. Each
    /// row shows the client's own CPU per call and the rate one core of it could
    /// drive at that cost (its ceiling): a floor whose rate nears that ceiling is
    /// bounded by the client.
    func measureWithCClient(daemonSocket: String, daemon: ChildProcess, echoSocket: String, echo: ChildProcess) throws {
        let client = try CLoadClient(path: loadClient)
        print("")
        print("The Unix rows again, driven by the C load client (clients/c/tools/storeplatform-load.c: one connection, every answer parsed).")
        print("")
        print("| transport | server | in flight | calls/s | p50 µs | p99 µs | server CPU µs/call | client CPU µs/call | client's ceiling calls/s | vs floor |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for level in [1] + inFlight.filter({ $0 > 1 }) {
            let mode = level == 1 ? ["--calls", String(latencyCalls)] : ["--in-flight", String(level), "--seconds", String(seconds)]
            let floor = try client.run(["--socket", echoSocket, "--pid", String(echo.pid), "--call", "health", "--echo"] + mode)
            let rpc = try client.run(["--socket", daemonSocket, "--pid", String(daemon.pid), "--call", "health"] + mode)
            Self.row("echo floor", level, floor, floor: nil)
            Self.row("storeplatformd", level, rpc, floor: floor)
        }
    }

    static func row(_ server: String, _ inFlight: Int, _ result: CLoadClient.Result, floor: CLoadClient.Result?) {
        let (p50, p99) = latencies(result.p50, result.p99)
        let versus = versus(
            inFlight, p50: result.p50, rate: result.callsPerSecond, floorP50: floor?.p50, floorRate: floor?.callsPerSecond
        )
        print(String(
            format: "| unix (C client) | %@ | %d | %.0f | %@ | %@ | %.2f | %.2f | %.0f | %@ |",
            server, inFlight, result.callsPerSecond, p50, p99, Double(result.serverCPU) / Double(result.calls),
            result.clientCPUPerCall, result.clientCeiling, versus
        ))
    }

    /// Plain TCP and TLS rows from one NIO client: a second daemon serves TLS with
    /// a self-signed certificate made by the openssl CLI; the floors are a NIO echo
    /// server, plain and TLS.
    func measureTLS(daemonPath: String, tool: String, scratch: String, plainPort: Int, plainDaemon: ChildProcess) throws {
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        openssl.arguments = [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", scratch + "/tls.key", "-out", scratch + "/tls.pem",
        ]
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        guard openssl.terminationStatus == 0 else { throw ValidationError("openssl could not make the benchmark's certificate") }
        var clientConfiguration = TLSConfiguration.makeClientConfiguration()
        clientConfiguration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(scratch + "/tls.pem"))
        let clientContext = try NIOSSLContext(configuration: clientConfiguration)

        let tlsPort = try freeLoopbackPort()
        let tlsDaemon = try ChildProcess(executable: daemonPath, arguments: [
            "--socket", scratch + "/t.sock", "--tcp", "127.0.0.1:\(tlsPort)", "--data-dir", scratch + "/tdata", "--log-level", "warning",
            "--http", "off", "--tls-cert", scratch + "/tls.pem", "--tls-key", scratch + "/tls.key",
        ])
        defer { tlsDaemon.stop() }
        try Self.waitForSocket(.unix(path: scratch + "/t.sock"))
        let plainEcho = try ChildProcess(executable: tool, arguments: ["nio-echo-server"])
        let plainEchoPort = plainEcho.readLine { Int($0) != nil }.flatMap { Int($0) } ?? 0
        _ = plainEcho.readLine { $0 == "ready" }
        defer { plainEcho.stop() }
        let tlsEcho = try ChildProcess(executable: tool, arguments: ["nio-echo-server", "--tls-cert", scratch + "/tls.pem", "--tls-key", scratch + "/tls.key"])
        let tlsEchoPort = tlsEcho.readLine { Int($0) != nil }.flatMap { Int($0) } ?? 0
        _ = tlsEcho.readLine { $0 == "ready" }
        defer { tlsEcho.stop() }
        Thread.sleep(forTimeInterval: 1)

        print("")
        print("Plain TCP next to TLS (TLS 1.3, P-256 certificate), one NIO client on one event loop for every row; floor = a NIO echo server, plain or TLS.")
        print("")
        print("| transport | server | in flight | calls/s | p50 µs | p99 µs | server ctx switches/call | server CPU µs/call | vs floor |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        // Interleaved (tcp, tls, tcp, tls …) so that a change in the machine's load
        // during the run falls on both transports alike.
        let targets: [(transport: String, rpcPort: Int, rpcServer: ChildProcess, echoPort: Int, echoServer: ChildProcess, context: NIOSSLContext?)] = [
            ("tcp (nio client)", plainPort, plainDaemon, plainEchoPort, plainEcho, nil),
            ("tls (nio client)", tlsPort, tlsDaemon, tlsEchoPort, tlsEcho, clientContext),
        ]
        let clients = try targets.map { target in
            (floor: try NIOFrameLoad(port: target.echoPort, tls: target.context), rpc: try NIOFrameLoad(port: target.rpcPort, tls: target.context))
        }
        var rows: [[(String, Int, Result, Result?)]] = Array(repeating: [], count: targets.count)
        var floorLatency: [Result] = []
        for (index, target) in targets.enumerated() {
            floorLatency.append(try clients[index].floor.latency(calls: latencyCalls, server: target.echoServer))
        }
        for (index, target) in targets.enumerated() {
            let rpc = try clients[index].rpc.latency(calls: latencyCalls, server: target.rpcServer)
            rows[index] += [("echo floor", 1, floorLatency[index], nil), ("storeplatformd", 1, rpc, floorLatency[index])]
        }
        var floorRate: [Result] = []
        for (index, target) in targets.enumerated() {
            floorRate.append(try clients[index].floor.throughput(inFlight: tlsInFlight, seconds: seconds, server: target.echoServer))
        }
        for (index, target) in targets.enumerated() {
            let rpc = try clients[index].rpc.throughput(inFlight: tlsInFlight, seconds: seconds, server: target.rpcServer)
            rows[index] += [("echo floor", tlsInFlight, floorRate[index], nil), ("storeplatformd", tlsInFlight, rpc, floorRate[index])]
        }
        for (index, target) in targets.enumerated() {
            for (server, level, result, floor) in rows[index] {
                Self.row(target.transport, server, level, result, floor: floor)
            }
            clients[index].floor.close()
            clients[index].rpc.close()
        }
        var load = [Double](repeating: 0, count: 3)
        if getloadavg(&load, 3) == 3 {
            print("")
            print(String(format: "Load average when the TLS rows ended: %.2f (1 min), %.2f (5 min).", load[0], load[1]))
        }
    }

    struct Result {
        var calls: Int
        var elapsed: Double
        var p50: Double?
        var p99: Double?
        var contextSwitches: Int
        var cpuMicroseconds: Int
        var rate: Double { Double(calls) / elapsed }
    }

    /// A row's p50 and p99 in µs, or dashes for a throughput row.
    static func latencies(_ p50: Double?, _ p99: Double?) -> (String, String) {
        (p50.map { String(format: "%.1f", $0) } ?? "–", p99.map { String(format: "%.1f", $0) } ?? "–")
    }

    /// How a server's row compares with its floor's: p50 against p50 at one call in
    /// flight, rate against rate otherwise; "1.00×" for the floor itself (no floor given).
    static func versus(_ inFlight: Int, p50: Double?, rate: Double, floorP50: Double?, floorRate: Double?) -> String {
        guard let floorRate else { return "1.00×" }
        if inFlight == 1, let p50, let floorP50 {
            return String(format: "p50 %.2f× floor", p50 / floorP50)
        }
        return String(format: "%.0f%% of floor rate", rate / floorRate * 100)
    }

    static func row(_ transport: String, _ server: String, _ inFlight: Int, _ result: Result, floor: Result?) {
        let (p50, p99) = latencies(result.p50, result.p99)
        let versus = versus(inFlight, p50: result.p50, rate: result.rate, floorP50: floor?.p50, floorRate: floor?.rate)
        print(String(
            format: "| %@ | %@ | %d | %.0f | %@ | %@ | %.2f | %.1f | %@ |",
            transport, server, inFlight, result.rate, p50, p99,
            Double(result.contextSwitches) / Double(result.calls),
            Double(result.cpuMicroseconds) / Double(result.calls), versus
        ))
    }

    /// Sequential calls, each timed; after a warm-up of a tenth as many.
    static func measureLatency(_ endpoint: RPCEndpoint, calls: Int, server: ChildProcess) throws -> Result {
        let socket = try BlockingFrameSocket(connectingTo: endpoint)
        var streamID: UInt32 = 1
        func once() throws {
            try socket.sendFrame(request(streamID: streamID))
            guard let frame = try socket.receiveFrame() else { throw BlockingSocketError("server closed") }
            try verify(frame, streamID: streamID)
            streamID += 2
        }
        for _ in 0..<max(1, calls / 10) { try once() }
        var samples: [Double] = []
        samples.reserveCapacity(calls)
        let switches = server.contextSwitches
        let cpu = server.cpuMicroseconds
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<calls {
            let before = DispatchTime.now().uptimeNanoseconds
            try once()
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - before) / 1000)
        }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        samples.sort()
        return Result(
            calls: calls, elapsed: elapsed,
            p50: samples[samples.count / 2], p99: samples[samples.count * 99 / 100],
            contextSwitches: server.contextSwitches - switches, cpuMicroseconds: server.cpuMicroseconds - cpu
        )
    }

    /// A closed loop keeping `inFlight` calls outstanding on one connection: each
    /// batch of answers read is replaced by as many new requests in one write.
    static func measureThroughput(_ endpoint: RPCEndpoint, inFlight: Int, seconds: Double, server: ChildProcess) throws -> Result {
        let socket = try BlockingFrameSocket(connectingTo: endpoint)
        var nextID: UInt32 = 1
        func requests(_ count: Int) throws -> [UInt8] {
            var bytes: [UInt8] = []
            for _ in 0..<count {
                bytes += BlockingFrameSocket.frame(try request(streamID: nextID))
                nextID += 2
            }
            return bytes
        }
        try socket.send(requests(inFlight))
        func run(for duration: Double) throws -> Int {
            let end = DispatchTime.now().uptimeNanoseconds + UInt64(duration * 1e9)
            var answered = 0
            while DispatchTime.now().uptimeNanoseconds < end {
                let frames = try socket.receiveAvailableFrames()
                guard !frames.isEmpty else { throw BlockingSocketError("server closed") }
                for frame in frames { try verify(frame, streamID: nil) }
                answered += frames.count
                try socket.send(requests(frames.count))
            }
            return answered
        }
        _ = try run(for: min(0.5, seconds / 4))
        let switches = server.contextSwitches
        let cpu = server.cpuMicroseconds
        let start = DispatchTime.now().uptimeNanoseconds
        let calls = try run(for: seconds)
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return Result(
            calls: calls, elapsed: elapsed, p50: nil, p99: nil,
            contextSwitches: server.contextSwitches - switches, cpuMicroseconds: server.cpuMicroseconds - cpu
        )
    }

    static func request(streamID: UInt32) throws -> [UInt8] {
        var envelope = Envelope()
        envelope.streamID = streamID
        envelope.type = .request
        envelope.method = StorePlatformMethod.PlatformService.health.name
        return try envelope.serializedBytes()
    }

    /// Parses every answer, echo or RPC alike, so both rows pay the same client cost.
    static func verify(_ frame: [UInt8], streamID: UInt32?) throws {
        let envelope = try Envelope(serializedBytes: frame)
        if let streamID, envelope.streamID != streamID {
            throw BlockingSocketError("answer for stream \(envelope.streamID), expected \(streamID)")
        }
        if envelope.type == .response && envelope.status.code != .ok {
            throw BlockingSocketError("call failed: \(RPCStatus(envelope.status))")
        }
    }

    static func waitForSocket(_ endpoint: RPCEndpoint) throws {
        for _ in 0..<300 {
            if (try? BlockingFrameSocket(connectingTo: endpoint)) != nil { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw ValidationError("the daemon did not start listening on \(endpoint)")
    }
}
