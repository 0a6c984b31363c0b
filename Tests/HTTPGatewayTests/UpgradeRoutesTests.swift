import Foundation
import Provisioning
import StoreCore
import StorePlatformProto
import StoreRPC
import Testing

/// `GET /api/versions`, `GET /api/stores/{id}/revisions`, `POST /api/stores/{id}/upgrade`
/// and `POST /api/stores/{id}/rollback`: the RPC's operations over HTTP, with the
/// RPC's codes and messages.
@Suite struct UpgradeRoutesTests {
    static let engine = WooCommerceEngine()
    /// The version new stores get, and another one to upgrade them to.
    static let installed = engine.defaultVersion!.name
    static let other = engine.versions.first { $0.name != installed }!.name

    /// Creates a store over HTTP and waits until it is ready.
    static func readyStore(_ harness: GatewayHarness, port: Int, name: String) async throws -> Storeplatform_V1_Store {
        let created = try await RawHTTPClient.send(port: port, "POST", "/api/stores", body: #"{"name":"\#(name)"}"#)
        #expect(created.status == 202, "\(created.body)")
        return try await harness.waitFor(port: port, id: try Storeplatform_V1_Store(apiJSON: created.body).id, status: "ready")
    }

    static func revisions(port: Int, _ store: String) async throws -> [Storeplatform_V1_StoreRevision] {
        let response = try await RawHTTPClient.send(port: port, "GET", "/api/stores/\(store)/revisions")
        #expect(response.status == 200, "\(response.body)")
        return try Storeplatform_V1_ListStoreRevisionsResponse(apiJSON: response.body).revisions
    }

    static func summary(_ revisions: [Storeplatform_V1_StoreRevision]) -> [String] {
        revisions.map { "\($0.revision) \($0.version) \($0.status)" }
    }

    @Test func versionsListsEveryEngineVersionWithTheDefaultMarked() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway { port in
            let response = try await RawHTTPClient.send(port: port, "GET", "/api/versions")
            #expect(response.status == 200)
            #expect(response.header("Content-Type") == "application/json")
            let versions = try Storeplatform_V1_ListEngineVersionsResponse(apiJSON: response.body).versions
            #expect(versions.map(\.name) == Self.engine.versions.map(\.name))
            #expect(versions.filter(\.isDefault).map(\.name) == [Self.installed])
            #expect(Set(versions.map(\.engine)) == ["woocommerce"])
            #expect(versions.allSatisfy { !$0.wordpressImage.isEmpty && !$0.woocommerceVersion.isEmpty && !$0.chartVersion.isEmpty })
            // A false flag is written, not left out.
            #expect(response.body.contains(#""isDefault":false"#), "\(response.body)")

            let head = try await RawHTTPClient.send(port: port, "HEAD", "/api/versions")
            #expect(head.status == 200)
            #expect(head.header("Content-Length") == String(response.body.utf8.count))
            #expect(head.body.isEmpty)
            let post = try await RawHTTPClient.send(port: port, "POST", "/api/versions", body: "{}")
            #expect(post.status == 405)
            #expect(post.header("Allow") == "GET, HEAD")
            #expect(try errorFields(post.body) == (code: "METHOD_NOT_ALLOWED", message: "POST is not allowed on /api/versions; use GET, HEAD"))
        }
    }

    @Test func anUpgradeByNameRunsToReadyOnTheNewVersionAndItsRevisionsSayHow() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway { port in
            let store = try await Self.readyStore(harness, port: port, name: "shop")
            #expect(store.version == Self.installed)
            #expect(store.revision == 1)
            let installedRevisions = try await Self.revisions(port: port, "shop")
            #expect(Self.summary(installedRevisions) == ["1 \(Self.installed) deployed"])
            #expect(installedRevisions.first?.actor == "http:127.0.0.1")

            let response = try await RawHTTPClient.send(
                port: port, "POST", "/api/stores/shop/upgrade", headers: ["Content-Type": "application/json"],
                body: #"{"version":"\#(Self.other)"}"#
            )
            #expect(response.status == 202, "\(response.body)")
            #expect(response.body.contains(#""status":"upgrading""#), "\(response.body)")
            let upgrading = try Storeplatform_V1_Store(apiJSON: response.body)
            #expect(upgrading.id == store.id)
            #expect(upgrading.version == Self.other)
            #expect(upgrading.revision == 2)

            let ready = try await harness.waitFor(port: port, id: store.id, status: "ready")
            #expect(ready.version == Self.other)
            #expect(ready.revision == 2)
            let byName = try await Self.revisions(port: port, "shop")
            #expect(Self.summary(byName) == ["2 \(Self.other) deployed", "1 \(Self.installed) superseded"])
            #expect(byName.first?.actor == "http:127.0.0.1")
            #expect(byName.first?.message == "upgrade from \(Self.installed)")
            #expect(byName.allSatisfy { $0.timeMs > 0 })
            #expect(try await Self.revisions(port: port, store.id) == byName)

            let audit = try await RawHTTPClient.send(port: port, "GET", "/api/audit?store_id=\(store.id)&limit=2")
            let actions = try Storeplatform_V1_ListAuditResponse(apiJSON: audit.body).events.map(\.action)
            #expect(actions == ["upgraded", "upgrade"])

            let scrape = try await RawHTTPClient.send(port: port, "GET", "/metrics")
            let lines = Set(scrape.body.split(separator: "\n").map(String.init))
            #expect(lines.contains(#"http_requests_total{route="/api/stores/{id}/upgrade",method="POST",status="202"} 1"#))
            #expect(lines.contains(#"http_requests_total{route="/api/stores/{id}/revisions",method="GET",status="200"} 3"#))
        }
    }

    @Test func aRollbackMakesTheEarlierRevisionANewOne() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway { port in
            let store = try await Self.readyStore(harness, port: port, name: "back")
            let upgrade = try await RawHTTPClient.send(port: port, "POST", "/api/stores/\(store.id)/upgrade", body: #"{"version":"\#(Self.other)"}"#)
            #expect(upgrade.status == 202, "\(upgrade.body)")
            _ = try await harness.waitFor(port: port, id: store.id, status: "ready")

            let response = try await RawHTTPClient.send(port: port, "POST", "/api/stores/back/rollback", body: #"{"revision":1}"#)
            #expect(response.status == 202, "\(response.body)")
            let rollingBack = try Storeplatform_V1_Store(apiJSON: response.body)
            #expect(rollingBack.status == .upgrading)
            #expect(rollingBack.version == Self.installed)
            #expect(rollingBack.revision == 3)

            let ready = try await harness.waitFor(port: port, id: store.id, status: "ready")
            #expect(ready.version == Self.installed)
            #expect(ready.revision == 3)
            let revisions = try await Self.revisions(port: port, store.id)
            #expect(Self.summary(revisions) == [
                "3 \(Self.installed) deployed", "2 \(Self.other) superseded", "1 \(Self.installed) superseded",
            ])
            #expect(revisions.first?.message == "rollback to revision 1")
            let audit = try await RawHTTPClient.send(port: port, "GET", "/api/audit?store_id=\(store.id)&limit=2")
            #expect(try Storeplatform_V1_ListAuditResponse(apiJSON: audit.body).events.map(\.action) == ["upgraded", "rollback"])
        }
    }

    /// The simulated cluster fails the first upgrade of every release: the store is
    /// rolled back by itself and ends ready on its old version, the failed revision
    /// saying why.
    @Test func aFailedUpgradeRollsBackByItselfAndTheRevisionsSayWhy() async throws {
        var cluster = SimulatedClusterConfiguration.instant
        cluster.faults = [.upgradeError: 1]
        let harness = try GatewayHarness(cluster: cluster)
        try await harness.withGateway { port in
            let store = try await Self.readyStore(harness, port: port, name: "faulty")
            let response = try await RawHTTPClient.send(port: port, "POST", "/api/stores/faulty/upgrade", body: #"{"version":"\#(Self.other)"}"#)
            #expect(response.status == 202, "\(response.body)")
            #expect(try Storeplatform_V1_Store(apiJSON: response.body).status == .upgrading)

            let ready = try await harness.waitFor(port: port, id: store.id, status: "ready")
            #expect(ready.version == Self.installed)
            #expect(ready.revision == 3)
            let revisions = try await Self.revisions(port: port, "faulty")
            #expect(Self.summary(revisions) == [
                "3 \(Self.installed) deployed", "2 \(Self.other) rolledBack", "1 \(Self.installed) superseded",
            ])
            #expect(revisions[1].message.contains("upgrade"), "\(revisions[1].message)")
            let body = try await RawHTTPClient.send(port: port, "GET", "/api/stores/faulty/revisions").body
            #expect(body.contains(#""status":"rolled-back""#), "\(body)")

            let audit = try await RawHTTPClient.send(port: port, "GET", "/api/audit?store_id=\(store.id)&limit=1")
            let rolledBack = try #require(try Storeplatform_V1_ListAuditResponse(apiJSON: audit.body).events.first)
            #expect(rolledBack.action == "rolled-back")
            #expect(rolledBack.actor == "system")
            #expect(rolledBack.toStatus == .ready)
            #expect(!rolledBack.message.isEmpty)
        }
    }

    /// Each refusal is the one the RPC answers, code and message alike, with the
    /// error table's HTTP status.
    @Test func refusalsAreTheRPCsCodesAndMessages() async throws {
        // The RPC caller (this process's uid) is an admin, so that it may change the
        // stores the HTTP caller made; HTTP callers are operators of every store.
        let harness = try GatewayHarness(access: AccessPolicy(adminUIDs: [getuid()]))
        try await harness.withGateway { port in
            let store = try await Self.readyStore(harness, port: port, name: "refuses")
            let gone = try await Self.readyStore(harness, port: port, name: "gone")
            #expect(try await RawHTTPClient.send(port: port, "DELETE", "/api/stores/\(gone.id)").status == 202)
            _ = try await harness.waitFor(port: port, id: gone.id, status: "deleted")

            struct Case {
                var path: String
                var body: String
                var status: Int
                var code: String
                var rpc: (RPCClient) async throws -> Void
            }
            func upgrade(_ id: String, _ name: String, _ version: String) -> (RPCClient) async throws -> Void {
                { client in
                    var request = Storeplatform_V1_UpgradeStoreRequest()
                    (request.id, request.name, request.version) = (id, name, version)
                    _ = try await client.unary(StorePlatformMethod.StoreService.upgradeStore, request)
                }
            }
            func rollback(_ id: String, _ name: String, _ revision: UInt32) -> (RPCClient) async throws -> Void {
                { client in
                    var request = Storeplatform_V1_RollbackStoreRequest()
                    (request.id, request.name, request.revision) = (id, name, revision)
                    _ = try await client.unary(StorePlatformMethod.StoreService.rollbackStore, request)
                }
            }
            func revisions(_ id: String, _ name: String) -> (RPCClient) async throws -> Void {
                { client in
                    var request = Storeplatform_V1_ListStoreRevisionsRequest()
                    (request.id, request.name) = (id, name)
                    _ = try await client.unary(StorePlatformMethod.StoreService.listStoreRevisions, request)
                }
            }
            let cases = [
                Case(path: "/api/stores/refuses/upgrade", body: #"{"version":"9.9-wc0.1"}"#, status: 400, code: "UNKNOWN_VERSION",
                     rpc: upgrade("", "refuses", "9.9-wc0.1")),
                Case(path: "/api/stores/\(store.id)/upgrade", body: #"{"version":"\#(Self.installed)"}"#, status: 409,
                     code: "ALREADY_ON_VERSION", rpc: upgrade(store.id, "", Self.installed)),
                Case(path: "/api/stores/refuses/upgrade", body: "{}", status: 400, code: "INVALID_ARGUMENT", rpc: upgrade("", "refuses", "")),
                Case(path: "/api/stores/\(gone.id)/upgrade", body: #"{"version":"\#(Self.other)"}"#, status: 409,
                     code: "INVALID_STATE_TRANSITION", rpc: upgrade(gone.id, "", Self.other)),
                Case(path: "/api/stores/st_nope/upgrade", body: #"{"version":"\#(Self.other)"}"#, status: 404, code: "NOT_FOUND",
                     rpc: upgrade("st_nope", "", Self.other)),
                Case(path: "/api/stores/gone/upgrade", body: #"{"version":"\#(Self.other)"}"#, status: 404, code: "NOT_FOUND",
                     rpc: upgrade("", "gone", Self.other)),
                Case(path: "/api/stores/refuses/rollback", body: #"{"revision":1}"#, status: 400, code: "UNKNOWN_REVISION",
                     rpc: rollback("", "refuses", 1)),
                Case(path: "/api/stores/refuses/rollback", body: #"{"revision":7}"#, status: 400, code: "UNKNOWN_REVISION",
                     rpc: rollback("", "refuses", 7)),
                Case(path: "/api/stores/refuses/rollback", body: "{}", status: 400, code: "UNKNOWN_REVISION", rpc: rollback("", "refuses", 0)),
                Case(path: "/api/stores/\(gone.id)/rollback", body: #"{"revision":1}"#, status: 409, code: "INVALID_STATE_TRANSITION",
                     rpc: rollback(gone.id, "", 1)),
                Case(path: "/api/stores/st_nope/rollback", body: #"{"revision":1}"#, status: 404, code: "NOT_FOUND",
                     rpc: rollback("st_nope", "", 1)),
                Case(path: "/api/stores/st_nope/revisions", body: "", status: 404, code: "NOT_FOUND", rpc: revisions("st_nope", "")),
                Case(path: "/api/stores/nope/revisions", body: "", status: 404, code: "NOT_FOUND", rpc: revisions("", "nope")),
            ]
            try await harness.withRPCServer { socket in
                let client = try await RPCClient.connect(to: .unix(path: socket))
                for test in cases {
                    let method = test.path.hasSuffix("/revisions") ? "GET" : "POST"
                    let response = try await RawHTTPClient.send(port: port, method, test.path, body: method == "GET" ? nil : test.body)
                    #expect(response.status == test.status, "\(test.path) \(test.body): \(response.body)")
                    let http = try errorFields(response.body)
                    #expect(http.code == test.code, "\(test.path) \(test.body): \(response.body)")
                    do {
                        try await test.rpc(client)
                        Issue.record("\(test.path) \(test.body): the RPC succeeded")
                    } catch let error as RPCError {
                        #expect(http.code == error.errorCode, "\(test.path) \(test.body)")
                        #expect(http.message == error.message, "\(test.path) \(test.body)")
                    }
                }
            }
            // A deleted store's revisions are found by its id, as the store is.
            let goneRevisions = try await Self.revisions(port: port, gone.id)
            #expect(Self.summary(goneRevisions) == ["1 \(Self.installed) deployed"], "\(goneRevisions)")
        }
    }

    @Test func anUpgradingStoreRefusesAnotherChange() async throws {
        var cluster = SimulatedClusterConfiguration.instant
        // The new revision's pods are ready this long after the change: the store is
        // upgrading meanwhile.
        cluster.readyDelay = .seconds(3)
        let harness = try GatewayHarness(cluster: cluster)
        try await harness.withGateway { port in
            let store = try await Self.readyStore(harness, port: port, name: "busy")
            let first = try await RawHTTPClient.send(port: port, "POST", "/api/stores/busy/upgrade", body: #"{"version":"\#(Self.other)"}"#)
            #expect(first.status == 202, "\(first.body)")
            let second = try await RawHTTPClient.send(port: port, "POST", "/api/stores/busy/rollback", body: #"{"revision":1}"#)
            #expect(second.status == 409)
            #expect(try errorFields(second.body) == (
                code: "OPERATION_IN_PROGRESS",
                message: #"store "busy" is being moved to revision 2 (\#(Self.other)); wait for that to end"#
            ))
            _ = try await harness.waitFor(port: port, id: store.id, status: "ready")
        }
    }

    /// What the gateway checks itself, before any ControlPlane call, as for every
    /// change: the body (JSON, once each key, no store in it, within the limit), the
    /// method, where the request comes from, and the token.
    @Test func badBodiesMethodsOriginsAndMissingTokensAreRefused() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway({ $0.maxBodyBytes = 100 }) { port in
            let example = #"send a JSON object such as {\"version\": \"6.9-wc10.3\"}"#
            let bodies: [(String, String)] = [
                ("", #"the request body is empty; \#(example)"#),
                (#"{"version":"#, #"the request body is not valid JSON for this call (the JSON ends too early); \#(example)"#),
                (#"{"verison":"x"}"#, #"the request body is not valid JSON for this call (unknown field \"verison\"); \#(example)"#),
                (#"{"version":1}"#, #"the request body is not valid JSON for this call (a string is malformed); \#(example)"#),
                (
                    #"{"version":"a","version":"b"}"#,
                    #"the request body is not valid JSON for this call (the key \"version\" appears twice in one object); send each key once, as in {\"version\": \"6.9-wc10.3\"}"#
                ),
                (
                    #"{"id":"st_other","version":"x"}"#,
                    #"the request body is not valid JSON for this call (unknown field \"id\": the path names the store); \#(example)"#
                ),
            ]
            for (body, message) in bodies {
                let response = try await RawHTTPClient.send(port: port, "POST", "/api/stores/shop/upgrade", body: body)
                #expect(response.status == 400, "\(body)")
                #expect(response.body == errorBody("INVALID_JSON", message), "\(body)")
            }
            for body in [#"{"revision":"one"}"#, #"{"revision":-1}"#, #"{"name":"shop","revision":1}"#, "[1]"] {
                let response = try await RawHTTPClient.send(port: port, "POST", "/api/stores/shop/rollback", body: body)
                #expect(response.status == 400, "\(body)")
                #expect(try errorFields(response.body).code == "INVALID_JSON", "\(body): \(response.body)")
            }
            let big = try await RawHTTPClient.send(
                port: port, "POST", "/api/stores/shop/upgrade", body: #"{"version":""# + String(repeating: "a", count: 200) + #""}"#
            )
            #expect(big.status == 413)
            #expect(try errorFields(big.body).code == "PAYLOAD_TOO_LARGE")
            let form = try await RawHTTPClient.send(
                port: port, "POST", "/api/stores/shop/upgrade", headers: ["Content-Type": "text/plain"], body: #"{"version":"x"}"#
            )
            #expect(form.status == 415)
            #expect(try errorFields(form.body).code == "UNSUPPORTED_MEDIA_TYPE")
            for path in ["/api/stores/shop/upgrade", "/api/stores/shop/rollback"] {
                let crossSite = try await RawHTTPClient.send(
                    port: port, "POST", path, headers: ["Origin": "http://evil.example"], body: #"{"version":"x"}"#
                )
                #expect(crossSite.status == 403)
                #expect(try errorFields(crossSite.body).code == "PERMISSION_DENIED")
                let get = try await RawHTTPClient.send(port: port, "GET", path)
                #expect(get.status == 405)
                #expect(get.header("Allow") == "POST")
            }
            let postRevisions = try await RawHTTPClient.send(port: port, "POST", "/api/stores/shop/revisions", body: "{}")
            #expect(postRevisions.status == 405)
            #expect(postRevisions.header("Allow") == "GET, HEAD")
            let deeper = try await RawHTTPClient.send(port: port, "GET", "/api/stores/shop/revisions/1")
            #expect(deeper.status == 404)
            #expect(try errorFields(deeper.body).code == "NOT_FOUND")
        }
        let tokenHarness = try GatewayHarness()
        try await tokenHarness.withGateway({ $0.tokens = .init(BearerTokens(["s3cret"])) }) { port in
            let expected = errorBody("UNAUTHENTICATED", "this gateway requires a token for changes: send Authorization: Bearer <token>")
            for (path, body) in [("/api/stores/shop/upgrade", #"{"version":"x"}"#), ("/api/stores/shop/rollback", #"{"revision":1}"#)] {
                let response = try await RawHTTPClient.send(port: port, "POST", path, body: body)
                #expect(response.status == 401)
                #expect(response.body == expected)
            }
            #expect(try await RawHTTPClient.send(port: port, "GET", "/api/versions").status == 200)
            #expect(try await RawHTTPClient.send(port: port, "GET", "/api/stores/st_nope/revisions").status == 404)
        }
    }

    /// Upgrades and rollbacks are changes: a viewer may list versions and revisions
    /// but not make them, as for RPC.
    @Test func aViewerMayReadRevisionsButNotUpgrade() async throws {
        let tokens = BearerTokens([.init(name: "ci", secret: "ci-secret"), .init(name: "ops", secret: "ops-secret")])
        let policy = AccessPolicy(
            adminUIDs: [], rules: try AccessFile.parse("token:ci viewer\ntoken:ops operator\n", path: "/etc/storeplatform/access.conf"),
            file: "/etc/storeplatform/access.conf"
        )
        let harness = try GatewayHarness(access: policy)
        try await harness.withGateway({ $0.tokens = ReloadableBearerTokens(tokens) }) { port in
            let created = try await RawHTTPClient.send(
                port: port, "POST", "/api/stores", headers: ["Authorization": "Bearer ops-secret"], body: #"{"name":"owned"}"#
            )
            let id = try Storeplatform_V1_Store(apiJSON: created.body).id
            _ = try await harness.waitFor(port: port, id: id, status: "ready")
            let viewer = ["Authorization": "Bearer ci-secret"]
            let upgrade = try await RawHTTPClient.send(
                port: port, "POST", "/api/stores/owned/upgrade", headers: viewer, body: #"{"version":"\#(Self.other)"}"#
            )
            #expect(upgrade.status == 403)
            #expect(try errorFields(upgrade.body) == (
                code: "PERMISSION_DENIED",
                message: "token:ci is a viewer; UpgradeStore needs the operator role (grant it in /etc/storeplatform/access.conf)"
            ))
            let rollback = try await RawHTTPClient.send(port: port, "POST", "/api/stores/owned/rollback", headers: viewer, body: #"{"revision":1}"#)
            #expect(rollback.status == 403)
            #expect(try errorFields(rollback.body).message.contains("RollbackStore needs the operator role"))
            #expect(try await RawHTTPClient.send(port: port, "GET", "/api/stores/owned/revisions", headers: viewer).status == 200)
            #expect(try await RawHTTPClient.send(port: port, "GET", "/api/versions", headers: viewer).status == 200)
            let operatorUpgrade = try await RawHTTPClient.send(
                port: port, "POST", "/api/stores/owned/upgrade", headers: ["Authorization": "Bearer ops-secret"],
                body: #"{"version":"\#(Self.other)"}"#
            )
            #expect(operatorUpgrade.status == 202, "\(operatorUpgrade.body)")
            _ = try await harness.waitFor(port: port, id: id, status: "ready")
        }
    }
}
