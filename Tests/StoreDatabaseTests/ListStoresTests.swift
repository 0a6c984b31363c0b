import Foundation
import StoreCore
import Testing
@testable import StoreDatabase

@Suite("Listing stores: order, filter, keyset paging")
struct ListStoresTests {
    /// Seven stores; three pairs share a createdAt, so paging must break ties by id.
    /// Returned in the expected list order: createdAt descending, then id descending.
    private func databaseWithSevenStores(_ backend: Backend) async throws -> (StoreDatabase, [Store]) {
        let database = try await backend.makeDatabase()
        let stores = [
            queuedStore("s1", id: "st_aaaaaaaaaaaa", createdAt: instant(1)),
            queuedStore("s2", id: "st_bbbbbbbbbbbb", createdAt: instant(2)),
            queuedStore("s3", id: "st_cccccccccccc", createdAt: instant(2)),
            queuedStore("s4", id: "st_dddddddddddd", createdAt: instant(3)),
            queuedStore("s5", id: "st_eeeeeeeeeeee", createdAt: instant(3)),
            queuedStore("s6", id: "st_ffffffffffff", createdAt: instant(4)),
            queuedStore("s7", id: "st_gggggggggggg", createdAt: instant(4)),
        ]
        // Inserted out of order, so the order comes from the query, not the row ids.
        for store in [stores[3], stores[0], stores[6], stores[2], stores[5], stores[1], stores[4]] {
            _ = try await database.createStore(store, maxLiveStores: 100, requestedBy: "uid:1", idempotencyKey: nil, requestID: nil)
        }
        return (database, stores.reversed())
    }

    @Test(arguments: Backend.all) func storesByIDsReadsTheOnesThatExist(_ backend: Backend) async throws {
        let (database, stores) = try await databaseWithSevenStores(backend)
        let found = try await database.stores(ids: [stores[0].id, stores[3].id, "st_nonexistent0"])
        #expect(found.keys.sorted() == [stores[0].id, stores[3].id].sorted())
        #expect(found[stores[3].id]?.name == stores[3].name)
        #expect(try await database.stores(ids: []).isEmpty)
    }

    @Test(arguments: Backend.all) func aLiveStoreIsFoundByItsNameAndADeletedOneIsNot(_ backend: Backend) async throws {
        let database = try await backend.makeDatabase()
        var gone = queuedStore("shop", id: "st_gone0000000", createdAt: instant(1))
        gone.status = .deleted
        gone.deletedAt = instant(2)
        var onlyDeleted = queuedStore("closed", id: "st_closed00000", createdAt: instant(1))
        onlyDeleted.status = .deleted
        onlyDeleted.deletedAt = instant(2)
        let live = queuedStore("shop", id: "st_live0000000", createdAt: instant(3))
        try await database.importStores([gone, onlyDeleted, live], actor: "test")

        #expect(try await database.liveStore(named: "shop")?.id == "st_live0000000")
        #expect(try await database.liveStore(named: "closed") == nil)
        #expect(try await database.liveStore(named: "nowhere") == nil)
    }

    @Test(arguments: Backend.all) func newestFirstWithIdBreakingTies(_ backend: Backend) async throws {
        let (database, expected) = try await databaseWithSevenStores(backend)

        let (stores, next) = try await database.listStores(statuses: [], pageSize: 0, pageToken: "")

        #expect(stores.map(\.id) == expected.map(\.id))
        #expect(stores.map(\.name) == ["s7", "s6", "s5", "s4", "s3", "s2", "s1"])
        #expect(stores == expected)
        #expect(next == "")
    }

    @Test(arguments: Backend.all) func threePagesReturnEveryStoreExactlyOnce(_ backend: Backend) async throws {
        let (database, expected) = try await databaseWithSevenStores(backend)

        let first = try await database.listStores(statuses: [], pageSize: 3, pageToken: "")
        let second = try await database.listStores(statuses: [], pageSize: 3, pageToken: first.nextPageToken)
        let third = try await database.listStores(statuses: [], pageSize: 3, pageToken: second.nextPageToken)

        #expect(first.stores.map(\.name) == ["s7", "s6", "s5"])
        #expect(second.stores.map(\.name) == ["s4", "s3", "s2"])
        #expect(third.stores.map(\.name) == ["s1"])
        #expect(first.nextPageToken != "")
        #expect(second.nextPageToken != "")
        #expect(third.nextPageToken == "")
        let all = first.stores + second.stores + third.stores
        #expect(all == expected)
        #expect(Set(all.map(\.id)).count == 7)
    }

    @Test(arguments: Backend.all) func anExactlyFullLastPageHasNoNextToken(_ backend: Backend) async throws {
        let (database, _) = try await databaseWithSevenStores(backend)
        let page = try await database.listStores(statuses: [], pageSize: 7, pageToken: "")
        #expect(page.stores.count == 7)
        #expect(page.nextPageToken == "")
    }

    @Test(arguments: Backend.all) func storesAddedBetweenPagesDoNotShiftThem(_ backend: Backend) async throws {
        let (database, _) = try await databaseWithSevenStores(backend)
        let first = try await database.listStores(statuses: [], pageSize: 3, pageToken: "")
        _ = try await database.createStore(
            queuedStore("newest", createdAt: instant(10)), maxLiveStores: 100, requestedBy: "uid:1",
            idempotencyKey: nil, requestID: nil
        )
        let second = try await database.listStores(statuses: [], pageSize: 3, pageToken: first.nextPageToken)
        #expect(second.stores.map(\.name) == ["s4", "s3", "s2"])
    }

    @Test(arguments: Backend.all) func statusFilter(_ backend: Backend) async throws {
        let (database, _) = try await databaseWithSevenStores(backend)
        for id in ["st_bbbbbbbbbbbb", "st_eeeeeeeeeeee"] {
            _ = try await database.transition(storeID: id, to: .deleting, action: .delete, actor: "uid:1", now: instant(20))
        }
        _ = try await database.transition(storeID: "st_gggggggggggg", to: .provisioning, action: .provision, actor: "p", now: instant(20))

        let deleting = try await database.listStores(statuses: [.deleting], pageSize: 0, pageToken: "")
        let two = try await database.listStores(statuses: [.deleting, .provisioning], pageSize: 2, pageToken: "")
        let rest = try await database.listStores(statuses: [.deleting, .provisioning], pageSize: 2, pageToken: two.nextPageToken)
        let none = try await database.listStores(statuses: [.ready], pageSize: 0, pageToken: "")

        #expect(deleting.stores.map(\.name) == ["s5", "s2"])
        #expect(deleting.stores.allSatisfy { $0.status == .deleting })
        #expect(two.stores.map(\.name) == ["s7", "s5"])
        #expect(rest.stores.map(\.name) == ["s2"])
        #expect(rest.nextPageToken == "")
        #expect(none.stores.isEmpty)
        #expect(none.nextPageToken == "")
    }

    @Test(arguments: Backend.all) func nameFilterMatchesAnywhereInTheNameAndPages(_ backend: Backend) async throws {
        let (database, _) = try await databaseWithSevenStores(backend)
        _ = try await database.transition(storeID: "st_eeeeeeeeeeee", to: .deleting, action: .delete, actor: "uid:1", now: instant(20))

        let seven = try await database.listStores(statuses: [], nameContains: "7", pageSize: 0, pageToken: "")
        let first = try await database.listStores(statuses: [], nameContains: "s", pageSize: 4, pageToken: "")
        let rest = try await database.listStores(statuses: [], nameContains: "s", pageSize: 4, pageToken: first.nextPageToken)
        let deleting = try await database.listStores(statuses: [.deleting], nameContains: "s", pageSize: 0, pageToken: "")
        let none = try await database.listStores(statuses: [], nameContains: "S", pageSize: 0, pageToken: "")

        #expect(seven.stores.map(\.name) == ["s7"])
        #expect(seven.nextPageToken == "")
        #expect(first.stores.map(\.name) == ["s7", "s6", "s5", "s4"])
        #expect(rest.stores.map(\.name) == ["s3", "s2", "s1"])
        #expect(rest.nextPageToken == "")
        #expect(deleting.stores.map(\.name) == ["s5"])
        // Byte for byte: names are lower case, so an upper-case letter matches none.
        #expect(none.stores.isEmpty)
    }

    @Test(arguments: Backend.all, [
        "not a token!",
        "AAAA",
        Data("s1:notanumber:st_x".utf8).base64EncodedString(),
        Data("s1:123:".utf8).base64EncodedString(),
        Data("x1:123:st_x".utf8).base64EncodedString(),
        PageToken.token(forAuditID: 5),
    ])
    func malformedPageTokenIsInvalidArgument(_ backend: Backend, _ token: String) async throws {
        let (database, _) = try await databaseWithSevenStores(backend)
        let error = await #expect(throws: PlatformError.self) {
            try await database.listStores(statuses: [], pageSize: 3, pageToken: token)
        }
        #expect(error?.code == .invalidArgument)
        #expect(error?.code.rawValue == "INVALID_ARGUMENT")
        #expect(error?.message == "page token is not one this server issued")
    }

    @Test(arguments: Backend.all) func negativePageSizeIsInvalidArgument(_ backend: Backend) async throws {
        let (database, _) = try await databaseWithSevenStores(backend)
        let error = await #expect(throws: PlatformError.self) {
            try await database.listStores(statuses: [], pageSize: -1, pageToken: "")
        }
        #expect(error?.code == .invalidArgument)
    }

    @Test func storeTokenRoundTrips() throws {
        let key = PageToken.StoreKey(createdAt: 1_700_000_000_123, id: "st_abc:def")
        #expect(try PageToken.storeKey(PageToken.token(for: key)) == key)
        #expect(try PageToken.storeKey("") == nil)
    }
}
