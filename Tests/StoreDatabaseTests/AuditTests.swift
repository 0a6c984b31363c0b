import Foundation
import StoreCore
import Testing
@testable import StoreDatabase

@Suite("Audit log: paging, store filter, recent failures")
struct AuditTests {
    /// Two stores: "a" (create, provision, fail) and "b" (create, delete): five rows,
    /// ids 1 to 5 in the order a-create, b-create, a-provision, b-delete, a-fail.
    private func databaseWithHistory(_ backend: Backend) async throws -> (StoreDatabase, a: Store, b: Store) {
        let database = try await backend.makeDatabase()
        let a = queuedStore("a")
        let b = queuedStore("b", createdAt: instant(1))
        _ = try await database.createStore(a, maxLiveStores: 10, requestedBy: "uid:1", idempotencyKey: nil, requestID: nil)
        _ = try await database.createStore(b, maxLiveStores: 10, requestedBy: "uid:2", idempotencyKey: nil, requestID: nil)
        _ = try await database.transition(storeID: a.id, to: .provisioning, action: .provision, actor: "provisioner", now: instant(2))
        _ = try await database.transition(storeID: b.id, to: .deleting, action: .delete, actor: "uid:2", now: instant(3))
        _ = try await database.transition(
            storeID: a.id, to: .failed, action: .provision, actor: "provisioner",
            message: "helm install failed: exit status 1", now: instant(4)
        )
        return (database, a, b)
    }

    @Test(arguments: Backend.all) func pagesNewestFirst(_ backend: Backend) async throws {
        let (database, _, _) = try await databaseWithHistory(backend)

        let first = try await database.listAudit(limit: 2, pageToken: "", storeID: nil)
        let second = try await database.listAudit(limit: 2, pageToken: first.nextPageToken, storeID: nil)
        let third = try await database.listAudit(limit: 2, pageToken: second.nextPageToken, storeID: nil)

        #expect(first.events.map(\.id) == [5, 4])
        #expect(second.events.map(\.id) == [3, 2])
        #expect(third.events.map(\.id) == [1])
        #expect(third.nextPageToken == "")
        #expect(try await database.auditCount() == 5)
    }

    @Test(arguments: Backend.all) func storeFilter(_ backend: Backend) async throws {
        let (database, a, b) = try await databaseWithHistory(backend)

        let aEvents = try await database.listAudit(limit: 0, pageToken: "", storeID: a.id)
        let bFirst = try await database.listAudit(limit: 1, pageToken: "", storeID: b.id)
        let bSecond = try await database.listAudit(limit: 1, pageToken: bFirst.nextPageToken, storeID: b.id)

        #expect(aEvents.events.map(\.id) == [5, 3, 1])
        #expect(aEvents.events.allSatisfy { $0.storeID == a.id && $0.storeName == "a" })
        #expect(aEvents.nextPageToken == "")
        #expect(bFirst.events.map(\.id) == [4])
        #expect(bSecond.events.map(\.id) == [2])
        #expect(bSecond.nextPageToken == "")
        #expect(try await database.auditCount(storeID: a.id) == 3)
        #expect(try await database.auditCount(storeID: b.id) == 2)
        #expect(try await database.listAudit(limit: 0, pageToken: "", storeID: "st_missing").events.isEmpty)
    }

    @Test(arguments: Backend.all) func badTokenIsInvalidArgument(_ backend: Backend) async throws {
        let (database, _, _) = try await databaseWithHistory(backend)
        for token in ["%%%", Data("a1:-3".utf8).base64EncodedString(), PageToken.token(for: .init(createdAt: 1, id: "st_x"))] {
            let error = await #expect(throws: PlatformError.self) {
                try await database.listAudit(limit: 2, pageToken: token, storeID: nil)
            }
            #expect(error?.code == .invalidArgument)
            #expect(error?.message == "page token is not one this server issued")
        }
    }

    @Test(arguments: Backend.all) func recentFailuresNewestFirstWithinTheLimit(_ backend: Backend) async throws {
        let database = try await backend.makeDatabase()
        var stores: [Store] = []
        for (index, name) in ["x", "y", "z"].enumerated() {
            let store = queuedStore(name)
            stores.append(store)
            _ = try await database.createStore(store, maxLiveStores: 10, requestedBy: "uid:1", idempotencyKey: nil, requestID: nil)
            _ = try await database.transition(storeID: store.id, to: .provisioning, action: .provision, actor: "provisioner", now: instant(Double(index)))
            _ = try await database.transition(
                storeID: store.id, to: .failed, action: .provision, actor: "provisioner",
                message: "\(name) failed", now: instant(Double(index) + 0.5)
            )
        }
        // Later rows that are not failures do not count.
        _ = try await database.transition(storeID: stores[0].id, to: .queued, action: .retry, actor: "uid:1", now: instant(10))

        _ = try await database.transition(storeID: stores[1].id, to: .deleting, action: .delete, actor: "uid:1", now: instant(11))
        _ = try await database.transition(storeID: stores[1].id, to: .deleted, action: .deleted, actor: "uid:1", now: instant(12))

        let failures = try await database.recentFailures(limit: 2).map(\.event)
        let all = try await database.recentFailures(limit: 10)

        #expect(failures.map(\.storeName) == ["z", "y"])
        #expect(failures.map(\.message) == ["z failed", "y failed"])
        #expect(failures.allSatisfy { $0.fromStatus == .provisioning && $0.toStatus == .failed })
        #expect(failures.map(\.time) == [instant(2.5), instant(1.5)])
        #expect(all.map(\.event.storeName) == ["z", "y", "x"])
        // What followed each: nothing (z), its delete (y: deleting first), its retry (x).
        #expect(all.map(\.followedBy) == [nil, .deleting, .queued])
        #expect(all.map(\.storeStatus) == [.failed, .deleted, .queued])
        #expect(try await database.recentFailures(limit: 0).isEmpty)
    }
}
