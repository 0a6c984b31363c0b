import Foundation

/// One upgrade of many stores to one engine version, in waves (docs/ARCHITECTURE.md,
/// "Fleet upgrades"). A pure value: it holds the selected stores with what became
/// of each, the state, and the log, and decides what to start next; the runner
/// (Provisioning's `FleetUpgrader`) reads the stores, starts their upgrades and
/// stores this value again after each change.
///
/// Waves run in order: a wave's stores start (at most ``maxUnavailable`` upgrading
/// at once) only when every store of the wave before has ended. A failed store (its
/// upgrade rolled back, or failed) counts against ``failureBudget``; one more than
/// the budget stops the fleet upgrade: no store starts after it, those upgrading
/// end, and the rest keep their version.
public struct FleetUpgrade: Sendable, Codable, Equatable {
    public enum State: String, Sendable, Codable, CaseIterable {
        case running, paused, cancelling, stopping, completed, cancelled, stopped

        /// Running, paused, cancelling or stopping: one fleet upgrade at a time is.
        public var isActive: Bool { [.running, .paused, .cancelling, .stopping].contains(self) }
    }

    /// What became of one selected store.
    public enum Outcome: String, Sendable, Codable, CaseIterable {
        case waiting, upgrading, upgraded
        case rolledBack = "rolled-back"
        case failed, skipped

        /// Upgraded, rolled back, failed or skipped.
        public var hasEnded: Bool { self != .waiting && self != .upgrading }
        /// Rolled back or failed: counted against the failure budget.
        public var isFailure: Bool { self == .rolledBack || self == .failed }
    }

    /// Which live stores are selected: the named ones in the order given, or else
    /// every live store in `statuses` (every live status when empty), by name.
    public struct Selector: Sendable, Codable, Equatable {
        public var names: [String]
        public var statuses: [StoreStatus]

        public init(names: [String] = [], statuses: [StoreStatus] = []) {
            self.names = names
            self.statuses = statuses
        }
    }

    /// One selected store.
    public struct Entry: Sendable, Codable, Equatable {
        public var storeID: String
        public var name: String
        /// From 1.
        public var wave: Int
        public var fromVersion: String
        public var outcome: Outcome
        /// Why it was skipped or failed.
        public var message: String
        /// The revision its upgrade made; 0 until it started.
        public var revision: Int
        public var updatedAt: Date

        public init(storeID: String, name: String, wave: Int, fromVersion: String, updatedAt: Date) {
            self.storeID = storeID
            self.name = name
            self.wave = wave
            self.fromVersion = fromVersion
            outcome = .waiting
            message = ""
            revision = 0
            self.updatedAt = updatedAt
        }
    }

    /// One line of the log: `start`, `wave`, `pause`, `resume`, `cancel`, `stop`, `end`.
    public struct Step: Sendable, Codable, Equatable {
        public var time: Date
        public var action: String
        public var actor: String
        public var message: String
    }

    public var id: String
    public var version: String
    public var selector: Selector
    public var waveSize: Int
    public var maxUnavailable: Int
    public var failureBudget: Int
    public var state: State
    public var actor: String
    public var createdAt: Date
    public var updatedAt: Date
    public var endedAt: Date?
    /// The highest wave a store has started in; 0 before the first.
    public var currentWave: Int
    public var entries: [Entry]
    public var steps: [Step]

    /// Stores per wave when the request does not say.
    public static let defaultWaveSize = 5
    /// The most stores one fleet upgrade selects.
    public static let maxStores = 10_000

    /// A new, running fleet upgrade of `stores` (id, name, version), in that order,
    /// in waves of `waveSize`.
    public init(
        id: String, version: String, selector: Selector, waveSize: Int, maxUnavailable: Int, failureBudget: Int, actor: String,
        stores: [(id: String, name: String, version: String)], now: Date
    ) {
        self.id = id
        self.version = version
        self.selector = selector
        self.waveSize = waveSize
        self.maxUnavailable = maxUnavailable
        self.failureBudget = failureBudget
        state = .running
        self.actor = actor
        createdAt = now
        updatedAt = now
        endedAt = nil
        currentWave = 0
        entries = stores.enumerated().map { index, store in
            Entry(storeID: store.id, name: store.name, wave: index / waveSize + 1, fromVersion: store.version, updatedAt: now)
        }
        steps = []
        log("start", actor: actor, now: now, "upgrade \(entries.count) stores to \(version) in \(waveCount) waves of \(waveSize), at most \(maxUnavailable) at once, tolerating \(failureBudget) failed")
    }

    /// A new fleet upgrade's id: `fu_` and 16 hex digits.
    public static func newID() -> String {
        "fu_" + String(format: "%016llx", UInt64.random(in: 0...UInt64.max))
    }

    public var waveCount: Int { entries.last?.wave ?? 0 }

    /// How many stores have `outcome`.
    public func count(_ outcome: Outcome) -> Int {
        entries.reduce(0) { $0 + ($1.outcome == outcome ? 1 : 0) }
    }

    /// Stores whose upgrade rolled back or failed.
    public var failures: Int { entries.reduce(0) { $0 + ($1.outcome.isFailure ? 1 : 0) } }

    /// The lowest wave with a store not ended; nil when every store has.
    public var openWave: Int? {
        entries.first { !$0.outcome.hasEnded }?.wave
    }

    /// The stores to start now, by index: none unless running; else waiting stores
    /// of the open wave, as many as ``maxUnavailable`` leaves room for.
    public var toStart: [Int] {
        guard state == .running, let wave = openWave else { return [] }
        let room = maxUnavailable - count(.upgrading)
        guard room > 0 else { return [] }
        return Array(entries.indices.filter { entries[$0].wave == wave && entries[$0].outcome == .waiting }.prefix(room))
    }

    /// Records the outcome of store `index` (no change when it already has it).
    /// Starting a store of a later wave logs that wave's start.
    public mutating func set(_ index: Int, _ outcome: Outcome, message: String = "", revision: Int? = nil, now: Date) {
        var entry = entries[index]
        guard entry.outcome != outcome || entry.message != message || (revision.map { $0 != entry.revision } ?? false) else { return }
        entry.outcome = outcome
        entry.message = message
        if let revision { entry.revision = revision }
        entry.updatedAt = now
        entries[index] = entry
        updatedAt = now
        if outcome == .upgrading, entry.wave > currentWave {
            currentWave = entry.wave
            let size = entries.reduce(0) { $0 + ($1.wave == entry.wave ? 1 : 0) }
            log("wave", actor: "system", now: now, "wave \(entry.wave) of \(waveCount) began: \(size) stores")
        }
    }

    /// After outcomes changed: past the failure budget a running (or paused) fleet
    /// upgrade stops; a stopping or cancelling one ends once no store is upgrading; a
    /// running one whose stores all ended is completed. Returns whether the state changed.
    @discardableResult
    public mutating func settle(now: Date) -> Bool {
        let before = state
        if (state == .running || state == .paused), failures > failureBudget {
            state = .stopping
            let failed = entries.filter(\.outcome.isFailure).map(\.name)
            log("stop", actor: "system", now: now, "\(failures) stores failed (\(failed.joined(separator: ", "))), more than the budget of \(failureBudget): no store starts after wave \(currentWave)")
        }
        let upgrading = count(.upgrading)
        switch state {
        case .stopping where upgrading == 0: end(.stopped, now: now)
        case .cancelling where upgrading == 0: end(.cancelled, now: now)
        case .running where openWave == nil: end(.completed, now: now)
        default: break
        }
        return state != before
    }

    private mutating func end(_ final: State, now: Date) {
        state = final
        endedAt = now
        updatedAt = now
        log("end", actor: "system", now: now, "\(final.rawValue): \(summary)")
    }

    /// "12 upgraded, 1 rolled back, 0 failed, 2 skipped, 15 not started".
    public var summary: String {
        "\(count(.upgraded)) upgraded, \(count(.rolledBack)) rolled back, \(count(.failed)) failed, \(count(.skipped)) skipped, "
            + "\(count(.waiting)) not started" + (count(.upgrading) > 0 ? ", \(count(.upgrading)) upgrading" : "")
    }

    /// Pauses, resumes or cancels on behalf of `actor`.
    ///
    /// - Throws: ``PlatformError`` INVALID_STATE_TRANSITION when the state does not allow it.
    public mutating func apply(_ change: Change, actor: String, now: Date) throws {
        let allowed: [State] = switch change {
        case .pause: [.running]
        case .resume: [.paused]
        case .cancel: [.running, .paused, .stopping]
        }
        guard allowed.contains(state) else {
            throw PlatformError(
                .invalidStateTransition,
                "fleet upgrade \(id) is \(state.rawValue); only a \(allowed.map(\.rawValue).joined(separator: " or ")) one can be \(change.pastTense)"
            )
        }
        state = switch change {
        case .pause: .paused
        case .resume: .running
        case .cancel: .cancelling
        }
        updatedAt = now
        log(change.rawValue, actor: actor, now: now, "\(change.pastTense) at wave \(currentWave) of \(waveCount): \(summary)")
        settle(now: now)
    }

    public enum Change: String, Sendable {
        case pause, resume, cancel

        var pastTense: String {
            switch self {
            case .pause: "paused"
            case .resume: "resumed"
            case .cancel: "cancelled"
            }
        }
    }

    private mutating func log(_ action: String, actor: String, now: Date, _ message: String) {
        steps.append(Step(time: now, action: action, actor: actor, message: message))
    }
}
