#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Everything that shapes an ``RPCServer``. At least one of `unixSocket` and
/// `tcp` must be set.
public struct RPCServerConfiguration: Sendable {
    /// The admin control plane.
    public struct UnixSocket: Sendable {
        public var path: String
        /// File mode of the socket, 0660 by default.
        public var mode: UInt32 = 0o660
        /// Mode of the parent directory when the server creates it, 0750 by default.
        public var directoryMode: UInt32 = 0o750
        /// uids that may take the socket's reserved connection places
        /// (``RPCServerConfiguration/reservedAdminConnections``): the daemon's own
        /// uid and root by default. Which methods a uid may call is the handlers'
        /// business (the daemon's access policy).
        public var adminUIDs: Set<UInt32> = [0, UInt32(getuid())]

        public init(path: String) {
            self.path = path
        }
    }

    /// The listener for internal services.
    public struct TCP: Sendable {
        public var host: String = "127.0.0.1"
        /// 0 picks a free port; ``RPCServer/tcpPort`` tells which.
        public var port: Int
        /// When set, every call must carry `authorization: Bearer <token>` (or come
        /// with a verified client certificate). Read when a connection is accepted.
        public var tokens: ReloadableBearerTokens?
        /// When set, the listener speaks TLS only; the context is read when a
        /// connection is accepted.
        public var tls: ServerTLS?
        /// Accept bearer tokens in clear text from peers that are not loopback
        /// (``TokenTransport``); off by default.
        public var allowPlainTokens = false

        public init(host: String = "127.0.0.1", port: Int, tokens: ReloadableBearerTokens? = nil, tls: ServerTLS? = nil) {
            self.host = host
            self.port = port
            self.tokens = tokens
            self.tls = tls
        }
    }

    public var unixSocket: UnixSocket?
    public var tcp: TCP?
    /// Largest frame body accepted, in bytes. 4 MiB by default.
    public var maxFrameLength: Int = FrameDecoder.defaultMaxFrameLength
    /// Calls running at once on one connection; more get RESOURCE_EXHAUSTED.
    public var maxInFlightPerConnection: Int = 256
    /// Connections open at once on the Unix socket; more get an ERROR frame with
    /// RESOURCE_EXHAUSTED and are closed. Counted apart from TCP, so no number of
    /// TCP clients can lock the admins out.
    public var maxUnixConnections: Int = 128
    /// Of ``maxUnixConnections``, how many only admin uids may take: other local
    /// users cannot fill the socket either.
    public var reservedAdminConnections: Int = 16
    /// Connections open at once on the TCP listener; more get an ERROR frame with
    /// RESOURCE_EXHAUSTED and are closed.
    public var maxTCPConnections: Int = 384
    /// A connection that sends nothing for this long while no call of it runs is
    /// closed (idle clients, and clients stuck half-way through a frame); nil: never.
    /// A connection with a call running (a WatchStores stream) stays however quiet.
    public var idleTimeout: Duration? = .seconds(300)
    /// Once the first byte of a frame arrives, the whole frame must arrive within
    /// this long, or the connection is closed (a client trickling a frame cannot
    /// hold its place); nil: no limit. 10 seconds by default.
    public var frameTimeout: Duration? = .seconds(10)
    /// How long a graceful shutdown lets running calls finish before cancelling them.
    public var shutdownGracePeriod: Duration = .seconds(10)

    public init(unixSocket: UnixSocket? = nil, tcp: TCP? = nil) {
        self.unixSocket = unixSocket
        self.tcp = tcp
    }
}
