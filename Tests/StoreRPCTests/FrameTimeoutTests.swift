import Foundation
import RPCTestSupport
import StoreRPC
import Testing

/// The frame-read timeout: a client that trickles a frame a byte at a time is
/// closed once the frame timeout passes after the frame's first byte, on both
/// listeners, long before the idle timeout; other connections go on working.
@Suite struct FrameTimeoutTests {
    /// Sends the bytes one every 200 ms on a thread of its own; true when a send
    /// failed because the daemon closed the connection.
    static func trickle(_ connection: RawConnection, _ bytes: [UInt8]) async -> Bool {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                for byte in bytes {
                    do { try connection.send(bytes: [byte]) } catch {
                        continuation.resume(returning: true)
                        return
                    }
                    Thread.sleep(forTimeInterval: 0.2)
                }
                continuation.resume(returning: false)
            }
        }
    }

    @Test func aTrickledFrameClosesItsConnectionAndOthersGoOn() async throws {
        let server = try await TestServer.start {
            $0.frameTimeout = .seconds(1)
            $0.idleTimeout = .seconds(120)
        }
        let healthy = try await RPCClient.connect(to: server.tcp)
        #expect(try await healthy.unary(TestMethod.echo, request("before")).id == "before")
        let frame = BlockingFrameSocket.frame(try requestEnvelope(stream: 1, method: TestMethod.echo, id: String(repeating: "x", count: 200)).serializedBytes())
        for endpoint in [server.unix, server.tcp] {
            let slow = try RawConnection(endpoint)
            // 200 bytes at 200 ms each: 40 s, far more than the frame timeout.
            #expect(frame.count > 200)
            #expect(await Self.trickle(slow, Array(frame.prefix(200))), "the trickling connection on \(endpoint) was not closed")
            #expect(try await healthy.unary(TestMethod.echo, request("during")).id == "during")
        }
        try await eventually("the closed connections' places given back") {
            server.server.openConnections(.unix) == 0 && server.server.openConnections(.tcp) == 1
        }
        // A frame sent whole, after a pause longer than the frame timeout, is served.
        let patient = try RawConnection(server.tcp)
        try await Task.sleep(for: .seconds(2))
        try patient.send(try requestEnvelope(stream: 1, method: TestMethod.echo, id: "whole"))
        #expect(try await patient.receive() != nil)
        await healthy.close()
        try await server.stop()
    }
}
