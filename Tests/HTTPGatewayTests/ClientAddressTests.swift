import Foundation
import StoreCore
import Testing

@Suite struct ClientAddressTests {
    @Test func rateLimitPerClientIs429WithRetryAfter() async throws {
        let harness = try GatewayHarness(limits: RateLimits(requestsPerMinute: 3, createsPerMinute: 100))
        try await harness.withGateway { port in
            for _ in 0..<3 {
                let status1 = try await RawHTTPClient.send(port: port, "GET", "/api/stores").status
            #expect(status1 == 200)
            }
            let refused = try await RawHTTPClient.send(port: port, "GET", "/api/stores")
            #expect(refused.status == 429)
            // 3 per minute: the next token is 20 s away.
            #expect(refused.header("Retry-After") == "20")
            #expect(try errorFields(refused.body).code == "RATE_LIMITED")
            // Health takes no token, so monitoring keeps working.
            let status2 = try await RawHTTPClient.send(port: port, "GET", "/api/health").status
            #expect(status2 == 200)
        }
    }

    @Test func forwardedForFromATrustedProxySeparatesClients() async throws {
        let harness = try GatewayHarness(limits: RateLimits(requestsPerMinute: 2, createsPerMinute: 100))
        try await harness.withGateway({ $0.trustedProxies = ["127.0.0.1"] }) { port in
            let first = ["X-Forwarded-For": "203.0.113.1, 10.0.0.9"]
            let second = ["X-Forwarded-For": "203.0.113.2"]
            let status3 = try await RawHTTPClient.send(port: port, "GET", "/api/stores", headers: first).status
            #expect(status3 == 200)
            let status4 = try await RawHTTPClient.send(port: port, "GET", "/api/stores", headers: first).status
            #expect(status4 == 200)
            let status5 = try await RawHTTPClient.send(port: port, "GET", "/api/stores", headers: first).status
            #expect(status5 == 429)
            let status6 = try await RawHTTPClient.send(port: port, "GET", "/api/stores", headers: second).status
            #expect(status6 == 200)
            let status7 = try await RawHTTPClient.send(port: port, "GET", "/api/stores", headers: second).status
            #expect(status7 == 200)
            let status8 = try await RawHTTPClient.send(port: port, "GET", "/api/stores", headers: second).status
            #expect(status8 == 429)
            // The proxy itself, without the header, has a bucket of its own.
            let status9 = try await RawHTTPClient.send(port: port, "GET", "/api/stores").status
            #expect(status9 == 200)
        }
    }

    @Test func forwardedForFromAnUntrustedPeerIsIgnored() async throws {
        let harness = try GatewayHarness(limits: RateLimits(requestsPerMinute: 2, createsPerMinute: 100))
        try await harness.withGateway { port in
            let status10 = try await RawHTTPClient.send(port: port, "GET", "/api/stores", headers: ["X-Forwarded-For": "203.0.113.1"]).status
            #expect(status10 == 200)
            let status11 = try await RawHTTPClient.send(port: port, "GET", "/api/stores", headers: ["X-Forwarded-For": "203.0.113.2"]).status
            #expect(status11 == 200)
            let third = try await RawHTTPClient.send(port: port, "GET", "/api/stores", headers: ["X-Forwarded-For": "203.0.113.3"])
            #expect(third.status == 429)
        }
    }

    @Test func corsIsOffByDefault() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway { port in
            let get = try await RawHTTPClient.send(port: port, "GET", "/api/stores", headers: ["Origin": "http://dash.example"])
            #expect(get.status == 200)
            #expect(get.header("Access-Control-Allow-Origin") == nil)
            let preflight = try await RawHTTPClient.send(
                port: port, "OPTIONS", "/api/stores",
                headers: ["Origin": "http://dash.example", "Access-Control-Request-Method": "POST"]
            )
            #expect(preflight.status == 405)
            #expect(preflight.header("Access-Control-Allow-Origin") == nil)
        }
    }

    @Test func corsAnswersConfiguredOriginsOnly() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway({ $0.corsOrigins = ["http://dash.example"] }) { port in
            let preflight = try await RawHTTPClient.send(
                port: port, "OPTIONS", "/api/stores",
                headers: ["Origin": "http://dash.example", "Access-Control-Request-Method": "POST"]
            )
            #expect(preflight.status == 204)
            #expect(preflight.header("Access-Control-Allow-Origin") == "http://dash.example")
            #expect(preflight.header("Access-Control-Allow-Methods") == "GET, HEAD, POST, OPTIONS")
            #expect(preflight.header("Access-Control-Allow-Headers")?.contains("Authorization") == true)
            let get = try await RawHTTPClient.send(port: port, "GET", "/api/stores", headers: ["Origin": "http://dash.example"])
            #expect(get.header("Access-Control-Allow-Origin") == "http://dash.example")
            let other = try await RawHTTPClient.send(port: port, "GET", "/api/stores", headers: ["Origin": "http://evil.example"])
            #expect(other.status == 200)
            #expect(other.header("Access-Control-Allow-Origin") == nil)
            let otherPreflight = try await RawHTTPClient.send(
                port: port, "OPTIONS", "/api/stores",
                headers: ["Origin": "http://evil.example", "Access-Control-Request-Method": "POST"]
            )
            #expect(otherPreflight.header("Access-Control-Allow-Origin") == nil)
            #expect(otherPreflight.header("Access-Control-Allow-Methods") == nil)
        }
    }
}
