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
            guard db.changesCount == 1 else { return false }
            try Self.auditSteps(of: fleet, db)
            return true
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
            guard db.changesCount == 1 else { return false }
            try Self.auditSteps(of: fleet, db)
            return true
        }
        return replaced ? generation + 1 : nil
    }

    /// Writes the steps of `fleet` the audit log does not have yet: those after as
    /// many as it holds of this fleet upgrade (steps are only ever added).
    private static func auditSteps(of fleet: FleetUpgrade, _ db: Database) throws {
        let logged = try Int.fetchOne(
            db.cachedStatement(sql: "SELECT COUNT(*) FROM audit WHERE fleetUpgradeId = ?"), arguments: [fleet.id]
        ) ?? 0
        for step in fleet.steps.dropFirst(logged) {
            var row = AuditRecord(fleetUpgradeID: fleet.id, step: step)
            try row.insert(db)
        }
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
