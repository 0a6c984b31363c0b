import Foundation
import HTTPGateway
import ProcessTestSupport
import StoreRPC
import Testing

/// Bearer tokens travel only over TLS or loopback (TokenTransport).
@Suite struct TokenTransportTests {
    static let refused = #"{"error":{"code":"UNAUTHENTICATED","message":"tokens travel only over TLS or loopback: start the daemon with --tls-cert/--tls-key, or --allow-plain-tokens to accept this"}}"#

    @Test(.enabled(if: outsideAddress != nil, "this machine has no non-loopback IPv4 address to call from"))
    func aTokenInClearFromAnotherHostIsRefusedUnlessATrustedProxySaysHTTPS() async throws {
        let address = try #require(outsideAddress)
        let harness = try GatewayHarness()
        try await harness.withGateway({
            $0.host = "0.0.0.0"
            $0.tokens = .init(BearerTokens(["s3cret"]))
            $0.trustedProxies = [address]
        }) { port in
            let token = ["Authorization": "Bearer s3cret"]
            let remote = try await RawHTTPClient.send(host: address, port: port, "GET", "/api/stores", headers: token)
            #expect(remote.status == 401)
            #expect(remote.body == Self.refused)
            // A trusted proxy that says the client spoke HTTPS to it.
            let proxied = try await RawHTTPClient.send(
                host: address, port: port, "GET", "/api/stores", headers: token.merging(["X-Forwarded-Proto": "https"]) { a, _ in a }
            )
            #expect(proxied.status == 200, "\(proxied.body)")
            let proxiedPlain = try await RawHTTPClient.send(
                host: address, port: port, "GET", "/api/stores", headers: token.merging(["X-Forwarded-Proto": "http"]) { a, _ in a }
            )
            #expect(proxiedPlain.status == 401)
            // No token, no refusal; loopback, no refusal.
            #expect(try await RawHTTPClient.send(host: address, port: port, "GET", "/api/stores").status == 200)
            #expect(try await RawHTTPClient.send(port: port, "GET", "/api/stores", headers: token).status == 200)
        }
    }

    @Test(.enabled(if: outsideAddress != nil, "this machine has no non-loopback IPv4 address to call from"))
    func allowPlainTokensAcceptsThem() async throws {
        let address = try #require(outsideAddress)
        let harness = try GatewayHarness()
        try await harness.withGateway({
            $0.host = "0.0.0.0"
            $0.tokens = .init(BearerTokens(["s3cret"]))
            $0.allowPlainTokens = true
        }) { port in
            let created = try await RawHTTPClient.send(
                host: address, port: port, "POST", "/api/stores", headers: ["Authorization": "Bearer s3cret"], body: #"{"name":"plain-ok"}"#
            )
            #expect(created.status == 202, "\(created.body)")
        }
    }
}
