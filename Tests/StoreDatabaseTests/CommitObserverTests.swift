import Foundation
import PostgresStoreDatabase
import PostgresTestSupport
import StoreCore
import Synchronization
import Testing
@testable import StoreDatabase

/// What the commit observer saw, in order.
final class ObservedCommits: Sendable {
    private let seen = Mutex<[Transition]>([])

    func record(_ transition: Transition) {
        seen.withLock { $0.append(transition) }
    }

    var transitions: [Transition] { seen.withLock { $0 } }
}

@Suite("Commit observer: after commit, once each, in audit-id order")
struct CommitObserverTests {
    @Test(arguments: Backend.all)
    func everyCommittedChangeIsObservedOnceInIDOrderUnderConcurrency(_ backend: Backend) async throws {
        let database = try await backend.makeDatabase()
        let observed = ObservedCommits()
        database.observeCommits { observed.record($0) }

        // 12 creates at once (2 over the quota), then each created store moved twice
        // at once with the others, and refused changes mixed in.
        let creates = await concurrently(12) { index in
            try await database.createStore(
                queuedStore("shop-\(index)"), maxLiveStores: 10, requestedBy: "uid:\(index)", idempotencyKey: nil, requestID: nil
            )
        }
        let created = creates.compactMap { outcome -> Store? in
            if case .success(.created(let store, _)) = outcome { return store }
            return nil
        }
        #expect(created.count == 10)
        let moves = await concurrently(created.count * 3) { index in
            let store = created[index % created.count]
            switch index / created.count {
            case 0: return try await database.transition(storeID: store.id, to: .deleting, action: .delete, actor: "uid:1", now: instant(1))
            case 1: return try await database.transition(storeID: store.id, to: .ready, action: .ready, actor: "provisioner", now: instant(2))
            default: return try await database.transition(storeID: store.id, to: .deleted, action: .deleted, actor: "provisioner", now: instant(3))
            }
        }
        let succeeded = moves.filter { if case .success = $0 { return true } else { return false } }.count

        let transitions = observed.transitions
        let ids = transitions.map(\.event.id)
        #expect(ids == ids.sorted())
        #expect(Set(ids).count == ids.count)
        #expect(transitions.count == 10 + succeeded)
        #expect(try await database.auditCount() == transitions.count)
        // What was observed is what was committed, row for row.
        let rows = try await database.listAudit(limit: 1000, pageToken: "", storeID: nil).events
        #expect(rows.reversed().map(\.id) == ids)
        #expect(Array(rows.reversed()) == transitions.map(\.event))
        for transition in transitions {
            #expect(transition.store.status == transition.event.toStatus)
        }
    }

    @Test(arguments: Backend.all)
    func refusedChangesAndIdempotentReplaysAreNotObserved(_ backend: Backend) async throws {
        let database = try await backend.makeDatabase()
        let observed = ObservedCommits()
        database.observeCommits { observed.record($0) }
        let store = queuedStore("shop")

        let first = try await database.createStore(store, maxLiveStores: 1, requestedBy: "uid:1", idempotencyKey: "k", requestID: nil)
        _ = try await database.createStore(queuedStore("shop"), maxLiveStores: 1, requestedBy: "uid:1", idempotencyKey: "k", requestID: nil)
        await #expect(throws: PlatformError.self) {
            try await database.createStore(queuedStore("other"), maxLiveStores: 1, requestedBy: "uid:2", idempotencyKey: nil, requestID: nil)
        }
        await #expect(throws: PlatformError.self) {
            try await database.transition(storeID: store.id, to: .ready, action: .ready, actor: "provisioner", now: instant(1))
        }
        _ = try await database.update(storeID: store.id) { $0.errorMessage = "noted" }

        guard case .created(let created, let event) = first else {
            Issue.record("expected a created store, got \(first)")
            return
        }
        #expect(observed.transitions == [Transition(store: created, event: event)])
    }

    @Test(arguments: Backend.all)
    func importsAreObservedInOrder(_ backend: Backend) async throws {
        let database = try await backend.makeDatabase()
        let observed = ObservedCommits()
        database.observeCommits { observed.record($0) }
        var stores: [Store] = []
        for (index, status) in [StoreStatus.ready, .failed, .deleted, .queued].enumerated() {
            var store = queuedStore("imported-\(index)", createdAt: instant(Double(index)))
            store.status = status
            store.updatedAt = instant(Double(index) + 0.5)
            stores.append(store)
        }

        try await database.importStores(stores, actor: "bench")

        let transitions = observed.transitions
        #expect(transitions.map(\.store) == stores)
        #expect(transitions.map(\.event.action) == [.import, .import, .import, .import])
        #expect(transitions.map(\.event.fromStatus) == [nil, nil, nil, nil])
        #expect(transitions.map(\.event.toStatus) == [.ready, .failed, .deleted, .queued])
        #expect(transitions.map(\.event.time) == stores.map(\.updatedAt))
        #expect(transitions.map(\.event.id) == transitions.map(\.event.id).sorted())
        #expect(try await database.stores(inStatuses: [.ready, .failed, .queued]).map(\.name) == ["imported-0", "imported-1", "imported-3"])
        #expect(try await database.liveStoreCount() == 3)
        #expect(try await database.auditCount() == 4)
    }

    @Test(arguments: Backend.all)
    func importRefusesTwoLiveStoresWithOneNameAndWritesNothing(_ backend: Backend) async throws {
        let database = try await backend.makeDatabase()
        let error = await #expect(throws: PlatformError.self) {
            try await database.importStores([queuedStore("twin"), queuedStore("twin")], actor: "bench")
        }
        #expect(error?.code == .storeNameTaken)
        #expect(error?.message == "store name \"twin\" is taken by a live store; choose another name, or delete that store first")
        #expect(try await database.liveStoreCount() == 0)
        #expect(try await database.auditCount() == 0)
    }

    @Test(arguments: Backend.all)
    func concurrentTransitionsOfOneStoreApplyOnce(_ backend: Backend) async throws {
        let database = try await backend.makeDatabase()
        let store = queuedStore("shop")
        _ = try await database.createStore(store, maxLiveStores: 10, requestedBy: "uid:1", idempotencyKey: nil, requestID: nil)

        let outcomes = await concurrently(8) { index in
            try await database.transition(
                storeID: store.id, to: .provisioning, expectedFrom: [.queued], action: .provision, actor: "worker-\(index)",
                now: instant(1)
            ) { $0.attempts += 1 }
        }

        var moved = 0
        for outcome in outcomes {
            switch outcome {
            case .success: moved += 1
            case .failure(let error as PlatformError) where error.code == .invalidStateTransition: break
            default: Issue.record("unexpected outcome \(outcome)")
            }
        }
        #expect(moved == 1)
        #expect(try await database.store(id: store.id)?.attempts == 1)
        #expect(try await database.auditCount(storeID: store.id) == 2)
    }
}

/// Two connections to one PostgreSQL database, as two replicas have: each one's
/// observer sees the other's commits too, in audit-id order, once each, without a
/// gap (CommitRelay.swift).
@Suite("Commit observer across replicas")
struct ReplicaCommitObserverTests {
    @Test(.enabled(if: ThrowawayPostgres.enabled))
    func eachReplicaObservesEveryReplicasCommitsInOrder() async throws {
        let url = try await Backend.newPostgresURL()
        let first = try await PostgresStoreDatabase.connect(url: url, logger: quietLogger)
        let second = try await PostgresStoreDatabase.connect(url: url, logger: quietLogger)
        let seenByFirst = ObservedCommits()
        let seenBySecond = ObservedCommits()
        first.observeCommits { seenByFirst.record($0) }
        second.observeCommits { seenBySecond.record($0) }
        await first.observingCommits()
        await second.observingCommits()

        // Creates and moves through both at once.
        let creates = await concurrently(10) { index in
            try await (index % 2 == 0 ? first : second).createStore(
                queuedStore("shop-\(index)"), maxLiveStores: 100, requestedBy: "uid:\(index)", idempotencyKey: nil, requestID: nil
            )
        }
        let created = try creates.map { outcome -> Store in
            guard case .created(let store, _) = try outcome.get() else { throw CancellationError() }
            return store
        }
        _ = await concurrently(created.count) { index in
            try await (index % 2 == 0 ? second : first).transition(
                storeID: created[index].id, to: .provisioning, action: .provision, actor: "p", now: instant(1))
        }

        let committed = try await first.listAudit(limit: 1000, pageToken: "", storeID: nil).events.reversed().map(\.id)
        #expect(committed.count == 20)
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline,
            seenByFirst.transitions.count < committed.count || seenBySecond.transitions.count < committed.count
        {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(seenByFirst.transitions.map(\.event.id) == committed)
        #expect(seenBySecond.transitions.map(\.event.id) == committed)
        for transition in seenByFirst.transitions + seenBySecond.transitions {
            #expect(transition.store.id == transition.event.storeID)
        }
        await first.close()
        await second.close()
    }
}

/// Other replicas' commits reach the observer by notification (LISTEN/NOTIFY on
/// `storeplatform_audit`), not only by the relay's fallback reads: with those an hour
/// apart, every commit of the other replica is still seen, in order.
@Suite("Commit observer: other replicas' commits by notification")
struct CommitNotificationTests {
    @Test(.enabled(if: ThrowawayPostgres.enabled))
    func anotherReplicasCommitsArriveByNotification() async throws {
        let url = try await Backend.newPostgresURL()
        let watching = try await PostgresStoreDatabase.connect(url: url, logger: quietLogger)
        let writing = try await PostgresStoreDatabase.connect(url: url, logger: quietLogger)
        let seen = ObservedCommits()
        watching.observeCommits({ seen.record($0) }, fallbackInterval: .seconds(3600))
        await watching.observingCommits()
        // Give the relay a moment to LISTEN (a commit before that would wait for the
        // next notification, which the loop below sends).
        try await Task.sleep(for: .milliseconds(300))

        var committed: [Int64] = []
        for index in 0..<5 {
            guard case .created(_, let event) = try await writing.createStore(
                queuedStore("notified-\(index)"), maxLiveStores: 100, requestedBy: "uid:1", idempotencyKey: nil, requestID: nil
            ) else { throw CancellationError() }
            committed.append(event.id)
            // A generous bound for each notification (a loaded machine's database
            // calls have taken tens of seconds), still far below the fallback's hour.
            let deadline = ContinuousClock.now + .seconds(120)
            while ContinuousClock.now < deadline, seen.transitions.last?.event.id != event.id {
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        #expect(seen.transitions.map(\.event.id) == committed)
        await watching.close()
        await writing.close()
    }
}
