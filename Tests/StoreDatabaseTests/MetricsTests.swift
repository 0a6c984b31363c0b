import Foundation
import StoreCore
import Testing
@testable import StoreDatabase

@Suite("Counts by status and provisioning duration stats")
struct MetricsTests {
    @Test(arguments: Backend.all) func emptyDatabaseCountsZeroInEveryStatus(_ backend: Backend) async throws {
        let database = try await backend.makeDatabase()
        let counts = try await database.countsByStatus()
        #expect(counts == [.queued: 0, .provisioning: 0, .ready: 0, .failed: 0, .deleting: 0, .deleted: 0, .upgrading: 0])
    }

    @Test(arguments: Backend.all) func countsEveryStatusIncludingZeros(_ backend: Backend) async throws {
        let database = try await backend.makeDatabase()
        func create(_ name: String) async throws -> String {
            let store = queuedStore(name)
            _ = try await database.createStore(store, maxLiveStores: 10, requestedBy: "uid:1", idempotencyKey: nil, requestID: nil)
            return store.id
        }
        func move(_ id: String, _ statuses: StoreStatus...) async throws {
            for status in statuses {
                _ = try await database.transition(storeID: id, to: status, action: .reconcile, actor: "test", now: instant(1))
            }
        }
        _ = try await create("q1")
        _ = try await create("q2")
        try await move(try create("p1"), .provisioning)
        try await move(try create("r1"), .provisioning, .ready)
        try await move(try create("r2"), .provisioning, .ready)
        try await move(try create("r3"), .provisioning, .ready)
        try await move(try create("d1"), .deleting, .deleted)

        let counts = try await database.countsByStatus()

        #expect(counts == [.queued: 2, .provisioning: 1, .ready: 3, .failed: 0, .deleting: 0, .deleted: 1, .upgrading: 0])
        #expect(try await database.liveStoreCount() == 6)
    }

    @Test(arguments: Backend.all) func activityTimesSinceATimeAmongTheLastRows(_ backend: Backend) async throws {
        let database = try await backend.makeDatabase()
        for (index, seconds) in [10.0, 100, 200, 300].enumerated() {
            _ = try await database.createStore(
                queuedStore("s\(index)", createdAt: instant(seconds)), maxLiveStores: 10, requestedBy: "uid:1", idempotencyKey: nil, requestID: nil
            )
        }
        let failed = try await database.liveStore(named: "s3")!.id
        _ = try await database.transition(storeID: failed, to: .provisioning, action: .provision, actor: "test", now: instant(310))
        _ = try await database.transition(storeID: failed, to: .failed, action: .fail, actor: "test", now: instant(320))
        // A failure the reconciler decided (drift) counts as one too: any transition to failed.
        let drifted = try await database.liveStore(named: "s2")!.id
        _ = try await database.transition(storeID: drifted, to: .provisioning, action: .provision, actor: "test", now: instant(330))
        _ = try await database.transition(storeID: drifted, to: .ready, action: .ready, actor: "test", now: instant(340))
        _ = try await database.transition(storeID: drifted, to: .failed, action: .reconcile, actor: "system", now: instant(350))

        let times = try await database.activityTimes(since: instant(100), amongLast: 100)
        #expect(times.map(\.activity) == [.create, .create, .create, .failure, .failure])
        #expect(times.map(\.time) == [instant(100), instant(200), instant(300), instant(320), instant(350)])
        // Only the last six rows are read (from s3's create on): the creates before them are not among them.
        #expect(try await database.activityTimes(since: instant(0), amongLast: 6).map(\.time) == [instant(300), instant(320), instant(350)])
        #expect(try await database.activityTimes(since: instant(351), amongLast: 100).isEmpty)
        #expect(try await database.activityTimes(since: instant(0), amongLast: 0).isEmpty)
    }

    @Test(arguments: Backend.all) func durationStatsOnKnownValues(_ backend: Backend) async throws {
        let database = try await backend.makeDatabase()
        // Inserted shuffled: the stats must not depend on row order.
        for duration in [700, 100, 1000, 300, 500, 200, 900, 400, 800, 600] as [Int64] {
            let store = queuedStore("s\(duration)")
            _ = try await database.createStore(store, maxLiveStores: 20, requestedBy: "uid:1", idempotencyKey: nil, requestID: nil)
            _ = try await database.update(storeID: store.id) { $0.provisioningDurationMilliseconds = duration }
        }
        // A store without a duration is not counted.
        _ = try await database.createStore(queuedStore("none"), maxLiveStores: 20, requestedBy: "uid:1", idempotencyKey: nil, requestID: nil)

        let stats = try await database.provisioningDurationStats()

        #expect(stats == DurationStats(
            count: 10, averageMilliseconds: 550, minimumMilliseconds: 100, maximumMilliseconds: 1000,
            p50Milliseconds: 500, p95Milliseconds: 1000
        ))
    }

    @Test func durationStatsOfOneValue() throws {
        #expect(DurationStats(durations: [42]) == DurationStats(
            count: 1, averageMilliseconds: 42, minimumMilliseconds: 42, maximumMilliseconds: 42,
            p50Milliseconds: 42, p95Milliseconds: 42
        ))
        // Nearest rank over 1...20: p50 is the 10th value, p95 the 19th.
        let twenty = DurationStats(durations: (1...20).map { Int64($0) })
        #expect(twenty.p50Milliseconds == 10)
        #expect(twenty.p95Milliseconds == 19)
        #expect(twenty.averageMilliseconds == 10.5)
    }

    @Test(arguments: Backend.all) func durationStatsAreZeroWithoutDurations(_ backend: Backend) async throws {
        let database = try await backend.makeDatabase()
        _ = try await database.createStore(queuedStore("none"), maxLiveStores: 20, requestedBy: "uid:1", idempotencyKey: nil, requestID: nil)
        #expect(try await database.provisioningDurationStats() == DurationStats(
            count: 0, averageMilliseconds: 0, minimumMilliseconds: 0, maximumMilliseconds: 0,
            p50Milliseconds: 0, p95Milliseconds: 0
        ))
    }
}
