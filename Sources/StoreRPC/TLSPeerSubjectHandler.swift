import NIOCore
import NIOSSL
import NIOTLS

/// Placed right after a `NIOSSLServerHandler`: once the handshake is done, hands
/// the subject of the client's verified certificate (RFC 4514, "CN=billing,O=Example")
/// to `record`, before any request of the connection is read. A client without a
/// certificate records nothing.
public final class TLSPeerSubjectHandler: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = NIOAny

    private let record: (String) -> Void

    public init(record: @escaping (String) -> Void) {
        self.record = record
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent,
            let certificate = try? context.pipeline.syncOperations.nioSSL_peerCertificate()
        {
            record(certificate.rfc4514Subject)
        }
        context.fireUserInboundEventTriggered(event)
    }
}

@available(*, unavailable)
extension TLSPeerSubjectHandler: Sendable {}
