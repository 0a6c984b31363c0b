import Foundation
import StoreCore
import StoreDatabase
import Testing

/// Fleet upgrades in the store database (Sources/StoreDatabase/StoredFleetUpgrade.swift):
/// one active at a time, read back whole, replaced only by a writer that names the
/// generation it read, each step an audit row written with it.
@Suite("Fleet upgrades stored: one active, read back whole, replaced by generation, steps audited")
struct FleetUpgradeStorageTests {
    private func fleet(_ id: String, at seconds: TimeInterval) -> FleetUpgrade {
        FleetUpgrade(
            id: id, version: "6.8-wc9.8", selector: .init(names: ["b-shop", "a-shop"]), waveSize: 1, maxUnavailable: 1, failureBudget: 0,
            actor: "uid:0", stores: [("st_b", "b-shop", "6.9-wc10.3"), ("st_a", "a-shop", "6.9-wc10.3")],
            now: Date(timeIntervalSince1970: 1_700_000_000 + seconds)
        )
    }

    @Test(arguments: Backend.all)
    func oneIsActiveAtATimeAndEachReadsBackWhole(_ backend: Backend) async throws {
        let database = try await backend.makeDatabase()
        #expect(try await database.activeFleetUpgrade() == nil)
        let first = fleet("fu_0000000000000001", at: 0)
        try await database.insertFleetUpgrade(first)
        #expect(try await database.fleetUpgrade(id: first.id) == StoredFleetUpgrade(fleet: first, generation: 1))
        #expect(try await database.activeFleetUpgrade()?.fleet == first)

        // A second while the first is active: refused, naming the first.
        let refused = await #expect(throws: PlatformError.self) {
            try await database.insertFleetUpgrade(fleet("fu_0000000000000002", at: 1))
        }
        #expect(refused?.code == .fleetUpgradeInProgress)
        #expect(refused?.message.hasPrefix("fleet upgrade fu_0000000000000001 to 6.8-wc9.8 is running (0 upgraded") == true)

        // Once it ended, the next may start; both are listed, newest first.
        var ended = first
        try ended.apply(.cancel, actor: "uid:0", now: Date(timeIntervalSince1970: 1_700_000_005))
        #expect(!ended.state.isActive)
        #expect(try await database.replaceFleetUpgrade(ended, generation: 1) == 2)
        #expect(try await database.activeFleetUpgrade() == nil)
        let second = fleet("fu_0000000000000002", at: 10)
        try await database.insertFleetUpgrade(second)
        #expect(try await database.latestFleetUpgrades(limit: 10).map(\.fleet.id) == [second.id, first.id])
        #expect(try await database.latestFleetUpgrades(limit: 1).map(\.fleet.id) == [second.id])
        #expect(try await database.fleetUpgrade(id: first.id) == StoredFleetUpgrade(fleet: ended, generation: 2))
        #expect(try await database.fleetUpgrade(id: "fu_ffffffffffffffff") == nil)
        await database.close()
    }

    @Test(arguments: Backend.all)
    func aWriterThatReadAnOlderGenerationReplacesNothing(_ backend: Backend) async throws {
        let database = try await backend.makeDatabase()
        let stored = fleet("fu_0000000000000003", at: 0)
        try await database.insertFleetUpgrade(stored)

        var paused = stored
        try paused.apply(.pause, actor: "uid:1", now: Date(timeIntervalSince1970: 1_700_000_001))
        #expect(try await database.replaceFleetUpgrade(paused, generation: 1) == 2)

        // The runner read generation 1 too: its write is refused, the pause stays.
        var marked = stored
        marked.set(0, .upgrading, now: Date(timeIntervalSince1970: 1_700_000_002))
        #expect(try await database.replaceFleetUpgrade(marked, generation: 1) == nil)
        let now = try #require(try await database.fleetUpgrade(id: stored.id))
        #expect(now.generation == 2)
        #expect(now.fleet.state == .paused)
        #expect(now.fleet.entries.map(\.outcome) == [.waiting, .waiting])
        await database.close()
    }

    /// Each step is one audit row, written with the fleet upgrade: the start with
    /// the insert, later steps with the replace that added them, none for a refused
    /// replace. The rows name the fleet upgrade, no store and no status, and watchers'
    /// reads of stores' transitions leave them out.
    @Test(arguments: Backend.all)
    func eachStepIsOneAuditRowWrittenWithTheFleetUpgrade(_ backend: Backend) async throws {
        let database = try await backend.makeDatabase()
        _ = try await database.createStore(queuedStore("a-shop"), maxLiveStores: 10, requestedBy: "uid:0", idempotencyKey: nil, requestID: nil)
        let stored = fleet("fu_0000000000000004", at: 0)
        try await database.insertFleetUpgrade(stored)

        var running = stored
        running.set(0, .upgrading, now: Date(timeIntervalSince1970: 1_700_000_001))
        #expect(try await database.replaceFleetUpgrade(running, generation: 1) == 2)
        // A writer that read generation 1 adds nothing, not even its steps.
        var stale = stored
        try stale.apply(.pause, actor: "uid:7", now: Date(timeIntervalSince1970: 1_700_000_002))
        #expect(try await database.replaceFleetUpgrade(stale, generation: 1) == nil)
        var paused = running
        try paused.apply(.pause, actor: "uid:1", now: Date(timeIntervalSince1970: 1_700_000_003))
        #expect(try await database.replaceFleetUpgrade(paused, generation: 2) == 3)
        // Written again unchanged: no new row.
        #expect(try await database.replaceFleetUpgrade(paused, generation: 3) == 4)

        let rows = try await database.listAudit(limit: 100, pageToken: "", storeID: nil).events.reversed()
        let steps = rows.filter { $0.fleetUpgradeID != nil }
        #expect(steps.map(\.action.rawValue) == ["fleet-start", "fleet-wave", "fleet-pause"])
        #expect(steps.map(\.actor) == ["uid:0", "system", "uid:1"])
        #expect(steps.map(\.message) == paused.steps.map(\.message))
        #expect(steps.map(\.time) == paused.steps.map(\.time))
        for step in steps {
            #expect(step.fleetUpgradeID == stored.id)
            #expect(step.storeID.isEmpty && step.storeName.isEmpty)
            #expect(step.fromStatus == nil && step.toStatus == nil)
        }
        // The store's create is the one row of a store, and the only one a watcher reads.
        #expect(rows.filter { $0.fleetUpgradeID == nil }.map(\.action) == [.create])
        #expect(try await database.auditEvents(after: 0, storeID: nil, limit: 100).map(\.action) == [.create])
        #expect(try await database.recentFailures(limit: 10).isEmpty)
        await database.close()
    }
}
