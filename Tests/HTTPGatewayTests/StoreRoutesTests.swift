import Foundation
import HTTPGateway
import StorePlatformProto
import SwiftProtobuf
import Testing

/// The error body, parsed, after checking it has exactly the documented shape.
func errorFields(_ body: String) throws -> (code: String, message: String) {
    let object = try #require(JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
    #expect(Array(object.keys) == ["error"])
    let error = try #require(object["error"] as? [String: String])
    #expect(Set(error.keys) == ["code", "message"])
    return (try #require(error["code"]), try #require(error["message"]))
}

@Suite struct StoreRoutesTests {
    @Test func createAnswers202QueuedThenBecomesReady() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway { port in
            let response = try await RawHTTPClient.send(
                port: port, "POST", "/api/stores", headers: ["Content-Type": "application/json"],
                body: #"{"name":"shop","engine":"woocommerce"}"#
            )
            #expect(response.status == 202)
            #expect(response.header("Content-Type") == "application/json")
            #expect(response.header("X-Request-Id")?.isEmpty == false)
            let store = try Storeplatform_V1_Store(apiJSON: response.body)
            #expect(store.name == "shop")
            #expect(store.engine == "woocommerce")
            #expect(store.status == .queued)
            #expect(response.body.contains(#""status":"queued""#))
            let ready = try await harness.waitFor(port: port, id: store.id, status: "ready")
            #expect(ready.url.isEmpty == false)
        }
    }

    @Test func idempotencyKeyReturnsTheSameStore() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway { port in
            let body = #"{"name":"twice"}"#
            let first = try await RawHTTPClient.send(port: port, "POST", "/api/stores", headers: ["Idempotency-Key": "k-1"], body: body)
            let second = try await RawHTTPClient.send(port: port, "POST", "/api/stores", headers: ["Idempotency-Key": "k-1"], body: body)
            #expect(first.status == 202)
            #expect(second.status == 202)
            #expect(try Storeplatform_V1_Store(apiJSON: first.body).id == Storeplatform_V1_Store(apiJSON: second.body).id)
        }
    }

    /// The status filter and the bodies spell statuses alike; an empty list and a
    /// zero count are written, not left out.
    @Test func bodiesSpellStatusesAsTheFilterAndWriteEmptyListsAndZeroCounts() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway { port in
            let none = try await RawHTTPClient.send(port: port, "GET", "/api/stores?status=failed")
            #expect(none.status == 200)
            #expect(none.body == #"{"stores":[],"nextPageToken":""}"#)
            let fresh = try await RawHTTPClient.send(port: port, "GET", "/api/metrics")
            #expect(fresh.body.contains(#""recentFailures":[]"#), "\(fresh.body)")
            #expect(fresh.body.contains(#"{"status":"failed","count":"0"}"#), "\(fresh.body)")
            #expect(fresh.body.contains(#""quotaRefusalsTotal":"0""#), "\(fresh.body)")

            let created = try await RawHTTPClient.send(port: port, "POST", "/api/stores", body: #"{"name":"spelled"}"#)
            let id = try Storeplatform_V1_Store(apiJSON: created.body).id
            _ = try await harness.waitFor(port: port, id: id, status: "ready")
            for filter in ["ready", "queued"] {
                let page = try await RawHTTPClient.send(port: port, "GET", "/api/stores?status=\(filter)")
                let object = try #require(JSONSerialization.jsonObject(with: Data(page.body.utf8)) as? [String: Any])
                let stores = try #require(object["stores"] as? [[String: Any]])
                #expect(stores.map { $0["status"] as? String } == (filter == "ready" ? ["ready"] : []), "\(page.body)")
            }
            let audit = try await RawHTTPClient.send(port: port, "GET", "/api/audit?store_id=\(id)")
            #expect(audit.body.contains(#""fromStatus":"unspecified","toStatus":"queued""#), "\(audit.body)")
            #expect(audit.body.contains(#""fromStatus":"provisioning","toStatus":"ready""#), "\(audit.body)")
        }
    }

    /// `/api/stores/{id}` takes a live store's name as well (anything not starting
    /// with `st_`); a deleted store is found by its id only, as on RPC.
    @Test func getFindsALiveStoreByNameAndADeletedOneByIdOnly() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway { port in
            let created = try await RawHTTPClient.send(port: port, "POST", "/api/stores", body: #"{"name":"by-name"}"#)
            let id = try Storeplatform_V1_Store(apiJSON: created.body).id
            let byName = try await RawHTTPClient.send(port: port, "GET", "/api/stores/by-name")
            #expect(byName.status == 200)
            #expect(try Storeplatform_V1_Store(apiJSON: byName.body).id == id)

            _ = try await harness.waitFor(port: port, id: id, status: "ready")
            #expect(try await RawHTTPClient.send(port: port, "DELETE", "/api/stores/\(id)").status == 202)
            _ = try await harness.waitFor(port: port, id: id, status: "deleted")
            let gone = try await RawHTTPClient.send(port: port, "GET", "/api/stores/by-name")
            #expect(gone.status == 404)
            let error = try errorFields(gone.body)
            #expect(error.code == "NOT_FOUND")
            #expect(error.message == #"no live store is named "by-name"; a deleted store is found by its id only"#)
            let byID = try await RawHTTPClient.send(port: port, "GET", "/api/stores/\(id)")
            #expect(byID.status == 200)
            #expect(try Storeplatform_V1_Store(apiJSON: byID.body).status == .deleted)
            let unknownID = try await RawHTTPClient.send(port: port, "GET", "/api/stores/st_unknown")
            #expect(unknownID.status == 404)
        }
    }

    @Test func listFiltersByStatusAndPages() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway { port in
            var ids: [String] = []
            for name in ["alpha", "beta", "gamma"] {
                let response = try await RawHTTPClient.send(port: port, "POST", "/api/stores", body: #"{"name":"\#(name)"}"#)
                #expect(response.status == 202)
                ids.append(try Storeplatform_V1_Store(apiJSON: response.body).id)
            }
            for id in ids { _ = try await harness.waitFor(port: port, id: id, status: "ready") }
            let delete = try await RawHTTPClient.send(port: port, "DELETE", "/api/stores/\(ids[0])")
            #expect(delete.status == 202)
            _ = try await harness.waitFor(port: port, id: ids[0], status: "deleted")

            let ready = try await RawHTTPClient.send(port: port, "GET", "/api/stores?status=ready")
            #expect(ready.status == 200)
            let readyList = try Storeplatform_V1_ListStoresResponse(apiJSON: ready.body)
            #expect(Set(readyList.stores.map(\.id)) == Set(ids[1...]))

            let both = try await RawHTTPClient.send(port: port, "GET", "/api/stores?status=ready,deleted")
            #expect(try Storeplatform_V1_ListStoresResponse(apiJSON: both.body).stores.count == 3)
            let repeated = try await RawHTTPClient.send(port: port, "GET", "/api/stores?status=deleted&status=queued")
            #expect(try Storeplatform_V1_ListStoresResponse(apiJSON: repeated.body).stores.map(\.id) == [ids[0]])

            let page1 = try await RawHTTPClient.send(port: port, "GET", "/api/stores?page_size=2")
            let first = try Storeplatform_V1_ListStoresResponse(apiJSON: page1.body)
            #expect(first.stores.count == 2)
            #expect(!first.nextPageToken.isEmpty)
            let token = first.nextPageToken.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            let page2 = try await RawHTTPClient.send(port: port, "GET", "/api/stores?page_size=2&page_token=\(token)")
            let second = try Storeplatform_V1_ListStoresResponse(apiJSON: page2.body)
            #expect(second.stores.count == 1)
            #expect(second.nextPageToken.isEmpty)
            #expect(Set((first.stores + second.stores).map(\.id)) == Set(ids))

            // By part of the name, with the status filter and paging.
            let named = try await RawHTTPClient.send(port: port, "GET", "/api/stores?name_contains=a&status=ready&page_size=1")
            let firstNamed = try Storeplatform_V1_ListStoresResponse(apiJSON: named.body)
            let namedToken = firstNamed.nextPageToken.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            let namedRest = try await RawHTTPClient.send(
                port: port, "GET", "/api/stores?name_contains=a&status=ready&page_size=1&page_token=\(namedToken)"
            )
            let restNamed = try Storeplatform_V1_ListStoresResponse(apiJSON: namedRest.body)
            #expect((firstNamed.stores + restNamed.stores).map(\.name) == ["gamma", "beta"])
            #expect(restNamed.nextPageToken.isEmpty)
            let gamma = try await RawHTTPClient.send(port: port, "GET", "/api/stores?name_contains=amm")
            #expect(try Storeplatform_V1_ListStoresResponse(apiJSON: gamma.body).stores.map(\.name) == ["gamma"])

            let badName = try await RawHTTPClient.send(port: port, "GET", "/api/stores?name_contains=My%20Shop")
            #expect(badName.status == 400)
            #expect(try errorFields(badName.body) == (
                code: "INVALID_ARGUMENT",
                message: #"name_contains "My Shop" cannot be part of a store name: names hold only lower-case letters a-z, digits 0-9 and '-', at most 40 characters"#
            ))

            let bad = try await RawHTTPClient.send(port: port, "GET", "/api/stores?status=bogus")
            #expect(bad.status == 400)
            #expect(try errorFields(bad.body).code == "INVALID_ARGUMENT")
            let badSize = try await RawHTTPClient.send(port: port, "GET", "/api/stores?page_size=-1")
            #expect(badSize.status == 400)
            #expect(try errorFields(badSize.body).code == "INVALID_ARGUMENT")
        }
    }

    @Test func getUnknownStoreIs404WithTheExactBody() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway { port in
            let response = try await RawHTTPClient.send(port: port, "GET", "/api/stores/st_nope")
            #expect(response.status == 404)
            #expect(response.header("Content-Type") == "application/json")
            #expect(response.body == #"{"error":{"code":"NOT_FOUND","message":"no store with id \"st_nope\""}}"#)
            let byName = try await RawHTTPClient.send(port: port, "GET", "/api/stores/nope")
            #expect(byName.status == 404)
            #expect(byName.body == #"{"error":{"code":"NOT_FOUND","message":"no live store is named \"nope\"; a deleted store is found by its id only"}}"#)
        }
    }

    @Test func deleteAnswers202ThenStoreIsDeleted() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway { port in
            let created = try await RawHTTPClient.send(port: port, "POST", "/api/stores", body: #"{"name":"gone"}"#)
            let id = try Storeplatform_V1_Store(apiJSON: created.body).id
            _ = try await harness.waitFor(port: port, id: id, status: "ready")
            let response = try await RawHTTPClient.send(port: port, "DELETE", "/api/stores/\(id)")
            #expect(response.status == 202)
            let store = try Storeplatform_V1_Store(apiJSON: response.body)
            #expect(store.id == id)
            #expect([.deleting, .deleted].contains(store.status))
            _ = try await harness.waitFor(port: port, id: id, status: "deleted")
            let again = try await RawHTTPClient.send(port: port, "DELETE", "/api/stores/\(id)")
            #expect(again.status == 409)
            #expect(try errorFields(again.body).code == "INVALID_STATE_TRANSITION")
        }
    }

    @Test func retryOnReadyIs409() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway { port in
            let created = try await RawHTTPClient.send(port: port, "POST", "/api/stores", body: #"{"name":"fine"}"#)
            let id = try Storeplatform_V1_Store(apiJSON: created.body).id
            _ = try await harness.waitFor(port: port, id: id, status: "ready")
            let response = try await RawHTTPClient.send(port: port, "POST", "/api/stores/\(id)/retry")
            #expect(response.status == 409)
            #expect(try errorFields(response.body).code == "INVALID_STATE_TRANSITION")
        }
    }

    @Test func auditAndMetricsAnswerTheirMessages() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway { port in
            let created = try await RawHTTPClient.send(port: port, "POST", "/api/stores", body: #"{"name":"audited"}"#)
            let id = try Storeplatform_V1_Store(apiJSON: created.body).id
            _ = try await harness.waitFor(port: port, id: id, status: "ready")
            let audit = try await RawHTTPClient.send(port: port, "GET", "/api/audit?limit=2&store_id=\(id)")
            #expect(audit.status == 200)
            let page = try Storeplatform_V1_ListAuditResponse(apiJSON: audit.body)
            #expect(page.events.count == 2)
            #expect(page.events.first?.toStatus == .ready)
            #expect(!page.nextPageToken.isEmpty)
            let metrics = try await RawHTTPClient.send(port: port, "GET", "/api/metrics")
            #expect(metrics.status == 200)
            let counts = try Storeplatform_V1_GetMetricsResponse(apiJSON: metrics.body).storesByStatus
            #expect(counts.first { $0.status == .ready }?.count == 1)
            let health = try await RawHTTPClient.send(port: port, "GET", "/api/health", headers: ["X-Request-Id": "abc-123"])
            #expect(health.status == 200)
            #expect(health.header("X-Request-Id") == "abc-123")
            let decoded = try Storeplatform_V1_HealthResponse(apiJSON: health.body)
            #expect(decoded.status == "SERVING")
            #expect(decoded.version == "test")
            #expect(decoded.clusterSimulated)
            #expect(decoded.uptimeSeconds > 0)
        }
    }
}
