import Hummingbird
import NIOCore

/// The per-request context: Hummingbird's core storage plus the peer's address,
/// which the rate limiter and the trusted-proxy rule need.
public struct GatewayContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The TCP peer's IP address, nil for a socket without one.
    public let peerAddress: String?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        peerAddress = source.channel.remoteAddress?.ipAddress
    }
}
