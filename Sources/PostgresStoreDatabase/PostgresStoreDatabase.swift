import Foundation
import Logging
import NIOCore
import NIOSSL
import PostgresNIO
import StoreCore
import StoreDatabase
import Synchronization

/// The ``StoreDatabase`` on PostgreSQL, through postgres-nio: for several replicas of
/// the daemon sharing one database (docs/ARCHITECTURE.md, "Persistence").
///
/// - A bounded pool of connections (`pool_max`, default 10: postgres-nio's
///   `PostgresClient`, whose `run()` this database runs in a task of its own until
///   ``close()``). Every statement has the server's `statement_timeout` (default
///   5000 ms); a call waits at most `connect_timeout` (default 5 s) for a connection.
/// - While the server cannot be reached, calls fail fast with
///   ``ErrorCode/unavailable`` naming the database: the first within
///   `connect_timeout`, the next ones at once (one connection attempt each); the
///   first call that finds the server back starts a fresh pool.
/// - A create holds the transaction-scoped advisory lock ``createLockKey`` from its
///   checks to its commit, so creates serialize among themselves (in every process)
///   and the quota holds, while status changes only lock their store's row.
/// - An audit row is inserted under the advisory lock ``auditLockKey``, held to the
///   commit, so audit ids follow commit order in every process; and this process's
///   audit-writing transactions run one at a time, from `BEGIN` until the commit
///   observer has seen them, so the observer sees them in audit-id order.
public final class PostgresStoreDatabase: StoreDatabase {
    public var backend: String { "postgresql" }
    /// The URL without its password (``PostgresDatabaseURL/location``).
    public let location: String
    let url: PostgresDatabaseURL
    let logger: Logger
    private let pool: Mutex<PoolState>
    private let writes = Atomic<UInt64>(0)
    /// Announces every replica's commits to the commit observer (CommitRelay.swift),
    /// with the task that reads other replicas' commits.
    private let relay = Mutex<(relay: CommitRelay, task: Task<Void, Never>)?>(nil)
    /// This process's one LISTENing connection, for every channel (ChannelListener.swift).
    let listener: ChannelListener
    private let auditWrites = AsyncSerialLock()
    /// When a call last got a connection (`DispatchTime` nanoseconds).
    private let lastLease = Atomic<UInt64>(DispatchTime.now().uptimeNanoseconds)
    /// The statements waiting for an answer now: abandoned when the server is
    /// found gone (``probe()``).
    private let inFlight = AbandonableWaits()

    /// The transaction-scoped advisory lock every create and import holds (the bytes
    /// of "SP-CREAT" as a BIGINT): creates serialize, transitions do not.
    public static let createLockKey: Int64 = 0x5350_2D43_5245_4154
    /// The transaction-scoped advisory lock taken just before an audit row is
    /// inserted and held until the commit (the bytes of "SP-AUDIT"): audit ids
    /// follow commit order across every process.
    public static let auditLockKey: Int64 = 0x5350_2D41_5544_4954
    /// The advisory lock the migrations run under (the bytes of "SP-MIGRA").
    public static let migrationLockKey: Int64 = 0x5350_2D4D_4947_5241

    private struct PoolState {
        var client: PostgresClient?
        var runTask: Task<Void, Never>?
        /// Why the server could not be reached at the last try; `nil` while it can.
        var outage: String?
        /// The direct connection attempt running now, which callers share.
        var probe: Task<PlatformError?, Never>?
        var closed = false
    }

    private init(url: PostgresDatabaseURL, logger: Logger) {
        self.url = url
        self.logger = logger
        self.location = url.location
        self.pool = Mutex(PoolState())
        self.listener = ChannelListener(url: url, logger: logger)
    }

    deinit {
        pool.withLock { $0.runTask?.cancel() }
        relay.withLock { $0?.task.cancel() }
        listener.close()
    }

    /// Connects to the database `url` names (``PostgresDatabaseURL``), runs the
    /// migrations it has not run yet, and opens the connection pool.
    ///
    /// Replicas may call this at the same time: the migrations run in one transaction
    /// under an advisory lock, so each runs exactly once.
    ///
    /// - Parameters:
    ///   - url: a `postgresql://` or `postgres://` URL.
    ///   - password: the password, when the URL does not carry it (the daemon reads it
    ///     from a file); giving it both ways is refused.
    ///   - logger: for the pool's background events and the migrations.
    /// - Throws: ``PlatformError``, one line each: ``ErrorCode/invalidArgument`` for a
    ///   malformed URL or a password given twice; ``ErrorCode/unavailable`` when the
    ///   server cannot be reached (naming host:port or the socket);
    ///   ``ErrorCode/internalError`` when the server refuses the user or the
    ///   password, when the database does not exist, when TLS fails, and when the
    ///   schema is newer than this build (saying both versions and to upgrade).
    public static func connect(url: String, password: String? = nil, logger: Logger) async throws -> PostgresStoreDatabase {
        try await connect(url: try PostgresDatabaseURL(url).withPassword(password), logger: logger)
    }

    /// ``connect(url:password:logger:)`` with a parsed URL (its password included).
    public static func connect(url: PostgresDatabaseURL, logger: Logger) async throws -> PostgresStoreDatabase {
        let connection = try await openConnection(url: url, logger: logger)
        do {
            try await migrate(connection, url: url, upTo: nil, logger: logger)
        } catch {
            try? await connection.close()
            throw PostgresFailure.platformError(error, url: url)
        }
        try? await connection.close()
        let database = PostgresStoreDatabase(url: url, logger: logger)
        try database.startPool()
        return database
    }

    // MARK: Access

    public func checkAvailable() async throws {
        try await withConnection { connection in
            _ = try await connection.run("SELECT 1", logger: self.logger)
        }
    }

    /// `observer` sees every committed transition of every replica on this database,
    /// in audit-id order, once each (CommitRelay.swift): this process's before its
    /// write returns, other replicas' when their notification arrives.
    public func observeCommits(_ observer: @escaping @Sendable (Transition) -> Void) {
        observeCommits(observer, fallbackInterval: CommitRelay.fallbackInterval)
    }

    /// ``observeCommits(_:)`` reading other replicas' commits every
    /// `fallbackInterval` when no notification came (tests lengthen it to show
    /// that notifications alone deliver them).
    package func observeCommits(_ observer: @escaping @Sendable (Transition) -> Void, fallbackInterval: Duration) {
        let relay = CommitRelay(observer: observer, fallbackInterval: fallbackInterval, logger: logger)
        // Held weakly: a database nobody holds any more stops its relay too.
        let database: @Sendable () -> PostgresStoreDatabase? = { [weak self] in self }
        let task = Task { await relay.run(database) }
        let previous = self.relay.withLock { state -> Task<Void, Never>? in
            defer { state = (relay, task) }
            return state?.task
        }
        previous?.cancel()
    }

    /// Returns once the commit observer sees every replica's commits (a moment after
    /// ``observeCommits(_:)``: the relay first reads where to begin).
    package func observingCommits() async {
        await relay.withLock { $0?.relay }?.started()
    }

    /// The channels this database's one listening connection LISTENs on now
    /// (ChannelListener.swift): empty while that connection is (re)opened.
    package var listeningChannels: Set<String> {
        listener.listeningChannels
    }

    /// Stops the pool and closes its connections. Calls after it fail with
    /// ``ErrorCode/unavailable``.
    public func close() async {
        let task = pool.withLock { state -> Task<Void, Never>? in
            state.closed = true
            state.client = nil
            defer { state.runTask = nil }
            return state.runTask
        }
        task?.cancel()
        await task?.value
        relay.withLock { $0?.task.cancel() }
        listener.close()
    }

    /// How many write transactions this process has run (committed or not). Writes
    /// by other processes (other replicas) are not counted.
    public var writeGeneration: UInt64 {
        writes.load(ordering: .acquiring)
    }

    // MARK: Transactions

    /// Runs `body` in one transaction that writes audit rows, holding this process's
    /// audit lock from before `BEGIN` until the commit observer has seen the
    /// transitions `body` returns (only if the transaction committed): so the
    /// observer sees this process's audit rows one at a time, in id order.
    func auditWrite<T: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) async throws -> (T, [Transition])
    ) async throws -> T {
        try await perform {
            let queued = ContinuousClock.now
            return try await self.auditWrites.withLock {
                self.noteSlow("waiting for this process's audit-write turn", since: queued)
                // Writes begin once the relay knows where it starts (a moment at start),
                // so each of their commits comes after it.
                let relay = self.relay.withLock { $0?.relay }
                await relay?.started()
                let began = ContinuousClock.now
                let (value, transitions) = try await self.writeTransaction(body)
                self.noteSlow("an audit-writing transaction", since: began)
                if !transitions.isEmpty {
                    let committed = ContinuousClock.now
                    await relay?.committed(transitions, on: self)
                    self.noteSlow("announcing a commit to the commit observer", since: committed)
                }
                return value
            }
        }
    }

    /// Logs a warning when a step of a call took over ``slowStep``: where calls wait
    /// when the database is slow or away.
    func noteSlow(_ step: String, since start: ContinuousClock.Instant) {
        let took = ContinuousClock.now - start
        guard took > Self.slowStep else { return }
        logger.warning("a store database call was slow", metadata: ["step": "\(step)", "took": "\(took)"])
    }

    /// How long a step of a call may take before ``noteSlow(_:since:)`` logs it.
    static let slowStep = Duration.seconds(5)

    /// Runs `body` in one write transaction on a connection of the pool.
    func writeTransaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        // Counted once the transaction is over, committed or not (a rollback only
        // costs a cache a miss).
        defer { writes.add(1, ordering: .releasing) }
        return try await withConnection { connection in
            try await Self.inTransaction(connection, logger: self.logger, body)
        }
    }

    /// `BEGIN`, `body`, `COMMIT`; `ROLLBACK` when `body` throws (and the error it threw
    /// comes out). A connection that cannot roll back (within the statement deadline,
    /// as every statement) is closed, so it never goes back to the pool inside a
    /// transaction. A shorter bound closed healthy connections of a loaded server,
    /// which the pool then handed out closed.
    static func inTransaction<T: Sendable>(
        _ connection: PostgresConnection, logger: Logger, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await connection.run("BEGIN", logger: logger)
        do {
            let value = try await body(connection)
            try await connection.run("COMMIT", logger: logger)
            return value
        } catch {
            do {
                try await connection.run("ROLLBACK", logger: logger)
            } catch {
                connection.closeLater()
            }
            throw error
        }
    }

    // MARK: Connections

    /// Runs `body` with a connection of the pool; every error comes out as a
    /// ``PlatformError`` (or `CancellationError`).
    ///
    /// Waits at most `connect_timeout` for the connection. While it waits, and no
    /// call got a connection in the last second, one direct connection attempt
    /// (shared by every waiting call) checks that the server is there: when it
    /// cannot be reached, the call fails at once, and the outage is remembered, so
    /// later calls make only that one attempt (failing at once, without queueing in
    /// the pool) until the server answers again; then they start a fresh pool, which
    /// has no back-off left from the outage.
    func withConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        // Each statement's answer is awaited for the server's statement_timeout plus
        // 5 s at most (none when it is 0, no limit on the server either).
        let limit = url.statementTimeoutMilliseconds > 0
            ? (Duration.milliseconds(url.statementTimeoutMilliseconds) + .seconds(5), url, inFlight) : nil
        return try await StatementDeadline.$limit.withValue(limit) {
            try await self.withConnectionUnbounded(body)
        }
    }

    private func withConnectionUnbounded<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await perform {
            if self.pool.withLock({ $0.outage }) != nil {
                let probing = ContinuousClock.now
                defer { self.noteSlow("a connection attempt during an outage", since: probing) }
                try await self.probe()
            }
            let client = try self.currentClient()
            let leasing = ContinuousClock.now
            defer { self.noteSlow("waiting for a connection and running the statements", since: leasing) }
            do {
                return try await self.lease(client, body)
            } catch let failure as LeaseFailure {
                try await self.probe()
                guard case .failed = failure else { throw self.busyError }
                // The server answers but the pool gave up on it (its circuit breaker
                // after an outage): a fresh pool, and one more try.
                do {
                    return try await self.lease(try self.restartPool(replacing: client), body)
                } catch let failure as LeaseFailure {
                    guard case .failed(let error) = failure else { throw self.busyError }
                    throw PlatformError(
                        .unavailable,
                        "the store database \(self.location) gave no connection: \(PostgresFailure.describe(error)); try again",
                        cause: error
                    )
                }
            } catch where PostgresFailure.isConnectionLoss(error) {
                // The connection broke: if the server is gone, say so as every call
                // will until it is back; if not, this call's own failure.
                try await self.probe()
                throw error
            }
        }
    }

    private var busyError: PlatformError {
        PlatformError(
            .unavailable,
            "the store database \(location) is busy: no connection of the pool (pool_max \(url.poolMaximum)) came free "
                + "within \(url.connectTimeout.components.seconds) s; try again, or raise pool_max"
        )
    }

    /// Why a lease did not give a connection.
    private enum LeaseFailure: Error {
        /// None came within the timeout.
        case timedOut
        /// The pool failed the request (it is shut down, or gave up connecting).
        case failed(any Error)
    }

    /// Where a lease stands: 0 waiting, 1 leased (`body` runs), 2 given up.
    private final class LeasePhase: Sendable {
        let value = Atomic<Int>(0)
    }

    /// Runs `body` with a connection leased from `client`, waiting at most
    /// `connect_timeout` for the lease (not for `body`), and checking every 250 ms
    /// meanwhile that the server is there (``probeIfIdle()``).
    private func lease<T: Sendable>(
        _ client: PostgresClient, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let phase = LeasePhase()
        let timeout = url.connectTimeout
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                var leased = false
                do {
                    return try await client.withConnection { connection in
                        guard phase.value.compareExchange(expected: 0, desired: 1, ordering: .acquiringAndReleasing).exchanged else {
                            throw LeaseFailure.timedOut
                        }
                        leased = true
                        self.lastLease.store(DispatchTime.now().uptimeNanoseconds, ordering: .releasing)
                        return try await body(connection)
                    }
                } catch {
                    if leased || error is LeaseFailure { throw error }
                    throw phase.value.load(ordering: .acquiring) == 2 ? LeaseFailure.timedOut : LeaseFailure.failed(error)
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                if phase.value.compareExchange(expected: 0, desired: 2, ordering: .acquiringAndReleasing).exchanged {
                    throw LeaseFailure.timedOut
                }
                return nil
            }
            group.addTask {
                while phase.value.load(ordering: .acquiring) == 0 {
                    try await Task.sleep(for: .milliseconds(250))
                    guard phase.value.load(ordering: .acquiring) == 0 else { break }
                    do {
                        try await self.probeIfIdle()
                    } catch {
                        if phase.value.compareExchange(expected: 0, desired: 2, ordering: .acquiringAndReleasing).exchanged {
                            throw error
                        }
                    }
                }
                return nil
            }
            while let result = try await group.next() {
                if let result {
                    group.cancelAll()
                    return result
                }
            }
            throw LeaseFailure.timedOut
        }
    }

    /// ``probe()``, unless a call got a connection in the last second (the server
    /// was there then: the wait is for a busy pool, and probing would only add load).
    private func probeIfIdle() async throws {
        let last = lastLease.load(ordering: .acquiring)
        guard DispatchTime.now().uptimeNanoseconds &- last > 1_000_000_000 else { return }
        try await probe()
    }

    /// One direct connection attempt, to learn whether the server can be reached,
    /// shared by the calls that ask while it runs: returns when it can (and clears
    /// the outage); throws the reason it cannot as a ``PlatformError`` otherwise
    /// (and remembers the outage when it is one).
    private func probe() async throws {
        let task = pool.withLock { state -> Task<PlatformError?, Never> in
            if let running = state.probe { return running }
            let (url, logger) = (self.url, self.logger)
            let task = Task<PlatformError?, Never> {
                do {
                    let connection = try await Self.openConnection(url: url, logger: logger)
                    try? await connection.close()
                    return nil
                } catch {
                    return (error as? PlatformError) ?? PlatformError(.internalError, "\(error)", cause: error)
                }
            }
            state.probe = task
            return task
        }
        // A probe is one connection attempt, bounded by connect_timeout; waiting for
        // it is bounded too, in case the attempt outlives its own bound.
        let failure: PlatformError?
        do {
            failure = try await withDeadline(url.connectTimeout + .seconds(1), expired: { CancellationError() }) { await task.value }
        } catch is CancellationError where !Task.isCancelled {
            failure = PostgresFailure.unreachable(url, "a connection attempt did not end within \(url.connectTimeout.components.seconds + 1) s")
        }
        let configuration = try Self.clientConfiguration(url)
        var began = false
        let replaced = pool.withLock { state -> Task<Void, Never>? in
            if state.probe == task { state.probe = nil }
            if let failure {
                if failure.code == .unavailable {
                    began = state.outage == nil
                    state.outage = failure.message
                }
                return nil
            }
            guard state.outage != nil, !state.closed else { return nil }
            // Back after an outage: the old pool may wait out a long back-off before
            // it tries again, so a new one takes over, in the same step.
            state.outage = nil
            return Self.replaceClient(in: &state, configuration: configuration, logger: logger)
        }
        replaced?.cancel()
        if let failure {
            // The server is gone (not merely busy): the statements still waiting for
            // its answer fail now, with this reason, instead of at their deadline;
            // until then they would hold their callers and the audit-write lock.
            if began, PostgresFailure.meansServerGone(failure) {
                let abandoned = inFlight.abandonAll(with: failure)
                if abandoned > 0 {
                    logger.notice("the store database is gone: statements waiting for it fail now", metadata: ["statements": "\(abandoned)"])
                }
            }
            throw failure
        }
    }

    private func currentClient() throws -> PostgresClient {
        try pool.withLock { state in
            guard !state.closed, let client = state.client else { throw closedError }
            return client
        }
    }

    private var closedError: PlatformError {
        PlatformError(.unavailable, "the store database \(location) is closed (the daemon is shutting down)")
    }

    /// Starts the first pool.
    private func startPool() throws {
        _ = try restartPool(replacing: nil)
    }

    /// A fresh pool in place of `old` (unless another caller replaced it already);
    /// the old one is shut down.
    private func restartPool(replacing old: PostgresClient?) throws -> PostgresClient {
        let configuration = try Self.clientConfiguration(url)
        let (client, oldTask) = try pool.withLock { state -> (PostgresClient, Task<Void, Never>?) in
            guard !state.closed else { throw closedError }
            if let current = state.client, current !== old { return (current, nil) }
            let oldTask = Self.replaceClient(in: &state, configuration: configuration, logger: logger)
            return (state.client!, oldTask)
        }
        oldTask?.cancel()
        return client
    }

    /// Puts a new client, running, in `state`; returns the old one's task, to cancel.
    private static func replaceClient(
        in state: inout PoolState, configuration: PostgresClient.Configuration, logger: Logger
    ) -> Task<Void, Never>? {
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        let oldTask = state.runTask
        state.client = client
        state.runTask = Task { await client.run() }
        return oldTask
    }

    /// Runs `body`, turning every error into a ``PlatformError`` (passing
    /// `CancellationError` through).
    func perform<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            throw PostgresFailure.platformError(error, url: url)
        }
    }

    // MARK: Configuration

    /// One connection, outside the pool, with the pool's settings; bounded by
    /// `connect_timeout` from the first packet to the end of authentication.
    ///
    /// - Throws: ``PlatformError`` (one line: unreachable, refused login, missing
    ///   database, TLS).
    package static func openConnection(url: PostgresDatabaseURL, logger: Logger) async throws -> PostgresConnection {
        do {
            let configuration = try connectionConfiguration(url)
            return try await withThrowingTaskGroup(of: PostgresConnection?.self) { group in
                group.addTask { try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger) }
                group.addTask {
                    try await Task.sleep(for: url.connectTimeout)
                    return nil
                }
                let first = try await group.next() ?? nil
                group.cancelAll()
                if let connection = first { return connection }
                // Timed out. The attempt may still finish with a connection as it is
                // cancelled: close that one, never leave it open.
                while true {
                    do {
                        guard let late = try await group.next() else { break }
                        try? await late?.close()
                    } catch {}
                }
                throw PostgresFailure.unreachable(
                    url, "\(url.serverDescription) did not finish the login within \(url.connectTimeout.components.seconds) s"
                )
            }
        } catch {
            throw PostgresFailure.platformError(error, url: url)
        }
    }

    /// Settings every connection sends at start: the statement timeout, a bound on a
    /// transaction left idle (so a stalled process cannot hold a lock for long), and
    /// the application name that `pg_stat_activity` shows.
    private static func startupParameters(_ url: PostgresDatabaseURL) -> [(String, String)] {
        [
            ("statement_timeout", "\(url.statementTimeoutMilliseconds)"),
            ("idle_in_transaction_session_timeout", "60000"),
            ("application_name", url.applicationName),
        ]
    }

    private static func tlsConfiguration(_ url: PostgresDatabaseURL) throws -> TLSConfiguration? {
        var tls = TLSConfiguration.makeClientConfiguration()
        switch url.tlsMode {
        case .disable:
            return nil
        case .prefer, .require:
            // As libpq: these encrypt without checking who answers.
            tls.certificateVerification = .none
        case .verifyFull:
            tls.certificateVerification = .fullVerification
            if let file = url.tlsRootCertificateFile {
                do {
                    tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(file))
                } catch {
                    throw PlatformError(
                        .invalidArgument,
                        "the database URL's sslrootcert \(file) cannot be read as PEM certificates: \(error)", cause: error
                    )
                }
            }
        }
        return tls
    }

    private static func connectionConfiguration(_ url: PostgresDatabaseURL) throws -> PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        switch url.endpoint {
        case .tcp(let host, let port):
            let tls: PostgresConnection.Configuration.TLS
            if let settings = try tlsConfiguration(url) {
                let context = try NIOSSLContext(configuration: settings)
                tls = url.tlsMode == .prefer ? .prefer(context) : .require(context)
            } else {
                tls = .disable
            }
            configuration = .init(host: host, port: port, username: url.user, password: url.password, database: url.database, tls: tls)
        case .unixSocket:
            configuration = .init(unixSocketPath: url.socketPath!, username: url.user, password: url.password, database: url.database)
        }
        configuration.options.connectTimeout = .nanoseconds(Int64(url.connectTimeout.components.seconds) * 1_000_000_000)
        configuration.options.additionalStartupParameters = startupParameters(url)
        return configuration
    }

    private static func clientConfiguration(_ url: PostgresDatabaseURL) throws -> PostgresClient.Configuration {
        var configuration: PostgresClient.Configuration
        switch url.endpoint {
        case .tcp(let host, let port):
            let tls: PostgresClient.Configuration.TLS
            if let settings = try tlsConfiguration(url) {
                tls = url.tlsMode == .prefer ? .prefer(settings) : .require(settings)
            } else {
                tls = .disable
            }
            configuration = .init(host: host, port: port, username: url.user, password: url.password, database: url.database, tls: tls)
        case .unixSocket:
            configuration = .init(unixSocketPath: url.socketPath!, username: url.user, password: url.password, database: url.database)
        }
        configuration.options.connectTimeout = url.connectTimeout
        configuration.options.maximumConnections = url.poolMaximum
        configuration.options.additionalStartupParameters = startupParameters(url)
        return configuration
    }
}

extension PostgresConnection {
    /// Closes the connection in a task of its own, not waited for: a connection
    /// whose server stopped answering may take long to close.
    func closeLater() {
        Task { try? await self.close() }
    }
}
