import Foundation
import Synchronization

@testable import Provisioning

/// Wraps a driver and records each call as it begins ("installRelease") and how it
/// ended ("installRelease:ok", ":cancelled", ":failed"), so a test can wait for a step
/// to be under way and tell a step that finished from one that was cut short.
/// `listManaged` can be slowed down; the most listings in flight at once is kept.
final class ObservedDriver: ClusterDriver {
    let base: any ClusterDriver
    let listingDelay: Duration
    private let state = Mutex<(calls: [String], listingsInFlight: Int, mostListingsInFlight: Int)>(([], 0, 0))

    init(_ base: any ClusterDriver, listingDelay: Duration = .zero) {
        self.base = base
        self.listingDelay = listingDelay
    }

    var calls: [String] { state.withLock { $0.calls } }
    var mostListingsInFlight: Int { state.withLock { $0.mostListingsInFlight } }

    /// Waits (generously) until `call` was recorded `count` times.
    func waitFor(_ call: String, count: Int = 1, within: Duration = .seconds(20)) async throws {
        let deadline = ContinuousClock.now + within
        while ContinuousClock.now < deadline {
            if calls.filter({ $0 == call }).count >= count { return }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw ProvisioningFailure("never saw \(call); calls: \(calls)")
    }

    private func observe<T>(_ name: String, _ body: () async throws -> T) async throws -> T {
        state.withLock { $0.calls.append(name) }
        do {
            let value = try await body()
            state.withLock { $0.calls.append(name + ":ok") }
            return value
        } catch {
            let outcome = error is CancellationError || Task.isCancelled ? ":cancelled" : ":failed"
            state.withLock { $0.calls.append(name + outcome) }
            throw error
        }
    }

    var kind: ClusterDriverKind { base.kind }

    func ensureNamespace(_ namespace: String, storeID: String) async throws {
        try await observe("ensureNamespace") { try await base.ensureNamespace(namespace, storeID: storeID) }
    }

    func ensureSecret(namespace: String, name: String, makeValues: @Sendable () -> [String: String]) async throws {
        try await observe("ensureSecret") { try await base.ensureSecret(namespace: namespace, name: name, makeValues: makeValues) }
    }

    func releaseStatus(namespace: String, release: String) async throws -> ReleaseStatus? {
        try await observe("releaseStatus") { try await base.releaseStatus(namespace: namespace, release: release) }
    }

    func installRelease(_ request: InstallRequest) async throws {
        try await observe("installRelease") { try await base.installRelease(request) }
    }

    func readiness(namespace: String, release: String, changedAt: Date?) async throws -> Readiness {
        try await observe("readiness") { try await base.readiness(namespace: namespace, release: release, changedAt: changedAt) }
    }

    func uninstallRelease(namespace: String, release: String) async throws {
        try await observe("uninstallRelease") { try await base.uninstallRelease(namespace: namespace, release: release) }
    }

    func releaseLeftovers(namespace: String, release: String) async throws -> [String] {
        try await observe("releaseLeftovers") { try await base.releaseLeftovers(namespace: namespace, release: release) }
    }

    func deleteNamespace(_ namespace: String) async throws {
        try await observe("deleteNamespace") { try await base.deleteNamespace(namespace) }
    }

    func namespacePhase(_ namespace: String) async throws -> NamespacePhase? {
        try await observe("namespacePhase") { try await base.namespacePhase(namespace) }
    }

    func upgradeRelease(_ request: InstallRequest) async throws {
        try await observe("upgradeRelease") { try await base.upgradeRelease(request) }
    }

    func rollbackRelease(namespace: String, release: String, to revision: Int) async throws {
        try await observe("rollbackRelease") { try await base.rollbackRelease(namespace: namespace, release: release, to: revision) }
    }

    func releaseHistory(namespace: String, release: String) async throws -> [ReleaseRevision] {
        try await observe("releaseHistory") { try await base.releaseHistory(namespace: namespace, release: release) }
    }

    func listManaged() async throws -> ClusterInventory {
        state.withLock { state in
            state.listingsInFlight += 1
            state.mostListingsInFlight = max(state.mostListingsInFlight, state.listingsInFlight)
        }
        defer { state.withLock { $0.listingsInFlight -= 1 } }
        if listingDelay > .zero { try await Task.sleep(for: listingDelay) }
        return try await base.listManaged()
    }
}
