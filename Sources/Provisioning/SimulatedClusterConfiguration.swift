import StoreCore

/// How the simulated cluster behaves: delays that look like a real install, and
/// faults injected by configuration, chosen deterministically from a seed.
public struct SimulatedClusterConfiguration: Sendable, Equatable {
    /// A failure the simulator can inject.
    public enum Fault: String, Sendable, CaseIterable, Hashable {
        /// `helm install` fails.
        case installError = "install-error"
        /// The WordPress pod crash-loops.
        case crashLoop = "crashloop"
        /// The WordPress image cannot be pulled.
        case imagePull = "imagepull"
        /// Pods never become ready (the provisioning deadline ends it).
        case neverReady = "never-ready"
        /// Uninstall and namespace deletion fail.
        case deleteFailure = "delete-failure"
        /// `helm upgrade` fails (a failed revision).
        case upgradeError = "upgrade-error"
        /// The upgrade's post-upgrade hook (the setup Job: WooCommerce's database
        /// migrations) fails (a failed revision).
        case migrationError = "migration-error"
        /// The upgraded pods never become ready (the deadline ends the upgrade).
        case upgradeNeverReady = "upgrade-never-ready"

        /// The faults an install draws from, in the order their probabilities stack.
        static let installFaults: [Fault] = [.installError, .crashLoop, .imagePull, .neverReady]
        /// The faults an upgrade draws from (a rollback draws none).
        static let upgradeFaults: [Fault] = [.upgradeError, .migrationError, .upgradeNeverReady]
    }

    /// How long `helm install` takes.
    public var installDelay: Duration = .seconds(1)
    /// How long after the install the pods become ready.
    public var readyDelay: Duration = .seconds(4)
    /// How long an uninstall takes.
    public var uninstallDelay: Duration = .milliseconds(300)
    /// How long after an upgrade or a rollback the pods of the revision it replaces
    /// are still there, crash-looping (the revision being undone was a broken one);
    /// zero: they are gone at once.
    public var replacedPodsLinger: Duration = .zero
    /// Probability (0...1) of each fault per release; which releases get one is
    /// decided by a hash of the seed and the release, so a run replays exactly.
    public var faults: [Fault: Double] = [:]
    /// Faults of named stores (`upgrade-error@shop-7`), whatever the draw: each hits
    /// that store's installs or upgrades (as its kind is), its first ``faultAttempts``.
    public var storeFaults: [String: Fault] = [:]
    /// Faults hit only the first this-many attempts of a release, so a retry
    /// (or a second delete, or a second upgrade) succeeds.
    public var faultAttempts: Int = 1
    public var seed: UInt64 = 0

    public init() {}

    /// No delays at all (for benchmarks and tests).
    public static var instant: SimulatedClusterConfiguration {
        var configuration = SimulatedClusterConfiguration()
        configuration.installDelay = .zero
        configuration.readyDelay = .zero
        configuration.uninstallDelay = .zero
        return configuration
    }

    /// Parses "upgrade-error@shop-7": a fault of the store named shop-7; nil for
    /// text without "@" (a fault by probability, ``parseFault(_:)``).
    public static func parseStoreFault(_ text: String) throws -> (store: String, fault: Fault)? {
        guard let at = text.firstIndex(of: "@") else { return nil }
        let (fault, probability) = try parseFault(String(text[..<at]))
        let store = String(text[text.index(after: at)...])
        guard probability == 1, !store.isEmpty, StoreName.canContain(store) else {
            throw SimulatedClusterError("\"\(text)\" names a store fault as FAULT@STORE-NAME, without a probability (upgrade-error@shop-7)")
        }
        return (store, fault)
    }

    /// Parses "crashloop=0.5" (probability) or "crashloop" (always).
    public static func parseFault(_ text: String) throws -> (Fault, Double) {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard let fault = Fault(rawValue: parts[0]) else {
            throw SimulatedClusterError(
                "unknown fault \"\(parts[0])\"; use one of \(Fault.allCases.map(\.rawValue).joined(separator: ", "))"
            )
        }
        guard parts.count == 2 else { return (fault, 1) }
        guard let probability = Double(parts[1]), (0...1).contains(probability) else {
            throw SimulatedClusterError("fault probability \"\(parts[1])\" is not a number between 0 and 1")
        }
        return (fault, probability)
    }
}

public struct SimulatedClusterError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
