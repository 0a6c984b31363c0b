import Foundation
import StoreCore
import Testing

@Suite("A fleet upgrade's waves, budget and states")
struct FleetUpgradeTests {
    private let now = Date(timeIntervalSince1970: 1_700_000_000)

    private func fleet(_ count: Int, waveSize: Int = 5, maxUnavailable: Int? = nil, budget: Int = 0) -> FleetUpgrade {
        FleetUpgrade(
            id: "fu_test", version: "6.9-wc10.3", selector: .init(), waveSize: waveSize, maxUnavailable: maxUnavailable ?? waveSize,
            failureBudget: budget, actor: "uid:0", stores: (1...count).map { ("st_\($0)", "shop-\($0)", "6.8-wc9.8") }, now: now
        )
    }

    /// Starts what `toStart` names, then ends each with `outcome(index)`.
    private func runWave(_ fleet: inout FleetUpgrade, _ outcome: (Int) -> FleetUpgrade.Outcome = { _ in .upgraded }) -> [Int] {
        let started = fleet.toStart
        for index in started { fleet.set(index, .upgrading, revision: 2, now: now) }
        for index in started { fleet.set(index, outcome(index), message: outcome(index) == .upgraded ? "" : "why", now: now) }
        fleet.settle(now: now)
        return started
    }

    @Test func storesAreSplitIntoWavesInOrder() {
        let fleet = fleet(12)
        #expect(fleet.waveCount == 3)
        #expect(fleet.entries.map(\.wave) == [1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3])
        #expect(fleet.toStart == [0, 1, 2, 3, 4])
        #expect(fleet.state == .running)
        #expect(fleet.steps.map(\.action) == ["start"])
    }

    @Test func aWaveStartsOnlyWhenTheOneBeforeHasEnded() {
        var fleet = fleet(10)
        for index in fleet.toStart { fleet.set(index, .upgrading, revision: 2, now: now) }
        #expect(fleet.toStart.isEmpty)
        fleet.set(0, .upgraded, now: now)
        // Four of wave 1 still upgrading: wave 2 waits.
        #expect(fleet.toStart.isEmpty)
        for index in 1...4 { fleet.set(index, .upgraded, now: now) }
        #expect(fleet.toStart == [5, 6, 7, 8, 9])
        #expect(fleet.currentWave == 1)
    }

    @Test func maxUnavailableBoundsTheStoresUpgradingAtOnce() {
        var fleet = fleet(6, waveSize: 6, maxUnavailable: 2)
        #expect(fleet.toStart == [0, 1])
        for index in fleet.toStart { fleet.set(index, .upgrading, revision: 2, now: now) }
        #expect(fleet.toStart.isEmpty)
        fleet.set(1, .upgraded, now: now)
        #expect(fleet.toStart == [2])
    }

    @Test func aFailureOverTheBudgetStopsAfterItsWave() {
        var fleet = fleet(15)
        #expect(runWave(&fleet) == [0, 1, 2, 3, 4])
        // Wave 2: shop-8 (index 7) rolls back; the others of its wave still end.
        let started = fleet.toStart
        for index in started { fleet.set(index, .upgrading, revision: 2, now: now) }
        fleet.set(7, .rolledBack, message: "upgrade failed", now: now)
        fleet.settle(now: now)
        #expect(fleet.state == .stopping)
        #expect(fleet.toStart.isEmpty)
        for index in [5, 6, 8, 9] { fleet.set(index, .upgraded, now: now) }
        fleet.settle(now: now)
        #expect(fleet.state == .stopped)
        #expect(fleet.endedAt == now)
        #expect(fleet.entries.filter { $0.outcome == .upgraded }.map(\.name)
            == ["shop-1", "shop-2", "shop-3", "shop-4", "shop-5", "shop-6", "shop-7", "shop-9", "shop-10"])
        #expect(fleet.count(.waiting) == 5)
        #expect(fleet.steps.map(\.action) == ["start", "wave", "wave", "stop", "end"])
        #expect(fleet.summary == "9 upgraded, 1 rolled back, 0 failed, 0 skipped, 5 not started")
    }

    @Test func failuresWithinTheBudgetGoOnToTheEnd() {
        var fleet = fleet(10, budget: 1)
        _ = runWave(&fleet) { $0 == 2 ? .failed : .upgraded }
        #expect(fleet.state == .running)
        _ = runWave(&fleet)
        #expect(fleet.state == .completed)
        #expect(fleet.count(.upgraded) == 9)
        #expect(fleet.failures == 1)
    }

    @Test func skippedStoresAreNotFailures() {
        var fleet = fleet(5)
        _ = runWave(&fleet) { $0 < 2 ? .skipped : .upgraded }
        #expect(fleet.state == .completed)
        #expect(fleet.failures == 0)
    }

    @Test func pauseResumeAndCancelFollowTheirRules() throws {
        var fleet = fleet(10)
        try fleet.apply(.pause, actor: "uid:1", now: now)
        #expect(fleet.state == .paused)
        #expect(fleet.toStart.isEmpty)
        let twice = #expect(throws: PlatformError.self) { try fleet.apply(.pause, actor: "uid:1", now: now) }
        #expect(twice?.code == .invalidStateTransition)
        #expect(twice?.message == "fleet upgrade fu_test is paused; only a running one can be paused")
        try fleet.apply(.resume, actor: "uid:1", now: now)
        #expect(fleet.toStart == [0, 1, 2, 3, 4])
        for index in fleet.toStart { fleet.set(index, .upgrading, revision: 2, now: now) }
        try fleet.apply(.cancel, actor: "uid:2", now: now)
        // Cancelling until the stores upgrading have ended.
        #expect(fleet.state == .cancelling)
        for index in 0...4 { fleet.set(index, .upgraded, now: now) }
        fleet.settle(now: now)
        #expect(fleet.state == .cancelled)
        let after = #expect(throws: PlatformError.self) { try fleet.apply(.resume, actor: "uid:1", now: now) }
        #expect(after?.code == .invalidStateTransition)
        #expect(fleet.steps.map(\.action) == ["start", "pause", "resume", "wave", "cancel", "end"])
        #expect(fleet.steps.map(\.actor) == ["uid:0", "uid:1", "uid:1", "system", "uid:2", "system"])
    }

    @Test func cancellingWithNothingUpgradingEndsAtOnce() throws {
        var fleet = fleet(3)
        try fleet.apply(.cancel, actor: "uid:0", now: now)
        #expect(fleet.state == .cancelled)
        #expect(!fleet.state.isActive)
    }
}
