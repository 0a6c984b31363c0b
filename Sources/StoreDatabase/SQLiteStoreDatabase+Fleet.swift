import Foundation
import GRDB
import StoreCore

extension SQLiteStoreDatabase {
    public func insertFleetUpgrade(_ fleet: FleetUpgrade) async throws {
        let document = try fleet.document()
        let inserted = try await write { db -> Bool in
            try db.cachedStatement(sql: """
                INSERT OR IGNORE INTO fleet_upgrade (id, active, generation, createdAt, document) VALUES (?, ?, 1, ?, ?)
                """).execute(arguments: [fleet.id, fleet.activeColumn, fleet.createdAt.millisecondsSince1970, document])
            return db.changesCount == 1
        }
        guard inserted else { throw StoredFleetUpgrade.inProgress(try await activeFleetUpgrade()?.fleet) }
    }

    public func fleetUpgrade(id: String) async throws -> StoredFleetUpgrade? {
        try await fleetUpgrades("WHERE id = ?", [id]).first
    }

    public func activeFleetUpgrade() async throws -> StoredFleetUpgrade? {
        try await fleetUpgrades("WHERE active = 1", []).first
    }

    public func latestFleetUpgrades(limit: Int) async throws -> [StoredFleetUpgrade] {
        try await fleetUpgrades("ORDER BY createdAt DESC, id DESC LIMIT ?", [limit])
    }

    public func replaceFleetUpgrade(_ fleet: FleetUpgrade, generation: Int64) async throws -> Int64? {
        let document = try fleet.document()
        let replaced = try await write { db -> Bool in
            try db.cachedStatement(sql: """
                UPDATE fleet_upgrade SET document = ?, active = ?, generation = generation + 1 WHERE id = ? AND generation = ?
                """).execute(arguments: [document, fleet.activeColumn, fleet.id, generation])
            return db.changesCount == 1
        }
        return replaced ? generation + 1 : nil
    }

    /// The fleet upgrades `clause` (after `FROM fleet_upgrade`) reads.
    private func fleetUpgrades(_ clause: String, _ arguments: [any DatabaseValueConvertible & Sendable]) async throws -> [StoredFleetUpgrade] {
        let rows = try await readStatement { db in
            try Row.fetchAll(
                db.cachedStatement(sql: "SELECT document, generation FROM fleet_upgrade " + clause),
                arguments: StatementArguments(arguments)
            ).map { (document: $0[0] as String, generation: $0[1] as Int64) }
        }
        return try rows.map { try StoredFleetUpgrade(document: $0.document, generation: $0.generation) }
    }
}
