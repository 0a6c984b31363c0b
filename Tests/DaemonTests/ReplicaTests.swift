import Foundation
import PostgresTestSupport
import ProcessTestSupport
import StorePlatformProto
import StoreRPC
import Testing

/// Three storeplatformd processes on one PostgreSQL database, each with a data
/// directory of its own, as replicas of one platform on separate machines: they
/// share nothing but the database, where the simulated cluster keeps its state too
/// (Sources/PostgresStoreDatabase/PostgresSimulatedClusterState.swift).
@Suite("Replicas on one PostgreSQL database", .enabled(if: ThrowawayPostgres.enabled))
struct ReplicaTests {
    /// Starts three replicas, `r1`…`r3`, on a new database; `extra` goes to each.
    static func replicas(_ extra: [String]) async throws -> [DaemonProcess] {
        let server = try await ThrowawayPostgres.shared()
        let url = try await server.createDatabase(prefix: "r", parameters: ["connect_timeout": "20"])
        var daemons: [DaemonProcess] = []
        for index in 1...3 {
            let daemon = try DaemonProcess(extraArguments: ["--database", url, "--replica-id", "r\(index)"] + extra)
            try await daemon.start()
            daemons.append(daemon)
        }
        return daemons
    }

    /// Each replica's reconcile passes so far (GetMetrics), in order.
    static func reconcilePasses(_ clients: [RPCClient]) async throws -> [UInt64] {
        var counts: [UInt64] = []
        for client in clients {
            counts.append(try await client.unary(
                M.PlatformService.getMetrics, Storeplatform_V1_GetMetricsRequest()
            ).reconcilePasses)
        }
        return counts
    }

    static let unlimited = [
        "--requests-per-minute", "100000", "--creates-per-minute", "100000", "--readiness-poll-ms", "50",
    ]

    /// The same name through two replicas at once: one store, the other
    /// STORE_NAME_TAKEN; the same idempotency key through two: one store; sixty
    /// creates spread over the three with a quota of 40: exactly 40.
    @Test func namesKeysAndTheQuotaHoldAcrossReplicas() async throws {
        let daemons = try await Self.replicas(
            Self.unlimited + ["--sim-install-delay", "0", "--sim-ready-delay", "0", "--max-live-stores", "40"]
        )
        var clients: [RPCClient] = []
        for daemon in daemons { clients.append(try await RPCClient.connect(to: .unix(path: daemon.socketPath))) }

        let (first, second) = (clients[0], clients[1])
        async let one = errorCode { _ = try await first.create("contested") }
        async let other = errorCode { _ = try await second.create("contested") }
        #expect([await one, await other].sorted() == ["OK", "STORE_NAME_TAKEN"])

        async let keyed = first.create("keyed-a", key: "same-key")
        async let keyedAgain = second.create("keyed-b", key: "same-key")
        let (a, b) = try await (keyed, keyedAgain)
        #expect(a.id == b.id)

        // Two live stores so far; 60 more creates may add 38.
        let outcomes = await withTaskGroup(of: String.self) { group in
            for index in 0..<60 {
                let client = clients[index % 3]
                group.addTask { await errorCode { _ = try await client.create("quota-\(index)") } }
            }
            return await group.reduce(into: [String: Int]()) { $0[$1, default: 0] += 1 }
        }
        #expect(outcomes == ["OK": 38, "QUOTA_EXCEEDED": 22])
        var request = Storeplatform_V1_ListStoresRequest()
        request.pageSize = 100
        let stores = try await clients[2].unary(M.StoreService.listStores, request).stores
        #expect(stores.count == 40)
        for client in clients { await client.close() }
        for daemon in daemons { #expect(try await daemon.terminate() == 0) }
    }

    /// A leader that stops gracefully resigns, and the database tells the others at
    /// once: with passes a minute apart (a lease of three), another replica leads
    /// within seconds, not at its next interval.
    @Test func aLeaderThatStopsHandsOverAtOnce() async throws {
        let daemons = try await Self.replicas(Self.unlimited + ["--reconcile-interval", "60"])
        let leads = "this replica leads the reconciler"
        let leader = try #require(daemons.firstIndex { $0.log.contains(leads) }, "no replica leads")
        // Let the followers make their first claim (refused) and go to sleep.
        try await Task.sleep(for: .seconds(1))
        #expect(try await daemons[leader].terminate() == 0)
        let deadline = ContinuousClock.now + .seconds(20)
        var next: Int?
        while next == nil, ContinuousClock.now < deadline {
            next = daemons.indices.first { $0 != leader && daemons[$0].log.contains(leads) }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(next != nil, "no replica led within 20 s of the leader's resignation (passes are 60 s apart)")
        for (index, daemon) in daemons.enumerated() where index != leader { #expect(try await daemon.terminate() == 0) }
    }

    /// GetMetrics' active operations count every replica's (their leases), as
    /// `storectl operations` lists them: stores installing through r1 and r2 are
    /// counted by r3.
    @Test func activeOperationsCountEveryReplicas() async throws {
        let daemons = try await Self.replicas(Self.unlimited + ["--sim-install-delay", "600"])
        var clients: [RPCClient] = []
        for daemon in daemons { clients.append(try await RPCClient.connect(to: .unix(path: daemon.socketPath))) }
        // A create returns once its operation holds the store's lease.
        _ = try await clients[0].create("counted-a")
        _ = try await clients[0].create("counted-b")
        _ = try await clients[1].create("counted-c")
        for client in clients {
            let metrics = try await client.unary(
                M.PlatformService.getMetrics, Storeplatform_V1_GetMetricsRequest()
            )
            #expect(metrics.activeOperations == 3)
        }
        for client in clients { await client.close() }
        // The installs would take ten minutes: the daemons are killed when the test ends.
    }

    /// "Reconcile now" through any replica runs on the one leading the reconciler:
    /// its pass count goes up, the others' do not, and the answer names it.
    @Test func reconcileNowThroughAnyReplicaRunsOnTheLeader() async throws {
        let daemons = try await Self.replicas(Self.unlimited + ["--reconcile-interval", "3600"])
        var clients: [RPCClient] = []
        for daemon in daemons { clients.append(try await RPCClient.connect(to: .unix(path: daemon.socketPath))) }
        _ = try await clients[0].create("reconciled")
        func passes() async throws -> [UInt64] { try await Self.reconcilePasses(clients) }
        for (index, client) in clients.enumerated() {
            let before = try await passes()
            let answer = try await client.unary(
                M.AdminService.reconcile, Storeplatform_V1_ReconcileRequest()
            )
            let after = try await passes()
            let leader = try #require(Int(answer.replica.dropFirst())).advanced(by: -1)
            #expect(answer.storesExamined == 1, "asked r\(index + 1)")
            let grown = zip(before, after).map { $1 - $0 }
            #expect(grown == (0..<3).map { $0 == leader ? 1 : 0 }, "asked r\(index + 1), answered by \(answer.replica): \(before) → \(after)")
        }
        for client in clients { await client.close() }
        for daemon in daemons { #expect(try await daemon.terminate() == 0) }
    }

    /// Each replica LISTENs on one connection for every channel (the commit relay's,
    /// the lease releases', the reconcile requests':
    /// Sources/PostgresStoreDatabase/ChannelListener.swift): once each has answered a
    /// reconcile, the server shows one LISTENing backend per replica, told apart by
    /// their `application_name`.
    @Test func eachReplicaListensOnOneConnection() async throws {
        let server = try await ThrowawayPostgres.shared()
        let url = try await server.createDatabase(prefix: "r", parameters: ["connect_timeout": "20"])
        let afterSlash = try #require(url.range(of: "@/")).upperBound
        let databaseName = String(url[afterSlash...].prefix { $0 != "?" })
        var daemons: [DaemonProcess] = []
        for index in 1...3 {
            let replica = ["--database", url + "&application_name=r\(index)", "--replica-id", "r\(index)"]
            let daemon = try DaemonProcess(extraArguments: replica + Self.unlimited + ["--reconcile-interval", "3600"])
            try await daemon.start()
            daemons.append(daemon)
        }
        var clients: [RPCClient] = []
        for daemon in daemons { clients.append(try await RPCClient.connect(to: .unix(path: daemon.socketPath))) }
        for client in clients { _ = try await client.unary(M.AdminService.reconcile, Storeplatform_V1_ReconcileRequest()) }
        let listening = try await server.sql("""
            SELECT application_name FROM pg_stat_activity
            WHERE datname = '\(databaseName)' AND query LIKE 'LISTEN%' ORDER BY application_name
            """)
        #expect(listening.split(separator: "\n") == ["r1", "r2", "r3"])
        for client in clients { await client.close() }
        for daemon in daemons { #expect(try await daemon.terminate() == 0, "its log ends: \(daemon.log.suffix(2000))") }
    }

    /// The rate limits count one caller's calls on all three replicas together (the
    /// shared buckets in PostgreSQL): 15 creates and then 90 reads from one caller,
    /// spread over the three as fast as they go, are admitted no more than the
    /// limits of 5 creates and 30 requests a minute allow, plus what refilled while
    /// they ran and one token; and no fewer than the limits' burst.
    @Test func threeReplicasTogetherAdmitNoMoreThanTheRateLimits() async throws {
        let daemons = try await Self.replicas([
            "--requests-per-minute", "30", "--creates-per-minute", "5", "--sim-install-delay", "0", "--sim-ready-delay", "0",
        ])
        var clients: [RPCClient] = []
        for daemon in daemons { clients.append(try await RPCClient.connect(to: .unix(path: daemon.socketPath))) }
        let started = ContinuousClock.now
        let creates = await withTaskGroup(of: String.self) { group in
            for index in 0..<15 {
                let client = clients[index % 3]
                group.addTask { await errorCode { _ = try await client.create("rate-\(index)") } }
            }
            return await group.reduce(into: [String]()) { $0.append($1) }
        }
        let reads = await withTaskGroup(of: String.self) { group in
            for index in 0..<90 {
                let client = clients[index % 3]
                group.addTask {
                    await errorCode {
                        var request = Storeplatform_V1_ListStoresRequest()
                        request.pageSize = 1
                        _ = try await client.unary(M.StoreService.listStores, request)
                    }
                }
            }
            return await group.reduce(into: [String]()) { $0.append($1) }
        }
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let admittedCreates = creates.filter { $0 == "OK" }.count
        let admittedRequests = admittedCreates + reads.filter { $0 == "OK" }.count
        #expect(Set(creates + reads).isSubset(of: ["OK", "RATE_LIMITED"]), "\(creates + reads)")
        #expect(admittedCreates >= 5 && Double(admittedCreates) <= 5 + seconds * 5 / 60 + 1, "\(admittedCreates) creates in \(elapsed)")
        #expect(
            admittedRequests >= 30 && Double(admittedRequests) <= 30 + seconds * 30 / 60 + 1,
            "\(admittedRequests) requests in \(elapsed)"
        )
        for client in clients { await client.close() }
        for daemon in daemons { #expect(try await daemon.terminate() == 0) }
    }

    /// kill -9 of one replica while 30 stores are provisioned through all three: the
    /// other two take its stores over once their leases lapse, every store ends
    /// ready with its release installed once, and every audit trail is gapless.
    @Test func killMinus9OfOneReplicaTheOthersFinishEveryStoreInstalledOnce() async throws {
        let daemons = try await Self.replicas(
            Self.unlimited + [
                "--sim-install-delay", "1", "--sim-ready-delay", "2", "--max-live-stores", "50",
                "--lease-ttl", "2", "--reconcile-interval", "1",
            ]
        )
        var clients: [RPCClient] = []
        for daemon in daemons { clients.append(try await RPCClient.connect(to: .unix(path: daemon.socketPath))) }
        var ids: [String] = []
        for store in 0..<10 {
            for (index, client) in clients.enumerated() {
                let id = try await client.create("crash-\(index)-\(store)").id
                ids.append(id)
            }
        }
        // Killed while it provisions: once another replica lists an operation of it
        // (it runs four at once, each for 3 s, so for about 9 s in all).
        let held = try await pollUntil("replica r1 lists an operation", within: .seconds(60)) { () -> Set<String>? in
            let operations = try await clients[1].unary(M.AdminService.listOperations, Storeplatform_V1_ListOperationsRequest()).operations
            let held = Set(operations.filter { $0.replica == "r1" }.map(\.storeID))
            return held.isEmpty ? nil : held
        }
        for client in clients { await client.close() }
        daemons[0].signal(SIGKILL)
        try await daemons[0].waitForExit(within: .seconds(30)) { "the daemon outlived SIGKILL" }

        let client = try await RPCClient.connect(to: .unix(path: daemons[1].socketPath))
        // The cluster every replica drove, read from the database they share.
        let cluster = try await daemons[1].simulatedCluster()
        var resumed: Set<String> = []
        for id in ids {
            let trail = try await client.expectReadyInstalledOnce(id, cluster: cluster)
            if trail.contains(where: { $0.action == "recovery" }) { resumed.insert(id) }
        }
        // The stores the killed replica was provisioning were taken over (one could
        // have become ready in the moment between the listing and the kill).
        #expect(!held.isDisjoint(with: resumed), "held \(held.sorted()), resumed \(resumed.sorted())")
        await client.close()
        for daemon in daemons.dropFirst() { #expect(try await daemon.terminate() == 0) }
    }

    /// `storectl watch` on one replica prints every transition of the stores created
    /// through the other two, in audit-id order, each once.
    @Test func aWatchOnOneReplicaSeesEveryReplicasTransitionsInOrder() async throws {
        let daemons = try await Self.replicas(
            Self.unlimited + ["--sim-install-delay", "0", "--sim-ready-delay", "0", "--max-live-stores", "100"]
        )
        let watched = try await RPCClient.connect(to: .unix(path: daemons[0].socketPath))
        // A store made before the watch starts: the watch begins after its last row
        // (--after), so what it must print is exactly the rows after that one.
        let warmUp = try await watched.create("warm-up")
        try await watched.waitFor(warmUp.id, [.ready])
        let start = try await watched.everyAuditID().last ?? 0
        let watcher = try BackgroundProduct("storectl", ["watch", "--json", "--socket", daemons[0].socketPath, "--after", "\(start)"])
        // The watch is subscribed once it printed a transition of its own replica.
        let marker = try await watched.create("marker")
        #expect(try await watcher.wait { printedAuditIDs($0.stdout).count >= 1 }, "storectl watch printed nothing: \(watcher.stderr)")

        let others = [try await RPCClient.connect(to: .unix(path: daemons[1].socketPath)),
                      try await RPCClient.connect(to: .unix(path: daemons[2].socketPath))]
        var ids = [marker.id]
        try await withThrowingTaskGroup(of: String.self) { group in
            for index in 0..<20 {
                let client = others[index % 2]
                group.addTask { try await client.create("elsewhere-\(index)").id }
            }
            for try await id in group { ids.append(id) }
        }
        for id in ids { try await watched.waitFor(id, [.ready]) }
        let expected = try await watched.everyAuditID().filter { $0 > start }
        #expect(expected.count == 21 * 3)

        try await watcher.wait(within: .seconds(60)) { Set(printedAuditIDs($0.stdout)).isSuperset(of: expected) }
        watcher.signal(SIGINT)
        _ = try await watcher.exitStatus()
        let printed = printedAuditIDs(watcher.stdout)
        #expect(printed == expected, "missing: \(Set(expected).subtracting(printed).sorted().prefix(20)); printed \(printed.count)")
        for client in others + [watched] { await client.close() }
        for daemon in daemons { #expect(try await daemon.terminate() == 0) }
    }

    /// UpdateLimits through one replica reaches the others (LimitsFollower), and a
    /// replica started afterwards starts with it, over its flag.
    @Test func updateLimitsThroughOneReplicaReachesEveryReplica() async throws {
        let daemons = try await Self.replicas(Self.unlimited + ["--max-live-stores", "10"])
        let first = try await RPCClient.connect(to: .unix(path: daemons[0].socketPath))
        var update = Storeplatform_V1_UpdateLimitsRequest()
        update.maxLiveStores = 3
        update.createsPerMinute = 7
        let updated = try await first.unary(M.AdminService.updateLimits, update).limits
        #expect(updated.maxLiveStores == 3)
        for daemon in daemons.dropFirst() {
            let client = try await RPCClient.connect(to: .unix(path: daemon.socketPath))
            let deadline = ContinuousClock.now + .seconds(30)
            var limits = Storeplatform_V1_Limits()
            repeat {
                limits = try await client.unary(
                    M.AdminService.getLimits, Storeplatform_V1_GetLimitsRequest()
                ).limits
                if limits.maxLiveStores == 3 { break }
                try await Task.sleep(for: .milliseconds(100))
            } while ContinuousClock.now < deadline
            #expect(limits.maxLiveStores == 3)
            #expect(limits.createsPerMinute == 7)
            await client.close()
        }
        await first.close()
        for daemon in daemons { #expect(try await daemon.terminate() == 0) }
    }

    /// Reconcile passes every second on three replicas: one replica runs them all,
    /// one per interval; kill -9 of it, and another leads once its lease lapses
    /// (three intervals) and runs the passes from then on.
    @Test func oneReplicaRunsThePeriodicPassesAndAnotherTakesOverWhenItIsKilled() async throws {
        let daemons = try await Self.replicas(Self.unlimited + ["--reconcile-interval", "1"])
        var clients: [RPCClient] = []
        for daemon in daemons { clients.append(try await RPCClient.connect(to: .unix(path: daemon.socketPath))) }
        func passes() async throws -> [UInt64] { try await Self.reconcilePasses(clients) }
        let before = try await passes()
        let watched = ContinuousClock.now
        try await Task.sleep(for: .seconds(5))
        let after = try await passes()
        let (wholeSeconds, attoseconds) = (ContinuousClock.now - watched).components
        let elapsed = Double(wholeSeconds) + Double(attoseconds) / 1e18
        let ran = zip(after, before).map { $0 - $1 }
        // One replica ran every pass: about one per interval (± the 10 % jitter, and
        // a pass being counted at its end), none on the others.
        #expect(ran.filter { $0 > 0 }.count == 1, "passes per replica in \(elapsed) s: \(ran)")
        #expect(ran.reduce(0, +) >= 3 && Double(ran.reduce(0, +)) <= elapsed / 0.9 + 1, "passes per replica in \(elapsed) s: \(ran)")

        let leader = try #require(ran.firstIndex { $0 > 0 })
        daemons[leader].signal(SIGKILL)
        try await daemons[leader].waitForExit(within: .seconds(30)) { "the daemon outlived SIGKILL" }
        await clients[leader].close()
        clients.remove(at: leader)
        let survivors = try await passes()
        // The lease lapses after three intervals; the next claim after that leads.
        try await Task.sleep(for: .seconds(6))
        let later = try await passes()
        let ranAfter = zip(later, survivors).map { $0 - $1 }
        #expect(ranAfter.filter { $0 > 0 }.count == 1, "passes per surviving replica: \(ranAfter)")
        for client in clients { await client.close() }
        for (index, daemon) in daemons.enumerated() where index != leader { #expect(try await daemon.terminate() == 0) }
    }

    /// An event-stream client (`GET /api/events`) reads part of the transitions from
    /// one replica, then reconnects to another with Last-Event-ID: together the two
    /// streams hold every transition, in order, each once.
    @Test func anEventStreamClientSwitchingReplicasWithLastEventIDMissesNothing() async throws {
        let daemons = try await Self.replicas(
            Self.unlimited + ["--sim-install-delay", "0", "--sim-ready-delay", "0", "--max-live-stores", "100"]
        )
        let ports = try daemons.prefix(2).map { daemon in
            let log = daemon.log
            let range = try #require(log.range(of: "url=http://127.0.0.1:"), "no HTTP address in the log: \(log)")
            return try #require(Int(log[range.upperBound...].prefix { $0.isNumber }))
        }
        let creator = try await RPCClient.connect(to: .unix(path: daemons[2].socketPath))
        let warmUp = try await creator.create("warm-up")
        try await creator.waitFor(warmUp.id, [.ready])
        let start = try await creator.everyAuditID().last ?? 0

        // The first client is connected (to replica 1) before the stores are created
        // through replica 3, and leaves after 12 events.
        let first = try ChildProcess("/usr/bin/env", ["python3", "-c", Self.eventReader, "\(ports[0])", "\(start)", "12", "60"], stdout: .capture, stderr: .capture)
        try await Task.sleep(for: .milliseconds(500))
        var ids: [String] = []
        for index in 0..<10 { ids.append(try await creator.create("streamed-\(index)").id) }
        for id in ids { try await creator.waitFor(id, [.ready]) }
        let expected = try await creator.everyAuditID().filter { $0 > start }
        #expect(expected.count == 30)
        _ = try await first.waitForExit(within: .seconds(60))
        let firstIDs = first.standardOutput.split(separator: "\n").compactMap { Int64($0) }
        #expect(firstIDs.count == 12, "\(first.standardError)")

        // The second resumes from replica 2 after the last event it had.
        let rest = expected.count - firstIDs.count
        let second = try await runCommand(
            "/usr/bin/env", ["python3", "-c", Self.eventReader, "\(ports[1])", "\(firstIDs.last ?? start)", "\(rest)", "60"]
        )
        let secondIDs = second.stdout.split(separator: "\n").compactMap { Int64($0) }
        #expect(firstIDs + secondIDs == expected, "\(second.stderr)")
        await creator.close()
        for daemon in daemons { #expect(try await daemon.terminate() == 0) }
    }

    /// Reads `GET /api/events` on 127.0.0.1:PORT with Last-Event-ID LAST and prints
    /// the ids of the first COUNT events, one per line (python3 -c SCRIPT PORT LAST COUNT TIMEOUT).
    static let eventReader = """
        import sys, urllib.request
        port, last, count, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
        request = urllib.request.Request("http://127.0.0.1:%s/api/events" % port, headers={"Last-Event-ID": last})
        seen = 0
        with urllib.request.urlopen(request, timeout=timeout) as response:
            for raw in response:
                line = raw.decode().rstrip("\\n")
                if line.startswith("id: "):
                    print(line[4:], flush=True)
                    seen += 1
                    if seen >= count:
                        break
        """
}
