/// Where the simulated cluster (Sources/Provisioning/SimulatedCluster.swift) keeps
/// its namespaces, secrets' key names, releases and attempt counts, on the store
/// database's backend: its own SQLite file under the data directory
/// (``SQLiteSimulatedClusterState``), or its own schema in the PostgreSQL database
/// that several replicas share (PostgresSimulatedClusterState, in the
/// PostgresStoreDatabase module), so that every replica sees one cluster.
///
/// Each method is one transaction. The simulator's decisions (which fault an
/// attempt draws) are passed in as closures of the attempt's number, so they are
/// made inside the transaction that counts the attempt. Times are milliseconds
/// since 1970.
public protocol SimulatedClusterState: Sendable {
    /// Where the state lives, for messages.
    var location: String { get }

    /// Adds a namespace unless one of that name exists.
    func addNamespace(_ name: String, storeID: String, at now: Int64) async throws

    func namespaceExists(_ name: String) async throws -> Bool

    /// Adds a secret with the key names `keys()` gives, unless it exists.
    func addSecret(namespace: String, name: String, keys: @escaping @Sendable () -> [String]) async throws -> SimulatedSecretOutcome

    func release(namespace: String, name: String) async throws -> SimulatedRelease?

    /// Counts an install attempt of `release` and records the release unless
    /// `decide` (given the attempt's number, from 1) says the install fails.
    /// Neither happens when the namespace is missing or the release exists.
    func install(
        _ release: SimulatedRelease, decide: @escaping @Sendable (Int) -> SimulatedInstallDecision
    ) async throws -> SimulatedInstallOutcome

    /// Counts an uninstall attempt and removes the release unless `fails` (given the
    /// attempt's number) says so; whether it failed.
    func uninstall(namespace: String, release: String, fails: @escaping @Sendable (Int) -> Bool) async throws -> Bool

    /// Counts a deletion attempt of the namespace and removes it, with its releases
    /// and secrets, unless `fails` (given the attempt's number) says so; whether it
    /// failed.
    func deleteNamespace(_ name: String, fails: @escaping @Sendable (Int) -> Bool) async throws -> Bool

    /// Every namespace (name, store id) and release (namespace, name), each sorted.
    func inventory() async throws -> (namespaces: [(name: String, storeID: String)], releases: [(namespace: String, name: String)])

    /// How many install attempts `release` had.
    func installCount(namespace: String, release: String) async throws -> Int

    /// Adds namespaces and releases (ready at once, without faults) in one
    /// transaction, leaving those that exist.
    func seed(_ stores: [(namespace: String, storeID: String, release: String)], chart: String, at now: Int64) async throws

    /// Removes a release without counting an attempt (drift, for tests).
    func removeRelease(namespace: String, name: String) async throws

    /// Makes a new revision of an installed release in one transaction, as `helm
    /// upgrade` (``SimulatedReleaseChange/upgrade(version:)``) or `helm rollback`
    /// would: an upgrade counts an attempt and asks `decide` (given its number, from
    /// 1) how it goes; a rollback always deploys. A deployed revision replaces the
    /// release's readiness (`now`, `readyAt`, the fault `decide` gave) and supersedes
    /// the one deployed before; a failed one is recorded and changes nothing else.
    /// Nothing happens when the release (or the revision to roll back to) is missing.
    func changeRelease(
        namespace: String, name: String, change: SimulatedReleaseChange, at now: Int64, readyAt: Int64,
        decide: @escaping @Sendable (Int) -> SimulatedUpgradeDecision
    ) async throws -> SimulatedChangeOutcome

    /// The release's revisions, oldest first; empty when there is no such release.
    /// A release installed before revisions were kept reads as revision 1, deployed,
    /// of no version.
    func revisions(namespace: String, name: String) async throws -> [SimulatedRevision]
}

/// A release as the simulator records it.
public struct SimulatedRelease: Sendable, Equatable {
    public var namespace: String
    public var name: String
    public var chart: String
    public var installedAt: Int64
    public var readyAt: Int64
    /// The fault it was installed with (a `SimulatedClusterConfiguration.Fault`
    /// raw value), if any.
    public var fault: String?
    /// The engine version an install records as its revision 1; empty when unknown.
    public var version: String

    public init(namespace: String, name: String, chart: String, installedAt: Int64, readyAt: Int64, fault: String?, version: String = "") {
        self.version = version
        self.namespace = namespace
        self.name = name
        self.chart = chart
        self.installedAt = installedAt
        self.readyAt = readyAt
        self.fault = fault
    }
}

public enum SimulatedSecretOutcome: Sendable, Equatable {
    case added, existed, namespaceMissing
}

/// What the simulator decides for one install attempt.
public enum SimulatedInstallDecision: Sendable, Equatable {
    /// `helm install` fails: nothing is recorded but the attempt.
    case fail
    /// The release is recorded, with this fault (or none).
    case install(fault: String?)
}

public enum SimulatedInstallOutcome: Sendable, Equatable {
    case namespaceMissing
    case releaseExists
    case failed
    /// Recorded, with the fault it was installed with.
    case installed(fault: String?)
}

/// What ``SimulatedClusterState/changeRelease(namespace:name:change:at:readyAt:decide:)`` does.
public enum SimulatedReleaseChange: Sendable, Equatable {
    /// `helm upgrade` to the engine version of this name.
    case upgrade(version: String)
    /// `helm rollback` to this revision.
    case rollback(to: Int)
}

/// What the simulator decides for one upgrade attempt.
public enum SimulatedUpgradeDecision: Sendable, Equatable {
    /// The command fails: a failed revision.
    case commandFails
    /// The post-upgrade hook (the setup Job's migrations) fails: a failed revision.
    case hookFails
    /// The revision is deployed, with this fault (or none).
    case deploy(fault: String?)
}

public enum SimulatedChangeOutcome: Sendable, Equatable {
    case releaseMissing
    case revisionMissing
    /// The new revision, failed by its command.
    case commandFailed(revision: Int)
    /// The new revision, failed by its hook.
    case hookFailed(revision: Int)
    /// The new revision, deployed.
    case deployed(revision: Int)
}

/// One revision of a simulated release.
public struct SimulatedRevision: Sendable, Equatable {
    public var revision: Int
    /// The engine version it installs; empty when unknown.
    public var version: String
    /// `deployed`, `superseded` or `failed`.
    public var status: String

    public init(revision: Int, version: String, status: String) {
        self.revision = revision
        self.version = version
        self.status = status
    }
}
