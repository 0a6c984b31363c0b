import Foundation
import StoreCore
import StoreRPC
import Testing

/// The gateway names its callers (a token's name, else the address) and the
/// ControlPlane's access policy decides, as for RPC: refusals are 403 saying what
/// was missing.
@Suite struct AccessTests {
    static let tokens = BearerTokens([
        .init(name: "ci", secret: "ci-secret"), .init(name: "ops", secret: "ops-secret"),
    ])

    static func policy(_ text: String) throws -> AccessPolicy {
        AccessPolicy(adminUIDs: [], rules: try AccessFile.parse(text, path: "/etc/storeplatform/access.conf"), file: "/etc/storeplatform/access.conf")
    }

    static func bearer(_ secret: String) -> [String: String] { ["Authorization": "Bearer \(secret)"] }

    @Test func aViewerTokenMayReadButNotChange() async throws {
        let harness = try GatewayHarness(access: try Self.policy("token:ci viewer\ntoken:ops operator\n"))
        try await harness.withGateway({ $0.tokens = ReloadableBearerTokens(Self.tokens) }) { port in
            let created = try await RawHTTPClient.send(
                port: port, "POST", "/api/stores", headers: Self.bearer("ops-secret"), body: #"{"name":"shop"}"#
            )
            #expect(created.status == 202)
            #expect(created.body.contains(#""owner":"token:ops""#), "\(created.body)")
            let id = try #require(created.body.firstMatch(of: /"id":"(st_[a-z0-9]+)"/)?.output.1)

            let create = try await RawHTTPClient.send(
                port: port, "POST", "/api/stores", headers: Self.bearer("ci-secret"), body: #"{"name":"other"}"#
            )
            #expect(create.status == 403)
            #expect(
                create.body
                    == #"{"error":{"code":"PERMISSION_DENIED","message":"token:ci is a viewer; CreateStore needs the operator role (grant it in /etc/storeplatform/access.conf)"}}"#
            )
            let delete = try await RawHTTPClient.send(port: port, "DELETE", "/api/stores/\(id)", headers: Self.bearer("ci-secret"))
            #expect(delete.status == 403)
            #expect(delete.body.contains("token:ci is a viewer; DeleteStore needs the operator role"))
            let retry = try await RawHTTPClient.send(port: port, "POST", "/api/stores/\(id)/retry", headers: Self.bearer("ci-secret"))
            #expect(retry.status == 403)

            let read = try await RawHTTPClient.send(port: port, "GET", "/api/stores/\(id)", headers: Self.bearer("ci-secret"))
            #expect(read.status == 200)
            #expect(read.body.contains(#""owner":"token:ops""#))
            let list = try await RawHTTPClient.send(port: port, "GET", "/api/stores")
            #expect(list.body.contains(#""owner":"token:ops""#))

            let deleted = try await RawHTTPClient.send(port: port, "DELETE", "/api/stores/\(id)", headers: Self.bearer("ops-secret"))
            #expect(deleted.status == 202)
        }
    }

    /// A refusal is not charged to the caller's rate limits: a refused caller keeps
    /// its whole budget.
    @Test func refusalsDoNotSpendTheRateLimit() async throws {
        let harness = try GatewayHarness(
            limits: RateLimits(requestsPerMinute: 2, createsPerMinute: 1), access: try Self.policy("http:* viewer\n")
        )
        try await harness.withGateway { port in
            for _ in 0..<4 {
                let refused = try await RawHTTPClient.send(port: port, "POST", "/api/stores", body: #"{"name":"shop"}"#)
                #expect(refused.status == 403)
                #expect(refused.body.contains("http:127.0.0.1 is a viewer; CreateStore needs the operator role"))
            }
            #expect(try await RawHTTPClient.send(port: port, "GET", "/api/stores").status == 200)
            #expect(try await RawHTTPClient.send(port: port, "GET", "/api/stores").status == 200)
            #expect(try await RawHTTPClient.send(port: port, "GET", "/api/stores").status == 429)
        }
        #expect(harness.rateLimiter.refusals == 1)
    }

    /// An operator limited to its own stores deletes those, not another caller's
    /// nor one without a recorded owner; an operator of every store deletes any.
    @Test func anOwnStoresOperatorChangesOnlyItsStores() async throws {
        let harness = try GatewayHarness(access: try Self.policy("token:ci operator own-stores\n"))
        try await harness.database.importStores(
            [Store.queued(name: try StoreName.validate("legacy"), engine: WooCommerceEngine(), id: "st_legacy00000a", now: Date())],
            actor: "import"
        )
        try await harness.withGateway({ $0.tokens = ReloadableBearerTokens(Self.tokens) }) { port in
            func create(_ name: String, as secret: String) async throws -> String {
                let response = try await RawHTTPClient.send(
                    port: port, "POST", "/api/stores", headers: Self.bearer(secret), body: #"{"name":"\#(name)"}"#
                )
                #expect(response.status == 202)
                return String(try #require(response.body.firstMatch(of: /"id":"(st_[a-z0-9]+)"/)?.output.1))
            }
            let theirs = try await create("theirs", as: "ops-secret")
            let mine = try await create("mine", as: "ci-secret")

            let refused = try await RawHTTPClient.send(port: port, "DELETE", "/api/stores/\(theirs)", headers: Self.bearer("ci-secret"))
            #expect(refused.status == 403)
            #expect(
                refused.body.contains(
                    "token:ci may change only the stores it created; \(theirs) was created by token:ops. Ask its owner or an admin, or make token:ci an operator of every store (grant it in /etc/storeplatform/access.conf)"
                ),
                "\(refused.body)"
            )
            let legacy = try await RawHTTPClient.send(port: port, "POST", "/api/stores/st_legacy00000a/retry", headers: Self.bearer("ci-secret"))
            #expect(legacy.status == 403)
            #expect(legacy.body.contains("st_legacy00000a has no recorded owner (it was created before owners were recorded)"))
            let missing = try await RawHTTPClient.send(port: port, "DELETE", "/api/stores/st_nope", headers: Self.bearer("ci-secret"))
            #expect(missing.status == 404)

            #expect(try await RawHTTPClient.send(port: port, "DELETE", "/api/stores/\(mine)", headers: Self.bearer("ci-secret")).status == 202)
            #expect(try await RawHTTPClient.send(port: port, "DELETE", "/api/stores/\(theirs)", headers: Self.bearer("ops-secret")).status == 202)
            #expect(
                try await RawHTTPClient.send(port: port, "DELETE", "/api/stores/st_legacy00000a", headers: Self.bearer("ops-secret")).status == 202
            )
        }
    }
}
