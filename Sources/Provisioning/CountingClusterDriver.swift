import Foundation
import Synchronization

/// Wraps a driver and counts cluster listings, so tests and benchmarks can
/// check that a reconcile pass lists the cluster once, whatever its size.
public final class CountingClusterDriver: ClusterDriver {
    public let base: any ClusterDriver
    private let listingCount = Atomic<Int>(0)

    public init(_ base: any ClusterDriver) {
        self.base = base
    }

    /// `listManaged` calls so far.
    public var listings: Int { listingCount.load(ordering: .relaxed) }

    public var kind: ClusterDriverKind { base.kind }

    public func ensureNamespace(_ namespace: String, storeID: String) async throws {
        try await base.ensureNamespace(namespace, storeID: storeID)
    }

    public func ensureSecret(namespace: String, name: String, makeValues: @Sendable () -> [String: String]) async throws {
        try await base.ensureSecret(namespace: namespace, name: name, makeValues: makeValues)
    }

    public func releaseStatus(namespace: String, release: String) async throws -> ReleaseStatus? {
        try await base.releaseStatus(namespace: namespace, release: release)
    }

    public func installRelease(_ request: InstallRequest) async throws {
        try await base.installRelease(request)
    }

    public func readiness(namespace: String, release: String, changedAt: Date?) async throws -> Readiness {
        try await base.readiness(namespace: namespace, release: release, changedAt: changedAt)
    }

    public func uninstallRelease(namespace: String, release: String) async throws {
        try await base.uninstallRelease(namespace: namespace, release: release)
    }

    public func releaseLeftovers(namespace: String, release: String) async throws -> [String] {
        try await base.releaseLeftovers(namespace: namespace, release: release)
    }

    public func deleteNamespace(_ namespace: String) async throws {
        try await base.deleteNamespace(namespace)
    }

    public func namespacePhase(_ namespace: String) async throws -> NamespacePhase? {
        try await base.namespacePhase(namespace)
    }

    public func upgradeRelease(_ request: InstallRequest) async throws {
        try await base.upgradeRelease(request)
    }

    public func rollbackRelease(namespace: String, release: String, to revision: Int) async throws {
        try await base.rollbackRelease(namespace: namespace, release: release, to: revision)
    }

    public func releaseHistory(namespace: String, release: String) async throws -> [ReleaseRevision] {
        try await base.releaseHistory(namespace: namespace, release: release)
    }

    public func listManaged() async throws -> ClusterInventory {
        listingCount.add(1, ordering: .relaxed)
        return try await base.listManaged()
    }
}
