import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import HTTPGateway

/// Reads every response of a kept-alive connection until the server closes it,
/// splitting them by Content-Length (the gateway never chunks these).
func sendPipelined(port: Int, _ raw: String) async throws -> [RawResponse] {
    let channel = try await RawHTTPClient.connect(port: port)
    let bytes = try await channel.executeThenClose { inbound, outbound in
        try await outbound.write(ByteBuffer(string: raw))
        var received: [UInt8] = []
        for try await chunk in inbound { received += chunk.readableBytesView }
        return received
    }
    var rest = Substring(String(decoding: bytes, as: UTF8.self))
    var responses: [RawResponse] = []
    while let split = rest.range(of: "\r\n\r\n") {
        var response = try RawHTTPClient.parse(String(rest[..<split.upperBound]))
        let length = Int(response.header("Content-Length") ?? "0") ?? 0
        let isHead = responses.count < headRequests(in: raw).count && headRequests(in: raw)[responses.count]
        let bodyLength = isHead ? 0 : length
        let body = rest[split.upperBound...].utf8.prefix(bodyLength)
        response.body = String(decoding: body, as: UTF8.self)
        responses.append(response)
        rest = rest[split.upperBound...].dropFirst(response.body.count)
    }
    return responses
}

/// For each request in `raw`, whether it is a HEAD (its response has no body).
private func headRequests(in raw: String) -> [Bool] {
    raw.components(separatedBy: "\r\n\r\n").filter { !$0.isEmpty }.map { $0.hasPrefix("HEAD ") }
}

private func request(_ method: String, _ target: String, _ headers: [String] = []) -> String {
    "\(method) \(target) HTTP/1.1\r\nHost: localhost\r\n" + headers.map { $0 + "\r\n" }.joined() + "\r\n"
}

@Suite struct HealthPathTests {
    /// Kept-alive health requests are answered in the connection's pipeline; one
    /// behind a slower request, and one asking to close, go through the responder.
    /// Either way the answers come in request order and look the same.
    @Test func keptAliveHealthAnswersInOrderAndLikeTheResponder() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway { port in
            let responses = try await sendPipelined(
                port: port,
                request("GET", "/api/health", ["X-Request-Id: first-one"]) + request("GET", "/api/stores?page_size=3")
                    + request("GET", "/api/health?verbose=1") + request("GET", "/api/stores/nope")
                    + request("GET", "/api/health", ["Connection: close"])
            )
            try #require(responses.count == 5, "\(responses.map(\.status))")
            #expect(responses.map(\.status) == [200, 200, 200, 404, 200])
            #expect(responses[0].header("X-Request-Id") == "first-one")
            for index in [0, 2, 4] {
                let health = responses[index]
                #expect(health.body.hasPrefix(#"{"status":"SERVING","version":"test""#), "\(health.body)")
                #expect(health.header("Content-Type") == "application/json")
                #expect(health.header("Content-Length") == String(health.body.utf8.count))
                #expect(health.header("Date")?.hasSuffix(" GMT") == true)
                #expect(health.header("X-Request-Id")?.isEmpty == false)
            }
            #expect(responses[1].body == #"{"stores":[],"nextPageToken":""}"#)
            #expect(responses[3].body.contains("NOT_FOUND"))
            // The same header names whichever path answered (the last went through the responder).
            let names = { (response: RawResponse) in Set(response.headers.map { $0.name.lowercased() }) }
            #expect(names(responses[0]) == names(responses[4]))
            let ids = Set(responses.compactMap { $0.header("X-Request-Id") })
            #expect(ids.count == 5)
        }
    }

    @Test func keptAliveHealthIsCountedAndCarriesCORS() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway({ $0.corsOrigins = ["http://dash.example"] }) { port in
            let responses = try await sendPipelined(
                port: port,
                request("GET", "/api/health", ["Origin: http://dash.example"])
                    + request("GET", "/api/health", ["Origin: http://evil.example"])
                    + request("GET", "/api/health") + request("GET", "/metrics", ["Connection: close"])
            )
            try #require(responses.count == 4)
            #expect(responses[0].header("Access-Control-Allow-Origin") == "http://dash.example")
            #expect(responses[0].header("Vary") == "Origin")
            #expect(responses[1].header("Access-Control-Allow-Origin") == nil)
            #expect(responses[1].header("Vary") == "Origin")
            let lines = Set(responses[3].body.split(separator: "\n").map(String.init))
            #expect(lines.contains(#"http_requests_total{route="/api/health",method="GET",status="200"} 3"#), "\(responses[3].body)")
        }
    }

    @Test func headAnswersLikeGetWithoutABody() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway { port in
            let responses = try await sendPipelined(
                port: port,
                request("GET", "/api/health") + request("HEAD", "/api/health") + request("HEAD", "/api/stores")
                    + request("HEAD", "/api/events") + request("HEAD", "/api/stores/nope")
                    + request("HEAD", "/api/stores/x/retry") + request("HEAD", "/api/events?store_id=nope")
                    + request("GET", "/api/stores", ["Connection: close"])
            )
            try #require(responses.count == 8, "\(responses.map(\.status))")
            #expect(responses.map(\.status) == [200, 200, 200, 200, 404, 405, 404, 200])
            // The uptime's digits vary between the two answers; the length is the GET's of its moment.
            let getLength = try #require(Int(responses[0].header("Content-Length") ?? ""))
            let headLength = try #require(Int(responses[1].header("Content-Length") ?? ""))
            #expect(abs(headLength - getLength) <= 20)
            #expect(responses[1].header("Content-Type") == "application/json")
            #expect(responses[2].header("Content-Length") == String(responses[7].body.utf8.count))
            // The event stream's HEAD: its headers, no length (the GET has none), no subscription.
            #expect(responses[3].header("Content-Type") == "text/event-stream")
            #expect(responses[3].header("Content-Length") == nil)
            #expect(responses[5].header("Allow") == "POST")
            for head in responses[1...6] { #expect(head.body.isEmpty) }
        }
    }
}

/// The handler itself, on an embedded channel: which requests it answers and
/// which it passes on.
@Suite struct InlineHealthHandlerTests {
    func makeChannel() throws -> (EmbeddedChannel, GatewayHarness) {
        let harness = try GatewayHarness()
        let responder = GatewayResponder(
            controlPlane: harness.controlPlane, configuration: GatewayConfiguration(), metrics: GatewayMetrics(),
            streams: EventStreams(), health: try HealthEncoder(controlPlane: harness.controlPlane),
            staticFiles: StaticFiles(directory: nil), connections: ConnectionLimit(limit: 10), logger: Logger(label: "test")
        )
        let channel = EmbeddedChannel(handler: InlineHealthHandler(responder: responder))
        return (channel, harness)
    }

    func send(
        _ channel: EmbeddedChannel, _ method: HTTPMethod, _ uri: String, version: HTTPVersion = .http1_1,
        _ headers: HTTPHeaders = [:]
    ) throws {
        try channel.writeInbound(HTTPServerRequestPart.head(HTTPRequestHead(version: version, method: method, uri: uri, headers: headers)))
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
    }

    /// The URI of the next request head passed on, if that is what comes next.
    func passedOnURI(_ channel: EmbeddedChannel) throws -> String? {
        guard case .head(let head) = try channel.readInbound(as: HTTPServerRequestPart.self) else { return nil }
        return head.uri
    }

    func answeredInline(_ channel: EmbeddedChannel) throws -> (HTTPResponseHead, String)? {
        guard case .head(let head) = try channel.readOutbound(as: HTTPServerResponsePart.self),
            case .body(.byteBuffer(let body)) = try channel.readOutbound(as: HTTPServerResponsePart.self),
            case .end(nil) = try channel.readOutbound(as: HTTPServerResponsePart.self)
        else { return nil }
        return (head, String(buffer: body))
    }

    @Test func answersHealthAndPassesEverythingElseOn() throws {
        let (channel, _) = try makeChannel()
        for uri in ["/api/health", "/api/health?check=1"] {
            try send(channel, .GET, uri, ["X-Request-Id": "probe-1"])
            let (head, body) = try #require(try answeredInline(channel))
            #expect(head.status == .ok)
            #expect(head.version == .http1_1)
            #expect(body.hasPrefix(#"{"status":"SERVING""#))
            #expect(head.headers["Content-Length"] == [String(body.utf8.count)])
            #expect(head.headers["Content-Type"] == ["application/json"])
            #expect(head.headers["X-Request-Id"] == ["probe-1"])
            #expect(head.headers["Date"].first?.hasSuffix(" GMT") == true)
            #expect(try channel.readInbound(as: HTTPServerRequestPart.self) == nil)
        }
        let others: [(HTTPMethod, String, HTTPVersion, HTTPHeaders)] = [
            (.HEAD, "/api/health", .http1_1, [:]), (.POST, "/api/health", .http1_1, [:]),
            (.GET, "/api/healthz", .http1_1, [:]), (.GET, "/api/health/x", .http1_1, [:]),
            (.GET, "/api/health", .http1_1, ["Connection": "close"]), (.GET, "/api/health", .http1_0, [:]),
        ]
        for (method, uri, version, headers) in others {
            try send(channel, method, uri, version: version, headers)
            #expect(try passedOnURI(channel) == uri, "\(method) \(uri) \(version) \(headers) was not passed on")
            #expect(try channel.readInbound(as: HTTPServerRequestPart.self) == .end(nil))
            #expect(try channel.readOutbound(as: HTTPServerResponsePart.self) == nil)
            // The responder's answer ends; the next request may be answered inline again.
            try channel.writeOutbound(HTTPServerResponsePart.end(nil))
            _ = try channel.readOutbound(as: HTTPServerResponsePart.self)
        }
    }

    /// Repeated headers read as the responder reads them: joined, so two request
    /// ids are no acceptable id and two origins no configured origin.
    @Test func repeatedHeadersReadLikeTheResponder() throws {
        let (channel, _) = try makeChannel()
        try send(channel, .GET, "/api/health", ["X-Request-Id": "one", "x-request-id": "two"])
        let id = try #require(try answeredInline(channel)?.0.headers["X-Request-Id"].first)
        #expect(id != "one" && id != "two")
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/", headers: ["Origin": "http://a", "Origin": "http://b"])
        #expect(InlineHealthHandler.value(of: "Origin", in: head) == "http://a, http://b")
        #expect(InlineHealthHandler.value(of: "X-Request-Id", in: head) == nil)
    }

    /// While the socket cannot take more, health goes to the responder, whose
    /// channel stops reading: answers must not pile up in the pipeline.
    @Test func passesHealthOnWhileTheSocketIsNotWritable() throws {
        let (channel, _) = try makeChannel()
        channel.isWritable = false
        try send(channel, .GET, "/api/health")
        #expect(try passedOnURI(channel) == "/api/health")
        #expect(try channel.readInbound(as: HTTPServerRequestPart.self) == .end(nil))
        #expect(try channel.readOutbound(as: HTTPServerResponsePart.self) == nil)
        try channel.writeOutbound(HTTPServerResponsePart.end(nil))
        _ = try channel.readOutbound(as: HTTPServerResponsePart.self)
        channel.isWritable = true
        try send(channel, .GET, "/api/health")
        #expect(try answeredInline(channel)?.0.status == .ok)
    }

    @Test func waitsForEarlierResponsesBeforeAnsweringHealth() throws {
        let (channel, _) = try makeChannel()
        try send(channel, .GET, "/api/stores")
        try send(channel, .GET, "/api/health")
        // Both passed on: /api/stores has not been answered yet.
        #expect(try passedOnURI(channel) == "/api/stores")
        #expect(try channel.readInbound(as: HTTPServerRequestPart.self) == .end(nil))
        #expect(try passedOnURI(channel) == "/api/health")
        #expect(try channel.readInbound(as: HTTPServerRequestPart.self) == .end(nil))
        #expect(try channel.readOutbound(as: HTTPServerResponsePart.self) == nil)
        // One answered: health still waits behind the other.
        try channel.writeOutbound(HTTPServerResponsePart.end(nil))
        try send(channel, .GET, "/api/health")
        #expect(try passedOnURI(channel) == "/api/health")
        #expect(try channel.readInbound(as: HTTPServerRequestPart.self) == .end(nil))
        // All answered by the responder: the next health request is answered inline.
        for _ in 0..<2 { try channel.writeOutbound(HTTPServerResponsePart.end(nil)) }
        while try channel.readOutbound(as: HTTPServerResponsePart.self) != nil {}
        try send(channel, .GET, "/api/health")
        #expect(try channel.readInbound(as: HTTPServerRequestPart.self) == nil)
        #expect(try answeredInline(channel)?.0.status == .ok)
    }
}

@Test func httpDateIsIMFFixdate() {
    var parts = tm()
    var seconds = time_t(1_795_980_167)  // 2026-11-29 19:22:47 UTC, a Sunday
    gmtime_r(&seconds, &parts)
    #expect(HTTPDate.format(parts) == "Sun, 29 Nov 2026 19:22:47 GMT")
    seconds = 1_704_171_906  // 2024-01-02 05:05:06 UTC, a Tuesday
    gmtime_r(&seconds, &parts)
    #expect(HTTPDate.format(parts) == "Tue, 02 Jan 2024 05:05:06 GMT")
}
