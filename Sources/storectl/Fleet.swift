import ArgumentParser
import Foundation
import StorePlatformProto
import StoreRPC

struct Fleet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Upgrade many stores to one version in waves; watch, pause, resume or cancel it.",
        discussion: """
            One fleet upgrade runs at a time. Its waves run in order: a wave's stores start (at most \
            --max-unavailable upgrading at once) when every store of the wave before has ended. Each \
            store's upgrade is `storectl upgrade`'s, rolled back by itself when it fails. A failed \
            store (rolled back, or failed) counts against --failure-budget; one more than the budget \
            stops the fleet upgrade after its wave: no store starts after it, and the rest keep their \
            version. ID is a fleet upgrade's id (fu_…); without it, the active one (or, for status, the latest).
            """,
        subcommands: [FleetUpgradeCommand.self, FleetStatus.self, FleetList.self, FleetPause.self, FleetResume.self, FleetCancel.self]
    )
}

struct FleetUpgradeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upgrade",
        abstract: "Start upgrading the selected live stores to VERSION, in waves; with --wait, follow it to the end.",
        discussion: """
            Without --store or --status every live store is selected, by name; --store names \
            stores in the order to upgrade them (canaries first). Stores already on VERSION, or \
            not ready when their wave comes, are skipped. With --wait one line is printed per \
            store that moves and per change of the fleet upgrade's state; storectl exits 0 when \
            it completed, and 1 when it stopped, was cancelled, or did not end within --wait-timeout.
            """
    )

    @Argument(help: ArgumentHelp("The engine version to run, as `storectl versions` lists it.", valueName: "version"))
    var version: String

    @Option(name: .customLong("store"), help: ArgumentHelp("A store to upgrade, by name (repeat it; in this order).", valueName: "name"))
    var stores: [String] = []

    @Option(help: ArgumentHelp("Only stores in this status (repeat it): \(Storeplatform_V1_StoreStatus.namesList).", valueName: "status"))
    var status: [String] = []

    @Option(help: "Stores per wave.")
    var waveSize: UInt32 = 5

    @Option(help: "Most stores upgrading at once (the wave size when 0).")
    var maxUnavailable: UInt32 = 0

    @Option(help: "Failed stores tolerated; one more stops the fleet upgrade after its wave.")
    var failureBudget: UInt32 = 0

    @OptionGroup var waiting: WaitOptions

    @OptionGroup(title: "Connection") var connection: ConnectionOptions

    func validate() throws {
        guard !version.isEmpty else { throw ValidationError("VERSION must not be empty: `storectl versions` lists them") }
        guard waveSize > 0 else { throw ValidationError("--wave-size must be at least 1") }
        guard maxUnavailable <= waveSize else {
            throw ValidationError("--max-unavailable (\(maxUnavailable)) cannot exceed --wave-size (\(waveSize))")
        }
        guard stores.isEmpty || status.isEmpty else { throw ValidationError("select by --store or by --status, not both") }
        for name in status where Storeplatform_V1_StoreStatus(name: name) == nil {
            throw ValidationError("--status \"\(name)\" is not a status; use one of \(Storeplatform_V1_StoreStatus.namesList)")
        }
    }

    func run() async throws {
        var request = Storeplatform_V1_UpgradeFleetRequest()
        request.version = version
        request.selector.names = stores
        request.selector.statuses = status.compactMap(Storeplatform_V1_StoreStatus.init(name:))
        request.waveSize = waveSize
        request.maxUnavailable = maxUnavailable
        request.failureBudget = failureBudget
        try await runReportingErrors {
            try await connection.withClient { client in
                let response = try await client.unary(StorePlatformMethod.FleetService.upgradeFleet, request, timeout: connection.callTimeout)
                guard waiting.wait else {
                    if connection.json { print(try response.jsonString()) } else { printFleet(response.fleetUpgrade) }
                    return
                }
                try await followFleet(response.fleetUpgrade.id, client: client, json: connection.json, timeout: waiting.waitTimeout)
            }
        }
    }
}

struct FleetStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a fleet upgrade: its state, every store's outcome and its log; with --watch, follow it to the end."
    )

    @Argument(help: ArgumentHelp("The fleet upgrade (fu_…); the active one, else the latest, when omitted.", valueName: "id"))
    var id: String = ""

    @Flag(help: "Follow it: one line per store that moves and per change of state, until it ends (exit 0 when it completed, 1 otherwise).")
    var watch = false

    @OptionGroup(title: "Connection") var connection: ConnectionOptions

    func run() async throws {
        try await runReportingErrors {
            if watch {
                try await connection.withClient { client in
                    try await followFleet(id, client: client, json: connection.json, timeout: nil)
                }
                return
            }
            var request = Storeplatform_V1_GetFleetUpgradeRequest()
            request.id = id
            try await connection.show(StorePlatformMethod.FleetService.getFleetUpgrade, request) { response, _ in
                printFleet(response.fleetUpgrade)
            }
        }
    }
}

struct FleetList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the latest fleet upgrades, newest first.")

    @Option(help: "At most this many (up to 100).")
    var limit: UInt32 = 20

    @OptionGroup(title: "Connection") var connection: ConnectionOptions

    func run() async throws {
        var request = Storeplatform_V1_ListFleetUpgradesRequest()
        request.limit = limit
        try await runReportingErrors {
            try await connection.show(StorePlatformMethod.FleetService.listFleetUpgrades, request) { response, _ in
                guard !response.fleetUpgrades.isEmpty else {
                    print("no fleet upgrades yet")
                    return
                }
                printTable([["ID", "VERSION", "STATE", "WAVE", "STARTED", "BY", "OUTCOMES"]] + response.fleetUpgrades.map { fleet in
                    [
                        fleet.id, fleet.version, fleet.state.name, "\(fleet.currentWave)/\(fleet.waveCount)",
                        formatTimestamp(milliseconds: fleet.createdMs), fleet.actor, fleet.outcomeSummary,
                    ]
                })
            }
        }
    }
}

/// Pause, resume and cancel: one call each, printing the fleet upgrade after it.
protocol FleetChangeCommand: AsyncParsableCommand {
    var id: String { get }
    var connection: ConnectionOptions { get }
    static var method: RPCMethod<Storeplatform_V1_ChangeFleetUpgradeRequest, Storeplatform_V1_ChangeFleetUpgradeResponse> { get }
}

extension FleetChangeCommand {
    func run() async throws {
        var request = Storeplatform_V1_ChangeFleetUpgradeRequest()
        request.id = id
        try await runReportingErrors {
            try await connection.show(Self.method, request) { response, _ in printFleet(response.fleetUpgrade) }
        }
    }
}

struct FleetPause: FleetChangeCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause", abstract: "Start no more stores until resumed; those upgrading end as they do."
    )
    static var method: RPCMethod<Storeplatform_V1_ChangeFleetUpgradeRequest, Storeplatform_V1_ChangeFleetUpgradeResponse> {
        StorePlatformMethod.FleetService.pauseFleetUpgrade
    }

    @Argument(help: ArgumentHelp("The fleet upgrade (fu_…); the active one when omitted.", valueName: "id"))
    var id: String = ""

    @OptionGroup(title: "Connection") var connection: ConnectionOptions
}

struct FleetResume: FleetChangeCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Go on with a paused fleet upgrade.")
    static var method: RPCMethod<Storeplatform_V1_ChangeFleetUpgradeRequest, Storeplatform_V1_ChangeFleetUpgradeResponse> {
        StorePlatformMethod.FleetService.resumeFleetUpgrade
    }

    @Argument(help: ArgumentHelp("The fleet upgrade (fu_…); the active one when omitted.", valueName: "id"))
    var id: String = ""

    @OptionGroup(title: "Connection") var connection: ConnectionOptions
}

struct FleetCancel: FleetChangeCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Start no more stores; the fleet upgrade ends once those upgrading have. The rest keep their version."
    )
    static var method: RPCMethod<Storeplatform_V1_ChangeFleetUpgradeRequest, Storeplatform_V1_ChangeFleetUpgradeResponse> {
        StorePlatformMethod.FleetService.cancelFleetUpgrade
    }

    @Argument(help: ArgumentHelp("The fleet upgrade (fu_…); the active one when omitted.", valueName: "id"))
    var id: String = ""

    @OptionGroup(title: "Connection") var connection: ConnectionOptions
}

/// Follows fleet upgrade `id` (the active or latest when empty) to its end: with
/// `json` each snapshot as one object per line, otherwise one line per store whose
/// outcome changed and per change of state. Throws ``CLIError/failed(_:)`` unless it
/// completed, or when `timeout` seconds pass first.
func followFleet(_ id: String, client: RPCClient, json: Bool, timeout: Double?) async throws {
    var watchRequest = Storeplatform_V1_WatchFleetUpgradeRequest()
    watchRequest.id = id
    let request = watchRequest
    let follow: @Sendable () async throws -> Storeplatform_V1_FleetUpgrade? = {
        var last: Storeplatform_V1_FleetUpgrade?
        for try await fleet in try client.serverStream(StorePlatformMethod.FleetService.watchFleetUpgrade, request) {
            if json {
                try printJSONLine(fleet)
            } else {
                for line in fleet.changeLines(since: last) { printLine(line) }
            }
            last = fleet
        }
        return last
    }
    let last = try await cancellingOnInterrupt {
        guard let timeout else { return try await follow() }
        return try await withThrowingTaskGroup(of: Storeplatform_V1_FleetUpgrade?.self) { group in
            group.addTask { try await follow() }
            group.addTask {
                try await Task.sleep(for: .seconds(timeout))
                throw CLIError.failed("the fleet upgrade did not end within --wait-timeout \(formatDuration(seconds: timeout)); it carries on (storectl fleet status)")
            }
            let result = try await group.next()!
            group.cancelAll()
            return result
        }
    }
    guard let last else { throw CLIError.failed("the daemon ended the fleet upgrade's watch before sending it") }
    guard last.state == .completed else {
        throw CLIError.failed("fleet upgrade \(last.id) \(last.state.name): \(last.outcomeSummary)")
    }
}

/// A fleet upgrade as a person reads it: its fields, every store, its log.
func printFleet(_ fleet: Storeplatform_V1_FleetUpgrade) {
    printTable([
        ["ID", fleet.id],
        ["VERSION", fleet.version],
        ["STATE", fleet.state.name],
        ["WAVE", "\(fleet.currentWave) of \(fleet.waveCount) (\(fleet.waveSize) stores each, at most \(fleet.maxUnavailable) at once)"],
        ["FAILURE BUDGET", String(fleet.failureBudget)],
        ["OUTCOMES", fleet.outcomeSummary],
        ["STARTED", "\(formatTimestamp(milliseconds: fleet.createdMs)) by \(fleet.actor)"],
        ["ENDED", fleet.endedMs == 0 ? "-" : formatTimestamp(milliseconds: fleet.endedMs)],
    ])
    if !fleet.stores.isEmpty {
        print("")
        printTable([["WAVE", "STORE", "FROM", "OUTCOME", "REVISION", "MESSAGE"]] + fleet.stores.map { store in
            [
                String(store.wave), store.name, store.fromVersion, store.outcome.name, store.revision == 0 ? "-" : String(store.revision),
                store.message.isEmpty ? "-" : singleLine(store.message),
            ]
        })
    }
    if !fleet.steps.isEmpty {
        print("")
        printTable([["TIME", "STEP", "BY", "MESSAGE"]] + fleet.steps.map { step in
            [formatTimestamp(milliseconds: step.timeMs), step.action, step.actor, singleLine(step.message)]
        })
    }
}

extension Storeplatform_V1_FleetUpgrade {
    /// "12 upgraded, 1 rolled back, 0 failed, 2 skipped, 15 not started".
    var outcomeSummary: String {
        "\(upgraded) upgraded, \(rolledBack) rolled back, \(failed) failed, \(skipped) skipped, \(waiting) not started"
            + (upgrading > 0 ? ", \(upgrading) upgrading" : "")
    }

    /// The lines a watch prints for this snapshot after `previous`: each store whose
    /// outcome changed, then the state when it changed.
    func changeLines(since previous: Storeplatform_V1_FleetUpgrade?) -> [String] {
        let time = formatTimestamp(milliseconds: updatedMs)
        var lines: [String] = []
        if previous == nil {
            lines.append("\(time)  fleet upgrade \(id) to \(version): \(state.name), \(stores.count) stores in \(waveCount) waves")
        }
        let before = Dictionary((previous?.stores ?? []).map { ($0.storeID, $0.outcome) }, uniquingKeysWith: { first, _ in first })
        for store in stores where store.outcome != (before[store.storeID] ?? .waiting) {
            let detail = store.message.isEmpty ? "" : ": " + singleLine(store.message)
            lines.append("\(time)  wave \(store.wave)  \(store.name)  \(store.outcome.name)\(detail)")
        }
        if let previous, previous.state != state {
            lines.append("\(time)  fleet upgrade \(state.name): \(outcomeSummary)")
        }
        return lines
    }
}

extension Storeplatform_V1_FleetUpgradeState {
    var name: String {
        switch self {
        case .unspecified: "unspecified"
        case .running: "running"
        case .paused: "paused"
        case .cancelling: "cancelling"
        case .stopping: "stopping"
        case .completed: "completed"
        case .cancelled: "cancelled"
        case .stopped: "stopped"
        case .UNRECOGNIZED(let value): "unknown(\(value))"
        }
    }
}

extension Storeplatform_V1_FleetStoreOutcome {
    var name: String {
        switch self {
        case .unspecified: "unspecified"
        case .waiting: "waiting"
        case .upgrading: "upgrading"
        case .upgraded: "upgraded"
        case .rolledBack: "rolled-back"
        case .failed: "failed"
        case .skipped: "skipped"
        case .UNRECOGNIZED(let value): "unknown(\(value))"
        }
    }
}
