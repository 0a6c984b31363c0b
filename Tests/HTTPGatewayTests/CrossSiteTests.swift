import Foundation
import HTTPGateway
import StorePlatformProto
import Testing

@testable import HTTPGateway

/// Changes (POST, DELETE) take JSON only and only from the gateway's own origin
/// or a configured CORS origin: what a page on another site can make the
/// operator's browser send (a form post, a cross-site fetch) changes nothing.
@Suite struct CrossSiteTests {
    /// The store list's JSON; `{}` when there are none.
    private static func storeList(port: Int) async throws -> String {
        let list = try await RawHTTPClient.send(port: port, "GET", "/api/stores")
        #expect(list.status == 200)
        return list.body
    }

    @Test func formPostsAre415AndCreateNothing() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway { port in
            let form = try await RawHTTPClient.send(
                port: port, "POST", "/api/stores", headers: ["Content-Type": "application/x-www-form-urlencoded"],
                body: "name=from-a-form"
            )
            #expect(form.status == 415)
            #expect(
                form.body
                    == errorBody(
                        "UNSUPPORTED_MEDIA_TYPE",
                        "POST /api/stores takes a JSON body, and the request had Content-Type: application/x-www-form-urlencoded; send the body as JSON with Content-Type: application/json"
                    )
            )
            // text/plain is the other type a form (enctype) can send without a preflight.
            let text = try await RawHTTPClient.send(
                port: port, "POST", "/api/stores", headers: ["Content-Type": "text/plain"], body: #"{"name":"from-text"}"#
            )
            #expect(text.status == 415)
            #expect(try errorFields(text.body).code == "UNSUPPORTED_MEDIA_TYPE")
            let untyped = try await RawHTTPClient.send(
                port: port, "POST", "/api/stores", headers: ["Content-Type": ""], body: #"{"name":"untyped"}"#
            )
            #expect(untyped.status == 415)
            #expect(try errorFields(untyped.body).message.contains("the request had no Content-Type"))
            #expect(try await Self.storeList(port: port) == #"{"stores":[],"nextPageToken":""}"#)
            // Parameters and case do not matter.
            let json = try await RawHTTPClient.send(
                port: port, "POST", "/api/stores", headers: ["Content-Type": "Application/JSON; charset=utf-8"], body: #"{"name":"typed"}"#
            )
            #expect(json.status == 202)
        }
    }

    @Test func aForeignOriginIs403AndCreatesNothing() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway { port in
            let response = try await RawHTTPClient.send(
                port: port, "POST", "/api/stores", headers: ["Origin": "http://evil.example"], body: #"{"name":"forged"}"#
            )
            #expect(response.status == 403)
            #expect(
                response.body
                    == errorBody(
                        "PERMISSION_DENIED",
                        "cross-site request refused: Origin http://evil.example is neither this gateway's origin (http://localhost) nor an origin allowed with --cors-origin; send changes from the dashboard's own origin, or allow this origin with --cors-origin http://evil.example"
                    )
            )
            // Same host, another port or scheme, is another origin; so is "null".
            for origin in ["http://localhost:8081", "https://localhost", "null"] {
                let other = try await RawHTTPClient.send(
                    port: port, "POST", "/api/stores", headers: ["Origin": origin], body: #"{"name":"forged"}"#
                )
                #expect(other.status == 403, "\(origin)")
            }
            #expect(try await Self.storeList(port: port) == #"{"stores":[],"nextPageToken":""}"#)
        }
    }

    @Test func aCrossSiteFetchIs403() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway { port in
            let response = try await RawHTTPClient.send(
                port: port, "POST", "/api/stores", headers: ["Sec-Fetch-Site": "cross-site"], body: #"{"name":"forged"}"#
            )
            #expect(response.status == 403)
            #expect(
                response.body
                    == errorBody(
                        "PERMISSION_DENIED",
                        "cross-site request refused: the browser sent it from another site (Sec-Fetch-Site: cross-site); send changes from the dashboard's own origin, or allow its origin with --cors-origin"
                    )
            )
            // same-site is a sibling origin, not ours: refused even with our Origin.
            let sameSite = try await RawHTTPClient.send(
                port: port, "POST", "/api/stores", headers: ["Sec-Fetch-Site": "same-site", "Origin": "http://localhost"],
                body: #"{"name":"forged"}"#
            )
            #expect(sameSite.status == 403)
            #expect(try errorFields(sameSite.body).code == "PERMISSION_DENIED")
            #expect(try await Self.storeList(port: port) == #"{"stores":[],"nextPageToken":""}"#)
        }
    }

    @Test func theGatewaysOwnOriginIs202() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway { port in
            // What a browser on the dashboard sends: its Origin is the Host it talks to.
            let response = try await RawHTTPClient.send(
                port: port, "POST", "/api/stores",
                headers: ["Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"], body: #"{"name":"dashboard"}"#
            )
            #expect(response.status == 202)
            let withPort = try await RawHTTPClient.send(
                port: port,
                raw: "POST /api/stores HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nOrigin: http://127.0.0.1:\(port)\r\n"
                    + "Content-Type: application/json\r\nContent-Length: 17\r\nConnection: close\r\n\r\n{\"name\":\"ported\"}"
            )
            #expect(withPort.status == 202)
        }
    }

    @Test func aConfiguredCORSOriginIs202() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway({ $0.corsOrigins = ["https://admin.example"] }) { port in
            let response = try await RawHTTPClient.send(
                port: port, "POST", "/api/stores",
                headers: ["Origin": "https://admin.example", "Sec-Fetch-Site": "cross-site"], body: #"{"name":"allowed"}"#
            )
            #expect(response.status == 202)
            #expect(response.header("Access-Control-Allow-Origin") == "https://admin.example")
            let other = try await RawHTTPClient.send(
                port: port, "POST", "/api/stores", headers: ["Origin": "https://evil.example"], body: #"{"name":"forged"}"#
            )
            #expect(other.status == 403)
        }
    }

    @Test func noOriginAtAllIs202() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway { port in
            // curl, storectl-like scripts and services send neither Origin nor Sec-Fetch-Site.
            let response = try await RawHTTPClient.send(
                port: port, "POST", "/api/stores", headers: ["Content-Type": "application/json"], body: #"{"name":"scripted"}"#
            )
            #expect(response.status == 202)
        }
    }

    @Test func aTrustedProxyNamesTheOriginalOrigin() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway({ $0.trustedProxies = ["127.0.0.1"] }) { port in
            let headers = [
                "Origin": "https://shop.example", "X-Forwarded-Host": "shop.example", "X-Forwarded-Proto": "https",
            ]
            let response = try await RawHTTPClient.send(port: port, "POST", "/api/stores", headers: headers, body: #"{"name":"proxied"}"#)
            #expect(response.status == 202)
        }
        // From a peer that is not a trusted proxy, the same headers count for nothing.
        let untrusted = try GatewayHarness()
        try await untrusted.withGateway { port in
            let headers = [
                "Origin": "https://shop.example", "X-Forwarded-Host": "shop.example", "X-Forwarded-Proto": "https",
            ]
            let response = try await RawHTTPClient.send(port: port, "POST", "/api/stores", headers: headers, body: #"{"name":"proxied"}"#)
            #expect(response.status == 403)
        }
    }

    @Test func retryAndDeleteFromAnotherSiteAre403() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway { port in
            let created = try await RawHTTPClient.send(port: port, "POST", "/api/stores", body: #"{"name":"kept"}"#)
            #expect(created.status == 202)
            let id = try Storeplatform_V1_Store(apiJSON: created.body).id
            _ = try await harness.waitFor(port: port, id: id, status: "ready")

            let delete = try await RawHTTPClient.send(port: port, "DELETE", "/api/stores/\(id)", headers: ["Origin": "http://evil.example"])
            #expect(delete.status == 403)
            #expect(try errorFields(delete.body).code == "PERMISSION_DENIED")
            let deleteFetch = try await RawHTTPClient.send(port: port, "DELETE", "/api/stores/\(id)", headers: ["Sec-Fetch-Site": "cross-site"])
            #expect(deleteFetch.status == 403)
            let retry = try await RawHTTPClient.send(port: port, "POST", "/api/stores/\(id)/retry", headers: ["Origin": "http://evil.example"])
            #expect(retry.status == 403)
            #expect(try errorFields(retry.body).code == "PERMISSION_DENIED")
            let retryFetch = try await RawHTTPClient.send(port: port, "POST", "/api/stores/\(id)/retry", headers: ["Sec-Fetch-Site": "cross-site"])
            #expect(retryFetch.status == 403)
            let store = try Storeplatform_V1_Store(apiJSON: try await RawHTTPClient.send(port: port, "GET", "/api/stores/\(id)").body)
            #expect(store.status == .ready)

            // Without a body and from no other site, both go through to the control plane.
            let retryPlain = try await RawHTTPClient.send(port: port, "POST", "/api/stores/\(id)/retry")
            #expect(retryPlain.status == 409)
            #expect(try errorFields(retryPlain.body).code == "INVALID_STATE_TRANSITION")
            let deletePlain = try await RawHTTPClient.send(port: port, "DELETE", "/api/stores/\(id)")
            #expect(deletePlain.status == 202)
        }
    }

    @Test func webOriginsCompareLikeBrowsersCompareThem() {
        #expect(WebOrigin(header: "http://Example.COM") == WebOrigin(scheme: "http", authority: "example.com:80"))
        #expect(WebOrigin(header: "https://example.com") == WebOrigin(scheme: "HTTPS", authority: "example.com:443"))
        #expect(WebOrigin(header: "http://[::1]:8080") == WebOrigin(scheme: "http", authority: "[::1]:8080"))
        #expect(WebOrigin(header: "http://[::1]") == WebOrigin(scheme: "http", authority: "[::1]"))
        #expect(WebOrigin(header: "http://example.com") != WebOrigin(scheme: "https", authority: "example.com"))
        #expect(WebOrigin(header: "http://example.com:8080")?.description == "http://example.com:8080")
        for malformed in ["null", "file://", "ftp://example.com", "http://example.com/path", "http://user@example.com", "http://example.com:x"] {
            #expect(WebOrigin(header: malformed) == nil, "\(malformed)")
        }
    }
}
