/// Who is on the other end of a connection, as far as the transport can tell.
public struct RPCPeer: Sendable, Hashable, CustomStringConvertible {
    public enum Transport: String, Sendable, Hashable {
        case unix
        case tcp
    }

    public var transport: Transport
    /// Unix socket: the caller's uid, gid and pid from SO_PEERCRED.
    public var uid: UInt32?
    public var gid: UInt32?
    public var pid: Int32?
    /// TCP: the remote address, "127.0.0.1:53412".
    public var address: String?
    /// TCP: the remote IP address without the port, "127.0.0.1" or "::1": what
    /// names a caller without a token (`tcp:127.0.0.1`), so every connection of one
    /// host is one caller.
    public var host: String?
    /// TCP: whether the remote address is a loopback one.
    public var isLoopback: Bool
    /// TCP over TLS: the subject of the client's verified certificate, RFC 4514
    /// style ("CN=billing,O=Example"); nil without one.
    public var certificateSubject: String?

    public init(
        transport: Transport, uid: UInt32? = nil, gid: UInt32? = nil, pid: Int32? = nil, address: String? = nil,
        host: String? = nil, isLoopback: Bool = false, certificateSubject: String? = nil
    ) {
        self.transport = transport
        self.uid = uid
        self.gid = gid
        self.pid = pid
        self.address = address
        self.host = host
        self.isLoopback = isLoopback
        self.certificateSubject = certificateSubject
    }

    public var description: String {
        switch transport {
        case .unix: "unix(uid=\(uid.map(String.init) ?? "?"), gid=\(gid.map(String.init) ?? "?"), pid=\(pid.map(String.init) ?? "?"))"
        case .tcp: "tcp(\(address ?? "?")\(certificateSubject.map { ", cert \($0)" } ?? ""))"
        }
    }
}

/// Everything a handler knows about the call it is serving.
public struct RPCContext: Sendable {
    /// The full method name, "/storeplatform.v1.PlatformService/Health".
    public var method: String
    public var streamID: UInt32
    /// The caller's request id, or one the server made; echoed on the response.
    public var requestID: String
    /// The request's metadata (lower-case keys).
    public var metadata: [String: String]
    public var peer: RPCPeer
    /// Who the caller is, `kind:name`, for access checks, rate limits and the audit
    /// log: "uid:1000", "cert:CN=billing,O=Example" (a verified client certificate's
    /// subject), "token:ci" (the token's name in the token file, or its number when
    /// unnamed), or "tcp:127.0.0.1" (TCP without a token file).
    public var identity: String
    /// When the call must be over, if the caller set a deadline.
    public var deadline: ContinuousClock.Instant?

    public init(
        method: String,
        streamID: UInt32,
        requestID: String,
        metadata: [String: String],
        peer: RPCPeer,
        identity: String,
        deadline: ContinuousClock.Instant?
    ) {
        self.method = method
        self.streamID = streamID
        self.requestID = requestID
        self.metadata = metadata
        self.peer = peer
        self.identity = identity
        self.deadline = deadline
    }
}
