import Foundation
import StoreCore
import Testing
@testable import StoreDatabase

@Suite("Store revisions: written with the store's changes, read newest first")
struct RevisionTests {
    @Test(arguments: Backend.all) func createWritesRevisionOnePending(_ backend: Backend) async throws {
        let database = try await backend.makeDatabase()
        var store = queuedStore("shop")
        store.version = "6.9-wc10.3"
        store.revision = 1
        _ = try await database.createStore(store, maxLiveStores: 10, requestedBy: "uid:1000", idempotencyKey: nil, requestID: nil)

        #expect(try await database.store(id: store.id)?.version == "6.9-wc10.3")
        #expect(try await database.store(id: store.id)?.revision == 1)
        #expect(try await database.storeRevisions(storeID: store.id) == [
            StoreRevision(
                storeID: store.id, revision: 1, version: "6.9-wc10.3", status: .pending, actor: "uid:1000", time: baseTime,
                message: "install"
            ),
        ])
        #expect(try await database.storeRevisions(storeID: "st_nosuchstore0").isEmpty)
    }

    @Test(arguments: Backend.all) func aTransitionWritesItsRevisionsInItsTransaction(_ backend: Backend) async throws {
        let database = try await backend.makeDatabase()
        var store = queuedStore("shop")
        store.version = "6.8-wc9.8"
        store.revision = 1
        _ = try await database.createStore(store, maxLiveStores: 10, requestedBy: "uid:1000", idempotencyKey: nil, requestID: nil)
        _ = try await database.transition(storeID: store.id, to: .provisioning, action: .provision, actor: "system", now: instant(1))
        let installed = StoreRevision(
            storeID: store.id, revision: 1, version: "6.8-wc9.8", status: .deployed, actor: "uid:1000", time: instant(2), message: "install"
        )
        _ = try await database.transition(
            storeID: store.id, to: .ready, action: .ready, actor: "system", now: instant(2), revisions: [installed]
        )
        let upgrade = StoreRevision(
            storeID: store.id, revision: 2, version: "6.9-wc10.3", status: .pending, actor: "token:ci", time: instant(3),
            message: "upgrade from 6.8-wc9.8"
        )
        let upgrading = try await database.transition(
            storeID: store.id, to: .upgrading, expectedFrom: [.ready], action: .upgrade, actor: "token:ci", now: instant(3),
            revisions: [upgrade]
        ) {
            $0.version = "6.9-wc10.3"
            $0.revision = 2
        }
        #expect(upgrading.store.version == "6.9-wc10.3")
        #expect(upgrading.store.revision == 2)
        #expect(try await database.storeRevisions(storeID: store.id) == [upgrade, installed])

        // A refused transition writes none of its revisions.
        var superseded = installed
        superseded.status = .superseded
        await #expect(throws: PlatformError.self) {
            try await database.transition(
                storeID: store.id, to: .deleted, action: .deleted, actor: "system", now: instant(4), revisions: [superseded]
            )
        }
        #expect(try await database.storeRevisions(storeID: store.id) == [upgrade, installed])

        // A new revision given a recorded number is refused, in the transaction of its change.
        var reused = upgrade
        reused.version = "6.8-wc9.8"
        reused.message = "rollback to revision 1"
        reused.rollbackTo = 1
        let refusal = await #expect(throws: PlatformError.self) {
            try await database.transition(
                storeID: store.id, to: .ready, expectedFrom: [.upgrading], action: .upgraded, actor: "system", now: instant(4),
                revisions: [reused]
            )
        }
        #expect(refusal?.code == .internalError)
        #expect(refusal?.message == "store \(store.id) already has a revision 2 (6.9-wc10.3, pending); a revision number is never reused, "
            + "so revision 2 (6.8-wc9.8, pending) is not recorded")
        #expect(try await database.store(id: store.id)?.status == .upgrading)
        #expect(try await database.storeRevisions(storeID: store.id) == [upgrade, installed])

        // The same revision moves on to its next status.
        var deployed = upgrade
        deployed.status = .deployed
        deployed.time = instant(5)
        _ = try await database.transition(
            storeID: store.id, to: .ready, expectedFrom: [.upgrading], action: .upgraded, actor: "system", now: instant(5),
            revisions: [deployed, superseded]
        )
        #expect(try await database.storeRevisions(storeID: store.id) == [deployed, superseded])
    }
}
