import ArgumentParser
import Foundation
import NIOCore

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
        let answer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        try await LoopbackServer.serve { pipeline in
            try pipeline.addHandler(CannedAnswerHandler(answer: ByteBuffer(string: answer)))
        }
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
