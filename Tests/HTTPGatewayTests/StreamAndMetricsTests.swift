import Foundation
import HTTPGateway
import Synchronization
import NIOCore
import StorePlatformProto
import Testing

/// Reads an open response incrementally until `done` holds for what arrived.
struct StreamReader {
    var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    var text = ""

    mutating func read(until done: (String) -> Bool) async throws {
        while !done(text) {
            guard let chunk = try await iterator.next() else { throw ClientError("stream ended; got: \(text)") }
            text += String(buffer: chunk)
        }
    }
}

/// Opens `GET /api/events` (or `target`, with `headers`), waits for its `: connected`
/// comment, and hands the stream's reader to `body`; the connection closes after it.
func withEventStream<T: Sendable>(
    port: Int, target: String = "/api/events", headers: [String: String] = [:], _ body: (inout StreamReader) async throws -> T
) async throws -> T {
    let channel = try await RawHTTPClient.connect(port: port)
    return try await channel.executeThenClose { inbound, outbound in
        try await outbound.write(ByteBuffer(string: RawHTTPClient.requestText("GET", target, headers: headers)))
        var reader = StreamReader(iterator: inbound.makeAsyncIterator())
        try await reader.read { $0.contains(": connected\n\n") }
        return try await body(&reader)
    }
}

/// The `data:` lines of the complete `event: store` frames (those the blank line
/// that ends a frame has arrived for), decoded.
func storeEvents(in text: String) throws -> [Storeplatform_V1_StoreEvent] {
    try text.components(separatedBy: "\n\n").dropLast().filter { $0.contains("event: store") }.map { frame in
        let data = try #require(frame.split(separator: "\n").first { $0.hasPrefix("data: ") })
        return try Storeplatform_V1_StoreEvent(apiJSON: String(data.dropFirst("data: ".count)))
    }
}

@Suite struct StreamAndMetricsTests {
    @Test func eventStreamDeliversTransitionsInOrderAndKeepAlives() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway({ $0.keepAliveInterval = .milliseconds(100) }) { port in
            try await withHangGuard {
                let channel = try await RawHTTPClient.connect(port: port)
                try await channel.executeThenClose { inbound, outbound in
                    try await outbound.write(ByteBuffer(string: RawHTTPClient.requestText("GET", "/api/events")))
                    var reader = StreamReader(iterator: inbound.makeAsyncIterator())
                    try await reader.read { $0.contains(": connected\n\n") }
                    let head = try RawHTTPClient.parse(reader.text)
                    #expect(head.status == 200)
                    #expect(head.header("Content-Type") == "text/event-stream")

                    let created = try await RawHTTPClient.send(port: port, "POST", "/api/stores", body: #"{"name":"streamed"}"#)
                    let id = try Storeplatform_V1_Store(apiJSON: created.body).id
                    try await reader.read { text in
                        ((try? storeEvents(in: text)) ?? []).contains { $0.toStatus == .ready }
                    }
                    let events = try storeEvents(in: reader.text).filter { $0.store.id == id }
                    #expect(events.map(\.toStatus) == [.queued, .provisioning, .ready])
                    #expect(events.map(\.action) == ["create", "provision", "ready"])
                    try await reader.read { $0.contains(": keep-alive\n\n") }
                }
            }
        }
    }

    @Test func eventStreamForOneStoreStartsWithItsCurrentState() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway { port in
            let created = try await RawHTTPClient.send(port: port, "POST", "/api/stores", body: #"{"name":"watched"}"#)
            let id = try Storeplatform_V1_Store(apiJSON: created.body).id
            _ = try await harness.waitFor(port: port, id: id, status: "ready")
            try await withHangGuard {
                let channel = try await RawHTTPClient.connect(port: port)
                try await channel.executeThenClose { inbound, outbound in
                    try await outbound.write(ByteBuffer(string: RawHTTPClient.requestText("GET", "/api/events?store_id=\(id)")))
                    var reader = StreamReader(iterator: inbound.makeAsyncIterator())
                    try await reader.read { ((try? storeEvents(in: $0)) ?? []).count == 1 }
                    let current = try #require(try storeEvents(in: reader.text).first)
                    #expect(current.action == "current")
                    #expect(current.store.status == .ready)
                }
            }
            let missing = try await RawHTTPClient.send(port: port, "GET", "/api/events?store_id=nope")
            #expect(missing.status == 404)
            #expect(missing.body == #"{"error":{"code":"NOT_FOUND","message":"no store with id \"nope\""}}"#)
        }
    }

    @Test func shutdownEndsOpenEventStreams() async throws {
        let harness = try GatewayHarness()
        let stream = Mutex<Task<String, any Error>?>(nil)
        // The bound only catches a hang: shutdown must end the open stream.
        try await withHangGuard {
            try await harness.withGateway { port in
                let (connected, signal) = AsyncStream<Void>.makeStream()
                let task = Task {
                    let channel = try await RawHTTPClient.connect(port: port)
                    return try await channel.executeThenClose { inbound, outbound in
                        try await outbound.write(ByteBuffer(string: RawHTTPClient.requestText("GET", "/api/events")))
                        var text = ""
                        for try await chunk in inbound {
                            text += String(buffer: chunk)
                            if text.contains(": connected") { signal.yield() }
                        }
                        return text
                    }
                }
                stream.withLock { $0 = task }
                for await _ in connected { break }
                // Return with the stream open: withGateway now shuts the gateway down.
            }
            let text = try await #require(stream.withLock { $0 }).value
            #expect(text.contains(": connected"))
        }
    }

    @Test func prometheusCountsRequestsAndStoresByStatus() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway { port in
            for _ in 0..<2 { _ = try await RawHTTPClient.send(port: port, "GET", "/api/health") }
            _ = try await RawHTTPClient.send(port: port, "GET", "/api/stores/nope")
            let created = try await RawHTTPClient.send(port: port, "POST", "/api/stores", body: #"{"name":"counted"}"#)
            let id = try Storeplatform_V1_Store(apiJSON: created.body).id
            _ = try await harness.waitFor(port: port, id: id, status: "ready")
            let scrape = try await RawHTTPClient.send(port: port, "GET", "/metrics")
            #expect(scrape.status == 200)
            #expect(scrape.header("Content-Type")?.hasPrefix("text/plain") == true)
            let lines = Set(scrape.body.split(separator: "\n").map(String.init))
            #expect(lines.contains(#"http_requests_total{route="/api/health",method="GET",status="200"} 2"#))
            #expect(lines.contains(#"http_requests_total{route="/api/stores/{id}",method="GET",status="404"} 1"#))
            #expect(lines.contains(#"http_requests_total{route="/api/stores",method="POST",status="202"} 1"#))
            #expect(lines.contains(#"storeplatform_stores{status="ready"} 1.0"#))
            #expect(lines.contains(#"storeplatform_stores{status="queued"} 0.0"#))
            #expect(lines.contains(#"storeplatform_provisioning_duration_seconds_count 1"#))
            #expect(lines.contains { $0.hasPrefix(#"http_request_duration_seconds_bucket{route="/api/health",le="#) })
            #expect(lines.contains { $0.hasPrefix("storeplatform_rate_limited_total") })
        }
    }

    @Test func staticFilesAreServedWithTypesAndNoTraversal() async throws {
        let harness = try GatewayHarness()
        let dashboard = harness.directory + "/dashboard"
        try FileManager.default.createDirectory(atPath: dashboard + "/js", withIntermediateDirectories: true)
        try "<h1>stores</h1>".write(toFile: dashboard + "/index.html", atomically: true, encoding: .utf8)
        try "console.log(1)".write(toFile: dashboard + "/js/app.js", atomically: true, encoding: .utf8)
        try "secret".write(toFile: harness.directory + "/outside.txt", atomically: true, encoding: .utf8)
        try await harness.withGateway({ $0.dashboardDirectory = dashboard }) { port in
            let index = try await RawHTTPClient.send(port: port, "GET", "/")
            #expect(index.status == 200)
            #expect(index.header("Content-Type") == "text/html; charset=utf-8")
            #expect(index.body == "<h1>stores</h1>")
            let script = try await RawHTTPClient.send(port: port, "GET", "/js/app.js")
            #expect(script.status == 200)
            #expect(script.header("Content-Type") == "text/javascript; charset=utf-8")
            #expect(script.body == "console.log(1)")
            for path in ["/../outside.txt", "/%2e%2e/outside.txt", "/js/../../outside.txt", "/js/%2E%2E/%2E%2E/outside.txt", "/missing.css"] {
                let refused = try await RawHTTPClient.send(port: port, "GET", path)
                #expect(refused.status == 404, "\(path)")
                #expect(try errorFields(refused.body).code == "NOT_FOUND")
                #expect(!refused.body.contains("secret"))
            }
            let post = try await RawHTTPClient.send(port: port, "POST", "/index.html", body: "")
            #expect(post.status == 405)
        }
    }

    @Test func missingDashboardAnswersANote() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway({ $0.dashboardDirectory = harness.directory + "/no-such-dir" }) { port in
            let index = try await RawHTTPClient.send(port: port, "GET", "/")
            #expect(index.status == 200)
            #expect(index.header("Content-Type") == "text/html; charset=utf-8")
            #expect(index.body.contains("dashboard files are not installed"))
            let other = try await RawHTTPClient.send(port: port, "GET", "/app.js")
            #expect(other.status == 404)
        }
    }
}
