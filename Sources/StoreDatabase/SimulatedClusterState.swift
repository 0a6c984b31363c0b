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

    public init(namespace: String, name: String, chart: String, installedAt: Int64, readyAt: Int64, fault: String?) {
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
