import NIOCore
import StoreCore
import Synchronization

/// The gateway's open connections, against ``GatewayConfiguration/maxConnections``.
/// A connection over the cap gets a 503 in the error shape and is closed before
/// anything it sends is read, so a flood of idle connections can never take the
/// daemon's last file descriptors.
final class ConnectionLimit: Sendable {
    let limit: Int
    private let open = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = limit
    }

    var count: Int { open.load(ordering: .relaxed) }

    /// Takes a place for the connection (given back when it closes), or adds the
    /// handler that refuses it.
    func admit(_ channel: any Channel) throws {
        let (taken, _) = open.wrappingAdd(1, ordering: .relaxed)
        guard taken < limit else {
            open.wrappingSubtract(1, ordering: .relaxed)
            try channel.pipeline.syncOperations.addHandler(RefuseConnection(limit: limit), position: .first)
            return
        }
        channel.closeFuture.whenComplete { _ in self.open.wrappingSubtract(1, ordering: .relaxed) }
    }
}

/// First in the pipeline of a connection over the cap: answers 503 straight onto
/// the socket once it is active, reads nothing, and closes.
final class RefuseConnection: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    /// The channel may already be active when the handler is added (the server's
    /// setup runs asynchronously): refuse at once then, else when it becomes active.
    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { refuse(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        refuse(context: context)
    }

    private func refuse(context: ChannelHandlerContext) {
        let body = GatewayError(
            PlatformError(.unavailable, "too many connections (limit \(limit)); close idle connections and retry")
        ).body
        var response = ByteBuffer(
            string: "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: \(body.readableBytes)\r\nConnection: close\r\n\r\n"
        )
        response.writeImmutableBuffer(body)
        context.writeAndFlush(wrapOutboundOut(response)).whenComplete { _ in
            context.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
