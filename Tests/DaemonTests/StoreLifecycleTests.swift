import Foundation
import ProcessTestSupport
import Provisioning
import StorePlatformProto
import StoreRPC
import Testing

typealias M = StorePlatformMethod

/// Flags for a daemon whose simulated cluster answers in well under a second.
let quickCluster = [
    "--sim-install-delay", "0.1", "--sim-ready-delay", "0.3", "--readiness-poll-ms", "50",
    "--requests-per-minute", "100000", "--creates-per-minute", "100000",
]

extension RPCClient {
    func create(_ name: String, engine: String = "", key: String? = nil) async throws -> Storeplatform_V1_Store {
        var request = Storeplatform_V1_CreateStoreRequest()
        request.name = name
        request.engine = engine
        return try await unary(
            M.StoreService.createStore, request,
            metadata: key.map { ["idempotency-key": $0] } ?? [:]
        ).store
    }

    func store(_ id: String) async throws -> Storeplatform_V1_Store {
        var request = Storeplatform_V1_GetStoreRequest()
        request.id = id
        return try await unary(M.StoreService.getStore, request).store
    }

    func delete(_ id: String) async throws -> Storeplatform_V1_Store {
        var request = Storeplatform_V1_DeleteStoreRequest()
        request.id = id
        return try await unary(M.StoreService.deleteStore, request).store
    }

    func retry(_ id: String) async throws -> Storeplatform_V1_Store {
        var request = Storeplatform_V1_RetryStoreRequest()
        request.id = id
        return try await unary(M.StoreService.retryStore, request).store
    }

    func audit(storeID: String) async throws -> [Storeplatform_V1_AuditEvent] {
        var request = Storeplatform_V1_ListAuditRequest()
        request.storeID = storeID
        request.limit = 1000
        return try await unary(M.PlatformService.listAudit, request).events.reversed()
    }

    /// Polls until the store is in one of `statuses` (a generous bound, never a speed check).
    @discardableResult
    func waitFor(_ id: String, _ statuses: Set<Storeplatform_V1_StoreStatus>, within: Duration = .seconds(60)) async throws -> Storeplatform_V1_Store {
        let deadline = ContinuousClock.now + within
        var store = try await self.store(id)
        while !statuses.contains(store.status) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
            store = try await self.store(id)
        }
        #expect(statuses.contains(store.status), "store \(store.name) is \(store.status): \(store.errorMessage)")
        return store
    }
}

extension RPCClient {
    /// Waits (generously) for the store to end ready, and checks that its release
    /// was installed exactly once in `cluster` and that its audit trail runs from
    /// its create to ready without a gap. Returns the trail.
    @discardableResult
    func expectReadyInstalledOnce(_ id: String, cluster: SimulatedCluster) async throws -> [Storeplatform_V1_AuditEvent] {
        let store = try await waitFor(id, [.ready, .failed], within: .seconds(120))
        #expect(store.status == .ready, "\(store.name): \(store.errorMessage)")
        #expect(try await cluster.installCount(namespace: store.namespace, release: store.release) == 1, "\(store.name)")
        let trail = try await audit(storeID: id)
        #expect(trail.first?.action == "create")
        #expect(trail.last?.toStatus == .ready)
        for (previous, next) in zip(trail, trail.dropFirst()) {
            #expect(previous.toStatus == next.fromStatus, "gap in \(store.name): \(previous.toStatus) then \(next.fromStatus)")
        }
        return trail
    }
}

/// The error code a call failed with, or "OK".
func errorCode(_ body: () async throws -> Void) async -> String {
    do {
        try await body()
        return "OK"
    } catch let error as RPCError {
        return error.errorCode
    } catch {
        return "\(error)"
    }
}

/// Each test runs on SQLite and on PostgreSQL (``DaemonDatabase/all``).
@Suite("Store lifecycle through the daemon process")
struct StoreLifecycleTests {
    @Test(arguments: DaemonDatabase.all)
    func storectlCreatesWaitsListsAndDeletes(database: DaemonDatabase) async throws {
        let daemon = try DaemonProcess(extraArguments: quickCluster + (try await database.arguments()))
        try await daemon.start()
        let socket = ["--socket", daemon.socketPath]
        let created = try await runProduct("storectl", ["create", "my-shop", "--wait"] + socket)
        #expect(created.status == 0, "\(created.stdout)\(created.stderr)")
        #expect(created.stdout.contains("ready"))
        #expect(created.stdout.contains("http://my-shop.stores.localhost"))

        let list = try await runProduct("storectl", ["list", "--json"] + socket)
        #expect(list.status == 0)
        let stores = try Storeplatform_V1_ListStoresResponse(jsonString: list.stdout).stores
        #expect(stores.map(\.name) == ["my-shop"])
        #expect(stores.first?.status == .ready)
        let id = try #require(stores.first?.id)

        let deleted = try await runProduct("storectl", ["delete", id, "--wait"] + socket)
        #expect(deleted.status == 0, "\(deleted.stderr)")
        let client = try await RPCClient.connect(to: .unix(path: daemon.socketPath))
        #expect(try await client.store(id).status == .deleted)
        let trail = try await client.audit(storeID: id).map { "\($0.fromStatus)>\($0.toStatus)" }
        #expect(trail == ["unspecified>queued", "queued>provisioning", "provisioning>ready", "ready>deleting", "deleting>deleted"])
        // A watch of one store starts with its current state.
        var watch = Storeplatform_V1_WatchStoresRequest()
        watch.storeID = id
        for try await event in try client.serverStream(M.StoreService.watchStores, watch) {
            #expect(event.action == "current")
            #expect(event.toStatus == .deleted)
            #expect(event.store.id == id)
            break
        }
        await client.close()

        let audit = try await runProduct("storectl", ["audit", "--store", id, "--json"] + socket)
        #expect(audit.status == 0)
        #expect(try Storeplatform_V1_ListAuditResponse(jsonString: audit.stdout).events.count == 5)
        let metrics = try await runProduct("storectl", ["metrics", "--json"] + socket)
        #expect(metrics.status == 0)
        let counts = try Storeplatform_V1_GetMetricsResponse(jsonString: metrics.stdout).storesByStatus
        #expect(counts.first { $0.status == .deleted }?.count == 1)
        let limits = try await runProduct("storectl", ["limits", "--max-live-stores", "7", "--json"] + socket)
        #expect(limits.status == 0, "\(limits.stderr)")
        #expect(try Storeplatform_V1_UpdateLimitsResponse(jsonString: limits.stdout).limits.maxLiveStores == 7)
        let reconcile = try await runProduct("storectl", ["reconcile", "--json"] + socket)
        #expect(reconcile.status == 0, "\(reconcile.stderr)")
        #expect(try Storeplatform_V1_ReconcileResponse(jsonString: reconcile.stdout).corrections.isEmpty)
        let retryDeleted = try await runProduct("storectl", ["retry", id] + socket)
        #expect(retryDeleted.status == 1)
        #expect(retryDeleted.stderr.contains("error: INVALID_STATE_TRANSITION: cannot retry store \"my-shop\": it is deleted"))

        let missing = try await runProduct("storectl", ["get", "st_missing"] + socket)
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("error: NOT_FOUND: no store with id \"st_missing\""))
        try await daemon.terminate()
    }

    /// --wait prints each provisioning step as it begins, after the status lines
    /// that come before it.
    @Test func createWaitPrintsTheProvisioningSteps() async throws {
        // One provisioning slot, held by another store for a while: the waited store
        // stays queued meanwhile, so the watch of `--wait` is open before its first step
        // (8 s: starting storectl on a loaded machine has taken more than 2).
        let daemon = try DaemonProcess(extraArguments: [
            "--sim-install-delay", "8", "--sim-ready-delay", "0.5", "--readiness-poll-ms", "50",
            "--max-concurrent-provisions", "1", "--provision-deadline", "300",
        ])
        try await daemon.start()
        let blocker = try await runProduct("storectl", ["create", "first", "--socket", daemon.socketPath])
        #expect(blocker.status == 0, "\(blocker.stdout)\(blocker.stderr)")
        let created = try await runProduct("storectl", ["create", "stepped", "--wait", "--socket", daemon.socketPath])
        #expect(created.status == 0, "\(created.stdout)\(created.stderr)")
        let lines = created.stdout.split(separator: "\n").map(String.init)
        let steps = lines.compactMap {
            $0.firstMatch(of: /Z  provisioning, step (\d) of 4: ([A-Za-z' ]+) \(\+\d+\.\ds; \d+\.\ds of the 5m 0s deadline\)$/)
                .map { "\($0.1) \($0.2)" }
        }
        #expect(steps == [
            "1 creating the namespace", "2 writing the store's Secret", "3 installing the Helm release", "4 waiting for the pods to be ready",
        ], "\(created.stdout)")
        #expect(lines.last?.contains("ready at http://stepped.stores.localhost (+") == true, "\(created.stdout)")
        try await daemon.terminate()
    }

    /// Two watches of one store's provisioning: the one that asked for the steps
    /// gets them between its transitions; the other gets the transitions alone,
    /// as every watcher did before steps existed.
    @Test func onlyAWatchThatAsksGetsTheProvisioningSteps() async throws {
        let daemon = try DaemonProcess(extraArguments: [
            "--sim-install-delay", "0.5", "--sim-ready-delay", "0.5", "--readiness-poll-ms", "50",
        ])
        try await daemon.start()
        let client = try await RPCClient.connect(to: .unix(path: daemon.socketPath))
        var stepped = Storeplatform_V1_WatchStoresRequest()
        stepped.includeProgress = true
        let plainEvents = try client.serverStream(M.StoreService.watchStores, Storeplatform_V1_WatchStoresRequest())
        let steppedEvents = try client.serverStream(M.StoreService.watchStores, stepped)
        var create = Storeplatform_V1_CreateStoreRequest()
        create.name = "watched"
        _ = try await client.unary(M.StoreService.createStore, create)
        /// A watch's events until the store is ready.
        func untilReady(_ events: RPCResponseStream<Storeplatform_V1_StoreEvent>) async throws -> [Storeplatform_V1_StoreEvent] {
            var seen: [Storeplatform_V1_StoreEvent] = []
            for try await event in events {
                seen.append(event)
                if event.toStatus == .ready { break }
            }
            return seen
        }
        let plain = try await untilReady(plainEvents)
        let withSteps = try await untilReady(steppedEvents)
        #expect(plain.map(\.action) == ["create", "provision", "ready"], "\(plain)")
        #expect(plain.allSatisfy { $0.auditID > 0 })
        #expect(withSteps.filter { $0.action != "progress" }.map(\.action) == ["create", "provision", "ready"])
        let steps = withSteps.filter { $0.action == "progress" }
        #expect(!steps.isEmpty, "\(withSteps)")
        #expect(steps.allSatisfy { $0.auditID == 0 && $0.fromStatus == .provisioning && $0.toStatus == .provisioning })
        // The watch was open before the create: every step, in order, as the enum says them.
        #expect(steps.map(\.step) == [.namespace, .secret, .install, .readiness], "\(withSteps)")
        #expect(withSteps.filter { $0.action != "progress" }.allSatisfy { $0.step == .unspecified })
        await client.close()
        try await daemon.terminate()
    }

    /// get, retry, delete and watch take a store's name as well as its id; a
    /// deleted store is found by its id only.
    @Test(arguments: DaemonDatabase.all)
    func storectlNamesAStoreByNameOrByID(database: DaemonDatabase) async throws {
        // The first install of every release fails; the retry succeeds.
        let daemon = try DaemonProcess(extraArguments: quickCluster + ["--sim-fault", "install-error"] + (try await database.arguments()))
        try await daemon.start()
        let socket = ["--socket", daemon.socketPath]

        let created = try await runProduct("storectl", ["create", "my-shop", "--wait"] + socket)
        #expect(created.status == 1, "\(created.stdout)\(created.stderr)")
        let firstLine = try #require(created.stdout.split(separator: "\n").first.map(String.init))
        let id = String(try #require(firstLine.firstMatch(of: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ  my-shop \((st_[a-z0-9]+)\): queued$/)).1)
        // The lines after the first: each status change it saw (provisioning may already be
        // over when the watch begins) and step, each with its time and the time since
        // the first; the last says why it failed.
        let later = created.stdout.split(separator: "\n").dropFirst().map(String.init)
        #expect(later.allSatisfy {
            $0.firstMatch(of: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ  .* \(\+\d+\.\ds(; \d+\.\ds of the 10m 0s deadline)?\)$/) != nil
        }, "\(later)")
        #expect(later.last?.contains("Z  failed: helm install my-shop failed: Error: INSTALLATION FAILED: ") == true, "\(later)")
        #expect(created.stderr.contains("`storectl retry \(id)`"), "\(created.stderr)")
        let headline = "helm install failed: timed out waiting for the condition (simulated fault install-error)"
        let list = try await runProduct("storectl", ["list"] + socket)
        let row = try #require(list.stdout.split(separator: "\n").first { $0.hasPrefix(id) })
        #expect(row.hasSuffix("  \(headline)"), "\(list.stdout)")
        #expect(list.stdout.hasPrefix("ID "), "\(list.stdout)")
        #expect(list.stdout.split(separator: "\n").first?.hasSuffix("REASON") == true, "\(list.stdout)")
        // By part of the name.
        let named = try await runProduct("storectl", ["list", "--name", "shop"] + socket)
        #expect(named.stdout.split(separator: "\n").dropFirst().map { String($0.prefix(id.count)) } == [id], "\(named.stdout)")
        let unnamed = try await runProduct("storectl", ["list", "--name", "bakery", "--status", "failed"] + socket)
        #expect(unnamed.stdout == "no stores in status failed whose name contains 'bakery'\n", "\(unnamed.stdout)")
        // The recent failure's row: time, store, what followed, headline.
        func failureRow(_ output: String) -> [String] {
            let line = output.split(separator: "\n").first { $0.contains("my-shop (\(id))") } ?? ""
            return line.components(separatedBy: "  ").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        let audit = try await runProduct("storectl", ["audit", "--store", id] + socket)
        // The fail row's MESSAGE is the headline (--json has the whole reason).
        let failRow = try #require(audit.stdout.split(separator: "\n").first { $0.contains("  fail  ") }, "\(audit.stdout)")
        #expect(failRow.hasSuffix("provisioning → failed  \(headline)"), "\(failRow)")
        let open = try await runProduct("storectl", ["metrics"] + socket)
        #expect(failureRow(open.stdout).suffix(3) == ["my-shop (\(id))", "open", headline], "\(open.stdout)")
        // The last hour: one create and one failure, in the latest five-minute span.
        #expect(open.stdout.contains(/\n +creates +1 +(0 ){11}1\n/), "\(open.stdout)")
        #expect(open.stdout.contains(/\n +failures +1 +(0 ){11}1\n/), "\(open.stdout)")

        let byName = try await runProduct("storectl", ["get", "my-shop", "--json"] + socket)
        #expect(byName.status == 0, "\(byName.stderr)")
        let store = try Storeplatform_V1_GetStoreResponse(jsonString: byName.stdout).store
        #expect(store.id == id)
        #expect(store.status == .failed)
        let byID = try await runProduct("storectl", ["get", id, "--json"] + socket)
        #expect(try Storeplatform_V1_GetStoreResponse(jsonString: byID.stdout).store == store)

        // A watch of one store, named by its name, starts with the store's current state.
        let watchOutput = temporaryPath("watch", suffix: ".jsonl")
        let watch = try ChildProcess(
            productsDirectory.appendingPathComponent("storectl").path, ["watch", "--store", "my-shop", "--json"] + socket,
            stdout: .file(watchOutput), stderr: .discard
        )
        let current = try await pollUntil("the watch prints the store's current state") {
            (try? String(contentsOfFile: watchOutput, encoding: .utf8)).flatMap { $0.split(separator: "\n").first }.map(String.init)
        }
        let event = try Storeplatform_V1_StoreEvent(jsonString: current)
        #expect(event.action == "current")
        #expect(event.store.id == id)
        watch.signal(SIGINT)
        #expect(try await watch.waitForExit(within: .seconds(30)).status == 130)

        let retried = try await runProduct("storectl", ["retry", "my-shop", "--wait"] + socket)
        #expect(retried.status == 0, "\(retried.stdout)\(retried.stderr)")
        #expect(retried.stdout.split(separator: "\n").first?.hasSuffix("Z  my-shop (\(id)): queued") == true, "\(retried.stdout)")
        #expect(retried.stdout.contains("ready at http://my-shop.stores.localhost"))

        let deleted = try await runProduct("storectl", ["delete", "my-shop", "--wait"] + socket)
        #expect(deleted.status == 0, "\(deleted.stdout)\(deleted.stderr)")
        #expect(deleted.stdout.split(separator: "\n").first?.hasSuffix("Z  my-shop (\(id)): deleting") == true, "\(deleted.stdout)")

        let metrics = try await runProduct("storectl", ["metrics"] + socket)
        #expect(metrics.stdout.contains("Stores by status (0 / 10 live)"), "\(metrics.stdout)")
        #expect(failureRow(metrics.stdout).suffix(3) == ["my-shop (\(id))", "resolved: deleted", headline], "\(metrics.stdout)")

        let goneByName = try await runProduct("storectl", ["get", "my-shop"] + socket)
        #expect(goneByName.status == 1)
        #expect(goneByName.stderr.hasPrefix(
            "error: NOT_FOUND: no live store is named \"my-shop\"; a deleted store is found by its id only"
        ), "\(goneByName.stderr)")
        let goneByID = try await runProduct("storectl", ["get", id, "--json"] + socket)
        #expect(try Storeplatform_V1_GetStoreResponse(jsonString: goneByID.stdout).store.status == .deleted)
        let deleteAgain = try await runProduct("storectl", ["delete", "my-shop"] + socket)
        #expect(deleteAgain.status == 1)
        #expect(deleteAgain.stderr.contains("error: NOT_FOUND: no live store is named \"my-shop\""))

        // Both or neither of id and name is a bad request, not a guess.
        let client = try await RPCClient.connect(to: .unix(path: daemon.socketPath))
        var both = Storeplatform_V1_GetStoreRequest()
        both.id = id
        both.name = "my-shop"
        #expect(await errorCode { _ = try await client.unary(M.StoreService.getStore, both) } == "INVALID_ARGUMENT")
        #expect(await errorCode {
            _ = try await client.unary(M.StoreService.getStore, Storeplatform_V1_GetStoreRequest())
        } == "INVALID_ARGUMENT")
        await client.close()
        try await daemon.terminate()
    }

    @Test(arguments: DaemonDatabase.all)
    func everyErrorCodeComesFromARealRequest(database: DaemonDatabase) async throws {
        let directory = try makeTemporaryDirectory("spd")
        try "secret-token\n".write(toFile: directory + "/tokens", atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(
            // A slow uninstall keeps the first delete's operation (and the store's lock)
            // busy while the second delete arrives, however loaded the machine.
            extraArguments: quickCluster + [
                "--max-live-stores", "3", "--admin-uid", "4242", "--token-file", directory + "/tokens", "--sim-uninstall-delay", "3",
            ] + (try await database.arguments()),
            directory: directory
        )
        try await daemon.start()
        let client = try await RPCClient.connect(to: .unix(path: daemon.socketPath))

        #expect(await errorCode { _ = try await client.create("") } == "MISSING_STORE_NAME")
        #expect(await errorCode { _ = try await client.create("Bad_Name") } == "INVALID_STORE_NAME")
        #expect(await errorCode { _ = try await client.create("shop", engine: "magento") } == "INVALID_ENGINE")
        #expect(await errorCode { _ = try await client.create("shop", engine: "medusa") } == "ENGINE_UNAVAILABLE")
        let shop = try await client.create("shop")
        #expect(await errorCode { _ = try await client.create("shop") } == "STORE_NAME_TAKEN")
        _ = try await client.create("second")
        _ = try await client.create("third")
        #expect(await errorCode { _ = try await client.create("fourth") } == "QUOTA_EXCEEDED")
        #expect(await errorCode { _ = try await client.store("st_nope") } == "NOT_FOUND")
        try await client.waitFor(shop.id, [.ready])
        #expect(await errorCode { _ = try await client.retry(shop.id) } == "INVALID_STATE_TRANSITION")
        #expect(await errorCode { _ = try await client.upgrade(shop.id, to: "1.0-wc1.0") } == "UNKNOWN_VERSION")
        #expect(await errorCode { _ = try await client.upgrade(shop.id, to: "6.9-wc10.3") } == "ALREADY_ON_VERSION")
        #expect(await errorCode {
            var rollback = Storeplatform_V1_RollbackStoreRequest()
            rollback.id = shop.id
            rollback.revision = 5
            _ = try await client.unary(M.StoreService.rollbackStore, rollback)
        } == "UNKNOWN_REVISION")
        _ = try await client.delete(shop.id)
        // The first delete's operation still holds the store's lock.
        #expect(await errorCode { _ = try await client.delete(shop.id) } == "OPERATION_IN_PROGRESS")
        #expect(await errorCode {
            _ = try await client.unary(M.AdminService.reconcile, Storeplatform_V1_ReconcileRequest())
        } == "PERMISSION_DENIED")
        let anonymous = try await RPCClient.connect(to: .tcp(host: "127.0.0.1", port: daemon.tcpPort))
        #expect(await errorCode { _ = try await anonymous.store(shop.id) } == "UNAUTHENTICATED")
        await anonymous.close()

        let metrics = try await client.unary(M.PlatformService.getMetrics, Storeplatform_V1_GetMetricsRequest())
        #expect(metrics.quotaRefusalsTotal == 1)
        #expect(metrics.storesByStatus.count == 7)
        #expect(metrics.maxLiveStores == 3)
        // The delete finishes before the daemon is stopped: this test is about the
        // error codes, not about stopping mid-operation.
        try await client.waitFor(shop.id, [.deleted])
        await client.close()
        try await daemon.terminate()
    }

    @Test(arguments: DaemonDatabase.all)
    func rateLimitsRefuseWithRetryAfter(database: DaemonDatabase) async throws {
        let daemon = try DaemonProcess(
            extraArguments: ["--creates-per-minute", "2", "--requests-per-minute", "100"] + (try await database.arguments())
        )
        try await daemon.start()
        let client = try await RPCClient.connect(to: .unix(path: daemon.socketPath))
        _ = try await client.create("one")
        _ = try await client.create("two")
        do {
            _ = try await client.create("three")
            Issue.record("third create was not rate limited")
        } catch let error as RPCError {
            #expect(error.errorCode == "RATE_LIMITED")
            #expect(error.code == .resourceExhausted)
            #expect(error.status.retryAfterMilliseconds > 0)
        }
        await client.close()
        try await daemon.terminate()
    }

    /// Mistyped creates are refused before the rate limit; a create over the rate
    /// while the quota is full is told about the quota, which waiting cannot fix.
    @Test(arguments: DaemonDatabase.all)
    func invalidCreatesCostNoBudgetAndAFullQuotaIsReportedOverTheRate(database: DaemonDatabase) async throws {
        let daemon = try DaemonProcess(
            extraArguments: ["--creates-per-minute", "3", "--requests-per-minute", "100", "--max-live-stores", "1"]
                + (try await database.arguments())
        )
        try await daemon.start()
        let client = try await RPCClient.connect(to: .unix(path: daemon.socketPath))
        #expect(await errorCode { _ = try await client.create("Bad_Name") } == "INVALID_STORE_NAME")
        #expect(await errorCode { _ = try await client.create("shop", engine: "magento") } == "INVALID_ENGINE")
        #expect(await errorCode { _ = try await client.create("") } == "MISSING_STORE_NAME")
        #expect(await errorCode { _ = try await client.create("shop") } == "OK")

        // Two more creates spend the budget of three (the quota refuses them).
        #expect(await errorCode { _ = try await client.create("second") } == "QUOTA_EXCEEDED")
        #expect(await errorCode { _ = try await client.create("third") } == "QUOTA_EXCEEDED")
        do {
            _ = try await client.create("fourth")
            Issue.record("a create over both the rate and the quota was accepted")
        } catch let error as RPCError {
            #expect(error.errorCode == "QUOTA_EXCEEDED")
            #expect(error.message == "the platform's limit of 1 live stores is reached (1 live); delete a store before creating another")
            #expect(error.status.retryAfterMilliseconds == 0)
        }
        // Each refusal counts once, under the code the caller got.
        let metrics = try await client.unary(M.PlatformService.getMetrics, Storeplatform_V1_GetMetricsRequest())
        #expect(metrics.rateLimitedTotal == 0)
        #expect(metrics.quotaRefusalsTotal == 3)

        // With room in the quota, a create over the rate is the rate limit's.
        var update = Storeplatform_V1_UpdateLimitsRequest()
        update.maxLiveStores = 5
        _ = try await client.unary(M.AdminService.updateLimits, update)
        #expect(await errorCode { _ = try await client.create("fifth") } == "RATE_LIMITED")
        let after = try await client.unary(M.PlatformService.getMetrics, Storeplatform_V1_GetMetricsRequest())
        #expect(after.rateLimitedTotal == 1)
        #expect(after.quotaRefusalsTotal == 3)
        await client.close()
        try await daemon.terminate()
    }

    @Test(arguments: DaemonDatabase.all)
    func twentyConcurrentCreatesAtQuotaTenMakeExactlyTenStores(database: DaemonDatabase) async throws {
        let daemon = try DaemonProcess(extraArguments: quickCluster + ["--max-live-stores", "10"] + (try await database.arguments()))
        try await daemon.start()
        let client = try await RPCClient.connect(to: .unix(path: daemon.socketPath))
        let outcomes = await withTaskGroup(of: String.self) { group in
            for index in 0..<20 {
                group.addTask { await errorCode { _ = try await client.create("store-\(index)") } }
            }
            return await group.reduce(into: [String: Int]()) { $0[$1, default: 0] += 1 }
        }
        #expect(outcomes == ["OK": 10, "QUOTA_EXCEEDED": 10])
        var request = Storeplatform_V1_ListStoresRequest()
        request.pageSize = 100
        let stores = try await client.unary(M.StoreService.listStores, request).stores
        #expect(stores.count == 10)
        await client.close()
        try await daemon.terminate()
    }

    /// The restarted daemon runs on the same data: the same `--data-dir` (the
    /// simulated cluster's state) and the same `--database`.
    @Test(arguments: DaemonDatabase.all)
    func killMinus9MidWayThenRestartEveryStoreReadyInstalledOnceNoAuditGaps(database: DaemonDatabase) async throws {
        let arguments = [
            "--sim-install-delay", "0.5", "--sim-ready-delay", "1", "--readiness-poll-ms", "50", "--max-live-stores", "50",
            "--requests-per-minute", "100000", "--creates-per-minute", "100000", "--reconcile-interval", "3600",
        ] + (try await database.arguments())
        let first = try DaemonProcess(extraArguments: arguments)
        try await first.start()
        let client = try await RPCClient.connect(to: .unix(path: first.socketPath))
        var ids: [String] = []
        for index in 0..<30 {
            ids.append(try await client.create("crash-\(index)").id)
        }
        await client.close()
        // Some stores are ready, some mid-install, most still queued.
        try await Task.sleep(for: .seconds(2))
        first.signal(SIGKILL)
        try await first.waitForExit(within: .seconds(30)) { "the daemon outlived SIGKILL" }

        let second = try DaemonProcess(extraArguments: arguments, directory: first.directory)
        try await second.start()
        let after = try await RPCClient.connect(to: .unix(path: second.socketPath))
        let cluster = try await second.simulatedCluster()
        for id in ids {
            try await after.expectReadyInstalledOnce(id, cluster: cluster)
        }
        await after.close()
        try await second.terminate()
    }
}
