import NIOCore
import NIOSSL
import NIOTLS

/// Placed right after a `NIOSSLServerHandler`: once the handshake is done, hands
/// the subject of the client's verified certificate (RFC 4514, "CN=billing,O=Example")
/// to `record`, before any request of the connection is read. A client without a
/// certificate records nothing. A handshake that fails (an untrusted or expired
/// client certificate, a client that does not speak TLS) is handed to `refused`.
public final class TLSPeerSubjectHandler: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = NIOAny

    private let record: (String) -> Void
    private let refused: (any Error) -> Void
    private var handshakeDone = false

    public init(record: @escaping (String) -> Void, refused: @escaping (any Error) -> Void = { _ in }) {
        self.record = record
        self.refused = refused
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent {
            handshakeDone = true
            if let certificate = try? context.pipeline.syncOperations.nioSSL_peerCertificate() {
                record(certificate.rfc4514Subject)
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !handshakeDone {
            handshakeDone = true
            refused(error)
        }
        context.fireErrorCaught(error)
    }
}

@available(*, unavailable)
extension TLSPeerSubjectHandler: Sendable {}
