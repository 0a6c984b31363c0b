import Foundation
import StoreCore

/// A fleet upgrade as the database holds it: the value, and the generation a
/// replacement must name (``StoreDatabase/replaceFleetUpgrade(_:generation:)``), so
/// two writers (the runner, and a pause or cancel on any replica) never lose each
/// other's change.
public struct StoredFleetUpgrade: Sendable, Equatable {
    public var fleet: FleetUpgrade
    public var generation: Int64

    public init(fleet: FleetUpgrade, generation: Int64) {
        self.fleet = fleet
        self.generation = generation
    }

    /// The row's `document` column read back.
    package init(document: String, generation: Int64) throws {
        do {
            fleet = try Self.decoder.decode(FleetUpgrade.self, from: Data(document.utf8))
        } catch {
            throw PlatformError(.internalError, "a stored fleet upgrade cannot be read: \(error)")
        }
        self.generation = generation
    }
}

extension FleetUpgrade {
    /// The `document` column: this value as JSON, dates in milliseconds since 1970.
    package func document() throws -> String {
        String(decoding: try StoredFleetUpgrade.encoder.encode(self), as: UTF8.self)
    }

    /// The `active` column: 1 while active, NULL once ended (its unique index admits
    /// one active fleet upgrade).
    package var activeColumn: Int? { state.isActive ? 1 : nil }
}

extension StoredFleetUpgrade {
    fileprivate static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .millisecondsSince1970
        encoder.outputFormatting = .sortedKeys
        return encoder
    }

    fileprivate static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        return decoder
    }

    /// FLEET_UPGRADE_IN_PROGRESS naming the active one, `active`.
    package static func inProgress(_ active: FleetUpgrade?) -> PlatformError {
        PlatformError(
            .fleetUpgradeInProgress,
            active.map {
                "fleet upgrade \($0.id) to \($0.version) is \($0.state.rawValue) (\($0.summary)); one runs at a time: wait for it to end, or cancel it"
            } ?? "another fleet upgrade is active; one runs at a time: wait for it to end, or cancel it"
        )
    }
}
