import Foundation
import NIOCore

/// The client's side of a connection, on its event loop: assigns stream ids in
/// the order requests are written (so they strictly increase on the wire),
/// parses each frame's envelope (``WireEnvelope``), routes each answer to its
/// waiting call, and fails every waiting call when the connection ends.
final class ClientHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Pending {
        case unary(EventLoopPromise<WireEnvelope>)
        case stream(AsyncThrowingStream<WireEnvelope, any Error>.Continuation)
    }

    private var context: ChannelHandlerContext?
    private var nextStreamID: UInt32 = 1
    private var pending: [UInt32: Pending] = [:]
    /// Client call key → stream id, for cancelling.
    private var streams: [UInt64: UInt32] = [:]
    private var cancelledBeforeStart: Set<UInt64> = []
    private var closedWith: RPCError?
    /// A frame did not parse: the connection is being closed; the rest is ignored.
    private var failed = false

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    /// Writes a request for the call `key` and registers where its answer goes.
    func start(key: UInt64, request: WireEnvelope, pending entry: Pending) {
        if cancelledBeforeStart.remove(key) != nil {
            fail(entry, RPCError.cancelled("the call was cancelled before it was sent"))
            return
        }
        if let closedWith {
            fail(entry, closedWith)
            return
        }
        guard let context, nextStreamID < UInt32.max - 1 else {
            fail(entry, RPCError.unavailable("the connection has used all its stream ids; reconnect"))
            return
        }
        var request = request
        request.streamID = nextStreamID
        nextStreamID += 2
        pending[request.streamID] = entry
        streams[key] = request.streamID
        context.writeAndFlush(wrapOutboundOut(request.frame(allocator: context.channel.allocator)), promise: nil)
    }

    /// Cancels the call `key`: sends CANCEL and fails the caller at once.
    func cancel(key: UInt64, with error: RPCError) {
        guard let streamID = streams.removeValue(forKey: key) else {
            cancelledBeforeStart.insert(key)
            return
        }
        guard let entry = pending.removeValue(forKey: streamID) else { return }
        if let context {
            let frame = WireEnvelope.frame(streamID: streamID, type: .cancel, allocator: context.channel.allocator)
            context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
        }
        fail(entry, error)
    }

    /// Forgets a call that ended.
    func finished(key: UInt64) {
        streams.removeValue(forKey: key)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        let envelope: WireEnvelope
        do {
            envelope = try WireEnvelope(parsing: unwrapInboundIn(data))
        } catch {
            failed = true
            errorCaught(context: context, error: RPCProtocolError.malformedEnvelope("\(error)"))
            return
        }
        if envelope.type == .error {
            closeAll(RPCError(envelope.statusOrOK))
            context.close(promise: nil)
            return
        }
        guard let entry = pending[envelope.streamID] else { return }
        switch (entry, envelope.type) {
        case (.unary(let promise), _):
            pending[envelope.streamID] = nil
            promise.succeed(envelope)
        case (.stream(let continuation), .streamMessage):
            continuation.yield(envelope)
        case (.stream(let continuation), _):
            pending[envelope.streamID] = nil
            let status = envelope.statusOrOK
            if status.code == .ok {
                continuation.finish()
            } else {
                continuation.finish(throwing: RPCError(status, metadata: envelope.metadata))
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let status: RPCStatus =
            if case .frameTooLarge(let length, _) = error as? RPCProtocolError, TLSFailure.looksLikeTLSRecord(length) {
                RPCStatus(
                    code: .unavailable, errorCode: "UNAVAILABLE",
                    message: "the daemon answered in TLS: this port speaks TLS; connect with TLS (storectl --tls and --tls-ca)"
                )
            } else if let error = error as? RPCProtocolError {
                error.status
            } else {
                RPCStatus(code: .unavailable, errorCode: "UNAVAILABLE", message: TLSFailure.explain(error).map { "TLS failed: \($0)" } ?? "connection failed: \(error)")
            }
        closeAll(RPCError(status))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        closeAll(RPCError.unavailable("the connection to the daemon closed"))
        context.fireChannelInactive()
    }

    private func closeAll(_ error: RPCError) {
        if closedWith == nil { closedWith = error }
        let entries = pending.values
        pending.removeAll()
        streams.removeAll()
        for entry in entries {
            fail(entry, error)
        }
    }

    private func fail(_ entry: Pending, _ error: RPCError) {
        switch entry {
        case .unary(let promise): promise.fail(error)
        case .stream(let continuation): continuation.finish(throwing: error)
        }
    }
}
