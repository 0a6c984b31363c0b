import Foundation
import StorePlatformProto
import StoreRPC
import Testing

/// `request-id` and `idempotency-key` are bounded (issue 11): an invalid one refuses
/// its call alone with INVALID_ARGUMENT, writes nothing, and the connection stays up.
@Suite("Request metadata limits through the daemon process")
struct MetadataLimitTests {
    static let requestIDRule = "request-id must be 1 to 128 letters A-Z a-z, digits 0-9 and - _ . :"
    static let keyRule = "idempotency-key must be 1 to 128 printable ASCII characters ! to ~ (no spaces or control characters)"
    static let mebibyte = String(repeating: "m", count: 1 << 20)

    /// The RPCError a call failed with; records an issue when it succeeded.
    func refusal(_ body: () async throws -> Void) async -> RPCError? {
        do {
            try await body()
            Issue.record("the call succeeded")
            return nil
        } catch let error as RPCError {
            return error
        } catch {
            Issue.record("unexpected error \(error)")
            return nil
        }
    }

    func createRequest(_ name: String) -> Storeplatform_V1_CreateStoreRequest {
        var request = Storeplatform_V1_CreateStoreRequest()
        request.name = name
        return request
    }

    func everyAuditRow(_ client: RPCClient) async throws -> [Storeplatform_V1_AuditEvent] {
        var request = Storeplatform_V1_ListAuditRequest()
        request.limit = 1000
        return try await client.unary(M.PlatformService.listAudit, request).events
    }

    @Test(arguments: ["unix", "tcp"])
    func aMebibyteOfRequestIDOrIdempotencyKeyIsRefusedAndNothingIsStored(transport: String) async throws {
        let daemon = try DaemonProcess(extraArguments: quickCluster)
        try await daemon.start()
        let client = try await RPCClient.connect(
            to: transport == "unix" ? .unix(path: daemon.socketPath) : .tcp(host: "127.0.0.1", port: daemon.tcpPort)
        )
        let create = try createRequest("shop").serializedData()

        let longID = await refusal {
            _ = try await client.call(M.StoreService.createStore.name, payload: create, metadata: ["request-id": Self.mebibyte])
        }
        #expect(longID?.code == .invalidArgument)
        #expect(longID?.errorCode == "INVALID_ARGUMENT")
        #expect(longID?.message == "request-id is 1048576 bytes long; " + Self.requestIDRule)
        // Never echoed: the answer carries an id the daemon made.
        #expect(longID?.metadata["request-id"]?.hasPrefix("req-") == true)
        #expect(longID?.metadata["request-id"]?.count == 15)

        let longKey = await refusal {
            _ = try await client.call(
                M.StoreService.createStore.name, payload: create, metadata: ["request-id": "rid-1", "idempotency-key": Self.mebibyte]
            )
        }
        #expect(longKey?.code == .invalidArgument)
        #expect(longKey?.errorCode == "INVALID_ARGUMENT")
        #expect(longKey?.message == "idempotency-key is 1048576 bytes long; " + Self.keyRule)

        // Every method, streams included (they end with that status).
        let badCharacter = await refusal {
            let stream = try client.serverStream(
                M.StoreService.watchStores, Storeplatform_V1_WatchStoresRequest(),
                metadata: ["request-id": "two words"]
            )
            for try await _ in stream {}
        }
        #expect(badCharacter?.message == "request-id contains byte 0x20 at byte 4; " + Self.requestIDRule)

        // The same connection still answers, and nothing was written.
        let stores = try await client.unary(M.StoreService.listStores, Storeplatform_V1_ListStoresRequest())
        #expect(stores.stores.isEmpty)
        #expect(try await everyAuditRow(client).isEmpty)
        await client.close()
        try await daemon.terminate()
    }

    @Test func oneHundredTwentyEightBytesOfEachAreAcceptedStoredAndEchoed() async throws {
        let daemon = try DaemonProcess(extraArguments: quickCluster)
        try await daemon.start()
        let client = try await RPCClient.connect(to: .unix(path: daemon.socketPath))
        let requestID = String(repeating: "Az09-_.:", count: 16)
        let key = String(repeating: "K!~/+=\"", count: 18) + "xy"
        #expect(requestID.utf8.count == 128)
        #expect(key.utf8.count == 128)

        let payload = try createRequest("shop").serializedData()
        let first = try await client.call(
            M.StoreService.createStore.name, payload: payload, metadata: ["request-id": requestID, "idempotency-key": key]
        )
        #expect(first.metadata["request-id"] == requestID)
        let store = try Storeplatform_V1_CreateStoreResponse(serializedBytes: first.payload).store
        let again = try await client.call(M.StoreService.createStore.name, payload: payload, metadata: ["idempotency-key": key])
        #expect(try Storeplatform_V1_CreateStoreResponse(serializedBytes: again.payload).store.id == store.id)

        let created = try await everyAuditRow(client).filter { $0.action == "create" }
        #expect(created.count == 1)
        #expect(created.first?.requestID == requestID)
        await client.close()
        try await daemon.terminate()
    }
}
