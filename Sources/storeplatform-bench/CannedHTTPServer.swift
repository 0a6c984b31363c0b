import ArgumentParser
import Foundation
import NIOCore
import NIOPosix

/// wrk's ceiling for the router benchmark: answers every request head it sees with
/// the same fixed 200, on one event loop, without parsing HTTP beyond finding the
/// blank line that ends each head. What wrk reaches against it is the most the
/// client side can measure on this machine and pinning.
struct CannedHTTPServer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "canned-http-server",
        abstract: "Answer every HTTP request with one fixed 200 on 127.0.0.1 (wrk's ceiling; started by `router`).",
        shouldDisplay: false
    )

    @Option(help: "The body to answer with.")
    var body = #"{"status":"SERVING"}"#

    func run() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let answer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(CannedAnswerHandler(answer: ByteBuffer(string: answer)))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        FileHandle.standardOutput.write(Data("\(channel.localAddress?.port ?? 0)\nready\n".utf8))
        try await channel.closeFuture.get()
    }

    /// Counts the heads' ends (`\r\n\r\n`, possibly split across reads) and writes
    /// one answer for each; one flush per read burst. Requests have no bodies (wrk's GETs).
    final class CannedAnswerHandler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        private let answer: ByteBuffer
        /// How many bytes of `\r\n\r\n` the previous read ended with.
        private var matched = 0

        init(answer: ByteBuffer) {
            self.answer = answer
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let bytes = unwrapInboundIn(data)
            let end: [UInt8] = [13, 10, 13, 10]
            for byte in bytes.readableBytesView {
                if byte == end[matched] {
                    matched += 1
                    if matched == end.count {
                        matched = 0
                        context.write(wrapOutboundOut(answer), promise: nil)
                    }
                } else {
                    matched = byte == 13 ? 1 : 0
                }
            }
        }

        func channelReadComplete(context: ChannelHandlerContext) {
            context.flush()
        }
    }
}
