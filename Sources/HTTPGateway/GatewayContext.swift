import Hummingbird
import NIOCore

/// The per-request context: Hummingbird's core storage plus the peer's address,
/// which the rate limiter and the trusted-proxy rule need, and which connection
/// the request came on (to find its TLS client certificate, ``TLSPeerSubjects``).
public struct GatewayContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The TCP peer's IP address, nil for a socket without one.
    public let peerAddress: String?
    /// The connection the request came on.
    let connection: ObjectIdentifier
    /// Its channel, for socket options (``EventStreams/sendBufferBytes``).
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        peerAddress = source.channel.remoteAddress?.ipAddress
        connection = ObjectIdentifier(source.channel)
        channel = source.channel
    }
}
