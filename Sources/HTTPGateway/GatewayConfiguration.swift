import StoreRPC

/// How the HTTP gateway listens and what it lets through.
public struct GatewayConfiguration: Sendable {
    /// Address to bind; 127.0.0.1 by default so nothing is exposed by accident.
    public var host = "127.0.0.1"
    /// Port to bind; 0 picks a free one (read it back through `onListening`).
    public var port = 8080
    /// Peer addresses whose `X-Forwarded-For` is believed. From any other peer the
    /// header is ignored, so a client cannot choose its own rate-limit bucket.
    public var trustedProxies: Set<String> = []
    /// Origins allowed to call the API from a browser. Empty turns CORS off: no
    /// preflight answers, no `Access-Control-*` headers. These are also the only
    /// origins besides the gateway's own whose changes (POST, DELETE) are accepted;
    /// see ``CrossSiteCheck``.
    public var corsOrigins: Set<String> = []
    /// Connections open at once; more are answered 503 UNAVAILABLE and closed.
    public var maxConnections = 256
    /// A connection that sends nothing for this long while no response of it is
    /// being written is closed: idle keep-alive connections, and clients stuck
    /// half-way through a request head or body; nil: never. An event stream being
    /// written stays however quiet its client is.
    public var idleTimeout: Duration? = .seconds(60)
    /// Once the first byte of a request head arrives, the whole head must arrive
    /// within this long; otherwise the client is answered 408 REQUEST_TIMEOUT and
    /// the connection is closed. nil: no limit. A keep-alive connection idle
    /// between requests is governed by ``idleTimeout`` alone.
    public var headerTimeout: Duration? = .seconds(10)
    /// Once a request head is in, its body must be complete within this long;
    /// otherwise 408 REQUEST_TIMEOUT (when nothing of a response was sent yet) and
    /// the connection is closed. nil: no limit.
    public var bodyTimeout: Duration? = .seconds(30)
    /// Largest request body accepted; larger ones get 413 PAYLOAD_TOO_LARGE.
    public var maxBodyBytes = 65_536
    /// Most header fields a request may have (trailers included); more get 431
    /// HEADERS_TOO_LARGE.
    public var maxHeaderCount = 100
    /// Most bytes of header names and values a request may have, all fields
    /// together; more get 431 HEADERS_TOO_LARGE.
    public var maxHeaderBytes = 16_384
    /// Directory of the dashboard's static files, served at `/`; nil or missing
    /// means `/` answers a short note instead.
    public var dashboardDirectory: String? = "clients/dashboard"
    /// When set, POST and DELETE need `Authorization: Bearer <token>` (or a verified
    /// client certificate); GETs stay open. A request with a valid token is made as
    /// `token:NAME`, one without as `http:ADDRESS`. Read at each request, so a
    /// reload applies to the next one.
    public var tokens: ReloadableBearerTokens?
    /// When set, the gateway speaks HTTPS only; each connection takes the context
    /// current when it is accepted.
    public var tls: ServerTLS?
    /// Accept bearer tokens over plain HTTP from peers that are not loopback
    /// (``TokenTransport``); off by default. A trusted proxy that says
    /// `X-Forwarded-Proto: https` counts as TLS.
    public var allowPlainTokens = false
    /// How often an idle event stream gets a `: keep-alive` comment.
    public var keepAliveInterval: Duration = .seconds(15)
    /// Event streams (`/api/events`) open at once; more get 503 UNAVAILABLE.
    public var maxEventStreams = 256

    public init() {}
}

public struct GatewayConfigurationError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
