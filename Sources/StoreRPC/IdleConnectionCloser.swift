import NIOCore

/// Closes a connection that has read nothing for the idle timeout (an
/// ``IdleStateHandler`` ahead of it says so) while none of its calls runs: an idle
/// client, or one stuck half-way through a frame, gives its place back. A quiet
/// connection whose call still runs (a WatchStores stream) is left alone.
final class IdleConnectionCloser: ChannelInboundHandler {
    typealias InboundIn = ServerConnection.AdmittedCall

    private let connection: ServerConnection

    init(connection: ServerConnection) {
        self.connection = connection
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            if !connection.hasCallsRunning {
                context.close(promise: nil)
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
