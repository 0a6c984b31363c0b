import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import RPCTestSupport
import StorePlatformProto
import StoreRPC

/// The load client of the TLS rows: one connection on one event loop, plain or
/// TLS, sending Health request frames and parsing every answer. The same client
/// drives the echo floor and the daemon, so the difference is the server's.
final class NIOFrameLoad {
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let channel: any Channel
    private let handler: NIOLoopBound<LoadHandler>

    init(port: Int, tls: NIOSSLContext?) throws {
        let eventLoop = group.next()
        let handler = try eventLoop.submit { NIOLoopBound(LoadHandler(), eventLoop: eventLoop) }.wait()
        self.handler = handler
        channel = try ClientBootstrap(group: eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { [tls] channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: nil))
                    }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(handler.value)
                }
            }
            .connect(host: "127.0.0.1", port: port).wait()
    }

    /// `calls` sequential calls, each timed, after a warm-up of a tenth as many.
    func latency(calls: Int, server: ChildProcess) throws -> RPCBenchmark.Result {
        _ = try run(.sequential(max(1, calls / 10)))
        let switches = server.contextSwitches
        let cpu = server.cpuMicroseconds
        let start = DispatchTime.now().uptimeNanoseconds
        var samples = try run(.sequential(calls)).samples
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        samples.sort()
        return RPCBenchmark.Result(
            calls: calls, elapsed: elapsed, p50: samples[samples.count / 2], p99: samples[samples.count * 99 / 100],
            contextSwitches: server.contextSwitches - switches, cpuMicroseconds: server.cpuMicroseconds - cpu
        )
    }

    /// A closed loop keeping `inFlight` calls outstanding for `seconds`, after a warm-up.
    func throughput(inFlight: Int, seconds: Double, server: ChildProcess) throws -> RPCBenchmark.Result {
        _ = try run(.closedLoop(inFlight: inFlight, seconds: min(0.5, seconds / 4)))
        let switches = server.contextSwitches
        let cpu = server.cpuMicroseconds
        let start = DispatchTime.now().uptimeNanoseconds
        let calls = try run(.closedLoop(inFlight: inFlight, seconds: seconds)).answered
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return RPCBenchmark.Result(
            calls: calls, elapsed: elapsed, p50: nil, p99: nil,
            contextSwitches: server.contextSwitches - switches, cpuMicroseconds: server.cpuMicroseconds - cpu
        )
    }

    func close() {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }

    private func run(_ mode: LoadHandler.Mode) throws -> LoadHandler.Outcome {
        let promise = channel.eventLoop.makePromise(of: LoadHandler.Outcome.self)
        let handler = self.handler
        channel.eventLoop.execute { handler.value.start(mode, promise: promise) }
        return try promise.futureResult.wait()
    }

    /// Sends requests and counts answers, on the event loop.
    final class LoadHandler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        enum Mode {
            case sequential(Int)
            case closedLoop(inFlight: Int, seconds: Double)
        }

        struct Outcome {
            var samples: [Double] = []
            var answered = 0
        }

        private var context: ChannelHandlerContext?
        private var mode: Mode?
        private var promise: EventLoopPromise<Outcome>?
        private var outcome = Outcome()
        private var nextID: UInt32 = 1
        private var sentAt: UInt64 = 0
        private var end: UInt64 = 0
        private var outstanding = 0
        private var replacements = 0

        func handlerAdded(context: ChannelHandlerContext) {
            self.context = context
        }

        func start(_ mode: Mode, promise: EventLoopPromise<Outcome>) {
            guard let context else { return promise.fail(BlockingSocketError("not connected")) }
            self.mode = mode
            self.promise = promise
            outcome = Outcome()
            switch mode {
            case .sequential(let calls):
                outcome.samples.reserveCapacity(calls)
                send(1, context: context)
            case .closedLoop(let inFlight, let seconds):
                end = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
                // Answers a previous run left on the way count towards the level.
                send(max(0, inFlight - outstanding), context: context)
            }
            context.flush()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            do {
                try RPCBenchmark.verify(Array(buffer: unwrapInboundIn(data)), streamID: nil)
            } catch {
                return finish(failure: error)
            }
            outstanding -= 1
            outcome.answered += 1
            switch mode {
            case .sequential(let calls):
                outcome.samples.append(Double(DispatchTime.now().uptimeNanoseconds - sentAt) / 1000)
                if outcome.samples.count == calls { return finish() }
                send(1, context: context)
            case .closedLoop:
                replacements += 1
            case nil:
                break
            }
        }

        func channelReadComplete(context: ChannelHandlerContext) {
            if case .closedLoop = mode, replacements > 0 {
                if DispatchTime.now().uptimeNanoseconds >= end {
                    // Calls still on the way are answered into the next run, which
                    // sends only what tops them up to its level.
                    replacements = 0
                    finish()
                } else {
                    send(replacements, context: context)
                    replacements = 0
                }
            }
            context.flush()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            finish(failure: error)
            context.close(promise: nil)
        }

        private func send(_ count: Int, context: ChannelHandlerContext) {
            var buffer = context.channel.allocator.buffer(capacity: count * 64)
            for _ in 0..<count {
                let request = (try? RPCBenchmark.request(streamID: nextID)) ?? []
                nextID += 2
                buffer.writeInteger(UInt32(request.count))
                buffer.writeBytes(request)
            }
            outstanding += count
            sentAt = DispatchTime.now().uptimeNanoseconds
            context.write(wrapOutboundOut(buffer), promise: nil)
        }

        private func finish(failure: (any Error)? = nil) {
            guard let promise else { return }
            self.promise = nil
            mode = nil
            if let failure { promise.fail(failure) } else { promise.succeed(outcome) }
        }
    }
}
