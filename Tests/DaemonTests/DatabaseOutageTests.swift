import Foundation
import PostgresTestSupport
import StorePlatformProto
import StoreRPC
import Synchronization
import Testing

/// PostgreSQL stopped for 10 s under a daemon that is creating and reading stores
/// from several clients: calls fail fast with UNAVAILABLE naming the database, the
/// daemon stays up, readiness (Health and `GET /api/health`) reports the database
/// as down, and everything resumes when it returns, with no acknowledged create
/// lost and no store left stuck or failed.
@Suite("The store database going away and coming back")
struct DatabaseOutageTests {
    /// Provisioning takes over a second, so stores are mid-way when the database
    /// goes; a reconcile pass every second resumes what the outage interrupted.
    static let arguments = [
        "--sim-install-delay", "0.1", "--sim-ready-delay", "1", "--readiness-poll-ms", "50",
        "--requests-per-minute", "1000000", "--creates-per-minute", "1000000", "--max-live-stores", "1000",
        "--max-concurrent-provisions", "16", "--reconcile-interval", "1",
    ]
    static let clients = 3
    static let outage = Duration.seconds(10)
    /// Each call's deadline: an answer must come before it, and be UNAVAILABLE while
    /// the database is away (DEADLINE_EXCEEDED would mean a call hung).
    static let callTimeout = Duration.seconds(20)

    @Test(.enabled(if: ThrowawayPostgres.enabled))
    func postgresStoppedDuringCreatesAndReadsThenEverythingResumes() async throws {
        // A server of its own: this test stops it.
        try await ThrowawayPostgres.withServer { server in
            let url = try await server.createDatabase(prefix: "outage", parameters: ["connect_timeout": "20"])
            // postgresql://postgres@/NAME?host=DIRECTORY&…
            let databaseName = try #require(url.components(separatedBy: "@/").last?.prefix { $0 != "?" })
            // How the daemon names its database in every UNAVAILABLE message.
            let named = "the store database postgresql:///\(databaseName)?host=\(server.socketDirectory)"
            let daemon = try DaemonProcess(extraArguments: Self.arguments + ["--database", url])
            try await daemon.start()
            let httpPort = try await outageHTTPPort(daemon)
            let probe = try await RPCClient.connect(to: .unix(path: daemon.socketPath))
            // Readiness is live: on a loaded machine one check may miss its bound.
            _ = try await pollUntil("Health answers SERVING before the outage") { () -> Bool? in
                try await probe.outageHealth().status == "SERVING" ? true : nil
            }

            let load = OutageLoad()
            let socket = daemon.socketPath
            let clients = Task {
                try await withThrowingTaskGroup(of: [String: String].self) { group in
                    for index in 0..<Self.clients {
                        group.addTask { try await Self.runClient(index, socket: socket, load: load) }
                    }
                    var acknowledged: [String: String] = [:]
                    for try await each in group { acknowledged.merge(each) { first, _ in first } }
                    return acknowledged
                }
            }

            // Creates and reads go through while the database is there.
            try await outageWaitUntil("two creates acknowledged per client before the outage") {
                load.acknowledgedCount(phase: .before) >= 2 * Self.clients
            }

            // PostgreSQL goes away.
            try await server.stopServer()
            let stopped = ContinuousClock.now
            load.enter(.down)
            let health = try await pollUntil("Health answers NOT_SERVING") { () -> Storeplatform_V1_HealthResponse? in
                let health = try await probe.outageHealth()
                return health.status == "NOT_SERVING" ? health : nil
            }
            #expect(health.databaseProblem.hasPrefix(named), "\(health.databaseProblem)")
            let http = try await pollUntil("GET /api/health answers 503") { () -> (Int, [String: Any])? in
                let (status, body) = try await outageHTTPGet(port: httpPort, path: "/api/health")
                return status == 503 ? (status, body) : nil
            }
            #expect(http.1["status"] as? String == "NOT_SERVING")
            #expect((http.1["databaseProblem"] as? String)?.hasPrefix(named) == true, "\(http.1)")
            // Calls made while it is away fail fast with UNAVAILABLE; keep it away for
            // the outage's length, and until each kind of call was seen failing.
            try await outageWaitUntil("creates and reads failing during the outage", within: .seconds(60)) {
                ContinuousClock.now - stopped >= Self.outage
                    && load.completed(.create, phase: .down) >= 1 && load.completed(.read, phase: .down) >= 1
            }
            #expect(daemon.isRunning, "the daemon exited during the outage: \(daemon.log.suffix(2000))")

            // PostgreSQL comes back.
            load.enter(.returning)
            try await server.startServer()
            _ = try await pollUntil("Health answers SERVING again") { () -> Bool? in
                try await probe.outageHealth().status == "SERVING" ? true : nil
            }
            _ = try await pollUntil("GET /api/health answers 200 again") { () -> Bool? in
                try await outageHTTPGet(port: httpPort, path: "/api/health").0 == 200 ? true : nil
            }
            load.enter(.back)
            do {
                try await outageWaitUntil("two creates acknowledged per client after the outage", within: .seconds(60)) {
                    load.acknowledgedCount(phase: .back) >= 2 * Self.clients
                }
            } catch {
                let report = "calls: \(load.summary)\ndaemon log, info left out:\n" + outageLogSummary(daemon.log)
                Issue.record(Comment(rawValue: report))
                throw error
            }
            load.stop()
            var acknowledged = try await clients.value
            #expect(daemon.isRunning, "the daemon exited: \(daemon.log.suffix(2000))")

            // Every call answered before its deadline; while the database was away,
            // with UNAVAILABLE naming it; once it was back (and readiness said so), with success.
            let unexpected = load.calls.filter { call in
                switch (call.started, call.ended) {
                case (.down, .down): !(call.code == "UNAVAILABLE" && call.message.hasPrefix(named))
                case (.back, _): call.code != "OK"
                default: call.code != "OK" && call.code != "UNAVAILABLE"
                }
            }
            if !unexpected.isEmpty {
                let kept = NSTemporaryDirectory() + "outage-daemon-\(getpid()).log"
                try? daemon.log.write(toFile: kept, atomically: true, encoding: .utf8)
                Issue.record("\(unexpected.count) of \(load.calls.count) calls: \(unexpected.prefix(5))\nthe daemon's whole log is in \(kept); info left out:\n\(outageLogSummary(daemon.log))")
            }

            // Creates that failed are retried with their idempotency key: each makes its
            // store once. A create retried after it was acknowledged returns that store.
            let client = try await RPCClient.connect(to: .unix(path: daemon.socketPath))
            let keys = load.keys
            for (key, name) in keys.sorted(by: { $0.key < $1.key }) {
                let store = try await client.outageCreate(name, key: key)
                if let first = acknowledged[key] {
                    #expect(store.id == first, "the create with key \(key) made a second store")
                }
                acknowledged[key] = store.id
            }
            let all = try await client.outageAllStores()
            let ours = all.filter { store in keys.values.contains(store.name) }
            #expect(ours.count == keys.count, "\(ours.count) stores for \(keys.count) idempotency keys")
            #expect(Set(ours.map(\.id)) == Set(acknowledged.values))
            #expect(all.count == ours.count)

            // Every store reaches ready: none stuck in queued or provisioning, none failed.
            var resumed = 0
            for id in acknowledged.values.sorted() {
                let store = try await client.outageWaitUntilSettled(id)
                #expect(store.status == .ready, "store \(store.name) is \(store.status): \(store.errorMessage)")
                // Its audit trail has a row for each transition, each starting where the
                // one before ended.
                let trail = try await client.outageAudit(storeID: id)
                #expect(trail.first?.action == "create" && trail.first?.toStatus == .queued, "\(store.name): \(trail)")
                #expect(trail.last?.toStatus == .ready, "\(store.name): \(trail)")
                #expect(!trail.contains { $0.toStatus == .failed }, "\(store.name): \(trail)")
                for (previous, next) in zip(trail, trail.dropFirst()) {
                    #expect(previous.toStatus == next.fromStatus, "\(store.name): \(previous.action) to \(previous.toStatus), then \(next.action) from \(next.fromStatus)")
                }
                if trail.contains(where: { $0.action == "recovery" }) { resumed += 1 }
            }
            // Stores created in the last second before the outage were still waiting for
            // readiness (1 s) when it began: their operations could not record ready, and
            // the reconciler resumed them.
            #expect(resumed >= 1, "no store was caught mid-provisioning by the outage")
            // The outage is one error line, not one per check. (A check that timed out
            // on a loaded machine before the outage is a line of its own, saying so.)
            let reports = daemon.log.split(separator: "\n").filter { $0.contains("the store database is unavailable") }
            let outageReports = reports.filter { !$0.contains("did not answer within") }
            #expect(outageReports.count == 1, "\(reports.joined(separator: "\n"))")
            await client.close()
            await probe.close()
            #expect(try await daemon.terminate() == 0)
        }
    }

    /// One client: creates stores (each name with its own idempotency key; a failed
    /// create is retried with the same key next time round), reads one of them and
    /// lists a page, until the load stops. Returns the acknowledged creates by key.
    static func runClient(_ index: Int, socket: String, load: OutageLoad) async throws -> [String: String] {
        let client = try await RPCClient.connect(to: .unix(path: socket))
        var acknowledged: [String: String] = [:]
        var next = 0
        var pending: (key: String, name: String)?
        while !load.stopped {
            let create = pending ?? {
                next += 1
                return (key: "outage-key-\(index)-\(next)", name: "outage-\(index)-\(next)")
            }()
            load.announce(key: create.key, name: create.name)
            if let store = await load.call(.create, { try await client.outageCreate(create.name, key: create.key) }) {
                acknowledged[create.key] = store.id
                load.acknowledge(store.id)
                pending = nil
            } else {
                pending = create
            }
            if let id = load.someAcknowledged(index) {
                _ = await load.call(.read) { try await client.outageStore(id) }
            }
            _ = await load.call(.read) { try await client.outageList() }
            try await Task.sleep(for: .milliseconds(200))
        }
        await client.close()
        return acknowledged
    }
}

/// Where the outage stands, as the test sees it.
enum OutagePhase: Int, Sendable, CustomStringConvertible {
    case before, down, returning, back
    var description: String { ["before", "down", "returning", "back"][rawValue] }
}

/// What the clients did: each call with the phases it started and ended in.
final class OutageLoad: Sendable {
    enum Kind: Sendable { case create, read }

    struct Call: Sendable, CustomStringConvertible {
        var kind: Kind
        var started: OutagePhase
        var ended: OutagePhase
        var code: String
        var message: String
        /// When it began (for reading it beside the daemon's log) and how long it took.
        var began: Date
        var seconds: Double
        var description: String {
            "\(kind) \(started)→\(ended) at \(began.formatted(.iso8601.time(includingFractionalSeconds: true))) for "
                + "\(seconds.formatted(.number.precision(.fractionLength(3)))) s: \(code) \(message)"
        }
    }

    private struct State {
        var phase = OutagePhase.before
        var stopped = false
        var calls: [Call] = []
        var keys: [String: String] = [:]
        var acknowledged: [String] = []
    }

    private let state = Mutex(State())

    var stopped: Bool { state.withLock { $0.stopped } }
    var calls: [Call] { state.withLock { $0.calls } }
    /// Every idempotency key a client sent, with its store name.
    var keys: [String: String] { state.withLock { $0.keys } }

    func enter(_ phase: OutagePhase) { state.withLock { $0.phase = phase } }
    func stop() { state.withLock { $0.stopped = true } }
    func announce(key: String, name: String) { state.withLock { $0.keys[key] = name } }
    func acknowledge(_ id: String) { state.withLock { $0.acknowledged.append(id) } }

    /// An acknowledged store to read, a different one for each client.
    func someAcknowledged(_ index: Int) -> String? {
        state.withLock { $0.acknowledged.isEmpty ? nil : $0.acknowledged[index % $0.acknowledged.count] }
    }

    /// Creates acknowledged that started and ended in `phase`.
    func acknowledgedCount(phase: OutagePhase) -> Int {
        state.withLock { $0.calls.filter { $0.kind == .create && $0.code == "OK" && $0.started == phase && $0.ended == phase }.count }
    }

    /// Calls of `kind` that started and ended in `phase`.
    func completed(_ kind: Kind, phase: OutagePhase) -> Int {
        state.withLock { $0.calls.filter { $0.kind == kind && $0.started == phase && $0.ended == phase }.count }
    }

    /// How many calls ended how, by kind and phases: for a failure's message.
    var summary: String {
        var counts: [String: Int] = [:]
        for call in calls { counts["\(call.kind) \(call.started)→\(call.ended) \(call.code)", default: 0] += 1 }
        return counts.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
    }

    /// Runs a call and records how it ended; its value, or nil when it failed.
    func call<T>(_ kind: Kind, _ body: () async throws -> T) async -> T? {
        let started = state.withLock { $0.phase }
        let began = Date()
        var value: T?
        var code = "OK"
        var message = ""
        do {
            value = try await body()
        } catch let error as RPCError {
            code = error.errorCode
            message = error.message
        } catch {
            code = "\(error)"
        }
        state.withLock { state in
            state.calls.append(Call(
                kind: kind, started: started, ended: state.phase, code: code, message: message,
                began: began, seconds: Date().timeIntervalSince(began)
            ))
        }
        return value
    }
}

extension RPCClient {
    func outageHealth() async throws -> Storeplatform_V1_HealthResponse {
        try await unary(
            StorePlatformMethod.PlatformService.health, Storeplatform_V1_HealthRequest(),
            timeout: DatabaseOutageTests.callTimeout
        )
    }

    func outageCreate(_ name: String, key: String) async throws -> Storeplatform_V1_Store {
        var request = Storeplatform_V1_CreateStoreRequest()
        request.name = name
        return try await unary(
            StorePlatformMethod.StoreService.createStore, request,
            metadata: ["idempotency-key": key], timeout: DatabaseOutageTests.callTimeout
        ).store
    }

    func outageStore(_ id: String) async throws -> Storeplatform_V1_Store {
        var request = Storeplatform_V1_GetStoreRequest()
        request.id = id
        return try await unary(
            StorePlatformMethod.StoreService.getStore, request,
            timeout: DatabaseOutageTests.callTimeout
        ).store
    }

    func outageList(pageToken: String = "") async throws -> Storeplatform_V1_ListStoresResponse {
        var request = Storeplatform_V1_ListStoresRequest()
        request.pageSize = 20
        request.pageToken = pageToken
        return try await unary(
            StorePlatformMethod.StoreService.listStores, request,
            timeout: DatabaseOutageTests.callTimeout
        )
    }

    /// Every store, page by page.
    func outageAllStores() async throws -> [Storeplatform_V1_Store] {
        var stores: [Storeplatform_V1_Store] = []
        var token = ""
        repeat {
            let page = try await outageList(pageToken: token)
            stores += page.stores
            token = page.nextPageToken
        } while !token.isEmpty
        return stores
    }

    func outageAudit(storeID: String) async throws -> [Storeplatform_V1_AuditEvent] {
        var request = Storeplatform_V1_ListAuditRequest()
        request.storeID = storeID
        request.limit = 1000
        return try await unary(
            StorePlatformMethod.PlatformService.listAudit, request,
            timeout: DatabaseOutageTests.callTimeout
        ).events.reversed()
    }

    /// Polls (with a generous bound) until the store is ready, failed or deleted.
    func outageWaitUntilSettled(_ id: String) async throws -> Storeplatform_V1_Store {
        let deadline = ContinuousClock.now + .seconds(60)
        var store = try await outageStore(id)
        while [.queued, .provisioning, .deleting].contains(store.status) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
            store = try await outageStore(id)
        }
        return store
    }
}

/// Polls `condition` every 100 ms until it holds, failing after a generous bound.
private func outageWaitUntil(_ what: String, within: Duration = .seconds(30), _ condition: () async throws -> Bool) async throws {
    _ = try await pollUntil(what, within: within) { () -> Bool? in try await condition() ? true : nil }
}

/// The daemon's log without its info and debug lines, cut to its last 8 KiB.
func outageLogSummary(_ log: String) -> String {
    String(log.split(separator: "\n").filter { !$0.contains(" info ") && !$0.contains(" debug ") }.joined(separator: "\n").suffix(8192))
}

/// The gateway's port, from the startup log's "url=http://127.0.0.1:PORT".
private func outageHTTPPort(_ daemon: DaemonProcess) async throws -> Int {
    try await pollUntil("the daemon logs its HTTP address") { () -> Int? in
        let log = daemon.log
        guard let range = log.range(of: "url=http://127.0.0.1:") else { return nil }
        return Int(log[range.upperBound...].prefix { $0.isNumber })
    }
}

/// A plain HTTP/1.1 GET: the status and the JSON body.
private func outageHTTPGet(port: Int, path: String) async throws -> (Int, [String: Any]) {
    let (status, body) = try await blockingHTTPGet(port: port, path: path, timeout: 10)
    let json = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:]
    return (status, json)
}
