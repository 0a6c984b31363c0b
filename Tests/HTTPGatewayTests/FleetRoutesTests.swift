import Foundation
import NIOCore
import Provisioning
import StoreCore
import StorePlatformProto
import StoreRPC
import Testing

/// `POST/GET /api/fleet-upgrades`, `GET /api/fleet-upgrades/{id}` (and `current`), its
/// pause, resume and cancel, and its event stream: FleetService over HTTP, with the
/// RPC's codes and messages.
@Suite struct FleetRoutesTests {
    static let installed = UpgradeRoutesTests.installed
    static let other = UpgradeRoutesTests.other

    /// Ready stores named `names`, created over HTTP.
    static func readyStores(_ harness: GatewayHarness, port: Int, _ names: [String]) async throws -> [String: Storeplatform_V1_Store] {
        var ids: [String: String] = [:]
        for name in names {
            let created = try await RawHTTPClient.send(port: port, "POST", "/api/stores", body: #"{"name":"\#(name)"}"#)
            #expect(created.status == 202, "\(created.body)")
            ids[name] = try Storeplatform_V1_Store(apiJSON: created.body).id
        }
        var stores: [String: Storeplatform_V1_Store] = [:]
        for (name, id) in ids { stores[name] = try await harness.waitFor(port: port, id: id, status: "ready") }
        return stores
    }

    static func fleet(_ response: RawResponse) throws -> Storeplatform_V1_FleetUpgrade {
        try Storeplatform_V1_FleetUpgrade(apiJSON: response.body)
    }

    /// Polls `GET /api/fleet-upgrades/{id}` until the fleet upgrade has ended (a bound on a hang).
    static func ended(port: Int, _ id: String) async throws -> Storeplatform_V1_FleetUpgrade {
        let deadline = ContinuousClock.now + .seconds(120)
        var last = ""
        while ContinuousClock.now < deadline {
            let response = try await RawHTTPClient.send(port: port, "GET", "/api/fleet-upgrades/\(id)")
            last = response.body
            if response.status == 200, [.completed, .stopped, .cancelled].contains(try fleet(response).state) {
                return try fleet(response)
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw ClientError("fleet upgrade \(id) did not end; last answer: \(last)")
    }

    static func names(_ fleet: Storeplatform_V1_FleetUpgrade, _ outcome: Storeplatform_V1_FleetStoreOutcome) -> [String] {
        fleet.stores.filter { $0.outcome == outcome }.map(\.name)
    }

    @Test func aFleetUpgradeInWavesCompletesAndEveryReadShowsIt() async throws {
        let harness = try GatewayHarness(runsFleetUpgrades: true)
        try await harness.withGateway { port in
            try await withHangGuard {
                let names = (1...5).map { "shop-\($0)" }
                _ = try await Self.readyStores(harness, port: port, names)
                let none = try await RawHTTPClient.send(port: port, "GET", "/api/fleet-upgrades/current")
                #expect(none.status == 404)
                #expect(try errorFields(none.body) == (code: "NOT_FOUND", message: "there has been no fleet upgrade"))
                let empty = try await RawHTTPClient.send(port: port, "GET", "/api/fleet-upgrades")
                #expect(empty.status == 200)
                #expect(empty.body == #"{"fleetUpgrades":[]}"#)

                let started = try await RawHTTPClient.send(
                    port: port, "POST", "/api/fleet-upgrades",
                    body: #"{"version":"\#(Self.other)","selector":{"statuses":["ready"]},"waveSize":2}"#
                )
                #expect(started.status == 202, "\(started.body)")
                #expect(started.header("Content-Type") == "application/json")
                #expect(started.body.contains(#""state":"running""#), "\(started.body)")
                #expect(started.body.contains(#""selector":{"names":[],"statuses":["ready"]}"#), "\(started.body)")
                #expect(started.body.contains(#""rolledBack":0"#), "\(started.body)")
                let running = try Self.fleet(started)
                #expect(running.id.hasPrefix("fu_"))
                #expect(running.version == Self.other)
                #expect(running.waveSize == 2)
                #expect(running.maxUnavailable == 2)
                #expect(running.failureBudget == 0)
                #expect(running.waveCount == 3)
                #expect(running.actor == "http:127.0.0.1")
                #expect(running.stores.map(\.name) == names)
                #expect(running.stores.map(\.wave) == [1, 1, 2, 2, 3])
                #expect(running.stores.allSatisfy { $0.fromVersion == Self.installed })

                let done = try await Self.ended(port: port, running.id)
                #expect(done.state == .completed)
                #expect(Self.names(done, .upgraded) == names)
                #expect((done.upgraded, done.waiting, done.rolledBack, done.failed, done.skipped) == (5, 0, 0, 0, 0))
                #expect(done.currentWave == 3)
                #expect(done.endedMs > 0)
                #expect(done.steps.map(\.action) == ["start", "wave", "wave", "wave", "end"])
                #expect(done.stores.allSatisfy { $0.revision == 2 })
                let shop = try await RawHTTPClient.send(port: port, "GET", "/api/stores/shop-4")
                #expect(try Storeplatform_V1_Store(apiJSON: shop.body).version == Self.other)

                // `current` is the latest once none is active; the list leaves stores and steps out.
                let current = try await RawHTTPClient.send(port: port, "GET", "/api/fleet-upgrades/current")
                #expect(current.status == 200)
                #expect(try Self.fleet(current) == done)
                #expect(current.body.contains(#""state":"completed""#))
                let list = try await RawHTTPClient.send(port: port, "GET", "/api/fleet-upgrades?limit=1")
                #expect(list.status == 200)
                let listed = try Storeplatform_V1_ListFleetUpgradesResponse(apiJSON: list.body).fleetUpgrades
                #expect(listed.map(\.id) == [done.id])
                #expect(listed.first?.upgraded == 5)
                #expect(list.body.contains(#""stores":[],"steps":[]"#), "\(list.body)")
                let head = try await RawHTTPClient.send(port: port, "HEAD", "/api/fleet-upgrades/\(done.id)")
                #expect(head.status == 200)
                #expect(head.body.isEmpty)

                let scrape = try await RawHTTPClient.send(port: port, "GET", "/metrics")
                let lines = Set(scrape.body.split(separator: "\n").map(String.init))
                #expect(lines.contains(#"http_requests_total{route="/api/fleet-upgrades",method="POST",status="202"} 1"#))
            }
        }
    }

    /// shop-3's upgrade fails (and is rolled back by itself): with no failure budget the
    /// fleet upgrade stops after its wave, and says which stores moved, which failed and
    /// why, and which were not started.
    @Test func aSeededFailureStopsTheFleetUpgradeAfterItsWave() async throws {
        var cluster = SimulatedClusterConfiguration.instant
        cluster.storeFaults = ["shop-3": .upgradeError]
        let harness = try GatewayHarness(cluster: cluster, runsFleetUpgrades: true)
        try await harness.withGateway { port in
            try await withHangGuard {
                let names = (1...6).map { "shop-\($0)" }
                _ = try await Self.readyStores(harness, port: port, names)
                let started = try await RawHTTPClient.send(
                    port: port, "POST", "/api/fleet-upgrades", body: #"{"version":"\#(Self.other)","waveSize":2,"failureBudget":0}"#
                )
                #expect(started.status == 202, "\(started.body)")
                let done = try await Self.ended(port: port, try Self.fleet(started).id)
                #expect(done.state == .stopped)
                #expect(Self.names(done, .upgraded) == ["shop-1", "shop-2", "shop-4"])
                #expect(Self.names(done, .rolledBack) == ["shop-3"])
                #expect(Self.names(done, .waiting) == ["shop-5", "shop-6"])
                let failed = try #require(done.stores.first { $0.name == "shop-3" })
                #expect(failed.message.contains("UPGRADE FAILED"), "\(failed.message)")
                #expect(done.steps.map(\.action) == ["start", "wave", "wave", "stop", "end"])
                let body = try await RawHTTPClient.send(port: port, "GET", "/api/fleet-upgrades/current").body
                #expect(body.contains(#""outcome":"rolled-back""#), "\(body)")
                #expect(body.contains(#""state":"stopped""#), "\(body)")
                let shop5 = try await RawHTTPClient.send(port: port, "GET", "/api/stores/shop-5")
                #expect(try Storeplatform_V1_Store(apiJSON: shop5.body).version == Self.installed)
            }
        }
    }

    /// Without a runner a started fleet upgrade stays running: each change and refusal
    /// is the ControlPlane's, code and message alike as the RPC answers them.
    @Test func pauseResumeCancelAndRefusalsAreTheRPCs() async throws {
        // The RPC caller (this process's uid) is an admin; HTTP callers are operators of every store.
        let harness = try GatewayHarness(access: AccessPolicy(adminUIDs: [getuid()]))
        try await harness.withGateway { port in
            try await withHangGuard {
                _ = try await Self.readyStores(harness, port: port, ["a-shop", "b-shop"])
                let nothingActive = try await RawHTTPClient.send(port: port, "POST", "/api/fleet-upgrades/current/pause")
                #expect(nothingActive.status == 404)
                #expect(try errorFields(nothingActive.body) == (code: "NOT_FOUND", message: "no fleet upgrade is active"))

                let started = try await RawHTTPClient.send(
                    port: port, "POST", "/api/fleet-upgrades",
                    body: #"{"version":"\#(Self.other)","selector":{"names":["b-shop","a-shop"]},"waveSize":1}"#
                )
                #expect(started.status == 202, "\(started.body)")
                let id = try Self.fleet(started).id
                #expect(try Self.fleet(started).stores.map(\.name) == ["b-shop", "a-shop"])

                let paused = try await RawHTTPClient.send(port: port, "POST", "/api/fleet-upgrades/\(id)/pause")
                #expect(paused.status == 200, "\(paused.body)")
                #expect(paused.body.contains(#""state":"paused""#))
                #expect(try Self.fleet(paused).steps.last?.action == "pause")
                #expect(try Self.fleet(paused).steps.last?.actor == "http:127.0.0.1")

                struct Case {
                    var method = "POST"
                    var path: String
                    var body: String?
                    var status: Int
                    var code: String
                    var rpc: (RPCClient) async throws -> Void
                }
                func upgrade(_ body: (inout Storeplatform_V1_UpgradeFleetRequest) -> Void) -> (RPCClient) async throws -> Void {
                    var request = Storeplatform_V1_UpgradeFleetRequest()
                    body(&request)
                    return { [request] client in _ = try await client.unary(StorePlatformMethod.FleetService.upgradeFleet, request) }
                }
                func change(
                    _ method: RPCMethod<Storeplatform_V1_ChangeFleetUpgradeRequest, Storeplatform_V1_ChangeFleetUpgradeResponse>, _ id: String
                ) -> (RPCClient) async throws -> Void {
                    var request = Storeplatform_V1_ChangeFleetUpgradeRequest()
                    request.id = id
                    return { [request] client in _ = try await client.unary(method, request) }
                }
                func get(_ id: String) -> (RPCClient) async throws -> Void {
                    var request = Storeplatform_V1_GetFleetUpgradeRequest()
                    request.id = id
                    return { [request] client in _ = try await client.unary(StorePlatformMethod.FleetService.getFleetUpgrade, request) }
                }
                let cases = [
                    Case(path: "/api/fleet-upgrades", body: #"{"version":"\#(Self.other)"}"#, status: 409, code: "FLEET_UPGRADE_IN_PROGRESS",
                         rpc: upgrade { $0.version = Self.other }),
                    Case(path: "/api/fleet-upgrades", body: #"{"version":"9.9-wc0.1"}"#, status: 400, code: "UNKNOWN_VERSION",
                         rpc: upgrade { $0.version = "9.9-wc0.1" }),
                    Case(path: "/api/fleet-upgrades", body: "{}", status: 400, code: "INVALID_ARGUMENT", rpc: upgrade { _ in }),
                    Case(path: "/api/fleet-upgrades", body: #"{"version":"\#(Self.other)","waveSize":2,"maxUnavailable":3}"#, status: 400,
                         code: "INVALID_ARGUMENT", rpc: upgrade { ($0.version, $0.waveSize, $0.maxUnavailable) = (Self.other, 2, 3) }),
                    Case(path: "/api/fleet-upgrades", body: #"{"version":"\#(Self.other)","selector":{"names":["a-shop"],"statuses":["ready"]}}"#,
                         status: 400, code: "INVALID_ARGUMENT",
                         rpc: upgrade { ($0.version, $0.selector.names, $0.selector.statuses) = (Self.other, ["a-shop"], [.ready]) }),
                    Case(path: "/api/fleet-upgrades", body: #"{"version":"\#(Self.other)","selector":{"statuses":["deleted"]}}"#, status: 400,
                         code: "INVALID_ARGUMENT", rpc: upgrade { ($0.version, $0.selector.statuses) = (Self.other, [.deleted]) }),
                    Case(path: "/api/fleet-upgrades", body: #"{"version":"\#(Self.other)","selector":{"names":["nope"]}}"#, status: 404,
                         code: "NOT_FOUND", rpc: upgrade { ($0.version, $0.selector.names) = (Self.other, ["nope"]) }),
                    Case(path: "/api/fleet-upgrades/\(id)/pause", status: 409, code: "INVALID_STATE_TRANSITION",
                         rpc: change(StorePlatformMethod.FleetService.pauseFleetUpgrade, id)),
                    Case(path: "/api/fleet-upgrades/fu_0000000000000000/resume", status: 404, code: "NOT_FOUND",
                         rpc: change(StorePlatformMethod.FleetService.resumeFleetUpgrade, "fu_0000000000000000")),
                    Case(method: "GET", path: "/api/fleet-upgrades/fu_0000000000000000", status: 404, code: "NOT_FOUND",
                         rpc: get("fu_0000000000000000")),
                ]
                try await harness.withRPCServer { socket in
                    let client = try await RPCClient.connect(to: .unix(path: socket))
                    for test in cases {
                        let response = try await RawHTTPClient.send(port: port, test.method, test.path, body: test.body)
                        #expect(response.status == test.status, "\(test.path) \(test.body ?? ""): \(response.body)")
                        let http = try errorFields(response.body)
                        #expect(http.code == test.code, "\(test.path) \(test.body ?? ""): \(response.body)")
                        do {
                            try await test.rpc(client)
                            Issue.record("\(test.path) \(test.body ?? ""): the RPC succeeded")
                        } catch let error as RPCError {
                            #expect(http.code == error.errorCode, "\(test.path) \(test.body ?? "")")
                            #expect(http.message == error.message, "\(test.path) \(test.body ?? "")")
                        }
                    }
                }
                let wide = try await RawHTTPClient.send(
                    port: port, "POST", "/api/fleet-upgrades", body: #"{"version":"\#(Self.other)","waveSize":2,"maxUnavailable":3}"#
                )
                #expect(try errorFields(wide.body).message.hasPrefix("max unavailable (3) cannot exceed the wave size (2)"), "\(wide.body)")
                let twice = try await RawHTTPClient.send(port: port, "POST", "/api/fleet-upgrades/current/pause")
                #expect(try errorFields(twice.body) == (
                    code: "INVALID_STATE_TRANSITION", message: "fleet upgrade \(id) is paused; only a running one can be paused"
                ))

                let resumed = try await RawHTTPClient.send(port: port, "POST", "/api/fleet-upgrades/current/resume")
                #expect(resumed.status == 200, "\(resumed.body)")
                #expect(try Self.fleet(resumed).state == .running)
                // No store started, so a cancel ends it at once.
                let cancelled = try await RawHTTPClient.send(port: port, "POST", "/api/fleet-upgrades/\(id)/cancel")
                #expect(cancelled.status == 200, "\(cancelled.body)")
                #expect(try Self.fleet(cancelled).state == .cancelled)
                #expect(try Self.fleet(cancelled).waiting == 2)
                #expect(try Self.fleet(cancelled).steps.map(\.action) == ["start", "pause", "resume", "cancel", "end"])
                let again = try await RawHTTPClient.send(port: port, "POST", "/api/fleet-upgrades/\(id)/cancel")
                #expect(again.status == 409)
                #expect(try errorFields(again.body).code == "INVALID_STATE_TRANSITION")
                // Another may start now.
                let next = try await RawHTTPClient.send(
                    port: port, "POST", "/api/fleet-upgrades", body: #"{"version":"\#(Self.other)","selector":{"statuses":["STORE_STATUS_READY"]}}"#
                )
                #expect(next.status == 202, "\(next.body)")
                #expect(try Self.fleet(next).selector.statuses == [.ready])
            }
        }
    }

    /// What the gateway checks itself, as for every route: bodies, methods, paths, parameters.
    /// Starting and changing a fleet upgrade take the caller's rate tokens, as every change does.
    @Test func startingAndChangingAreRateLimited() async throws {
        let harness = try GatewayHarness(limits: RateLimits(requestsPerMinute: 2, createsPerMinute: 100))
        try await harness.withGateway { port in
            for _ in 0..<2 {
                let paused = try await RawHTTPClient.send(port: port, "POST", "/api/fleet-upgrades/current/pause")
                #expect(paused.status == 404, "\(paused.body)")
            }
            let refused = try await RawHTTPClient.send(port: port, "POST", "/api/fleet-upgrades", body: #"{"version":"6.8-wc9.8"}"#)
            #expect(refused.status == 429, "\(refused.body)")
            #expect(try errorFields(refused.body).code == "RATE_LIMITED")
        }
    }

    @Test func badBodiesMethodsAndPathsAreRefused() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway { port in
            let example = #"send a JSON object such as {\"version\": \"6.8-wc9.8\", \"selector\": {\"statuses\": [\"ready\"]}, \"waveSize\": 5}"#
            let bodies: [(String, String)] = [
                ("", #"the request body is empty; \#(example)"#),
                (#"{"verison":"x"}"#, #"the request body is not valid JSON for this call (unknown field \"verison\"); \#(example)"#),
                (#"{"version":"x","selector":{"statuses":["bogus"]}}"#, #"the request body is not valid JSON for this call (an enum value is not recognised); \#(example)"#),
                (#"{"version":"x","waveSize":-1}"#, #"the request body is not valid JSON for this call (a number is malformed or out of range); \#(example)"#),
                (#"{"version":"x","version":"y"}"#, #"the request body is not valid JSON for this call (the key \"version\" appears twice in one object); send each key once, as in {\"version\": \"6.8-wc9.8\", \"selector\": {\"statuses\": [\"ready\"]}, \"waveSize\": 5}"#),
            ]
            for (body, message) in bodies {
                let response = try await RawHTTPClient.send(port: port, "POST", "/api/fleet-upgrades", body: body)
                #expect(response.status == 400, "\(body)")
                #expect(response.body == errorBody("INVALID_JSON", message), "\(body): \(response.body)")
            }
            let form = try await RawHTTPClient.send(
                port: port, "POST", "/api/fleet-upgrades", headers: ["Content-Type": "text/plain"], body: #"{"version":"x"}"#
            )
            #expect(form.status == 415)
            let crossSite = try await RawHTTPClient.send(
                port: port, "POST", "/api/fleet-upgrades/current/cancel", headers: ["Origin": "http://evil.example"]
            )
            #expect(crossSite.status == 403)
            #expect(try errorFields(crossSite.body).code == "PERMISSION_DENIED")

            let methods: [(String, String, String)] = [
                ("DELETE", "/api/fleet-upgrades", "GET, HEAD, POST"),
                ("POST", "/api/fleet-upgrades/current", "GET, HEAD"),
                ("DELETE", "/api/fleet-upgrades/fu_0000000000000000", "GET, HEAD"),
                ("GET", "/api/fleet-upgrades/current/pause", "POST"),
                ("GET", "/api/fleet-upgrades/current/resume", "POST"),
                ("GET", "/api/fleet-upgrades/current/cancel", "POST"),
                ("POST", "/api/fleet-upgrades/current/events", "GET, HEAD"),
            ]
            for (method, path, allow) in methods {
                let response = try await RawHTTPClient.send(port: port, method, path, body: method == "POST" ? "{}" : nil)
                #expect(response.status == 405, "\(method) \(path)")
                #expect(response.header("Allow") == allow, "\(method) \(path)")
                #expect(try errorFields(response.body).code == "METHOD_NOT_ALLOWED")
            }
            for path in ["/api/fleet-upgrades/current/restart", "/api/fleet-upgrades/current/pause/now", "/api/fleet-upgrades/"] {
                let response = try await RawHTTPClient.send(port: port, "POST", path)
                #expect(response.status == 404, "\(path)")
            }
            let limit = try await RawHTTPClient.send(port: port, "GET", "/api/fleet-upgrades?limit=many")
            #expect(limit.status == 400)
            #expect(try errorFields(limit.body) == (code: "INVALID_ARGUMENT", message: #"limit "many" is not a whole number from 0 to 4294967295"#))
        }
    }

    /// Starting and changing a fleet upgrade need an operator of every store: a viewer
    /// and an operator limited to its own stores may read fleet upgrades, not change them.
    @Test func aViewerAndAnOwnStoresOperatorMayReadButNotChange() async throws {
        let tokens = BearerTokens([
            .init(name: "ci", secret: "ci-secret"), .init(name: "ops", secret: "ops-secret"), .init(name: "own", secret: "own-secret"),
        ])
        let policy = try AccessTests.policy("token:ci viewer\ntoken:ops operator\ntoken:own operator own-stores\n")
        let harness = try GatewayHarness(access: policy)
        try await harness.withGateway({ $0.tokens = ReloadableBearerTokens(tokens) }) { port in
            for secret in ["ops-secret", "own-secret"] {
                let created = try await RawHTTPClient.send(
                    port: port, "POST", "/api/stores", headers: AccessTests.bearer(secret), body: #"{"name":"\#(secret.prefix(3))-shop"}"#
                )
                _ = try await harness.waitFor(port: port, id: try Storeplatform_V1_Store(apiJSON: created.body).id, status: "ready")
            }
            let body = #"{"version":"\#(Self.other)"}"#
            let viewer = try await RawHTTPClient.send(port: port, "POST", "/api/fleet-upgrades", headers: AccessTests.bearer("ci-secret"), body: body)
            #expect(viewer.status == 403)
            #expect(try errorFields(viewer.body) == (
                code: "PERMISSION_DENIED",
                message: "token:ci is a viewer; UpgradeFleet needs the operator role (grant it in /etc/storeplatform/access.conf)"
            ))
            let own = try await RawHTTPClient.send(port: port, "POST", "/api/fleet-upgrades", headers: AccessTests.bearer("own-secret"), body: body)
            #expect(own.status == 403)
            #expect(try errorFields(own.body) == (
                code: "PERMISSION_DENIED",
                message: "UpgradeFleet changes every selected store, and token:own may change only its own stores; ask an operator of every store"
            ))
            let anonymous = try await RawHTTPClient.send(port: port, "POST", "/api/fleet-upgrades", body: body)
            #expect(anonymous.status == 401)

            let started = try await RawHTTPClient.send(port: port, "POST", "/api/fleet-upgrades", headers: AccessTests.bearer("ops-secret"), body: body)
            #expect(started.status == 202, "\(started.body)")
            #expect(try Self.fleet(started).actor == "token:ops")
            for (secret, method) in [("ci-secret", "PauseFleetUpgrade"), ("own-secret", "CancelFleetUpgrade")] {
                let path = method == "PauseFleetUpgrade" ? "/api/fleet-upgrades/current/pause" : "/api/fleet-upgrades/current/cancel"
                let refused = try await RawHTTPClient.send(port: port, "POST", path, headers: AccessTests.bearer(secret))
                #expect(refused.status == 403, "\(secret)")
                #expect(try errorFields(refused.body).message.contains(method), "\(refused.body)")
            }
            for secret in ["ci-secret", "own-secret"] {
                #expect(try await RawHTTPClient.send(port: port, "GET", "/api/fleet-upgrades/current", headers: AccessTests.bearer(secret)).status == 200)
                #expect(try await RawHTTPClient.send(port: port, "GET", "/api/fleet-upgrades", headers: AccessTests.bearer(secret)).status == 200)
            }
            let paused = try await RawHTTPClient.send(port: port, "POST", "/api/fleet-upgrades/current/pause", headers: AccessTests.bearer("ops-secret"))
            #expect(paused.status == 200, "\(paused.body)")
        }
    }

    /// `GET /api/fleet-upgrades/{id}/events`: the fleet upgrade at once, again at each
    /// change, ending after the state it ended in.
    @Test func theEventStreamFollowsAFleetUpgradeUntilItEnds() async throws {
        var cluster = SimulatedClusterConfiguration.instant
        cluster.readyDelay = .milliseconds(300)
        let harness = try GatewayHarness(cluster: cluster, runsFleetUpgrades: true)
        try await harness.withGateway { port in
            try await withHangGuard {
                let missing = try await RawHTTPClient.send(port: port, "GET", "/api/fleet-upgrades/current/events")
                #expect(missing.status == 404)
                #expect(try errorFields(missing.body).code == "NOT_FOUND")

                _ = try await Self.readyStores(harness, port: port, ["one", "two", "three"])
                let started = try await RawHTTPClient.send(
                    port: port, "POST", "/api/fleet-upgrades", body: #"{"version":"\#(Self.other)","waveSize":1}"#
                )
                #expect(started.status == 202, "\(started.body)")
                let id = try Self.fleet(started).id
                let head = try await RawHTTPClient.send(port: port, "HEAD", "/api/fleet-upgrades/current/events")
                #expect(head.status == 200)
                #expect(head.header("Content-Type") == "text/event-stream")

                // Read to the end: the stream ends by itself once the fleet upgrade has.
                let stream = try await Self.wholeStream(port: port, "/api/fleet-upgrades/current/events")
                #expect(stream.status == 200)
                #expect(stream.header("Content-Type") == "text/event-stream")
                #expect(stream.body.hasPrefix(": connected\n\n"), "\(stream.body)")
                let states = try Self.fleetEvents(in: stream.body)
                #expect(states.count >= 2, "\(stream.body)")
                #expect(Set(states.map(\.id)) == [id])
                #expect(states.last?.state == .completed)
                #expect(states.dropLast().allSatisfy { $0.state == .running })
                #expect(states.map(\.upgraded) == states.map(\.upgraded).sorted())
                #expect(states.last?.upgraded == 3)

                // Once it has ended, the stream is that last state alone.
                let after = try await Self.wholeStream(port: port, "/api/fleet-upgrades/\(id)/events")
                let last = try Self.fleetEvents(in: after.body)
                #expect(last.map(\.state) == [.completed])
                #expect(after.body.contains("event: fleet-upgrade\ndata: {\"id\":\"\(id)\""), "\(after.body)")
            }
        }
    }

    /// GET `target` read to its end, its chunked body put together byte by byte (the
    /// frames of a long stream are larger than ``RawHTTPClient/dechunk(_:)`` handles).
    static func wholeStream(port: Int, _ target: String) async throws -> RawResponse {
        let channel = try await RawHTTPClient.connect(port: port)
        let bytes = try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: RawHTTPClient.requestText("GET", target)))
            var received: [UInt8] = []
            for try await chunk in inbound { received += chunk.readableBytesView }
            return received
        }
        guard let end = bytes.firstRange(of: Array("\r\n\r\n".utf8)) else { throw ClientError("no header end") }
        var head = try RawHTTPClient.parse(String(decoding: bytes[..<end.upperBound], as: UTF8.self))
        var rest = bytes[end.upperBound...]
        var body: [UInt8] = []
        while let line = rest.firstRange(of: Array("\r\n".utf8)),
            let size = Int(String(decoding: rest[..<line.lowerBound], as: UTF8.self), radix: 16), size > 0
        {
            body += rest[line.upperBound..<(line.upperBound + size)]
            rest = rest[(line.upperBound + size + 2)...]
        }
        head.body = String(decoding: body, as: UTF8.self)
        return head
    }

    /// The `data:` of each `event: fleet-upgrade` frame, decoded.
    static func fleetEvents(in text: String) throws -> [Storeplatform_V1_FleetUpgrade] {
        try text.components(separatedBy: "\n\n").filter { $0.hasPrefix("event: fleet-upgrade\n") }.map { frame in
            let data = try #require(frame.split(separator: "\n").first { $0.hasPrefix("data: ") })
            do {
                return try Storeplatform_V1_FleetUpgrade(apiJSON: String(data.dropFirst("data: ".count)))
            } catch {
                throw ClientError("a frame that does not decode (\(error)): \(frame)")
            }
        }
    }
}
