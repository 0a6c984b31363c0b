import Logging
import NIOCore

/// Closes a connection whose frame does not arrive whole within the frame timeout
/// after its first byte: a client that trickles a frame a byte at a time cannot
/// hold a connection place for ever. It sits right before ``FrameDecoder`` (after
/// TLS), follows the frame boundaries from each frame's 4-byte length, and keeps a
/// timer only while a frame is part-way in. Nothing can be answered in the middle
/// of a frame, so the connection is just closed (logged at info with the peer).
///
/// Time the daemon itself stops reading (back-pressure from a connection whose
/// calls pile up) does not count against the client: the timer closes the
/// connection only when a read was asked for and no byte came.
final class FrameReadTimeout: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = Never

    private let timeout: TimeAmount
    private let onExpiry: () -> Void
    /// Bytes of the current frame's length prefix seen so far, 0...4.
    private var headerSeen = 0
    private var length: UInt32 = 0
    /// Body bytes of the current frame still to come, once its header is in.
    private var bodyLeft = 0
    private var timer: Scheduled<Void>?
    /// A read was asked for since the last bytes came: the daemon is waiting on the client.
    private var readRequested = false

    init(timeout: TimeAmount, onExpiry: @escaping () -> Void) {
        self.timeout = timeout
        self.onExpiry = onExpiry
    }

    private var inFrame: Bool { headerSeen > 0 }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        readRequested = false
        var completed = false
        var index = buffer.readerIndex
        let end = buffer.writerIndex
        // Walked in locals, stored back once: the loop runs for every frame.
        var (headerSeen, length, bodyLeft) = (self.headerSeen, self.length, self.bodyLeft)
        while index < end {
            if headerSeen < FrameDecoder.headerLength {
                length = length << 8 | UInt32(buffer.getInteger(at: index, as: UInt8.self)!)
                headerSeen += 1
                index += 1
                if headerSeen == FrameDecoder.headerLength { bodyLeft = Int(length) }
            } else {
                let taken = min(bodyLeft, end - index)
                bodyLeft -= taken
                index += taken
            }
            if headerSeen == FrameDecoder.headerLength && bodyLeft == 0 {
                headerSeen = 0
                length = 0
                completed = true
            }
        }
        (self.headerSeen, self.length, self.bodyLeft) = (headerSeen, length, bodyLeft)
        if completed || !inFrame {
            timer?.cancel()
            timer = nil
        }
        if inFrame && timer == nil { arm(context: context) }
        context.fireChannelRead(data)
    }

    func read(context: ChannelHandlerContext) {
        readRequested = true
        context.read()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    private func arm(context: ChannelHandlerContext) {
        let context = context
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            timer = nil
            guard inFrame else { return }
            guard readRequested || !context.channel.isActive else {
                // The daemon stopped reading; the client is not the one behind.
                arm(context: context)
                return
            }
            onExpiry()
            context.close(promise: nil)
        }
    }
}
