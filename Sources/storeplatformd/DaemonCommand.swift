import ArgumentParser
import ControlPlane
import Foundation
import Logging
import NIOPosix
import ServiceLifecycle
import StoreCore
import StoreRPC

struct DaemonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storeplatformd",
        abstract: "The StorePlatform control plane: serves RPCs on a Unix socket and TCP.",
        discussion: """
            Every option can also be set by an environment variable, named in its help. \
            Flags win over the environment. SIGTERM or SIGINT shuts down gracefully: no new \
            calls, running calls get the grace period to finish, then the socket file is removed.
            """,
        version: PlatformVersion.current
    )

    @Option(help: "Unix socket of the admin control plane (STOREPLATFORM_SOCKET).")
    var socket: String = DefaultPaths.socket

    @Option(help: "File mode of the socket, octal (STOREPLATFORM_SOCKET_MODE).")
    var socketMode: String = env("STOREPLATFORM_SOCKET_MODE") ?? "0660"

    @Option(name: .customLong("admin-uid"), help: "uid allowed to call admin methods; repeat for several. Default: this process's uid and root (STOREPLATFORM_ADMIN_UIDS, comma-separated).")
    var adminUIDs: [UInt32] = (env("STOREPLATFORM_ADMIN_UIDS") ?? "").split(separator: ",").compactMap { UInt32($0) }

    @Option(help: "TCP listener host:port for internal services, or \"off\" (STOREPLATFORM_TCP).")
    var tcp: String = DefaultPaths.tcp

    @Option(help: "File of bearer tokens, one per line, required on TCP when set (STOREPLATFORM_TOKEN_FILE).")
    var tokenFile: String = env("STOREPLATFORM_TOKEN_FILE") ?? ""

    @Option(help: "Largest frame accepted, bytes (STOREPLATFORM_MAX_FRAME_BYTES).")
    var maxFrameBytes: Int = env("STOREPLATFORM_MAX_FRAME_BYTES").flatMap(Int.init) ?? FrameDecoder.defaultMaxFrameLength

    @Option(help: "Calls in flight per connection (STOREPLATFORM_MAX_IN_FLIGHT).")
    var maxInFlight: Int = env("STOREPLATFORM_MAX_IN_FLIGHT").flatMap(Int.init) ?? 256

    @Option(help: "Open connections over all listeners (STOREPLATFORM_MAX_CONNECTIONS).")
    var maxConnections: Int = env("STOREPLATFORM_MAX_CONNECTIONS").flatMap(Int.init) ?? 1024

    @Option(help: "Seconds running calls get to finish at shutdown (STOREPLATFORM_GRACE_PERIOD).")
    var gracePeriod: Double = env("STOREPLATFORM_GRACE_PERIOD").flatMap(Double.init) ?? 10

    @Option(help: "Directory for the database and the simulated cluster's state (STOREPLATFORM_DATA_DIR).")
    var dataDir: String = env("STOREPLATFORM_DATA_DIR") ?? DaemonCommand.defaultDataDir

    @Option(help: "Cluster driver: simulated (embedded, no Kubernetes) (STOREPLATFORM_CLUSTER).")
    var cluster: String = env("STOREPLATFORM_CLUSTER") ?? "simulated"

    @Option(help: "trace, debug, info, notice, warning, error or critical (STOREPLATFORM_LOG_LEVEL).")
    var logLevel: String = env("STOREPLATFORM_LOG_LEVEL") ?? "info"

    @Option(help: "text, or json for one JSON object per line (STOREPLATFORM_LOG_FORMAT).")
    var logFormat: String = env("STOREPLATFORM_LOG_FORMAT") ?? "text"

    static var defaultDataDir: String {
        if getuid() == 0 { return "/var/lib/storeplatform" }
        let home = ProcessInfo.processInfo.environment["HOME"] ?? "/tmp"
        return home + "/.local/share/storeplatform"
    }

    func validate() throws {
        guard UInt32(socketMode, radix: 8).map({ $0 <= 0o777 }) == true else {
            throw ValidationError("--socket-mode \(socketMode) is not an octal file mode such as 0660")
        }
        if tcp != "off" {
            do { _ = try RPCEndpoint.tcp(tcp) } catch { throw ValidationError("--tcp: \(error); use host:port or off") }
        }
        guard (16...(256 * 1024 * 1024)).contains(maxFrameBytes) else {
            throw ValidationError("--max-frame-bytes must be between 16 and 268435456")
        }
        guard maxInFlight >= 1 else { throw ValidationError("--max-in-flight must be at least 1") }
        guard maxConnections >= 1 else { throw ValidationError("--max-connections must be at least 1") }
        guard gracePeriod >= 0 else { throw ValidationError("--grace-period must not be negative") }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level \(logLevel) is not one of trace, debug, info, notice, warning, error, critical")
        }
        guard ["text", "json"].contains(logFormat) else {
            throw ValidationError("--log-format \(logFormat) is not text or json")
        }
        guard cluster == "simulated" else {
            throw ValidationError("--cluster \(cluster) is not available in this version; use simulated")
        }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel)!
        let json = logFormat == "json"
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "storeplatformd")

        do {
            try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        } catch {
            throw DaemonError("cannot create data directory \(dataDir): \(error.localizedDescription)")
        }

        var configuration = RPCServerConfiguration()
        var unix = RPCServerConfiguration.UnixSocket(path: socket)
        unix.mode = UInt32(socketMode, radix: 8)!
        if !adminUIDs.isEmpty { unix.adminUIDs = Set(adminUIDs) }
        configuration.unixSocket = unix
        if tcp != "off", case .tcp(let host, let port) = try RPCEndpoint.tcp(tcp) {
            let tokens = tokenFile.isEmpty ? nil : try BearerTokens(contentsOfFile: tokenFile)
            configuration.tcp = .init(host: host, port: port, tokens: tokens)
        }
        configuration.maxFrameLength = maxFrameBytes
        configuration.maxInFlightPerConnection = maxInFlight
        configuration.maxConnections = maxConnections
        configuration.shutdownGracePeriod = .milliseconds(Int64(gracePeriod * 1000))

        let info = DaemonInfo(
            version: PlatformVersion.current,
            startedAtMilliseconds: Int64(Date().timeIntervalSince1970 * 1000),
            clusterDriver: cluster,
            clusterSimulated: cluster == "simulated",
            database: "sqlite"
        )
        let controlPlane = ControlPlane(info: info, logger: logger)
        let server: RPCServer
        do {
            server = try await RPCServer.bind(configuration: configuration, router: controlPlane.makeRouter(), logger: logger)
        } catch {
            throw DaemonError("cannot start: \(error)")
        }

        var listening = ["unix:\(socket)"]
        if let port = server.tcpPort, let host = configuration.tcp?.host {
            listening.append("tcp:\(host):\(port)" + (configuration.tcp?.tokens != nil ? " (bearer token required)" : ""))
        }
        logger.info(
            "storeplatformd \(info.version) serving",
            metadata: [
                "listening": "\(listening.joined(separator: ", "))",
                "cluster": "\(cluster)\(info.clusterSimulated ? " (SimulatedCluster: embedded simulator, no real Kubernetes)" : "")",
                "data-dir": "\(dataDir)",
            ]
        )

        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: server, successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
        logger.info("storeplatformd stopped")
    }
}

func env(_ name: String) -> String? {
    ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 }
}

struct DaemonError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
