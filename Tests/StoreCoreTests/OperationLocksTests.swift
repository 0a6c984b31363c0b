import Foundation
import StoreCore
import Testing

@Suite("Operation locks")
struct OperationLocksTests {
    static let start = Date(timeIntervalSince1970: 1_767_225_600)

    @Test func secondAcquireIsOperationInProgress() throws {
        var locks = OperationLocks()
        let lease = try locks.acquire(storeID: "st_1", storeName: "shop", kind: .provision, now: Self.start)
        #expect(lease.storeID == "st_1")
        #expect(lease.kind == .provision)
        let error = #expect(throws: PlatformError.self) {
            try locks.acquire(storeID: "st_1", storeName: "shop", kind: .delete)
        }
        #expect(error?.code == .operationInProgress)
        #expect(error?.message == "cannot start a delete operation: a provision operation started at 2026-01-01T00:00:00Z is still running on store \"shop\"; wait for it to finish")
        #expect(locks.count == 1)
        // "an" before a vowel.
        let upgrade = #expect(throws: PlatformError.self) {
            try locks.acquire(storeID: "st_1", storeName: "shop", kind: .upgrade)
        }
        #expect(upgrade?.message.hasPrefix("cannot start an upgrade operation: a provision operation started at") == true)
    }

    @Test func otherStoresAreIndependent() throws {
        var locks = OperationLocks()
        _ = try locks.acquire(storeID: "st_1", storeName: "one", kind: .provision)
        _ = try locks.acquire(storeID: "st_2", storeName: "two", kind: .delete)
        #expect(locks.count == 2)
    }

    @Test func releaseThenAcquireWorks() throws {
        var locks = OperationLocks()
        let lease = try locks.acquire(storeID: "st_1", storeName: "shop", kind: .provision)
        let freed1 = locks.release(lease)
        #expect(freed1)
        #expect(locks.count == 0)
        #expect(!locks.isHeld(storeID: "st_1"))
        let next = try locks.acquire(storeID: "st_1", storeName: "shop", kind: .retry)
        #expect(next.kind == .retry)
        #expect(locks.isHeld(storeID: "st_1"))
    }

    @Test func releaseIsIdempotent() throws {
        var locks = OperationLocks()
        let lease = try locks.acquire(storeID: "st_1", storeName: "shop", kind: .provision)
        let freed2 = locks.release(lease)
        #expect(freed2)
        let freed3 = locks.release(lease)
        #expect(!freed3)
        #expect(locks.count == 0)
    }

    @Test func staleReleaseDoesNotFreeTheNewHolder() throws {
        var locks = OperationLocks()
        let old = try locks.acquire(storeID: "st_1", storeName: "shop", kind: .provision, now: Self.start)
        locks.release(old)
        let current = try locks.acquire(storeID: "st_1", storeName: "shop", kind: .delete, now: Self.start)
        // Same store, kind aside, same start time: only the generation tells them apart.
        let freed4 = locks.release(old)
        #expect(!freed4)
        #expect(locks.isHeld(storeID: "st_1"))
        let error = #expect(throws: PlatformError.self) {
            try locks.acquire(storeID: "st_1", storeName: "shop", kind: .retry)
        }
        #expect(error?.code == .operationInProgress)
        let freed5 = locks.release(current)
        #expect(freed5)
        #expect(locks.count == 0)
    }

    @Test func activeListsHoldersOldestFirst() throws {
        var locks = OperationLocks()
        _ = try locks.acquire(storeID: "st_b", storeName: "bee", kind: .delete, now: Self.start.addingTimeInterval(20))
        _ = try locks.acquire(storeID: "st_a", storeName: "ay", kind: .provision, now: Self.start.addingTimeInterval(10))
        let released = try locks.acquire(storeID: "st_c", storeName: "sea", kind: .retry, now: Self.start)
        _ = try locks.acquire(storeID: "st_d", storeName: "dee", kind: .retry, now: Self.start.addingTimeInterval(30))
        locks.release(released)
        #expect(locks.active == [
            ActiveOperation(storeID: "st_a", storeName: "ay", kind: .provision, startedAt: Self.start.addingTimeInterval(10)),
            ActiveOperation(storeID: "st_b", storeName: "bee", kind: .delete, startedAt: Self.start.addingTimeInterval(20)),
            ActiveOperation(storeID: "st_d", storeName: "dee", kind: .retry, startedAt: Self.start.addingTimeInterval(30)),
        ])
        #expect(locks.count == 3)
    }

    @Test func operationKindRawValues() {
        #expect(OperationKind.allCases.map(\.rawValue) == ["provision", "delete", "retry", "upgrade", "rollback"])
    }
}
