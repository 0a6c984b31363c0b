import NIOCore

/// The event-loop side of a server connection: admits each request in frame
/// order, writes refusals and inline answers (flushed once per read), and passes
/// admitted calls on to the connection's async loop.
final class ServerConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = Envelope
    typealias InboundOut = ServerConnection.AdmittedCall
    typealias OutboundOut = Envelope

    let connection: ServerConnection
    private var needsFlush = false

    init(connection: ServerConnection) {
        self.connection = connection
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch connection.admit(unwrapInboundIn(data)) {
        case .answer(let envelope):
            context.write(wrapOutboundOut(envelope), promise: nil)
            needsFlush = true
        case .run(let call):
            context.fireChannelRead(wrapInboundOut(call))
        case .nothing:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if needsFlush {
            needsFlush = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }
}
