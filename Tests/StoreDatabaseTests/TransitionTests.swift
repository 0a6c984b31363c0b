import Foundation
import StoreCore
import Testing
@testable import StoreDatabase

@Suite("Transitions and updates: one transaction with their audit row")
struct TransitionTests {
    /// A database holding one queued store named "shop", created by uid:1000.
    private func databaseWithShop(_ backend: Backend) async throws -> (StoreDatabase, Store) {
        let database = try await backend.makeDatabase()
        let store = queuedStore("shop")
        _ = try await database.createStore(store, maxLiveStores: 10, requestedBy: "uid:1000", idempotencyKey: "key", requestID: "req-1")
        return (database, store)
    }

    @Test(arguments: Backend.all) func queuedToProvisioningToReady(_ backend: Backend) async throws {
        let (database, store) = try await databaseWithShop(backend)

        let provisioning = try await database.transition(
            storeID: store.id, to: .provisioning, expectedFrom: [.queued], action: .provision,
            actor: "provisioner", message: "provisioning attempt 1", requestID: "req-1", now: instant(1)
        ) {
            $0.attempts += 1
            $0.provisioningStartedAt = instant(1)
        }
        let ready = try await database.transition(
            storeID: store.id, to: .ready, expectedFrom: [.provisioning], action: .ready,
            actor: "provisioner", now: instant(5.5)
        ) {
            $0.url = "http://shop.localhost"
            $0.readyAt = instant(5.5)
            $0.provisioningDurationMilliseconds = 4_500
        }

        var expectedStore = store
        expectedStore.status = .provisioning
        expectedStore.attempts = 1
        expectedStore.provisioningStartedAt = instant(1)
        expectedStore.updatedAt = instant(1)
        #expect(provisioning.store == expectedStore)
        #expect(provisioning.event == AuditEvent(
            id: 2, time: instant(1), actor: "provisioner", action: .provision, storeID: store.id,
            storeName: "shop", fromStatus: .queued, toStatus: .provisioning,
            message: "provisioning attempt 1", requestID: "req-1"
        ))

        expectedStore.status = .ready
        expectedStore.url = "http://shop.localhost"
        expectedStore.readyAt = instant(5.5)
        expectedStore.provisioningDurationMilliseconds = 4_500
        expectedStore.updatedAt = instant(5.5)
        #expect(ready.store == expectedStore)
        #expect(try await database.store(id: store.id) == expectedStore)

        let events = try await database.listAudit(limit: 10, pageToken: "", storeID: store.id).events
        #expect(events.map(\.id) == [3, 2, 1])
        #expect(events.map(\.action) == [.ready, .provision, .create])
        #expect(events.map(\.fromStatus) == [.provisioning, .queued, nil])
        #expect(events.map(\.toStatus) == [.ready, .provisioning, .queued])
        #expect(events.first == ready.event)
        #expect(ready.event.message == "")
        #expect(ready.event.requestID == nil)
    }

    @Test(arguments: Backend.all) func illegalTransitionThrowsAndWritesNothing(_ backend: Backend) async throws {
        let (database, store) = try await databaseWithShop(backend)

        let error = await #expect(throws: PlatformError.self) {
            try await database.transition(storeID: store.id, to: .ready, action: .ready, actor: "provisioner", now: instant(1)) {
                $0.url = "http://never.saved"
            }
        }

        #expect(error?.code == .invalidStateTransition)
        #expect(error?.code.rawValue == "INVALID_STATE_TRANSITION")
        #expect(error?.message == "cannot mark ready store \"shop\": it is queued; marking ready applies to provisioning or upgrading stores")
        #expect(try await database.auditCount() == 1)
        #expect(try await database.store(id: store.id) == store)
    }

    @Test(arguments: Backend.all) func deletedIsTerminal(_ backend: Backend) async throws {
        let (database, store) = try await databaseWithShop(backend)
        _ = try await database.transition(storeID: store.id, to: .deleting, action: .delete, actor: "uid:1000", now: instant(1))
        _ = try await database.transition(storeID: store.id, to: .deleted, action: .deleted, actor: "provisioner", now: instant(2)) {
            $0.deletedAt = instant(2)
        }

        let error = await #expect(throws: PlatformError.self) {
            try await database.transition(storeID: store.id, to: .deleting, action: .delete, actor: "uid:1000", now: instant(3))
        }

        #expect(error?.code == .invalidStateTransition)
        #expect(try await database.auditCount() == 3)
        #expect(try await database.store(id: store.id)?.deletedAt == instant(2))
    }

    @Test(arguments: Backend.all) func expectedFromMismatchThrowsAndWritesNothing(_ backend: Backend) async throws {
        let (database, store) = try await databaseWithShop(backend)

        // queued → deleting is legal, but the caller expected the store to be provisioning.
        let error = await #expect(throws: PlatformError.self) {
            try await database.transition(
                storeID: store.id, to: .deleting, expectedFrom: [.provisioning, .ready], action: .delete,
                actor: "reconciler", now: instant(1)
            )
        }

        #expect(error?.code == .invalidStateTransition)
        #expect(error?.message == "cannot delete store \"shop\": it is queued, expected provisioning or ready; it changed meanwhile")
        #expect(try await database.auditCount() == 1)
        #expect(try await database.store(id: store.id) == store)

        let matching = try await database.transition(
            storeID: store.id, to: .deleting, expectedFrom: [.queued], action: .delete, actor: "reconciler", now: instant(2)
        )
        #expect(matching.store.status == .deleting)
        #expect(matching.event.fromStatus == .queued)
    }

    @Test(arguments: Backend.all) func unknownStoreIsNotFound(_ backend: Backend) async throws {
        let (database, _) = try await databaseWithShop(backend)

        let transitionError = await #expect(throws: PlatformError.self) {
            try await database.transition(storeID: "st_missing", to: .deleting, action: .delete, actor: "uid:1")
        }
        let updateError = await #expect(throws: PlatformError.self) {
            try await database.update(storeID: "st_missing") { $0.url = "x" }
        }

        #expect(transitionError?.code == .notFound)
        #expect(transitionError?.message == "no store with id \"st_missing\"")
        #expect(updateError?.code == .notFound)
        #expect(updateError?.message == "no store with id \"st_missing\"")
        #expect(try await database.auditCount() == 1)
    }

    @Test(arguments: Backend.all) func transitionKeepsTheIdempotencyKey(_ backend: Backend) async throws {
        let (database, store) = try await databaseWithShop(backend)
        _ = try await database.transition(storeID: store.id, to: .provisioning, action: .provision, actor: "provisioner", now: instant(1))

        let again = try await database.createStore(
            queuedStore("shop"), maxLiveStores: 10, requestedBy: "uid:1000", idempotencyKey: "key", requestID: "req-2"
        )

        guard case .existing(let existing) = again else {
            Issue.record("expected the existing store, got \(again)")
            return
        }
        #expect(existing.id == store.id)
        #expect(existing.status == .provisioning)
    }

    @Test(arguments: Backend.all) func updateChangesFieldsWithoutAnAuditRow(_ backend: Backend) async throws {
        let (database, store) = try await databaseWithShop(backend)

        let updated = try await database.update(storeID: store.id) {
            $0.errorMessage = "helm: timed out"
            $0.updatedAt = instant(9)
        }

        var expected = store
        expected.errorMessage = "helm: timed out"
        expected.updatedAt = instant(9)
        #expect(updated == expected)
        #expect(try await database.store(id: store.id) == expected)
        #expect(try await database.auditCount() == 1)
    }

    @Test(arguments: Backend.all) func updateCannotChangeTheStatus(_ backend: Backend) async throws {
        let (database, store) = try await databaseWithShop(backend)

        let error = await #expect(throws: PlatformError.self) {
            try await database.update(storeID: store.id) {
                $0.status = .ready
                $0.url = "http://never.saved"
            }
        }

        #expect(error?.code == .internalError)
        #expect(try await database.store(id: store.id) == store)
    }
}
