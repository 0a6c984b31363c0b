import Foundation
import NIOCore
import NIOPosix

/// The benchmark's small servers (`nio-echo-server`, `canned-http-server`): on one
/// event loop, on 127.0.0.1 at a free port, each connection given the handlers
/// `addHandlers` adds. Prints the port and "ready" (what `ChildProcess.readPort()`
/// reads), then serves until the process is stopped.
enum LoopbackServer {
    static func serve(
        _ addHandlers: @escaping @Sendable (ChannelPipeline.SynchronousOperations) throws -> Void
    ) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try addHandlers(channel.pipeline.syncOperations) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        FileHandle.standardOutput.write(Data("\(channel.localAddress?.port ?? 0)\nready\n".utf8))
        try await channel.closeFuture.get()
    }
}
