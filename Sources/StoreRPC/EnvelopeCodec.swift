import NIOCore
import StorePlatformEnvelope
import SwiftProtobuf

public typealias Envelope = Storeplatform_V1_Envelope

/// Parses each frame body into an `Envelope`. A body that does not parse fails
/// the channel with ``RPCProtocolError/malformedEnvelope(_:)`` and everything
/// after it is dropped.
public final class EnvelopeDecoder: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = Envelope

    private var failed = false

    public init() {}

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        let frame = unwrapInboundIn(data)
        do {
            let envelope = try Envelope(serializedBytes: ProtobufBytes(frame))
            context.fireChannelRead(wrapInboundOut(envelope))
        } catch {
            failed = true
            context.fireErrorCaught(RPCProtocolError.malformedEnvelope("\(error)"))
        }
    }
}

/// Serializes each outbound `Envelope` into one length-prefixed frame.
public final class EnvelopeEncoder: ChannelOutboundHandler, RemovableChannelHandler {
    public typealias OutboundIn = Envelope
    public typealias OutboundOut = ByteBuffer

    public init() {}

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let envelope = unwrapOutboundIn(data)
        do {
            let frame = try Self.frame(envelope, allocator: context.channel.allocator)
            context.write(wrapOutboundOut(frame), promise: promise)
        } catch {
            promise?.fail(error)
        }
    }

    /// One complete frame: the length prefix and the serialized envelope.
    public static func frame(_ envelope: Envelope, allocator: ByteBufferAllocator) throws -> ByteBuffer {
        let body: ProtobufBytes = try envelope.serializedBytes()
        return body.framed(allocator: allocator)
    }
}

public typealias StorePlatformFrameType = Storeplatform_V1_FrameType
