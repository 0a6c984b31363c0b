#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Synchronization

/// The RPC server: the same code path on a Unix socket (admin control plane) and
/// on TCP (internal services). ``bind(configuration:router:logger:group:)`` binds
/// every listener (and fails fast when another daemon owns the socket);
/// ``run()`` serves until ``shutdown()`` or a graceful-shutdown signal.
public final class RPCServer: Service, Sendable {
    struct Accepted: Sendable {
        let channel: NIOAsyncChannel<ServerConnection.AdmittedCall, Never>
        let connection: ServerConnection
    }

    private struct State {
        var connections: [ObjectIdentifier: ServerConnection] = [:]
        var draining = false
        var graceTimer: Scheduled<Void>?
    }

    public let configuration: RPCServerConfiguration
    /// The bound TCP port, when a TCP listener is configured (useful with port 0).
    public let tcpPort: Int?
    /// The Unix socket path, when a Unix listener is configured.
    public var unixSocketPath: String? { socketFile?.path }

    private let router: RPCRouter
    private let logger: Logger
    private let listeners: [NIOAsyncChannel<Accepted, Never>]
    private let admission: ConnectionAdmission
    private let socketFile: UnixSocketFile?
    private let state = Mutex(State())

    private init(
        configuration: RPCServerConfiguration,
        router: RPCRouter,
        logger: Logger,
        listeners: [NIOAsyncChannel<Accepted, Never>],
        admission: ConnectionAdmission,
        socketFile: UnixSocketFile?,
        tcpPort: Int?
    ) {
        self.configuration = configuration
        self.router = router
        self.logger = logger
        self.listeners = listeners
        self.admission = admission
        self.socketFile = socketFile
        self.tcpPort = tcpPort
    }

    /// Binds the configured listeners. Throws ``UnixSocketError`` when the Unix
    /// path is taken by a listening daemon or is not a socket.
    public static func bind(
        configuration: RPCServerConfiguration,
        router: RPCRouter,
        logger: Logger,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> RPCServer {
        precondition(configuration.unixSocket != nil || configuration.tcp != nil, "configure at least one listener")
        var listeners: [NIOAsyncChannel<Accepted, Never>] = []
        var socketFile: UnixSocketFile?
        var tcpPort: Int?
        let admission = ConnectionAdmission(configuration: configuration)
        do {
            if let unix = configuration.unixSocket {
                var file = UnixSocketFile(path: unix.path)
                try file.prepare(directoryMode: unix.directoryMode)
                let listener = try await ServerBootstrap(group: group)
                    .serverChannelOption(.backlog, value: 256)
                    .bind(unixDomainSocketPath: unix.path) { channel in
                        Self.initialize(channel, configuration: configuration, router: router, admission: admission, logger: logger) { channel in
                            Self.peerCredentials(of: channel)
                        }
                    }
                listeners.append(listener)
                try file.adopt(mode: unix.mode)
                socketFile = file
            }
            if let tcp = configuration.tcp {
                let listener = try await ServerBootstrap(group: group)
                    .serverChannelOption(.backlog, value: 256)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                    .bind(host: tcp.host, port: tcp.port) { channel in
                        Self.initialize(channel, configuration: configuration, router: router, admission: admission, logger: logger) { channel in
                            channel.eventLoop.makeSucceededFuture(
                                RPCPeer(
                                    transport: .tcp, address: channel.remoteAddress.map(Self.describe) ?? "?",
                                    host: channel.remoteAddress?.ipAddress,
                                    isLoopback: channel.remoteAddress?.ipAddress.map(TokenTransport.isLoopback) ?? false
                                )
                            )
                        }
                    }
                tcpPort = listener.channel.localAddress?.port
                listeners.append(listener)
            }
        } catch {
            for listener in listeners {
                try? await listener.channel.close()
            }
            socketFile?.remove()
            throw error
        }
        return RPCServer(
            configuration: configuration, router: router, logger: logger,
            listeners: listeners, admission: admission, socketFile: socketFile, tcpPort: tcpPort
        )
    }

    /// Serves until ``shutdown()`` (or the service group's graceful shutdown) and
    /// every connection has closed; then removes the socket file.
    public func run() async throws {
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                for listener in listeners {
                    group.addTask { await self.accept(on: listener) }
                }
            }
        } onGracefulShutdown: {
            self.shutdown()
        }
        state.withLock { $0.graceTimer?.cancel() }
        socketFile?.remove()
    }

    /// Stops accepting connections and calls, lets running calls finish for up
    /// to the grace period, then closes every connection. Idempotent.
    public func shutdown() {
        let connections: [ServerConnection]? = state.withLock { state in
            guard !state.draining else { return nil }
            state.draining = true
            return Array(state.connections.values)
        }
        guard let connections else { return }
        logger.info("shutting down: no new connections; running calls get \(configuration.shutdownGracePeriod) to finish")
        for listener in listeners {
            listener.channel.close(promise: nil)
        }
        for connection in connections {
            connection.drain()
        }
        let grace = configuration.shutdownGracePeriod.components
        let timer = listeners[0].channel.eventLoop.scheduleTask(
            in: .seconds(grace.seconds) + .nanoseconds(grace.attoseconds / 1_000_000_000)
        ) {
            let remaining = self.state.withLock { Array($0.connections.values) }
            for connection in remaining {
                connection.channel.close(promise: nil)
            }
        }
        state.withLock { $0.graceTimer = timer }
    }

    /// Open connections right now.
    public var connectionCount: Int {
        state.withLock { $0.connections.count }
    }

    /// Connections holding a place on a listener right now.
    public func openConnections(_ transport: RPCPeer.Transport) -> Int {
        admission.count(transport)
    }

    // MARK: Accepting

    private func accept(on listener: NIOAsyncChannel<Accepted, Never>) async {
        do {
            try await listener.executeThenClose { inbound in
                await withDiscardingTaskGroup { group in
                    do {
                        for try await accepted in inbound {
                            group.addTask { await self.serve(accepted) }
                        }
                    } catch {
                        self.logger.error("listener failed", metadata: ["error": "\(error)"])
                    }
                }
            }
        } catch {
            logger.error("listener failed", metadata: ["error": "\(error)"])
        }
    }

    private func serve(_ accepted: Accepted) async {
        let connection = accepted.connection
        let key = ObjectIdentifier(connection)
        let refusal: RPCStatus? = state.withLock { state in
            if state.draining {
                return RPCError.unavailable("the daemon is shutting down").status
            }
            if let refusal = connection.refusal { return refusal }
            state.connections[key] = connection
            return nil
        }
        if let refusal {
            await connection.fail(with: refusal)
            return
        }
        defer { state.withLock { _ = $0.connections.removeValue(forKey: key) } }

        do {
            try await accepted.channel.executeThenClose { inbound in
                do {
                    for try await call in inbound {
                        connection.start(call)
                    }
                } catch let error as RPCProtocolError {
                    await logDebug("protocol error", connection, error)
                    await connection.fail(with: error.status)
                }
            }
        } catch {
            await logDebug("connection ended", connection, error)
        }
        await connection.cancelAllAndWait()
    }

    /// A debug line about a connection, naming its peer (read on its loop only
    /// when debug lines are logged).
    private func logDebug(_ message: Logger.Message, _ connection: ServerConnection, _ error: any Error) async {
        guard logger.logLevel <= .debug else { return }
        let peer = await connection.peer()
        logger.debug(message, metadata: ["peer": "\(peer)", "error": "\(error)"])
    }

    // MARK: Channel setup

    private static func initialize(
        _ channel: any Channel,
        configuration: RPCServerConfiguration,
        router: RPCRouter,
        admission: ConnectionAdmission,
        logger: Logger,
        peer: @escaping @Sendable (any Channel) -> EventLoopFuture<RPCPeer>
    ) -> EventLoopFuture<Accepted> {
        peer(channel).flatMapThrowing { peer in
            let refusal = admission.admit(peer)
            if refusal == nil {
                // Given back however the connection ends, even if it never reaches `serve`.
                channel.closeFuture.whenComplete { _ in admission.release(peer.transport) }
            }
            let tls = peer.transport == .tcp ? configuration.tcp?.tls : nil
            let handler = ServerConnectionHandler(
                peer: peer,
                router: router,
                authentication: CallAuthentication(
                    tokens: peer.transport == .tcp ? configuration.tcp?.tokens?.current : nil,
                    refusesTokens: peer.transport == .tcp && tls == nil && !peer.isLoopback
                        && !(configuration.tcp?.allowPlainTokens ?? false),
                    acceptsClientCertificates: (tls?.files.clientCertificates ?? .none) != .none
                ),
                maxInFlight: configuration.maxInFlightPerConnection,
                maxFrameLength: configuration.maxFrameLength,
                isRefused: refusal != nil,
                logger: logger
            )
            let connection = ServerConnection(refusal: refusal, channel: channel, peer: peer, handler: handler)
            let handlers = channel.pipeline.syncOperations
            // First, so every byte read counts as activity, inline answers included.
            if let timeout = configuration.idleTimeout {
                let (seconds, attoseconds) = timeout.components
                try handlers.addHandler(IdleStateHandler(readTimeout: .seconds(seconds) + .nanoseconds(attoseconds / 1_000_000_000)))
            }
            if let tls {
                // The context current now: a reload changes what later connections get.
                try handlers.addHandler(NIOSSLServerHandler(context: tls.context))
                try handlers.addHandler(
                    TLSPeerSubjectHandler(
                        record: { [connection] subject in connection.recordCertificateSubject(subject) },
                        refused: { [logger] error in
                            logger.info("TLS handshake refused", metadata: ["peer": "\(peer)", "error": "\(error)"])
                        }
                    )
                )
            }
            if let timeout = configuration.frameTimeout {
                let (seconds, attoseconds) = timeout.components
                try handlers.addHandler(
                    FrameReadTimeout(timeout: .seconds(seconds) + .nanoseconds(attoseconds / 1_000_000_000)) { [logger] in
                        logger.info(
                            "closing a connection whose frame did not arrive whole within the frame timeout",
                            metadata: ["peer": "\(peer)", "timeout": "\(timeout)"]
                        )
                    }
                )
            }
            try handlers.addHandler(handler)
            let asyncChannel = try NIOAsyncChannel<ServerConnection.AdmittedCall, Never>(wrappingChannelSynchronously: channel)
            return Accepted(channel: asyncChannel, connection: connection)
        }
    }

    /// The caller's uid, gid and pid, read with SO_PEERCRED.
    static func peerCredentials(of channel: any Channel) -> EventLoopFuture<RPCPeer> {
        #if os(Linux)
        guard let provider = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeSucceededFuture(RPCPeer(transport: .unix))
        }
        return provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET),
            name: SocketOptionName(SO_PEERCRED)
        ).map { (credentials: PeerCredentials) in
            RPCPeer(transport: .unix, uid: credentials.uid, gid: credentials.gid, pid: credentials.pid)
        }
        #else
        return channel.eventLoop.makeSucceededFuture(RPCPeer(transport: .unix))
        #endif
    }

    /// The layout of Linux's `struct ucred` (pid, uid, gid), which Swift's Glibc
    /// module does not export because it needs _GNU_SOURCE.
    struct PeerCredentials: Sendable {
        var pid: Int32
        var uid: UInt32
        var gid: UInt32
    }

    private static func describe(_ address: SocketAddress) -> String {
        if let ip = address.ipAddress, let port = address.port {
            return address.protocol == .inet6 ? "[\(ip)]:\(port)" : "\(ip):\(port)"
        }
        return "\(address)"
    }
}
