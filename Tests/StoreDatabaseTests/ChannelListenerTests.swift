import Foundation
import PostgresStoreDatabase
import PostgresTestSupport
import StoreCore
import StoreDatabase
import Synchronization
import Testing

/// A PostgreSQL database object LISTENs on one connection of its own for every
/// channel (Sources/PostgresStoreDatabase/ChannelListener.swift): the commit relay's,
/// the lease releases' and the reconcile requests'; one that breaks is opened again.
@Suite("PostgreSQL: one listening connection for every channel", .enabled(if: ThrowawayPostgres.enabled))
struct ChannelListenerTests {
    static let everyChannel: Set<String> = ["storeplatform_audit", "storeplatform_lease", "storeplatform_reconcile"]

    /// Two replicas' database objects on one database, told apart by their
    /// `application_name`: `listening` LISTENs, `writing` only writes.
    struct Replicas {
        let server: ThrowawayPostgres
        let databaseName: String
        let listening: PostgresStoreDatabase
        let writing: PostgresStoreDatabase

        init() async throws {
            server = try await ThrowawayPostgres.shared()
            let url = try await Backend.newPostgresURL(parameters: ["application_name": "listening-replica"])
            let afterSlash = try #require(url.range(of: "@/")).upperBound
            databaseName = String(url[afterSlash...].prefix { $0 != "?" })
            listening = try await PostgresStoreDatabase.connect(url: url, logger: quietLogger)
            writing = try await PostgresStoreDatabase.connect(
                url: url.replacingOccurrences(of: "application_name=listening-replica", with: "application_name=writing-replica"),
                logger: quietLogger
            )
        }

        /// The backends that last ran a LISTEN on this database: their
        /// `application_name` and process id, in that order.
        func listeningBackends() async throws -> [(application: String, pid: Int)] {
            let rows = try await server.sql("""
                SELECT application_name || '|' || pid FROM pg_stat_activity
                WHERE datname = '\(databaseName)' AND query LIKE 'LISTEN%' ORDER BY application_name, pid
                """)
            return rows.split(separator: "\n").map { row in
                let parts = row.split(separator: "|")
                return (String(parts[0]), Int(parts[1]) ?? 0)
            }
        }

        func close() async {
            await listening.close()
            await writing.close()
        }
    }

    /// The relay, the lease releases and the reconcile requests all LISTEN on one
    /// backend of the listening replica (the writing one, subscribed to nothing,
    /// has none), and each channel's notifications reach its own subscribers: a
    /// lease's name, each request stored, one answer for two requests answered
    /// together and none for a request answered already, a commit.
    @Test func oneConnectionListensOnEveryChannelAndDispatchesByChannel() async throws {
        let replicas = try await Replicas()
        let (listening, writing) = (replicas.listening, replicas.writing)
        let observed = ObservedCommits()
        listening.observeCommits({ observed.record($0) }, fallbackInterval: .seconds(3600))
        await listening.observingCommits()
        let releases = Heard(listening.leaseReleases())
        let requests = Heard(try #require(listening.reconcileRequestEvents()))
        try await waitUntil { listening.listeningChannels == Self.everyChannel }
        #expect(try await replicas.listeningBackends().map(\.application) == ["listening-replica"])

        #expect(try await writing.acquireLease(Lease.reconcilerName, owner: "w", kind: "leader", ttl: .seconds(60)).isAcquired)
        #expect(try await writing.releaseLease(Lease.reconcilerName, owner: "w"))
        let first = try await writing.requestReconcile(by: "w")
        let second = try await writing.requestReconcile(by: "w")
        try await writing.answerReconcileRequests([first, second], report: "{}", by: "w")
        try await writing.answerReconcileRequests([first], report: "{}", by: "w")
        _ = try await writing.requestReconcile(by: "w")
        guard case .created(_, let event) = try await writing.createStore(
            queuedStore("heard"), maxLiveStores: 10, requestedBy: "uid:1", idempotencyKey: nil, requestID: nil
        ) else { throw CancellationError() }

        try await waitUntil { releases.all.count >= 1 && requests.all.count >= 4 && !observed.transitions.isEmpty }
        #expect(releases.all == [Lease.reconcilerName])
        #expect(requests.all == [.requested, .requested, .answered, .requested])
        #expect(observed.transitions.map(\.event.id) == [event.id])
        #expect(try await replicas.listeningBackends().map(\.application) == ["listening-replica"])
        await replicas.close()
    }

    /// A listening connection that the server ends is opened again (a second
    /// later), LISTENing on the same channels, and notifications arrive again.
    @Test func aBrokenListeningConnectionIsOpenedAgain() async throws {
        let replicas = try await Replicas()
        let (listening, writing) = (replicas.listening, replicas.writing)
        let releases = Heard(listening.leaseReleases())
        try await waitUntil { listening.listeningChannels == ["storeplatform_lease"] }
        let before = try await replicas.listeningBackends()
        #expect(before.map(\.application) == ["listening-replica"])
        let killed = try #require(before.first?.pid)
        try await replicas.server.sql("SELECT pg_terminate_backend(\(killed))")

        var after: [(application: String, pid: Int)] = []
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            after = try await replicas.listeningBackends()
            if after.contains(where: { $0.pid != killed }) && listening.listeningChannels == ["storeplatform_lease"] { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(after.map(\.application) == ["listening-replica"])
        #expect(after.map(\.pid) != [killed])

        #expect(try await writing.acquireLease("store:after", owner: "w", kind: "provision", ttl: .seconds(60)).isAcquired)
        #expect(try await writing.releaseLease("store:after", owner: "w"))
        try await waitUntil { !releases.all.isEmpty }
        #expect(releases.all == ["store:after"])
        await replicas.close()
    }

    private func waitUntil(within: Duration = .seconds(60), _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + within
        while !condition() && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(condition(), "not within \(within)")
    }
}

extension LeaseOutcome {
    var isAcquired: Bool {
        if case .acquired = self { return true } else { return false }
    }
}

/// What a stream delivered, in order.
final class Heard<Element: Sendable>: Sendable {
    private final class Elements: Sendable {
        let list = Mutex<[Element]>([])
    }

    private let elements = Elements()
    private let task: Task<Void, Never>

    init(_ stream: AsyncStream<Element>) {
        let elements = self.elements
        task = Task { for await element in stream { elements.list.withLock { $0.append(element) } } }
    }

    var all: [Element] { elements.list.withLock { $0 } }

    deinit { task.cancel() }
}
