import Foundation
import StorePlatformProto
import StoreRPC
import Testing

@Suite struct BadInputTests {
    @Test func badNameIs400InvalidStoreName() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway { port in
            let response = try await RawHTTPClient.send(port: port, "POST", "/api/stores", body: #"{"name":"Bad_Name!"}"#)
            #expect(response.status == 400)
            #expect(try errorFields(response.body).code == "INVALID_STORE_NAME")
        }
    }

    @Test func malformedJSONIs400InvalidJSON() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway { port in
            let response = try await RawHTTPClient.send(port: port, "POST", "/api/stores", body: #"{"name":"#)
            #expect(response.status == 400)
            let error = try errorFields(response.body)
            #expect(error.code == "INVALID_JSON")
            #expect(error.message.contains("not valid JSON"))
            let empty = try await RawHTTPClient.send(port: port, "POST", "/api/stores", body: "")
            #expect(empty.status == 400)
            #expect(try errorFields(empty.body).code == "INVALID_JSON")
        }
    }

    @Test func unknownFieldIs400InvalidJSONNamingTheField() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway { port in
            let response = try await RawHTTPClient.send(port: port, "POST", "/api/stores", body: #"{"nmae":"shop"}"#)
            #expect(response.status == 400)
            #expect(
                response.body
                    == #"{"error":{"code":"INVALID_JSON","message":"the request body is not valid JSON for this call (unknown field \"nmae\"); send a JSON object such as {\"name\": \"...\", \"engine\": \"woocommerce\"}"}}"#
            )
        }
    }

    @Test func bodyOverTheLimitIs413() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway({ $0.maxBodyBytes = 100 }) { port in
            let big = #"{"name":""# + String(repeating: "a", count: 200) + #""}"#
            let response = try await RawHTTPClient.send(port: port, "POST", "/api/stores", body: big)
            #expect(response.status == 413)
            #expect(response.body == #"{"error":{"code":"PAYLOAD_TOO_LARGE","message":"the request body is larger than 100 bytes"}}"#)
            // Without Content-Length the limit applies while reading.
            let chunk = String(big.utf8.count, radix: 16)
            let chunked = try await RawHTTPClient.send(
                port: port,
                raw: "POST /api/stores HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\n"
                    + "Transfer-Encoding: chunked\r\n\r\n\(chunk)\r\n\(big)\r\n0\r\n\r\n"
            )
            #expect(chunked.status == 413)
            #expect(try errorFields(chunked.body).code == "PAYLOAD_TOO_LARGE")
        }
    }

    @Test func unknownRouteIs404AndWrongMethodIs405() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway { port in
            let unknown = try await RawHTTPClient.send(port: port, "GET", "/api/nope")
            #expect(unknown.status == 404)
            #expect(unknown.body == #"{"error":{"code":"NOT_FOUND","message":"no route for /api/nope; the API lives under /api (see openapi.yaml)"}}"#)
            let wrong = try await RawHTTPClient.send(port: port, "PUT", "/api/stores", body: "{}")
            #expect(wrong.status == 405)
            #expect(wrong.header("Allow") == "GET, HEAD, POST")
            #expect(wrong.body == #"{"error":{"code":"METHOD_NOT_ALLOWED","message":"PUT is not allowed on /api/stores; use GET, HEAD, POST"}}"#)
            let retryGet = try await RawHTTPClient.send(port: port, "GET", "/api/stores/x/retry")
            #expect(retryGet.status == 405)
            #expect(retryGet.header("Allow") == "POST")
            let health = try await RawHTTPClient.send(port: port, "DELETE", "/api/health")
            #expect(health.status == 405)
            #expect(health.header("Allow") == "GET, HEAD")
        }
    }

    @Test func tokenRequiredOnChangesButNotOnReads() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway({ $0.tokens = .init(BearerTokens(["s3cret"])) }) { port in
            let expected = #"{"error":{"code":"UNAUTHENTICATED","message":"this gateway requires a token for changes: send Authorization: Bearer <token>"}}"#
            let missing = try await RawHTTPClient.send(port: port, "POST", "/api/stores", body: #"{"name":"locked"}"#)
            #expect(missing.status == 401)
            #expect(missing.body == expected)
            let wrong = try await RawHTTPClient.send(
                port: port, "POST", "/api/stores", headers: ["Authorization": "Bearer nope"], body: #"{"name":"locked"}"#
            )
            #expect(wrong.status == 401)
            #expect(wrong.body == expected)
            let delete = try await RawHTTPClient.send(port: port, "DELETE", "/api/stores/whatever")
            #expect(delete.status == 401)
            #expect(delete.body == expected)
            let retry = try await RawHTTPClient.send(port: port, "POST", "/api/stores/whatever/retry")
            #expect(retry.status == 401)
            let list = try await RawHTTPClient.send(port: port, "GET", "/api/stores")
            #expect(list.status == 200)
            let good = try await RawHTTPClient.send(
                port: port, "POST", "/api/stores", headers: ["Authorization": "Bearer s3cret"], body: #"{"name":"locked"}"#
            )
            #expect(good.status == 202)
        }
    }

    @Test func noTokenConfiguredMeansNoneNeeded() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway { port in
            let response = try await RawHTTPClient.send(port: port, "POST", "/api/stores", body: #"{"name":"open"}"#)
            #expect(response.status == 202)
        }
    }
}
