import ArgumentParser
import Foundation
import NIOCore
import NIOSSL

/// The floor for the TLS rows of the RPC benchmark: echoes bytes back on one
/// event loop, over TLS when given a certificate (plain otherwise), so the TLS
/// floor pays the same record layer the daemon does and nothing more.
struct FrameEchoServer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nio-echo-server",
        abstract: "Echo bytes on 127.0.0.1, optionally over TLS (the TLS rows' floor; started by `rpc`).",
        shouldDisplay: false
    )

    @Option(help: "PEM certificate; with --tls-key the server speaks TLS.")
    var tlsCert: String?

    @Option(help: "PEM key of --tls-cert.")
    var tlsKey: String?

    func run() async throws {
        var context: NIOSSLContext?
        if let tlsCert, let tlsKey {
            var configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(tlsCert).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: tlsKey, format: .pem))
            )
            configuration.minimumTLSVersion = .tlsv12
            context = try NIOSSLContext(configuration: configuration)
        }
        try await LoopbackServer.serve { [context] pipeline in
            if let context {
                try pipeline.addHandler(NIOSSLServerHandler(context: context))
            }
            try pipeline.addHandler(EchoHandler())
        }
    }

    /// Writes back what it reads; one flush per read burst.
    final class EchoHandler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            context.write(data, promise: nil)
        }

        func channelReadComplete(context: ChannelHandlerContext) {
            context.flush()
        }
    }
}
