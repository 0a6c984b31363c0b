import Foundation
import StoreCore
import Testing
@testable import StoreDatabase

@Suite("Many stores: an import of thousands, read back by status and page")
struct ManyStoresTests {
    @Test(arguments: Backend.all)
    func fiveThousandImportedStoresByStatus(_ backend: Backend) async throws {
        let database = try await backend.makeDatabase()
        let statuses: [StoreStatus] = [.queued, .provisioning, .ready, .deleted]
        let stores = (0..<5_000).map { index in
            var store = queuedStore("s\(index)", id: String(format: "st_%012d", index), createdAt: instant(Double(index)))
            store.status = statuses[index % 4]
            return store
        }
        try await database.importStores(stores, actor: "bench")

        let live = try await database.stores(inStatuses: [.queued, .provisioning, .ready])
        let all = try await database.stores(inStatuses: Set(StoreStatus.allCases))
        #expect(live.count == 3_750)
        #expect(all == stores)
        #expect(try await database.liveStoreCount() == 3_750)
        #expect(try await database.auditCount() == 5_000)
        #expect(try await database.countsByStatus() == [.queued: 1_250, .provisioning: 1_250, .ready: 1_250, .failed: 0, .deleting: 0, .deleted: 1_250, .upgrading: 0])
        // Page sizes: 0 means 50, 500 at most; eleven pages of 500 hold every store once.
        #expect(try await database.listStores(statuses: [], pageSize: 0, pageToken: "").stores.count == 50)
        var token = ""
        var listed: [Store] = []
        repeat {
            let page = try await database.listStores(statuses: [], pageSize: 500, pageToken: token)
            #expect(page.stores.count <= 500)
            listed += page.stores
            token = page.nextPageToken
        } while !token.isEmpty
        #expect(listed == stores.reversed())
    }
}
