import Foundation
import Logging
import Testing

@testable import Provisioning
import StoreCore
import StoreDatabase

@Suite("Fleet upgrades on the simulated cluster")
struct FleetUpgraderTests {
    private static let from = "6.9-wc10.3"
    private static let to = "6.8-wc9.8"

    /// Ready stores named `names` (on the default version, 6.9-wc10.3).
    private func readyStores(_ harness: Harness, _ names: [String]) async throws -> [String: Store] {
        var stores: [String: Store] = [:]
        for name in names {
            let created = try await harness.create(name)
            stores[name] = created
        }
        for (name, store) in stores {
            stores[name] = try await harness.waitFor(store.id, [.ready])
        }
        return stores
    }

    private func upgrader(_ harness: Harness) -> FleetUpgrader {
        var configuration = FleetUpgrader.Configuration()
        configuration.activeInterval = .milliseconds(50)
        configuration.idleInterval = .milliseconds(50)
        return FleetUpgrader(provisioner: harness.provisioner, configuration: configuration, logger: Logger(label: "test"))
    }

    /// Runs `upgrader`'s service until `body` returns.
    private func running<T>(_ upgrader: FleetUpgrader, _ body: () async throws -> T) async throws -> T {
        let service = Task { try await upgrader.run() }
        defer { service.cancel() }
        return try await body()
    }

    /// Waits (generously) until fleet upgrade `id` is in one of `states`.
    private func waitFor(_ id: String, _ states: Set<FleetUpgrade.State>, _ harness: Harness) async throws -> FleetUpgrade {
        let deadline = ContinuousClock.now + .seconds(120)
        var last: FleetUpgrade?
        while ContinuousClock.now < deadline {
            last = try await harness.database.fleetUpgrade(id: id)?.fleet
            if let last, states.contains(last.state) { return last }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw ProvisioningFailure("fleet upgrade \(id) never reached \(states); last: \(String(describing: last?.state)) \(last?.summary ?? "")")
    }

    /// 30 stores in waves of 5, the 13th's upgrade failing: the fleet upgrade stops
    /// after wave 3, and its report names exactly the stores that moved.
    /// The audit log holds `fleet`'s steps, each once, in order, with its actor,
    /// time and message.
    private func expectStepsAudited(_ fleet: FleetUpgrade, _ harness: Harness) async throws {
        let rows = try await harness.database.listAudit(limit: 1000, pageToken: "", storeID: nil).events
            .filter { $0.fleetUpgradeID == fleet.id }.reversed()
        #expect(rows.map(\.action) == fleet.steps.map { AuditAction(fleetStep: $0.action) })
        #expect(rows.map(\.actor) == fleet.steps.map(\.actor))
        #expect(rows.map(\.message) == fleet.steps.map(\.message))
        #expect(rows.map(\.time.millisecondsSince1970) == fleet.steps.map(\.time.millisecondsSince1970))
    }

    @Test func aSeededFailureStopsTheFleetAfterItsWaveAndTheReportNamesWhatMoved() async throws {
        let harness = try Harness(cluster: { $0.storeFaults = ["shop-13": .upgradeError] })
        let names = (1...30).map { String(format: "shop-%02d", $0) }
        let stores = try await readyStores(harness, names)
        let upgrader = upgrader(harness)
        let ended = try await running(upgrader) {
            let started = try await upgrader.start(
                to: Self.to, selector: .init(), waveSize: 5, maxUnavailable: 0, failureBudget: 0, actor: "uid:0"
            )
            #expect(started.fleet.entries.map(\.name) == names)
            #expect(started.fleet.waveCount == 6)
            return try await waitFor(started.fleet.id, [.stopped, .completed, .cancelled], harness)
        }
        #expect(ended.state == .stopped)
        let moved = Array(names[0..<12]) + ["shop-14", "shop-15"]
        #expect(ended.entries.filter { $0.outcome == .upgraded }.map(\.name) == moved)
        #expect(ended.entries.filter { $0.outcome == .rolledBack }.map(\.name) == ["shop-13"])
        #expect(ended.entries.filter { $0.outcome == .waiting }.map(\.name) == Array(names[15...]))
        let failed = try #require(ended.entries.first { $0.name == "shop-13" })
        #expect(failed.message.contains("UPGRADE FAILED"), "\(failed.message)")
        #expect(ended.currentWave == 3)
        #expect(ended.steps.map(\.action) == ["start", "wave", "wave", "wave", "stop", "end"])
        #expect(ended.summary == "14 upgraded, 1 rolled back, 0 failed, 0 skipped, 15 not started")

        // The stores themselves agree: the moved ones run the new version, the rest the old.
        for name in names {
            let store = try #require(try await harness.database.store(id: stores[name]!.id))
            #expect(store.status == .ready)
            #expect(store.version == (moved.contains(name) ? Self.to : Self.from), "\(name)")
        }
        // Each moved store's audit row says which fleet upgrade and wave moved it.
        let audit = try await harness.database.listAudit(limit: 10, pageToken: "", storeID: stores["shop-07"]!.id).events
        let upgrade = try #require(audit.first { $0.action == .upgrade })
        #expect(upgrade.message.hasPrefix("fleet upgrade \(ended.id), wave 2 of 6: upgrade from \(Self.from)"), "\(upgrade.message)")
        #expect(upgrade.actor == "uid:0")
        // Every step of the fleet upgrade is an audit row of its own, as the fleet upgrade logged it.
        try await expectStepsAudited(ended, harness)
        // The lease is given back once it ended.
        #expect(try await harness.database.activeLeases().contains { $0.name == FleetUpgrader.leaseName } == false)
    }

    @Test func maxUnavailableBoundsTheStoresUpgradingAtOnceAndAllComplete() async throws {
        let harness = try Harness(cluster: { $0.readyDelay = .milliseconds(30) })
        let names = (1...6).map { "shop-\($0)" }
        _ = try await readyStores(harness, names)
        let upgrader = upgrader(harness)
        let ended = try await running(upgrader) {
            let started = try await upgrader.start(to: Self.to, selector: .init(), waveSize: 6, maxUnavailable: 2, failureBudget: 0, actor: "uid:0")
            // Never more than two upgrading at once, as stored after every change.
            var most = 0
            while true {
                let fleet = try #require(try await harness.database.fleetUpgrade(id: started.fleet.id)?.fleet)
                most = max(most, fleet.count(.upgrading))
                if !fleet.state.isActive { break }
                try await Task.sleep(for: .milliseconds(5))
            }
            #expect(most <= 2)
            return try await waitFor(started.fleet.id, [.completed, .stopped], harness)
        }
        #expect(ended.state == .completed)
        #expect(ended.count(.upgraded) == 6)
    }

    @Test func oneFleetUpgradeAtATimeAndTheSelectionIsChecked() async throws {
        let harness = try Harness()
        _ = try await readyStores(harness, ["a-shop", "b-shop"])
        let upgrader = upgrader(harness)
        func refusal(_ body: () async throws -> Void) async -> PlatformError? {
            await #expect(throws: PlatformError.self) { try await body() }
        }
        let unknown = await refusal {
            _ = try await upgrader.start(to: "1.0", selector: .init(), waveSize: 5, maxUnavailable: 0, failureBudget: 0, actor: "uid:0")
        }
        #expect(unknown?.code == .unknownVersion)
        let missing = await refusal {
            _ = try await upgrader.start(to: Self.to, selector: .init(names: ["a-shop", "c-shop"]), waveSize: 5, maxUnavailable: 0, failureBudget: 0, actor: "uid:0")
        }
        #expect(missing?.code == .notFound)
        #expect(missing?.message == "no live store is named \"c-shop\"")
        let twice = await refusal {
            _ = try await upgrader.start(to: Self.to, selector: .init(names: ["a-shop", "a-shop"]), waveSize: 5, maxUnavailable: 0, failureBudget: 0, actor: "uid:0")
        }
        #expect(twice?.code == .invalidArgument)
        let wide = await refusal {
            _ = try await upgrader.start(to: Self.to, selector: .init(), waveSize: 2, maxUnavailable: 3, failureBudget: 0, actor: "uid:0")
        }
        #expect(wide?.code == .invalidArgument)
        let deleted = await refusal {
            _ = try await upgrader.start(to: Self.to, selector: .init(statuses: [.deleted]), waveSize: 2, maxUnavailable: 0, failureBudget: 0, actor: "uid:0")
        }
        #expect(deleted?.code == .invalidArgument)
        let none = await refusal {
            _ = try await upgrader.start(to: Self.to, selector: .init(statuses: [.failed]), waveSize: 2, maxUnavailable: 0, failureBudget: 0, actor: "uid:0")
        }
        #expect(none?.message == "no live store matches the selection; nothing to upgrade")

        // Names keep their order (canaries first); a second while it is active is refused.
        let first = try await upgrader.start(
            to: Self.to, selector: .init(names: ["b-shop", "a-shop"]), waveSize: 1, maxUnavailable: 0, failureBudget: 0, actor: "uid:0"
        )
        #expect(first.fleet.entries.map(\.name) == ["b-shop", "a-shop"])
        let second = await refusal {
            _ = try await upgrader.start(to: Self.to, selector: .init(), waveSize: 5, maxUnavailable: 0, failureBudget: 0, actor: "uid:0")
        }
        #expect(second?.code == .fleetUpgradeInProgress)
        #expect(second?.message.contains(first.fleet.id) == true)
    }

    @Test func pausedStartsNothingUntilResumedAndCancelledLeavesTheRest() async throws {
        let harness = try Harness()
        let names = (1...6).map { "shop-\($0)" }
        let stores = try await readyStores(harness, names)
        let upgrader = upgrader(harness)
        // Paused before its first round: nothing starts.
        let started = try await upgrader.start(to: Self.to, selector: .init(), waveSize: 2, maxUnavailable: 0, failureBudget: 0, actor: "uid:0")
        _ = try await upgrader.change(started.fleet.id, .pause, actor: "uid:5")
        try await upgrader.round()
        var fleet = try await waitFor(started.fleet.id, [.paused], harness)
        #expect(fleet.count(.waiting) == 6)

        // Resumed: wave 1 runs; then cancelled: the rest keep their version.
        _ = try await upgrader.change("", .resume, actor: "uid:5")
        try await upgrader.round()
        fleet = try await waitFor(started.fleet.id, [.running], harness)
        #expect(fleet.count(.upgrading) == 2)
        _ = try await upgrader.change("", .cancel, actor: "uid:6")
        while try await upgrader.round() { try await Task.sleep(for: .milliseconds(20)) }
        fleet = try await waitFor(started.fleet.id, [.cancelled], harness)
        #expect(fleet.entries.map(\.outcome) == [.upgraded, .upgraded, .waiting, .waiting, .waiting, .waiting])
        #expect(fleet.steps.map(\.action) == ["start", "pause", "resume", "wave", "cancel", "end"])
        try await expectStepsAudited(fleet, harness)
        #expect(try await harness.database.store(id: stores["shop-3"]!.id)?.version == Self.from)
        let refused = await #expect(throws: PlatformError.self) { _ = try await upgrader.change("", .resume, actor: "uid:5") }
        #expect(refused?.code == .notFound)
        #expect(refused?.message == "no fleet upgrade is active")
    }

    /// A runner that stopped between marking stores and starting them (or recording
    /// that it did): the next round, on another runner, looks before it acts.
    @Test func aRunnerThatStoppedMidRoundIsTakenOverWithoutStartingAStoreTwice() async throws {
        let harness = try Harness()
        let stores = try await readyStores(harness, ["shop-1", "shop-2", "shop-3"])
        let upgrader = upgrader(harness)
        let started = try await upgrader.start(to: Self.to, selector: .init(), waveSize: 3, maxUnavailable: 0, failureBudget: 0, actor: "uid:0")
        // As the runner left it: all three marked; shop-1's upgrade started and ended,
        // shop-2's started, shop-3's never did.
        var marked = started.fleet
        for index in 0..<3 { marked.set(index, .upgrading, now: Date()) }
        #expect(try await harness.database.replaceFleetUpgrade(marked, generation: started.generation) != nil)
        _ = try await harness.provisioner.upgrade(storeID: stores["shop-1"]!.id, to: Self.to, actor: "uid:0", requestID: nil)
        _ = try await harness.waitFor(stores["shop-1"]!.id, [.ready])
        _ = try await harness.provisioner.upgrade(storeID: stores["shop-2"]!.id, to: Self.to, actor: "uid:0", requestID: nil)

        let ended = try await running(self.upgrader(harness)) {
            try await waitFor(started.fleet.id, [.completed, .stopped], harness)
        }
        #expect(ended.state == .completed)
        #expect(ended.entries.map(\.outcome) == [.upgraded, .upgraded, .upgraded])
        for name in ["shop-1", "shop-2", "shop-3"] {
            // One upgrade each: install, then one more revision.
            let revisions = try await harness.database.storeRevisions(storeID: stores[name]!.id)
            #expect(revisions.map(\.revision) == [2, 1], "\(name)")
        }
    }
}
