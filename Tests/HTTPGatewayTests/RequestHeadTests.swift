import Foundation
import StorePlatformProto
import Testing

@testable import HTTPGateway

/// Requests whose head or body is malformed in ways HTTP or JSON forbid, answered
/// in the one error shape.
@Suite struct RequestHeadTests {
    private static let hostMissing = errorBody(
        "INVALID_ARGUMENT", "the request has no Host header; HTTP/1.1 requires exactly one: send Host: <host>:<port> of the gateway"
    )

    @Test func anHTTP11RequestWithoutHostIs400() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway { port in
            for target in ["/api/stores", "/api/health", "/"] {
                let response = try await RawHTTPClient.send(port: port, raw: "GET \(target) HTTP/1.1\r\nConnection: close\r\n\r\n")
                #expect(response.status == 400, "\(target)")
                #expect(response.body == Self.hostMissing, "\(target)")
                #expect(response.header("Content-Type") == "application/json")
                #expect(response.header("Connection") == "close")
                #expect(response.header("X-Request-Id")?.isEmpty == false)
            }
            let twice = try await RawHTTPClient.send(
                port: port, raw: "GET /api/stores HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n"
            )
            #expect(twice.status == 400)
            #expect(try errorFields(twice.body).message.hasPrefix("the request has 2 Host headers;"))
            // HTTP/1.0 did not have Host yet.
            let old = try await RawHTTPClient.send(port: port, raw: "GET /api/health HTTP/1.0\r\nConnection: close\r\n\r\n")
            #expect(old.status == 200)
            let created = try await RawHTTPClient.send(
                port: port,
                raw: "POST /api/stores HTTP/1.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n{\"name\":\"nohost\"}"
            )
            #expect(created.status == 400)
            #expect(try await RawHTTPClient.send(port: port, "GET", "/api/stores").body == #"{"stores":[],"nextPageToken":""}"#)
        }
    }

    /// Earlier requests on the connection are answered first, in order; the
    /// refusal ends the connection.
    @Test func aRefusalWaitsForEarlierResponsesAndEndsTheConnection() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway { port in
            let responses = try await sendPipelined(
                port: port,
                "GET /api/stores HTTP/1.1\r\nHost: localhost\r\n\r\n" + "GET /api/health HTTP/1.1\r\n\r\n"
                    + "GET /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n"
            )
            #expect(responses.map(\.status) == [200, 400])
            #expect(responses.last?.body == Self.hostMissing)
        }
    }

    @Test func aThousandHeadersAre431() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway { port in
            let expected = errorBody(
                "HEADERS_TOO_LARGE",
                "the request's headers are over the limit of 100 fields or 16384 bytes of names and values; send fewer or shorter headers"
            )
            let many = (1...1000).map { "X-Filler-\($0): x\r\n" }.joined()
            let response = try await RawHTTPClient.send(
                port: port, raw: "GET /api/stores HTTP/1.1\r\nHost: localhost\r\n\(many)Connection: close\r\n\r\n"
            )
            #expect(response.status == 431)
            #expect(response.body == expected)
            #expect(response.header("Content-Type") == "application/json")
            #expect(response.header("X-Request-Id")?.isEmpty == false)
            // One header over the byte limit.
            let long = String(repeating: "a", count: 20_000)
            let large = try await RawHTTPClient.send(
                port: port, raw: "GET /api/health HTTP/1.1\r\nHost: localhost\r\nX-Long: \(long)\r\nConnection: close\r\n\r\n"
            )
            #expect(large.status == 431)
            #expect(large.body == expected)
            // Within the limits, all is well.
            let some = (1...90).map { "X-Filler-\($0): x\r\n" }.joined()
            let fine = try await RawHTTPClient.send(
                port: port, raw: "GET /api/stores HTTP/1.1\r\nHost: localhost\r\n\(some)Connection: close\r\n\r\n"
            )
            #expect(fine.status == 200)
        }
    }

    @Test func theHeaderLimitsAreConfigurable() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway({ $0.maxHeaderCount = 20 }) { port in
            let some = (1...25).map { "X-Filler-\($0): x\r\n" }.joined()
            let response = try await RawHTTPClient.send(
                port: port, raw: "GET /api/stores HTTP/1.1\r\nHost: localhost\r\n\(some)Connection: close\r\n\r\n"
            )
            #expect(response.status == 431)
            #expect(try errorFields(response.body).message.contains("the limit of 20 fields"))
        }
    }

    @Test func aDuplicateJSONKeyIs400InvalidJSON() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway { port in
            let response = try await RawHTTPClient.send(port: port, "POST", "/api/stores", body: #"{"name":"first","name":"second"}"#)
            #expect(response.status == 400)
            #expect(
                response.body
                    == #"{"error":{"code":"INVALID_JSON","message":"the request body is not valid JSON for this call (the key \"name\" appears twice in one object); send each key once, as in {\"name\": \"...\", \"engine\": \"woocommerce\"}"}}"#
            )
            // The same key spelled with an escape is the same key.
            let escaped = try await RawHTTPClient.send(port: port, "POST", "/api/stores", body: #"{"name":"first","n\u0061me":"second"}"#)
            #expect(escaped.status == 400)
            #expect(try errorFields(escaped.body).message.contains(#"the key "name" appears twice"#))
            #expect(try await RawHTTPClient.send(port: port, "GET", "/api/stores").body == #"{"stores":[],"nextPageToken":""}"#)
        }
    }

    @Test func duplicateKeysAreFoundPerObjectAtAnyDepth() {
        func duplicate(_ json: String) -> String? { DuplicateJSONKeys.first(in: Array(json.utf8)) }
        #expect(duplicate(#"{"a":1,"b":2}"#) == nil)
        #expect(duplicate(#"{"a":1,"a":2}"#) == "a")
        #expect(duplicate(#" { "a" : { "b" : [1, {"c":true,"c":null}] } } "#) == "c")
        // The same key in two objects is no duplicate.
        #expect(duplicate(#"{"a":{"x":1},"b":{"x":2}}"#) == nil)
        #expect(duplicate(#"[{"x":1},{"x":2}]"#) == nil)
        // Keys compare after unescaping, a surrogate pair included.
        #expect(duplicate(#"{"\ud83d\ude00":1,"😀":2}"#) == "😀")
        #expect(duplicate(#"{"a\"b":1,"a\u0022b":2}"#) == #"a"b"#)
        #expect(duplicate(#"{"a\"b":1,"a\\b":2}"#) == nil)
        // Values that look like keys are not keys.
        #expect(duplicate(#"{"a":"a","b":"a"}"#) == nil)
        // Malformed input: no answer rather than a wrong one.
        #expect(duplicate(#"{"a":[1}"#) == nil)
    }
}
