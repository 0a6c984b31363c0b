import Foundation
import HTTPGateway
import StorePlatformProto
import Testing

/// The gateway applies the RPC server's metadata rules (StoreCore's RequestMetadata):
/// a bad Idempotency-Key is 400 with the same message; a bad X-Request-Id is replaced.
@Suite struct RequestMetadataHTTPTests {
    static let keyRule = "idempotency-key must be 1 to 128 printable ASCII characters ! to ~ (no spaces or control characters)"
    static let json = ["Content-Type": "application/json"]

    @Test func anInvalidIdempotencyKeyIs400WithTheRuleAndStoresNothing() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway { port in
            let refused = [
                (String(repeating: "k", count: 129), "idempotency-key is 129 bytes long; " + Self.keyRule),
                (String(repeating: "k", count: 10_000), "idempotency-key is 10000 bytes long; " + Self.keyRule),
                ("two words", "idempotency-key contains byte 0x20 at byte 4; " + Self.keyRule),
            ]
            for (key, message) in refused {
                let response = try await RawHTTPClient.send(
                    port: port, "POST", "/api/stores", headers: Self.json.merging(["Idempotency-Key": key]) { $1 }, body: #"{"name":"shop"}"#
                )
                #expect(response.status == 400)
                #expect(response.body == errorBody("INVALID_ARGUMENT", message))
            }
            // A mebibyte is past the gateway's header limit (16 KiB of names and
            // values): 431 before the request reaches a route.
            let mebibyte = try await RawHTTPClient.send(
                port: port, "POST", "/api/stores", headers: Self.json.merging(["Idempotency-Key": String(repeating: "k", count: 1 << 20)]) { $1 },
                body: #"{"name":"shop"}"#
            )
            #expect(mebibyte.status == 431)
            #expect(mebibyte.body == errorBody(
                "HEADERS_TOO_LARGE",
                "the request's headers are over the limit of 100 fields or 16384 bytes of names and values; send fewer or shorter headers"
            ))
            #expect(try await harness.database.auditCount() == 0)
            #expect(try await harness.database.listStores(statuses: [], pageSize: 10, pageToken: "").stores.isEmpty)

            let key = String(repeating: "K!~/+=", count: 21) + "xy"
            #expect(key.utf8.count == 128)
            let first = try await RawHTTPClient.send(
                port: port, "POST", "/api/stores", headers: Self.json.merging(["Idempotency-Key": key]) { $1 }, body: #"{"name":"shop"}"#
            )
            let second = try await RawHTTPClient.send(
                port: port, "POST", "/api/stores", headers: Self.json.merging(["Idempotency-Key": key]) { $1 }, body: #"{"name":"shop"}"#
            )
            #expect(first.status == 202)
            #expect(second.status == 202)
            #expect(try Storeplatform_V1_Store(apiJSON: first.body).id == Storeplatform_V1_Store(apiJSON: second.body).id)
        }
    }

    @Test func xRequestIDIsEchoedUpTo128BytesAndReplacedBeyond() async throws {
        let harness = try GatewayHarness()
        try await harness.withGateway { port in
            let accepted = String(repeating: "Az09-_.:", count: 16)
            let echoed = try await RawHTTPClient.send(
                port: port, "POST", "/api/stores", headers: Self.json.merging(["X-Request-Id": accepted]) { $1 }, body: #"{"name":"one"}"#
            )
            #expect(echoed.status == 202)
            #expect(echoed.header("X-Request-Id") == accepted)
            let one = try Storeplatform_V1_Store(apiJSON: echoed.body)

            let tooLong = String(repeating: "r", count: 129)
            let replaced = try await RawHTTPClient.send(
                port: port, "POST", "/api/stores", headers: Self.json.merging(["X-Request-Id": tooLong]) { $1 }, body: #"{"name":"two"}"#
            )
            #expect(replaced.status == 202)
            let made = try #require(replaced.header("X-Request-Id"))
            #expect(made != tooLong)
            #expect(made.utf8.count <= 128)
            let two = try Storeplatform_V1_Store(apiJSON: replaced.body)

            func createRow(_ id: String) async throws -> String? {
                try await harness.database.listAudit(limit: 10, pageToken: "", storeID: id).events.first { $0.action == .create }?.requestID
            }
            #expect(try await createRow(one.id) == accepted)
            #expect(try await createRow(two.id) == made)
        }
    }
}
