import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing

@testable import Provisioning
import StoreCore
import StoreDatabase

/// The provisioner as a Service: operations run in its task group, its shutdown
/// follows the ServiceGroup's, and what it leaves behind is resumable.
@Suite("Provisioner as a service")
struct ProvisionerServiceTests {
    static let shuttingDown =
        "the daemon is shutting down and starts no new store operations; send the request again once it is back"

    /// Runs `harness`'s provisioner in a ServiceGroup, as the daemon does, while `body` runs.
    /// A harness the test runs itself, its driver wrapped in an ``ObservedDriver``.
    static func observedHarness(
        cluster: (inout SimulatedClusterConfiguration) -> Void,
        provisioner: (inout ProvisionerConfiguration) -> Void
    ) throws -> (Harness, ObservedDriver) {
        let observed = Mutex<ObservedDriver?>(nil)
        let harness = try Harness(
            cluster: cluster,
            provisioner: provisioner,
            wrap: { base in
                let driver = ObservedDriver(base)
                observed.withLock { $0 = driver }
                return driver
            },
            runs: false
        )
        return (harness, try #require(observed.withLock { $0 }))
    }

    static func withServiceGroup(
        _ harness: Harness, _ body: @Sendable (ServiceGroup) async throws -> Void
    ) async throws {
        let group = ServiceGroup(services: [harness.provisioner], logger: Logger(label: "test-group"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            do {
                try await body(group)
            } catch {
                tasks.cancelAll()
                throw error
            }
            try await tasks.waitForAll()
        }
    }

    @Test func cancellingTheRunTaskCancelsItsOperationsAndLeavesTheirStoresResumable() async throws {
        let first = try Harness(cluster: { $0.readyDelay = .seconds(60) }, provisioner: { $0.maxConcurrentProvisions = 1 })
        let provisioning = try await first.create("first")
        try await first.waitFor(provisioning.id, [.provisioning])
        let waiting = try await first.create("second")  // waits for the one slot
        #expect(first.provisioner.isRunning(storeID: waiting.id))

        await first.stop()  // returns only once run() returned
        #expect(try await first.database.store(id: provisioning.id)?.status == .provisioning)
        #expect(try await first.database.store(id: waiting.id)?.status == .queued)
        #expect(!first.provisioner.isRunning(storeID: provisioning.id))
        #expect(!first.provisioner.isRunning(storeID: waiting.id))
        #expect(first.provisioner.locks.count == 0)

        // Stopped: a request answers UNAVAILABLE and records nothing.
        let error = await #expect(throws: PlatformError.self) { _ = try await first.create("third") }
        #expect(error?.code == .unavailable)
        #expect(error?.message == Self.shuttingDown)
        #expect(try await first.database.stores(inStatuses: Set(StoreStatus.allCases)).count == 2)

        // The next start's reconcile pass resumes both.
        let second = try Harness(directory: first.directory, database: first.database)
        let report = try await second.reconciler.reconcile()
        #expect(Set(report.corrections.map { "\($0.storeName):\($0.from.rawValue)>\($0.to.rawValue)" }) == [
            "first:provisioning>queued", "second:queued>provisioning",
        ])
        try await second.waitFor(waiting.id, [.ready])
    }

    @Test func gracefulShutdownLetsTheStepUnderWayFinishThenStopsAtTheNextBoundary() async throws {
        let (first, driver) = try Self.observedHarness(
            cluster: { $0.installDelay = .seconds(2); $0.readyDelay = .milliseconds(200) },
            provisioner: { $0.shutdownGracePeriod = .seconds(120) }
        )
        try await Self.withServiceGroup(first) { group in
            let done = try await first.create("done")
            try await first.waitFor(done.id, [.ready], within: .seconds(60))
            let store = try await first.create("shop")
            try await driver.waitFor("installRelease", count: 2)  // the second store's
            await group.triggerGracefulShutdown()

            let deadline = ContinuousClock.now + .seconds(20)
            while first.provisioner.acceptsOperations, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            }
            // A request after shutdown began answers UNAVAILABLE, whatever it asks.
            for request in ["create", "delete", "retry"] {
                let error = await #expect(throws: PlatformError.self) {
                    switch request {
                    case "create": _ = try await first.create("late")
                    case "delete": _ = try await first.provisioner.delete(storeID: done.id, actor: "uid:0", requestID: nil)
                    default: _ = try await first.provisioner.retry(storeID: store.id, actor: "uid:0", requestID: nil)
                    }
                }
                #expect(error?.code == .unavailable, "\(request)")
                #expect(error?.message == Self.shuttingDown, "\(request)")
            }
        }
        // run() returned: the install under way finished, and nothing came after it.
        let calls = driver.calls
        let shop = try #require(try await first.database.stores(inStatuses: [.provisioning]).first)
        #expect(shop.name == "shop")
        #expect(calls.filter { $0.hasPrefix("installRelease") }.suffix(2) == ["installRelease", "installRelease:ok"])
        #expect(calls.last == "installRelease:ok", "\(calls)")
        #expect(try await first.database.stores(inStatuses: Set(StoreStatus.allCases)).map(\.name).sorted() == ["done", "shop"])
        #expect(first.provisioner.locks.count == 0)

        // The next start resumes it without installing again.
        let second = try Harness(directory: first.directory, database: first.database)
        #expect(try await second.reconciler.reconcile().corrections.map(\.to) == [.queued])
        let resumed = try await second.waitFor(shop.id, [.ready])
        #expect(try await second.cluster.installCount(namespace: resumed.namespace, release: resumed.release) == 1)
        #expect(try await second.trail(shop.id) == [
            "->queued:create", "queued>provisioning:provision", "provisioning>queued:recovery", "queued>provisioning:recovery",
            "provisioning>ready:ready",
        ])
    }

    @Test func aStepStillUnderWayAtTheEndOfTheGracePeriodIsCancelled() async throws {
        let (harness, driver) = try Self.observedHarness(
            cluster: { $0.installDelay = .seconds(120) },
            provisioner: { $0.shutdownGracePeriod = .milliseconds(100) }
        )
        let store = try await harness.create("shop")
        try await Self.withServiceGroup(harness) { group in
            try await driver.waitFor("installRelease")
            await group.triggerGracefulShutdown()
        }
        #expect(driver.calls.last == "installRelease:cancelled", "\(driver.calls)")
        #expect(try await harness.database.store(id: store.id)?.status == .provisioning)
        #expect(!harness.provisioner.isRunning(storeID: store.id))
    }

    @Test func concurrentDeletesOfOneStoreHaveExactlyOneWinner() async throws {
        let harness = try Harness(cluster: { $0.uninstallDelay = .seconds(2) })
        let store = try await harness.create("shop")
        try await harness.waitFor(store.id, [.ready])
        let results = await withTaskGroup(of: ErrorCode?.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    do {
                        _ = try await harness.provisioner.delete(storeID: store.id, actor: "uid:0", requestID: nil)
                        return nil
                    } catch let error as PlatformError {
                        return error.code
                    } catch {
                        return .internalError
                    }
                }
            }
            return await group.reduce(into: [ErrorCode?]()) { $0.append($1) }
        }
        #expect(results.filter { $0 == nil }.count == 1)
        #expect(results.filter { $0 == .operationInProgress }.count == 19)
        #expect(harness.provisioner.locks.active.map(\.kind) == [.delete])
        try await harness.waitFor(store.id, [.deleted])
    }

    @Test func raisingTheLimitAtRuntimeStartsTheOldestWaiter() async throws {
        let harness = try Harness(cluster: { $0.readyDelay = .seconds(60) }, provisioner: { $0.maxConcurrentProvisions = 1 })
        let first = try await harness.create("first")
        try await harness.waitFor(first.id, [.provisioning])
        let second = try await harness.create("second")
        let third = try await harness.create("third")
        #expect(try await harness.database.store(id: second.id)?.status == .queued)
        harness.provisioner.setMaxConcurrentProvisions(2)
        #expect(harness.provisioner.maxConcurrentProvisions == 2)
        try await harness.waitFor(second.id, [.provisioning])
        #expect(try await harness.database.store(id: third.id)?.status == .queued)
        await harness.stop()
    }

    @Test func deletingAStoreThatWaitsForASlotTakesItOutOfTheQueueWithoutKeepingASlot() async throws {
        let harness = try Harness(cluster: { $0.readyDelay = .seconds(60) }, provisioner: { $0.maxConcurrentProvisions = 1 })
        let first = try await harness.create("first")
        try await harness.waitFor(first.id, [.provisioning])
        let waiting = try await harness.create("second")
        _ = try await harness.provisioner.delete(storeID: waiting.id, actor: "uid:0", requestID: nil)
        try await harness.waitFor(waiting.id, [.deleted])
        #expect(try await harness.trail(waiting.id) == ["->queued:create", "queued>deleting:delete", "deleting>deleted:deleted"])

        // Its place in the queue held no slot: once the first lets go of the one slot, a new store gets it.
        _ = try await harness.provisioner.delete(storeID: first.id, actor: "uid:0", requestID: nil)
        try await harness.waitFor(first.id, [.deleted])
        let third = try await harness.create("third")
        try await harness.waitFor(third.id, [.provisioning])
        await harness.stop()
    }
}

@Suite("Reconcile passes, one at a time")
struct ReconcileSingleFlightTests {
    @Test func concurrentRequestsNeverOverlapAndEachReportComesFromAPassThatStartedAfterIt() async throws {
        let observed = Mutex<ObservedDriver?>(nil)
        let harness = try Harness(wrap: { base in
            let driver = ObservedDriver(base, listingDelay: .milliseconds(150))
            observed.withLock { $0 = driver }
            return driver
        })
        let driver = try #require(observed.withLock { $0 })
        let reconciler = harness.reconciler
        let outcomes = try await withThrowingTaskGroup(of: (before: Int, pass: Int).self) { group in
            for index in 0..<12 {
                group.addTask {
                    try await Task.sleep(for: .milliseconds(25 * index))
                    let before = reconciler.passesStarted
                    let report = try await reconciler.reconcile()
                    return (before, report.pass)
                }
            }
            return try await group.reduce(into: [(before: Int, pass: Int)]()) { $0.append($1) }
        }
        #expect(outcomes.count == 12)
        for outcome in outcomes {
            #expect(outcome.pass > outcome.before, "a report from pass \(outcome.pass), but pass \(outcome.before) had begun before the request")
        }
        #expect(driver.mostListingsInFlight == 1)
        #expect(reconciler.totals.passes == reconciler.passesStarted)
    }

    @Test func aWaitingRequestThatIsCancelledLeavesAndTheOthersStillGetTheirPass() async throws {
        let observed = Mutex<ObservedDriver?>(nil)
        let harness = try Harness(wrap: { base in
            let driver = ObservedDriver(base, listingDelay: .milliseconds(500))
            observed.withLock { $0 = driver }
            return driver
        })
        let reconciler = harness.reconciler
        let running = Task { try await reconciler.reconcile() }
        let deadline = ContinuousClock.now + .seconds(20)
        while reconciler.passesStarted == 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        let cancelled = Task { try await reconciler.reconcile() }
        let waiting = Task { try await reconciler.reconcile() }
        try await Task.sleep(for: .milliseconds(50))
        cancelled.cancel()
        await #expect(throws: CancellationError.self) { _ = try await cancelled.value }
        #expect(try await running.value.pass == 1)
        #expect(try await waiting.value.pass >= 2)
        #expect(try #require(observed.withLock { $0 }).mostListingsInFlight == 1)
    }
}
