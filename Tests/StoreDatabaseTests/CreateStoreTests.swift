import Foundation
import StoreCore
import Testing
@testable import StoreDatabase

@Suite("Creating stores: round trip, audit, idempotency, names, quota")
struct CreateStoreTests {
    @Test(arguments: Backend.all) func createdStoreReadsBackWithEveryField(_ backend: Backend) async throws {
        let database = try await backend.makeDatabase()
        let store = Store(
            id: "st_abcdefghijkl",
            name: "shop",
            engine: "woocommerce",
            status: .queued,
            url: "http://shop.example.test",
            namespace: "store-shop-ghijkl",
            release: "shop",
            errorMessage: "earlier failure",
            attempts: 3,
            createdAt: baseTime,
            updatedAt: instant(1),
            readyAt: instant(2),
            deletedAt: instant(3),
            provisioningDurationMilliseconds: 4_321,
            provisioningStartedAt: instant(4)
        )

        let outcome = try await database.createStore(
            store, maxLiveStores: 10, requestedBy: "uid:1000", idempotencyKey: "key-1", requestID: "req-1"
        )

        guard case .created(let created, _) = outcome else {
            Issue.record("expected a created store, got \(outcome)")
            return
        }
        #expect(created == store)
        let loaded = try #require(try await database.store(id: "st_abcdefghijkl"))
        #expect(loaded == store)
        #expect(loaded.id == "st_abcdefghijkl")
        #expect(loaded.name == "shop")
        #expect(loaded.engine == "woocommerce")
        #expect(loaded.status == .queued)
        #expect(loaded.url == "http://shop.example.test")
        #expect(loaded.namespace == "store-shop-ghijkl")
        #expect(loaded.release == "shop")
        #expect(loaded.errorMessage == "earlier failure")
        #expect(loaded.attempts == 3)
        #expect(loaded.createdAt == Date(timeIntervalSince1970: 1_700_000_000.123))
        #expect(loaded.updatedAt == Date(timeIntervalSince1970: 1_700_000_001.123))
        #expect(loaded.readyAt == Date(timeIntervalSince1970: 1_700_000_002.123))
        #expect(loaded.deletedAt == Date(timeIntervalSince1970: 1_700_000_003.123))
        #expect(loaded.provisioningDurationMilliseconds == 4_321)
        #expect(loaded.provisioningStartedAt == Date(timeIntervalSince1970: 1_700_000_004.123))
    }

    @Test(arguments: Backend.all) func nilOptionalsReadBackAsNil(_ backend: Backend) async throws {
        let database = try await backend.makeDatabase()
        let store = queuedStore("plain")
        _ = try await database.createStore(store, maxLiveStores: 10, requestedBy: "uid:0", idempotencyKey: nil, requestID: nil)
        let loaded = try #require(try await database.store(id: store.id))
        #expect(loaded == store)
        #expect(loaded.readyAt == nil)
        #expect(loaded.deletedAt == nil)
        #expect(loaded.provisioningDurationMilliseconds == nil)
        #expect(loaded.provisioningStartedAt == nil)
    }

    @Test(arguments: Backend.all) func datesAreKeptToTheMillisecond(_ backend: Backend) async throws {
        let database = try await backend.makeDatabase()
        let precise = Date(timeIntervalSince1970: 1_700_000_000.123_456)
        let outcome = try await database.createStore(
            queuedStore("precise", createdAt: precise), maxLiveStores: 10, requestedBy: "uid:0",
            idempotencyKey: nil, requestID: nil
        )
        guard case .created(let created, let event) = outcome else {
            Issue.record("expected a created store, got \(outcome)")
            return
        }
        #expect(created.createdAt == Date(timeIntervalSince1970: 1_700_000_000.123))
        #expect(event.time == Date(timeIntervalSince1970: 1_700_000_000.123))
        #expect(try await database.store(id: created.id) == created)
    }

    @Test(arguments: Backend.all) func unknownStoreIsNil(_ backend: Backend) async throws {
        let database = try await backend.makeDatabase()
        #expect(try await database.store(id: "st_missing") == nil)
    }

    @Test(arguments: Backend.all) func createWritesExactlyOneAuditRowFromNothingToQueued(_ backend: Backend) async throws {
        let database = try await backend.makeDatabase()
        let store = queuedStore("shop")
        let outcome = try await database.createStore(
            store, maxLiveStores: 10, requestedBy: "uid:1000", idempotencyKey: nil, requestID: "req-7"
        )

        let expected = AuditEvent(
            id: 1, time: baseTime, actor: "uid:1000", action: .create, storeID: store.id, storeName: "shop",
            fromStatus: nil, toStatus: .queued, message: "", requestID: "req-7"
        )
        #expect(outcome == .created(store, expected))
        #expect(try await database.auditCount() == 1)
        #expect(try await database.auditCount(storeID: store.id) == 1)
        #expect(try await database.listAudit(limit: 0, pageToken: "", storeID: nil).events == [expected])
    }

    @Test(arguments: Backend.all) func sameIdempotencyKeyReturnsTheFirstStoreAndWritesNothing(_ backend: Backend) async throws {
        let database = try await backend.makeDatabase()
        let first = queuedStore("shop")
        _ = try await database.createStore(first, maxLiveStores: 10, requestedBy: "uid:1000", idempotencyKey: "k1", requestID: "a")

        // A retried request: a new id and even another name, same caller and key.
        let again = try await database.createStore(
            queuedStore("other"), maxLiveStores: 10, requestedBy: "uid:1000", idempotencyKey: "k1", requestID: "b"
        )

        #expect(again == .existing(first))
        #expect(try await database.auditCount() == 1)
        #expect(try await database.liveStoreCount() == 1)
    }

    @Test(arguments: Backend.all) func idempotencyKeyIsScopedToTheCaller(_ backend: Backend) async throws {
        let database = try await backend.makeDatabase()
        _ = try await database.createStore(queuedStore("one"), maxLiveStores: 10, requestedBy: "uid:1", idempotencyKey: "k", requestID: nil)
        let second = queuedStore("two")
        let outcome = try await database.createStore(second, maxLiveStores: 10, requestedBy: "uid:2", idempotencyKey: "k", requestID: nil)
        guard case .created(let created, _) = outcome else {
            Issue.record("expected a created store, got \(outcome)")
            return
        }
        #expect(created == second)
        #expect(try await database.liveStoreCount() == 2)
    }

    @Test(arguments: Backend.all) func emptyIdempotencyKeyIsNoKey(_ backend: Backend) async throws {
        let database = try await backend.makeDatabase()
        _ = try await database.createStore(queuedStore("one"), maxLiveStores: 10, requestedBy: "uid:1", idempotencyKey: "", requestID: nil)
        let outcome = try await database.createStore(queuedStore("two"), maxLiveStores: 10, requestedBy: "uid:1", idempotencyKey: "", requestID: nil)
        guard case .created(let created, _) = outcome else {
            Issue.record("expected a created store, got \(outcome)")
            return
        }
        #expect(created.name == "two")
        #expect(try await database.liveStoreCount() == 2)
    }

    @Test(arguments: Backend.all) func concurrentRequestsWithOneKeyCreateOneStore(_ backend: Backend) async throws {
        let database = try await backend.makeDatabase()
        let outcomes = await concurrently(8) { index in
            try await database.createStore(queuedStore("shop"), maxLiveStores: 10, requestedBy: "uid:1", idempotencyKey: "k", requestID: "\(index)")
        }
        let created = outcomes.compactMap { outcome -> Store? in
            if case .success(.created(let store, _)) = outcome { return store }
            return nil
        }
        let existing = outcomes.compactMap { outcome -> Store? in
            if case .success(.existing(let store)) = outcome { return store }
            return nil
        }
        #expect(created.count == 1)
        #expect(existing.count == 7)
        #expect(existing.allSatisfy { $0 == created.first })
        #expect(try await database.auditCount() == 1)
    }

    @Test(arguments: Backend.all) func nameHeldByALiveStoreIsTaken(_ backend: Backend) async throws {
        let database = try await backend.makeDatabase()
        let first = queuedStore("shop")
        _ = try await database.createStore(first, maxLiveStores: 10, requestedBy: "uid:1", idempotencyKey: nil, requestID: nil)
        _ = try await database.transition(storeID: first.id, to: .provisioning, action: .provision, actor: "provisioner", now: instant(1))

        let error = await #expect(throws: PlatformError.self) {
            try await database.createStore(queuedStore("shop"), maxLiveStores: 10, requestedBy: "uid:2", idempotencyKey: nil, requestID: nil)
        }

        #expect(error?.code == .storeNameTaken)
        #expect(error?.code.rawValue == "STORE_NAME_TAKEN")
        #expect(error?.message == "store name \"shop\" is taken by store \(first.id), which is provisioning; choose another name, or delete that store first")
        #expect(try await database.liveStoreCount() == 1)
        #expect(try await database.auditCount() == 2)
    }

    @Test(arguments: Backend.all) func nameIsReusableOnceTheStoreIsDeleted(_ backend: Backend) async throws {
        let database = try await backend.makeDatabase()
        let first = queuedStore("shop")
        _ = try await database.createStore(first, maxLiveStores: 10, requestedBy: "uid:1", idempotencyKey: nil, requestID: nil)
        _ = try await database.transition(storeID: first.id, to: .deleting, action: .delete, actor: "uid:1", now: instant(1))
        await #expect(throws: PlatformError.self) {
            try await database.createStore(queuedStore("shop"), maxLiveStores: 10, requestedBy: "uid:1", idempotencyKey: nil, requestID: nil)
        }
        _ = try await database.transition(storeID: first.id, to: .deleted, action: .deleted, actor: "provisioner", now: instant(2))

        let second = queuedStore("shop", createdAt: instant(3))
        let outcome = try await database.createStore(second, maxLiveStores: 10, requestedBy: "uid:1", idempotencyKey: nil, requestID: nil)

        guard case .created(let created, _) = outcome else {
            Issue.record("expected a created store, got \(outcome)")
            return
        }
        #expect(created == second)
        #expect(try await database.store(id: first.id)?.status == .deleted)
        #expect(try await database.liveStoreCount() == 1)
    }

    @Test(arguments: Backend.all) func uniqueIndexBacksUpTheNameCheck(_ backend: Backend) async throws {
        let database = try await backend.makeDatabase()
        let first = queuedStore("shop")
        let second = queuedStore("cart")
        _ = try await database.createStore(first, maxLiveStores: 10, requestedBy: "uid:1", idempotencyKey: nil, requestID: nil)
        _ = try await database.createStore(second, maxLiveStores: 10, requestedBy: "uid:1", idempotencyKey: nil, requestID: nil)

        // update() does not check names itself: only the partial unique index refuses this.
        let error = await #expect(throws: PlatformError.self) {
            try await database.update(storeID: second.id) { $0.name = "shop" }
        }

        #expect(error?.code == .storeNameTaken)
        #expect(error?.message == "store name \"shop\" is taken by a live store; choose another name, or delete that store first")
        #expect(try await database.store(id: second.id)?.name == "cart")
    }

    @Test(arguments: Backend.all) func quotaCountsLiveStores(_ backend: Backend) async throws {
        let database = try await backend.makeDatabase()
        let first = queuedStore("one")
        _ = try await database.createStore(first, maxLiveStores: 2, requestedBy: "uid:1", idempotencyKey: nil, requestID: nil)
        _ = try await database.createStore(queuedStore("two"), maxLiveStores: 2, requestedBy: "uid:1", idempotencyKey: nil, requestID: nil)

        let error = await #expect(throws: PlatformError.self) {
            try await database.createStore(queuedStore("three"), maxLiveStores: 2, requestedBy: "uid:1", idempotencyKey: nil, requestID: nil)
        }
        #expect(error?.code == .quotaExceeded)
        #expect(error?.message == "the platform's limit of 2 live stores is reached (2 live); delete a store before creating another")

        _ = try await database.transition(storeID: first.id, to: .deleting, action: .delete, actor: "uid:1", now: instant(1))
        _ = try await database.transition(storeID: first.id, to: .deleted, action: .deleted, actor: "provisioner", now: instant(2))
        let outcome = try await database.createStore(queuedStore("three"), maxLiveStores: 2, requestedBy: "uid:1", idempotencyKey: nil, requestID: nil)
        guard case .created = outcome else {
            Issue.record("expected a created store, got \(outcome)")
            return
        }
        #expect(try await database.liveStoreCount() == 2)
    }

    @Test(arguments: Backend.all) func quotaHoldsUnderTwentyConcurrentCreates(_ backend: Backend) async throws {
        let database = try await backend.makeDatabase()

        let outcomes = await concurrently(20) { index in
            try await database.createStore(
                queuedStore("shop-\(index)"), maxLiveStores: 10, requestedBy: "uid:\(index)",
                idempotencyKey: nil, requestID: nil
            )
        }

        var created = 0
        var quotaExceeded = 0
        for outcome in outcomes {
            switch outcome {
            case .success(.created): created += 1
            case .failure(let error as PlatformError) where error.code == .quotaExceeded: quotaExceeded += 1
            default: Issue.record("unexpected outcome \(outcome)")
            }
        }
        #expect(created == 10)
        #expect(quotaExceeded == 10)
        #expect(try await database.liveStoreCount() == 10)
        #expect(try await database.auditCount() == 10)
    }

    @Test(arguments: Backend.all) func aStoreThatIsNotQueuedIsRefused(_ backend: Backend) async throws {
        let database = try await backend.makeDatabase()
        var store = queuedStore("shop")
        store.status = .ready
        let error = await #expect(throws: PlatformError.self) {
            try await database.createStore(store, maxLiveStores: 10, requestedBy: "uid:1", idempotencyKey: nil, requestID: nil)
        }
        #expect(error?.code == .internalError)
        #expect(try await database.store(id: store.id) == nil)
        #expect(try await database.auditCount() == 0)
    }
}
