import Foundation
import GRDB
import StoreDatabase

/// The embedded default cluster: a simulator (like KWOK), not Kubernetes. Its
/// state — namespaces, secrets' key names, releases — lives in its own SQLite
/// file under the data directory, so it survives a daemon restart. Readiness is
/// derived from timestamps (no background process); faults come from
/// ``SimulatedClusterConfiguration``. It counts installs per release so tests
/// can prove nothing is installed twice.
public final class SimulatedCluster: ClusterDriver {
    public let name = "simulated"
    public let isSimulated = true
    public let configuration: SimulatedClusterConfiguration
    private let database: DatabaseQueue

    /// Opens (or creates) the simulator's state at `path`.
    public init(path: String, configuration: SimulatedClusterConfiguration) throws {
        self.configuration = configuration
        var sqlite = Configuration()
        // Tests and operators may read the state while the daemon writes it.
        sqlite.busyMode = .timeout(10)
        do {
            database = try DatabaseQueue(path: path, configuration: sqlite)
        } catch {
            throw SQLiteOpenFailure(path: path, underlying: error)
        }
        do {
            try Self.migrator.migrate(database)
        } catch {
            // Replicas sharing one data directory, started together, race to create
            // the tables: the migrator decides what to run before its transaction,
            // so the loser finds them made. Once more, it finds the migration done.
            try Self.migrator.migrate(database)
        }
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "namespace") { table in
                table.primaryKey("name", .text)
                table.column("storeId", .text).notNull()
                table.column("createdAtMs", .integer).notNull()
            }
            try db.create(table: "secret") { table in
                table.column("namespace", .text).notNull()
                table.column("name", .text).notNull()
                // Key names only: the simulator keeps no secret values.
                table.column("keys", .text).notNull()
                table.primaryKey(["namespace", "name"])
            }
            try db.create(table: "release") { table in
                table.column("namespace", .text).notNull()
                table.column("name", .text).notNull()
                table.column("chart", .text).notNull()
                table.column("installedAtMs", .integer).notNull()
                table.column("readyAtMs", .integer).notNull()
                table.column("fault", .text)
                table.primaryKey(["namespace", "name"])
            }
            try db.create(table: "attempt") { table in
                table.column("namespace", .text).notNull()
                table.column("release", .text).notNull()
                table.column("kind", .text).notNull()
                table.column("count", .integer).notNull()
                table.primaryKey(["namespace", "release", "kind"])
            }
        }
        return migrator
    }

    // MARK: ClusterDriver

    public func ensureNamespace(_ namespace: String, storeID: String) async throws {
        try await database.write { db in
            try db.execute(
                sql: "INSERT OR IGNORE INTO namespace (name, storeId, createdAtMs) VALUES (?, ?, ?)",
                arguments: [namespace, storeID, Self.nowMilliseconds()]
            )
        }
    }

    public func ensureSecret(namespace: String, name: String, makeValues: @Sendable () -> [String: String]) async throws {
        try await database.write { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM namespace WHERE name = ?", arguments: [namespace]) == true else {
                throw ClusterError(operation: "create secret \(name)", output: "Error from server (NotFound): namespaces \"\(namespace)\" not found")
            }
            let exists = try Bool.fetchOne(db, sql: "SELECT 1 FROM secret WHERE namespace = ? AND name = ?", arguments: [namespace, name]) == true
            guard !exists else { return }
            let keys = makeValues().keys.sorted().joined(separator: ",")
            try db.execute(sql: "INSERT INTO secret (namespace, name, keys) VALUES (?, ?, ?)", arguments: [namespace, name, keys])
        }
    }

    public func releaseStatus(namespace: String, release: String) async throws -> ReleaseStatus? {
        try await database.read { db in
            try Int64.fetchOne(db, sql: "SELECT installedAtMs FROM release WHERE namespace = ? AND name = ?", arguments: [namespace, release])
                .map { ReleaseStatus(.deployed, since: Date(timeIntervalSince1970: Double($0) / 1000)) }
        }
    }

    public func installRelease(_ request: InstallRequest) async throws {
        let fault = try await database.write { db -> SimulatedClusterConfiguration.Fault? in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM namespace WHERE name = ?", arguments: [request.namespace]) == true else {
                throw ClusterError(
                    operation: "helm install \(request.release)",
                    output: "Error: INSTALLATION FAILED: create: failed to create: namespaces \"\(request.namespace)\" not found"
                )
            }
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM release WHERE namespace = ? AND name = ?", arguments: [request.namespace, request.release]) == true {
                throw ClusterError(
                    operation: "helm install \(request.release)",
                    output: "Error: INSTALLATION FAILED: cannot re-use a name that is still in use"
                )
            }
            let attempt = try Self.countAttempt(db, request.namespace, request.release, kind: "install")
            let fault = self.installFault(namespace: request.namespace, release: request.release, attempt: attempt)
            if fault == .installError {
                return fault
            }
            let now = Self.nowMilliseconds()
            let readyAt = now + Self.milliseconds(self.configuration.installDelay + self.configuration.readyDelay)
            try db.execute(
                sql: "INSERT INTO release (namespace, name, chart, installedAtMs, readyAtMs, fault) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [request.namespace, request.release, request.chart, now, readyAt, fault?.rawValue]
            )
            return fault
        }
        if fault == .installError {
            throw ClusterError(
                operation: "helm install \(request.release)",
                output: "Error: INSTALLATION FAILED: timed out waiting for the condition (simulated fault install-error)"
            )
        }
        try await Self.sleep(configuration.installDelay)
    }

    public func readiness(namespace: String, release: String) async throws -> Readiness {
        // The closure returns Sendable values (not a Row), so this is GRDB's async read,
        // on the database's queue: with a Row it would be the synchronous overload.
        let row = try await database.read { db -> (installedAt: Int64, readyAt: Int64, fault: String?)? in
            try Row.fetchOne(db, sql: "SELECT installedAtMs, readyAtMs, fault FROM release WHERE namespace = ? AND name = ?", arguments: [namespace, release])
                .map { ($0["installedAtMs"], $0["readyAtMs"], $0["fault"]) }
        }
        guard let (installedAt, readyAt, faultName) = row else {
            return .progressing(notReady: ["release \(release) is not installed"])
        }
        let now = Self.nowMilliseconds()
        let fault = faultName.flatMap(SimulatedClusterConfiguration.Fault.init(rawValue:))
        let notReady = ["deployment/\(release)-wordpress (0/1 ready)", "statefulset/\(release)-mysql (0/1 ready)"]
        // Faults show once the pods would have started: halfway to ready.
        let faultVisible = now >= installedAt + (readyAt - installedAt) / 2
        switch fault {
        case .crashLoop where faultVisible:
            return .failing(
                reason: "CrashLoopBackOff",
                detail: "pod \(release)-wordpress-0: container wordpress is in CrashLoopBackOff (restarted 3 times, last exit code 1)",
                events: [
                    "Warning BackOff pod/\(release)-wordpress-0: Back-off restarting failed container wordpress",
                    "Normal Pulled pod/\(release)-wordpress-0: Container image \"wordpress:6.6-apache\" already present on machine",
                ]
            )
        case .imagePull where faultVisible:
            return .failing(
                reason: "ImagePullBackOff",
                detail: "pod \(release)-wordpress-0: container wordpress is waiting: ImagePullBackOff",
                events: [
                    "Warning Failed pod/\(release)-wordpress-0: Failed to pull image \"wordpress:6.6-apache\": rpc error: code = NotFound (simulated)",
                    "Normal BackOff pod/\(release)-wordpress-0: Back-off pulling image \"wordpress:6.6-apache\"",
                ]
            )
        case .neverReady, .crashLoop, .imagePull:
            return .progressing(notReady: notReady)
        default:
            return now >= readyAt ? .ready : .progressing(notReady: notReady)
        }
    }

    public func uninstallRelease(namespace: String, release: String) async throws {
        let fails = try await database.write { db in
            let attempt = try Self.countAttempt(db, namespace, release, kind: "uninstall")
            if self.deleteFails(namespace: namespace, release: release, attempt: attempt) { return true }
            try db.execute(sql: "DELETE FROM release WHERE namespace = ? AND name = ?", arguments: [namespace, release])
            return false
        }
        if fails {
            throw ClusterError(
                operation: "helm uninstall \(release)",
                output: "Error: uninstallation completed with 1 error(s): context deadline exceeded (simulated fault delete-failure)"
            )
        }
        try await Self.sleep(configuration.uninstallDelay)
    }

    /// The simulator removes a release's objects with it: nothing is left behind.
    public func releaseLeftovers(namespace: String, release: String) async throws -> [String] {
        []
    }

    /// Namespaces are deleted at once here: there is never a Terminating one.
    public func namespacePhase(_ namespace: String) async throws -> NamespacePhase? {
        try await database.read { db in
            try Bool.fetchOne(db, sql: "SELECT 1 FROM namespace WHERE name = ?", arguments: [namespace]) == true ? .active : nil
        }
    }

    public func deleteNamespace(_ namespace: String) async throws {
        let fails = try await database.write { db in
            let attempt = try Self.countAttempt(db, namespace, "", kind: "delete-namespace")
            let release = try String.fetchOne(db, sql: "SELECT name FROM release WHERE namespace = ?", arguments: [namespace]) ?? ""
            if self.deleteFails(namespace: namespace, release: release, attempt: attempt) { return true }
            try db.execute(sql: "DELETE FROM release WHERE namespace = ?", arguments: [namespace])
            try db.execute(sql: "DELETE FROM secret WHERE namespace = ?", arguments: [namespace])
            try db.execute(sql: "DELETE FROM namespace WHERE name = ?", arguments: [namespace])
            return false
        }
        if fails {
            throw ClusterError(
                operation: "kubectl delete namespace \(namespace)",
                output: "Error from server (InternalError): Internal error occurred: namespace \(namespace) is stuck terminating (simulated fault delete-failure)"
            )
        }
    }

    public func listManaged() async throws -> ClusterInventory {
        try await database.read { db in
            let namespaces = try Row.fetchAll(db, sql: "SELECT name, storeId FROM namespace ORDER BY name").map {
                ClusterInventory.Namespace(name: $0["name"], storeID: $0["storeId"])
            }
            let releases = try Row.fetchAll(db, sql: "SELECT namespace, name FROM release ORDER BY namespace, name").map {
                ClusterInventory.Release(namespace: $0["namespace"], name: $0["name"], state: .deployed)
            }
            return ClusterInventory(namespaces: namespaces, releases: releases)
        }
    }

    // MARK: For tests and operators

    /// How many times `helm install` ran for a release (successful or not).
    public func installCount(namespace: String, release: String) throws -> Int {
        try database.read { db in
            try Int.fetchOne(
                db, sql: "SELECT count FROM attempt WHERE namespace = ? AND release = ? AND kind = 'install'",
                arguments: [namespace, release]
            ) ?? 0
        }
    }

    /// Adds namespaces and releases that are ready at once, in one transaction,
    /// without faults: for seeding a large simulated cluster (benchmarks).
    public func seedInstalled(_ stores: [(namespace: String, storeID: String, release: String)], chart: String = "helm/store") throws {
        let now = Self.nowMilliseconds()
        try database.write { db in
            for store in stores {
                try db.execute(
                    sql: "INSERT OR IGNORE INTO namespace (name, storeId, createdAtMs) VALUES (?, ?, ?)",
                    arguments: [store.namespace, store.storeID, now]
                )
                try db.execute(
                    sql: "INSERT OR IGNORE INTO release (namespace, name, chart, installedAtMs, readyAtMs, fault) VALUES (?, ?, ?, ?, ?, NULL)",
                    arguments: [store.namespace, store.release, chart, now, now]
                )
            }
        }
    }

    /// Removes a release behind the platform's back (drift, for tests).
    public func simulateReleaseVanished(namespace: String, release: String) throws {
        try database.write { db in
            try db.execute(sql: "DELETE FROM release WHERE namespace = ? AND name = ?", arguments: [namespace, release])
        }
    }

    /// Creates a managed namespace no store owns (an orphan, for tests).
    public func simulateOrphanNamespace(_ namespace: String, storeID: String) throws {
        try database.write { db in
            try db.execute(
                sql: "INSERT OR IGNORE INTO namespace (name, storeId, createdAtMs) VALUES (?, ?, ?)",
                arguments: [namespace, storeID, Self.nowMilliseconds()]
            )
        }
    }

    // MARK: Faults

    private func installFault(namespace: String, release: String, attempt: Int) -> SimulatedClusterConfiguration.Fault? {
        guard attempt <= configuration.faultAttempts else { return nil }
        let draw = unitDraw(namespace, release, "install")
        var threshold = 0.0
        for fault in SimulatedClusterConfiguration.Fault.allCases where fault != .deleteFailure {
            threshold += configuration.faults[fault] ?? 0
            if draw < threshold { return fault }
        }
        return nil
    }

    private func deleteFails(namespace: String, release: String, attempt: Int) -> Bool {
        guard attempt <= configuration.faultAttempts, let probability = configuration.faults[.deleteFailure] else { return false }
        return unitDraw(namespace, "", "delete") < probability
    }

    /// A number in [0, 1) fixed by the seed and the inputs (FNV-1a, then a mix).
    private func unitDraw(_ parts: String...) -> Double {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325 ^ configuration.seed
        for byte in parts.joined(separator: "\u{1F}").utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        hash ^= hash >> 33
        hash = hash &* 0xff51_afd7_ed55_8ccd
        hash ^= hash >> 33
        return Double(hash >> 11) / Double(1 << 53)
    }

    private static func countAttempt(_ db: Database, _ namespace: String, _ release: String, kind: String) throws -> Int {
        try db.execute(
            sql: """
                INSERT INTO attempt (namespace, release, kind, count) VALUES (?, ?, ?, 1)
                ON CONFLICT(namespace, release, kind) DO UPDATE SET count = count + 1
                """,
            arguments: [namespace, release, kind]
        )
        return try Int.fetchOne(
            db, sql: "SELECT count FROM attempt WHERE namespace = ? AND release = ? AND kind = ?",
            arguments: [namespace, release, kind]
        ) ?? 1
    }

    private static func nowMilliseconds() -> Int64 {
        Int64(Date().timeIntervalSince1970 * 1000)
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    private static func sleep(_ duration: Duration) async throws {
        if duration > .zero { try await Task.sleep(for: duration) }
    }
}
