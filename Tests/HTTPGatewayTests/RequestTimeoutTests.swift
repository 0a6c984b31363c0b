import Foundation
import NIOCore
import Testing

/// The header-read and request-body timeouts: a client that trickles a request a
/// byte at a time is answered 408 REQUEST_TIMEOUT and closed long before the idle
/// timeout would act, while a keep-alive connection quiet between requests is
/// left to the idle timeout alone.
@Suite struct RequestTimeoutTests {
    /// Sends `prefix` at once, then `trickle` one byte every 200 ms, and reads
    /// until the gateway closes; returns what it read.
    static func trickle(port: Int, prefix: String, trickle: String) async throws -> String {
        let channel = try await RawHTTPClient.connect(port: port)
        return try await channel.executeThenClose { inbound, outbound in
            try await withThrowingTaskGroup(of: String?.self) { group in
                group.addTask {
                    if !prefix.isEmpty { try? await outbound.write(ByteBuffer(string: prefix)) }
                    for byte in trickle.utf8 {
                        do { try await outbound.write(ByteBuffer(bytes: [byte])) } catch { break }
                        try await Task.sleep(for: .milliseconds(200))
                    }
                    return nil
                }
                group.addTask {
                    var text = ""
                    do {
                        for try await chunk in inbound { text += String(buffer: chunk) }
                    } catch {
                        // A reset after the answer: what arrived is the answer.
                    }
                    return text
                }
                while let result = try await group.next() {
                    if let text = result {
                        group.cancelAll()
                        return text
                    }
                }
                throw ClientError("the reader never finished")
            }
        }
    }

    /// Reads one response with a Content-Length from a kept-alive connection.
    static func readResponse(_ iterator: inout NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator) async throws -> RawResponse {
        var text = ""
        while true {
            if let split = text.range(of: "\r\n\r\n") {
                let head = try RawHTTPClient.parse(String(text[..<split.upperBound]))
                let length = Int(head.header("Content-Length") ?? "0") ?? 0
                if text[split.upperBound...].utf8.count >= length { return try RawHTTPClient.parse(text) }
            }
            guard let chunk = try await iterator.next() else { throw ClientError("closed before a whole response: \(text)") }
            text += String(buffer: chunk)
        }
    }

    static let slowHead = "X-Slow: " + String(repeating: "a", count: 400)

    @Test func aTrickledHeadIsAnswered408AndClosed() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway({
            $0.headerTimeout = .seconds(1)
            $0.idleTimeout = .seconds(60)
        }) { port in
            try await withHangGuard {
                let text = try await Self.trickle(
                    port: port, prefix: "", trickle: "GET /api/health HTTP/1.1\r\nHost: localhost\r\n" + Self.slowHead
                )
                let response = try RawHTTPClient.parse(text)
                #expect(response.status == 408)
                #expect(response.header("Connection") == "close")
                #expect(response.body.contains(#"{"error":{"code":"REQUEST_TIMEOUT","message":"the request head did not arrive whole"#))
            }
        }
    }

    @Test func aTrickledBodyIsAnswered408AndClosed() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway({
            $0.bodyTimeout = .seconds(1)
            $0.idleTimeout = .seconds(60)
        }) { port in
            try await withHangGuard {
                let body = #"{"name":"slow"}"# + String(repeating: " ", count: 400)
                let head = "POST /api/stores HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                    + "Content-Length: \(body.utf8.count)\r\n\r\n"
                let text = try await Self.trickle(port: port, prefix: head, trickle: body)
                let response = try RawHTTPClient.parse(text)
                #expect(response.status == 408)
                #expect(response.body.contains(#"{"error":{"code":"REQUEST_TIMEOUT","message":"the request body did not arrive whole"#))
            }
        }
    }

    /// A connection quiet between requests for longer than the header timeout is
    /// still served; the next request trickled on it is cut by the header timeout.
    @Test func aKeptAliveConnectionIsNotCutBetweenRequests() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway({
            $0.headerTimeout = .seconds(1)
            $0.idleTimeout = .seconds(60)
        }) { port in
            try await withHangGuard {
                let channel = try await RawHTTPClient.connect(port: port)
                try await channel.executeThenClose { inbound, outbound in
                    var iterator = inbound.makeAsyncIterator()
                    let request = "GET /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n"
                    try await outbound.write(ByteBuffer(string: request))
                    #expect(try await Self.readResponse(&iterator).status == 200)
                    try await Task.sleep(for: .seconds(3))
                    try await outbound.write(ByteBuffer(string: request))
                    #expect(try await Self.readResponse(&iterator).status == 200)
                    // Now half a head, and nothing more: 408, then the connection closes.
                    try await outbound.write(ByteBuffer(string: "GET /api/health HTTP/1.1\r\nHo"))
                    let refused = try await Self.readResponse(&iterator)
                    #expect(refused.status == 408)
                    #expect(try await iterator.next() == nil)
                }
            }
        }
    }
}
