import Foundation
import StoreCore
import StorePlatformProto
import Synchronization
import Testing

@testable import ControlPlane

@Suite struct StoresPageCacheTests {
    @Test func servesAValueOnlyForItsGeneration() {
        let cache = GenerationCache<String, Int>(capacity: 2)
        cache.store(1, for: "a", generation: 5)
        #expect(cache.value(for: "a", generation: 5) == 1)
        #expect(cache.value(for: "a", generation: 6) == nil)
        #expect(cache.value(for: "b", generation: 5) == nil)
        // A newer generation replaces everything; an older one is never stored.
        cache.store(2, for: "a", generation: 6)
        cache.store(9, for: "a", generation: 5)
        #expect(cache.value(for: "a", generation: 6) == 2)
        #expect(cache.value(for: "a", generation: 5) == nil)
        // Past its capacity it starts over rather than grow.
        cache.store(3, for: "b", generation: 6)
        cache.store(4, for: "c", generation: 6)
        #expect(cache.value(for: "c", generation: 6) == 4)
        #expect(cache.value(for: "a", generation: 6) == nil)
    }

    /// Same page twice: rendered once. Any write in between: rendered again, with
    /// the change in it.
    @Test func controlPlaneRendersAgainAfterEveryWrite() async throws {
        let harness = try GatewayHarness()
        let cache = GenerationCache<Storeplatform_V1_ListStoresRequest, [String]>()
        let renders = Atomic<Int>(0)
        let list = { (pageSize: UInt32) async throws -> [String] in
            var request = Storeplatform_V1_ListStoresRequest()
            request.pageSize = pageSize
            return try await harness.controlPlane.listStores(request, CallContext(caller: Principal(.http, "test")), cache: cache) { page in
                renders.add(1, ordering: .relaxed)
                return page.stores.map { "\($0.name):\($0.status == .ready ? "ready" : "not ready")" }
            }
        }
        #expect(try await list(10) == [])
        #expect(try await list(10) == [])
        #expect(renders.load(ordering: .relaxed) == 1)
        #expect(try await list(20) == [])
        #expect(renders.load(ordering: .relaxed) == 2)

        var create = Storeplatform_V1_CreateStoreRequest()
        create.name = "cached"
        let store = try await harness.controlPlane.createStore(create, CallContext(caller: Principal(.http, "test"))).store
        let afterCreate = try await list(10)
        // (The instant simulator may already have made it ready.)
        #expect(afterCreate.count == 1 && afterCreate[0].hasPrefix("cached:"))
        #expect(renders.load(ordering: .relaxed) == 3)

        // The provisioner's transitions are writes too.
        let deadline = ContinuousClock.now + .seconds(20)
        while try await list(10) != ["cached:ready"] && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try await list(10) == ["cached:ready"], "store \(store.id) never showed up ready")
        await harness.running.stop()
    }
}
